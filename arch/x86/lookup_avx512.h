/*
 * lookup_avx512.h - whole-piece lookup of a batch of pieces, AVX-512 (F + BW + DQ), 8 pieces per
 * step (internal; included by split_avx512.c, so the kernel and its emulated copy get it).
 *
 * Contract: tkm_lookup_fn (kernel/pretok.h). Specification: tkm_ranks_find (kernel/vocab.h); the
 * key, hash and slot layout are the fast table's (vocab.h), computed here for 8 pieces at once.
 * Per lane: a piece of 1 byte is one token; of 2 bytes, pair2 tells; of 3..12 bytes, the key is
 * built from a gather of its first 8 bytes and one of its last 4, hashed with one 64-bit
 * multiply, and its home slot and the next one are compared (linear probing: a hit in either is
 * a token, an empty slot first means no token). Everything else - a longer piece, a piece whose
 * first 8 bytes would reach past s + n, a chain longer than two slots - is left to the caller.
 * Memory contract: the gathers read s[st..st+8) only where st + 8 <= n, s[en-4..en) only for
 * pieces of 4 bytes or more, and slots of v's tables; lanes past m read nothing (masked).
 *
 * Design notes. In count.c the lookup of a piece was its length class (two or three branches on
 * the length, which varies from piece to piece and mispredicts), the key's loads, a multiply, a
 * probe loop: the largest share of an English count (run_count, 34% of the time in perf). A
 * branch-free scalar key had cost more instructions than the mispredicts it saved (count.c's
 * notes); here the length classes become lane masks, and the probes of 8 pieces overlap in two
 * gathers. Measured on the Xeon (AVX-512, 2 MiB L2 per core), whole corpus sets, tkm_time -n 3,
 * best of 4 interleaved rounds against the scalar lookup (same split): o200k English 0.1155 ->
 * 0.1025 s, code 0.0558 -> 0.0460 s, chat 0.0234 -> 0.0190 s, multilingual 0.2309 -> 0.2378 s
 * (its pieces are mostly longer than 12 bytes and go to the caller anyway); cl100k English 0.1129
 * -> 0.1007 s, code 0.0715 -> 0.0632 s, chat 0.0244 -> 0.0195 s, multilingual 0.1965 -> 0.1940 s.
 * Masked loads of e[], not padding: a first version had count.c pad e[m + 1..m + 8] with scalar
 * stores so that whole vectors could be loaded; the 64-byte load right after those stores cannot
 * be forwarded from them and waits for them to reach L1, which made the whole count slower than
 * the scalar lookup (code set 0.0558 -> 0.0588 s; 0.0451 s with the masked loads).
 * Two passes over the batch: keys and slots of all groups first, each slot's line prefetched, then
 * the probes. With one pass, each group's slot gather waited for its misses (a perf profile put
 * half of the kernel's samples on the instruction after it) and out-of-order execution
 * overlapped only about two groups; the first pass makes all 64 misses of a batch overlap, as
 * count.c's scalar lookup does. Best of 3 interleaved rounds, whole sets, o200k: English 0.1009 ->
 * 0.0961 s, code 0.0469 -> 0.0420 s, chat 0.0198 -> 0.0185 s, multilingual 0.2373 -> 0.2321 s.
 * The AVX2 kernel has the same lookup in 4 lanes (lookup_avx2.h). Not done: NEON (no gathers);
 * it keeps the scalar lookup.
 */
#include "../../kernel/vocab.h"

/* Gathers, the 32-to-64-bit widening and masked loads: SIMDe 0.7 has none of them for AVX-512,
 * so the emulated copy does them lane by lane. */
#if defined(SIMDE_X86_AVX512F_NATIVE)
#define TKM_GATHER64(src, k, idx, base, scale) _mm512_mask_i64gather_epi64((src), (k), (idx), (base), (scale))
#define TKM_GATHER32(src, k, idx, base, scale) _mm512_mask_i64gather_epi32((src), (k), (idx), (base), (scale))
#define TKM_WIDEN32(x) _mm512_cvtepu32_epi64(x)
#define TKM_LOAD_LIVE(k, p) _mm512_maskz_loadu_epi64((k), (p))
#else
TKM_KINLINE simde__m512i tkm_load_live_emu(simde__mmask8 k, const size_t *p) {
    uint64_t out[8];
    for (int i = 0; i < 8; i++)
        out[i] = (k >> i) & 1 ? (uint64_t)p[i] : 0;
    return simde_mm512_loadu_si512((const void *)out);
}
#define TKM_LOAD_LIVE(k, p) tkm_load_live_emu((k), (p))
TKM_KINLINE simde__m512i tkm_widen32_emu(simde__m256i x) {
    uint32_t in[8];
    uint64_t out[8];
    simde_mm256_storeu_si256((void *)in, x);
    for (int i = 0; i < 8; i++)
        out[i] = in[i];
    return simde_mm512_loadu_si512((const void *)out);
}
#define TKM_WIDEN32(x) tkm_widen32_emu(x)
TKM_KINLINE simde__m512i tkm_gather64_emu(simde__m512i src, simde__mmask8 k, simde__m512i idx, const void *base,
                                          int scale) {
    uint64_t out[8], ix[8];
    simde_mm512_storeu_si512((void *)out, src);
    simde_mm512_storeu_si512((void *)ix, idx);
    for (int i = 0; i < 8; i++)
        if ((k >> i) & 1) memcpy(&out[i], (const uint8_t *)base + (int64_t)ix[i] * scale, 8);
    return simde_mm512_loadu_si512((const void *)out);
}
TKM_KINLINE simde__m256i tkm_gather32_emu(simde__m256i src, simde__mmask8 k, simde__m512i idx, const void *base,
                                          int scale) {
    uint32_t out[8];
    uint64_t ix[8];
    simde_mm256_storeu_si256((void *)out, src);
    simde_mm512_storeu_si512((void *)ix, idx);
    for (int i = 0; i < 8; i++)
        if ((k >> i) & 1) memcpy(&out[i], (const uint8_t *)base + (int64_t)ix[i] * scale, 4);
    return simde_mm256_loadu_si256((const void *)out);
}
#define TKM_GATHER64(src, k, idx, base, scale) tkm_gather64_emu((src), (k), (idx), (base), (scale))
#define TKM_GATHER32(src, k, idx, base, scale) tkm_gather32_emu((src), (k), (idx), (base), (scale))
#endif

/* Lanes of k whose slot pair (w0, w1) holds the key (k0, want = k1 | len << 59). */
TKM_KINLINE simde__mmask8 tkm_slot_hit(simde__mmask8 k, simde__m512i w0, simde__m512i w1, simde__m512i k0,
                                       simde__m512i want) {
    const simde__m512i keep = simde_mm512_set1_epi64((int64_t)0xF8000000FFFFFFFFull); /* key bits of word 1 */
    return simde_mm512_mask_cmpeq_epi64_mask(k, w0, k0) &
           simde_mm512_cmpeq_epi64_mask(simde_mm512_and_si512(w1, keep), want);
}

static uint64_t TKM_KNAME(lookup)(const tkm_ranks *v, const uint8_t *s, size_t n, const size_t *e, size_t m,
                                  size_t *found, uint64_t *absent) {
    const simde__m512i c1 = simde_mm512_set1_epi64(1), c2 = simde_mm512_set1_epi64(2);
    const simde__m512i c3 = simde_mm512_set1_epi64(3), c4 = simde_mm512_set1_epi64(4);
    const simde__m512i c8 = simde_mm512_set1_epi64(8), c9 = simde_mm512_set1_epi64(9);
    const simde__m512i zero = simde_mm512_setzero_si512(), ff = simde_mm512_set1_epi64(0xFF);
    const simde__m512i lo32 = simde_mm512_set1_epi64(0xFFFFFFFF), lo16 = simde_mm512_set1_epi64(0xFFFF);
    const simde__m512i vn = simde_mm512_set1_epi64((int64_t)n);
    const simde__m512i mul = simde_mm512_set1_epi64((int64_t)0x9E3779B97F4A7C15ull); /* tkm_fast_hash */
    const simde__m512i fmask = simde_mm512_set1_epi64((int64_t)v->fast_mask);
    const simde__m128i shift = simde_mm_cvtsi32_si128((int)v->fast_shift);
    const simde__m256i none = simde_mm256_set1_epi32(-1); /* TKM_RANK_NONE */
    uint64_t todo = 0, no = 0;
    size_t cnt = 0;
    /* pass 1: keys and slots of every group, the slots' lines prefetched; pass 2: the probes */
    simde__m512i vk0[8], vwant[8], vslot[8];
    uint8_t mkf[8], myes[8], mno[8], mlive[8];
    for (size_t g = 0; g < m; g += 8) {
        const simde__mmask8 live = (simde__mmask8)(m - g >= 8 ? 0xFFu : (1u << (m - g)) - 1u);
        const simde__m512i st = TKM_LOAD_LIVE(live, e + g);
        const simde__m512i en = TKM_LOAD_LIVE(live, e + g + 1);
        const simde__m512i len = simde_mm512_sub_epi64(en, st);
        /* lanes whose first 8 bytes lie inside the text */
        const simde__mmask8 safe = simde_mm512_mask_cmple_epu64_mask(live, simde_mm512_add_epi64(st, c8), vn);
        const simde__mmask8 is1 = simde_mm512_mask_cmpeq_epi64_mask(live, len, c1);
        const simde__mmask8 is2 = simde_mm512_mask_cmpeq_epi64_mask(safe, len, c2);
        const simde__mmask8 kf = simde_mm512_mask_cmple_epu64_mask(safe, simde_mm512_sub_epi64(len, c3), c9);
        const simde__mmask8 ge4 = simde_mm512_mask_cmpge_epu64_mask(kf, len, c4);
        const simde__mmask8 ge8 = simde_mm512_mask_cmpge_epu64_mask(kf, len, c8);
        const simde__m512i a = TKM_GATHER64(zero, (simde__mmask8)(is2 | kf), st, (const void *)s, 1);
        /* two bytes: pair2[b0 | b1 << 8] */
        const simde__m256i r2 = TKM_GATHER32(none, is2, simde_mm512_and_si512(a, lo16), (const void *)v->pair2, 4);
        const simde__mmask8 f2 = (simde__mmask8)(is2 & ~simde_mm512_cmpeq_epi64_mask(TKM_WIDEN32(r2), lo32));
        /* 3..12 bytes: the key of tkm_fast_key */
        const simde__m256i b32 =
            TKM_GATHER32(simde_mm256_setzero_si256(), ge4, simde_mm512_sub_epi64(en, c4), (const void *)s, 1);
        const simde__m512i b = TKM_WIDEN32(b32);
        simde__m512i k0 = simde_mm512_or_si512(simde_mm512_and_si512(a, lo32), simde_mm512_slli_epi64(b, 32));
        k0 = simde_mm512_mask_mov_epi64(k0, ge8, a);
        /* 3 bytes: b[0] | b[1] << 8 | b[2] << 16, with b[n / 2] and b[n - 1] shifted out of a */
        const simde__m512i mid_at = simde_mm512_slli_epi64(simde_mm512_srli_epi64(len, 1), 3);
        const simde__m512i last_at = simde_mm512_slli_epi64(simde_mm512_sub_epi64(len, c1), 3);
        const simde__m512i mid = simde_mm512_and_si512(simde_mm512_srlv_epi64(a, mid_at), ff);
        const simde__m512i last = simde_mm512_and_si512(simde_mm512_srlv_epi64(a, last_at), ff);
        const simde__m512i k3 =
            simde_mm512_or_si512(simde_mm512_and_si512(a, ff), simde_mm512_or_si512(simde_mm512_slli_epi64(mid, 8),
                                                                                    simde_mm512_slli_epi64(last, 16)));
        k0 = simde_mm512_mask_mov_epi64(k0, (simde__mmask8)(kf & ~ge4), k3);
        const simde__m512i k1 = simde_mm512_maskz_mov_epi64(ge8, b);
        /* tkm_fast_hash: (k0 ^ k1 << 7 ^ n << 56) * constant */
        const simde__m512i x = simde_mm512_xor_si512(simde_mm512_xor_si512(k0, simde_mm512_slli_epi64(k1, 7)),
                                                     simde_mm512_slli_epi64(len, 56));
        const simde__m512i h = simde_mm512_mullo_epi64(x, mul);
        const simde__m512i slot = simde_mm512_srl_epi64(h, shift);
        const simde__m512i want = simde_mm512_or_si512(k1, simde_mm512_slli_epi64(len, 59));
        uint64_t sl[8];
        simde_mm512_storeu_si512((void *)sl, slot);
        for (int i = 0; i < 8; i++)
            __builtin_prefetch(v->fast + 2 * sl[i]); /* in the table, lane live or not */
        const size_t q = g / 8;
        vk0[q] = k0;
        vwant[q] = want;
        vslot[q] = slot;
        mkf[q] = (uint8_t)kf;
        mlive[q] = (uint8_t)live;
        myes[q] = (uint8_t)(is1 | f2);
        mno[q] = (uint8_t)(is2 & ~f2);
    }
    for (size_t g = 0; g < m; g += 8) {
        const size_t q = g / 8;
        const simde__mmask8 kf = mkf[q];
        const simde__m512i k0 = vk0[q], want = vwant[q], slot = vslot[q];
        /* the home slot, then (where it holds another key) the next one */
        simde__m512i i0 = simde_mm512_slli_epi64(slot, 1);
        simde__m512i w0 = TKM_GATHER64(zero, kf, i0, (const void *)v->fast, 8);
        simde__m512i w1 = TKM_GATHER64(zero, kf, simde_mm512_add_epi64(i0, c1), (const void *)v->fast, 8);
        simde__mmask8 hit = tkm_slot_hit(kf, w0, w1, k0, want);
        simde__mmask8 empty = simde_mm512_mask_cmpeq_epi64_mask((simde__mmask8)(kf & ~hit), w1, zero);
        const simde__mmask8 rest = (simde__mmask8)(kf & ~hit & ~empty);
        if (rest) {
            i0 = simde_mm512_slli_epi64(simde_mm512_and_si512(simde_mm512_add_epi64(slot, c1), fmask), 1);
            w0 = TKM_GATHER64(zero, rest, i0, (const void *)v->fast, 8);
            w1 = TKM_GATHER64(zero, rest, simde_mm512_add_epi64(i0, c1), (const void *)v->fast, 8);
            const simde__mmask8 hit2 = tkm_slot_hit(rest, w0, w1, k0, want);
            hit |= hit2;
            empty |= simde_mm512_mask_cmpeq_epi64_mask((simde__mmask8)(rest & ~hit2), w1, zero);
        }
        const unsigned yes = (unsigned)(myes[q] | hit);
        cnt += (size_t)__builtin_popcount(yes);
        todo |= (uint64_t)(mlive[q] & ~yes & 0xFFu) << g;
        no |= (uint64_t)((empty | mno[q]) & 0xFFu) << g;
    }
    *found = cnt;
    *absent = no;
    return todo;
}
