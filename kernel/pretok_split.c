/*
 * pretok_split.c - the scalar kernel's split: consecutive pieces from the hand-written scanners.
 *
 * This is the specification every kernel in arch/ must reproduce (see arch/arch.h for the
 * interface): the same ends, in the same order, one scanner call per piece.
 */
#include "pretok.h"

#define TKM_SCALAR_SPLIT(family)                                                                     \
    size_t tkm_pretok_split_##family(const uint8_t *s, size_t pos, size_t n, size_t *ends, size_t cap) { \
        size_t m = 0;                                                                                \
        while (pos < n && m < cap) {                                                                 \
            pos = tkm_pretok_next_##family(s, pos, n);                                               \
            ends[m++] = pos;                                                                         \
        }                                                                                            \
        return m;                                                                                    \
    }

TKM_SCALAR_SPLIT(gpt2)
TKM_SCALAR_SPLIT(cl100k)
TKM_SCALAR_SPLIT(o200k)
