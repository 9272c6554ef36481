/*
 * parallel.c - counting on several threads: one large text cut at safe points, or a batch of
 * independent texts.
 *
 * Design notes.
 * - Exactness comes from cut.c: a text is cut only where counting the parts separately provably
 *   gives the count of the whole, so the sum of the parts' counts is the one-shot count. The
 *   cuts are chosen before any thread starts, by scanning forward from each 1/n boundary for at
 *   most a search window (1 MiB): ordinary text has a safe point every few bytes, and a text
 *   without one nearby (a very long pre-token) is simply cut into fewer pieces. Each piece then
 *   runs the unchanged scalar driver (tkm_run), so no new counting code exists here.
 * - Errors. Cuts split neither UTF-8 sequences nor special-token strings, so the problem a piece
 *   reports is where the one-shot would find it, and the earliest problem of the whole text is the
 *   one of the lowest-index piece that fails (later pieces are still counted; they cannot be
 *   stopped cheaply and errors are rare). One exception needs care: in strict mode the one-shot
 *   validates the whole text before counting anything, so a failure that is not about the text
 *   (out of memory, a 2 GiB pre-token) in piece i must give way to an invalid byte in a later
 *   piece; that case re-checks the rest of the text as the one-shot would (cheap: an invalid text
 *   is rejected before counting).
 * - Threads are started and joined within each call: a pool would be global state, and thread
 *   start-up (~20-50 us) is small next to the 256 KiB minimum piece (~1-3 ms of counting). A
 *   thread that cannot be started costs speed, not correctness: the calling thread takes part
 *   too and counts whatever is left. For the same reason a failed allocation of the small
 *   bookkeeping arrays falls back to counting on one thread.
 * - Load balance. The text is cut into up to TKM_PAR_PIECES_PER_THREAD pieces per thread, and each
 *   thread takes the next piece from an atomic counter when it is done with one, keeping one
 *   tkm_work (and its warm piece cache) throughout. One piece per thread (as before) waits for
 *   the slowest: equal bytes are not equal work (the halves of the English set took 76 and 82 ms,
 *   bench/tkm_time), and a second core shared with the hypervisor may stall mid-piece.
 * - Batches: workers take the next item from an atomic counter (items differ in size, so static
 *   partitioning would leave threads idle) and keep one tkm_work each, so the per-call scratch
 *   allocations of tkm_count_ex are paid once per thread, not once per request.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "cut.h"
#include "encoding.h"
#include "parallel.h"

#define BATCH_BYTES_PER_THREAD ((size_t)64 << 10)

/* The CPUs this process may run on (its affinity mask), else the online CPUs, else 1. */
static unsigned available_cpus(void) {
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int c = CPU_COUNT(&set);
        if (c > 0) return (unsigned)c;
    }
#endif
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (unsigned)c : 1u;
}

static unsigned resolve_threads(unsigned n_threads) {
    unsigned n = n_threads ? n_threads : available_cpus();
    return n > TKM_MAX_THREADS ? TKM_MAX_THREADS : n;
}

/* Runs `thread(arg)` on `extra` new threads (those that can be started; ids and started flags in
 * tids[] and started[]) and on the calling thread, and joins them. The work is shared out by an
 * atomic counter inside arg, so the calling thread returns only when every unit is taken, and a
 * thread that failed to start took none. */
static void run_on_threads(void *(*thread)(void *), void *arg, size_t extra, pthread_t *tids, unsigned char *started) {
    for (size_t t = 0; t < extra; t++) started[t] = pthread_create(&tids[t], NULL, thread, arg) == 0;
    (void)thread(arg);
    for (size_t t = 0; t < extra; t++)
        if (started[t]) pthread_join(tids[t], NULL);
}

/* ---- one large text --------------------------------------------------------------------------- */

/* The pieces of one text, taken in order by the threads from an atomic counter (design notes: Load
 * balance). */
typedef struct seg_result {
    tkm_status st;
    size_t tokens;
    size_t err_off; /* from the piece's start */
} seg_result;

typedef struct seg_ctx {
    const tkm_encoding *enc;
    const tkm_options *opt;
    uint32_t flags;
    const uint8_t *s;
    size_t len;
    const size_t *starts; /* k piece starts, starts[0] = 0 */
    size_t k;
    seg_result *res;
    atomic_size_t next;
} seg_ctx;

static void seg_work(seg_ctx *c) {
    tkm_work w;
    tkm_work_init(&w, c->opt);
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
        if (i >= c->k) break;
        const uint8_t *t = c->s + c->starts[i];
        size_t tn = (i + 1 < c->k ? c->starts[i + 1] : c->len) - c->starts[i];
        tkm_sink k = TKM_SINK_INIT(NULL, 0, t);
        size_t off = 0;
        c->res[i].st = tkm_run(c->enc, t, tn, c->flags, &w, &k, &off);
        c->res[i].tokens = k.n;
        c->res[i].err_off = off;
    }
    tkm_work_release(&w);
}

static void *seg_thread(void *arg) {
    seg_work((seg_ctx *)arg);
    return NULL;
}

/* Piece starts (starts[0] = 0) for up to `want` pieces of s[0..n); returns how many. */
static size_t plan_cuts(const uint8_t *s, size_t n, unsigned want, size_t min_seg, size_t window, size_t *starts,
                        int level) {
    size_t k = 1, prev = 0;
    starts[0] = 0;
    if (n < 6) return 1;
    for (unsigned i = 1; i < want; i++) {
        size_t target = (n / want) * i + (n % want) * i / want;
        if (min_seg > n - prev) break;
        size_t lo = target > prev + min_seg ? target : prev + min_seg;
        if (lo < 2) lo = 2;
        if (lo > n - 4) break;
        size_t hi = window < n - 4 - lo ? lo + window : n - 4;
        size_t p = tkm_cut_first(s, lo, hi, n, level);
        if (!p) continue; /* no safe point near this boundary: one piece fewer */
        if (n - p < min_seg) break;
        starts[k++] = p;
        prev = p;
    }
    return k;
}

tkm_status tkm_count_parallel_tuned(const tkm_encoding *enc, const void *text, size_t len, unsigned n_threads,
                                    const tkm_options *opt, tkm_result *result, size_t min_segment,
                                    size_t search_window, unsigned per_thread, size_t *n_pieces) {
    if (n_pieces) *n_pieces = 0;
    uint32_t flags;
    tkm_status st = tkm_check_count_args(enc, text, len, opt, result, &flags);
    if (st != TKM_OK || len == 0) return st;
    if (min_segment == 0) min_segment = 1;
    if (per_thread == 0) per_thread = 1;

    const unsigned threads = resolve_threads(n_threads);
    size_t want = threads > 1 ? (size_t)threads * per_thread : 1; /* one thread: no cuts at all */
    if (len / want < min_segment) want = len / min_segment > 1 ? len / min_segment : 1;
    size_t *starts = NULL, k = 1;
    seg_result *res = NULL;
    pthread_t *tids = NULL;
    unsigned char *started = NULL;
    tkm_work mem; /* only for its allocator pair */
    tkm_work_init(&mem, opt);
    int level = tkm_cut_allowed(enc, flags);
    if (want > 1 && level != TKM_CUT_NONE) {
        /* one block: the results, the starts, the thread ids and their started flags */
        size_t bytes = want * (sizeof(seg_result) + sizeof(size_t) + sizeof(pthread_t) + 1);
        res = (seg_result *)mem.bpe.alloc(mem.bpe.opaque, bytes);
        if (res) {
            starts = (size_t *)(void *)(res + want);
            tids = (pthread_t *)(void *)(starts + want);
            started = (unsigned char *)(tids + want);
            k = plan_cuts((const uint8_t *)text, len, (unsigned)want, min_segment, search_window, starts, level);
        }
    }
    if (k <= 1) {
        if (res) mem.bpe.dealloc(mem.bpe.opaque, res);
        if (n_pieces) *n_pieces = 1;
        return tkm_count_ex(enc, text, len, opt, result);
    }

    const uint8_t *s = (const uint8_t *)text;
    seg_ctx c;
    memset(&c, 0, sizeof c);
    c.enc = enc;
    c.opt = opt;
    c.flags = flags;
    c.s = s;
    c.len = len;
    c.starts = starts;
    c.k = k;
    c.res = res;
    atomic_init(&c.next, 0);
    run_on_threads(seg_thread, &c, (threads < k ? threads : k) - 1, tids, started);

    size_t total = 0, bad = k;
    for (size_t i = 0; i < k && bad == k; i++) {
        if (res[i].st != TKM_OK) bad = i;
        else total += res[i].tokens;
    }
    if (n_pieces) *n_pieces = k;
    if (bad == k) {
        result->tokens = total;
        result->bytes = len;
    } else {
        st = res[bad].st;
        size_t off = starts[bad] + res[bad].err_off;
        if ((flags & TKM_UTF8_STRICT) && st != TKM_ERR_INVALID_UTF8 && st != TKM_ERR_SPECIAL_TOKEN) {
            /* the one-shot would have rejected an invalid text before counting (design notes) */
            const uint8_t *t = s + starts[bad];
            size_t tn = len - starts[bad];
            if (tkm_utf8_first_invalid(t, tn) < tn) {
                tkm_work w;
                tkm_work_init(&w, opt);
                tkm_sink sk = TKM_SINK_INIT(NULL, 0, t);
                size_t o = 0;
                st = tkm_run(enc, t, tn, flags, &w, &sk, &o);
                tkm_work_release(&w);
                off = starts[bad] + o;
            }
        }
        result->error_offset = off;
    }
    mem.bpe.dealloc(mem.bpe.opaque, res);
    return st;
}

TKM_API tkm_status tkm_count_parallel(const tkm_encoding *enc, const void *text, size_t len, unsigned n_threads,
                                      const tkm_options *opt, tkm_result *result) {
    return tkm_count_parallel_tuned(enc, text, len, n_threads, opt, result, TKM_PAR_MIN_SEGMENT,
                                    TKM_PAR_SEARCH_WINDOW, TKM_PAR_PIECES_PER_THREAD, NULL);
}

TKM_API tkm_status tkm_find_cut(const tkm_encoding *enc, const void *text, size_t len, size_t from,
                                const tkm_options *opt, size_t *cut) {
    tkm_status st = tkm_check_handle(enc);
    if (st != TKM_OK) return st;
    if (!cut || (!text && len)) return TKM_ERR_INVALID_ARGUMENT;
    uint32_t flags;
    if ((st = tkm_check_options(opt, &flags)) != TKM_OK) return st;
    *cut = 0;
    int level = tkm_cut_allowed(enc, flags);
    if (len < 6 || level == TKM_CUT_NONE) return TKM_OK;
    *cut = tkm_cut_last((const uint8_t *)text, from < 2 ? 2 : from, len - 4, len, level);
    return TKM_OK;
}

/* ---- a batch of texts ------------------------------------------------------------------------- */

typedef struct batch_ctx {
    const tkm_encoding *enc;
    const tkm_options *opt;
    uint32_t flags;
    const unsigned char *items;
    size_t in_stride;
    unsigned char *out;
    size_t out_stride;
    size_t n;
    atomic_size_t next;
} batch_ctx;

static tkm_item_result *item_out(const batch_ctx *b, size_t i) {
    return (tkm_item_result *)(void *)(b->out + i * b->out_stride);
}

static void batch_one(const batch_ctx *b, tkm_work *w, size_t i) {
    const tkm_text *it = (const tkm_text *)(const void *)(b->items + i * b->in_stride);
    tkm_item_result *r = item_out(b, i);
    r->struct_size = b->out_stride;
    r->tokens = 0;
    r->error_offset = 0;
    r->status = TKM_OK;
    if (it->struct_size != b->in_stride || (!it->data && it->len)) {
        r->status = TKM_ERR_INVALID_ARGUMENT;
        return;
    }
    if (it->len == 0) return;
    tkm_sink k = TKM_SINK_INIT(NULL, 0, it->data);
    size_t off = 0;
    r->status = tkm_run(b->enc, (const uint8_t *)it->data, it->len, b->flags, w, &k, &off);
    if (r->status == TKM_OK) r->tokens = k.n;
    else r->error_offset = off;
}

static void batch_work(batch_ctx *b) {
    tkm_work w;
    tkm_work_init(&w, b->opt);
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&b->next, 1, memory_order_relaxed);
        if (i >= b->n) break;
        batch_one(b, &w, i);
    }
    tkm_work_release(&w);
}

static void *batch_thread(void *arg) {
    batch_work((batch_ctx *)arg);
    return NULL;
}

TKM_API tkm_status tkm_count_batch(const tkm_encoding *enc, const tkm_text *items, size_t n_items,
                                   unsigned n_threads, const tkm_options *opt, tkm_item_result *out) {
    if (n_items == 0) {
        tkm_status st = tkm_check_handle(enc);
        uint32_t flags;
        return st != TKM_OK ? st : tkm_check_options(opt, &flags);
    }
    if (!out) return TKM_ERR_INVALID_ARGUMENT;
    size_t out_stride = out->struct_size;
    if (out_stride < sizeof(tkm_item_result) || out_stride % _Alignof(tkm_item_result) ||
        n_items > SIZE_MAX / out_stride)
        return TKM_ERR_INVALID_ARGUMENT;

    batch_ctx b;
    memset(&b, 0, sizeof b);
    b.enc = enc;
    b.opt = opt;
    b.out = (unsigned char *)out;
    b.out_stride = out_stride;
    b.n = n_items;
    tkm_status st = tkm_check_handle(enc);
    if (st == TKM_OK) st = tkm_check_options(opt, &b.flags);
    if (st == TKM_OK && (!items || items->struct_size < sizeof(tkm_text) || items->struct_size % _Alignof(tkm_text) ||
                         n_items > SIZE_MAX / items->struct_size))
        st = TKM_ERR_INVALID_ARGUMENT;
    if (st != TKM_OK) {
        for (size_t i = 0; i < n_items; i++) {
            tkm_item_result *r = item_out(&b, i);
            r->struct_size = out_stride;
            r->status = st;
            r->tokens = 0;
            r->error_offset = 0;
        }
        return st;
    }
    b.items = (const unsigned char *)items;
    b.in_stride = items->struct_size;
    atomic_init(&b.next, 0);

    /* about one thread per 64 KiB of text: below that, starting a thread costs more than it saves */
    size_t bytes = 0;
    for (size_t i = 0; i < n_items; i++) {
        size_t l = ((const tkm_text *)(const void *)(b.items + i * b.in_stride))->len;
        bytes = l > SIZE_MAX - bytes ? SIZE_MAX : bytes + l;
    }
    size_t want = resolve_threads(n_threads);
    if (want > n_items) want = n_items;
    if (want > 1 + bytes / BATCH_BYTES_PER_THREAD) want = 1 + bytes / BATCH_BYTES_PER_THREAD;

    pthread_t *tids = NULL;
    unsigned char *started = NULL;
    tkm_work mem; /* only for its allocator pair */
    tkm_work_init(&mem, opt);
    if (want > 1) {
        tids = (pthread_t *)mem.bpe.alloc(mem.bpe.opaque, want * (sizeof(pthread_t) + 1));
        if (tids) started = (unsigned char *)(tids + want);
    }
    run_on_threads(batch_thread, &b, tids ? want - 1 : 0, tids, started);
    if (tids) mem.bpe.dealloc(mem.bpe.opaque, tids);

    for (size_t i = 0; i < n_items; i++)
        if (item_out(&b, i)->status != TKM_OK) return item_out(&b, i)->status;
    return TKM_OK;
}
