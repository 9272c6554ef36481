/*
 * bpe_batch.h - the batched merge of short pieces (tkm_bpe_count_batch, bpe.h), included once per
 * instruction set: by kernel/bpe.c for the scalar kernel, and by the arch/ kernels, which build
 * the same C with their own flags (arch/x86: -mavx2, -mavx512*) and hand it to count.c through
 * tkm_kernel.bpe_batch. The includer defines TKM_BPE_BATCH_NAME, the function's name (with
 * TKM_BPE_BATCH_STATIC it is static), and may define the two ISA hooks: TKM_BPE_MIN16, the least
 * of 16 keys, and TKM_BPE_PAIR_PROBE, the pair lookup from a computed slot; the C here is the
 * default for both. The minimum is where a per-ISA copy gains most: one vpminsd and a reduction,
 * against a select per key with the baseline's SSE2 (cachegrind, AVX2 copy, 2 MB of English: that
 * line 15.5M -> 2.5M instructions of 178M).
 * Tried and not kept (AMD EPYC Zen 5 VM; wall time there moves 5-15% run to run, so a change had to
 * show more than that, or fewer instructions and mispredicts at no cost):
 * - a pair cache, 32K direct-mapped words per tkm_work holding recent answers, misses included
 *   (70-90% hits over all pieces that need a merge): tkm_micro's batch stage 48 -> 40 ns per
 *   merge (avx2) and 59 -> 45 (avx512) in one run on 6 MB, but whole sets within the noise
 *   (tkm_time -n 3, best of 8 rounds: English 0.1001 / 0.1015 s, multilingual 0.2136 / 0.2080 s);
 *   not worth 256 KiB per work and its set-up;
 * - the lookups of a lane's merge made when the lane comes round again, a whole round after the
 *   prefetch instead of half a round: 40 -> 50 ns per merge (tkm_micro batch), worse;
 * - 32 lanes instead of 16: same-time ratios 1.00 (multilingual), 0.99 (English), 1.00 (code);
 * - the merge's loads (h, id[k], id[h]) before its stores: cachegrind +0.7% instructions, wall
 *   ratios 0.93 then 0.88 on English and 0.92 then 1.05 on multilingual - noise;
 * - no prefetch of the pair slots at all: a repeated 1 KB request (tkm_bench
 *   latency/o200k_base/english/1000) 4.2 -> 5.3 us, so it stays;
 * - lanes started from some 2-byte tokens already merged. Let a b be a token of rank r in a piece,
 *   x the byte before it and y the byte after. Until (a, b) is merged, only a merge forming a token
 *   that ends in x a or starts with b y touches its bytes; merged first, it could only meet tokens
 *   ending in x a b or starting with a b y. If all of those rank above r (and x a is not a b
 *   itself: the leftmost of equal pairs goes first), the merges before it are the same either way
 *   and the runs meet in the same state, so it may be merged at the start, and so may any set of
 *   disjoint such pairs. A 64K-entry table gave, per 2-byte token, the (at most two) bytes x and y
 *   that break it. In a Python simulation (o200k, 4000 pieces of each set that need a merge) these
 *   were 37% of the merges of English pieces, 43% of multilingual and 28% of code, with no count
 *   changed (nor on 30K random short strings, o200k, cl100k and r50k); corpus parity caught the tie
 *   case first (" alllink", r50k_base: go-stdlib119 proc.go 66924 tokens against 66922). Built, it
 *   cut the batch's merges of 2 MB of English from 243K to 137K (two counts), but a merge made at
 *   the start still needs the pair lookups of its neighbours, about 1.5 of them, as a merge does,
 *   plus a test per byte: the lane start grew from about 6M to 18M instructions, and the whole
 *   count went 146.6M -> 146.3M to 151.8M in three variants (multilingual 455.1M -> 438.7M at
 *   best). Wall ratios, serial runs on one core in alternating order, medians of 6: English 1.070
 *   and multilingual 1.045 with the lookups made in the lane start; English 1.008 and multilingual
 *   0.972 with them left, prefetched, for the round's lookup pass. Not kept.
 */
#ifndef TKM_BPE_BATCH_H
#define TKM_BPE_BATCH_H
#include <stdint.h>
#include <string.h>

#include "bpe.h"

/*
 * Batched counting (id path, pieces of 2..TKM_BPE_BATCH_MAX bytes). One piece's merge is a chain
 * of dependent lookups (merge -> two new pair lookups -> next merge), each an L3 access into the
 * pair table (4 MiB for o200k), so a single piece runs at memory latency however wide the core
 * is. Pieces are independent when only counted, so TKM_BPE_LANES of them advance in lockstep: in
 * each round every lane makes its piece's next merge and prefetches the slots of its two new
 * pairs; the lookups are made in a second pass over the lanes, by which time the lines are
 * (nearly) in. That overlaps the misses of different pieces instead of waiting on each in turn.
 * A lane whose piece is done takes the call's next piece (bpe.h has the measurements).
 */
/* A pair's key in the batch: rank << TKM_BPE_POS_BITS | position of its left part, so that the
 * least key is the leftmost lowest pair; KEY_NONE (no pair, or no part there) sorts last. Ranks
 * here are below TKM_PAIR_ID_LIMIT (2^21), so keys are non-negative 28-bit values, and
 * TKM_RANK_NONE is the only rank with its top bit set: its sign, spread over the word, makes the
 * key all ones, cut to INT32_MAX. Arithmetic, not a compare: after the vector pair probes, GCC turned
 * `rank == TKM_RANK_NONE ? KEY_NONE : ...` into a branch, taken about as often as not, which was
 * 23% of the mispredicted branches of an English count (cachegrind --branch-sim, tkm_time on 2 MB,
 * AVX2 kernel: 218K of 938K). */
#define KEY_NONE INT32_MAX
#define TKM_BPE_POS_BITS 7 /* a part's offset in a key: below TKM_BPE_BATCH_MAX = 2^7 */
#define TKM_BPE_POS_MASK ((1u << TKM_BPE_POS_BITS) - 1u)
static inline int32_t pair_key(uint32_t rank, uint32_t pos) {
    const uint32_t none = (uint32_t)((int32_t)rank >> 31); /* all ones iff rank is TKM_RANK_NONE */
    return (int32_t)((rank << TKM_BPE_POS_BITS | pos | none) & (uint32_t)INT32_MAX);
}

/* Part i's successor and predecessor before any merge (0xFF: none), copied in one go: with the
 * byte loop that wrote them, initialisation was a quarter of the batch's instructions on a 1 KB
 * request (cachegrind, tkm_time -n 1000 o200k_base on 1000 bytes of English: 66.1M -> 63.2M in
 * all; 2 MB of the English set 150.6M -> 146.1M, of the multilingual set 498.7M -> 487.4M). */
static const uint8_t iota_next[TKM_BPE_BATCH_MAX] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
    27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
    51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74,
    75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98,
    99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117,
    118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128};
static const uint8_t iota_prev[TKM_BPE_BATCH_MAX] = {
    0xFF, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
    25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72,
    73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96,
    97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115,
    116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126};

/* The least of the 16 keys K[0..16): the includer may define TKM_BPE_MIN16 with its vector
 * instructions. The C loop is for the scalar kernel, built for the baseline (SSE2 on x86-64, which
 * has no 32-bit minimum): there GCC -O2 makes it a select per key, and -O3 worse still (9.1M
 * instructions for 284K minima of 2 MB of English, against 2.6M for the AVX2 copy's). */
#ifndef TKM_BPE_MIN16
static inline int32_t tkm_bpe_min16(const int32_t *K) {
    int32_t best = KEY_NONE;
    for (uint32_t i = 0; i < 16; i++) best = K[i] < best ? K[i] : best;
    return best;
}
#define TKM_BPE_MIN16(K) tkm_bpe_min16(K)
#endif

/* The pair lookup from a slot computed (and prefetched) before: tkm_pair_probe, or the includer's
 * vector probe of several slots at once (arch/x86: TKM_BPE_PAIR_PROBE, same answers). */
#ifndef TKM_BPE_PAIR_PROBE
#define TKM_BPE_PAIR_PROBE(v, key, slot) tkm_pair_probe(v, key, slot)
#endif

/* Part SENT (one past the last possible offset) stands for "no part": it is part 0's predecessor,
 * and part n (the successor of the last) is one too. Their id, TKM_PAIR_ID_LIMIT, is no token's, so
 * a pair with a sentinel is found in no table and its key is KEY_NONE: a merge makes and looks up
 * both its new pairs without testing whether there is a part on each side. Those two tests, in
 * the merge and again at the lookup, were a third of the batch's mispredicted branches
 * (cachegrind --branch-sim, 2 MB of English: 310K of 928K). */
#define SENT TKM_BPE_BATCH_MAX

/* KEY_NONE sixteen times: the keys from a piece's last byte on (lane_start). */
static const int32_t key_none16[16] = {KEY_NONE, KEY_NONE, KEY_NONE, KEY_NONE, KEY_NONE, KEY_NONE,
                                       KEY_NONE, KEY_NONE, KEY_NONE, KEY_NONE, KEY_NONE, KEY_NONE,
                                       KEY_NONE, KEY_NONE, KEY_NONE, KEY_NONE};

/* A lane's arrays of keys and ids: one per byte and the sentinel's, and room for the 16 KEY_NONE
 * that lane_start writes from the last byte on. */
#define TKM_BPE_LANE_KEYS (TKM_BPE_BATCH_MAX + 16)

/* Lane state: piece p[0..n) as its bytes, the keys of their byte pairs, and KEY_NONE up to the
 * next multiple of 16 (*len16), so the minimum is taken over whole groups of 16 keys. The KEY_NONE
 * are 16 stores from the last byte on, not a loop to *len16: that loop's exit, its trip count
 * following the piece's length, was 7% of an English count's mispredicted branches (cachegrind
 * --branch-sim, tkm_time on 2 MB, AVX2 kernel: 695K -> 641K in all; multilingual 3.67M -> 3.53M;
 * instructions within 0.1%). Tried for the first loop too, against this: whole groups of 8 pairs
 * from byte indices clamped to the piece, English / multilingual mispredicts -5.6% / -2.0% for
 * +4.0% / +4.1% instructions; only the last group clamped, +4.9% / +4.1% instructions and more
 * mispredicts. Neither kept. */
static inline void lane_start(const tkm_ranks *v, const uint8_t *p, uint32_t n, int32_t *key, uint32_t *id,
                              uint8_t *nxt, uint8_t *prv, uint32_t *len16) {
    memcpy(nxt, iota_next, TKM_BPE_BATCH_MAX);
    memcpy(prv, iota_prev, TKM_BPE_BATCH_MAX);
    const uint32_t last = n - 1;
    for (uint32_t i = 0; i < last; i++) {
        id[i] = v->byte_ids[p[i]];
        key[i] = pair_key(v->pair2[p[i] | (uint32_t)p[i + 1] << 8], i);
    }
    id[last] = v->byte_ids[p[last]];
    id[n] = id[SENT] = TKM_PAIR_ID_LIMIT; /* the sentinel parts right of the last and left of the first */
    prv[0] = SENT;
    *len16 = (n + 15u) & ~15u;
    memcpy(key + last, key_none16, sizeof key_none16); /* keys last .. last + 15 >= *len16 - 1 */
}

#ifdef TKM_BPE_BATCH_STATIC
static
#endif
void TKM_BPE_BATCH_NAME(const tkm_ranks *v, const uint8_t *const *ps, const uint8_t *ns, size_t nb, uint32_t *counts) {
    /* Parts are named by the offset of their first byte and linked (nxt); keys stay at those
     * offsets, so a merge writes three keys instead of shifting the arrays, and the search for the
     * least key is a minimum over ceil(n / 16) groups of 16 (it was a compare-and-branch per pair,
     * and a shift per merge). Groups of 16, not of 8 as before: most pieces have 8 or fewer
     * bytes, the next most 9 to 16, lanes of both alternate, and the test of which one a lane
     * was is mispredicted (cachegrind --branch-sim, 2 MB of English: 108K of 928K mispredicts
     * in the batch). Tried for the longer pieces: fixed trips of 24 and 32 keys, and eight running
     * minima; no gain on the multilingual set (best of 3-4 interleaved rounds, within the noise). */
    int32_t key[TKM_BPE_LANES][TKM_BPE_LANE_KEYS]; /* [SENT] and above: written, never read */
    uint32_t id[TKM_BPE_LANES][TKM_BPE_LANE_KEYS];
    uint8_t nxt[TKM_BPE_LANES][TKM_BPE_BATCH_MAX], prv[TKM_BPE_LANES][TKM_BPE_BATCH_MAX + 1];
    uint32_t parts[TKM_BPE_LANES], at[TKM_BPE_LANES], len16[TKM_BPE_LANES];
    uint32_t piece[TKM_BPE_LANES];
    uint64_t rkey[TKM_BPE_LANES], lkey[TKM_BPE_LANES]; /* this round's new pairs: right, left of the merge */
    uint32_t rslot[TKM_BPE_LANES], lslot[TKM_BPE_LANES];
    uint8_t act[TKM_BPE_LANES], probe[TKM_BPE_LANES];
    size_t na = 0, next = 0;
    for (; na < TKM_BPE_LANES && next < nb; na++, next++) {
        lane_start(v, ps[next], ns[next], key[na], id[na], nxt[na], prv[na], &len16[na]);
        parts[na] = ns[next];
        piece[na] = (uint32_t)next;
        act[na] = (uint8_t)na;
    }
    while (na) {
        size_t keep = 0, np = 0;
        for (size_t t = 0; t < na; t++) {
            const size_t q = act[t];
            int32_t *K = key[q];
            int32_t best = TKM_BPE_MIN16(K);
            for (uint32_t g = 16; g < len16[q]; g += 16) {
                const int32_t b16 = TKM_BPE_MIN16(K + g);
                best = b16 < best ? b16 : best;
            }
            if (best == KEY_NONE) { /* done: the lane takes the next piece, if any, from the next round on */
                counts[piece[q]] = parts[q];
                if (next < nb) {
                    lane_start(v, ps[next], ns[next], K, id[q], nxt[q], prv[q], &len16[q]);
                    parts[q] = ns[next];
                    piece[q] = (uint32_t)next++;
                    act[keep++] = (uint8_t)q;
                }
                continue;
            }
            uint32_t i = (uint32_t)best & TKM_BPE_POS_MASK, j = nxt[q][i], k = nxt[q][j];
            const uint32_t t_id = (uint32_t)best >> TKM_BPE_POS_BITS;
            id[q][i] = t_id;
            K[j] = KEY_NONE;
            nxt[q][i] = (uint8_t)k;
            prv[q][k] = (uint8_t)i; /* k may be the sentinel n: then prv[n] is written, never read */
            rkey[q] = (uint64_t)t_id << 21 | id[q][k];
            rslot[q] = (uint32_t)tkm_pair_slot(v, rkey[q]);
            __builtin_prefetch(v->pairs + rslot[q]);
            const uint32_t h = prv[q][i];
            lkey[q] = (uint64_t)id[q][h] << 21 | t_id;
            lslot[q] = (uint32_t)tkm_pair_slot(v, lkey[q]);
            __builtin_prefetch(v->pairs + lslot[q]);
            parts[q]--;
            at[q] = i;
            act[keep++] = (uint8_t)q;
            probe[np++] = (uint8_t)q;
        }
        na = keep;
        /* the lookups, from the slots computed for the prefetches (they were computed twice: 1 KB
         * English request 63.2M -> 62.0M instructions, 2 MB of English 146.1M -> 144.2M, of the
         * multilingual set 487.4M -> 478.6M; cachegrind, tkm_time) */
        for (size_t t = 0; t < np; t++) {
            const size_t q = probe[t];
            const uint32_t i = at[q], h = prv[q][i];
            key[q][i] = pair_key(TKM_BPE_PAIR_PROBE(v, rkey[q], rslot[q]), i);
            key[q][h] = pair_key(TKM_BPE_PAIR_PROBE(v, lkey[q], lslot[q]), h);
        }
    }
}

#endif
