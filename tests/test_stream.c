/*
 * test_stream.c - the streaming counter equals the one-shot count for any chunking.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "tokmeter.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static size_t rnd(size_t m) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (size_t)(rng % m);
}

/* chunk == 0: random chunk sizes 1..5000 */
static size_t stream_count(const tkm_encoding *e, const char *s, size_t n, size_t chunk, uint32_t flags,
                           tkm_status *status, size_t *err_off) {
    tkm_options o = {sizeof o, flags, 0, NULL};
    tkm_stream *st = NULL;
    cr_assert_eq(tkm_stream_open(e, &o, &st), TKM_OK);
    size_t pos = 0, last_final = 0;
    tkm_status rc = TKM_OK;
    while (pos < n && rc == TKM_OK) {
        size_t c = chunk ? chunk : 1 + rnd(5000);
        if (c > n - pos) c = n - pos;
        size_t fin = 0;
        rc = tkm_stream_feed(st, s + pos, c, &fin);
        if (rc == TKM_OK) {
            cr_assert_geq(fin, last_final, "final token count went backwards");
            last_final = fin;
        }
        pos += c;
    }
    tkm_result r = {sizeof r, 0, 0, 0};
    rc = tkm_stream_finish(st, &r);
    tkm_stream_free(st);
    *status = rc;
    *err_off = r.error_offset;
    if (rc == TKM_OK) cr_assert_geq(r.tokens, last_final);
    return r.tokens;
}

static void check_text(const tkm_encoding *e, const char *name, const char *s, size_t n, const size_t *chunks,
                       size_t n_chunks, uint32_t flags) {
    tkm_options o = {sizeof o, flags, 0, NULL};
    tkm_result want = {sizeof want, 0, 0, 0};
    tkm_status ws = tkm_count_ex(e, s, n, &o, &want);
    for (size_t i = 0; i < n_chunks; i++) {
        tkm_status gs;
        size_t off;
        size_t got = stream_count(e, s, n, chunks[i], flags, &gs, &off);
        cr_assert_eq(gs, ws, "%s chunk %zu: status %d vs one-shot %d", name, chunks[i], gs, ws);
        if (ws == TKM_OK)
            cr_assert_eq(got, want.tokens, "%s chunk %zu: stream %zu vs one-shot %zu", name, chunks[i], got, want.tokens);
        else
            cr_assert_eq(off, want.error_offset, "%s chunk %zu: error offset", name, chunks[i]);
    }
}

static const char *encs[] = {"o200k_base", "cl100k_base", "r50k_base"};

Test(stream, corpus_every_file_many_chunkings, .timeout = 900) {
    static const char *sets[] = {"english", "code", "multilingual", "chat", "adversarial"};
    DIR *probe = opendir(TKM_CORPUS_DIR);
    if (!probe) cr_skip_test("corpus not found at %s: streaming parity not checked", TKM_CORPUS_DIR);
    closedir(probe);
    static const size_t chunks[] = {0, 7, 64, 4096, 65536};
    size_t files = 0;
    for (size_t k = 0; k < 3; k++) {
        tkm_encoding *e = NULL;
        cr_assert_eq(tkm_encoding_open(encs[k], &e), TKM_OK);
        for (size_t si = 0; si < 5; si++) {
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
                check_text(e, path, s, n, chunks, sizeof chunks / sizeof chunks[0], 0);
                free(s);
                files++;
            }
            closedir(d);
        }
        tkm_encoding_free(e);
    }
    cr_assert_geq(files, 3 * 150, "expected the whole corpus, read %zu files", files);
}

Test(stream, byte_by_byte_on_tricky_text) {
    const char *t = "Hello world\n\nIt's   a\ttest\r\n  don't STOP'LL 12345 \xE4\xB8\xAD\xE6\x96\x87\n\xE3\x80\x82\n"
                    "x\xFF\xFEy \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD  \n/path//x\n\xC2\xA0\xE3\x80\x80z  ";
    static const size_t chunks[] = {1, 2, 3, 5, 0};
    for (size_t k = 0; k < 3; k++) {
        tkm_encoding *e = NULL;
        cr_assert_eq(tkm_encoding_open(encs[k], &e), TKM_OK);
        for (int rep = 1; rep <= 40; rep++) { /* shift everything across chunk and cut positions */
            size_t n = strlen(t) * (size_t)rep;
            char *s = malloc(n);
            for (int i = 0; i < rep; i++) memcpy(s + strlen(t) * (size_t)i, t, strlen(t));
            check_text(e, "tricky", s + rep % 7, n - (size_t)(rep % 7), chunks, 5, 0);
            free(s);
        }
        tkm_encoding_free(e);
    }
}

Test(stream, random_bytes_and_strict_offsets) {
    static const size_t chunks[] = {1, 3, 0};
    tkm_encoding *e = NULL;
    cr_assert_eq(tkm_encoding_open("cl100k_base", &e), TKM_OK);
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + rnd(600);
        char *s = malloc(n);
        for (size_t i = 0; i < n; i++) {
            size_t r = rnd(10);
            s[i] = (char)(r < 3 ? ' ' : r < 6 ? 'a' + (char)rnd(26) : r < 7 ? '\n' : (char)rnd(256));
        }
        check_text(e, "random", s, n, chunks, 3, 0);
        check_text(e, "random-strict", s, n, chunks, 3, TKM_UTF8_STRICT);
        check_text(e, "random-reject", s, n, chunks, 3, TKM_SPECIAL_REJECT);
        check_text(e, "random-strict-reject", s, n, chunks, 3, TKM_SPECIAL_REJECT | TKM_UTF8_STRICT);
        free(s);
    }
    tkm_encoding_free(e);
}

Test(stream, special_tokens_across_chunks) {
    tkm_encoding *e = NULL;
    cr_assert_eq(tkm_encoding_open("cl100k_base", &e), TKM_OK);
    const char *t = "ab <|endoftext|> cd\nx<|fim_prefix|>y  <|endoftext|>";
    static const size_t chunks[] = {1, 2, 4, 0};
    check_text(e, "allow", t, strlen(t), chunks, 4, TKM_SPECIAL_ALLOW);
    check_text(e, "reject", t, strlen(t), chunks, 4, TKM_SPECIAL_REJECT);
    check_text(e, "ordinary", t, strlen(t), chunks, 4, 0);
    /* several problems: the earliest in the text is reported, by the stream and one-shot alike */
    const char *both[] = {"ab <|endoftext|> x\xFFy", "ab \xFF <|endoftext|>", "\xFF", "<|endoftext|>"};
    for (int i = 0; i < 4; i++)
        check_text(e, "strict+reject", both[i], strlen(both[i]), chunks, 4, TKM_UTF8_STRICT | TKM_SPECIAL_REJECT);
    tkm_options o = {sizeof o, TKM_UTF8_STRICT | TKM_SPECIAL_REJECT, 0, NULL};
    tkm_result r = {sizeof r, 0, 0, 0};
    cr_assert_eq(tkm_count_ex(e, both[0], strlen(both[0]), &o, &r), TKM_ERR_SPECIAL_TOKEN);
    cr_assert_eq(r.error_offset, 3);
    cr_assert_eq(tkm_count_ex(e, both[1], strlen(both[1]), &o, &r), TKM_ERR_INVALID_UTF8);
    cr_assert_eq(r.error_offset, 3);
    tkm_encoding_free(e);
}

/* Rule C of kernel/cut.c (letter or digit, then punctuation): text without spaces or line breaks,
 * such as minified JSON, is cut too, so the stream's final count keeps up with the input; and the
 * counts stay exact, in every special-token mode (where rule C is off: specials have letters
 * next to '|'). */
Test(stream, minified_json_is_cut_and_exact) {
    const char *unit = "{\"key\":\"value\",\"n\":123,\"s\":\"it's\",\"t\":[1,2,\"x\"]},";
    size_t ul = strlen(unit), n = 0, cap = 1 << 20;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    while (n + ul <= cap) {
        memcpy(s + n, unit, ul);
        n += ul;
    }
    for (size_t i = 0; i < sizeof encs / sizeof encs[0]; i++) {
        tkm_encoding *e = NULL;
        cr_assert_eq(tkm_encoding_open(encs[i], &e), TKM_OK);
        size_t want;
        cr_assert_eq(tkm_count(e, s, n, &want), TKM_OK);
        tkm_stream *st = NULL;
        cr_assert_eq(tkm_stream_open(e, NULL, &st), TKM_OK);
        size_t fin = 0;
        for (size_t pos = 0; pos < n; pos += 4096) {
            size_t c = n - pos < 4096 ? n - pos : 4096;
            cr_assert_eq(tkm_stream_feed(st, s + pos, c, &fin), TKM_OK);
        }
        /* everything but the last few bytes is final: the stream did not have to buffer the text */
        cr_assert_geq(fin + 64, want, "%s: only %zu of %zu tokens final after the whole input", encs[i], fin, want);
        tkm_result r = {sizeof r, 0, 0, 0};
        cr_assert_eq(tkm_stream_finish(st, &r), TKM_OK);
        cr_assert_eq(r.tokens, want, "%s: stream %zu vs one-shot %zu", encs[i], r.tokens, want);
        tkm_stream_free(st);
        tkm_encoding_free(e);
    }
    free(s);
    /* letters and digits next to punctuation and special-token text, in every mode */
    tkm_encoding *e = NULL;
    cr_assert_eq(tkm_encoding_open("o200k_harmony", &e), TKM_OK);
    const char *t = "a<|start|>user<|message|>x,y;z9<|end|>q'sP'LL\"k\":1,<|channel|>final{b}<|return|>z";
    static const size_t chunks[] = {1, 2, 3, 7, 0};
    check_text(e, "allow", t, strlen(t), chunks, 5, TKM_SPECIAL_ALLOW);
    check_text(e, "reject", t, strlen(t), chunks, 5, TKM_SPECIAL_REJECT);
    check_text(e, "ordinary", t, strlen(t), chunks, 5, 0);
    tkm_encoding_free(e);
}
