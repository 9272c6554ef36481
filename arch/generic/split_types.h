/*
 * split_types.h - byte classes and window masks shared by the SIMD split kernels (internal).
 * See split_walk.h for how they are used.
 */
#ifndef TKM_SPLIT_TYPES_H
#define TKM_SPLIT_TYPES_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../kernel/pretok.h"

typedef struct tkm_cls {
    uint64_t lo, up, dg, ws, nl, hi, sl, sp, ap;
} tkm_cls;

/* ASCII byte classes (bytes >= 0x80: HI only). tests/test_kernels.c proves them equal to the
 * Unicode 16 properties of U+0000..U+007F. */
enum { TKM_A_LO = 1, TKM_A_UP = 2, TKM_A_DG = 4, TKM_A_WS = 8, TKM_A_NL = 16, TKM_A_HI = 32, TKM_A_PU = 64 };
#define TKM_A_LETTER (TKM_A_LO | TKM_A_UP)

/* The class of byte c as a constant expression; tkm_acls() reads it from a 256-byte table built
 * from it at compile time (a chain of compares per byte was 3% of all instructions). */
#define TKM_ACLS_OF(c)                                                                               \
    ((c) >= 0x80                                  ? TKM_A_HI                                         \
     : ((c) >= 'a' && (c) <= 'z')                 ? TKM_A_LO                                         \
     : ((c) >= 'A' && (c) <= 'Z')                 ? TKM_A_UP                                         \
     : ((c) >= '0' && (c) <= '9')                 ? TKM_A_DG                                         \
     : ((c) == '\r' || (c) == '\n')               ? (TKM_A_WS | TKM_A_NL)                            \
     : ((c) == ' ' || ((c) >= 0x09 && (c) <= 0x0D)) ? TKM_A_WS                                         \
                                                  : TKM_A_PU) /* ASCII [^\s\p{L}\p{N}] */
#define TKM_ACLS4(b) TKM_ACLS_OF(b), TKM_ACLS_OF((b) + 1), TKM_ACLS_OF((b) + 2), TKM_ACLS_OF((b) + 3)
#define TKM_ACLS16(b) TKM_ACLS4(b), TKM_ACLS4((b) + 4), TKM_ACLS4((b) + 8), TKM_ACLS4((b) + 12)
#define TKM_ACLS64(b) TKM_ACLS16(b), TKM_ACLS16((b) + 16), TKM_ACLS16((b) + 32), TKM_ACLS16((b) + 48)
static const uint8_t tkm_acls_table[256] = {TKM_ACLS64(0), TKM_ACLS64(64), TKM_ACLS64(128), TKM_ACLS64(192)};

static inline unsigned tkm_acls(uint8_t c) { return tkm_acls_table[c]; }

#define TKM_UNDEC ((size_t)-1)

/* Masks of one window, already cut to the text: bits at or past lim - w are zero. */
typedef struct tkm_win {
    size_t w, lim;
    uint64_t lo, up, dg, ws, nl, hi, pu, letter, tail_o200k, sp, ap;
} tkm_win;

#endif /* TKM_SPLIT_TYPES_H */
