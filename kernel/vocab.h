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
 * It holds every token and is the reference lookup (tkm_ranks_find_slow).
 *
 * fast[] is the hot-path lookup for tokens of at most TKM_FAST_MAX (12) bytes: open addressing
 * with linear probing over 16-byte slots that hold the token's bytes inline, so a lookup is one
 * multiply-hash and (nearly always) one cache line, with no pointer chase and no memcmp call.
 *
 * Design notes (measured on o200k_base, English corpus, one core): the XXH3 table costs three
 * dependent cache misses per piece (slot -> offsets -> bytes) plus a memcmp call; with it, lookup
 * was ~70% of the counting profile (emit_piece + tkm_ranks_find + memcmp). The inline-key table
 * trades 4 MiB of table for one miss. A key is the token's bytes read as (k0, k1) with
 * overlapping loads, which is canonical for a given length:
 *   n in [8,12]: k0 = bytes[0..8), k1 = bytes[n-4..n)
 *   n in [4, 8): k0 = bytes[0..4) | bytes[n-4..n) << 32, k1 = 0
 *   n in [1, 4): k0 = b[0] | b[n/2] << 8 | b[n-1] << 16, k1 = 0
 * Slot word 0 = k0; word 1 = k1 | rank << 32 | n << 59 (rank < 2^27). Empty slot: word 1 == 0 (a
 * token has n >= 1). Loads are little-endian on every host (bswap on big-endian), so a table
 * generated on one host is valid on another. A vocabulary with a short token of rank >= 2^27
 * gets no fast table (fast == NULL) and uses the slow one.
 *
 * Measured and rejected (cachegrind, jane-eyre.txt, o200k, last level set to a 512 KiB L2; and
 * wall/CPU time on the shared development machine):
 *  - load 3/4 (4 MiB for o200k) instead of 1/2 (8 MiB): +5% instructions, +24% D1 and +31% L2
 *    misses - misses, frequent in BPE's pair lookups, walk long probe chains at 3/4.
 *  - a 256 KiB "hot" table of the lowest ranks probed first (to stay in L2): only 12% fewer L2
 *    misses, more instructions, and slower in wall time; removed.
 *  - prefetching every piece's slot one batch ahead (kernel/count.c): no gain; removed.
 *  - a length-independent key (k0 = bytes[0..8), k1 = bytes[8..n), zero-masked, from two 8-byte
 *    loads where 16 bytes can be read; 1-byte pieces through the table too, or not): cachegrind
 *    --branch-sim counted 20% fewer mispredicted branches on English, but 3-7% more
 *    instructions, and interleaved CPU-time runs showed no difference; not kept.
 * What did help BPE: pair2[], a direct table of the 2-byte tokens (256 KiB). A merge's first
 * round looks up every adjacent byte pair; those few hundred distinct pairs of a text stay in L1
 * and L2 there, where each was a miss in the 8 MiB table (bench/tkm_micro: merge of English
 * pieces that are not one token, o200k, see the commit).
 *  - a 2^21-bit filter (256 KiB, one bit per short token's hash) in front of the table, to turn
 *    failed BPE pair lookups into an L2 hit: +3% L2 misses on English and Russian text (the
 *    filter's own lines compete for L2; failed lookups are not the dominant cost); removed.
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
    const uint64_t *fast;    /* 2 * (fast_mask + 1) words, or NULL                     */
    uint32_t fast_mask;      /* fast slot count - 1                                    */
    uint32_t fast_shift;     /* 64 - log2(fast slot count)                             */
    const uint32_t *pair2;   /* 65536 entries: rank of the 2-byte token b0 | b1 << 8, or NONE */
    const uint32_t *byte_ids; /* 256 entries: rank of each single byte; NULL with pairs      */
    const uint64_t *pairs;   /* canonical splits by id pair (see below), or NULL               */
    uint32_t pairs_mask;     /* pair slot count - 1                                            */
    uint32_t pairs_shift;    /* 64 - log2(pair slot count)                                     */
    uint32_t n_pairs;        /* canonical splits held (tokens of >= 2 bytes that BPE reaches)  */
    const uint64_t *inner2;  /* 65536 bits: b0 | b1 << 8 occurs inside some token; NULL with pairs */
} tkm_ranks;

#define TKM_FAST_MAX 12u

/*
 * pairs[]: the merge table of the id path of kernel/bpe.c. For every token t of two or more bytes
 * that BPE on t's own bytes merges into t (nearly all of them; the others can never be formed),
 * its canonical split (a, b) - the two parts of that last merge - maps to t. Open addressing,
 * linear probing, load <= 1/2, 8-byte slots: a << 42 | b << 21 | t; empty = all ones. Ids must
 * be below TKM_PAIR_ID_LIMIT and all 256 bytes must be tokens, else pairs == NULL (the bytes
 * path is used). Built by vocab_build.c with the bytes path of bpe.c (tkm_bpe_encode_bytes).
 */
#define TKM_PAIR_ID_LIMIT ((1u << 21) - 1u)

/* pairs[] holds pairs_mask + 1 + TKM_PAIR_TAIL words: after the table, its first TKM_PAIR_TAIL
 * slots again, so that the eight slots from any home slot on can be read in one go without
 * wrapping (the kernels' vector probes, arch/x86). Lookups stop at the first empty slot or at the
 * key as before, and a key's chain never needs the copies to be told apart from the originals. */
#define TKM_PAIR_TAIL 7u

/*
 * inner2[]: one bit per byte pair, set iff the two bytes occur next to each other inside some
 * token (o200k_base: 10439 of the 65536 pairs). Where a piece's bytes p[i-1] p[i] are not such a
 * pair, no part can ever span i (a part is a token or one byte, and would contain them), and no
 * pair of parts across i is a token, so BPE of the piece is BPE of p[0..i) followed by BPE of
 * p[i..n): tkm_bpe_cut_at(), tkm_bpe_segment_end(). Built with pairs[]: emoji floods cut at every code point, and about
 * one byte in ten of Chinese text is such a cut under o200k_base.
 */
static inline int tkm_bpe_cut_at(const tkm_ranks *v, const uint8_t *p, size_t i) {
    uint32_t b = p[i - 1] | (uint32_t)p[i] << 8;
    return !((v->inner2[b >> 6] >> (b & 63u)) & 1u);
}

/* End of the segment of p[0..n) that starts at a < n: the first cut after a, or n. */
static inline size_t tkm_bpe_segment_end(const tkm_ranks *v, const uint8_t *p, size_t a, size_t n) {
    size_t i = a + 1;
    while (i < n && !tkm_bpe_cut_at(v, p, i)) i++;
    return i;
}
#define TKM_PAIR_EMPTY (~(uint64_t)0)

static inline uint64_t tkm_pair_hash(uint64_t key) { return key * 0x9E3779B97F4A7C15ull; }

/* The slot where the lookup of pair key (a << 21 | b) starts. */
static inline size_t tkm_pair_slot(const tkm_ranks *v, uint64_t key) {
    return (size_t)(tkm_pair_hash(key) >> v->pairs_shift);
}

/* tkm_pair_find of pair key `key` from its slot i = tkm_pair_slot(v, key) (bpe.c's batch computes
 * the slot once, for a prefetch, and probes later). */
static inline uint32_t tkm_pair_probe(const tkm_ranks *v, uint64_t key, size_t i) {
    for (;;) {
        uint64_t s = v->pairs[i];
        if (s >> 21 == key) return (uint32_t)s & TKM_PAIR_ID_LIMIT;
        if (s == TKM_PAIR_EMPTY) return TKM_RANK_NONE;
        i = (i + 1) & v->pairs_mask;
    }
}

/* The answer of a probe that compared the w <= 8 slots from slot i at once (the kernels' vector
 * probes, arch/x86; pairs[] has its tail copy, so they never wrap): bit j of hit is set if slot
 * i + j holds key, bit j of empty if it is empty. A key lies before the first empty slot of its
 * chain (no slot is ever emptied), so a match among them is the answer, and without one an empty
 * slot means there is none; only w other keys in a row go on to the loop. */
static inline uint32_t tkm_pair_probe_masks(const tkm_ranks *v, uint64_t key, size_t i, unsigned hit, unsigned empty,
                                            unsigned w) {
    if (__builtin_expect(!(hit | empty), 0)) return tkm_pair_probe(v, key, (i + w) & v->pairs_mask);
    const uint32_t r = (uint32_t)v->pairs[i + (unsigned)__builtin_ctz(hit | 1u << (w - 1))] & TKM_PAIR_ID_LIMIT;
    return r | (0u - (uint32_t)(hit == 0)); /* no match: all ones, TKM_RANK_NONE */
}

/* The token merged from adjacent parts a and b, or TKM_RANK_NONE (v->pairs != NULL). */
static inline uint32_t tkm_pair_find(const tkm_ranks *v, uint32_t a, uint32_t b) {
    const uint64_t key = (uint64_t)a << 21 | b;
    return tkm_pair_probe(v, key, tkm_pair_slot(v, key));
}
#define TKM_FAST_RANK_LIMIT (1u << 27)

static inline uint64_t tkm_vocab_hash(const uint8_t *p, size_t n) { return XXH3_64bits(p, n); }

static inline uint64_t tkm_load64le(const uint8_t *p) {
    uint64_t x;
    memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}
static inline uint32_t tkm_load32le(const uint8_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap32(x);
#endif
    return x;
}

/* The fast-table key of p[0..n), 1 <= n <= TKM_FAST_MAX (see the layout notes above). */
static inline void tkm_fast_key(const uint8_t *p, size_t n, uint64_t *k0, uint64_t *k1) {
    if (n >= 8) {
        *k0 = tkm_load64le(p);
        *k1 = tkm_load32le(p + n - 4);
    } else if (n >= 4) {
        *k0 = (uint64_t)tkm_load32le(p) | (uint64_t)tkm_load32le(p + n - 4) << 32;
        *k1 = 0;
    } else {
        *k0 = (uint64_t)p[0] | (uint64_t)p[n >> 1] << 8 | (uint64_t)p[n - 1] << 16;
        *k1 = 0;
    }
}

/* One multiply; the index is taken from the top bits, which depend on every key bit. (A second
 * xor-shift-multiply round cost 2.7% of all instructions and changed no miss count.) */
static inline uint64_t tkm_fast_hash(uint64_t k0, uint64_t k1, size_t n) {
    return (k0 ^ (k1 << 7) ^ ((uint64_t)n << 56)) * 0x9E3779B97F4A7C15ull;
}

/* tkm_ranks_find_slow of p[0..n), 1 <= n <= max_len, from its slot i = tkm_vocab_hash(p, n) & mask
 * (count.c computes the slots of a batch first, to prefetch them). */
static inline uint32_t tkm_ranks_find_slow_at(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t i) {
    for (;;) {
        uint32_t r = v->slots[i];
        if (r == TKM_RANK_NONE) return TKM_RANK_NONE;
        uint32_t a = v->offsets[r], b = v->offsets[r + 1];
        if (b - a == n && memcmp(v->bytes + a, p, n) == 0) return r;
        i = (i + 1) & v->mask;
    }
}

/* Rank of the token with bytes p[0..n), or TKM_RANK_NONE: the reference lookup (XXH3 table). */
static inline uint32_t tkm_ranks_find_slow(const tkm_ranks *v, const uint8_t *p, size_t n) {
    if (n == 0 || n > v->max_len) return TKM_RANK_NONE;
    return tkm_ranks_find_slow_at(v, p, n, (uint32_t)tkm_vocab_hash(p, n) & v->mask);
}

/* The fast-table slot where the lookup of key (k0, k1) of n bytes starts (v->fast != NULL). */
static inline size_t tkm_fast_slot(const tkm_ranks *v, uint64_t k0, uint64_t k1, size_t n) {
    return (size_t)(tkm_fast_hash(k0, k1, n) >> v->fast_shift);
}

/* The fast-table lookup of key (k0, want = k1 | n << 59) from its slot i (v->fast != NULL). */
static inline uint32_t tkm_fast_probe(const tkm_ranks *v, uint64_t k0, uint64_t want, size_t i) {
    for (;;) {
        const uint64_t *sl = v->fast + 2 * i;
        uint64_t w1 = sl[1];
        if (sl[0] == k0 && (w1 & 0xF8000000FFFFFFFFull) == want) return (uint32_t)(w1 >> 32) & 0x7FFFFFFu;
        if (w1 == 0) return TKM_RANK_NONE;
        i = (i + 1) & v->fast_mask;
    }
}

/* Rank of the token with bytes p[0..n), or TKM_RANK_NONE. */
static inline uint32_t tkm_ranks_find(const tkm_ranks *v, const uint8_t *p, size_t n) {
    if (n == 2 && v->pair2) return v->pair2[p[0] | (uint32_t)p[1] << 8];
    if (n - 1u < TKM_FAST_MAX && v->fast) {
        uint64_t k0, k1;
        tkm_fast_key(p, n, &k0, &k1);
        return tkm_fast_probe(v, k0, k1 | (uint64_t)n << 59, tkm_fast_slot(v, k0, k1, n));
    }
    return tkm_ranks_find_slow(v, p, n);
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
/* Copy every array of v into one block from alloc, which *out then points into (free it with
 * tkm_ranks_destroy): the same bytes, so every lookup answers as in v. 0, or -1 if alloc failed
 * (*out zeroed). Used to move a built-in table out of the library's read-only pages (api.c). */
int tkm_ranks_copy(const tkm_ranks *v, void *(*alloc)(void *, size_t), void *opaque, tkm_ranks *out);

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
