/*
 * bpe.c - exact byte-pair merge (tiktoken semantics), O(n log n) worst case.
 *
 * Design notes.
 * - tiktoken's byte_pair_merge rescans all pairs after every merge: O(n^2) on one long piece
 *   (1 MB of one letter is a single piece under every pattern). We keep its exact semantics -
 *   lowest rank first, ties to the leftmost pair - with a min-heap of 64-bit keys
 *   (rank << 32 | start) over a doubly linked list of parts. Stale heap entries are dropped
 *   lazily: an entry (r, i) is live iff part i still exists and its current pair rank is r. That
 *   is sound because the bytes of part i's pair only ever grow, and a rank names one byte string,
 *   so a pair never returns to an earlier rank.
 * - Pieces up to SMALL bytes (nearly all of them in real text) use the direct array algorithm on
 *   the stack: for short pieces it beats the heap (no allocation, a handful of cache lines).
 * - Two ways to find a pair's rank, with identical results:
 *   bytes: look up the concatenated bytes of the two parts (the reference; tiktoken does this).
 *   ids:   look the pair of token ids up in v->pairs, which holds only each token's canonical
 *          split (the last merge of BPE on the token's own bytes, see vocab.h). Why that is exact:
 *          whenever BPE merges parts a and b into t, the merges inside t's span are exactly the
 *          merges of BPE run on t's bytes alone (nothing outside touched a part inside the span,
 *          and inside pairs were taken in the same rank order), so (a, b) is t's canonical split.
 *          A pair that is not a canonical split is therefore never the one merged, and leaving it
 *          out of the table cannot change which pair is the lowest (or leftmost lowest).
 *   The id path keys by two integers instead of up to max_len bytes, so a lookup is one probe
 *   of a 4 MiB table of 8-byte slots (o200k) instead of a 16-byte-slot probe into 8 MiB, or three
 *   dependent misses for pairs longer than 12 bytes; and the parts' ids are the output, with no
 *   final lookup. The bytes path stays: it builds the split table (tkm_bpe_split) and is what a
 *   vocabulary without a pair table uses; tests/test_bpe.c checks that both agree.
 * Memory for a long piece: bytes path 12 bytes per byte of piece for the lists plus up to 24 for
 * the heap (each merge pushes at most two entries); id path 16 for the parts plus 10 for the block
 * heaps (see below), at least one 40 KiB block, for a segment of up to WIN_LEN bytes; longer
 * segments are merged in windows (see there) in about 2 MiB whatever their length - unless a
 * window junction fails its check, when the segment takes the one-heap merge after all.
 */
#include "bpe.h"

#include <stdlib.h>

#define SMALL 64
#define DEAD 0xFFFFFFFEu

static inline uint32_t pair_rank(const tkm_ranks *v, const uint8_t *p, size_t a, size_t b) {
    return (b - a > v->max_len) ? TKM_RANK_NONE : tkm_ranks_find(v, p + a, b - a);
}

/* ---- bytes path (reference) ---------------------------------------------------------------- */

/* Direct algorithm for short pieces: parts start at st[0..m), st[m] = n. *last (if not NULL) gets
 * the start of the right part of the last merge. */
static size_t bpe_small_bytes(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, size_t *last) {
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
        if (last) *last = st[bi + 1];
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
 * result does not depend on the heap's shape). D = 4, the four children of a node in half a
 * cache line, chosen with conditional moves: for the block heaps of the id path (cache-resident),
 * cachegrind on 1 MiB of one letter gave D=4 13% fewer instructions and 40% fewer mispredicted
 * branches than D=8 (and 8% / 11% fewer than D=2); tkm_bpe_count of 8 MiB took 1.63 s of user
 * time instead of 2.05 s (a one-off timing program, not in the tree). (D = 8
 * was chosen when one heap spanned the whole piece, far beyond the caches, and a level cost a
 * miss.) */
#define HEAP_D 4

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
        size_t m = c;
        if (c + HEAP_D <= len) { /* all four children: a branch-free tournament */
            size_t a = h[c + 1] < h[c] ? c + 1 : c, b = h[c + 3] < h[c + 2] ? c + 3 : c + 2;
            m = h[b] < h[a] ? b : a;
        } else {
            for (size_t j = c + 1; j < len; j++)
                if (h[j] < h[m]) m = j;
        }
        if (key <= h[m]) break;
        h[i] = h[m];
        i = m;
    }
    h[i] = key;
}

static void heapify(uint64_t *h, size_t len) {
    for (size_t i = len / HEAP_D + 1; i-- > 0;)
        if (i < len) heap_sift_down(h, len, i);
}

static void *work_get(tkm_bpe_work *w, size_t size) {
    if (w->cap >= size) return w->buf;
    if (w->buf) w->dealloc(w->opaque, w->buf);
    w->buf = w->alloc(w->opaque, size);
    w->cap = w->buf ? size : 0;
    return w->buf;
}

/* Scratch for the bytes path's heap algorithm: the heap (3n keys) and three arrays of n + 1 words. */
static uint8_t *heap_work(tkm_bpe_work *w, size_t n) {
    return (uint8_t *)work_get(w, 3 * n * sizeof(uint64_t) + 3 * (n + 1) * sizeof(uint32_t));
}

static size_t bpe_heap_bytes(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, size_t *last,
                             tkm_bpe_work *w) {
    if (n >= 0x7FFFFFFFu) return TKM_BPE_NOMEM; /* positions are 32-bit; callers cap pieces */
    uint8_t *mem = heap_work(w, n);
    if (!mem) return TKM_BPE_NOMEM;
    uint64_t *heap = (uint64_t *)mem;
    uint32_t *nxt = (uint32_t *)(heap + 3 * n);
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
    heapify(heap, hlen);

    while (hlen) {
        uint64_t top = heap[0];
        heap[0] = heap[--hlen];
        if (hlen) heap_sift_down(heap, hlen, 0);
        uint32_t r = (uint32_t)(top >> 32), i = (uint32_t)top;
        if (pr[i] != r) continue; /* stale */
        uint32_t j = nxt[i], k = nxt[j];
        if (last) *last = j;
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

/* ---- id path ------------------------------------------------------------------------------- */

/*
 * Long pieces on the id path: exact global order (rank, then position) as above, but the one heap
 * over the whole piece is split into a heap per block of BLK positions (an entry goes to the block
 * of its part's start) under a tournament tree of the blocks' minima. Why: on a piece of
 * megabytes the single heap is tens of MB, and every pop's sift-down walks cache lines (and
 * pages) at random in it; a block heap is 64 KiB and the tree 32 KiB per 8 MiB of piece, and
 * successive merges of one rank move through the piece in position order, block after block, so
 * both stay in cache. The parts' four fields share one 16-byte record (one line per access, where
 * four arrays cost four). A block heap that fills up drops its stale entries (a block has at most
 * BLK live ones, one per part start). The block being popped is kept out of the tree until
 * another block's minimum is lower (see the loop), which halved the instructions spent on the tree
 * and the time on 8 MiB of one letter (same one-off program: 1.63 s -> 0.8-0.9 s; in
 * bench/tkm_worst, o200k_base `letter` at 8 MiB went from 4.7 to 8-11 MB/s over this session's
 * merge changes).
 */
#ifndef TKM_BPE_BLK_BITS /* tests/bpe_tiny_blocks.c builds a copy with tiny blocks */
#define TKM_BPE_BLK_BITS 12
#endif
#define BLK_BITS TKM_BPE_BLK_BITS
#define BLK (1u << BLK_BITS)
#ifndef TKM_BPE_BLK_SLACK /* room above the BLK live entries a block can hold: >= 1 */
#define TKM_BPE_BLK_SLACK (BLK / 4u + 2u)
#endif
#define BLK_CAP (BLK + TKM_BPE_BLK_SLACK)
#define TOP_NONE (~(uint64_t)0)

typedef struct bpe_part {
    uint32_t nxt, prv, pr, id;
} bpe_part;

static void tree_set(uint64_t *tree, size_t leaves, size_t b, uint64_t key) {
    size_t x = leaves + b;
    tree[x] = key;
    while (x > 1) {
        x >>= 1;
        uint64_t l = tree[2 * x], r = tree[2 * x + 1], m = l < r ? l : r;
        if (tree[x] == m) break; /* unchanged: so are its ancestors */
        tree[x] = m;
    }
}

static void block_push(uint64_t *h, uint32_t *len, const bpe_part *pt, uint64_t key) {
    if (*len == BLK_CAP) { /* full of stale entries: keep the live ones */
#ifdef TKM_BPE_ON_COMPACT
        TKM_BPE_ON_COMPACT;
#endif
        uint32_t k = 0;
        for (uint32_t j = 0; j < *len; j++)
            if (pt[(uint32_t)h[j]].pr == (uint32_t)(h[j] >> 32)) h[k++] = h[j];
        *len = k;
        heapify(h, k);
    }
    size_t l = *len;
    heap_push(h, &l, key);
    *len = (uint32_t)l;
}

/* Every merge starts from a pair of adjacent parts, and at first the parts are the bytes: if no
 * two adjacent bytes form a token, nothing ever merges. Such pieces (a megabyte of spaces in
 * r50k_base, combining marks, ...) need no working memory at all: their tokens are the bytes. */
static int no_byte_pair(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out) {
    size_t f = 0;
    while (f + 1 < n && v->pair2[p[f] | (uint32_t)p[f + 1] << 8] == TKM_RANK_NONE) f++;
    if (f + 1 < n) return 0;
    if (out)
        for (size_t i = 0; i < n; i++) out[i] = v->byte_ids[p[i]];
    return 1;
}

/* Block heaps of a piece of n bytes, and the leaves of their tournament tree (a power of two). */
static size_t heap_blocks(size_t n, size_t *leaves) {
    const size_t nb = (n + BLK - 1) >> BLK_BITS;
    for (*leaves = 1; *leaves < nb; *leaves <<= 1) {}
    return nb;
}

/* Working memory of bpe_heap_ids_in for a piece of n bytes. */
static size_t heap_ids_size(size_t n) {
    size_t leaves;
    const size_t nb = heap_blocks(n, &leaves);
    return 2 * leaves * sizeof(uint64_t) + nb * BLK_CAP * sizeof(uint64_t) + (n + 1) * sizeof(bpe_part) +
           nb * sizeof(uint32_t);
}

/* The block-heap merge of p[0..n), 2 <= n < 2^31, in mem[0..heap_ids_size(n)) (8-byte aligned). */
static size_t bpe_heap_ids_in(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, uint8_t *mem) {
    size_t leaves;
    const size_t nb = heap_blocks(n, &leaves);
    uint64_t *tree = (uint64_t *)mem;
    uint64_t *heaps = tree + 2 * leaves;
    bpe_part *pt = (bpe_part *)(void *)(heaps + nb * BLK_CAP);
    uint32_t *hlen = (uint32_t *)(void *)(pt + (n + 1));
    size_t parts = n;

    for (size_t b = 0; b < nb; b++) hlen[b] = 0;
    for (size_t i = 0; i < n; i++) {
        pt[i].nxt = (uint32_t)(i + 1);
        pt[i].prv = (uint32_t)(i - 1); /* wraps to 0xFFFFFFFF for i = 0: "none" */
        pt[i].id = v->byte_ids[p[i]];
        pt[i].pr = (i + 1 < n) ? v->pair2[p[i] | (uint32_t)p[i + 1] << 8] : TKM_RANK_NONE;
        if (pt[i].pr != TKM_RANK_NONE) {
            size_t b = i >> BLK_BITS;
            heaps[b * BLK_CAP + hlen[b]++] = ((uint64_t)pt[i].pr << 32) | i;
        }
    }
    for (size_t x = 0; x < 2 * leaves; x++) tree[x] = TOP_NONE;
    for (size_t b = 0; b < nb; b++) {
        heapify(heaps + b * BLK_CAP, hlen[b]);
        tree[leaves + b] = hlen[b] ? heaps[b * BLK_CAP] : TOP_NONE;
    }
    for (size_t x = leaves; x-- > 1;) tree[x] = tree[2 * x] < tree[2 * x + 1] ? tree[2 * x] : tree[2 * x + 1];

    /* The current block `cur` is taken out of the tree (its leaf reads "none"), so tree[1] is the
     * least key of every other block; pops come from cur for as long as its top is below that,
     * without touching the tree: successive merges sweep one block at a time. */
    size_t cur = tree[1] == TOP_NONE ? 0 : (size_t)((uint32_t)tree[1] >> BLK_BITS);
    tree_set(tree, leaves, cur, TOP_NONE);
    for (;;) {
        uint64_t *h = heaps + cur * BLK_CAP;
        if (!hlen[cur] || h[0] > tree[1]) { /* another block holds the least key (or none is left) */
            tree_set(tree, leaves, cur, hlen[cur] ? h[0] : TOP_NONE);
            if (tree[1] == TOP_NONE) break;
            cur = (size_t)((uint32_t)tree[1] >> BLK_BITS);
            tree_set(tree, leaves, cur, TOP_NONE);
            continue;
        }
        uint64_t top = h[0];
        uint32_t r = (uint32_t)(top >> 32), i = (uint32_t)top;
        h[0] = h[--hlen[cur]];
        if (hlen[cur]) heap_sift_down(h, hlen[cur], 0);
        if (pt[i].pr != r) continue; /* stale */
        uint32_t j = pt[i].nxt, k = pt[j].nxt;
        pt[i].id = r;
        pt[i].nxt = k;
        if (k < n) pt[k].prv = i;
        pt[j].pr = DEAD;
        parts--;
        pt[i].pr = (k < n) ? tkm_pair_find(v, r, pt[k].id) : TKM_RANK_NONE;
        if (pt[i].pr != TKM_RANK_NONE) block_push(h, &hlen[cur], pt, ((uint64_t)pt[i].pr << 32) | i);
        uint32_t hp = pt[i].prv;
        if (hp != 0xFFFFFFFFu) {
            pt[hp].pr = tkm_pair_find(v, pt[hp].id, r);
            size_t hb = hp >> BLK_BITS;
            if (pt[hp].pr != TKM_RANK_NONE) {
                block_push(heaps + hb * BLK_CAP, &hlen[hb], pt, ((uint64_t)pt[hp].pr << 32) | hp);
                if (hb != cur) tree_set(tree, leaves, hb, heaps[hb * BLK_CAP]);
            }
        }
    }
    if (out) {
        size_t o = 0;
        for (size_t i = 0; i < n; i = pt[i].nxt) out[o++] = pt[i].id;
    }
    return parts;
}

static size_t bpe_heap_ids(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, tkm_bpe_work *w) {
    if (n >= 0x7FFFFFFFu) return TKM_BPE_NOMEM; /* positions are 32-bit; callers cap pieces */
    if (no_byte_pair(v, p, n, out)) return n;
    uint8_t *mem = (uint8_t *)work_get(w, heap_ids_size(n));
    return mem ? bpe_heap_ids_in(v, p, n, out, mem) : TKM_BPE_NOMEM;
}

#define TKM_BPE_BATCH_NAME tkm_bpe_count_batch
#include "bpe_batch.h"

/* One short piece on the id path (n <= SMALL), with the layout of the batch (bpe_batch.h): parts
 * named by the offset of their first byte and linked, each pair's key at its left part's offset,
 * so a merge writes three keys and the least key is a fixed-stride minimum over ceil(n / 8)
 * groups of 8.
 * It shifted the id and rank arrays down after every merge and searched the m - 1 pairs for the
 * least: on random bytes, whose repaired pieces take this path one by one, that was 35% of all
 * instructions. cachegrind (--branch-sim=yes): counting 1 MiB of random bytes 678.7M -> 595.2M
 * instructions, 15.1M -> 13.0M mispredicted branches; tkm_encode of 2 MB of the multilingual set
 * 293.6M -> 243.0M instructions, of English 83.7M -> 81.8M and 1.25M -> 0.92M mispredicts.
 * Counting ordinary text does not come here (tkm_bpe_count_batch). */
static size_t bpe_small_ids(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out) {
    int32_t key[SMALL];
    uint32_t id[SMALL];
    uint8_t nxt[SMALL], prv[SMALL];
    memcpy(nxt, iota_next, SMALL);
    memcpy(prv, iota_prev, SMALL);
    for (size_t i = 0; i + 1 < n; i++) {
        id[i] = v->byte_ids[p[i]];
        key[i] = pair_key(v->pair2[p[i] | (uint32_t)p[i + 1] << 8], (uint32_t)i);
    }
    id[n - 1] = v->byte_ids[p[n - 1]];
    size_t len8 = (n + 7u) & ~(size_t)7u;
    for (size_t i = n - 1; i < len8; i++) key[i] = KEY_NONE;
    size_t m = n;
    for (;;) {
        int32_t best = KEY_NONE;
        if (len8 == 8) /* fixed trip counts, unrolled into vector ops, as in the batch */
            for (size_t i = 0; i < 8; i++) best = key[i] < best ? key[i] : best;
        else if (len8 == 16)
            for (size_t i = 0; i < 16; i++) best = key[i] < best ? key[i] : best;
        else
            for (size_t i = 0; i < len8; i++) best = key[i] < best ? key[i] : best;
        if (best == KEY_NONE) break;
        const uint32_t i = (uint32_t)best & TKM_BPE_POS_MASK, j = nxt[i], k = nxt[j];
        const uint32_t t = (uint32_t)best >> TKM_BPE_POS_BITS;
        id[i] = t; /* a pair's rank is the id of the merged token */
        key[j] = KEY_NONE;
        nxt[i] = (uint8_t)k;
        m--;
        if (k < n) {
            prv[k] = (uint8_t)i;
            key[i] = pair_key(tkm_pair_find(v, t, id[k]), i);
        } else { /* i is the last part now: every key from i on is KEY_NONE, search below it */
            key[i] = KEY_NONE;
            len8 = (i + 7u) & ~(size_t)7u;
        }
        const uint32_t h = prv[i];
        if (h != 0xFFu) key[h] = pair_key(tkm_pair_find(v, id[h], t), h);
    }
    if (out)
        for (size_t i = 0, c = 0; c < m; i = nxt[i]) out[c++] = id[i];
    return m;
}

/*
 * Windows: a segment longer than WIN_LEN is merged WIN_LEN bytes at a time and the windows' tokens
 * are stitched together; exact, by this property of BPE (tiktoken's, as defined in bpe.h):
 *
 *   Call adjacent tokens (a, b) a standing pair if BPE of bytes(a) bytes(b) is exactly [a, b].
 *   (1) Every adjacent pair of BPE(S) stands, for any S.
 *   (2) If tokens u1..uk spell S, each is BPE's result on its own bytes, and every adjacent pair
 *       stands, then BPE(S) = u1..uk.
 * Both by the argument used for pairs[] above: while no merge crosses the edges of a span, the
 * merges inside it are exactly those of BPE run on the span's bytes alone (a merge is the global
 * leftmost lowest, hence the leftmost lowest inside; inside pairs change only by inside merges).
 * (1): the span of a and b in BPE(S). (2): let the first merge of BPE(S) that crosses a boundary
 * of u1..uk cross the one between ui and ui+1; until then nothing crossed the edges of the span
 * ui ui+1, so BPE of its bytes alone would make that merge too, and (ui, ui+1) would not stand;
 * so no merge ever crosses, and each ui's span ends as BPE(bytes(ui)) = [ui].
 * So: merge the window p[pos .. pos + WIN_LEN), keep its tokens up to the first boundary at or
 * past WIN (a run inside one BPE result: every pair stands by (1), and every token is a BPE
 * result), start the next window there, and check the one new pair at the junction with a BPE of
 * at most 2 * max_len bytes. If every junction stands, the kept tokens are BPE of the segment by
 * (2) - whatever the windows' own edges did. A junction that does not stand (the window's end was
 * close enough to change the tokens at the junction, although the overlap WIN_OVER is 8 times
 * the longest token of the built-in vocabularies) sends the segment to the one-heap merge, which is exact
 * anyway, so the windows are a shortcut whose every use is proven, never a guess.
 * Why: a merge of megabytes in one heap sweeps the whole piece once per rank level (one letter:
 * "aa", then "aaaa", ...) over 26 bytes of state per byte of piece; past the last-level cache
 * (32 MiB here: 1 MiB of piece fits, 8 MiB does not) every sweep runs at memory speed, so 8 MiB
 * cost 8-11x 1 MiB (bench/tkm_worst failed its ratio check in every full run). With windows the
 * time is linear in the piece and the memory a constant (about 2 MiB) instead of 26 bytes per
 * byte. Window size, measured on one letter repeated (tkm_bpe_count per byte, and tkm_worst
 * -k letter -k letters_cycle -k cjk): 9 KiB windows (L2-sized) were 20-30% slower than one heap
 * over 1 MiB (115-125 against 95 ns per byte; the block heaps are cheaper per byte on longer
 * pieces, for reasons the profile did not show); 64 KiB windows match one heap over 1 MiB on
 * `letter` and `cjk` and beat it on `letters_cycle` (7.0-7.2 MB/s against 5.3-6.1); 128 KiB gave
 * no more. The overlap (1 KiB, 8 longest tokens) costs 1.6% of the work.
 * Repeated windows: a full window whose bytes equal those of one of the last WIN_MEMO full windows
 * of the segment has that window's tokens (same bytes, same BPE: a memo, not a guess), so its
 * merge is skipped and its ids are copied from the output. Floods of one unit (a letter, spaces,
 * U+FFFD from invalid bytes, a-z cycled: its window starts take at most 26 phases) repeat after
 * one or a few windows. The cost without a hit is at most WIN_MEMO memcmp calls of WIN_LEN bytes
 * per window - 32 bytes compared per byte of piece even when an adversary makes every comparison
 * run to the end, against about 100 ns per byte for a merge. Measured (bench/tkm_worst -n 3,
 * o200k_base): `letter` 7.8 -> 53-58 MB/s at 1 MiB (the first window is still merged) and 7.7 ->
 * 171-265 MB/s at 8 MiB; `invalid_ff` 4.5 -> 77-81 and 5.0 -> 107-129; `random` unchanged (11-12).
 */
#ifndef TKM_BPE_WIN /* tests/bpe_tiny_blocks.c builds a copy with tiny windows */
#define TKM_BPE_WIN 65536u
#endif
#ifndef TKM_BPE_WIN_OVER
#define TKM_BPE_WIN_OVER 1024u
#endif
#define WIN_LEN (TKM_BPE_WIN + TKM_BPE_WIN_OVER)

/* 1 iff (a, b) stands: BPE of bytes(a) bytes(b) is [a, b]. buf: 2 * max_len bytes; ids: as many
 * words; mem: heap_ids_size(2 * max_len). */
static int pair_stands(const tkm_ranks *v, uint32_t a, uint32_t b, uint8_t *buf, uint32_t *ids, uint8_t *mem) {
    size_t la, lb;
    const uint8_t *pa = tkm_ranks_bytes(v, a, &la), *pb = tkm_ranks_bytes(v, b, &lb);
    memcpy(buf, pa, la);
    memcpy(buf + la, pb, lb);
    const size_t n = la + lb;
    const size_t m = n <= SMALL ? bpe_small_ids(v, buf, n, ids) : bpe_heap_ids_in(v, buf, n, ids, mem);
    return m == 2 && ids[0] == a && ids[1] == b;
}

/* A full window merged before in this segment: where it starts, its kept tokens (k of them,
 * spanning adv bytes, written at out + at), the first and the last kept. */
typedef struct win_memo {
    size_t pos, k, adv, at;
    uint32_t first, last;
} win_memo;
#ifndef TKM_BPE_WIN_MEMO
#define TKM_BPE_WIN_MEMO 32u
#endif
#define WIN_MEMO TKM_BPE_WIN_MEMO

static size_t bpe_windows_ids(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, tkm_bpe_work *w) {
    if (n >= 0x7FFFFFFFu) return TKM_BPE_NOMEM; /* as bpe_heap_ids */
    if (no_byte_pair(v, p, n, out)) return n;
    const size_t pl = 2 * (size_t)v->max_len;
    const size_t hs = (heap_ids_size(WIN_LEN > pl ? WIN_LEN : pl) + 7u) & ~(size_t)7u;
    uint8_t *mem = (uint8_t *)work_get(w, hs + (WIN_LEN + pl) * sizeof(uint32_t) + pl);
    if (!mem) return TKM_BPE_NOMEM;
    uint32_t *win = (uint32_t *)(void *)(mem + hs), *ids = win + WIN_LEN;
    uint8_t *buf = (uint8_t *)(ids + pl);
    size_t total = 0, pos = 0, n_memo = 0, memo_next = 0;
    uint32_t prev = TKM_RANK_NONE;
    win_memo memo[WIN_MEMO];
    while (pos < n) {
        const int last = n - pos <= WIN_LEN;
        const size_t len = last ? n - pos : WIN_LEN;
        const win_memo *hit = NULL;
        if (!last) /* a full window with the same bytes as an earlier one has the same tokens */
            for (size_t j = 0; j < n_memo && !hit; j++)
                if (memcmp(p + memo[j].pos, p + pos, WIN_LEN) == 0) hit = &memo[j];
        size_t m = 1, k = 0, adv = 0;
        uint32_t first, kept_last;
        if (hit) {
#ifdef TKM_BPE_ON_MEMO
            TKM_BPE_ON_MEMO;
#endif
            k = hit->k, adv = hit->adv, first = hit->first, kept_last = hit->last;
        } else {
            if (len == 1)
                win[0] = v->byte_ids[p[pos]];
            else
                m = bpe_heap_ids_in(v, p + pos, len, win, mem);
            k = m, adv = len;
            if (!last) /* keep the tokens up to the first boundary at or past WIN (there is one: len > WIN) */
                for (k = 0, adv = 0; adv < TKM_BPE_WIN; k++) adv += v->offsets[win[k] + 1] - v->offsets[win[k]];
            first = win[0], kept_last = win[k - 1];
        }
        if (prev != TKM_RANK_NONE && !pair_stands(v, prev, first, buf, ids, mem)) {
#ifdef TKM_BPE_ON_RESTART
            TKM_BPE_ON_RESTART;
#endif
            return bpe_heap_ids(v, p, n, out, w);
        }
        if (!hit && !last) { /* remember it, oldest out first */
            win_memo *e = &memo[memo_next];
            memo_next = (memo_next + 1) % WIN_MEMO;
            if (n_memo < WIN_MEMO) n_memo++;
            e->pos = pos, e->k = k, e->adv = adv, e->at = total, e->first = first, e->last = kept_last;
        }
        if (out) memcpy(out + total, hit ? out + hit->at : win, k * sizeof *win); /* hit->at + k <= total */
        total += k;
        prev = kept_last;
        pos += adv;
#ifdef TKM_BPE_ON_WINDOW
        TKM_BPE_ON_WINDOW;
#endif
    }
    return total;
}

/*
 * Runs: a long segment made of few runs of one repeated byte ("=====", 50 KB of spaces, 1 MiB of
 * one letter) is merged as runs of tokens, (token, count), instead of part by part.
 * Why that is exact. Let r be the least rank of a pair anywhere, and suppose (checked below, for
 * every pair that the merge creates) that a merge at rank r only creates pairs of higher rank; a
 * rank names one token and so one pair (its canonical split, vocab.h). Keep the runs maximal (two
 * neighbours never hold the same token). A pair of rank r is then either (T, T) inside runs of T,
 * or (A, B) at boundaries between runs of A and of B, never both, and two pairs of rank r never
 * overlap unless they are inside one run. So BPE, which takes the leftmost pair of rank r next,
 * merges a run of c copies of T, whose inner pairs (T, T) overlap, from the left: c / 2 copies of
 * TT, then one T if c is odd; pairs of rank r elsewhere are merged the same whatever their order,
 * and nothing of rank r is created, so the runs' next state is BPE's after its merges of rank r.
 * A boundary pair takes one token off each run and puts a run of one new token between them.
 * The rank order here is a heap of (rank, run, inner or boundary) entries, stale ones skipped.
 * If a merge would create a pair below r, or the runs multiply past a budget, the segment goes to
 * the block heaps instead (RUNS_DECLINED): nothing is output before the end. Every pair table of
 * the built-in vocabularies has that property (each token ranks above both parts of its canonical
 * split; checked once by a throwaway program over all 400K splits), so only a loaded vocabulary
 * can decline; tests/test_bpe.c builds one that does. A segment takes this path when its runs
 * average TKM_BPE_RUNS_MIN_AVG bytes or more (counting them is one pass over the bytes).
 * Measured on the AMD EPYC Zen 3 VM (tkm_time -n 3 on one core, AVX2 kernel, before / after):
 * cl100k_base longrun-mixed-v0.txt 0.0994 -> 0.0381 s, longrun-letter-v0.txt 0.0225 -> 0.0038 s,
 * the adversarial set concatenated 0.308 -> 0.214 s (o200k_base 0.33-0.41 -> 0.24-0.31 s, runs
 * of one binary moving 25%); bench/tkm_worst -n 3 -e o200k_base -e cl100k_base, MB/s at 1 MiB,
 * git 17b879e against this: o200k_base letter 56.0 -> 504.4, spaces 44.2 -> 408.6, newlines 44.6
 * -> 206.3; cl100k_base letter 49.0 -> 265.3, spaces 42.3 -> 442.9, newlines 45.5 -> 314.1 (at 8
 * MiB the windows' memo already reused most windows: 284.3 -> 483.0 for o200k_base letter); every
 * kind of the whole tkm_worst run still within its linearity bound.
 */
#define RUNS_DECLINED ((size_t)-2)
#ifndef TKM_BPE_RUNS_MIN_AVG /* least mean run length (bytes) that takes this path */
#define TKM_BPE_RUNS_MIN_AVG 8u
#endif
#define RUNS_MAX 8192u /* at most this many runs at the start: at most 3.6 MiB of working memory */
#define RUN_NONE 0xFFFFFFFFu

typedef struct bpe_run {
    uint32_t tok, cnt, nxt, prv, in_r, bd_r; /* in_r: rank of (tok, tok) if cnt >= 2; bd_r: of (tok, next's) */
} bpe_run;

typedef struct runs_state {
    const tkm_ranks *v;
    bpe_run *run;
    uint64_t *heap;
    size_t hlen, nrun, cap;
    uint32_t floor; /* rank of the merge being made: a new pair below it declines */
    int bad;
} runs_state;

static void runs_push(runs_state *st, uint32_t rank, uint32_t i, uint32_t kind) {
    if (rank == TKM_RANK_NONE) return;
    if (rank < st->floor) st->bad = 1;
    heap_push(st->heap, &st->hlen, (uint64_t)rank << 32 | (uint64_t)i << 1 | kind);
}
static void runs_set_in(runs_state *st, uint32_t i) {
    bpe_run *r = &st->run[i];
    r->in_r = r->cnt >= 2 ? tkm_pair_find(st->v, r->tok, r->tok) : TKM_RANK_NONE;
    runs_push(st, r->in_r, i, 0);
}
static void runs_set_bd(runs_state *st, uint32_t i) {
    bpe_run *r = &st->run[i];
    r->bd_r = r->nxt != RUN_NONE ? tkm_pair_find(st->v, r->tok, st->run[r->nxt].tok) : TKM_RANK_NONE;
    runs_push(st, r->bd_r, i, 1);
}
static void runs_unlink(runs_state *st, uint32_t i) {
    bpe_run *r = &st->run[i];
    if (r->prv != RUN_NONE) st->run[r->prv].nxt = r->nxt;
    if (r->nxt != RUN_NONE) st->run[r->nxt].prv = r->prv;
    r->cnt = 0;
    r->in_r = r->bd_r = TKM_RANK_NONE;
}
/* A new run (tok, cnt) right after run a (run 0, the sentinel, for the first). */
static uint32_t runs_insert_after(runs_state *st, uint32_t a, uint32_t tok, uint32_t cnt) {
    const uint32_t i = (uint32_t)st->nrun++;
    bpe_run *r = &st->run[i];
    r->tok = tok, r->cnt = cnt, r->prv = a, r->in_r = r->bd_r = TKM_RANK_NONE;
    r->nxt = st->run[a].nxt;
    st->run[a].nxt = i;
    if (r->nxt != RUN_NONE) st->run[r->nxt].prv = i;
    return i;
}
/* Keep the runs maximal around run i (its neighbours may now hold its token); then its pairs and
 * its left neighbour's boundary, computed afresh. Returns the run that holds i's tokens. */
static uint32_t runs_settle(runs_state *st, uint32_t i) {
    bpe_run *run = st->run;
    while (run[i].prv != RUN_NONE && run[run[i].prv].tok == run[i].tok) {
        const uint32_t h = run[i].prv;
        run[h].cnt += run[i].cnt;
        runs_unlink(st, i);
        i = h;
    }
    while (run[i].nxt != RUN_NONE && run[run[i].nxt].tok == run[i].tok) {
        run[i].cnt += run[run[i].nxt].cnt;
        runs_unlink(st, run[i].nxt);
    }
    runs_set_in(st, i);
    runs_set_bd(st, i);
    if (run[i].prv != 0) runs_set_bd(st, run[i].prv); /* not the sentinel */
    return i;
}

static size_t bpe_runs_ids(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, tkm_bpe_work *w) {
#ifdef TKM_BPE_RUNS_SWITCH /* tests/bpe_tiny_blocks.c: off for the tests of the block heaps and windows */
    if (!TKM_BPE_RUNS_SWITCH) return RUNS_DECLINED;
#endif
    size_t r0 = 1;
    for (size_t i = 1; i < n; i++) r0 += p[i] != p[i - 1];
    if (r0 * TKM_BPE_RUNS_MIN_AVG > n || r0 > RUNS_MAX) return RUNS_DECLINED;
    /* each merge adds at most one run; 8 per initial run and 64 more (a run of c halves about
     * log2(c) times, leaving at most one odd token each time); a live run has at most two heap
     * entries, and stale ones come and go: past either bound the segment is declined */
    const size_t cap = 8 * r0 + 64 + 1, hcap = 4 * cap + 16;
    uint8_t *mem = (uint8_t *)work_get(w, cap * sizeof(bpe_run) + hcap * sizeof(uint64_t));
    if (!mem) return TKM_BPE_NOMEM;
    runs_state st = {v, (bpe_run *)(void *)mem, (uint64_t *)(void *)(mem + cap * sizeof(bpe_run)), 0, 0, cap, 0, 0};
    /* run 0: a sentinel before the first (no token, no pairs): every run has a left neighbour */
    bpe_run *run = st.run;
    run[0] = (bpe_run){TKM_RANK_NONE, 0, RUN_NONE, RUN_NONE, TKM_RANK_NONE, TKM_RANK_NONE};
    st.nrun = 1;
    uint32_t last = 0;
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && p[j] == p[i]; j++) {}
        last = runs_insert_after(&st, last, v->byte_ids[p[i]], (uint32_t)(j - i));
    }
    for (uint32_t i = run[0].nxt; i != RUN_NONE; i = run[i].nxt) {
        runs_set_in(&st, i);
        runs_set_bd(&st, i);
    }
    while (st.hlen) {
        const uint64_t top = st.heap[0];
        st.heap[0] = st.heap[--st.hlen];
        if (st.hlen) heap_sift_down(st.heap, st.hlen, 0);
        const uint32_t r = (uint32_t)(top >> 32), i = (uint32_t)top >> 1, kind = (uint32_t)top & 1u;
        if (run[i].cnt == 0 || (kind ? run[i].bd_r : run[i].in_r) != r) continue; /* stale */
        if (st.nrun + 2 > st.cap || st.hlen + 8 > hcap) return RUNS_DECLINED;
        st.floor = r;
        if (!kind) { /* c copies of T: c / 2 of the token r, then one T if c is odd */
            const uint32_t t = run[i].tok, c = run[i].cnt;
            if (c >= 3) { /* (TT, T) stands between the merges of the run: it must rank above r too */
                const uint32_t x = tkm_pair_find(v, r, t);
                if (x != TKM_RANK_NONE && x < r) return RUNS_DECLINED;
            }
            run[i].tok = r;
            run[i].cnt = c / 2;
            if (c & 1u) {
                const uint32_t o = runs_insert_after(&st, i, t, 1);
                runs_set_bd(&st, o); /* o's right neighbour held no T: runs were maximal */
            }
            (void)runs_settle(&st, i);
        } else { /* the last of run i and the first of the next: one token r between them */
            const uint32_t j = run[i].nxt;
            const uint32_t u = runs_insert_after(&st, i, r, 1);
            run[i].cnt--;
            run[j].cnt--;
            if (run[j].cnt == 0) runs_unlink(&st, j);
            else runs_set_in(&st, j);
            if (run[i].cnt == 0) runs_unlink(&st, i);
            else runs_set_in(&st, i);
            (void)runs_settle(&st, u);
        }
        if (st.bad) return RUNS_DECLINED;
    }
    size_t total = 0;
    for (uint32_t i = run[0].nxt; i != RUN_NONE; i = run[i].nxt) {
        if (out)
            for (uint32_t k = 0; k < run[i].cnt; k++) out[total + k] = run[i].tok;
        total += run[i].cnt;
    }
    return total;
}

/* ---- entry points -------------------------------------------------------------------------- */

/* One segment p[0..n) with no cut inside, n >= 1, on the id path: short ones take the array
 * algorithm, long ones the block heaps, longer ones the windows. */
static size_t bpe_segment_ids(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, tkm_bpe_work *w) {
    if (n == 1) {
        if (out) out[0] = v->byte_ids[p[0]];
        return 1;
    }
    if (n <= SMALL) return bpe_small_ids(v, p, n, out);
    const size_t m = bpe_runs_ids(v, p, n, out, w);
#ifdef TKM_BPE_ON_RUNS
    TKM_BPE_ON_RUNS(m != RUNS_DECLINED);
#endif
    if (m != RUNS_DECLINED) return m;
    return n > WIN_LEN ? bpe_windows_ids(v, p, n, out, w) : bpe_heap_ids(v, p, n, out, w);
}

/* A long piece on the id path: merged segment by segment between the cuts of vocab.h's inner2[]
 * (exact, see there), so a long piece that cuts into short segments needs no heap at all. */
static size_t bpe_long_ids(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, tkm_bpe_work *w) {
    size_t total = 0;
    for (size_t a = 0, i; a < n; a = i) {
        i = tkm_bpe_segment_end(v, p, a, n);
        size_t m = bpe_segment_ids(v, p + a, i - a, out ? out + total : NULL, w);
        if (m == TKM_BPE_NOMEM) return m;
        total += m;
    }
    return total;
}

size_t tkm_bpe_count_segment(const tkm_ranks *v, const uint8_t *p, size_t n, tkm_bpe_work *w) {
    return bpe_segment_ids(v, p, n, NULL, w);
}

static size_t bpe(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, tkm_bpe_work *w) {
    if (v->pairs) return n <= SMALL ? bpe_small_ids(v, p, n, out) : bpe_long_ids(v, p, n, out, w);
    return n <= SMALL ? bpe_small_bytes(v, p, n, out, NULL) : bpe_heap_bytes(v, p, n, out, NULL, w);
}

size_t tkm_bpe_count(const tkm_ranks *v, const uint8_t *p, size_t n, tkm_bpe_work *w) {
    if (n <= 1) return n;
    return bpe(v, p, n, NULL, w);
}

size_t tkm_bpe_encode(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, tkm_bpe_work *w) {
    if (n == 0) return 0;
    if (n == 1) {
        out[0] = tkm_ranks_find(v, p, 1);
        return 1;
    }
    return bpe(v, p, n, out, w);
}

size_t tkm_bpe_encode_bytes(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, size_t *last,
                            tkm_bpe_work *w) {
    if (n == 0) return 0;
    if (n == 1) {
        if (out) out[0] = tkm_ranks_find(v, p, 1);
        return 1;
    }
    return n <= SMALL ? bpe_small_bytes(v, p, n, out, last) : bpe_heap_bytes(v, p, n, out, last, w);
}

void tkm_bpe_work_release(tkm_bpe_work *w) {
    if (w->buf) w->dealloc(w->opaque, w->buf);
    w->buf = NULL;
    w->cap = 0;
}
