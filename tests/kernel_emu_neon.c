/* kernel_emu_neon.c - the neon split kernel compiled a second time, SIMDe-emulated (no native SIMD
 * instructions, SIMDE_NO_NATIVE) and under other names (tkm_kernel_neon_emu), for
 * tests/test_kernels.c: proves the kernel's logic on any CPU, including one that cannot run it. */
#define TKM_EMULATED_COPY 1
#define SIMDE_NO_NATIVE 1
#include "../arch/arm/split_neon.c"
