/*
 * bpe.c - exact byte-pair merge (tiktoken semantics), O(n log n) worst case.
 *
 * Design notes.
 * - tiktoken's byte_pair_merge rescans all pairs after every merge: O(n^2) on one long piece
 *   (1 MB of one letter is a single piece under every pattern). We keep its exact semantics -
 *   lowest rank first, ties to the leftmost pair - with a binary min-heap of 64-bit keys
 *   (rank << 32 | start) over a doubly linked list of parts. Stale heap entries are dropped
 *   lazily: an entry (r, i) is live iff part i still exists and its current pair rank is r. That
 *   is sound because the bytes of part i's pair only ever grow, and a rank names one byte string,
 *   so a pair never returns to an earlier rank.
 * - Pieces up to SMALL bytes (nearly all of them in real text) use the direct array algorithm on
 *   the stack: for short pieces it beats the heap (no allocation, a handful of cache lines).
 * - A pair longer than the longest token cannot be a token: skip the hash lookup, which also
 *   bounds every lookup's cost independently of the piece length.
 * Memory for a long piece: 12 bytes per byte of piece for the lists plus up to 24 for the heap
 * (each merge pushes at most two entries).
 */
#include "bpe.h"

#include <stdlib.h>

#define SMALL 64
#define DEAD 0xFFFFFFFEu

static inline uint32_t pair_rank(const tkm_ranks *v, const uint8_t *p, size_t a, size_t b) {
    return (b - a > v->max_len) ? TKM_RANK_NONE : tkm_ranks_find(v, p + a, b - a);
}

/* Direct algorithm for short pieces: parts start at st[0..m), st[m] = n. */
static size_t bpe_small(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out) {
    uint32_t st[SMALL + 1], rk[SMALL];
    size_t m = n;
    for (size_t i = 0; i <= n; i++) st[i] = (uint32_t)i;
    for (size_t i = 0; i + 1 < m; i++) rk[i] = pair_rank(v, p, st[i], st[i + 2]);
    rk[m - 1] = TKM_RANK_NONE;
    while (m > 1) {
        uint32_t best = TKM_RANK_NONE;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < m; i++)
            if (rk[i] < best) best = rk[i], bi = i;
        if (best == TKM_RANK_NONE) break;
        /* merge part bi with bi+1 */
        for (size_t k = bi + 1; k < m; k++) st[k] = st[k + 1];
        for (size_t k = bi + 1; k + 1 < m; k++) rk[k] = rk[k + 1];
        m--;
        rk[bi] = (bi + 1 < m) ? pair_rank(v, p, st[bi], st[bi + 2]) : TKM_RANK_NONE;
        if (bi > 0) rk[bi - 1] = pair_rank(v, p, st[bi - 1], st[bi + 1]);
    }
    if (out)
        for (size_t i = 0; i < m; i++) out[i] = tkm_ranks_find(v, p + st[i], st[i + 1] - st[i]);
    return m;
}

/* A d-ary min-heap of 64-bit keys (rank << 32 | start: distinct, so the order is total and the
 * result does not depend on the heap's shape). D = 8: the 8 children of a node are 64 bytes, so a
 * sift-down touches about one cache line per level, and there are a third as many levels as in a
 * binary heap; on one multi-megabyte piece (millions of entries, far beyond the caches) that is
 * what the merge waits for. */
#define HEAP_D 8

static void heap_push(uint64_t *h, size_t *len, uint64_t key) {
    size_t i = (*len)++;
    while (i > 0) {
        size_t up = (i - 1) / HEAP_D;
        if (h[up] <= key) break;
        h[i] = h[up];
        i = up;
    }
    h[i] = key;
}

static void heap_sift_down(uint64_t *h, size_t len, size_t i) {
    uint64_t key = h[i];
    for (;;) {
        size_t c = HEAP_D * i + 1;
        if (c >= len) break;
        size_t end = c + HEAP_D < len ? c + HEAP_D : len, m = c;
        for (size_t j = c + 1; j < end; j++)
            if (h[j] < h[m]) m = j;
        if (key <= h[m]) break;
        h[i] = h[m];
        i = m;
    }
    h[i] = key;
}

static void *work_get(tkm_bpe_work *w, size_t size) {
    if (w->cap >= size) return w->buf;
    if (w->buf) w->dealloc(w->opaque, w->buf);
    w->buf = w->alloc(w->opaque, size);
    w->cap = w->buf ? size : 0;
    return w->buf;
}

static size_t bpe_heap(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, tkm_bpe_work *w) {
    if (n >= 0x7FFFFFFFu) return TKM_BPE_NOMEM; /* positions are 32-bit; callers cap pieces */
    size_t heap_cap = 3 * n;
    uint8_t *mem = (uint8_t *)work_get(w, heap_cap * sizeof(uint64_t) + 3 * (n + 1) * sizeof(uint32_t));
    if (!mem) return TKM_BPE_NOMEM;
    uint64_t *heap = (uint64_t *)mem;
    uint32_t *nxt = (uint32_t *)(heap + heap_cap);
    uint32_t *prv = nxt + (n + 1);
    uint32_t *pr = prv + (n + 1);
    size_t hlen = 0, parts = n;

    for (size_t i = 0; i < n; i++) {
        nxt[i] = (uint32_t)(i + 1);
        prv[i] = (uint32_t)(i - 1); /* wraps to 0xFFFFFFFF for i = 0: "none" */
    }
    for (size_t i = 0; i < n; i++) {
        pr[i] = (i + 1 < n) ? pair_rank(v, p, i, i + 2) : TKM_RANK_NONE;
        if (pr[i] != TKM_RANK_NONE) heap[hlen++] = ((uint64_t)pr[i] << 32) | i;
    }
    for (size_t i = hlen / HEAP_D + 1; i-- > 0;)
        if (i < hlen) heap_sift_down(heap, hlen, i);

    while (hlen) {
        uint64_t top = heap[0];
        heap[0] = heap[--hlen];
        if (hlen) heap_sift_down(heap, hlen, 0);
        uint32_t r = (uint32_t)(top >> 32), i = (uint32_t)top;
        if (pr[i] != r) continue; /* stale */
        uint32_t j = nxt[i], k = nxt[j];
        nxt[i] = k;
        if (k < n) prv[k] = i;
        pr[j] = DEAD;
        parts--;
        pr[i] = (k < n) ? pair_rank(v, p, i, nxt[k]) : TKM_RANK_NONE;
        if (pr[i] != TKM_RANK_NONE) heap_push(heap, &hlen, ((uint64_t)pr[i] << 32) | i);
        uint32_t h = prv[i];
        if (h != 0xFFFFFFFFu) {
            pr[h] = pair_rank(v, p, h, k);
            if (pr[h] != TKM_RANK_NONE) heap_push(heap, &hlen, ((uint64_t)pr[h] << 32) | h);
        }
    }
    if (out) {
        size_t o = 0;
        for (size_t i = 0; i < n; i = nxt[i]) out[o++] = tkm_ranks_find(v, p + i, nxt[i] - i);
    }
    return parts;
}

size_t tkm_bpe_count(const tkm_ranks *v, const uint8_t *p, size_t n, tkm_bpe_work *w) {
    if (n <= 1) return n;
    return n <= SMALL ? bpe_small(v, p, n, NULL) : bpe_heap(v, p, n, NULL, w);
}

size_t tkm_bpe_encode(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, tkm_bpe_work *w) {
    if (n == 0) return 0;
    if (n == 1) {
        out[0] = tkm_ranks_find(v, p, 1);
        return 1;
    }
    return n <= SMALL ? bpe_small(v, p, n, out) : bpe_heap(v, p, n, out, w);
}

void tkm_bpe_work_release(tkm_bpe_work *w) {
    if (w->buf) w->dealloc(w->opaque, w->buf);
    w->buf = NULL;
    w->cap = 0;
}
