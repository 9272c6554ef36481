/*
 * test_budget.c - budgets and small stream chunks on the real corpus (issue 5, item 6).
 *
 * tests/test_api.c checks tkm_count_limit / tkm_truncate for every budget on short hand-made
 * texts, tests/test_stream.c streams every corpus file whole in chunks of 7, 64, 4096, 65536 and
 * random sizes. This file adds what those do not: every budget N (so every token and piece
 * boundary) on a slice of every corpus file, checked against tkm_encode + tkm_decode, and the
 * smallest chunk sizes (1, 2, 3 bytes) on a slice of every corpus file.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "tokmeter.h"

#define SLICE 1536

typedef void (*file_fn)(const tkm_encoding *e, const char *path, const char *s, size_t n);

static size_t for_each_corpus_slice(const char *enc, size_t slice, file_fn fn) {
    static const char *sets[] = {"english", "code", "multilingual", "chat", "adversarial"};
    DIR *probe = opendir(TKM_CORPUS_DIR);
    if (!probe) cr_skip_test("corpus not found at %s", TKM_CORPUS_DIR);
    closedir(probe);
    tkm_encoding *e = NULL;
    cr_assert_eq(tkm_encoding_open(enc, &e), TKM_OK);
    size_t files = 0;
    for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", TKM_CORPUS_DIR, sets[si]);
        DIR *d = opendir(dir);
        cr_assert_not_null(d, "%s", dir);
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.') continue;
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            size_t n;
            char *s = (char *)oracle_read_file(path, &n);
            cr_assert_not_null(s, "%s", path);
            size_t cut = n < slice ? n : slice;
            while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80) cut--; /* whole characters */
            fn(e, path, s, cut);
            free(s);
            files++;
        }
        closedir(d);
    }
    tkm_encoding_free(e);
    return files;
}

static int valid_utf8(const tkm_encoding *e, const char *s, size_t n) {
    tkm_options o = {sizeof o, TKM_UTF8_STRICT, 0, NULL};
    tkm_result r = {sizeof r, 0, 0, 0};
    return tkm_count_ex(e, s, n, &o, &r) == TKM_OK;
}

static void every_budget(const tkm_encoding *e, const char *path, const char *s, size_t n) {
    size_t total = 0;
    cr_assert_eq(tkm_encode(e, s, n, NULL, NULL, 0, &total) == TKM_ERR_BUFFER_TOO_SMALL || n == 0, 1);
    uint32_t *ids = malloc((total + 1) * sizeof *ids);
    cr_assert_eq(tkm_encode(e, s, n, NULL, ids, total, &total), TKM_OK);
    /* prefix_bytes[k] = bytes of the first k tokens, from the decoder, independent of truncate */
    size_t *prefix = malloc((total + 1) * sizeof *prefix);
    char *buf = malloc(n * 3 + 64);
    prefix[0] = 0;
    for (size_t k = 1; k <= total; k++) {
        size_t nb = 0;
        cr_assert_eq(tkm_decode(e, ids + k - 1, 1, buf, n * 3 + 64, &nb), TKM_OK);
        prefix[k] = prefix[k - 1] + nb;
    }
    int valid = valid_utf8(e, s, n);
    if (valid) cr_assert_eq(prefix[total], n, "%s: decode(encode) is not the text", path);
    for (size_t lim = 0; lim <= total + 1; lim++) {
        tkm_result r = {sizeof r, 0, 0, 0};
        cr_assert_eq(tkm_truncate(e, s, n, lim, NULL, &r), TKM_OK, "%s budget %zu", path, lim);
        size_t want = lim < total ? lim : total;
        if (valid) {
            cr_assert_eq(r.tokens, want, "%s budget %zu: %zu tokens", path, lim, r.tokens);
            cr_assert_eq(r.bytes, prefix[want], "%s budget %zu: %zu bytes, decode says %zu", path, lim, r.bytes,
                         prefix[want]);
        } else {
            cr_assert_leq(r.tokens, want, "%s budget %zu", path, lim);
        }
        tkm_result l = {sizeof l, 0, 0, 0};
        tkm_status st = tkm_count_limit(e, s, n, lim, NULL, &l);
        if (total <= lim) {
            cr_assert_eq(st, TKM_OK, "%s limit %zu", path, lim);
            cr_assert_eq(l.tokens, total);
        } else {
            cr_assert_eq(st, TKM_ERR_LIMIT_EXCEEDED, "%s limit %zu", path, lim);
            cr_assert_gt(l.tokens, lim);
            cr_assert_leq(l.tokens, total);
            /* stopped at a token boundary: the tokens up to the stop are the first ones of the whole */
            if (valid) cr_assert_eq(l.bytes, prefix[l.tokens], "%s limit %zu: stop at byte %zu", path, lim, l.bytes);
        }
    }
    free(ids);
    free(prefix);
    free(buf);
}

Test(budget, every_budget_on_every_corpus_file_o200k, .timeout = 900) {
    cr_assert_geq(for_each_corpus_slice("o200k_base", SLICE, every_budget), 150);
}

Test(budget, every_budget_on_every_corpus_file_cl100k, .timeout = 900) {
    cr_assert_geq(for_each_corpus_slice("cl100k_base", SLICE, every_budget), 150);
}

static void small_chunks(const tkm_encoding *e, const char *path, const char *s, size_t n) {
    size_t want = 0;
    cr_assert_eq(tkm_count(e, s, n, &want), TKM_OK);
    for (size_t chunk = 1; chunk <= 3; chunk++) {
        tkm_stream *st = NULL;
        cr_assert_eq(tkm_stream_open(e, NULL, &st), TKM_OK);
        size_t last = 0;
        for (size_t pos = 0; pos < n; pos += chunk) {
            size_t fin = 0;
            cr_assert_eq(tkm_stream_feed(st, s + pos, n - pos < chunk ? n - pos : chunk, &fin), TKM_OK);
            cr_assert_geq(fin, last, "%s chunk %zu: final count went backwards", path, chunk);
            last = fin;
        }
        tkm_result r = {sizeof r, 0, 0, 0};
        cr_assert_eq(tkm_stream_finish(st, &r), TKM_OK);
        tkm_stream_free(st);
        cr_assert_eq(r.tokens, want, "%s chunk %zu: stream %zu vs one-shot %zu", path, chunk, r.tokens, want);
        cr_assert_leq(last, want);
    }
}

Test(budget, chunks_of_1_2_3_bytes_on_every_corpus_file, .timeout = 900) {
    cr_assert_geq(for_each_corpus_slice("o200k_base", 65536, small_chunks), 150);
    cr_assert_geq(for_each_corpus_slice("cl100k_base", 16384, small_chunks), 150);
    cr_assert_geq(for_each_corpus_slice("r50k_base", 16384, small_chunks), 150);
}
