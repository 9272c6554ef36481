/*
 * test_counter.c - a reusable counter (tkm_counter) gives tkm_count_ex's / tkm_count_limit's answer
 * for every text, whatever it counted before; its memory goes through the allocator hook and stays
 * bounded between calls.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "tokmeter.h"

static oracle_rng rng = {0x2545F4914F6CDD1Dull};
static size_t rnd(size_t m) { return oracle_rng_below(&rng, (uint32_t)m); }

/* One text through the counter and through tkm_count_ex (limit SIZE_MAX) or tkm_count_limit: the
 * same status, tokens, bytes and error offset. Returns the one-shot's status. */
static tkm_status check_one(tkm_counter *c, const tkm_encoding *e, const tkm_options *o, const char *what,
                            const void *s, size_t n, size_t limit) {
    tkm_result want = {sizeof want, 0, 0, 0}, got = {sizeof got, 7, 7, 7};
    tkm_status ws, gs;
    if (limit == SIZE_MAX) {
        ws = tkm_count_ex(e, s, n, o, &want);
        gs = tkm_counter_count(c, s, n, &got);
    } else {
        ws = tkm_count_limit(e, s, n, limit, o, &want);
        gs = tkm_counter_count_limit(c, s, n, limit, &got);
    }
    cr_assert_eq(gs, ws, "%s (%zu bytes, limit %zu): status %d, one-shot %d", what, n, limit, gs, ws);
    cr_assert_eq(got.tokens, want.tokens, "%s (%zu bytes, limit %zu): %zu tokens, one-shot %zu", what, n, limit,
                 got.tokens, want.tokens);
    cr_assert_eq(got.bytes, want.bytes, "%s (%zu bytes, limit %zu): bytes", what, n, limit);
    cr_assert_eq(got.error_offset, want.error_offset, "%s (%zu bytes, limit %zu): error offset", what, n, limit);
    return ws;
}

static const char *encs[] = {"o200k_base", "cl100k_base", "r50k_base"};

/* Every corpus file through one counter per encoding: whole, then as requests of 1000 bytes cut
 * anywhere (inside UTF-8 sequences too, so some requests are ill-formed), then whole again, when
 * the piece cache holds the file's pieces. */
Test(counter, corpus_one_counter_for_everything, .timeout = 900) {
    size_t n_files = 0, requests = 0;
    char **files = oracle_list_files(TKM_CORPUS_DIR, &n_files);
    if (!files) cr_skip_test("corpus not found at %s: counter parity not checked", TKM_CORPUS_DIR);
    for (size_t k = 0; k < 3; k++) {
        tkm_encoding *e = NULL;
        cr_assert_eq(tkm_encoding_open(encs[k], &e), TKM_OK);
        tkm_counter *c = NULL;
        cr_assert_eq(tkm_counter_open(e, NULL, &c), TKM_OK);
        cr_assert_not_null(c);
        for (size_t f = 0; f < n_files; f++) {
            if (strstr(files[f], "MANIFEST")) continue;
            size_t n;
            char *s = (char *)oracle_read_file(files[f], &n);
            cr_assert_not_null(s, "%s", files[f]);
            check_one(c, e, NULL, files[f], s, n, SIZE_MAX);
            for (size_t at = 0; at < n && at < ((size_t)1 << 20); at += 1000, requests++)
                check_one(c, e, NULL, files[f], s + at, n - at < 1000 ? n - at : 1000, SIZE_MAX);
            check_one(c, e, NULL, files[f], s, n, SIZE_MAX);
            free(s);
        }
        tkm_counter_free(c);
        tkm_encoding_free(e);
    }
    for (size_t f = 0; f < n_files; f++) free(files[f]);
    free(files);
    cr_assert_geq(n_files, 150, "expected the whole corpus, found %zu files", n_files);
    cr_assert_geq(requests, 3 * 10000, "only %zu requests", requests);
}

/* Texts with special-token strings, ill-formed UTF-8, long runs and short words, counted in a
 * random order by one counter per option set, with and without limits. */
Test(counter, options_limits_and_mixed_texts) {
    static const char *parts[] = {"Hello world, it's   a test.\n", "<|endoftext|>", "x\xFF\xFEy \xE4\xB8\xAD\xE6",
                                  "unbelievably", " 12345678 ", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
                                  "<|fim_prefix|>", "  \n\n  ", "don't STOP'LL", "\xC3\xA9t\xC3\xA9"};
    static const uint32_t flags[] = {0,
                                     TKM_UTF8_STRICT,
                                     TKM_SPECIAL_ALLOW,
                                     TKM_SPECIAL_REJECT,
                                     TKM_SPECIAL_ALLOW | TKM_UTF8_STRICT,
                                     TKM_SPECIAL_REJECT | TKM_UTF8_STRICT};
    size_t statuses[32] = {0};
    for (size_t k = 0; k < 3; k++) {
        tkm_encoding *e = NULL;
        cr_assert_eq(tkm_encoding_open(encs[k], &e), TKM_OK);
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
            tkm_options o = {sizeof o, flags[f], 0, NULL};
            tkm_counter *c = NULL;
            cr_assert_eq(tkm_counter_open(e, &o, &c), TKM_OK);
            for (int trial = 0; trial < 400; trial++) {
                char buf[4096];
                size_t n = 0, np = 1 + rnd(trial < 300 ? 12 : 200);
                for (size_t i = 0; i < np; i++) {
                    const char *p = parts[rnd(sizeof parts / sizeof parts[0])];
                    size_t pl = strlen(p);
                    if (n + pl > sizeof buf) break;
                    memcpy(buf + n, p, pl);
                    n += pl;
                }
                if (trial % 50 == 49) /* a long run: one piece through the long-piece merge */
                    for (; n < sizeof buf; n++) buf[n] = 'z';
                size_t limit = trial % 3 == 0 ? SIZE_MAX : rnd(n + 2);
                tkm_status st = check_one(c, e, &o, "mixed", buf, n, limit);
                statuses[st & 31]++;
            }
            tkm_counter_free(c);
        }
        tkm_encoding_free(e);
    }
    /* the texts did reach each outcome */
    cr_assert_gt(statuses[TKM_OK], 0);
    cr_assert_gt(statuses[TKM_ERR_LIMIT_EXCEEDED], 0);
    cr_assert_gt(statuses[TKM_ERR_INVALID_UTF8], 0);
    cr_assert_gt(statuses[TKM_ERR_SPECIAL_TOKEN], 0);
}

Test(counter, arguments) {
    tkm_encoding *e = NULL;
    cr_assert_eq(tkm_encoding_open("o200k_base", &e), TKM_OK);
    tkm_counter *c = (tkm_counter *)&c;
    cr_assert_eq(tkm_counter_open(e, NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_counter_open(NULL, NULL, &c), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_null(c, "the out-pointer is cleared on failure");
    tkm_options bad = {sizeof bad, TKM_SPECIAL_ALLOW | TKM_SPECIAL_REJECT, 0, NULL};
    cr_assert_eq(tkm_counter_open(e, &bad, &c), TKM_ERR_INVALID_ARGUMENT);
    tkm_options unknown = {sizeof unknown, 1u << 20, 0, NULL};
    cr_assert_eq(tkm_counter_open(e, &unknown, &c), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_counter_open(e, NULL, &c), TKM_OK);

    tkm_result r = {sizeof r, 0, 0, 0};
    cr_assert_eq(tkm_counter_count(NULL, "a", 1, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_counter_count(c, "a", 1, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_counter_count(c, NULL, 1, &r), TKM_ERR_INVALID_ARGUMENT);
    tkm_result small = {sizeof small - 1, 0, 0, 0};
    cr_assert_eq(tkm_counter_count(c, "a", 1, &small), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_counter_count_limit(NULL, "a", 1, 5, &r), TKM_ERR_INVALID_ARGUMENT);
    r.tokens = r.bytes = r.error_offset = 9;
    cr_assert_eq(tkm_counter_count(c, NULL, 0, &r), TKM_OK);
    cr_assert_eq(r.tokens, 0);
    cr_assert_eq(r.bytes, 0);
    cr_assert_eq(r.error_offset, 0);
    cr_assert_eq(tkm_counter_count(c, "hello world", 11, &r), TKM_OK);
    cr_assert_eq(r.tokens, 2);
    cr_assert_eq(r.bytes, 11);
    /* a limit of SIZE_MAX is a limit that is never exceeded, as for tkm_count_limit */
    cr_assert_eq(tkm_counter_count_limit(c, "hello world", 11, SIZE_MAX, &r), TKM_OK);
    cr_assert_eq(r.tokens, 2);
    cr_assert_eq(tkm_counter_count_limit(c, "hello world", 11, 1, &r), TKM_ERR_LIMIT_EXCEEDED);
    cr_assert_eq(r.tokens, 2);
    cr_assert_eq(r.bytes, 11);
    tkm_counter_free(c);
    tkm_counter_free(NULL);
    tkm_encoding_free(e);
}

/* A counting allocator: bytes outstanding, calls, and an optional failure after `fail_after` calls. */
typedef struct {
    size_t live, peak, calls, fail_after;
} acct;
typedef struct {
    size_t size;
    size_t pad;
} hdr;
static void *acct_alloc(void *opaque, size_t size) {
    acct *a = (acct *)opaque;
    if (a->calls++ >= a->fail_after) return NULL;
    hdr *h = (hdr *)malloc(sizeof(hdr) + size);
    if (!h) return NULL;
    h->size = size;
    a->live += size;
    if (a->live > a->peak) a->peak = a->live;
    return h + 1;
}
static void acct_free(void *opaque, void *p) {
    if (!p) return;
    hdr *h = (hdr *)p - 1;
    ((acct *)opaque)->live -= h->size;
    free(h);
}

/* All memory through the hook; after a call that merged one 4 MiB piece, the counter keeps at most
 * about 1 MiB per scratch buffer plus its piece cache; nothing is left after tkm_counter_free. */
Test(counter, allocator_and_memory_kept) {
    tkm_encoding *e = NULL;
    cr_assert_eq(tkm_encoding_open("o200k_base", &e), TKM_OK);
    acct a = {0, 0, 0, SIZE_MAX};
    tkm_allocator al = {acct_alloc, acct_free, &a};
    tkm_options o = {sizeof o, 0, 0, &al};
    tkm_counter *c = NULL;
    cr_assert_eq(tkm_counter_open(e, &o, &c), TKM_OK);
    cr_assert_geq(a.calls, 1, "the counter itself comes from the allocator");
    const size_t n = (size_t)4 << 20;
    char *s = malloc(n);
    cr_assert_not_null(s);
    memset(s, 'q', n / 2);        /* one 2 MiB letter piece */
    memset(s + n / 2, 0xFF, n / 2); /* one 2 MiB piece of U+FFFD, repaired into a 6 MiB buffer */
    check_one(c, e, &o, "two long pieces", s, n, SIZE_MAX);
    cr_assert_gt(a.peak, (size_t)4 << 20, "the long piece needed scratch (peak %zu)", a.peak);
    const size_t kept = a.live;
    cr_assert_leq(kept, ((size_t)3 << 20) + (256 << 10), "%zu bytes kept after the call", kept);
    /* ordinary requests after it are still right and keep the memory bounded */
    for (size_t i = 0; i < 200; i++) check_one(c, e, &o, "request", "It's a short one, isn't it?", 27, SIZE_MAX);
    check_one(c, e, &o, "prefix", s + 1, 100000, SIZE_MAX);
    cr_assert_leq(a.live, ((size_t)3 << 20) + (256 << 10));
    tkm_counter_free(c);
    cr_assert_eq(a.live, 0, "%zu bytes not freed", a.live);

    /* every allocation failing in turn: a right count or TKM_ERR_NO_MEMORY, never a wrong number */
    for (size_t fail = 0; fail < 12; fail++) {
        acct b = {0, 0, 0, fail};
        tkm_allocator bl = {acct_alloc, acct_free, &b};
        tkm_options bo = {sizeof bo, 0, 0, &bl};
        tkm_counter *d = (tkm_counter *)&d;
        tkm_status st = tkm_counter_open(e, &bo, &d);
        if (fail == 0) {
            cr_assert_eq(st, TKM_ERR_NO_MEMORY);
            cr_assert_null(d);
            continue;
        }
        cr_assert_eq(st, TKM_OK);
        for (size_t at = 1; at < n; at += n / 8) {
            tkm_result want = {sizeof want, 0, 0, 0}, got = {sizeof got, 0, 0, 0};
            cr_assert_eq(tkm_count_ex(e, s + at, 200000, NULL, &want), TKM_OK);
            st = tkm_counter_count(d, s + at, 200000, &got);
            cr_assert(st == TKM_OK || st == TKM_ERR_NO_MEMORY, "status %d", st);
            if (st == TKM_OK) cr_assert_eq(got.tokens, want.tokens);
        }
        tkm_counter_free(d);
        cr_assert_eq(b.live, 0);
    }
    free(s);
    tkm_encoding_free(e);
}
