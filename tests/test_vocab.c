/*
 * test_vocab.c - SHA-256 known answers, compiled vocabularies, the runtime .tiktoken loader.
 *
 * Needs TKM_SOURCE_DIR (the source tree, for the vocab/NAME.tiktoken files) as a compile definition.
 */
#include <criterion/criterion.h>
/* GCC 12 reports bogus -Warray-bounds in xxhash.h's inlined short-input paths when the near-miss
 * checks below hash a small stack buffer of a length it cannot bound; the lengths are in range. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "vocab.h"

#ifndef TKM_SOURCE_DIR
#error "compile with -DTKM_SOURCE_DIR=\"/path/to/source\""
#endif

/* ---- helpers ------------------------------------------------------------------------------- */

static void *t_alloc(void *opaque, size_t n) {
    if (opaque) (*(size_t *)opaque)++;
    return malloc(n ? n : 1);
}
static void t_free(void *opaque, void *p) {
    if (opaque) (*(size_t *)opaque)--;
    free(p);
}
static void *t_alloc_fail(void *opaque, size_t n) {
    (void)opaque;
    (void)n;
    return NULL;
}

static void hex(const uint8_t *h, char out[65]) {
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", h[i]);
}

static void check_sha(const void *data, size_t len, const char *want) {
    uint8_t h[32];
    char got[65];
    tkm_sha256(data, len, h);
    hex(h, got);
    cr_assert_str_eq(got, want, "sha256 of %zu bytes", len);
}

static uint8_t *slurp(const char *rel, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", TKM_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Build from a C string; returns the code, err_line in *line. */
static int build_str(const char *s, size_t *line, tkm_ranks *v) {
    size_t live = 0;
    int rc = tkm_ranks_build(s, strlen(s), t_alloc, t_free, &live, v, line);
    if (rc == 0) {
        tkm_ranks_destroy(v, t_free, &live);
    }
    cr_assert_eq(live, 0, "allocation leak (rc %d)", rc);
    return rc;
}

/* ---- SHA-256 (FIPS 180-2 appendix B examples, plus the empty message) ------------------------ */

Test(sha256, known_answers) {
    check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_sha(m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                       "mnopqrstnopqrstu";
    check_sha(m896, strlen(m896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    char *a = malloc(1000000);
    cr_assert_not_null(a);
    memset(a, 'a', 1000000);
    check_sha(a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

Test(sha256, padding_boundaries) {
    /* Lengths around the one/two-final-block padding boundary (55/56 and 63/64/65 bytes). */
    uint8_t buf[130], h1[32], h2[32];
    memset(buf, 'x', sizeof buf);
    for (size_t n = 50; n < 130; n++) {
        tkm_sha256(buf, n, h1);
        tkm_sha256(buf, n + 1, h2);
        cr_assert(memcmp(h1, h2, 32) != 0, "length %zu", n);
    }
    /* 64 bytes of 'x' (sha256sum): */
    check_sha(buf, 64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c");
}

/* ---- compiled tables ------------------------------------------------------------------------- */

typedef struct enc_case {
    const char *file;
    const tkm_ranks *ranks;
    uint32_t n_tokens;
    uint32_t n_ranks;
    const char *sha;
} enc_case;

static const enc_case g_cases[] = {
    {"vocab/r50k_base.tiktoken", &tkm_ranks_r50k_base, 50256, 50256,
     "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"},
    {"vocab/p50k_base.tiktoken", &tkm_ranks_p50k_base, 50280, 50281,
     "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069"},
    {"vocab/cl100k_base.tiktoken", &tkm_ranks_cl100k_base, 100256, 100256,
     "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"},
    {"vocab/o200k_base.tiktoken", &tkm_ranks_o200k_base, 199998, 199998,
     "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"},
};

static void check_compiled(const enc_case *c) {
    const tkm_ranks *v = c->ranks;
    char h[65];
    cr_assert_eq(v->n_tokens, c->n_tokens, "%s n_tokens", c->file);
    cr_assert_eq(v->n_ranks, c->n_ranks, "%s n_ranks", c->file);
    hex(v->sha256, h);
    cr_assert_str_eq(h, c->sha, "%s sha256", c->file);
    /* slot table: power of two, >= 2 * n_tokens */
    uint32_t slots = v->mask + 1u;
    cr_assert_eq(slots & v->mask, 0u);
    cr_assert_geq((uint64_t)slots, 2u * (uint64_t)v->n_tokens);
    cr_assert_lt((uint64_t)slots, 4u * (uint64_t)v->n_tokens);
    uint32_t present = 0, max_len = 0, short_tokens = 0;
    for (uint32_t r = 0; r < v->n_ranks; r++) {
        size_t n;
        const uint8_t *p = tkm_ranks_bytes(v, r, &n);
        if (n == 0) continue;
        present++;
        if (n > max_len) max_len = (uint32_t)n;
        cr_assert_eq(tkm_ranks_find(v, p, n), r, "%s rank %u round trip", c->file, r);
        cr_assert_eq(tkm_ranks_find_slow(v, p, n), r, "%s rank %u round trip (slow table)", c->file, r);
        if (n <= TKM_FAST_MAX) short_tokens++;
        /* near misses: the same bytes with the last one changed, one byte shorter, one longer */
        uint8_t q[TKM_FAST_MAX + 2];
        if (n + 1 <= sizeof q) {
            memcpy(q, p, n);
            for (unsigned d = 1; d < 256; d += 97) {
                q[n - 1] = (uint8_t)(p[n - 1] + d);
                cr_assert_eq(tkm_ranks_find(v, q, n), tkm_ranks_find_slow(v, q, n), "%s near miss of %u", c->file, r);
            }
            memcpy(q, p, n);
            q[n] = 'q';
            cr_assert_eq(tkm_ranks_find(v, q, n + 1), tkm_ranks_find_slow(v, q, n + 1), "%s longer than %u", c->file, r);
            if (n > 1)
                cr_assert_eq(tkm_ranks_find(v, q, n - 1), tkm_ranks_find_slow(v, q, n - 1), "%s shorter than %u", c->file, r);
        }
    }
    /* fast table: every token of at most TKM_FAST_MAX bytes, load <= 1/2 */
    cr_assert_not_null(v->fast, "%s has a fast table", c->file);
    uint32_t fused = 0;
    for (uint32_t i = 0; i <= v->fast_mask; i++) fused += v->fast[2 * i + 1] != 0;
    cr_assert_eq(fused, short_tokens, "%s fast table holds every short token", c->file);
    cr_assert_leq(2u * (uint64_t)short_tokens, (uint64_t)v->fast_mask + 1u, "%s fast load", c->file);
    cr_assert_eq(present, v->n_tokens);
    cr_assert_eq(max_len, v->max_len);
    uint32_t used = 0;
    for (uint32_t i = 0; i <= v->mask; i++) used += v->slots[i] != TKM_RANK_NONE;
    cr_assert_eq(used, v->n_tokens);
    for (unsigned b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        cr_assert_neq(tkm_ranks_find(v, &byte, 1), TKM_RANK_NONE, "%s single byte %u", c->file, b);
    }
    cr_assert_eq(tkm_ranks_find(v, (const uint8_t *)"", 0), TKM_RANK_NONE);
    /* pair2: every 2-byte string, against the reference table */
    cr_assert_not_null(v->pair2);
    for (unsigned i = 0; i < 65536; i++) {
        uint8_t two[2] = {(uint8_t)i, (uint8_t)(i >> 8)};
        cr_assert_eq(tkm_ranks_find(v, two, 2), tkm_ranks_find_slow(v, two, 2), "%s pair %02x %02x", c->file, two[0],
                     two[1]);
    }
    /* byte ids and canonical splits (the id path of bpe.c): every entry (a, b) -> t has
     * bytes(a) + bytes(b) == bytes(t) and is what the reference BPE's last merge of t's bytes
     * joins; every token of >= 2 bytes that the reference BPE forms whole has its entry. */
    cr_assert_not_null(v->pairs, "%s has a pair table", c->file);
    for (unsigned b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        cr_assert_eq(v->byte_ids[b], tkm_ranks_find_slow(v, &byte, 1), "%s byte id %u", c->file, b);
    }
    uint32_t pused = 0;
    for (uint32_t i = 0; i <= v->pairs_mask; i++) {
        uint64_t sl = v->pairs[i];
        if (sl == TKM_PAIR_EMPTY) continue;
        pused++;
        uint32_t a = (uint32_t)(sl >> 42), b = (uint32_t)(sl >> 21) & TKM_PAIR_ID_LIMIT, t = (uint32_t)sl & TKM_PAIR_ID_LIMIT;
        size_t na, nb, nt;
        const uint8_t *pa = tkm_ranks_bytes(v, a, &na), *pb = tkm_ranks_bytes(v, b, &nb), *pt = tkm_ranks_bytes(v, t, &nt);
        cr_assert(na && nb && na + nb == nt && memcmp(pa, pt, na) == 0 && memcmp(pb, pt + na, nb) == 0,
                  "%s pair slot %u: %u + %u != %u", c->file, i, a, b, t);
        cr_assert_eq(tkm_pair_find(v, a, b), t, "%s pair (%u, %u) found", c->file, a, b);
    }
    cr_assert_eq(pused, v->n_pairs);
    /* the tail copy that the vector probes read past the last slot (vocab.h) */
    for (uint32_t i = 0; i < TKM_PAIR_TAIL; i++)
        cr_assert_eq(v->pairs[(size_t)v->pairs_mask + 1u + i], v->pairs[i & v->pairs_mask], "%s pair tail %u", c->file,
                     i);
    /* inner2: exactly the byte pairs that occur inside some token */
    cr_assert_not_null(v->inner2, "%s has the inner byte-pair bitmap", c->file);
    uint64_t *bits = calloc(1024, sizeof *bits);
    cr_assert_not_null(bits);
    for (uint32_t r = 0; r < v->n_ranks; r++) {
        size_t n;
        const uint8_t *p = tkm_ranks_bytes(v, r, &n);
        for (size_t i = 0; i + 1 < n; i++) bits[(p[i] | (unsigned)p[i + 1] << 8) >> 6] |= (uint64_t)1 << ((p[i] | (unsigned)p[i + 1] << 8) & 63);
    }
    cr_assert(memcmp(bits, v->inner2, 1024 * sizeof *bits) == 0, "%s inner2 bitmap", c->file);
    free(bits);
    cr_assert_leq(2u * (uint64_t)pused, (uint64_t)v->pairs_mask + 1u, "%s pair load", c->file);
    tkm_bpe_work w = {t_alloc, t_free, NULL, NULL, 0};
    uint32_t reached = 0;
    for (uint32_t r = 0; r < v->n_ranks; r++) {
        size_t n, cut = 0;
        const uint8_t *p = tkm_ranks_bytes(v, r, &n);
        if (n < 2) continue;
        size_t m = tkm_bpe_encode_bytes(v, p, n, NULL, &cut, &w);
        cr_assert_neq(m, TKM_BPE_NOMEM);
        uint32_t a = tkm_ranks_find_slow(v, p, cut), b = tkm_ranks_find_slow(v, p + cut, n - cut);
        if (m == 1) {
            reached++;
            cr_assert_eq(tkm_pair_find(v, a, b), r, "%s token %u: split (%u, %u) at %zu", c->file, r, a, b, cut);
        }
    }
    tkm_bpe_work_release(&w);
    cr_assert_eq(reached, v->n_pairs, "%s: %u tokens formed whole, %u splits", c->file, reached, v->n_pairs);
}

/* Table a holds what table v holds: every field and every array, byte for byte. */
static void check_same_tables(const tkm_ranks *a, const tkm_ranks *v, const char *what) {
    cr_assert_eq(a->n_ranks, v->n_ranks);
    cr_assert_eq(a->n_tokens, v->n_tokens);
    cr_assert_eq(a->mask, v->mask);
    cr_assert_eq(a->max_len, v->max_len);
    cr_assert(memcmp(a->sha256, v->sha256, 32) == 0);
    cr_assert(memcmp(a->offsets, v->offsets, ((size_t)v->n_ranks + 1) * 4) == 0, "%s offsets", what);
    cr_assert(memcmp(a->slots, v->slots, ((size_t)v->mask + 1) * 4) == 0, "%s slots", what);
    cr_assert(memcmp(a->bytes, v->bytes, v->offsets[v->n_ranks]) == 0, "%s bytes", what);
    cr_assert_eq(a->fast_mask, v->fast_mask);
    cr_assert_eq(a->fast_shift, v->fast_shift);
    cr_assert(memcmp(a->fast, v->fast, ((size_t)v->fast_mask + 1) * 16) == 0, "%s fast table", what);
    cr_assert(memcmp(a->pair2, v->pair2, 65536 * 4) == 0, "%s pair2 table", what);
    cr_assert_eq(a->pairs_mask, v->pairs_mask);
    cr_assert_eq(a->pairs_shift, v->pairs_shift);
    cr_assert_eq(a->n_pairs, v->n_pairs);
    cr_assert(memcmp(a->byte_ids, v->byte_ids, 256 * 4) == 0, "%s byte ids", what);
    cr_assert(memcmp(a->pairs, v->pairs, ((size_t)v->pairs_mask + 1 + TKM_PAIR_TAIL) * 8) == 0, "%s pair table",
              what);
    cr_assert(memcmp(a->inner2, v->inner2, 1024 * 8) == 0, "%s inner2 bitmap", what);
}

static void check_runtime_identical(const enc_case *c) {
    size_t len, line = 99, live = 0;
    uint8_t *data = slurp(c->file, &len);
    uint8_t h[32];
    char hx[65];
    tkm_sha256(data, len, h);
    hex(h, hx);
    cr_assert_str_eq(hx, c->sha, "%s file sha256", c->file);
    tkm_ranks rt;
    int rc = tkm_ranks_build(data, len, t_alloc, t_free, &live, &rt, &line);
    cr_assert_eq(rc, 0, "%s build rc %d line %zu", c->file, rc, line);
    cr_assert_eq(line, 0);
    check_same_tables(&rt, c->ranks, c->file);
    tkm_ranks_destroy(&rt, t_free, &live);
    cr_assert_eq(live, 0);
    cr_assert_null(rt.offsets);
    free(data);
}

Test(vocab, r50k_base) { check_compiled(&g_cases[0]); }
Test(vocab, p50k_base) {
    check_compiled(&g_cases[1]);
    size_t n;
    (void)tkm_ranks_bytes(&tkm_ranks_p50k_base, 50256, &n);
    cr_assert_eq(n, 0, "p50k_base has a gap at 50256 (<|endoftext|>)");
}
Test(vocab, cl100k_base) { check_compiled(&g_cases[2]); }
Test(vocab, o200k_base) {
    check_compiled(&g_cases[3]);
    cr_assert_eq(tkm_ranks_o200k_base.max_len, 128u);
    cr_assert_eq(tkm_ranks_find(&tkm_ranks_o200k_base, (const uint8_t *)"hello", 5), 24912u);
    cr_assert_eq(tkm_ranks_find(&tkm_ranks_cl100k_base, (const uint8_t *)"hello", 5), 15339u);
    cr_assert_eq(tkm_ranks_find(&tkm_ranks_r50k_base, (const uint8_t *)"hello", 5), 31373u);
}

/* tkm_ranks_copy (the built-in tables moved into huge pages, kernel/tables.c): the same
 * contents, in memory of its own, freed whole by tkm_ranks_destroy; a failed allocation leaves
 * nothing. */
static void check_copy(const enc_case *c) {
    size_t live = 0;
    tkm_ranks cp;
    cr_assert_eq(tkm_ranks_copy(c->ranks, t_alloc, &live, &cp), 0);
    cr_assert_eq(live, 1, "one block");
    check_same_tables(&cp, c->ranks, c->file);
    const void *mine[] = {cp.bytes, cp.offsets, cp.slots, cp.fast, cp.pair2, cp.byte_ids, cp.pairs, cp.inner2};
    const void *theirs[] = {c->ranks->bytes, c->ranks->offsets, c->ranks->slots,    c->ranks->fast,
                            c->ranks->pair2, c->ranks->byte_ids, c->ranks->pairs, c->ranks->inner2};
    for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++)
        cr_assert(theirs[i] == NULL || mine[i] != theirs[i], "%s: array %zu is not copied", c->file, i);
    const uint8_t *hello = (const uint8_t *)"hello";
    cr_assert_eq(tkm_ranks_find(&cp, hello, 5), tkm_ranks_find(c->ranks, hello, 5));
    tkm_ranks_destroy(&cp, t_free, &live);
    cr_assert_eq(live, 0);
    memset(&cp, 0x5A, sizeof cp);
    cr_assert_eq(tkm_ranks_copy(c->ranks, t_alloc_fail, NULL, &cp), -1);
    cr_assert_null(cp.offsets);
    cr_assert_null(cp.fast);
}
Test(vocab_copy, r50k_base) { check_copy(&g_cases[0]); }
Test(vocab_copy, p50k_base) { check_copy(&g_cases[1]); }
Test(vocab_copy, cl100k_base) { check_copy(&g_cases[2]); }
Test(vocab_copy, o200k_base) { check_copy(&g_cases[3]); }

Test(vocab_runtime, r50k_base) { check_runtime_identical(&g_cases[0]); }
Test(vocab_runtime, p50k_base) { check_runtime_identical(&g_cases[1]); }
Test(vocab_runtime, cl100k_base) { check_runtime_identical(&g_cases[2]); }
Test(vocab_runtime, o200k_base) { check_runtime_identical(&g_cases[3]); }

/* ---- special tokens ------------------------------------------------------------------------ */

static void check_specials(const tkm_specials *s, const tkm_ranks *v, uint32_t count, uint32_t n_vocab) {
    cr_assert_eq(s->count, count);
    cr_assert_eq(s->n_vocab, n_vocab);
    uint32_t want = v->n_ranks;
    for (uint32_t i = 0; i < s->count; i++) {
        const tkm_special *t = &s->items[i];
        cr_assert_eq(strlen(t->text), t->len);
        cr_assert_geq(t->len, 1u);
        cr_assert(t->id >= v->n_ranks || v->offsets[t->id] == v->offsets[t->id + 1], "special id %u is a rank",
                  t->id);
        if (t->id + 1 > want) want = t->id + 1;
        for (uint32_t j = 0; j < i; j++) cr_assert_str_neq(t->text, s->items[j].text);
    }
    cr_assert_eq(want, n_vocab);
}

static uint32_t special_id(const tkm_specials *s, const char *text) {
    for (uint32_t i = 0; i < s->count; i++)
        if (strcmp(s->items[i].text, text) == 0) return s->items[i].id;
    return TKM_RANK_NONE;
}

Test(specials, all) {
    check_specials(&tkm_specials_r50k_base, &tkm_ranks_r50k_base, 1, 50257);
    check_specials(&tkm_specials_p50k_base, &tkm_ranks_p50k_base, 1, 50281);
    check_specials(&tkm_specials_p50k_edit, &tkm_ranks_p50k_base, 4, 50284);
    check_specials(&tkm_specials_cl100k_base, &tkm_ranks_cl100k_base, 5, 100277);
    check_specials(&tkm_specials_o200k_base, &tkm_ranks_o200k_base, 2, 200019);
    check_specials(&tkm_specials_o200k_harmony, &tkm_ranks_o200k_base, 1091, 201088);
    cr_assert_eq(special_id(&tkm_specials_r50k_base, "<|endoftext|>"), 50256u);
    cr_assert_eq(special_id(&tkm_specials_p50k_edit, "<|fim_suffix|>"), 50283u);
    cr_assert_eq(special_id(&tkm_specials_cl100k_base, "<|endofprompt|>"), 100276u);
    cr_assert_eq(special_id(&tkm_specials_o200k_base, "<|endoftext|>"), 199999u);
    cr_assert_eq(special_id(&tkm_specials_o200k_base, "<|endofprompt|>"), 200018u);
    const tkm_specials *h = &tkm_specials_o200k_harmony;
    cr_assert_eq(special_id(h, "<|endofprompt|>"), 200018u);
    cr_assert_eq(special_id(h, "<|reserved_200018|>"), 200018u);
    cr_assert_eq(special_id(h, "<|startoftext|>"), 199998u);
    cr_assert_eq(special_id(h, "<|return|>"), 200002u);
    cr_assert_eq(special_id(h, "<|constrain|>"), 200003u);
    cr_assert_eq(special_id(h, "<|channel|>"), 200005u);
    cr_assert_eq(special_id(h, "<|start|>"), 200006u);
    cr_assert_eq(special_id(h, "<|end|>"), 200007u);
    cr_assert_eq(special_id(h, "<|message|>"), 200008u);
    cr_assert_eq(special_id(h, "<|call|>"), 200012u);
    cr_assert_eq(special_id(h, "<|reserved_201087|>"), 201087u);
    cr_assert_eq(special_id(h, "<|reserved_200012|>"), TKM_RANK_NONE);
}

/* ---- the runtime loader on small inputs ------------------------------------------------------ */

/* "a"=YQ==, "b"=Yg==, "ab"=YWI=, "abc"=YWJj */

Test(loader, small_ok_and_layout) {
    tkm_ranks v;
    size_t line = 99, live = 0;
    const char *s = "YWJj 3\nYQ== 0\nYg== 1\n";
    cr_assert_eq(tkm_ranks_build(s, strlen(s), t_alloc, t_free, &live, &v, &line), 0);
    cr_assert_eq(line, 0);
    cr_assert_eq(v.n_ranks, 4u);
    cr_assert_eq(v.n_tokens, 3u);
    cr_assert_eq(v.mask, 7u);
    cr_assert_eq(v.max_len, 3u);
    cr_assert_eq(v.offsets[0], 0u);
    cr_assert_eq(v.offsets[1], 1u);
    cr_assert_eq(v.offsets[2], 2u);
    cr_assert_eq(v.offsets[3], 2u); /* gap at rank 2 */
    cr_assert_eq(v.offsets[4], 5u);
    cr_assert(memcmp(v.bytes, "ababc", 5) == 0);
    cr_assert_eq(tkm_ranks_find(&v, (const uint8_t *)"abc", 3), 3u);
    cr_assert_eq(tkm_ranks_find(&v, (const uint8_t *)"b", 1), 1u);
    cr_assert_eq(tkm_ranks_find(&v, (const uint8_t *)"ab", 2), TKM_RANK_NONE);
    uint8_t h[32];
    tkm_sha256(s, strlen(s), h);
    cr_assert(memcmp(h, v.sha256, 32) == 0);
    cr_assert_eq(live, 1);
    tkm_ranks_destroy(&v, t_free, &live);
    cr_assert_eq(live, 0);
}

Test(loader, line_endings) {
    tkm_ranks v;
    size_t line;
    cr_assert_eq(build_str("YQ== 0\r\nYg== 1\r\n", &line, &v), 0);
    cr_assert_eq(build_str("YQ== 0\r\nYg== 1", &line, &v), 0); /* no final newline */
    cr_assert_eq(build_str("YQ== 0\nYg== 1\r\n", &line, &v), 0); /* mixed */
    cr_assert_eq(build_str("YQ== 0", &line, &v), 0);
    /* a lone CR is not a line end */
    cr_assert_eq(build_str("YQ== 0\rYg== 1\n", &line, &v), -2);
    cr_assert_eq(line, 1);
    cr_assert_eq(build_str("YQ== 0\n\r", &line, &v), -2);
    cr_assert_eq(line, 2);
}

Test(loader, crlf_same_table) {
    tkm_ranks a, b;
    size_t l1, l2, live = 0;
    const char *lf = "YQ== 0\nYg== 1\nYWI= 2\n", *crlf = "YQ== 0\r\nYg== 1\r\nYWI= 2\r\n";
    cr_assert_eq(tkm_ranks_build(lf, strlen(lf), t_alloc, t_free, &live, &a, &l1), 0);
    cr_assert_eq(tkm_ranks_build(crlf, strlen(crlf), t_alloc, t_free, &live, &b, &l2), 0);
    cr_assert(memcmp(a.offsets, b.offsets, 4 * 4) == 0);
    cr_assert(memcmp(a.slots, b.slots, (a.mask + 1) * 4) == 0);
    cr_assert(memcmp(a.sha256, b.sha256, 32) != 0); /* sha256 is over the file as given */
    tkm_ranks_destroy(&a, t_free, &live);
    tkm_ranks_destroy(&b, t_free, &live);
    cr_assert_eq(live, 0);
}

typedef struct bad_case {
    const char *text;
    size_t line;
} bad_case;

Test(loader, malformed) {
    static const bad_case bad[] = {
        {"", 1},                         /* empty file */
        {"\n", 1},                       /* blank line */
        {"YQ== 0\n\nYg== 1\n", 2},       /* blank line inside */
        {"YQ== 0\nY!== 1\n", 2},         /* bad base64 symbol */
        {"YQ= 0\n", 1},                  /* length not a multiple of 4 */
        {"YQ=A 0\n", 1},                 /* '=' not at the end */
        {"Y=== 0\n", 1},                 /* too much padding */
        {"==== 0\n", 1},                 /* padding only */
        {"YR== 0\n", 1},                 /* non-canonical (unused bits set) */
        {"YWJ= 0\n", 1},                 /* non-canonical, one '=' */
        {"YQ==A 0\n", 1},                /* data after padding */
        {"YQ==\n", 1},                   /* missing rank */
        {"YQ== \n", 1},                  /* empty rank */
        {"YQ==  0\n", 1},                /* two spaces */
        {"YQ==\t0\n", 1},                /* tab separator */
        {" YQ== 0\n", 1},                /* leading space: empty base64 */
        {"YQ== 0 \n", 1},                /* trailing space */
        {"YQ== x\n", 1},                 /* non-numeric rank */
        {"YQ== 1x\n", 1},                /* trailing garbage */
        {"YQ== -1\n", 1},                /* sign */
        {"YQ== +1\n", 1},                /* sign */
        {"YQ== 2147483648\n", 1},        /* rank >= 2^31 */
        {"YQ== 99999999999999999999\n", 1}, /* overflow */
        {"YQ== 0\nYg== 1048578\n", 2},  /* max rank >= n_tokens + 2^20: mostly gaps */
        {"YQ== 0\nYg== 0\n", 2},         /* duplicate rank */
        {"YQ== 0\nYg== 1\nYWI= 1\n", 3}, /* duplicate rank */
        {"YQ== 1\nYg== 0\nYQ== 2\n", 3}, /* duplicate bytes */
        {"YQ== 5\nYg== 0\nYQ== 2\n", 3}, /* duplicate bytes, later line has the lower rank */
        {"YQ== 0\nYg== 1\nYWI= 2\nYg== 3\n", 4},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tkm_ranks v;
        memset(&v, 0x5a, sizeof v);
        size_t line = 12345;
        int rc = build_str(bad[i].text, &line, &v);
        cr_assert_eq(rc, -2, "case %zu: rc %d", i, rc);
        cr_assert_eq(line, bad[i].line, "case %zu: line %zu, want %zu", i, line, bad[i].line);
        cr_assert_null(v.offsets, "case %zu: *out cleared on failure", i);
    }
}

Test(loader, accepted_edge_cases) {
    tkm_ranks v;
    size_t line;
    cr_assert_eq(build_str("YQ== 007\n", &line, &v), 0);        /* leading zeros */
    cr_assert_eq(build_str("YQ== 1048576\n", &line, &v), 0);    /* gaps below 2^20 + n_tokens */
    cr_assert_eq(build_str("AA== 0\n", &line, &v), 0);           /* the NUL byte is a token */
    cr_assert_eq(build_str("//// 0\n++++ 1\n", &line, &v), 0);
}

Test(loader, out_of_memory) {
    tkm_ranks v;
    size_t line = 7;
    const char *s = "YQ== 0\n";
    cr_assert_eq(tkm_ranks_build(s, strlen(s), t_alloc_fail, t_free, NULL, &v, &line), -1);
    cr_assert_null(v.offsets);
}

Test(loader, null_data) {
    tkm_ranks v;
    size_t line = 7;
    cr_assert_eq(tkm_ranks_build(NULL, 0, t_alloc, t_free, NULL, &v, &line), -2);
    cr_assert_eq(line, 1);
    cr_assert_eq(tkm_ranks_build("YQ== 0", 6, t_alloc, t_free, NULL, &v, NULL), 0); /* err_line may be NULL */
    tkm_ranks_destroy(&v, t_free, NULL);
}
