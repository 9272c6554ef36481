/*
 * cut.h - safe cut points: where a text may be split and its parts counted independently
 * (internal; shared by the streaming counter, stream.c, and the multi-threaded one, parallel.c).
 */
#ifndef TKM_CUT_H
#define TKM_CUT_H
#include <stddef.h>
#include <stdint.h>

#include "encoding.h"

/* Which cut rules (cut.c) apply: none; A and B only; all. */
enum { TKM_CUT_NONE = 0, TKM_CUT_SPACE_NEWLINE = 1, TKM_CUT_ALL = 2 };

/* Is p a safe cut of s[0..n) under the rules of `level` (from tkm_cut_allowed)? Needs 2 <= p and
 * p + 4 <= n. The answer depends only on the bytes s[p-4..p+4) (fewer to the left when p < 4), so
 * a cut found in a prefix of a text stays a cut of the text, whatever follows the prefix. */
int tkm_cut_is_safe(const uint8_t *s, size_t p, size_t n, int level);

/* The last / the first safe cut c of s[0..n) with lo <= c <= hi and c + 4 <= n (lo >= 2), or 0
 * when there is none there. */
size_t tkm_cut_last(const uint8_t *s, size_t lo, size_t hi, size_t n, int level);
size_t tkm_cut_first(const uint8_t *s, size_t lo, size_t hi, size_t n, int level);

/* Which rules may cut texts counted under flags: all when special-token text is ordinary text;
 * A and B only in allow/reject modes (special tokens hold letters next to punctuation); none
 * when one of the encoding's special tokens contains ' ' or '\n' (a cut could fall inside it). */
int tkm_cut_allowed(const tkm_encoding *e, uint32_t flags);

#endif
