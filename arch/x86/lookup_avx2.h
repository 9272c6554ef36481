/*
 * lookup_avx2.h - whole-piece lookup of a batch of pieces, AVX2, 4 pieces per step (internal;
 * included by split_avx2.c, so the kernel and its emulated copy get it).
 *
 * The same lookup as lookup_avx512.h (read its notes: contract, lanes, memory, the two passes),
 * in 4 lanes with vector masks instead of k-masks: unsigned 64-bit compares become signed ones
 * (offsets and lengths are far below 2^63), the 64-bit multiply of the hash is three 32-bit ones
 * (lo*lo + (hi*lo + lo*hi) << 32), and the gathers of 32-bit values take their lane mask
 * narrowed to 4 dwords.
 * Design notes: measured on the Xeon against the AVX2 kernel's scalar lookup (TOKMETER_KERNEL=
 * avx2 both, whole sets, o200k, tkm_time -n 3, best of 3 interleaved rounds): English 0.1150 ->
 * 0.0963 s, code 0.0560 -> 0.0439 s, chat 0.0246 -> 0.0199 s, multilingual 0.2401 -> 0.2290 s.
 * On an AVX2-only AMD EPYC Zen 3 VM, whose gathers are microcoded (a 4-lane gather is some 20
 * micro-ops), the two 64-bit gathers of a slot's words became four 16-byte loads of the slots and a
 * transpose (tkm_load_slots4; a slot index is always inside the table, so no lane needs a mask):
 * same-binary-pair ratios, serial runs on one core in alternating order, medians, tkm_time -n 5,
 * o200k_base, TOKMETER_HUGE_TABLES=0: 2 MB of English 0.887, code 1.005, multilingual 0.944;
 * whole sets with the tables in huge pages: English 0.959, multilingual 0.942, code 0.973, chat
 * 0.959, cl100k_base English 0.857. The same for the three gathers of the first pass (the text's
 * first 8 and last 4 bytes of each piece, through pointers blended with a zero word, and the
 * pair2 look-ups): 1.018, 0.999, 0.978 on the 2 MB files; not kept. valgrind (no AVX-512) runs
 * this kernel in tools/check-sanitizers.sh.
 */
#include "../../kernel/vocab.h"

/* The low dwords of the four 64-bit lanes of m, as a 128-bit mask for the 32-bit gathers. */
TKM_KINLINE simde__m128i tkm_narrow_mask(simde__m256i m) {
    return simde_mm256_castsi256_si128(
        simde_mm256_permutevar8x32_epi32(m, simde_mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0)));
}

/* x * c mod 2^64 in each lane. */
TKM_KINLINE simde__m256i tkm_mullo64(simde__m256i x, simde__m256i c) {
    const simde__m256i lo = simde_mm256_mul_epu32(x, c);
    const simde__m256i cross = simde_mm256_add_epi64(simde_mm256_mul_epu32(simde_mm256_srli_epi64(x, 32), c),
                                                     simde_mm256_mul_epu32(x, simde_mm256_srli_epi64(c, 32)));
    return simde_mm256_add_epi64(lo, simde_mm256_slli_epi64(cross, 32));
}

TKM_KINLINE unsigned tkm_bits4(simde__m256i m) {
    return (unsigned)simde_mm256_movemask_pd(simde_mm256_castsi256_pd(m));
}

/* The two words of the fast-table slots slot[0..4) (each a valid slot, whether its lane is live or
 * not): four 16-byte loads and a transpose, for the two 64-bit gathers of words 0 and 1. */
TKM_KINLINE void tkm_load_slots4(const int64_t *fast, simde__m256i slot, simde__m256i *w0, simde__m256i *w1) {
    const simde__m128i s01 = simde_mm256_castsi256_si128(slot), s23 = simde_mm256_extracti128_si256(slot, 1);
    const simde__m128i x0 = simde_mm_loadu_si128((const void *)(fast + 2 * simde_mm_cvtsi128_si64(s01)));
    const simde__m128i x1 = simde_mm_loadu_si128((const void *)(fast + 2 * simde_mm_extract_epi64(s01, 1)));
    const simde__m128i x2 = simde_mm_loadu_si128((const void *)(fast + 2 * simde_mm_cvtsi128_si64(s23)));
    const simde__m128i x3 = simde_mm_loadu_si128((const void *)(fast + 2 * simde_mm_extract_epi64(s23, 1)));
    const simde__m256i a = simde_mm256_set_m128i(x2, x0), b = simde_mm256_set_m128i(x3, x1);
    *w0 = simde_mm256_unpacklo_epi64(a, b);
    *w1 = simde_mm256_unpackhi_epi64(a, b);
}

/* Lanes of k whose slot pair (w0, w1) holds the key (k0, want = k1 | len << 59). */
TKM_KINLINE simde__m256i tkm_slot_hit4(simde__m256i k, simde__m256i w0, simde__m256i w1, simde__m256i k0,
                                       simde__m256i want) {
    const simde__m256i keep = simde_mm256_set1_epi64x((int64_t)0xF8000000FFFFFFFFull); /* key bits of word 1 */
    return simde_mm256_and_si256(simde_mm256_and_si256(k, simde_mm256_cmpeq_epi64(w0, k0)),
                                 simde_mm256_cmpeq_epi64(simde_mm256_and_si256(w1, keep), want));
}

static uint64_t TKM_KNAME(lookup)(const tkm_ranks *v, const uint8_t *s, size_t n, const size_t *e, size_t m,
                                  size_t *found, uint64_t *absent) {
    const simde__m256i c1 = simde_mm256_set1_epi64x(1), c2 = simde_mm256_set1_epi64x(2);
    const simde__m256i c3 = simde_mm256_set1_epi64x(3), c4 = simde_mm256_set1_epi64x(4);
    const simde__m256i c7 = simde_mm256_set1_epi64x(7), c8 = simde_mm256_set1_epi64x(8);
    const simde__m256i c13 = simde_mm256_set1_epi64x(13);
    const simde__m256i zero = simde_mm256_setzero_si256(), ff = simde_mm256_set1_epi64x(0xFF);
    const simde__m256i lo32 = simde_mm256_set1_epi64x(0xFFFFFFFF), lo16 = simde_mm256_set1_epi64x(0xFFFF);
    const simde__m256i vn1 = simde_mm256_set1_epi64x((int64_t)n + 1);
    const simde__m256i mul = simde_mm256_set1_epi64x((int64_t)0x9E3779B97F4A7C15ull); /* tkm_fast_hash */
    const simde__m256i fmask = simde_mm256_set1_epi64x((int64_t)v->fast_mask);
    const simde__m256i lane = simde_mm256_setr_epi64x(0, 1, 2, 3);
    const simde__m128i shift = simde_mm_cvtsi32_si128((int)v->fast_shift);
    const simde__m128i none = simde_mm_set1_epi32(-1); /* TKM_RANK_NONE */
    const int64_t *fast = (const int64_t *)(const void *)v->fast;
    uint64_t todo = 0, no = 0;
    size_t cnt = 0;
    simde__m256i vk0[16], vwant[16], vslot[16], vkf[16];
    uint8_t myes[16], mno[16], mlive[16];
    for (size_t g = 0; g < m; g += 4) {
        const size_t q = g / 4;
        const simde__m256i live = simde_mm256_cmpgt_epi64(simde_mm256_set1_epi64x((int64_t)(m - g)), lane);
        const simde__m256i st = simde_mm256_maskload_epi64((const int64_t *)(const void *)(e + g), live);
        const simde__m256i en = simde_mm256_maskload_epi64((const int64_t *)(const void *)(e + g + 1), live);
        const simde__m256i len = simde_mm256_sub_epi64(en, st);
        /* lanes whose first 8 bytes lie inside the text: st + 8 <= n */
        const simde__m256i safe =
            simde_mm256_and_si256(live, simde_mm256_cmpgt_epi64(vn1, simde_mm256_add_epi64(st, c8)));
        const simde__m256i is1 = simde_mm256_and_si256(live, simde_mm256_cmpeq_epi64(len, c1));
        const simde__m256i is2 = simde_mm256_and_si256(safe, simde_mm256_cmpeq_epi64(len, c2));
        const simde__m256i kf = simde_mm256_and_si256(
            safe, simde_mm256_and_si256(simde_mm256_cmpgt_epi64(len, c2), simde_mm256_cmpgt_epi64(c13, len)));
        const simde__m256i ge4 = simde_mm256_and_si256(kf, simde_mm256_cmpgt_epi64(len, c3));
        const simde__m256i ge8 = simde_mm256_and_si256(kf, simde_mm256_cmpgt_epi64(len, c7));
        const simde__m256i a = simde_mm256_mask_i64gather_epi64(zero, (const int64_t *)(const void *)s, st,
                                                                simde_mm256_or_si256(is2, kf), 1);
        /* two bytes: pair2[b0 | b1 << 8] */
        const simde__m128i r2 = simde_mm256_mask_i64gather_epi32(
            none, (const int32_t *)(const void *)v->pair2, simde_mm256_and_si256(a, lo16), tkm_narrow_mask(is2), 4);
        const simde__m256i f2 =
            simde_mm256_andnot_si256(simde_mm256_cmpeq_epi64(simde_mm256_cvtepu32_epi64(r2), lo32), is2);
        /* 3..12 bytes: the key of tkm_fast_key */
        const simde__m128i b32 =
            simde_mm256_mask_i64gather_epi32(simde_mm_setzero_si128(), (const int32_t *)(const void *)s,
                                             simde_mm256_sub_epi64(en, c4), tkm_narrow_mask(ge4), 1);
        const simde__m256i b = simde_mm256_cvtepu32_epi64(b32);
        simde__m256i k0 = simde_mm256_or_si256(simde_mm256_and_si256(a, lo32), simde_mm256_slli_epi64(b, 32));
        k0 = simde_mm256_blendv_epi8(k0, a, ge8);
        /* 3 bytes: b[0] | b[1] << 8 | b[2] << 16, with b[n / 2] and b[n - 1] shifted out of a */
        const simde__m256i mid_at = simde_mm256_slli_epi64(simde_mm256_srli_epi64(len, 1), 3);
        const simde__m256i last_at = simde_mm256_slli_epi64(simde_mm256_sub_epi64(len, c1), 3);
        const simde__m256i mid = simde_mm256_and_si256(simde_mm256_srlv_epi64(a, mid_at), ff);
        const simde__m256i last = simde_mm256_and_si256(simde_mm256_srlv_epi64(a, last_at), ff);
        const simde__m256i k3 =
            simde_mm256_or_si256(simde_mm256_and_si256(a, ff), simde_mm256_or_si256(simde_mm256_slli_epi64(mid, 8),
                                                                                    simde_mm256_slli_epi64(last, 16)));
        k0 = simde_mm256_blendv_epi8(k0, k3, simde_mm256_andnot_si256(ge4, kf));
        const simde__m256i k1 = simde_mm256_and_si256(ge8, b);
        /* tkm_fast_hash: (k0 ^ k1 << 7 ^ n << 56) * constant */
        const simde__m256i x = simde_mm256_xor_si256(simde_mm256_xor_si256(k0, simde_mm256_slli_epi64(k1, 7)),
                                                     simde_mm256_slli_epi64(len, 56));
        const simde__m256i slot = simde_mm256_srl_epi64(tkm_mullo64(x, mul), shift);
        uint64_t sl[4];
        simde_mm256_storeu_si256((void *)sl, slot);
        for (int i = 0; i < 4; i++)
            __builtin_prefetch(v->fast + 2 * sl[i]); /* in the table, lane live or not */
        vk0[q] = k0;
        vwant[q] = simde_mm256_or_si256(k1, simde_mm256_slli_epi64(len, 59));
        vslot[q] = slot;
        vkf[q] = kf;
        mlive[q] = (uint8_t)tkm_bits4(live);
        myes[q] = (uint8_t)tkm_bits4(simde_mm256_or_si256(is1, f2));
        mno[q] = (uint8_t)tkm_bits4(simde_mm256_andnot_si256(f2, is2));
    }
    for (size_t g = 0; g < m; g += 4) {
        const size_t q = g / 4;
        const simde__m256i kf = vkf[q], k0 = vk0[q], want = vwant[q], slot = vslot[q];
        /* the home slot, then (where it holds another key) the next one */
        simde__m256i w0, w1;
        tkm_load_slots4(fast, slot, &w0, &w1);
        simde__m256i hit = tkm_slot_hit4(kf, w0, w1, k0, want);
        simde__m256i empty =
            simde_mm256_andnot_si256(hit, simde_mm256_and_si256(kf, simde_mm256_cmpeq_epi64(w1, zero)));
        const simde__m256i rest = simde_mm256_andnot_si256(simde_mm256_or_si256(hit, empty), kf);
        if (tkm_bits4(rest)) {
            tkm_load_slots4(fast, simde_mm256_and_si256(simde_mm256_add_epi64(slot, c1), fmask), &w0, &w1);
            const simde__m256i hit2 = tkm_slot_hit4(rest, w0, w1, k0, want);
            hit = simde_mm256_or_si256(hit, hit2);
            empty = simde_mm256_or_si256(
                empty, simde_mm256_andnot_si256(hit2, simde_mm256_and_si256(rest, simde_mm256_cmpeq_epi64(w1, zero))));
        }
        const unsigned yes = myes[q] | tkm_bits4(hit);
        cnt += (size_t)__builtin_popcount(yes);
        todo |= (uint64_t)(mlive[q] & ~yes & 0xFu) << g;
        no |= (uint64_t)((tkm_bits4(empty) | mno[q]) & 0xFu) << g;
    }
    *found = cnt;
    *absent = no;
    return todo;
}
