/*
 * arch.h - the CPU-kernel interface (internal). Only arch/dispatch.c names specific kernels.
 *
 * The dispatched surface is deliberately narrow: split a buffer into pre-tokenizer pieces. A
 * kernel writes the END offsets of consecutive pieces starting at `pos`, at most `cap` of them,
 * and returns how many it wrote (>= 1 when pos < n). Every piece must equal the one the scalar
 * specification (kernel/pretok_<family>.c, tkm_pretok_next_<family>) gives at the same position;
 * tests/test_kernels.c and the fuzz target prove it, block boundaries and all. A kernel may also
 * supply the whole-piece lookup of a batch of pieces (tkm_lookup_fn, kernel/pretok.h; the AVX-512
 * and AVX2 kernels do). Every kernel builds its own copy of the batch merge of short pieces
 * (kernel/bpe_batch.h) with its vector minimum and, on x86, its vector pair probe; the merge of
 * single and long pieces stays scalar in kernel/bpe.c.
 */
#ifndef TKM_ARCH_H
#define TKM_ARCH_H
#include <stddef.h>
#include <stdint.h>

#include "../kernel/pretok.h" /* tkm_split_fn, tkm_arch_select */

/* For a classifier's vector helpers: a SIMDe-emulated copy (tests/kernel_emu_*.c, no -mavx2) that
 * calls one out of line passes 32-byte vectors by an ABI GCC warns about (-Wpsabi). */
#if defined(__GNUC__) || defined(__clang__)
#define TKM_KINLINE static inline __attribute__((always_inline))
#else
#define TKM_KINLINE static inline
#endif

typedef struct tkm_kernel {
    const char *name;      /* "scalar", "avx2", "avx512", "neon" */
    int native;            /* compiled for this architecture's real instructions (not SIMDe-emulated) */
    int (*cpu_ok)(void);   /* can this CPU run it? */
    tkm_split_fn split[4]; /* by tkm_pattern: [1] gpt2, [2] cl100k, [3] o200k; [0] unused */
    tkm_lookup_fn lookup;  /* whole-piece lookup of a batch (kernel/pretok.h), or NULL: scalar */
    tkm_bpe_batch_fn bpe_batch; /* the batch merge built for this kernel (kernel/bpe_batch.h) */
    tkm_validate_fn validate;   /* where a text stops being well-formed UTF-8 (kernel/pretok.h) */
} tkm_kernel;

/* All kernels of this build, best first; NULL-terminated. Emulated kernels (SIMDe on the other
 * architecture) are listed for tests and forcing, never chosen automatically. */
const tkm_kernel *const *tkm_arch_kernels(void);

/* The kernel new handles use: TOKMETER_KERNEL if set to a usable kernel's name, else the best
 * native kernel this CPU supports. Probed once (thread-safe). NULL if TOKMETER_KERNEL names a
 * kernel that is unknown or that this CPU cannot run. */
const tkm_kernel *tkm_arch_default(void);

/* A kernel by name that this CPU can run, or NULL. */
const tkm_kernel *tkm_arch_find(const char *name);

/* The scalar kernel: the specification. */
extern const tkm_kernel tkm_kernel_scalar;

#endif
