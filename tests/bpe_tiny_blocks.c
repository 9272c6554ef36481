/* bpe_tiny_blocks.c - kernel/bpe.c compiled a second time with 8-position blocks and the least room a block heap can have (so a piece of a
 * few hundred bytes spans dozens of block heaps, entries cross blocks, and full block heaps are
 * compacted), 40-byte windows and 4 remembered ones (so such a piece is stitched from dozens of
 * windows, repeated windows are reused, and some junctions do not stand) and under other names, for tests/test_bpe.c: the block-heap bookkeeping
 * and the window stitching of the long-piece merge are exercised on inputs small enough for the
 * reference. */
#include <stddef.h>
size_t tkm_bpe_tiny_compactions, tkm_bpe_tiny_windows, tkm_bpe_tiny_restarts, tkm_bpe_tiny_memo_hits;
size_t tkm_bpe_tiny_runs_taken, tkm_bpe_tiny_runs_declined;
int tkm_bpe_tiny_runs_on = 1; /* the merge of runs (bpe.c); the tests of the heaps turn it off */
#define TKM_BPE_RUNS_SWITCH tkm_bpe_tiny_runs_on
#define TKM_BPE_ON_RUNS(taken) ((taken) ? tkm_bpe_tiny_runs_taken++ : tkm_bpe_tiny_runs_declined++)
#define TKM_BPE_BLK_BITS 3
#define TKM_BPE_BLK_SLACK 1u
#define TKM_BPE_ON_COMPACT (tkm_bpe_tiny_compactions++)
#define TKM_BPE_WIN 24u
#define TKM_BPE_WIN_OVER 16u
#define TKM_BPE_ON_WINDOW (tkm_bpe_tiny_windows++)
#define TKM_BPE_ON_RESTART (tkm_bpe_tiny_restarts++)
#define TKM_BPE_WIN_MEMO 4u
#define TKM_BPE_ON_MEMO (tkm_bpe_tiny_memo_hits++)
#define tkm_bpe_count tkm_bpe_tiny_count
#define tkm_bpe_count_segment tkm_bpe_tiny_count_segment
#define tkm_bpe_encode tkm_bpe_tiny_encode
#define tkm_bpe_encode_bytes tkm_bpe_tiny_encode_bytes
#define tkm_bpe_count_batch tkm_bpe_tiny_count_batch
#define tkm_bpe_work_release tkm_bpe_tiny_work_release
#include "../kernel/bpe.c"
