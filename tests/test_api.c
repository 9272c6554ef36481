/*
 * test_api.c - the public API contract: handles, models, info, options, errors, encode/decode.
 */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "oracle.h"
#include "tokmeter.h"

static tkm_encoding *open_enc(const char *name) {
    tkm_encoding *e = NULL;
    cr_assert_eq(tkm_encoding_open(name, &e), TKM_OK, "open %s", name);
    cr_assert_not_null(e);
    return e;
}

static size_t count_of(const tkm_encoding *e, const char *s) {
    size_t n = 12345;
    cr_assert_eq(tkm_count(e, s, strlen(s), &n), TKM_OK);
    return n;
}

Test(api, version) {
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", TKM_VERSION_MAJOR, TKM_VERSION_MINOR, TKM_VERSION_PATCH);
    cr_assert_str_eq(tkm_version_string(), want);
    cr_assert_eq(tkm_version_number(), (unsigned)TKM_VERSION_NUMBER);
}

Test(api, status_strings_cover_every_code) {
    for (int s = TKM_OK; s <= TKM_ERR_INTERNAL; s++) {
        const char *m = tkm_status_string((tkm_status)s);
        cr_assert_not_null(m);
        cr_assert_str_neq(m, "unknown status", "status %d has no message", s);
    }
    cr_assert_str_eq(tkm_status_string((tkm_status)999), "unknown status");
    cr_assert_str_eq(tkm_status_string(TKM_OK), "success");
}

Test(api, open_every_builtin_and_info) {
    static const struct {
        const char *name;
        uint32_t n_vocab, n_specials;
        tkm_pattern pat;
        const char *sha;
    } want[] = {
        {"o200k_base", 200019, 2, TKM_PATTERN_O200K, "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"},
        {"cl100k_base", 100277, 5, TKM_PATTERN_CL100K, "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"},
        {"o200k_harmony", 201088, 1091, TKM_PATTERN_O200K, "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"},
        {"p50k_base", 50281, 1, TKM_PATTERN_GPT2, "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069"},
        {"p50k_edit", 50284, 4, TKM_PATTERN_GPT2, "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069"},
        {"r50k_base", 50257, 1, TKM_PATTERN_GPT2, "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"},
    };
    size_t listed = 0;
    for (const char *const *n = tkm_encoding_names(); *n; n++) listed++;
    cr_assert_eq(listed, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        tkm_encoding *e = open_enc(want[i].name);
        tkm_encoding_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        cr_assert_eq(tkm_encoding_info_get(e, &info), TKM_OK);
        cr_assert_str_eq(info.name, want[i].name);
        cr_assert_eq(info.n_vocab, want[i].n_vocab, "%s n_vocab %u", want[i].name, info.n_vocab);
        cr_assert_eq(info.n_specials, want[i].n_specials, "%s n_specials %u", want[i].name, info.n_specials);
        cr_assert_eq(info.pattern, want[i].pat);
        cr_assert_str_eq(info.vocab_sha256, want[i].sha);
        tkm_encoding_free(e);
    }
    tkm_encoding *g = open_enc("gpt2");
    tkm_encoding_info info = {sizeof info, 0, 0, 0, 0, 0, 0, {0}};
    cr_assert_eq(tkm_encoding_info_get(g, &info), TKM_OK);
    cr_assert_str_eq(info.name, "r50k_base");
    tkm_encoding_free(g);
}

Test(api, bad_arguments_are_errors_not_counts) {
    tkm_encoding *e = NULL;
    cr_assert_eq(tkm_encoding_open("no_such_encoding", &e), TKM_ERR_UNKNOWN_ENCODING);
    cr_assert_null(e);
    cr_assert_eq(tkm_encoding_open(NULL, &e), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encoding_open("o200k_base", NULL), TKM_ERR_INVALID_ARGUMENT);
    e = open_enc("o200k_base");
    size_t n = 77;
    cr_assert_eq(tkm_count(NULL, "x", 1, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count(e, NULL, 1, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count(e, "x", 1, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(n, 77, "an error must not write a count");
    cr_assert_eq(tkm_count(e, NULL, 0, &n), TKM_OK);
    cr_assert_eq(n, 0);
    tkm_options o = {sizeof o, 0xFF00u, 0, NULL};
    tkm_result r = {sizeof r, 0, 0, 0};
    cr_assert_eq(tkm_count_ex(e, "x", 1, &o, &r), TKM_ERR_INVALID_ARGUMENT);
    o.flags = TKM_SPECIAL_ALLOW | TKM_SPECIAL_REJECT;
    cr_assert_eq(tkm_count_ex(e, "x", 1, &o, &r), TKM_ERR_INVALID_ARGUMENT);
    tkm_result small = {1, 0, 0, 0};
    cr_assert_eq(tkm_count_ex(e, "x", 1, NULL, &small), TKM_ERR_INVALID_ARGUMENT);
    /* a foreign object is not a handle */
    tkm_encoding fake;
    memset(&fake, 0, sizeof fake);
    cr_assert_eq(tkm_count(&fake, "x", 1, &n), TKM_ERR_INVALID_HANDLE);
    tkm_encoding_free(e);
    tkm_encoding_free(NULL);
}

Test(api, known_counts) {
    tkm_encoding *o = open_enc("o200k_base"), *c = open_enc("cl100k_base"), *r = open_enc("r50k_base");
    /* tiktoken: enc.encode("hello world") */
    uint32_t ids[8];
    size_t n = 0;
    cr_assert_eq(tkm_encode(c, "hello world", 11, NULL, ids, 8, &n), TKM_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(ids[0], 15339);
    cr_assert_eq(ids[1], 1917);
    cr_assert_eq(tkm_encode(o, "hello world", 11, NULL, ids, 8, &n), TKM_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(ids[0], 24912);
    cr_assert_eq(ids[1], 2375);
    cr_assert_eq(tkm_encode(r, "hello world", 11, NULL, ids, 8, &n), TKM_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(ids[0], 31373);
    cr_assert_eq(ids[1], 995);
    cr_assert_eq(count_of(o, ""), 0);
    tkm_encoding_free(o);
    tkm_encoding_free(c);
    tkm_encoding_free(r);
}

Test(api, encode_sizing_and_decode_roundtrip) {
    tkm_encoding *e = open_enc("cl100k_base");
    const char *s = "The quick brown fox jumps over the lazy dog. \xF0\x9F\x98\x80 \xE4\xB8\xAD\xE6\x96\x87 'LL";
    size_t len = strlen(s), need = 0;
    cr_assert_eq(tkm_encode(e, s, len, NULL, NULL, 0, &need), TKM_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(need, count_of(e, s));
    uint32_t *ids = malloc(need * sizeof *ids);
    size_t got = 0;
    cr_assert_eq(tkm_encode(e, s, len, NULL, ids, need - 1, &got), TKM_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(got, need);
    cr_assert_eq(tkm_encode(e, s, len, NULL, ids, need, &got), TKM_OK);
    cr_assert_eq(got, need);
    char out[256];
    size_t nb = 0;
    cr_assert_eq(tkm_decode(e, ids, got, out, sizeof out, &nb), TKM_OK);
    cr_assert_eq(nb, len);
    cr_assert_eq(memcmp(out, s, len), 0);
    cr_assert_eq(tkm_decode(e, ids, got, out, 3, &nb), TKM_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(nb, len);
    uint32_t bad[2] = {ids[0], 100261}; /* a gap between cl100k's special ids */
    cr_assert_eq(tkm_decode(e, bad, 2, out, sizeof out, &nb), TKM_ERR_INVALID_TOKEN);
    cr_assert_eq(nb, 1);
    uint32_t special = 100257;
    cr_assert_eq(tkm_decode(e, &special, 1, out, sizeof out, &nb), TKM_OK);
    cr_assert_eq(nb, 13);
    cr_assert_eq(memcmp(out, "<|endoftext|>", 13), 0);
    free(ids);
    tkm_encoding_free(e);
}

Test(api, invalid_utf8_replace_and_strict) {
    tkm_encoding *e = open_enc("o200k_base");
    /* replacement: each maximal ill-formed subsequence counts like U+FFFD */
    const char bad[] = "ab\xE2\x82 cd\xFF";
    const char fixed[] = "ab\xEF\xBF\xBD cd\xEF\xBF\xBD";
    size_t a = 0, b = 0;
    cr_assert_eq(tkm_count(e, bad, sizeof bad - 1, &a), TKM_OK);
    cr_assert_eq(tkm_count(e, fixed, sizeof fixed - 1, &b), TKM_OK);
    cr_assert_eq(a, b);
    uint32_t ia[16], ib[16];
    size_t na, nb;
    cr_assert_eq(tkm_encode(e, bad, sizeof bad - 1, NULL, ia, 16, &na), TKM_OK);
    cr_assert_eq(tkm_encode(e, fixed, sizeof fixed - 1, NULL, ib, 16, &nb), TKM_OK);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(ia, ib, na * sizeof ia[0]), 0);
    tkm_options o = {sizeof o, TKM_UTF8_STRICT, 0, NULL};
    tkm_result r = {sizeof r, 99, 99, 99};
    cr_assert_eq(tkm_count_ex(e, bad, sizeof bad - 1, &o, &r), TKM_ERR_INVALID_UTF8);
    cr_assert_eq(r.error_offset, 2);
    cr_assert_eq(r.tokens, 0);
    cr_assert_eq(tkm_count_ex(e, fixed, sizeof fixed - 1, &o, &r), TKM_OK);
    cr_assert_eq(r.tokens, b);
    /* strict: surrogates, overlongs and > U+10FFFF are errors at their first byte */
    const char *cases[] = {"x\xED\xA0\x80", "xy\xC0\xAF", "\xF4\x90\x80\x80", "abc\xE0\x80\x80"};
    size_t offs[] = {1, 2, 0, 3};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(tkm_count_ex(e, cases[i], strlen(cases[i]), &o, &r), TKM_ERR_INVALID_UTF8);
        cr_assert_eq(r.error_offset, offs[i], "case %d offset %zu", i, r.error_offset);
    }
    /* a BOM is an ordinary character, in both modes */
    cr_assert_eq(tkm_count_ex(e, "\xEF\xBB\xBFhi", 5, &o, &r), TKM_OK);
    cr_assert_gt(r.tokens, 1);
    tkm_encoding_free(e);
}

/* ---- ill-formed text counted whole, 64 KiB at a time (count.c, TKM_REPAIR_CHUNK) ------------ */
typedef struct {
    uint8_t *b;
    size_t n, cap;
} text_buf;

static void put(text_buf *t, const void *p, size_t n) {
    if (t->n + n > t->cap) {
        t->cap = (t->n + n) * 2;
        t->b = realloc(t->b, t->cap);
        cr_assert_not_null(t->b);
    }
    memcpy(t->b + t->n, p, n);
    t->n += n;
}

static void put_rep(text_buf *t, const char *s, size_t total) {
    size_t l = strlen(s);
    for (size_t i = 0; i < total; i += l) put(t, s, l);
}

/* One text under one option set: the count equals the per-piece path's (tkm_count_limit with a
 * limit it never reaches, which repairs piece by piece as it goes) and, for the default options,
 * the oracle's (PCRE2 split of the repaired text + the literal BPE). */
static void check_chunked(const tkm_encoding *e, const char *what, const uint8_t *s, size_t n, uint32_t flags) {
    tkm_options o = {sizeof o, flags, 0, NULL};
    tkm_result whole = {sizeof whole, 0, 0, 0}, pieces = {sizeof pieces, 0, 0, 0};
    tkm_status sw = tkm_count_ex(e, s, n, &o, &whole);
    tkm_status sp = tkm_count_limit(e, s, n, SIZE_MAX - 1, &o, &pieces);
    cr_assert_eq(sw, sp, "%s (%zu bytes, flags %u): status %d, per piece %d", what, n, flags, sw, sp);
    if (sw == TKM_OK) {
        cr_assert_eq(whole.tokens, pieces.tokens, "%s (%zu bytes, flags %u): %zu tokens, per piece %zu", what, n,
                     flags, whole.tokens, pieces.tokens);
    } else {
        cr_assert_eq(whole.error_offset, pieces.error_offset, "%s (%zu bytes, flags %u): error offset", what, n, flags);
    }
    if (flags == 0) {
        size_t want = oracle_count((int)e->pattern, e->ranks, s, n); /* the values are equal (oracle.h) */
        cr_assert_eq(whole.tokens, want, "%s (%zu bytes): %zu tokens, oracle %zu", what, n, whole.tokens, want);
    }
}

Test(api, ill_formed_text_counted_in_chunks, .timeout = 300) {
    const size_t C = (size_t)64 << 10;
    static const char *encs[] = {"o200k_base", "cl100k_base", "r50k_base"};
    const char *prose = "The quick brown fox's 123456 jumps over 7 lazy dogs.\nIt's   a test, isn't it? ";
    oracle_rng rng = {0x5DEECE66Dull};
    for (size_t k = 0; k < 3; k++) {
        tkm_encoding *e = open_enc(encs[k]);
        /* prose of 2.2 chunks ending inside a character (a request cut mid-character), and its
         * prefixes around the chunk size */
        text_buf t = {NULL, 0, 0};
        put_rep(&t, prose, 2 * C + C / 5);
        put(&t, "\xE4\xB8", 2);
        check_chunked(e, "prose + cut character", t.b, t.n, 0);
        const size_t cuts[] = {C - 1, C, C + 1, C + 5, 2 * C + 3};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            uint8_t keep = t.b[cuts[i] - 1];
            t.b[cuts[i] - 1] = 0xF0; /* a lead byte with nothing after it, at the very end */
            check_chunked(e, "prefix ending in a lead byte", t.b, cuts[i], 0);
            t.b[cuts[i] - 1] = keep;
        }
        /* one ill-formed byte at each position around the first and second chunk ends */
        for (int d = -6; d <= 6; d++) {
            size_t at = (d < 0 ? C - (size_t)-d : C + (size_t)d);
            uint8_t keep = t.b[at], keep2 = t.b[at + C];
            t.b[at] = 0xFF;
            t.b[at + C] = 0xC0;
            check_chunked(e, "a bad byte near a chunk end", t.b, t.n, 0);
            t.b[at] = keep;
            t.b[at + C] = keep2;
        }
        /* random bytes, several chunks */
        text_buf r = {NULL, 0, 0};
        for (size_t i = 0; i < 3 * C + 77; i++) {
            uint8_t c = (uint8_t)oracle_rng_below(&rng, 256);
            put(&r, &c, 1);
        }
        check_chunked(e, "random bytes", r.b, r.n, 0);
        /* more than a chunk without a safe cut ("\xFF " has none), between prose and after it, at
         * four offsets from the last cut before it (a cut anywhere but at a piece boundary would
         * change the count) */
        text_buf m = {NULL, 0, 0};
        for (size_t shift = 0; shift < 4; shift++) {
            m.n = 0;
            put_rep(&m, prose, C / 2 + 11);
            put_rep(&m, "!", shift); /* after the prose's last cut, before the stretch */
            put_rep(&m, "\xFF ", C + C / 3);
            put_rep(&m, prose, C + 9);
            put_rep(&m, " \xFF\xFE", C + 1);
            check_chunked(e, "a stretch without cuts", m.b, m.n, 0);
        }
        /* special-token text among ill-formed bytes, in every mode */
        text_buf sp = {NULL, 0, 0};
        for (int i = 0; i < 12; i++) {
            put_rep(&sp, prose, C / 4);
            put(&sp, i % 3 ? "\xFF<|endoftext|>x" : "<|endoftext|>\xC3", i % 3 ? 16 : 14);
        }
        const uint32_t modes[] = {0, TKM_SPECIAL_ALLOW, TKM_SPECIAL_REJECT, TKM_UTF8_STRICT};
        for (size_t i = 0; i < 4; i++) {
            check_chunked(e, "special tokens", sp.b, sp.n, modes[i]);
            check_chunked(e, "random bytes", r.b, r.n, modes[i]);
        }
        free(t.b);
        free(r.b);
        free(m.b);
        free(sp.b);
        tkm_encoding_free(e);
    }
}

Test(api, special_tokens_modes) {
    tkm_encoding *e = open_enc("cl100k_base");
    const char *s = "hi<|endoftext|>there";
    size_t len = strlen(s);
    uint32_t ids[32];
    size_t n;
    /* default: ordinary text */
    cr_assert_eq(tkm_encode(e, s, len, NULL, ids, 32, &n), TKM_OK);
    cr_assert_gt(n, 3);
    for (size_t i = 0; i < n; i++) cr_assert_neq(ids[i], 100257);
    /* allow: one special token */
    tkm_options o = {sizeof o, TKM_SPECIAL_ALLOW, 0, NULL};
    cr_assert_eq(tkm_encode(e, s, len, &o, ids, 32, &n), TKM_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(ids[1], 100257);
    /* reject: an error with the offset */
    o.flags = TKM_SPECIAL_REJECT;
    tkm_result r = {sizeof r, 0, 0, 0};
    cr_assert_eq(tkm_count_ex(e, s, len, &o, &r), TKM_ERR_SPECIAL_TOKEN);
    cr_assert_eq(r.error_offset, 2);
    cr_assert_eq(tkm_count_ex(e, "plain", 5, &o, &r), TKM_OK);
    tkm_encoding_free(e);
    /* harmony: two texts share id 200018 */
    e = open_enc("o200k_harmony");
    o.flags = TKM_SPECIAL_ALLOW;
    const char *h = "<|start|>user<|message|>x<|endofprompt|><|reserved_200018|>";
    cr_assert_eq(tkm_encode(e, h, strlen(h), &o, ids, 32, &n), TKM_OK);
    cr_assert_eq(n, 6);
    cr_assert_eq(ids[0], 200006);
    cr_assert_eq(ids[2], 200008);
    cr_assert_eq(ids[4], 200018);
    cr_assert_eq(ids[5], 200018);
    tkm_encoding_free(e);
}

Test(api, models) {
    static const char *const map[][2] = {
        {"gpt-4o", "o200k_base"}, {"gpt-4o-mini-2024-07-18", "o200k_base"}, {"gpt-5", "o200k_base"},
        {"gpt-5-mini", "o200k_base"}, {"gpt-5.1", "o200k_base"}, {"gpt-4.1-nano", "o200k_base"},
        {"o1", "o200k_base"}, {"o1-mini", "o200k_base"}, {"o3-mini-2025-01-31", "o200k_base"},
        {"o4-mini", "o200k_base"}, {"chatgpt-4o-latest", "o200k_base"}, {"gpt-4", "cl100k_base"},
        {"gpt-4-turbo-2024-04-09", "cl100k_base"}, {"gpt-4-32k", "cl100k_base"}, {"gpt-3.5-turbo", "cl100k_base"},
        {"gpt-3.5-turbo-16k", "cl100k_base"}, {"gpt-35-turbo", "cl100k_base"},
        {"text-embedding-3-small", "cl100k_base"}, {"text-embedding-ada-002", "cl100k_base"},
        {"gpt-oss-120b", "o200k_harmony"}, {"gpt-oss-20b", "o200k_harmony"}, {"text-davinci-003", "p50k_base"},
        {"code-davinci-002", "p50k_base"}, {"text-davinci-edit-001", "p50k_edit"}, {"davinci", "r50k_base"},
        {"text-ada-001", "r50k_base"}, {"gpt2", "r50k_base"}, {"ft:gpt-4o-mini:org::id", "o200k_base"},
        {"ft:gpt-3.5-turbo-0613:org::id", "cl100k_base"}, {"davinci-002", "cl100k_base"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        const char *name = NULL;
        cr_assert_eq(tkm_model_encoding_name(map[i][0], &name), TKM_OK, "%s", map[i][0]);
        cr_assert_str_eq(name, map[i][1], "%s -> %s", map[i][0], name);
    }
    const char *name = NULL;
    cr_assert_eq(tkm_model_encoding_name("llama-3", &name), TKM_ERR_UNKNOWN_MODEL);
    tkm_encoding *e = NULL;
    cr_assert_eq(tkm_encoding_open_for_model("claude-3", &e), TKM_ERR_UNKNOWN_MODEL);
    cr_assert_null(e);
    cr_assert_eq(tkm_encoding_open_for_model("gpt-4o", &e), TKM_OK);
    tkm_encoding_free(e);
}

Test(api, runtime_loaded_vocab_counts_like_builtin) {
    size_t len;
    char *data = (char *)oracle_read_file(TKM_SOURCE_DIR "/vocab/cl100k_base.tiktoken", &len);
    cr_assert_not_null(data);
    tkm_special_token sp[] = {{"<|endoftext|>", 100257}};
    tkm_encoding *u = NULL, *b = open_enc("cl100k_base");
    cr_assert_eq(tkm_encoding_load_tiktoken(data, len, TKM_PATTERN_CL100K, sp, 1, "mine", &u), TKM_OK);
    tkm_encoding_info ui = {sizeof ui, 0, 0, 0, 0, 0, 0, {0}}, bi = ui;
    cr_assert_eq(tkm_encoding_info_get(u, &ui), TKM_OK);
    cr_assert_eq(tkm_encoding_info_get(b, &bi), TKM_OK);
    cr_assert_str_eq(ui.name, "mine");
    cr_assert_str_eq(ui.vocab_sha256, bi.vocab_sha256);
    cr_assert_eq(ui.n_vocab, 100258);
    const char *t = "Counting tokens exactly: 12345 \xE2\x80\x94 naive caf\xC3\xA9 'S";
    cr_assert_eq(count_of(u, t), count_of(b, t));
    tkm_encoding_free(u); /* the failed loads below set u = NULL (found by LeakSanitizer) */
    cr_assert_eq(tkm_encoding_load_tiktoken("!!!! 0\n", 7, TKM_PATTERN_CL100K, NULL, 0, NULL, &u), TKM_ERR_BAD_VOCAB);
    cr_assert_eq(tkm_encoding_load_tiktoken(data, len, (tkm_pattern)9, NULL, 0, NULL, &u), TKM_ERR_INVALID_ARGUMENT);
    /* a vocabulary without all 256 single bytes cannot finish BPE: rejected */
    cr_assert_eq(tkm_encoding_load_tiktoken("YQ== 0\nYg== 1\n", 14, TKM_PATTERN_GPT2, NULL, 0, NULL, &u), TKM_ERR_BAD_VOCAB);
    free(data);
    tkm_encoding_free(b);
}

/* The first r->tokens ids of the whole (valid UTF-8) text decode to exactly text[0..r->bytes). */
static int stop_is_token_prefix(const tkm_encoding *e, const char *text, size_t len, const tkm_result *r) {
    size_t n = 0;
    if (tkm_encode(e, text, len, NULL, NULL, 0, &n) != TKM_ERR_BUFFER_TOO_SMALL || n < r->tokens) return 0;
    uint32_t *ids = malloc(n * sizeof *ids);
    char *out = malloc(r->bytes + 64);
    size_t nb = 0;
    int ok = tkm_encode(e, text, len, NULL, ids, n, &n) == TKM_OK &&
             tkm_decode(e, ids, r->tokens, out, r->bytes + 64, &nb) == TKM_OK && nb == r->bytes &&
             memcmp(out, text, nb) == 0;
    free(ids);
    free(out);
    return ok;
}

Test(api, count_limit_stops_early_and_is_exact) {
    tkm_encoding *e = open_enc("o200k_base");
    /* a 1 MB prompt against a 4,096-token budget */
    const char *para = "The gateway meters every request before forwarding it; budgets are enforced exactly. ";
    size_t pl = strlen(para), len = 0, cap = 1 << 20;
    char *big = malloc(cap);
    while (len + pl <= cap) memcpy(big + len, para, pl), len += pl;
    size_t total;
    cr_assert_eq(tkm_count(e, big, len, &total), TKM_OK);
    tkm_result r = {sizeof r, 0, 0, 0};
    cr_assert_eq(tkm_count_limit(e, big, len, 4096, NULL, &r), TKM_ERR_LIMIT_EXCEEDED);
    cr_assert_gt(r.tokens, 4096);
    cr_assert_lt(r.bytes, 64 * 1024, "scanned %zu bytes for a 4096-token budget", r.bytes);
    cr_assert(stop_is_token_prefix(e, big, len, &r), "the tokens up to the stop are the first ones of the whole text");
    /* limits around the exact total */
    cr_assert_eq(tkm_count_limit(e, big, len, total, NULL, &r), TKM_OK);
    cr_assert_eq(r.tokens, total);
    cr_assert_eq(r.bytes, len);
    cr_assert_eq(tkm_count_limit(e, big, len, total - 1, NULL, &r), TKM_ERR_LIMIT_EXCEEDED);
    cr_assert_eq(r.tokens, total);
    cr_assert_eq(tkm_count_limit(e, big, len, 0, NULL, &r), TKM_ERR_LIMIT_EXCEEDED);
    cr_assert_eq(r.tokens, 1);
    cr_assert_eq(tkm_count_limit(e, "", 0, 0, NULL, &r), TKM_OK);
    cr_assert_eq(r.tokens, 0);
    cr_assert_eq(tkm_count_limit(e, big, len, SIZE_MAX, NULL, &r), TKM_OK);
    cr_assert_eq(r.tokens, total);
    /* strict mode validates only what it scans */
    big[len - 1] = (char)0xFF;
    tkm_options o = {sizeof o, TKM_UTF8_STRICT, 0, NULL};
    cr_assert_eq(tkm_count_limit(e, big, len, 100, &o, &r), TKM_ERR_LIMIT_EXCEEDED);
    cr_assert_eq(tkm_count_limit(e, big, len, SIZE_MAX, &o, &r), TKM_ERR_INVALID_UTF8);
    cr_assert_eq(r.error_offset, len - 1);
    cr_assert_eq(tkm_count_ex(e, big, len, &o, &r), TKM_ERR_INVALID_UTF8);
    cr_assert_eq(r.error_offset, len - 1);
    /* special tokens count toward the limit in allow mode */
    o.flags = TKM_SPECIAL_ALLOW;
    cr_assert_eq(tkm_count_limit(e, "<|endoftext|><|endoftext|>", 26, 1, &o, &r), TKM_ERR_LIMIT_EXCEEDED);
    cr_assert_eq(r.tokens, 2);
    cr_assert_eq(r.bytes, 26);
    free(big);
    tkm_encoding_free(e);
}

Test(api, count_limit_every_budget_on_mixed_text) {
    /* for every limit 0..total+1: OK iff total <= limit; tokens up to the stop are a prefix count */
    const char *t = "Don't STOP: 1234567 \xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97 \xF0\x9F\x98\x80\xF0\x9F\x98\x80\n\n  x\ty 'll  ";
    size_t len = strlen(t);
    for (const char *const *nm = tkm_encoding_names(); *nm; nm++) {
        tkm_encoding *e = open_enc(*nm);
        size_t total = count_of(e, t);
        for (size_t lim = 0; lim <= total + 1; lim++) {
            tkm_result r = {sizeof r, 0, 0, 0};
            tkm_status st = tkm_count_limit(e, t, len, lim, NULL, &r);
            if (total <= lim) {
                cr_assert_eq(st, TKM_OK);
                cr_assert_eq(r.tokens, total);
            } else {
                cr_assert_eq(st, TKM_ERR_LIMIT_EXCEEDED, "%s limit %zu", *nm, lim);
                cr_assert_gt(r.tokens, lim);
                cr_assert(stop_is_token_prefix(e, t, len, &r), "%s limit %zu: stop at %zu", *nm, lim, r.bytes);
            }
        }
        tkm_encoding_free(e);
    }
}

/* Offset in the repaired whole text (each maximal ill-formed subsequence -> the 3 bytes of U+FFFD)
 * of original offset o, or SIZE_MAX if o falls inside an ill-formed subsequence. */
static size_t repaired_offset(const char *text, size_t len, size_t o) {
    const uint8_t *p = (const uint8_t *)text;
    size_t i = 0, r = 0;
    while (i < len && i < o) {
        size_t adv;
        uint32_t c = tkm_utf8_decode(p, i, len, &adv);
        int bad = c == 0xFFFD && !(adv == 3 && p[i] == 0xEF);
        if (o < i + adv) return bad ? SIZE_MAX : r + (o - i);
        r += bad ? 3 : adv;
        i += adv;
    }
    return r;
}

/* decode(first r->tokens ids of the whole text) equals the repaired whole text up to the point
 * that corresponds to text[0..r->bytes). */
static int truncation_is_token_prefix(const tkm_encoding *e, const char *text, size_t len, const tkm_result *r) {
    size_t n = 0;
    if (tkm_encode(e, text, len, NULL, NULL, 0, &n) != TKM_ERR_BUFFER_TOO_SMALL && n != 0) return 0;
    uint32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    size_t rn = 0, nb = 0, want = repaired_offset(text, len, r->bytes);
    uint8_t *rep = oracle_repair_utf8((const uint8_t *)text, len, &rn);
    char *out = malloc(rn + 16);
    int ok = want != SIZE_MAX && (n == 0 || tkm_encode(e, text, len, NULL, ids, n, &n) == TKM_OK) &&
             r->tokens <= n && tkm_decode(e, ids, r->tokens, out, rn + 16, &nb) == TKM_OK && nb == want &&
             memcmp(out, rep, nb) == 0;
    free(ids);
    free(out);
    free(rep);
    return ok;
}

Test(api, truncate_every_budget) {
    const char *texts[] = {
        "Don't STOP: 1234567 \xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97 \xF0\x9F\x98\x80\xF0\x9F\x98\x80\n\n  x\ty 'll  ",
        "supercalifragilisticexpialidocious antidisestablishmentarianism", /* multi-token pieces */
        "bad \xFF\xFE bytes \xE4\xB8 cut \xF0\x9F\x98 and \xC3 more \xFF",    /* invalid UTF-8 */
        "<|endoftext|>x<|endoftext|>",
    };
    for (const char *const *nm = tkm_encoding_names(); *nm; nm++) {
        tkm_encoding *e = open_enc(*nm);
        for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
            size_t len = strlen(texts[t]), total = count_of(e, texts[t]);
            int valid = t != 2;
            for (size_t lim = 0; lim <= total + 2; lim++) {
                tkm_result r = {sizeof r, 0, 0, 0};
                cr_assert_eq(tkm_truncate(e, texts[t], len, lim, NULL, &r), TKM_OK);
                size_t want = lim < total ? lim : total;
                if (valid) cr_assert_eq(r.tokens, want, "%s text %zu budget %zu: %zu tokens", *nm, t, lim, r.tokens);
                else cr_assert_leq(r.tokens, want);
                if (lim >= total) cr_assert_eq(r.bytes, len);
                cr_assert(truncation_is_token_prefix(e, texts[t], len, &r), "%s text %zu budget %zu: %zu bytes", *nm,
                          t, lim, r.bytes);
            }
        }
        tkm_encoding_free(e);
    }
}

Test(api, truncate_large_prompt_and_specials) {
    tkm_encoding *e = open_enc("cl100k_base");
    size_t cap = 1 << 20, len = 0;
    char *big = malloc(cap);
    const char *para = "Truncation keeps whole tokens: naive caf\xC3\xA9s, 3.14159, and antidisestablishmentarianism. ";
    size_t pl = strlen(para);
    while (len + pl <= cap) memcpy(big + len, para, pl), len += pl;
    tkm_result r = {sizeof r, 0, 0, 0};
    cr_assert_eq(tkm_truncate(e, big, len, 4096, NULL, &r), TKM_OK);
    cr_assert_eq(r.tokens, 4096);
    cr_assert_lt(r.bytes, 64 * 1024);
    cr_assert(truncation_is_token_prefix(e, big, len, &r));
    /* allow mode: a special token is one token of the budget */
    tkm_options o = {sizeof o, TKM_SPECIAL_ALLOW, 0, NULL};
    cr_assert_eq(tkm_truncate(e, "ab<|endoftext|>cd", 17, 2, &o, &r), TKM_OK);
    cr_assert_eq(r.tokens, 2);
    cr_assert_eq(r.bytes, 15);
    cr_assert_eq(tkm_truncate(e, "ab<|endoftext|>cd", 17, 1, &o, &r), TKM_OK);
    cr_assert_eq(r.tokens, 1);
    cr_assert_eq(r.bytes, 2);
    free(big);
    tkm_encoding_free(e);
}

/* ---- built-in tables copied into huge pages (kernel/tables.c) ------------------------------- */
/* Criterion runs each test in a process of its own, so each can set TOKMETER_HUGE_TABLES before
 * the library first reads it. */

/* A text of n bytes: the corpus files of every set in turn (or the sample), repeated. */
static char *mixed_text(size_t n) {
    size_t n_files = 0, got = 0;
    char **files = oracle_list_files(TKM_CORPUS_DIR, &n_files);
    char *t = malloc(n);
    cr_assert_not_null(t);
    for (size_t i = 0; got < n; i++) {
        size_t len = 0;
        uint8_t *d = files && n_files ? oracle_read_file(files[(i * 7919) % n_files], &len)
                                      : oracle_read_file(TKM_SOURCE_DIR "/tests/data/sample.txt", &len);
        cr_assert_not_null(d);
        size_t take = len < n - got ? len : n - got;
        memcpy(t + got, d, take);
        got += take;
        free(d);
    }
    for (size_t i = 0; files && i < n_files; i++) free(files[i]);
    free(files);
    return t;
}

/* Count t[0..n) in calls of `call` bytes; the sum of the calls' counts. */
static size_t count_in_calls(const tkm_encoding *e, const char *t, size_t n, size_t call) {
    size_t total = 0;
    for (size_t at = 0; at < n; at += call) {
        size_t c = 0, len = n - at < call ? n - at : call;
        cr_assert_eq(tkm_count(e, t + at, len, &c), TKM_OK);
        total += c;
    }
    return total;
}

static int thp_offered(void) {
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f) return 0;
    char buf[128] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, "[always]") || strstr(buf, "[madvise]");
}

/* TOKMETER_HUGE_TABLES=1: the first count copies; every later call of every handle of that
 * vocabulary counts with the copy, and counts as a handle with tables of its own (loaded from the
 * .tiktoken file, never copied) does, on 4 MB of every corpus set in calls of several sizes. */
Test(huge_tables, copied_at_first_count_and_counts_agree, .timeout = 300) {
    cr_assert_eq(setenv("TOKMETER_HUGE_TABLES", "1", 1), 0);
    static const struct {
        const char *name, *file;
        tkm_pattern pattern;
    } encs[] = {{"o200k_base", "/vocab/o200k_base.tiktoken", TKM_PATTERN_O200K},
                {"cl100k_base", "/vocab/cl100k_base.tiktoken", TKM_PATTERN_CL100K},
                {"r50k_base", "/vocab/r50k_base.tiktoken", TKM_PATTERN_GPT2}};
    const size_t n = (size_t)4 << 20;
    char *t = mixed_text(n);
    for (size_t i = 0; i < sizeof encs / sizeof encs[0]; i++) {
        tkm_encoding *b = open_enc(encs[i].name), *b2 = open_enc(encs[i].name), *u = NULL;
        size_t len;
        char path[4096];
        snprintf(path, sizeof path, "%s%s", TKM_SOURCE_DIR, encs[i].file);
        char *data = (char *)oracle_read_file(path, &len);
        cr_assert_not_null(data, "%s", path);
        cr_assert_eq(tkm_encoding_load_tiktoken(data, len, encs[i].pattern, NULL, 0, "own", &u), TKM_OK);
        cr_assert_null(u->hot, "a loaded vocabulary has tables of its own");
        cr_assert_not_null(b->hot);
        cr_assert(b->hot == b2->hot, "one copy per vocabulary, whatever the handle");
        cr_assert_eq(count_of(b, "x"), 1);
        const tkm_ranks *cp = tkm_tables_for(b, 0);
        cr_assert(cp != b->ranks, "%s: not copied at the first count", encs[i].name);
        cr_assert(tkm_tables_for(b2, 0) == cp);
        cr_assert(cp->fast != b->ranks->fast && cp->pairs != b->ranks->pairs);
        cr_assert(memcmp(cp->fast, b->ranks->fast, ((size_t)cp->fast_mask + 1) * 16) == 0);
        const size_t calls[] = {n, 65536, 4093};
        for (size_t j = 0; j < sizeof calls / sizeof calls[0]; j++) {
            size_t want = count_in_calls(u, t, n, calls[j]);
            cr_assert_eq(count_in_calls(b, t, n, calls[j]), want, "%s, calls of %zu bytes", encs[i].name, calls[j]);
            cr_assert_eq(count_in_calls(b2, t, n, calls[j]), want, "%s, calls of %zu bytes", encs[i].name, calls[j]);
        }
        free(data);
        tkm_encoding_free(u);
        tkm_encoding_free(b);
        tkm_encoding_free(b2);
    }
    free(t);
}

/* TOKMETER_HUGE_TABLES=0: never copied, however much is counted. */
Test(huge_tables, never_when_turned_off, .timeout = 300) {
    cr_assert_eq(setenv("TOKMETER_HUGE_TABLES", "0", 1), 0);
    tkm_encoding *e = open_enc("o200k_base");
    const size_t n = (size_t)8 << 20;
    char *t = mixed_text(n);
    for (int r = 0; r < 10; r++) (void)count_in_calls(e, t, n, n);
    cr_assert(tkm_tables_for(e, n) == e->ranks);
    free(t);
    tkm_encoding_free(e);
}

/* Unset: calls under 4 KiB never bring the copy, 80 MiB of them included; then, where the kernel
 * offers transparent huge pages, 64 MiB counted in larger calls do, and the handle's counts stay
 * as they were. */
Test(huge_tables, by_default_after_64_mib_in_calls_of_4_kib_or_more, .timeout = 300) {
    cr_assert_eq(unsetenv("TOKMETER_HUGE_TABLES"), 0);
    tkm_encoding *e = open_enc("o200k_base");
    const size_t n = (size_t)8 << 20;
    char *t = mixed_text(n);
    const size_t whole = count_in_calls(e, t, n, n), small = count_in_calls(e, t, n, 4095);
    for (int r = 0; r < 9; r++) cr_assert_eq(count_in_calls(e, t, n, 4095), small);
    cr_assert(tkm_tables_for(e, 0) == e->ranks, "copied after calls of under 4 KiB");
    for (int r = 0; r < 6; r++) cr_assert_eq(count_in_calls(e, t, n, n), whole); /* 8 + 48 MiB in big calls */
    cr_assert(tkm_tables_for(e, 0) == e->ranks, "copied before 64 MiB");
    const size_t mib = count_in_calls(e, t, n, 1 << 20); /* to 64 MiB: its last call makes the copy */
    const int want = thp_offered();
    cr_assert_eq(tkm_tables_for(e, 0) != e->ranks, want, "copied: %d, huge pages offered: %d",
                 tkm_tables_for(e, 0) != e->ranks, want);
    cr_assert_eq(count_in_calls(e, t, n, n), whole);
    cr_assert_eq(count_in_calls(e, t, n, 1 << 20), mib);
    cr_assert_eq(count_in_calls(e, t, n, 4095), small);
    free(t);
    tkm_encoding_free(e);
}
