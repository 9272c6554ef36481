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
    uint64_t lo, up, dg, ws, nl, hi, sl;
} tkm_cls;

/* ASCII byte classes (bytes >= 0x80: HI only). tests/test_kernels.c proves them equal to the
 * Unicode 16 properties of U+0000..U+007F. */
enum { TKM_A_LO = 1, TKM_A_UP = 2, TKM_A_DG = 4, TKM_A_WS = 8, TKM_A_NL = 16, TKM_A_HI = 32, TKM_A_PU = 64 };
#define TKM_A_LETTER (TKM_A_LO | TKM_A_UP)

static inline unsigned tkm_acls(uint8_t c) {
    if (c >= 0x80) return TKM_A_HI;
    if (c >= 'a' && c <= 'z') return TKM_A_LO;
    if (c >= 'A' && c <= 'Z') return TKM_A_UP;
    if (c >= '0' && c <= '9') return TKM_A_DG;
    if (c == '\r' || c == '\n') return TKM_A_WS | TKM_A_NL;
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return TKM_A_WS;
    return TKM_A_PU; /* [^\s\p{L}\p{N}] in ASCII: punctuation, symbols, controls */
}

#define TKM_UNDEC ((size_t)-1)

/* Masks of one window, already cut to the text: bits at or past lim - w are zero. */
typedef struct tkm_win {
    size_t w, lim;
    uint64_t lo, up, dg, ws, nl, hi, pu, letter, tail_o200k;
} tkm_win;

#endif /* TKM_SPLIT_TYPES_H */
