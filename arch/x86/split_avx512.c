/*
 * split_avx512.c - pre-tokenizer split, AVX-512 (F + BW) byte classification, the batch
 * lookup of lookup_avx512.h (F + DQ), and the batch merge (kernel/bpe_batch.h) built for AVX-512.
 *
 * ISA and flags: -mavx512f -mavx512bw -mavx512dq (the lookup's 64-bit multiply) -mbmi -mbmi2
 * -mlzcnt on x86-64 (native; CPU checked by arch/dispatch.c); elsewhere compiled through SIMDe
 * emulation for tests (never auto-chosen).
 * Specification: kernel/pretok_split.c (tkm_pretok_split_<family>). The walk is shared
 * (arch/generic/split_walk.h); this file supplies the 64-byte classifier (and the lookup).
 * Memory contract: reads exactly s[pos..pos+64) when 64 bytes remain, else a zero-padded stack
 * copy of the tail; never reads past s + n.
 *
 * Design notes: one 64-byte load, unsigned range compares straight into k-masks (no movemask).
 * On the development machine (AMD EPYC, Zen 4 class) it measured within noise of AVX2: the
 * classification is a small share of the time per piece (lookup dominates, see kernel/count.c,
 * which is why this kernel now also does the lookup: lookup_avx512.h).
 */
#include <simde/x86/avx512.h>

#include "../arch.h"
#define TKM_KISA avx512
#define TKM_KLOOKUP TKM_KNAME(lookup)
#define TKM_KVALIDATE TKM_KNAME(utf8_first_invalid)
#include "../generic/kernel_names.h"

#if defined(TKM_ARCH_NATIVE) && (!defined(SIMDE_X86_AVX512BW_NATIVE) || !defined(SIMDE_X86_AVX512DQ_NATIVE))
#error "split_avx512.c must be compiled with -mavx512f -mavx512bw -mavx512dq to run natively"
#endif

#include "../generic/split_types.h"

static inline simde__mmask64 tkm_range512(simde__m512i x, uint8_t lo, uint8_t hi) {
    return simde_mm512_cmple_epu8_mask(simde_mm512_sub_epi8(x, simde_mm512_set1_epi8((char)lo)),
                                       simde_mm512_set1_epi8((char)(hi - lo)));
}
static inline simde__mmask64 tkm_eq512(simde__m512i x, uint8_t c) {
    return simde_mm512_cmpeq_epi8_mask(x, simde_mm512_set1_epi8((char)c));
}

static inline void tkm_classify64(const uint8_t *p, tkm_cls *c) {
    simde__m512i x = simde_mm512_loadu_si512((const void *)p);
    c->lo = tkm_range512(x, 'a', 'z');
    c->up = tkm_range512(x, 'A', 'Z');
    c->dg = tkm_range512(x, '0', '9');
    c->ws = tkm_range512(x, 0x09, 0x0D) | tkm_eq512(x, ' ');
    c->nl = tkm_eq512(x, '\n') | tkm_eq512(x, '\r');
    c->hi = simde_mm512_movepi8_mask(x);
    c->sl = tkm_eq512(x, '/');
    c->sp = tkm_eq512(x, ' ');
    c->ap = tkm_eq512(x, '\'');
}

#include "../generic/split_walk.h"
#include "lookup_avx512.h"
#include "utf8_avx2.h"
/* The batch merge's least of 16 keys (kernel/bpe_batch.h): one 16-lane load, folded onto itself
 * (256-bit halves, then 128-bit quarters, then within 128 bits; SIMDe 0.7.4 has no
 * _mm512_reduce_min_epi32). */
static inline int32_t tkm_min16(const int32_t *K) {
    simde__m512i z = simde_mm512_loadu_si512((const void *)K);
    z = simde_mm512_min_epi32(z, simde_mm512_shuffle_i32x4(z, z, 0x4E));
    z = simde_mm512_min_epi32(z, simde_mm512_shuffle_i32x4(z, z, 0xB1));
    simde__m128i x = simde_mm512_castsi512_si128(z);
    x = simde_mm_min_epi32(x, simde_mm_shuffle_epi32(x, 0x4E));
    return simde_mm_cvtsi128_si32(simde_mm_min_epi32(x, simde_mm_shuffle_epi32(x, 0xB1)));
}
#define TKM_BPE_MIN16(K) tkm_min16(K)
/* The batch merge's pair lookup (kernel/bpe_batch.h): the eight slots from the home slot compared
 * at once into k-masks, answered by tkm_pair_probe_masks (vocab.h); see split_avx2.c for the
 * four-slot version and its measurements. */
static inline uint32_t tkm_pair_probe_v(const tkm_ranks *v, uint64_t key, size_t i) {
    const simde__m512i s = simde_mm512_loadu_si512((const void *)(v->pairs + i));
    const unsigned hb = (unsigned)simde_mm512_cmpeq_epi64_mask(simde_mm512_srli_epi64(s, 21),
                                                               simde_mm512_set1_epi64((int64_t)key));
    const unsigned eb = (unsigned)simde_mm512_cmpeq_epi64_mask(s, simde_mm512_set1_epi64(-1));
    return tkm_pair_probe_masks(v, key, i, hb, eb, 8);
}
#define TKM_BPE_PAIR_PROBE(v, key, slot) tkm_pair_probe_v(v, key, slot)
#define TKM_BPE_BATCH_NAME TKM_KNAME(bpe_batch) /* the batch merge, built with this file's flags */
#define TKM_BPE_BATCH_STATIC
#include "../../kernel/bpe_batch.h"

static int TKM_KNAME(cpu_ok)(void) {
#if defined(TKM_ARCH_NATIVE) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
#else
    return 1; /* emulated through SIMDe: runs anywhere */
#endif
}

TKM_DEFINE_KERNEL();
