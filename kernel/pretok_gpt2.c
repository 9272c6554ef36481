/*
 * pretok_gpt2.c - the GPT-2 pattern family (r50k_base, p50k_base, p50k_edit).
 *
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * Design notes: a direct transcription of the alternation, tried in order at each piece start.
 * No alternative needs more than one code point of lookahead except \s+(?!\S), which scans the
 * whitespace run once; so each byte is decoded O(1) times and the scanner is linear.
 */
#include "pretok_common.h"

size_t tkm_pretok_next_gpt2(const uint8_t *s, size_t pos, size_t n) {
    uint32_t c, c2;
    size_t a, a2;
    unsigned f = tkm_pt_at(s, pos, n, &c, &a);

    if (c == '\'') {
        size_t k = tkm_pt_contraction(s, pos + 1, n, 0);
        if (k) return pos + 1 + k;
    }
    if (c == ' ' && pos + 1 < n) { /* ' ?' followed by a letter, number or other */
        unsigned f2 = tkm_pt_at(s, pos + 1, n, &c2, &a2);
        if (f2 & TKM_UC_L) return tkm_pt_run(s, pos + 1 + a2, n, TKM_UC_L);
        if (f2 & TKM_UC_N) return tkm_pt_run(s, pos + 1 + a2, n, TKM_UC_N);
        if (!(f2 & TKM_PT_LNWS)) return tkm_pt_run_other(s, pos + 1 + a2, n);
    }
    if (f & TKM_UC_L) return tkm_pt_run(s, pos + a, n, TKM_UC_L);
    if (f & TKM_UC_N) return tkm_pt_run(s, pos + a, n, TKM_UC_N);
    if (!(f & TKM_UC_WS)) return tkm_pt_run_other(s, pos + a, n);
    return tkm_pt_space(s, pos, n, 0);
}
