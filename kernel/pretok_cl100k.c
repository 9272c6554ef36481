/*
 * pretok_cl100k.c - the cl100k_base pattern.
 *
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 *   \s*[\r\n]+|\s+(?!\S)|\s+
 *
 * Design notes: alternatives tried in order. [^\r\n\p{L}\p{N}]?\p{L}+ only needs the optional
 * prefix when the first code point is not a letter, and then only if the second one is: one code
 * point of lookahead. (?i) uses Unicode simple case folding, so U+017F (long s) matches 's'.
 */
#include "pretok_common.h"

size_t tkm_pretok_next_cl100k(const uint8_t *s, size_t pos, size_t n) {
    uint32_t c, c2;
    size_t a, a2;
    unsigned f = tkm_pt_at(s, pos, n, &c, &a);

    if (c == '\'') {
        size_t k = tkm_pt_contraction(s, pos + 1, n, 1);
        if (k) return pos + 1 + k;
    }
    if (f & TKM_UC_L) return tkm_pt_run(s, pos + a, n, TKM_UC_L);
    if (!(f & TKM_UC_N) && c != '\r' && c != '\n' && pos + a < n) { /* prefix + letters */
        if (tkm_pt_at(s, pos + a, n, &c2, &a2) & TKM_UC_L) return tkm_pt_run(s, pos + a + a2, n, TKM_UC_L);
    }
    if (f & TKM_UC_N) return tkm_pt_digits3(s, pos, n);

    size_t e = 0;
    if (c == ' ' && pos + 1 < n && !(tkm_pt_at(s, pos + 1, n, &c2, &a2) & TKM_PT_LNWS))
        e = tkm_pt_run_other(s, pos + 1, n);
    else if (!(f & TKM_PT_LNWS))
        e = tkm_pt_run_other(s, pos + a, n);
    if (e) {
        while (e < n && (s[e] == '\r' || s[e] == '\n')) e++;
        return e;
    }
    return tkm_pt_space(s, pos, n, 1);
}
