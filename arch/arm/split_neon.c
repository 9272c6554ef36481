/*
 * split_neon.c - pre-tokenizer split, NEON (AArch64 Advanced SIMD) byte classification, and the
 * batch merge (kernel/bpe_batch.h) built for NEON.
 *
 * ISA and flags: baseline on aarch64 (native, chosen at compile time); on other architectures
 * compiled through SIMDe emulation so that the kernel is built and tested everywhere (never
 * auto-chosen there). Specification: kernel/pretok_split.c. The walk is shared
 * (arch/generic/split_walk.h); this file supplies the 64-byte classifier (and the merge's minimum).
 * Memory contract: reads exactly s[pos..pos+64) when 64 bytes remain, else a zero-padded stack
 * copy of the tail; never reads past s + n.
 *
 * Design notes: NEON has no movemask. Four 16-byte compare results are ANDed with the bit
 * weights 1..128 (per 8-byte half) and folded with three rounds of pairwise adds (vpaddq) into
 * one 64-bit mask - 7 instructions per class for 64 bytes. (A shift-right-narrow "nibble mask"
 * gives 4 bits per byte and would need every consumer to change; not worth it here.)
 */
#include <simde/arm/neon.h>

#include "../arch.h"
#define TKM_KISA neon
#include "../generic/kernel_names.h"
#include "../generic/split_types.h"

#if defined(TKM_ARCH_NATIVE) && !defined(SIMDE_ARM_NEON_A64V8_NATIVE)
#error "split_neon.c must be compiled for aarch64 to run natively"
#endif

static inline uint64_t tkm_neon_mask64(simde_uint8x16_t a, simde_uint8x16_t b, simde_uint8x16_t c,
                                       simde_uint8x16_t d) {
    static const uint8_t w[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const simde_uint8x16_t bits = simde_vld1q_u8(w);
    simde_uint8x16_t s0 = simde_vpaddq_u8(simde_vandq_u8(a, bits), simde_vandq_u8(b, bits));
    simde_uint8x16_t s1 = simde_vpaddq_u8(simde_vandq_u8(c, bits), simde_vandq_u8(d, bits));
    s0 = simde_vpaddq_u8(s0, s1);
    s0 = simde_vpaddq_u8(s0, s0);
    return simde_vgetq_lane_u64(simde_vreinterpretq_u64_u8(s0), 0);
}

static inline simde_uint8x16_t tkm_nrange(simde_uint8x16_t x, uint8_t lo, uint8_t hi) {
    return simde_vcleq_u8(simde_vsubq_u8(x, simde_vdupq_n_u8(lo)), simde_vdupq_n_u8((uint8_t)(hi - lo)));
}
static inline simde_uint8x16_t tkm_neq(simde_uint8x16_t x, uint8_t c) { return simde_vceqq_u8(x, simde_vdupq_n_u8(c)); }

static inline void tkm_classify64(const uint8_t *p, tkm_cls *c) {
    simde_uint8x16_t v[4];
    for (int i = 0; i < 4; i++) v[i] = simde_vld1q_u8(p + 16 * i);
    simde_uint8x16_t r[4];
#define TKM_NEON_MASK(dst, EXPR)                                                                     \
    do {                                                                                             \
        for (int i = 0; i < 4; i++) {                                                                \
            simde_uint8x16_t x = v[i];                                                               \
            r[i] = (EXPR);                                                                           \
        }                                                                                            \
        dst = tkm_neon_mask64(r[0], r[1], r[2], r[3]);                                               \
    } while (0)
    TKM_NEON_MASK(c->lo, tkm_nrange(x, 'a', 'z'));
    TKM_NEON_MASK(c->up, tkm_nrange(x, 'A', 'Z'));
    TKM_NEON_MASK(c->dg, tkm_nrange(x, '0', '9'));
    TKM_NEON_MASK(c->ws, simde_vorrq_u8(tkm_nrange(x, 0x09, 0x0D), tkm_neq(x, ' ')));
    TKM_NEON_MASK(c->nl, simde_vorrq_u8(tkm_neq(x, '\n'), tkm_neq(x, '\r')));
    TKM_NEON_MASK(c->hi, simde_vcgeq_u8(x, simde_vdupq_n_u8(0x80)));
    TKM_NEON_MASK(c->sl, tkm_neq(x, '/'));
    TKM_NEON_MASK(c->sp, tkm_neq(x, ' '));
    TKM_NEON_MASK(c->ap, tkm_neq(x, '\''));
#undef TKM_NEON_MASK
}

#include "../generic/split_walk.h"
/* The batch merge's least of 16 keys (kernel/bpe_batch.h): four 4-lane vectors, reduced. */
static inline int32_t tkm_min16(const int32_t *K) {
    const simde_int32x4_t a = simde_vminq_s32(simde_vld1q_s32(K), simde_vld1q_s32(K + 4));
    const simde_int32x4_t b = simde_vminq_s32(simde_vld1q_s32(K + 8), simde_vld1q_s32(K + 12));
    return simde_vminvq_s32(simde_vminq_s32(a, b));
}
#define TKM_BPE_MIN16(K) tkm_min16(K)
#define TKM_BPE_BATCH_NAME TKM_KNAME(bpe_batch) /* the batch merge, built with this file's flags */
#define TKM_BPE_BATCH_STATIC
#include "../../kernel/bpe_batch.h"

static int TKM_KNAME(cpu_ok)(void) { return 1; /* baseline on aarch64; SIMDe elsewhere */ }

TKM_DEFINE_KERNEL();
