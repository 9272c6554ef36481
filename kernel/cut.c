/*
 * cut.c - safe cut points (the rule the streaming and the multi-threaded counters share).
 *
 * The pre-tokenizers are stateless between pieces (no look-behind): a piece is determined by the
 * text from its start onwards. So if p is a piece boundary of the whole text and the pieces before
 * p do not change when the text is cut at p, count(text) = count(text[0..p)) + count(text[p..]).
 * We only cut at such "safe" points, proven for all three pattern families:
 *   A. s[p-1] is an ASCII letter or digit and s[p] == ' ': the letter/digit run (or contraction)
 *      ending at p-1 ends there whatever follows, and nothing else can contain s[p-1].
 *   B. s[p-1] == '\n', s[p-2] is the last byte of a code point that is not whitespace, and s[p] starts
 *      a well-formed code point that is neither whitespace nor '/': the "\n" piece (or the
 *      [\r\n/]* tail of a punctuation run) ends at p both in the whole text and at the cut.
 *   C. (only where special-token text is ordinary text, see below) s[p-1] is an ASCII letter or
 *      digit and s[p] is ASCII [^\s\p{L}\p{N}] other than the apostrophe: the letter or digit
 *      piece that holds s[p-1] (a letter run, with a contraction only after an apostrophe; a digit
 *      run, grouped by three from its start; or a contraction such as 's) ends at p-1 whatever
 *      follows s[p-1], as long as s[p] is neither a letter, a mark, a number nor an apostrophe; so
 *      p is a piece boundary of the whole text, and the pieces left of it are the same when the
 *      text ends at p. (Without C, minified JSON or code has no safe point for megabytes, and the
 *      streaming counter must buffer all of it.)
 * All these points are ASCII, so no UTF-8 sequence and no maximal ill-formed subsequence spans a cut:
 * validation, U+FFFD replacement and strict-mode offsets are the same on the parts as on the whole,
 * and the earliest problem of the whole text is the earliest problem of the first part that has
 * one. In allow/reject special-token modes a cut must also not fall inside a special-token string;
 * built-in special tokens contain neither ' ' nor '\n' (so none can cover s[p-1] and s[p] of A or
 * B), and for other vocabularies whose specials do, cutting is disabled (tkm_cut_allowed). Rule C
 * is off in those modes: "<|endoftext|>" has a letter followed by '|'.
 */
#include <string.h>

#include "cut.h"
#include "unicode.h"

static int is_alnum(uint8_t c) { return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z'); }

/* The code point that ends at s[e-1] (e > 0) is well-formed and not whitespace. */
static int ends_non_space(const uint8_t *s, size_t e) {
    size_t b = e - 1;
    while (b > 0 && e - b < 4 && (s[b] & 0xC0) == 0x80) b--;
    size_t adv;
    uint32_t c = tkm_utf8_decode(s, b, e, &adv);
    if (b + adv != e || (c == 0xFFFD && !(adv == 3 && s[b] == 0xEF))) return 0;
    return !(tkm_uc_props(c) & TKM_UC_WS);
}

/* ASCII [^\s\p{L}\p{N}] except the apostrophe: rule C's right-hand byte. */
static int is_punct_not_apostrophe(uint8_t c) {
    if (c >= 0x80 || c == '\'' || is_alnum(c)) return 0;
    return !(c == ' ' || (c >= 0x09 && c <= 0x0D));
}

int tkm_cut_is_safe(const uint8_t *s, size_t p, size_t n, int level) {
    if (s[p] == ' ' && is_alnum(s[p - 1])) return 1;
    if (level >= TKM_CUT_ALL && is_alnum(s[p - 1]) && is_punct_not_apostrophe(s[p])) return 1;
    if (s[p - 1] == '\n' && s[p] != '/' && ends_non_space(s, p - 1)) {
        size_t adv;
        uint32_t c = s[p] < 0x80 ? s[p] : tkm_utf8_decode(s, p, n, &adv);
        if (c == 0xFFFD && !(s[p] == 0xEF && p + 2 < n && s[p + 1] == 0xBF && s[p + 2] == 0xBD)) return 0;
        return !(tkm_uc_props(c) & TKM_UC_WS);
    }
    return 0;
}

size_t tkm_cut_last(const uint8_t *s, size_t lo, size_t hi, size_t n, int level) {
    if (n < 4) return 0;
    if (hi > n - 4) hi = n - 4;
    for (size_t c = hi; c >= lo; c--)
        if (tkm_cut_is_safe(s, c, n, level)) return c;
    return 0;
}

size_t tkm_cut_first(const uint8_t *s, size_t lo, size_t hi, size_t n, int level) {
    if (n < 4) return 0;
    if (hi > n - 4) hi = n - 4;
    for (size_t c = lo; c <= hi; c++)
        if (tkm_cut_is_safe(s, c, n, level)) return c;
    return 0;
}

int tkm_cut_allowed(const tkm_encoding *e, uint32_t flags) {
    if (!(flags & (TKM_SPECIAL_ALLOW | TKM_SPECIAL_REJECT)) || e->n_specials == 0) return TKM_CUT_ALL;
    for (uint32_t i = 0; i < e->n_specials; i++)
        if (memchr(e->specials[i].text, ' ', e->specials[i].len) || memchr(e->specials[i].text, '\n', e->specials[i].len))
            return TKM_CUT_NONE;
    return TKM_CUT_SPACE_NEWLINE;
}
