/*
 * parallel.h - the multi-threaded counter's tuning knobs (internal; the public entry points are
 * tkm_count_parallel, tkm_find_cut and tkm_count_batch in include/tokmeter.h).
 */
#ifndef TKM_PARALLEL_H
#define TKM_PARALLEL_H
#include <stddef.h>

#include "../include/tokmeter.h"

/* Defaults of tkm_count_parallel: the smallest piece a thread is given, and how far past each 1/n
 * boundary a safe cut is searched for before that boundary is dropped. */
#define TKM_PAR_MIN_SEGMENT ((size_t)256 << 10)
#define TKM_PAR_SEARCH_WINDOW ((size_t)1 << 20)
/* Pieces per thread: the text is cut into up to n_threads * this many pieces (each at least the
 * minimum), which the threads take in order as they finish (see parallel.c). */
#define TKM_PAR_PIECES_PER_THREAD 4u

/* tkm_count_parallel with explicit knobs (min_segment >= 1 byte, search_window >= 0 bytes past the
 * boundary, per_thread >= 1 pieces per thread), so tests can split small texts. *n_pieces (may be
 * NULL) = the pieces counted (1 when the text was counted whole, 0 when nothing was counted), at
 * most n_threads * per_thread. */
tkm_status tkm_count_parallel_tuned(const tkm_encoding *enc, const void *text, size_t len, unsigned n_threads,
                                    const tkm_options *opt, tkm_result *result, size_t min_segment,
                                    size_t search_window, unsigned per_thread, size_t *n_pieces);

#endif
