/*
 * utf8_avx2.h - where a text stops being well-formed UTF-8, 32 bytes per step with AVX2 (internal;
 * included by split_avx2.c and split_avx512.c, so every x86 kernel and its emulated copy get it).
 *
 * Contract: tkm_validate_fn (kernel/pretok.h): the offset tkm_utf8_first_invalid (kernel/count.c)
 * returns, which is the specification - the start of the first sequence that is not one of the
 * well-formed byte sequences of Unicode's table 3-7, or n. The vector loop only decides that a
 * block of 32 bytes holds no error; from the first block where it finds one (or from the tail of
 * fewer than 32 bytes) the scalar function finds the offset, starting at a sequence start shortly
 * before the block, so the answer is the scalar one by construction. tests/test_kernels.c compares
 * the two on every pair of bytes at ten offsets around the 32-byte blocks, every lead or
 * continuation byte with every second byte and a set of boundary third and fourth bytes across a
 * block edge, every prefix of mixed text, the corpus and random mutations of it; the fuzz target
 * checks every kernel's answer too. Memory contract: reads s[0..n) only, in whole 32-byte blocks inside the text.
 *
 * The check is the published "lookup" algorithm of Keiser and Lemire (Validating UTF-8 in less
 * than one instruction per byte, Software: Practice and Experience, 2021): three 16-entry tables,
 * indexed by the high and low nibbles of each byte's predecessor and by its own high nibble, are
 * ANDed; a bit left set is an error of the pair (a lead byte without its continuation, a stray
 * continuation, an overlong form, a surrogate, a code point above U+10FFFF), and a continuation
 * that must be the 2nd or 3rd of a 3- or 4-byte sequence toggles the two-continuations bit. Only
 * the tables' contents and the bit assignments are taken from the paper. A block of ASCII skips
 * the tables, checking only that the previous block did not end inside a sequence.
 * Design notes: the scalar loop decoded each sequence with a ladder of tests on its lead byte;
 * on multilingual text it was 5.1% of a count (perf, o200k, whole set), 2.7% on English. With this
 * check (AVX2 kernel, cachegrind, tkm_time -n 1 o200k_base on 2 MB): multilingual 455.4M -> 432.7M
 * instructions and 3.49M -> 3.09M mispredicted branches, English 146.8M -> 144.8M. Serial runs
 * on one core in alternating order (tkm_time -n 5, default kernel, whole sets, medians of 6):
 * multilingual 0.944, English 0.980, code 0.990. The AVX-512 kernel uses it as it is: its text is
 * validated once per count, at memory speed either way.
 */

enum {
    TKM_U8_TOO_SHORT = 1 << 0,  /* a lead byte, then no continuation */
    TKM_U8_TOO_LONG = 1 << 1,   /* ASCII, then a continuation */
    TKM_U8_OVERLONG_3 = 1 << 2, /* E0 80..9F */
    TKM_U8_TOO_LARGE = 1 << 3,  /* F4 90..BF, or F5..FF then a continuation */
    TKM_U8_SURROGATE = 1 << 4,  /* ED A0..BF */
    TKM_U8_OVERLONG_2 = 1 << 5, /* C0 or C1, then a continuation */
    TKM_U8_TOO_LARGE_1000 = 1 << 6, /* F5..FF 80..8F */
    TKM_U8_OVERLONG_4 = 1 << 6, /* F0 80..8F (the same bit: the low nibble of the lead tells them apart) */
    TKM_U8_TWO_CONTS = 1 << 7,  /* two continuations in a row */
    TKM_U8_CARRY = TKM_U8_TOO_SHORT | TKM_U8_TOO_LONG | TKM_U8_TWO_CONTS
};

TKM_KINLINE simde__m256i tkm_u8_table(int8_t t0, int8_t t1, int8_t t2, int8_t t3, int8_t t4, int8_t t5, int8_t t6,
                                      int8_t t7, int8_t t8, int8_t t9, int8_t ta, int8_t tb, int8_t tc, int8_t td,
                                      int8_t te, int8_t tf) {
    return simde_mm256_setr_epi8(t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, ta, tb, tc, td, te, tf, t0, t1, t2, t3, t4, t5,
                                 t6, t7, t8, t9, ta, tb, tc, td, te, tf);
}

/* The bytes of prev's last n (1..3) and in's first 32 - n, in order. */
#define TKM_U8_PREV(in, prev, n)                                                                     \
    simde_mm256_alignr_epi8((in), simde_mm256_permute2x128_si256((prev), (in), 0x21), 16 - (n))

static size_t TKM_KNAME(utf8_first_invalid)(const uint8_t *s, size_t n) {
    const int8_t L = TKM_U8_TOO_LONG, T2 = TKM_U8_TWO_CONTS, S = TKM_U8_TOO_SHORT, O2 = TKM_U8_OVERLONG_2,
                 O3 = TKM_U8_OVERLONG_3, O4 = TKM_U8_OVERLONG_4, SG = TKM_U8_SURROGATE, TL = TKM_U8_TOO_LARGE,
                 T1 = TKM_U8_TOO_LARGE_1000, C = TKM_U8_CARRY;
    const simde__m256i b1_high = tkm_u8_table(L, L, L, L, L, L, L, L, T2, T2, T2, T2, (int8_t)(S | O2), S,
                                              (int8_t)(S | O3 | SG), (int8_t)(S | TL | T1 | O4));
    const simde__m256i b1_low =
        tkm_u8_table((int8_t)(C | O3 | O2 | O4), (int8_t)(C | O2), C, C, (int8_t)(C | TL), (int8_t)(C | TL | T1),
                     (int8_t)(C | TL | T1), (int8_t)(C | TL | T1), (int8_t)(C | TL | T1), (int8_t)(C | TL | T1),
                     (int8_t)(C | TL | T1), (int8_t)(C | TL | T1), (int8_t)(C | TL | T1), (int8_t)(C | TL | T1 | SG),
                     (int8_t)(C | TL | T1), (int8_t)(C | TL | T1));
    const int8_t c8 = (int8_t)(L | O2 | T2 | O3 | T1 | O4), c9 = (int8_t)(L | O2 | T2 | O3 | TL),
                 cab = (int8_t)(L | O2 | T2 | SG | TL);
    const simde__m256i b2_high = tkm_u8_table(S, S, S, S, S, S, S, S, c8, c9, cab, cab, S, S, S, S);
    const simde__m256i nib = simde_mm256_set1_epi8(0x0F);
    /* a block's last bytes that start a sequence it does not finish: above these */
    const simde__m256i max_end = simde_mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                                       -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                                       (int8_t)(0xF0 - 1), (int8_t)(0xE0 - 1), (int8_t)(0xC0 - 1));
    simde__m256i prev = simde_mm256_setzero_si256(), open = simde_mm256_setzero_si256();
    size_t i = 0;
    for (; n - i >= 32; i += 32) {
        const simde__m256i in = simde_mm256_loadu_si256((const void *)(s + i));
        simde__m256i err;
        if (simde_mm256_movemask_epi8(in) == 0) {
            err = open; /* ASCII: an error only if the previous block ended inside a sequence */
        } else {
            const simde__m256i p1 = TKM_U8_PREV(in, prev, 1);
            const simde__m256i hi1 = simde_mm256_and_si256(simde_mm256_srli_epi16(p1, 4), nib);
            const simde__m256i lo1 = simde_mm256_and_si256(p1, nib);
            const simde__m256i hi0 = simde_mm256_and_si256(simde_mm256_srli_epi16(in, 4), nib);
            const simde__m256i sc = simde_mm256_and_si256(
                simde_mm256_and_si256(simde_mm256_shuffle_epi8(b1_high, hi1), simde_mm256_shuffle_epi8(b1_low, lo1)),
                simde_mm256_shuffle_epi8(b2_high, hi0));
            /* the 3rd byte of a 3- or 4-byte sequence, or the 4th of a 4-byte one: must continue */
            const simde__m256i third = simde_mm256_subs_epu8(TKM_U8_PREV(in, prev, 2), simde_mm256_set1_epi8(0xE0 - 0x80));
            const simde__m256i fourth = simde_mm256_subs_epu8(TKM_U8_PREV(in, prev, 3), simde_mm256_set1_epi8(0xF0 - 0x80));
            const simde__m256i must = simde_mm256_and_si256(simde_mm256_or_si256(third, fourth),
                                                            simde_mm256_set1_epi8((char)0x80));
            err = simde_mm256_xor_si256(sc, must);
        }
        if (!simde_mm256_testz_si256(err, err)) break;
        open = simde_mm256_subs_epu8(in, max_end);
        prev = in;
    }
    /* From a sequence start at most 3 bytes before s + i: before it, all is well-formed and whole. */
    size_t r = i < 3 ? 0 : i - 3;
    while (r < i && (s[r] & 0xC0) == 0x80) r++;
    return r + tkm_utf8_first_invalid(s + r, n - r);
}
