/*
 * pretok_o200k.c - the o200k_base / o200k_harmony pattern.
 *
 *   A1 [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
 *   A2 [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
 *   A3 \p{N}{1,3}
 *   A4  ?[^\s\p{L}\p{N}]+[\r\n/]*
 *   A5 \s*[\r\n]+   A6 \s+(?!\S)   A7 \s+
 *
 * Design notes. Write U for the first letter class and W for the second; U and W overlap in
 * Lm, Lo and M, and W \ U = Ll. The backtracking of A1 reduces to: take the maximal U-run from
 * q; if the next code point is Ll, W+ runs greedily from there; otherwise U* gives back code
 * points until one is in W, and W+ takes exactly that one (what follows it in the U-run is Lu/Lt,
 * not in W). If the U-run holds no W, A1 fails at q. The optional contraction never forces
 * backtracking. The optional prefix is tried taken first, then not taken (it may be a mark,
 * which A1 can also consume as a letter). A2 then succeeds iff q starts a U-run. Every path scans
 * each run a bounded number of times, so the scanner is linear.
 */
#include "pretok_common.h"

/* Optional (?i:'s|'t|'re|'ve|'m|'ll|'d) at e. */
static inline size_t o200k_suffix(const uint8_t *s, size_t e, size_t n) {
    if (e < n && s[e] == '\'') {
        size_t k = tkm_pt_contraction(s, e + 1, n, 1);
        if (k) return e + 1 + k;
    }
    return e;
}

/* U*W+ suffix? at q; 0 if no match. */
static size_t o200k_a1(const uint8_t *s, size_t q, size_t n) {
    size_t j = q, last_w_end = 0;
    uint32_t c;
    size_t a;
    while (j < n) {
        unsigned f = tkm_pt_at(s, j, n, &c, &a);
        if (!(f & TKM_PT_U)) {
            if (f & TKM_UC_LL) return o200k_suffix(s, tkm_pt_run(s, j + a, n, TKM_PT_W), n);
            break;
        }
        if (f & TKM_PT_W) last_w_end = j + a;
        j += a;
    }
    return last_w_end ? o200k_suffix(s, last_w_end, n) : 0;
}

/* U+W* suffix? at q; 0 if no match. */
static size_t o200k_a2(const uint8_t *s, size_t q, size_t n) {
    size_t j = tkm_pt_run(s, q, n, TKM_PT_U);
    if (j == q) return 0;
    return o200k_suffix(s, tkm_pt_run(s, j, n, TKM_PT_W), n);
}

size_t tkm_pretok_next_o200k(const uint8_t *s, size_t pos, size_t n) {
    uint32_t c, c2;
    size_t a, a2, e;
    unsigned f = tkm_pt_at(s, pos, n, &c, &a);
    int prefix = !(f & (TKM_UC_L | TKM_UC_N)) && c != '\r' && c != '\n' && pos + a < n;

    if (prefix && (e = o200k_a1(s, pos + a, n))) return e;
    if ((f & (TKM_UC_L | TKM_UC_M)) && (e = o200k_a1(s, pos, n))) return e;
    if (prefix && (e = o200k_a2(s, pos + a, n))) return e;
    if ((f & TKM_PT_U) && (e = o200k_a2(s, pos, n))) return e;
    if (f & TKM_UC_N) return tkm_pt_digits3(s, pos, n);

    e = 0;
    if (c == ' ' && pos + 1 < n && !(tkm_pt_at(s, pos + 1, n, &c2, &a2) & TKM_PT_LNWS))
        e = tkm_pt_run_other(s, pos + 1, n);
    else if (!(f & TKM_PT_LNWS))
        e = tkm_pt_run_other(s, pos + a, n);
    if (e) {
        while (e < n && (s[e] == '\r' || s[e] == '\n' || s[e] == '/')) e++;
        return e;
    }
    return tkm_pt_space(s, pos, n, 1);
}
