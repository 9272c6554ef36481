/*
 * bpe.h - exact byte-pair merge with tiktoken semantics (internal).
 *
 * Semantics (tiktoken's byte_pair_merge): start from single bytes; repeatedly merge the adjacent
 * pair whose concatenated bytes have the lowest rank (ties: the leftmost pair) until no adjacent
 * pair is a token. The caller first looks the whole piece up (one token if present).
 */
#ifndef TKM_BPE_H
#define TKM_BPE_H
#include <stddef.h>
#include <stdint.h>
#include "vocab.h"

/* Scratch memory for long pieces, reused across calls; all allocation goes through the hooks. */
typedef struct tkm_bpe_work {
    void *(*alloc)(void *opaque, size_t size);
    void (*dealloc)(void *opaque, void *ptr);
    void *opaque;
    void *buf;
    size_t cap;
} tkm_bpe_work;

#define TKM_BPE_NOMEM ((size_t)-1)

/* Tokens in piece p[0..n), n >= 1, not looked up whole. Returns TKM_BPE_NOMEM if scratch memory
 * could not be had. With v->pairs: O(n) time and memory bounded by a constant (about 2 MiB;
 * segments of more than 65 KiB are merged in windows, see bpe.c), unless a window junction fails
 * its check: then O(n log n) time and O(n) memory for that segment. Without: O(n log n), O(n). */
size_t tkm_bpe_count(const tkm_ranks *v, const uint8_t *p, size_t n, tkm_bpe_work *w);

/* Same, writing the ranks of the tokens to out[0..n) (n is an upper bound on the tokens). */
size_t tkm_bpe_encode(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, tkm_bpe_work *w);

/* tkm_bpe_count of a segment p[0..n), n >= 1, that has no BPE cut inside
 * (tkm_bpe_segment_end(v, p, 0, n) == n, vocab.h), without scanning it for cuts again; needs
 * v->pairs. */
size_t tkm_bpe_count_segment(const tkm_ranks *v, const uint8_t *p, size_t n, tkm_bpe_work *w);

/* Counts of nb <= TKM_BPE_BATCH pieces ps[q][0..ns[q]), 2 <= ns[q] <= TKM_BPE_BATCH_MAX, into
 * counts[q]; needs v->pairs. Same results as tkm_bpe_count, with the pieces' lookups overlapped:
 * TKM_BPE_LANES pieces are merged in lockstep (kernel/bpe_batch.h), and a lane whose piece is done
 * takes the next at once. Before (16 pieces a call, all started together and the call over when
 * the longest was done), a round had 4.5 pieces on average still merging (English set: 321K rounds
 * for 1.44M merges), so most of the overlap was lost to the wait for the longest piece. Measured
 * on AMD EPYC (Zen 5), interleaved tkm_time -n 3 o200k_base, whole sets, best of 3 rounds: English
 * 0.0833 -> 0.0799 s, code 0.0403 -> 0.0373 s, chat 0.0174 -> 0.0169 s, multilingual 0.195 -> 0.193 s
 * (32 lanes: multilingual 0.181 s, code 0.041 s, English 0.0795 s - no better overall). Every
 * kernel has its own copy (tkm_kernel.bpe_batch, see bpe_batch.h); this one is the scalar's.
 * Tried: 256 pieces per flush, so that fewer rounds run with idle lanes at a flush's end.
 * cachegrind (tkm_time on 2 MB, AVX2): English +0.9% instructions and -2.3% mispredicts,
 * multilingual +2.0% and -1.3%. Same-time wall ratios (new/old, median of 8): English 0.977,
 * multilingual 0.986, within the noise. Not kept.
 * TKM_BPE_BATCH_MAX 128, up from 64: the segments of 65-128 bytes between BPE cuts (words of
 * Cyrillic, Greek, Thai, runs of CJK) had gone one at a time to the heap merge (bpe.c), whose pair
 * lookups wait on each other: 12% of a multilingual count (perf). In the lanes their misses
 * overlap, for a minimum over up to 8 groups of 16 keys per merge. cachegrind (AVX2, tkm_time -n 1
 * o200k_base, 2 MB): multilingual 432.7M -> 429.7M instructions, 3.09M -> 2.66M mispredicted
 * branches; English within 0.2%. Serial runs on one core in alternating order, whole sets,
 * medians of 6-10: multilingual 0.902, English 0.994, code 0.997, chat 0.995, adversarial 0.999.
 * The batch's arrays on the stack grew from about 12 to 23 KiB. The one-piece merge of bpe.c
 * (bpe_small_ids, encode and single pieces) keeps 64. Re-tried with it: 24 lanes against 16
 * (the same runs, medians of 8): multilingual 0.976, English 0.995, code 0.998, for half as much
 * stack again; not kept. */
#define TKM_BPE_BATCH 64
#define TKM_BPE_LANES 16
#define TKM_BPE_BATCH_MAX 128
void tkm_bpe_count_batch(const tkm_ranks *v, const uint8_t *const *ps, const uint8_t *ns, size_t nb,
                         uint32_t *counts);

/* The reference (bytes) path, whatever tables v has: ranks to out (may be NULL); *last (may be
 * NULL) gets the byte offset where the last merge joined its two parts (unchanged if none). Used
 * to build v->pairs and by tests. */
size_t tkm_bpe_encode_bytes(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, size_t *last,
                            tkm_bpe_work *w);

/* Release the scratch memory of w. */
void tkm_bpe_work_release(tkm_bpe_work *w);

#endif
