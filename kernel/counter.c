/*
 * counter.c - the reusable counter: one tkm_work kept from call to call (see tokmeter.h).
 *
 * Design notes. tkm_count_ex sets up and releases a tkm_work in every call, so a short request
 * never has a piece cache (count.c allocates it only after TKM_PCACHE_AFTER bytes of one call)
 * and every piece that is not one token is merged again, request after request. A counter keeps
 * the work, piece cache included, across calls: the cache is keyed by a piece's bytes and compared
 * in full, and holds BPE counts, which depend on neither the text around a piece nor the options,
 * so a hit is the count the merge would give and the results stay those of tkm_count_ex. tkm_run
 * resets the per-call state itself (the deferred batch, the mode); the stream (stream.c) has
 * relied on that from chunk to chunk since it was written. What is not kept: scratch above
 * TKM_COUNTER_KEEP, grown by one long piece - a worker that once met a 10 MB pre-token should not
 * hold its merge memory for the rest of its life.
 */

#include "encoding.h"

/* Scratch kept between calls, per buffer (see the design notes). */
#define TKM_COUNTER_KEEP ((size_t)1 << 20)

struct tkm_counter {
    const tkm_encoding *enc;
    uint32_t flags;
    tkm_work w;
};

TKM_API tkm_status tkm_counter_open(const tkm_encoding *enc, const tkm_options *opt, tkm_counter **out) {
    if (!out) return TKM_ERR_INVALID_ARGUMENT;
    *out = NULL;
    void *obj;
    uint32_t flags;
    tkm_work w;
    tkm_status st = tkm_object_open(enc, opt, sizeof(tkm_counter), &obj, &flags, &w);
    if (st != TKM_OK) return st;
    tkm_counter *c = (tkm_counter *)obj;
    c->enc = enc;
    c->flags = flags;
    c->w = w;
    *out = c;
    return TKM_OK;
}

static tkm_status counter_count(tkm_counter *c, const void *text, size_t len, size_t limit, tkm_result *result) {
    if (!c) return TKM_ERR_INVALID_ARGUMENT;
    uint32_t none; /* the options were checked at open: the counter's flags are c->flags */
    tkm_status st = tkm_check_count_args(c->enc, text, len, NULL, result, &none);
    if (st != TKM_OK || len == 0) return st;
    st = tkm_count_with(c->enc, &c->w, text, len, limit, c->flags, result, NULL);
    tkm_work_trim(&c->w, TKM_COUNTER_KEEP);
    return st;
}

TKM_API tkm_status tkm_counter_count(tkm_counter *c, const void *text, size_t len, tkm_result *result) {
    return counter_count(c, text, len, SIZE_MAX, result);
}

TKM_API tkm_status tkm_counter_count_limit(tkm_counter *c, const void *text, size_t len, size_t limit,
                                           tkm_result *result) {
    if (limit == SIZE_MAX) limit = SIZE_MAX - 1; /* SIZE_MAX is the internal "no limit", as in tkm_count_limit */
    return counter_count(c, text, len, limit, result);
}

TKM_API void tkm_counter_free(tkm_counter *c) {
    if (c) tkm_object_free(&c->w, c);
}
