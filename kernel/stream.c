/*
 * stream.c - the incremental counter for input that arrives in chunks.
 *
 * Design notes. The pre-tokenizers are stateless between pieces (no look-behind): a piece is
 * determined by the text from its start onwards. So if p is a piece boundary of the whole text and
 * the pieces before p do not change when the text is cut at p, count(text) = count(text[0..p)) +
 * count(text[p..]). We only cut at such "safe" points, proven for all three pattern families (the
 * predicate is tkm_cut_is_safe in cut.c, shared with the multi-threaded counter, parallel.c):
 *   A. s[p-1] is an ASCII letter or digit and s[p] == ' ': the letter/digit run (or contraction)
 *      ending at p-1 ends there whatever follows, and nothing else can contain s[p-1].
 *   B. s[p-1] == '\n', s[p-2] is the last byte of a code point that is not whitespace, and s[p] starts
 *      a well-formed code point that is neither whitespace nor '/': the "\n" piece (or the
 *      [\r\n/]* tail of a punctuation run) ends at p both in the whole text and at the cut.
 * Both points are ASCII, so no UTF-8 sequence and no maximal ill-formed subsequence spans a cut,
 * and strict-mode offsets stay exact. In allow/reject special-token modes a cut must also not fall
 * inside a special-token string; built-in special tokens contain neither ' ' nor '\n', and for
 * others cutting is disabled. Memory is bounded by the longest stretch without a safe point.
 * Counting before the last cut is final: no later byte can change it.
 */
#include <stdlib.h>
#include <string.h>

#include "cut.h"
#include "encoding.h"

struct tkm_stream {
    const tkm_encoding *enc;
    uint32_t flags;
    int can_cut;
    tkm_work w;
    uint8_t *buf;
    size_t len, cap;
    size_t scanned; /* positions < scanned were already found not to be cuts */
    size_t base;    /* input bytes before buf[0] */
    size_t tokens;  /* final tokens so far */
    tkm_status err;
    size_t err_off;
};

TKM_API tkm_status tkm_stream_open(const tkm_encoding *enc, const tkm_options *opt, tkm_stream **out) {
    if (!out) return TKM_ERR_INVALID_ARGUMENT;
    *out = NULL;
    void *obj;
    uint32_t flags;
    tkm_work w;
    tkm_status st = tkm_object_open(enc, opt, sizeof(tkm_stream), &obj, &flags, &w);
    if (st != TKM_OK) return st;
    tkm_stream *s = (tkm_stream *)obj;
    s->enc = enc;
    s->flags = flags;
    s->can_cut = tkm_cut_allowed(enc, flags);
    s->w = w;
    *out = s;
    return TKM_OK;
}

static tkm_status run_part(tkm_stream *s, size_t n) {
    tkm_sink k = TKM_SINK_INIT(NULL, 0, s->buf);
    size_t off = 0;
    tkm_status st = tkm_run(s->enc, s->buf, n, s->flags, &s->w, &k, &off);
    if (st != TKM_OK) {
        s->err = st;
        s->err_off = s->base + off;
        return st;
    }
    s->tokens += k.n;
    return TKM_OK;
}

TKM_API tkm_status tkm_stream_feed(tkm_stream *s, const void *chunk, size_t len, size_t *final_tokens) {
    if (!s || (!chunk && len)) return TKM_ERR_INVALID_ARGUMENT;
    if (s->err != TKM_OK) return s->err;
    /* A chunk that could not be kept is lost input: the stream stays failed, so that finish can
     * never report the count of what came before as the total. */
    if (len > SIZE_MAX - s->len) return s->err = TKM_ERR_NO_MEMORY;
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 65536;
        while (cap < s->len + len) cap = cap > SIZE_MAX / 2 ? s->len + len : cap * 2;
        uint8_t *nb = (uint8_t *)s->w.bpe.alloc(s->w.bpe.opaque, cap);
        if (!nb) return s->err = TKM_ERR_NO_MEMORY;
        if (s->len) memcpy(nb, s->buf, s->len);
        if (s->buf) s->w.bpe.dealloc(s->w.bpe.opaque, s->buf);
        s->buf = nb;
        s->cap = cap;
    }
    if (len) memcpy(s->buf + s->len, chunk, len);
    s->len += len;
    if (s->can_cut && s->len >= 6) {
        const size_t lo = s->scanned > 2 ? s->scanned : 2;
        const size_t p = tkm_cut_last(s->buf, lo, s->len - 4, s->len, s->can_cut);
        if (p) {
            tkm_status st = run_part(s, p);
            if (st != TKM_OK) return st;
            memmove(s->buf, s->buf + p, s->len - p);
            s->len -= p;
            s->base += p;
        }
        s->scanned = s->len >= 4 ? s->len - 3 : 0;
    }
    if (final_tokens) *final_tokens = s->tokens;
    return TKM_OK;
}

TKM_API tkm_status tkm_stream_finish(tkm_stream *s, tkm_result *result) {
    if (!s || !result || result->struct_size < sizeof(tkm_result)) return TKM_ERR_INVALID_ARGUMENT;
    if (s->err == TKM_OK && s->len) {
        if (run_part(s, s->len) == TKM_OK) {
            s->base += s->len;
            s->len = 0;
        }
    }
    result->tokens = s->err == TKM_OK ? s->tokens : 0;
    result->bytes = s->base;
    result->error_offset = s->err == TKM_OK ? 0 : s->err_off;
    return s->err;
}

TKM_API void tkm_stream_free(tkm_stream *s) {
    if (!s) return;
    if (s->buf) s->w.bpe.dealloc(s->w.bpe.opaque, s->buf);
    tkm_object_free(&s->w, s);
}
