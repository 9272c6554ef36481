/*
 * dispatch.c - the one place that knows every kernel: best-first table, CPU probe, override.
 *
 * Design notes.
 * - Dispatch happens once per handle, never per piece: tkm_encoding_open copies the chosen
 *   kernel's split and lookup functions into the handle, so the hot path reads no globals.
 * - The probe runs once, lazily; the result is published with a C11 atomic (a race only makes two
 *   threads compute the same answer).
 * - x86-64: AVX-512 (F+BW+DQ), then AVX2, chosen at run time by CPUID. AArch64: NEON, chosen at
 *   compile time (it is baseline there). The other architecture's kernels are compiled through
 *   SIMDe emulation and listed as not native: tests and TOKMETER_KERNEL can use them, automatic
 *   choice never does.
 * - TOKMETER_KERNEL=scalar|avx2|avx512|neon forces a kernel for every handle opened afterwards.
 *   A name that is unknown or that this CPU cannot run makes tkm_encoding_open fail with
 *   TKM_ERR_UNSUPPORTED: a forced kernel that silently did not apply would make benchmarks and
 *   bug reports lie.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "../kernel/bpe.h" /* tkm_bpe_count_batch: the scalar kernel's batch merge */

extern const tkm_kernel tkm_kernel_avx512;
extern const tkm_kernel tkm_kernel_avx2;
extern const tkm_kernel tkm_kernel_neon;

static int tkm_scalar_cpu_ok(void) { return 1; }

const tkm_kernel tkm_kernel_scalar = {
    "scalar", 1, tkm_scalar_cpu_ok, {NULL, tkm_pretok_split_gpt2, tkm_pretok_split_cl100k, tkm_pretok_split_o200k},
    NULL, tkm_bpe_count_batch, tkm_utf8_first_invalid};

static const tkm_kernel *const tkm_kernels[] = {
#if defined(__aarch64__)
    &tkm_kernel_neon, &tkm_kernel_avx512, &tkm_kernel_avx2,
#else
    &tkm_kernel_avx512, &tkm_kernel_avx2, &tkm_kernel_neon,
#endif
    &tkm_kernel_scalar, NULL};

const tkm_kernel *const *tkm_arch_kernels(void) { return tkm_kernels; }

const tkm_kernel *tkm_arch_find(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; tkm_kernels[i]; i++)
        if (strcmp(tkm_kernels[i]->name, name) == 0) return tkm_kernels[i]->cpu_ok() ? tkm_kernels[i] : NULL;
    return NULL;
}

/* Sentinel for "TOKMETER_KERNEL names nothing usable". */
static const tkm_kernel tkm_kernel_refused = {"refused", 0, NULL, {NULL, NULL, NULL, NULL}, NULL, NULL, NULL};
static _Atomic(const tkm_kernel *) tkm_chosen;

static const tkm_kernel *tkm_probe(void) {
    const char *force = getenv("TOKMETER_KERNEL");
    if (force && *force) {
        const tkm_kernel *k = tkm_arch_find(force);
        return k ? k : &tkm_kernel_refused;
    }
    for (size_t i = 0; tkm_kernels[i]; i++)
        if (tkm_kernels[i]->native && tkm_kernels[i]->cpu_ok()) return tkm_kernels[i];
    return &tkm_kernel_scalar;
}

const tkm_kernel *tkm_arch_default(void) {
    const tkm_kernel *k = atomic_load_explicit(&tkm_chosen, memory_order_acquire);
    if (!k) {
        k = tkm_probe();
        atomic_store_explicit(&tkm_chosen, k, memory_order_release);
    }
    return k == &tkm_kernel_refused ? NULL : k;
}

int tkm_arch_select(int pattern, const char *force, tkm_split_fn *fn, tkm_lookup_fn *lookup, tkm_bpe_batch_fn *batch,
                    tkm_validate_fn *validate, const char **name) {
    const tkm_kernel *k = force ? tkm_arch_find(force) : tkm_arch_default();
    if (!k || pattern < 1 || pattern > 3) return 0;
    *fn = k->split[pattern];
    *lookup = k->lookup;
    *batch = k->bpe_batch;
    *validate = k->validate;
    *name = k->name;
    return 1;
}
