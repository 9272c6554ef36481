/*
 * split_avx2.c - pre-tokenizer split, AVX2 byte classification, the batch lookup of
 * lookup_avx2.h, and the batch merge (kernel/bpe_batch.h) built for AVX2.
 *
 * ISA and flags: -mavx2 -mbmi -mbmi2 -mlzcnt on x86-64 (native; CPU checked by arch/dispatch.c);
 * elsewhere compiled through SIMDe emulation for tests (never auto-chosen).
 * Specification: kernel/pretok_split.c (tkm_pretok_split_<family>). The walk is shared
 * (arch/generic/split_walk.h); this file supplies the 64-byte classifier (and the lookup).
 * Memory contract: reads exactly s[pos..pos+64) when 64 bytes remain, else a zero-padded stack
 * copy of the tail; never reads past s + n.
 *
 * Design notes: two 32-byte halves; an unsigned range test is min_epu8(x - lo, hi - lo) == x - lo,
 * then movemask. Tried a nibble-table (pshufb) classifier: fewer instructions for many classes,
 * but with seven classes of which five are plain ranges it was not faster, and harder to check.
 */
#include <simde/x86/avx2.h>

#include "../arch.h"
#define TKM_KISA avx2
#define TKM_KLOOKUP TKM_KNAME(lookup)
#define TKM_KVALIDATE TKM_KNAME(utf8_first_invalid)
#include "../generic/kernel_names.h"
#include "../generic/split_types.h"

#if defined(TKM_ARCH_NATIVE) && !defined(SIMDE_X86_AVX2_NATIVE)
#error "split_avx2.c must be compiled with -mavx2 to run natively"
#endif

TKM_KINLINE simde__m256i tkm_range256(simde__m256i x, uint8_t lo, uint8_t hi) {
    simde__m256i t = simde_mm256_sub_epi8(x, simde_mm256_set1_epi8((char)lo));
    return simde_mm256_cmpeq_epi8(simde_mm256_min_epu8(t, simde_mm256_set1_epi8((char)(hi - lo))), t);
}
TKM_KINLINE simde__m256i tkm_eq256(simde__m256i x, uint8_t c) {
    return simde_mm256_cmpeq_epi8(x, simde_mm256_set1_epi8((char)c));
}
TKM_KINLINE uint64_t tkm_mask64(simde__m256i a, simde__m256i b) {
    return (uint64_t)(uint32_t)simde_mm256_movemask_epi8(a) | (uint64_t)(uint32_t)simde_mm256_movemask_epi8(b) << 32;
}

static inline void tkm_classify64(const uint8_t *p, tkm_cls *c) {
    simde__m256i a = simde_mm256_loadu_si256((const void *)p);
    simde__m256i b = simde_mm256_loadu_si256((const void *)(p + 32));
    c->lo = tkm_mask64(tkm_range256(a, 'a', 'z'), tkm_range256(b, 'a', 'z'));
    c->up = tkm_mask64(tkm_range256(a, 'A', 'Z'), tkm_range256(b, 'A', 'Z'));
    c->dg = tkm_mask64(tkm_range256(a, '0', '9'), tkm_range256(b, '0', '9'));
    c->ws = tkm_mask64(simde_mm256_or_si256(tkm_range256(a, 0x09, 0x0D), tkm_eq256(a, ' ')),
                       simde_mm256_or_si256(tkm_range256(b, 0x09, 0x0D), tkm_eq256(b, ' ')));
    c->nl = tkm_mask64(simde_mm256_or_si256(tkm_eq256(a, '\n'), tkm_eq256(a, '\r')),
                       simde_mm256_or_si256(tkm_eq256(b, '\n'), tkm_eq256(b, '\r')));
    c->hi = tkm_mask64(a, b); /* movemask takes the top bit of each byte */
    c->sl = tkm_mask64(tkm_eq256(a, '/'), tkm_eq256(b, '/'));
    c->sp = tkm_mask64(tkm_eq256(a, ' '), tkm_eq256(b, ' '));
    c->ap = tkm_mask64(tkm_eq256(a, '\''), tkm_eq256(b, '\''));
}

#include "../generic/split_walk.h"
#include "lookup_avx2.h"
#include "utf8_avx2.h"
/* The batch merge's least of 16 keys (kernel/bpe_batch.h): two 8-lane minima, then a reduction. */
static inline int32_t tkm_min16(const int32_t *K) {
    const simde__m256i a = simde_mm256_min_epi32(simde_mm256_loadu_si256((const void *)K),
                                                 simde_mm256_loadu_si256((const void *)(K + 8)));
    simde__m128i x = simde_mm_min_epi32(simde_mm256_castsi256_si128(a), simde_mm256_extracti128_si256(a, 1));
    x = simde_mm_min_epi32(x, simde_mm_shuffle_epi32(x, 0x4E));
    x = simde_mm_min_epi32(x, simde_mm_shuffle_epi32(x, 0xB1));
    return simde_mm_cvtsi128_si32(x);
}
#define TKM_BPE_MIN16(K) tkm_min16(K)
/* The batch merge's pair lookup (kernel/bpe_batch.h): the four slots from the home slot compared at
 * once, answered by tkm_pair_probe_masks (vocab.h); four other keys in a row (about 6% of chains
 * that end empty, 2% of those that end in a match, o200k_base) go on to the scalar loop. The loop's
 * two tests, a hit or a miss about as often as not, were 44% of the mispredicted branches of an
 * English count (cachegrind --branch-sim, 2 MB, after the batch's sentinels). Tried in the scalar
 * kernel: the same four slots with masks in plain C; 20-30% more instructions of the whole count
 * for 20% fewer mispredicts, not kept. */
static inline uint32_t tkm_pair_probe_v(const tkm_ranks *v, uint64_t key, size_t i) {
    const simde__m256i s = simde_mm256_loadu_si256((const void *)(v->pairs + i));
    const simde__m256i hit =
        simde_mm256_cmpeq_epi64(simde_mm256_srli_epi64(s, 21), simde_mm256_set1_epi64x((int64_t)key));
    const simde__m256i empty = simde_mm256_cmpeq_epi64(s, simde_mm256_set1_epi64x(-1));
    const unsigned hb = (unsigned)simde_mm256_movemask_pd(simde_mm256_castsi256_pd(hit));
    const unsigned eb = (unsigned)simde_mm256_movemask_pd(simde_mm256_castsi256_pd(empty));
    return tkm_pair_probe_masks(v, key, i, hb, eb, 4);
}
#define TKM_BPE_PAIR_PROBE(v, key, slot) tkm_pair_probe_v(v, key, slot)
#define TKM_BPE_BATCH_NAME TKM_KNAME(bpe_batch) /* the batch merge, built with this file's flags */
#define TKM_BPE_BATCH_STATIC
#include "../../kernel/bpe_batch.h"

static int TKM_KNAME(cpu_ok)(void) {
#if defined(TKM_ARCH_NATIVE) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
#else
    return 1; /* emulated through SIMDe: runs anywhere */
#endif
}

TKM_DEFINE_KERNEL();
