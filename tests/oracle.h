/*
 * oracle.h - independent test oracles (tests only, never linked into the library).
 *
 *  - A PCRE2 splitter that runs the three reference pat_str regexes verbatim (leftmost-first
 *    backtracking alternation, as fancy-regex does) and reports piece ends as byte offsets of the
 *    ORIGINAL input, repairing ill-formed UTF-8 first (one U+FFFD per maximal ill-formed
 *    subsequence, via tkm_utf8_decode) and mapping the boundaries back.
 *  - An agreement filter: PCRE2 10.42 carries Unicode 14, our tables Unicode 16. A split
 *    comparison is meaningful only on text whose code points PCRE2 and tkm_uc_props classify alike.
 *  - A deliberately simple byte-pair merge: a literal transcription of tiktoken's loop (O(n^2)),
 *    and a round-based variant for very long pieces that aborts if its equivalence argument fails.
 *  - oracle_count / oracle_encode: split + whole-piece lookup + simple BPE, i.e. an independent
 *    implementation of encode_ordinary(text.decode("utf-8", "replace")).
 *
 * Written to be obviously right, not fast. Failures of the oracle's own invariants abort() with a
 * message on stderr (a broken oracle must never pass a test).
 */
#ifndef TKM_TESTS_ORACLE_H
#define TKM_TESTS_ORACLE_H
#include <stddef.h>
#include <stdint.h>
#include "vocab.h"

/* Pattern families; the values equal tkm_pattern's. */
enum { ORACLE_GPT2 = 1, ORACLE_CL100K = 2, ORACLE_O200K = 3 };

/* The exact pat_str of a family (as documented in kernel/pretok.h), NULL for a bad family. */
const char *oracle_pattern(int family);
/* "gpt2", "cl100k", "o200k" or "?". */
const char *oracle_family_name(int family);

/*
 * Split s[0..n) (any bytes) into pieces like tiktoken's find_iter over the repaired text. Writes
 * the end offset (in s) of each piece to ends[0..min(count, cap)) and returns the piece count
 * (which may exceed cap: call again with a bigger buffer). n == 0 gives 0 pieces.
 */
size_t oracle_split(int family, const uint8_t *s, size_t n, size_t *ends, size_t cap);

/* Same, into a malloc'd array (free it); *count gets the number of pieces. Never returns NULL
 * (aborts on out-of-memory). */
size_t *oracle_split_alloc(int family, const uint8_t *s, size_t n, size_t *count);

/* The repaired text of s[0..n): every maximal ill-formed subsequence replaced by EF BF BD.
 * malloc'd (free it), *out_n gets its length. */
uint8_t *oracle_repair_utf8(const uint8_t *s, size_t n, size_t *out_n);

/*
 * 1 if PCRE2's answers for \p{Lu}, \p{Ll}, \p{Lt}, \p{Lm}, \p{Lo}, \p{M}, \p{N} and \s on cp
 * equal tkm_uc_props(cp); 0 otherwise (and for surrogates and cp > 0x10FFFF). Cached.
 */
int oracle_cp_agrees(uint32_t cp);

/* 1 if every code point of s[0..n) (decoded with tkm_utf8_decode, so ill-formed parts read as
 * U+FFFD) agrees. Otherwise 0, with *first_bad (may be NULL) = byte offset of the first one that
 * does not. */
int oracle_text_agrees(const uint8_t *s, size_t n, size_t *first_bad);

/*
 * Simple BPE of piece p[0..n), n >= 1, WITHOUT the whole-piece lookup: tiktoken's byte_pair_merge
 * transcribed literally (part starts, minimum-rank adjacent pair, ties leftmost, merge, repeat).
 * Writes ranks to out[0..count) if out is not NULL (n entries suffice). Returns the token count.
 */
size_t oracle_bpe_simple(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out);

/*
 * Round-based BPE for very long pieces: each round finds the minimum rank r among all adjacent
 * pairs and merges all pairs of rank r left to right in one pass. It aborts if a merge creates an
 * adjacent pair of rank <= r, the condition under which the rounds would differ from the
 * one-at-a-time algorithm. O(n * rounds). Same output as oracle_bpe_simple otherwise.
 */
size_t oracle_bpe_rounds(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out);

/* oracle_bpe_simple for n <= ORACLE_SIMPLE_MAX, oracle_bpe_rounds above; where the rounds do not
 * apply, oracle_bpe_simple again up to ORACLE_SIMPLE_FALLBACK_MAX bytes, else abort. */
#define ORACLE_SIMPLE_MAX 4096
#define ORACLE_SIMPLE_FALLBACK_MAX 65536
size_t oracle_bpe(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out);

/* Tokens of text s[0..n) (any bytes; repaired as above): split, whole-piece lookup, oracle_bpe. */
size_t oracle_count(int family, const tkm_ranks *v, const uint8_t *s, size_t n);

/* Same, writing ranks (= token ids) to out[0..min(count, cap)); returns the count. */
size_t oracle_encode(int family, const tkm_ranks *v, const uint8_t *s, size_t n, uint32_t *out, size_t cap);

/* ---- test-data helpers ---------------------------------------------------------------------- */

/* Regular files under dir (recursively), sorted by path; NULL if dir cannot be opened. Free each
 * string and the array. */
char **oracle_list_files(const char *dir, size_t *count);

/* Whole file into a malloc'd buffer (exactly *n bytes, at least one allocated); NULL on error. */
uint8_t *oracle_read_file(const char *path, size_t *n);

/* Deterministic generator for reproducible random tests (splitmix64). */
typedef struct oracle_rng {
    uint64_t s;
} oracle_rng;
uint64_t oracle_rng_next(oracle_rng *r);
/* Uniform in [0, bound), bound >= 1. */
uint32_t oracle_rng_below(oracle_rng *r, uint32_t bound);

#endif
