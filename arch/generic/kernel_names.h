/*
 * kernel_names.h - the names of one arch/ kernel file, and its kernel object (internal).
 *
 * The including file defines TKM_KISA (avx2, avx512, neon) and includes this right after
 * arch.h. TKM_EMULATED_COPY (tests/kernel_emu_*.c) builds a second, SIMDe-emulated copy under
 * other names, so that the kernel's logic is proven on CPUs that cannot run it: it is never
 * native, whatever flags the file was given. After split_walk.h and its TKM_KNAME(cpu_ok), the
 * file ends with TKM_DEFINE_KERNEL().
 */
#define TKM_KCAT3(a, b, c) a##b##c
#define TKM_KXCAT3(a, b, c) TKM_KCAT3(a, b, c)
#define TKM_KSTR(x) #x
#define TKM_KXSTR(x) TKM_KSTR(x)

#ifdef TKM_EMULATED_COPY
#undef TKM_ARCH_NATIVE
#define TKM_KNAME(x) TKM_KXCAT3(x, _, TKM_KXCAT3(TKM_KISA, _, emu))
#define TKM_KOBJ TKM_KXCAT3(tkm_kernel_, TKM_KISA, _emu)
#define TKM_KLABEL TKM_KXSTR(TKM_KISA) "-emulated"
#else
#define TKM_KNAME(x) TKM_KXCAT3(x, _, TKM_KISA)
#define TKM_KOBJ TKM_KXCAT3(tkm_kernel_, TKM_KISA, )
#define TKM_KLABEL TKM_KXSTR(TKM_KISA)
#endif

#ifdef TKM_ARCH_NATIVE
#define TKM_KNATIVE 1
#else
#define TKM_KNATIVE 0
#endif

/* A file with a lookup kernel defines TKM_KLOOKUP as its name before TKM_DEFINE_KERNEL(). Every
 * kernel file includes kernel/bpe_batch.h after kernel_names.h (it defines TKM_KNAME(bpe_batch)). */
#define TKM_DEFINE_KERNEL()                                                                          \
    const tkm_kernel TKM_KOBJ = {TKM_KLABEL,                                                         \
                                 TKM_KNATIVE,                                                        \
                                 TKM_KNAME(cpu_ok),                                                  \
                                 {NULL, TKM_KNAME(split_gpt2), TKM_KNAME(split_cl100k), TKM_KNAME(split_o200k)}, \
                                 TKM_KLOOKUP,                                                        \
                                 TKM_KNAME(bpe_batch),                                               \
                                 TKM_KVALIDATE}
#ifndef TKM_KLOOKUP
#define TKM_KLOOKUP NULL
#endif
#ifndef TKM_KVALIDATE
#define TKM_KVALIDATE tkm_utf8_first_invalid /* kernel/count.c */
#endif
