/*
 * vocab_build.c - parse a .tiktoken file and build a tkm_ranks table (see vocab.h).
 *
 * Grammar (strict): file = line*; line = BASE64 " " RANK EOL, EOL = "\n" | "\r\n" | end of file
 * (the last line only). BASE64 is the standard alphabet (A-Z a-z 0-9 + /), a multiple of 4 chars,
 * '=' padding only at the end, unused bits of the last symbol zero (canonical), decoding to >= 1
 * byte. RANK is one or more ASCII digits (leading zeros allowed), value < 2^31. Blank lines, other
 * whitespace, a file without entries, duplicate ranks, duplicate token bytes, and a max rank
 * >= n_tokens + 2^20 (a table of mostly gaps; refused before allocating it) are malformed (-2).
 * err_line: the first line with a syntax error; else the second line of a duplicate rank; else the
 * later line of a duplicate-bytes pair; for an empty file 1.
 *
 * Passes: (1) validate every line, count entries, total bytes, max rank; (2) record each rank's
 * length in offsets[] and detect duplicate ranks; prefix-sum into offsets; (3) decode the token
 * bytes into rank order; (4) insert ranks 0..n_ranks-1 in ascending order into the slot table;
 * (5) the fast table; (6) pair2; (7) byte ids and the canonical splits (pairs[], see vocab.h),
 * found by running the reference BPE of bpe.c on every token's own bytes; (8) inner2[], the byte
 * pairs inside tokens.
 * The result depends only on the file contents, so a table generated on one host (tools/vocabc.c)
 * is identical to one built at run time anywhere.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bpe.h"
#include "vocab.h"

#define TKM_VB_MALFORMED (-2)
#define TKM_VB_NOMEM (-1)
#define TKM_VB_UNSET 0xFFFFFFFFu
#define TKM_VB_MAX_GAPS (1u << 20) /* max rank must be < n_tokens + 2^20 */

/* 0..63 for a base64 symbol, 64 for '=', 255 otherwise. */
static unsigned tkm_b64_value(uint8_t c) {
    if (c >= 'A' && c <= 'Z') return (unsigned)(c - 'A');
    if (c >= 'a' && c <= 'z') return (unsigned)(c - 'a') + 26u;
    if (c >= '0' && c <= '9') return (unsigned)(c - '0') + 52u;
    if (c == '+') return 62u;
    if (c == '/') return 63u;
    if (c == '=') return 64u;
    return 255u;
}

/*
 * Validate base64 text s[0..n) and return its decoded length, or 0 if it is malformed (a valid
 * text always decodes to >= 1 byte here, since empty tokens are rejected). If out is not NULL the
 * bytes are written there.
 */
static size_t tkm_b64_decode(const uint8_t *s, size_t n, uint8_t *out) {
    if (n == 0 || n % 4 != 0) return 0;
    size_t pad = 0;
    if (s[n - 1] == '=') pad = (s[n - 2] == '=') ? 2 : 1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        unsigned v[4];
        int last = (i + 4 == n);
        for (unsigned k = 0; k < 4; k++) {
            v[k] = tkm_b64_value(s[i + k]);
            if (v[k] == 255u) return 0;
            if (v[k] == 64u) {
                /* '=' only in the final group, only in the last `pad` positions */
                if (!last || k < 4 - pad) return 0;
                v[k] = 0;
            }
        }
        uint32_t w = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
        size_t nb = last ? 3 - pad : 3;
        if (last && pad == 2 && (v[1] & 0x0Fu)) return 0; /* non-canonical: unused bits set */
        if (last && pad == 1 && (v[2] & 0x03u)) return 0;
        if (out) {
            out[o] = (uint8_t)(w >> 16);
            if (nb > 1) out[o + 1] = (uint8_t)(w >> 8);
            if (nb > 2) out[o + 2] = (uint8_t)w;
        }
        o += nb;
    }
    return o;
}

typedef struct tkm_vb_line {
    const uint8_t *b64;
    size_t b64_len;
    size_t tok_len; /* decoded length */
    uint32_t rank;
} tkm_vb_line;

/*
 * Parse (and validate, base64 included) the line starting at *pos (pos < len). On success fills
 * *ln, advances *pos past the EOL and returns 0; otherwise returns -2.
 */
static int tkm_vb_parse_line(const uint8_t *d, size_t len, size_t *pos, tkm_vb_line *ln) {
    size_t p = *pos;
    size_t start = p;
    while (p < len && d[p] != ' ' && d[p] != '\n' && d[p] != '\r') p++;
    if (p == len || d[p] != ' ') return TKM_VB_MALFORMED;
    ln->b64 = d + start;
    ln->b64_len = p - start;
    ln->tok_len = tkm_b64_decode(ln->b64, ln->b64_len, NULL);
    if (ln->tok_len == 0) return TKM_VB_MALFORMED;
    p++; /* the space */
    uint64_t r = 0;
    size_t digits = 0;
    while (p < len && d[p] >= '0' && d[p] <= '9') {
        r = r * 10u + (uint64_t)(d[p] - '0'); /* r < 2^31 before: no overflow */
        if (r >= 0x80000000u) return TKM_VB_MALFORMED;
        p++;
        digits++;
    }
    if (digits == 0) return TKM_VB_MALFORMED;
    if (p < len) {
        if (d[p] == '\r') {
            if (p + 1 >= len || d[p + 1] != '\n') return TKM_VB_MALFORMED;
            p += 2;
        } else if (d[p] == '\n') {
            p += 1;
        } else {
            return TKM_VB_MALFORMED;
        }
    }
    ln->rank = (uint32_t)r;
    *pos = p;
    return 0;
}

/* Line (1-based) of the entry with rank r; 0 if not found (cannot happen after pass 1). */
static size_t tkm_vb_line_of_rank(const uint8_t *d, size_t len, uint32_t r) {
    size_t pos = 0, line = 1;
    tkm_vb_line ln;
    while (pos < len) {
        if (tkm_vb_parse_line(d, len, &pos, &ln) != 0) return 0;
        if (ln.rank == r) return line;
        line++;
    }
    return 0;
}

static int tkm_vb_fail(tkm_ranks *out, size_t *err_line, size_t line, int code) {
    memset(out, 0, sizeof *out);
    if (err_line) *err_line = line;
    return code;
}

int tkm_ranks_build(const void *data, size_t len, void *(*alloc)(void *, size_t), void (*dealloc)(void *, void *),
                    void *opaque, tkm_ranks *out, size_t *err_line) {
    const uint8_t *d = (const uint8_t *)data;
    if (err_line) *err_line = 0;
    if (!out) return TKM_VB_MALFORMED;
    if (!alloc || !dealloc) return tkm_vb_fail(out, err_line, 0, TKM_VB_NOMEM);
    if (len == 0 || !d) return tkm_vb_fail(out, err_line, 1, TKM_VB_MALFORMED);

    /* Pass 1: syntax, counts. */
    size_t pos = 0, line = 0, n_tokens = 0, max_rank_line = 1;
    uint64_t total = 0;
    uint32_t max_rank = 0, max_len = 0, max_short_rank = 0;
    size_t n_short = 0; /* tokens of at most TKM_FAST_MAX bytes: the fast table */
    size_t n_multi = 0; /* tokens of two or more bytes: at most one canonical split each */
    tkm_vb_line ln;
    while (pos < len) {
        line++;
        if (tkm_vb_parse_line(d, len, &pos, &ln) != 0) return tkm_vb_fail(out, err_line, line, TKM_VB_MALFORMED);
        n_tokens++;
        total += ln.tok_len;
        if (ln.rank > max_rank) {
            max_rank = ln.rank;
            max_rank_line = line;
        }
        if (ln.tok_len > max_len) max_len = (uint32_t)ln.tok_len;
        if (ln.tok_len >= 2) n_multi++;
        if (ln.tok_len <= TKM_FAST_MAX) {
            n_short++;
            if (ln.rank > max_short_rank) max_short_rank = ln.rank;
        }
    }
    /* offsets are 32-bit; n_tokens <= n_ranks <= 2^31 */
    if (total > 0xFFFFFFFEu) return tkm_vb_fail(out, err_line, line, TKM_VB_MALFORMED);

    /* A table that would be mostly gaps is refused before allocating n_ranks offsets. */
    if ((uint64_t)max_rank >= (uint64_t)n_tokens + TKM_VB_MAX_GAPS)
        return tkm_vb_fail(out, err_line, max_rank_line, TKM_VB_MALFORMED);
    uint32_t n_ranks = max_rank + 1u; /* n_tokens > n_ranks means a repeated rank: pass 2 reports it */
    uint64_t slots = 2;
    while (slots < 2u * (uint64_t)n_tokens) slots <<= 1;
    /* fast table: load <= 1/2; none if a short token's rank does not fit its 27 bits */
    uint64_t fslots = 0;
    uint32_t fshift = 64;
    if (max_short_rank < TKM_FAST_RANK_LIMIT) {
        fslots = 2;
        fshift = 63;
        while (fslots < 2u * (uint64_t)n_short) fslots <<= 1, fshift--;
    }
    uint64_t fast_at = (((uint64_t)n_ranks + 1u) * 4u + slots * 4u + total + 1u + 7u) & ~(uint64_t)7u;
    /* pair table: load <= 1/2 (whether it is built is decided in pass 7) */
    uint64_t pslots = 2;
    uint32_t pshift = 63;
    while (pslots < 2u * (uint64_t)n_multi) pslots <<= 1, pshift--;
    uint64_t pairs_at = fast_at + fslots * 16u + 65536u * 4u + 256u * 4u; /* + pair2 + byte ids */
    uint64_t inner_at = pairs_at + (pslots + TKM_PAIR_TAIL) * 8u; /* the table, then its tail copy (vocab.h) */
    uint64_t need = inner_at + 65536u / 8u;
    if (need > (uint64_t)SIZE_MAX) return tkm_vb_fail(out, err_line, 0, TKM_VB_NOMEM);
    uint8_t *block = (uint8_t *)alloc(opaque, (size_t)need);
    if (!block) return tkm_vb_fail(out, err_line, 0, TKM_VB_NOMEM);
    uint32_t *offsets = (uint32_t *)(void *)block;
    uint32_t *slot = offsets + (size_t)n_ranks + 1u;
    uint8_t *bytes = (uint8_t *)(slot + (size_t)slots);
    uint32_t mask = (uint32_t)(slots - 1u);

    /* Pass 2: lengths by rank; duplicate ranks. */
    for (size_t r = 0; r <= n_ranks; r++) offsets[r] = TKM_VB_UNSET;
    pos = 0;
    line = 0;
    while (pos < len) {
        line++;
        (void)tkm_vb_parse_line(d, len, &pos, &ln); /* validated in pass 1 */
        if (offsets[ln.rank] != TKM_VB_UNSET) {
            dealloc(opaque, block);
            return tkm_vb_fail(out, err_line, line, TKM_VB_MALFORMED);
        }
        offsets[ln.rank] = (uint32_t)ln.tok_len;
    }
    uint32_t sum = 0;
    for (uint32_t r = 0; r < n_ranks; r++) {
        uint32_t l = offsets[r] == TKM_VB_UNSET ? 0 : offsets[r];
        offsets[r] = sum;
        sum += l;
    }
    offsets[n_ranks] = sum;

    /* Pass 3: bytes in rank order. */
    pos = 0;
    while (pos < len) {
        (void)tkm_vb_parse_line(d, len, &pos, &ln);
        (void)tkm_b64_decode(ln.b64, ln.b64_len, bytes + offsets[ln.rank]);
    }
    bytes[sum] = 0; /* the spare byte: keeps the block non-empty and the layout like vocabc's */

    /* Pass 4: slot table, ranks inserted in ascending order; duplicate bytes. */
    for (uint64_t i = 0; i < slots; i++) slot[i] = TKM_RANK_NONE;
    for (uint32_t r = 0; r < n_ranks; r++) {
        uint32_t a = offsets[r], b = offsets[r + 1];
        if (a == b) continue; /* gap */
        uint32_t i = (uint32_t)tkm_vocab_hash(bytes + a, b - a) & mask;
        for (;;) {
            uint32_t q = slot[i];
            if (q == TKM_RANK_NONE) {
                slot[i] = r;
                break;
            }
            if (offsets[q + 1] - offsets[q] == b - a && memcmp(bytes + offsets[q], bytes + a, b - a) == 0) {
                size_t l1 = tkm_vb_line_of_rank(d, len, q), l2 = tkm_vb_line_of_rank(d, len, r);
                dealloc(opaque, block);
                return tkm_vb_fail(out, err_line, l1 > l2 ? l1 : l2, TKM_VB_MALFORMED);
            }
            i = (i + 1) & mask;
        }
    }

    /* Pass 5: fast table (tokens of at most TKM_FAST_MAX bytes), ranks in ascending order. Bytes
     * are already known to be distinct, so equal keys cannot occur. */
    uint64_t *fast = NULL;
    if (fslots) {
        fast = (uint64_t *)(void *)(block + fast_at);
        for (uint64_t i = 0; i < 2u * fslots; i++) fast[i] = 0;
        for (uint32_t r = 0; r < n_ranks; r++) {
            uint32_t a = offsets[r], b = offsets[r + 1];
            if (a == b || b - a > TKM_FAST_MAX) continue;
            uint64_t k0, k1;
            size_t n = b - a;
            tkm_fast_key(bytes + a, n, &k0, &k1);
            size_t i = (size_t)(tkm_fast_hash(k0, k1, n) >> fshift);
            while (fast[2 * i + 1] != 0) i = (i + 1) & (size_t)(fslots - 1u);
            fast[2 * i] = k0;
            fast[2 * i + 1] = k1 | (uint64_t)r << 32 | (uint64_t)n << 59;
        }
    }

    /* Pass 6: pair2, the 2-byte tokens by their two bytes. */
    uint32_t *pair2 = (uint32_t *)(void *)(block + fast_at + fslots * 16u);
    for (uint32_t i = 0; i < 65536u; i++) pair2[i] = TKM_RANK_NONE;
    for (uint32_t r = 0; r < n_ranks; r++)
        if (offsets[r + 1] - offsets[r] == 2) pair2[bytes[offsets[r]] | (uint32_t)bytes[offsets[r] + 1] << 8] = r;

    tkm_ranks v;
    memset(&v, 0, sizeof v);
    v.pair2 = pair2;
    v.fast = fast;
    v.fast_mask = fslots ? (uint32_t)(fslots - 1u) : 0;
    v.fast_shift = fshift;
    v.bytes = bytes;
    v.offsets = offsets;
    v.slots = slot;
    v.n_ranks = n_ranks;
    v.n_tokens = (uint32_t)n_tokens;
    v.mask = mask;
    v.max_len = max_len;

    /* Pass 7: byte ids and canonical splits, if every byte is a token and every id fits. */
    uint32_t *byte_ids = (uint32_t *)(void *)(block + fast_at + fslots * 16u + 65536u * 4u);
    int ids_ok = n_ranks <= TKM_PAIR_ID_LIMIT;
    for (unsigned b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        byte_ids[b] = tkm_ranks_find(&v, &c, 1);
        if (byte_ids[b] == TKM_RANK_NONE) ids_ok = 0;
    }
    if (ids_ok) {
        uint64_t *pairs = (uint64_t *)(void *)(block + pairs_at);
        for (uint64_t i = 0; i < pslots; i++) pairs[i] = TKM_PAIR_EMPTY;
        tkm_bpe_work bw = {alloc, dealloc, opaque, NULL, 0};
        uint32_t n_pairs = 0;
        for (uint32_t r = 0; r < n_ranks; r++) {
            const uint8_t *t = bytes + offsets[r];
            size_t n = offsets[r + 1] - offsets[r], cut = 0;
            if (n < 2) continue;
            size_t m = tkm_bpe_encode_bytes(&v, t, n, NULL, &cut, &bw);
            if (m == TKM_BPE_NOMEM) {
                tkm_bpe_work_release(&bw);
                dealloc(opaque, block);
                return tkm_vb_fail(out, err_line, 0, TKM_VB_NOMEM);
            }
            if (m != 1) continue; /* BPE never forms this token */
            uint32_t a = tkm_ranks_find(&v, t, cut), b = tkm_ranks_find(&v, t + cut, n - cut);
            uint64_t key = (uint64_t)a << 21 | b;
            size_t i = (size_t)(tkm_pair_hash(key) >> pshift);
            while (pairs[i] != TKM_PAIR_EMPTY) i = (i + 1) & (size_t)(pslots - 1u);
            pairs[i] = key << 21 | r;
            n_pairs++;
        }
        tkm_bpe_work_release(&bw);
        for (uint64_t i = 0; i < TKM_PAIR_TAIL; i++) pairs[pslots + i] = pairs[i & (pslots - 1u)];
        /* Pass 8: the byte pairs that occur inside tokens. */
        uint64_t *inner2 = (uint64_t *)(void *)(block + inner_at);
        for (size_t i = 0; i < 1024u; i++) inner2[i] = 0;
        for (uint32_t r = 0; r < n_ranks; r++)
            for (uint32_t i = offsets[r]; i + 1 < offsets[r + 1]; i++) {
                uint32_t b = bytes[i] | (uint32_t)bytes[i + 1] << 8;
                inner2[b >> 6] |= (uint64_t)1 << (b & 63u);
            }
        v.inner2 = inner2;
        v.byte_ids = byte_ids;
        v.pairs = pairs;
        v.pairs_mask = (uint32_t)(pslots - 1u);
        v.pairs_shift = pshift;
        v.n_pairs = n_pairs;
    }
    *out = v;
    tkm_sha256(d, len, out->sha256);
    return 0;
}

/* One array of tkm_ranks_copy at *at in block (64-byte aligned; nothing for an absent array).
 * With block NULL it only adds up the size; else it copies src there and returns the copy. */
static const void *tkm_vc_put(uint8_t *block, size_t *at, const void *src, size_t size) {
    if (!src) return NULL;
    uint8_t *dst = block ? block + *at : NULL;
    *at = (*at + size + 63u) & ~(size_t)63u;
    if (dst) memcpy(dst, src, size);
    return dst;
}

/* The arrays of v laid out from block (NULL: sizes only) into out's pointers; the block's size.
 * Offsets come first, since tkm_ranks_destroy frees that pointer. */
static size_t tkm_vc_layout(const tkm_ranks *v, uint8_t *block, tkm_ranks *out) {
    size_t at = 0;
    out->offsets = (const uint32_t *)tkm_vc_put(block, &at, v->offsets, ((size_t)v->n_ranks + 1u) * 4u);
    out->slots = (const uint32_t *)tkm_vc_put(block, &at, v->slots, ((size_t)v->mask + 1u) * 4u);
    out->bytes = (const uint8_t *)tkm_vc_put(block, &at, v->bytes, v->offsets[v->n_ranks]);
    out->fast = (const uint64_t *)tkm_vc_put(block, &at, v->fast, ((size_t)v->fast_mask + 1u) * 16u);
    out->pair2 = (const uint32_t *)tkm_vc_put(block, &at, v->pair2, 65536u * 4u);
    out->byte_ids = (const uint32_t *)tkm_vc_put(block, &at, v->byte_ids, 256u * 4u);
    out->pairs = (const uint64_t *)tkm_vc_put(block, &at, v->pairs, ((size_t)v->pairs_mask + 1u + TKM_PAIR_TAIL) * 8u);
    out->inner2 = (const uint64_t *)tkm_vc_put(block, &at, v->inner2, 65536u / 8u);
    return at;
}

int tkm_ranks_copy(const tkm_ranks *v, void *(*alloc)(void *, size_t), void *opaque, tkm_ranks *out) {
    memset(out, 0, sizeof *out);
    tkm_ranks sized;
    uint8_t *block = (uint8_t *)alloc(opaque, tkm_vc_layout(v, NULL, &sized));
    if (!block) return -1;
    *out = *v;
    (void)tkm_vc_layout(v, block, out);
    return 0;
}

void tkm_ranks_destroy(tkm_ranks *v, void (*dealloc)(void *, void *), void *opaque) {
    if (!v) return;
    if (v->offsets && dealloc) dealloc(opaque, (void *)(uintptr_t)v->offsets);
    memset(v, 0, sizeof *v);
}
