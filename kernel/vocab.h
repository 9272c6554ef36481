/*
 * vocab.h - mergeable-rank tables: bytes <-> rank (internal).
 *
 * A tkm_ranks table is either compiled into the library (vocab_<name>.c, generated at build time
 * by tools/vocabc.c from vocab/<name>.tiktoken) or built at run time by tkm_ranks_build() from a
 * user-supplied .tiktoken file. Both go through the same builder (vocab_build.c), so the layout
 * and hash are identical by construction.
 *
 * Layout: token bytes of rank r are bytes[offsets[r] .. offsets[r+1]); a rank absent from the file
 * (a gap) has an empty range. slots[] is an open-addressing table (linear probing, power-of-two
 * size, load <= 1/2) of ranks keyed by XXH3_64bits(token bytes); TKM_RANK_NONE marks empty slots.
 */
#ifndef TKM_VOCAB_H
#define TKM_VOCAB_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL /* keep xxHash private to each translation unit: no symbol clashes */
#endif
#include <xxhash.h>

#define TKM_RANK_NONE 0xFFFFFFFFu

typedef struct tkm_ranks {
    const uint8_t *bytes;    /* all token bytes, concatenated in rank order           */
    const uint32_t *offsets; /* n_ranks + 1 entries                                    */
    const uint32_t *slots;   /* mask + 1 entries: rank or TKM_RANK_NONE                */
    uint32_t n_ranks;        /* max rank + 1 (gaps included)                           */
    uint32_t n_tokens;       /* ranks actually present                                 */
    uint32_t mask;           /* slot count - 1                                         */
    uint32_t max_len;        /* longest token in bytes                                 */
    uint8_t sha256[32];      /* of the canonical .tiktoken file                        */
} tkm_ranks;

static inline uint64_t tkm_vocab_hash(const uint8_t *p, size_t n) { return XXH3_64bits(p, n); }

/* Rank of the token with bytes p[0..n), or TKM_RANK_NONE. */
static inline uint32_t tkm_ranks_find(const tkm_ranks *v, const uint8_t *p, size_t n) {
    if (n == 0 || n > v->max_len) return TKM_RANK_NONE;
    uint32_t i = (uint32_t)tkm_vocab_hash(p, n) & v->mask;
    for (;;) {
        uint32_t r = v->slots[i];
        if (r == TKM_RANK_NONE) return TKM_RANK_NONE;
        uint32_t a = v->offsets[r], b = v->offsets[r + 1];
        if (b - a == n && memcmp(v->bytes + a, p, n) == 0) return r;
        i = (i + 1) & v->mask;
    }
}

/* Bytes of rank r (r < n_ranks); *n = 0 for a gap. */
static inline const uint8_t *tkm_ranks_bytes(const tkm_ranks *v, uint32_t r, size_t *n) {
    *n = v->offsets[r + 1] - v->offsets[r];
    return v->bytes + v->offsets[r];
}

/*
 * Parse a .tiktoken file (lines "BASE64 RANK\n", also accepting "\r\n" and a missing final
 * newline) and build the table into heap memory owned by *out (free with tkm_ranks_destroy).
 * Returns 0 on success, or a negative code: -1 out of memory, -2 malformed (bad base64, bad rank,
 * duplicate rank, duplicate bytes, empty token, rank >= 2^31). err_line (may be NULL) gets the
 * 1-based line of a malformed entry. The sha256 is computed over the file bytes as given.
 * Strictness (details in vocab_build.c): exactly one space between BASE64 and RANK, canonical
 * padded base64, no blank lines, at least one entry, max rank < n_tokens + 2^20 (else -2). On
 * failure *out is zeroed. alloc/dealloc must not be NULL (else -1); one block is allocated.
 */
int tkm_ranks_build(const void *data, size_t len, void *(*alloc)(void *, size_t), void (*dealloc)(void *, void *),
                    void *opaque, tkm_ranks *out, size_t *err_line);
void tkm_ranks_destroy(tkm_ranks *v, void (*dealloc)(void *, void *), void *opaque);

/* SHA-256 (FIPS 180-4), used for vocabulary identity. */
void tkm_sha256(const void *data, size_t len, uint8_t out[32]);

/* One special token: text[0..len) (also NUL-terminated) has id. */
typedef struct tkm_special {
    const char *text;
    uint32_t len;
    uint32_t id;
} tkm_special;

/* The special tokens of an encoding, in the order of vocab/<name>.specials (two texts may share an
 * id: o200k_harmony's <|reserved_200018|> and <|endofprompt|>). n_vocab = max(ranks' n_ranks,
 * max special id + 1), checked against tiktoken's value when the table is generated. */
typedef struct tkm_specials {
    const tkm_special *items;
    uint32_t count;
    uint32_t n_vocab;
} tkm_specials;

/* Compiled-in tables (generated at build time by tools/vocabc.c from vocab/, see cmake/vocab.cmake).
 * p50k_edit uses tkm_ranks_p50k_base; o200k_harmony uses tkm_ranks_o200k_base. */
extern const tkm_ranks tkm_ranks_r50k_base;
extern const tkm_ranks tkm_ranks_p50k_base;
extern const tkm_ranks tkm_ranks_cl100k_base;
extern const tkm_ranks tkm_ranks_o200k_base;
extern const tkm_specials tkm_specials_r50k_base;
extern const tkm_specials tkm_specials_p50k_base;
extern const tkm_specials tkm_specials_p50k_edit;
extern const tkm_specials tkm_specials_cl100k_base;
extern const tkm_specials tkm_specials_o200k_base;
extern const tkm_specials tkm_specials_o200k_harmony;

#endif
