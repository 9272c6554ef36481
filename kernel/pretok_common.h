/*
 * pretok_common.h - shared scanning helpers for the hand-written pre-tokenizers (internal).
 * Everything is static inline so each family's scanner compiles to one tight function.
 */
#ifndef TKM_PRETOK_COMMON_H
#define TKM_PRETOK_COMMON_H
#include "pretok.h"
#include "unicode.h"

#define TKM_PT_LNWS (TKM_UC_L | TKM_UC_N | TKM_UC_WS)
/* o200k letter classes: U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], W = [\p{Ll}\p{Lm}\p{Lo}\p{M}] */
#define TKM_PT_U (TKM_UC_LU | TKM_UC_LT | TKM_UC_LM | TKM_UC_LO | TKM_UC_M)
#define TKM_PT_W (TKM_UC_LL | TKM_UC_LM | TKM_UC_LO | TKM_UC_M)

/* Decode the code point at s[i] (i < n) and return its property flags. */
static inline unsigned tkm_pt_at(const uint8_t *s, size_t i, size_t n, uint32_t *cp, size_t *adv) {
    uint32_t c = s[i];
    if (c < 0x80) {
        *adv = 1;
    } else {
        c = tkm_utf8_decode(s, i, n, adv);
    }
    *cp = c;
    return tkm_uc_props(c);
}

/* End of the maximal run from i of code points whose flags intersect `any`. */
static inline size_t tkm_pt_run(const uint8_t *s, size_t i, size_t n, unsigned any) {
    while (i < n) {
        uint32_t c;
        size_t a;
        if (!(tkm_pt_at(s, i, n, &c, &a) & any)) break;
        i += a;
    }
    return i;
}

/* End of the maximal run from i of [^\s\p{L}\p{N}]. */
static inline size_t tkm_pt_run_other(const uint8_t *s, size_t i, size_t n) {
    while (i < n) {
        uint32_t c;
        size_t a;
        if (tkm_pt_at(s, i, n, &c, &a) & TKM_PT_LNWS) break;
        i += a;
    }
    return i;
}

/* End of \p{N}{1,3} at i (s[i] is a number). */
static inline size_t tkm_pt_digits3(const uint8_t *s, size_t i, size_t n) {
    for (int k = 0; k < 3 && i < n; k++) {
        uint32_t c;
        size_t a;
        if (!(tkm_pt_at(s, i, n, &c, &a) & TKM_UC_N)) break;
        i += a;
    }
    return i;
}

/* ASCII simple case folding, plus U+017F LATIN SMALL LETTER LONG S which folds to 's' (the only
 * non-ASCII code point that case-folds to one of s t r e v m l d). */
static inline uint32_t tkm_pt_fold(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c == 0x17F) return 's';
    return c;
}

/* Length in bytes of a contraction after an apostrophe at s[i] (i.e. of s|t|re|ve|m|ll|d),
 * or 0. ci: case-insensitive (?i:...) as in cl100k/o200k; otherwise exact lower-case (gpt2). */
static inline size_t tkm_pt_contraction(const uint8_t *s, size_t i, size_t n, int ci) {
    if (i >= n) return 0;
    uint32_t c1, c2;
    size_t a1, a2;
    (void)tkm_pt_at(s, i, n, &c1, &a1);
    if (ci) c1 = tkm_pt_fold(c1);
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return a1;
    if (c1 != 'r' && c1 != 'v' && c1 != 'l') return 0;
    if (i + a1 >= n) return 0;
    (void)tkm_pt_at(s, i + a1, n, &c2, &a2);
    if (ci) c2 = tkm_pt_fold(c2);
    if ((c1 == 'l' && c2 == 'l') || (c1 != 'l' && c2 == 'e')) return a1 + a2;
    return 0;
}

/* Whitespace alternatives at i (s[i] is \s):
 *   with_newline:  \s*[\r\n]+ | \s+(?!\S) | \s+      (cl100k, o200k)
 *   otherwise:                  \s+(?!\S) | \s+      (gpt2)
 * \s*[\r\n]+ backtracks to the last CR/LF of the run. \s+(?!\S) takes the whole run at the end of
 * the text, else all but its last code point; if that leaves nothing, \s+ takes one. */
static inline size_t tkm_pt_space(const uint8_t *s, size_t i, size_t n, int with_newline) {
    size_t e = i, last = i, nl_end = 0;
    while (e < n) {
        uint32_t c;
        size_t a;
        if (!(tkm_pt_at(s, e, n, &c, &a) & TKM_UC_WS)) break;
        if (c == '\r' || c == '\n') nl_end = e + a;
        last = e;
        e += a;
    }
    if (with_newline && nl_end) return nl_end;
    if (e == n) return e;
    if (last > i) return last;
    return e;
}

#endif
