/*
 * test_parallel.c - multi-threaded counting equals the one-shot count, status and error offset.
 *
 * tkm_count_parallel cuts only at safe points (kernel/cut.c); these tests compare it with
 * tkm_count_ex on the whole corpus in all six encodings for n_threads 1, 2, 3, 4, 7, 16, in every
 * mode, on texts whose first problem lies in a later piece, on tiny texts and on texts without a
 * safe cut. The corpus files are small next to the public 256 KiB minimum piece, so the tests call
 * the tuned entry point (parallel.h) with a 1-byte minimum piece, and assert that the text really
 * was cut (n_pieces), so that a counter that never splits cannot pass. Batches are compared item by
 * item with tkm_count_ex. No timing is measured here.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "oracle.h"
#include "parallel.h"
#include "tokmeter.h"

static const char *const ENCS[] = {"o200k_base", "cl100k_base", "o200k_harmony", "p50k_base", "p50k_edit", "r50k_base"};
#define N_ENCS (sizeof ENCS / sizeof ENCS[0])
static const unsigned THREADS[] = {1, 2, 3, 4, 7, 16};
#define N_THREADS_SET (sizeof THREADS / sizeof THREADS[0])

static tkm_encoding *open_enc(const char *name) {
    tkm_encoding *e = NULL;
    cr_assert_eq(tkm_encoding_open(name, &e), TKM_OK, "open %s", name);
    return e;
}

/* Parallel (tuned) vs a one-shot answer computed before; returns the pieces used. */
static size_t check_against(const tkm_encoding *e, const char *label, const void *s, size_t n, uint32_t flags,
                            unsigned threads, size_t min_seg, size_t window, unsigned per, tkm_status ws,
                            const tkm_result *want) {
    tkm_options o = {sizeof o, flags, 0, NULL};
    tkm_result got = {sizeof got, 7, 7, 7};
    size_t pieces = 0;
    tkm_status gs = tkm_count_parallel_tuned(e, s, n, threads, &o, &got, min_seg, window, per, &pieces);
    cr_assert_eq(gs, ws, "%s flags %u threads %u: status %d (%s), one-shot %d (%s)", label, flags, threads, gs,
                 tkm_status_string(gs), ws, tkm_status_string(ws));
    cr_assert_eq(got.tokens, want->tokens, "%s flags %u threads %u: %zu tokens, one-shot %zu", label, flags, threads,
                 got.tokens, want->tokens);
    cr_assert_eq(got.bytes, want->bytes, "%s flags %u threads %u: bytes", label, flags, threads);
    cr_assert_eq(got.error_offset, want->error_offset, "%s flags %u threads %u: error offset %zu, one-shot %zu",
                 label, flags, threads, got.error_offset, want->error_offset);
    cr_assert_leq(pieces, (threads ? threads : TKM_MAX_THREADS) * per);
    return pieces;
}

/* Parallel (tuned) vs one-shot; returns the pieces used. */
static size_t check_same(const tkm_encoding *e, const char *label, const void *s, size_t n, uint32_t flags,
                         unsigned threads, size_t min_seg, size_t window, unsigned per) {
    tkm_options o = {sizeof o, flags, 0, NULL};
    tkm_result want = {sizeof want, 0, 0, 0};
    tkm_status ws = tkm_count_ex(e, s, n, &o, &want);
    return check_against(e, label, s, n, flags, threads, min_seg, window, per, ws, &want);
}

/* Every n_threads of THREADS against one one-shot answer; pieces[t] gets the pieces used. */
static void check_threads(const tkm_encoding *e, const char *label, const void *s, size_t n, uint32_t flags,
                          size_t min_seg, size_t window, unsigned per, size_t *pieces) {
    tkm_options o = {sizeof o, flags, 0, NULL};
    tkm_result want = {sizeof want, 0, 0, 0};
    tkm_status ws = tkm_count_ex(e, s, n, &o, &want);
    for (size_t t = 0; t < N_THREADS_SET; t++) {
        size_t p = check_against(e, label, s, n, flags, THREADS[t], min_seg, window, per, ws, &want);
        if (pieces) pieces[t] = p;
    }
}

static int has_specials(const uint8_t *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == '<' && s[i + 1] == '|') return 1;
    return 0;
}

/* Every corpus file in one encoding: default mode always; strict modes on ill-formed files and
 * special-token modes on files with special-token text (elsewhere they equal the default). */
static void corpus_encoding(const char *enc_name) {
    char **files;
    size_t n_files;
    files = oracle_list_files(TKM_CORPUS_DIR, &n_files);
    if (!files) cr_skip_test("corpus not found at %s: parallel parity NOT checked", TKM_CORPUS_DIR);
    tkm_encoding *e = open_enc(enc_name);
    size_t checked = 0, split_fully = 0, split_cases = 0, strict_files = 0, special_files = 0;
    for (size_t f = 0; f < n_files; f++) {
        size_t n;
        uint8_t *s = oracle_read_file(files[f], &n);
        cr_assert_not_null(s, "read %s", files[f]);
        int invalid = tkm_utf8_first_invalid(s, n) < n;
        int specials = has_specials(s, n);
        strict_files += invalid;
        special_files += specials;
        size_t pieces[N_THREADS_SET];
        check_threads(e, files[f], s, n, 0, 1, 1 << 16, 1, pieces);
        for (size_t t = 0; t < N_THREADS_SET; t++)
            if (THREADS[t] > 1 && n >= 4096) {
                split_cases++;
                split_fully += pieces[t] == THREADS[t];
            }
        /* more pieces than threads, taken by whichever thread is free (the public default is 4) */
        check_threads(e, files[f], s, n, 0, 1, 1 << 16, 3, pieces);
        for (size_t t = 0; t < N_THREADS_SET; t++)
            if (THREADS[t] > 1 && n >= 4096) {
                split_cases++;
                split_fully += pieces[t] == 3 * THREADS[t];
            }
        if (invalid) {
            check_threads(e, files[f], s, n, TKM_UTF8_STRICT, 1, 1 << 16, 1, NULL);
            check_threads(e, files[f], s, n, TKM_UTF8_STRICT | TKM_SPECIAL_REJECT, 1, 1 << 16, 1, NULL);
        }
        if (specials) {
            check_threads(e, files[f], s, n, TKM_SPECIAL_ALLOW, 1, 1 << 16, 1, NULL);
            check_threads(e, files[f], s, n, TKM_SPECIAL_REJECT, 1, 1 << 16, 1, NULL);
            check_threads(e, files[f], s, n, TKM_SPECIAL_ALLOW | TKM_UTF8_STRICT, 1, 1 << 16, 1, NULL);
        }
        checked++;
        free(s);
        free(files[f]);
    }
    free(files);
    tkm_encoding_free(e);
    cr_assert_gt(checked, 100, "only %zu corpus files", checked);
    cr_assert_gt(strict_files, 0, "no ill-formed UTF-8 file in the corpus: strict mode not exercised");
    cr_assert_gt(special_files, 0, "no special-token text in the corpus: special modes not exercised");
    /* nearly every file of 4 KB or more has safe points near every boundary */
    cr_assert_geq(split_fully * 10, split_cases * 9, "%s: only %zu of %zu cases were cut into n pieces", enc_name,
                  split_fully, split_cases);
}

Test(parallel, corpus_o200k_base, .timeout = 900) { corpus_encoding("o200k_base"); }
Test(parallel, corpus_cl100k_base, .timeout = 900) { corpus_encoding("cl100k_base"); }
Test(parallel, corpus_o200k_harmony, .timeout = 900) { corpus_encoding("o200k_harmony"); }
Test(parallel, corpus_p50k_base, .timeout = 900) { corpus_encoding("p50k_base"); }
Test(parallel, corpus_p50k_edit, .timeout = 900) { corpus_encoding("p50k_edit"); }
Test(parallel, corpus_r50k_base, .timeout = 900) { corpus_encoding("r50k_base"); }

/* ---- constructed texts (no corpus needed) ----------------------------------------------------- */

/* Deterministic mixed text: words, contractions, digits, punctuation, CR/LF and space runs,
 * multibyte letters and emoji, as in prose, code and chat. */
static uint8_t *make_text(size_t n, uint64_t seed) {
    static const char *const parts[] = {"the",    " quick",   " brown", " fox's", " JUMPED", " 12345678", ",",
                                        ".\n",    "\n\n",     "  ",     "\t",     " caf\xC3\xA9", " \xE4\xB8\xAD\xE6\x96\x87",
                                        " \xF0\x9F\x98\x80", "(x)", " {\n    return 0;\n}", "\r\n", " we'll",
                                        " \xD0\x9F\xD1\x80\xD0\xB8", "   \n", "/", "//", " --", "\xC2\xA0"};
    oracle_rng r = {seed};
    uint8_t *s = malloc(n + 64);
    cr_assert_not_null(s);
    size_t o = 0;
    while (o < n) {
        uint32_t pick = oracle_rng_below(&r, sizeof parts / sizeof parts[0] + 4);
        if (pick >= sizeof parts / sizeof parts[0]) { /* a made-up word: BPE has to merge it */
            size_t l = 3 + oracle_rng_below(&r, 10);
            s[o++] = ' ';
            for (size_t i = 0; i < l; i++) s[o++] = (uint8_t)('a' + oracle_rng_below(&r, 26));
            continue;
        }
        const char *p = parts[pick];
        size_t l = strlen(p);
        memcpy(s + o, p, l);
        o += l;
    }
    /* the end may have cut a multibyte character: make it ASCII */
    for (size_t i = n; i > 0 && n - i < 4; i--)
        if (s[i - 1] >= 0x80) s[i - 1] = 'z';
    return s;
}

Test(parallel, texts_cut_into_exactly_n_pieces) {
    size_t n = 1 << 20;
    uint8_t *s = make_text(n, 1);
    for (size_t k = 0; k < N_ENCS; k++) {
        tkm_encoding *e = open_enc(ENCS[k]);
        size_t pieces[N_THREADS_SET];
        check_threads(e, "mixed 1 MiB", s, n, 0, 1, 1 << 16, 1, pieces);
        for (size_t t = 0; t < N_THREADS_SET; t++)
            cr_assert_eq(pieces[t], THREADS[t], "%s: %zu pieces for %u threads", ENCS[k], pieces[t], THREADS[t]);
        check_threads(e, "mixed 1 MiB", s, n, 0, 1, 1 << 16, 5, pieces);
        for (size_t t = 0; t < N_THREADS_SET; t++) /* one thread: no cuts, nothing to balance */
            cr_assert_eq(pieces[t], THREADS[t] > 1 ? 5 * THREADS[t] : 1, "%s: %zu pieces for %u threads, 5 each",
                         ENCS[k], pieces[t], THREADS[t]);
        check_threads(e, "mixed 1 MiB", s, n, TKM_UTF8_STRICT | TKM_SPECIAL_ALLOW, 1, 1 << 16, 1, NULL);
        tkm_encoding_free(e);
    }
    free(s);
}

Test(parallel, public_entry_uses_default_knobs) {
    size_t n = 5 << 20;
    uint8_t *s = make_text(n, 2);
    tkm_encoding *e = open_enc("o200k_base");
    tkm_result want = {sizeof want, 0, 0, 0};
    cr_assert_eq(tkm_count_ex(e, s, n, NULL, &want), TKM_OK);
    for (unsigned t = 0; t <= 5; t++) {
        tkm_result got = {sizeof got, 0, 0, 0};
        cr_assert_eq(tkm_count_parallel(e, s, n, t, NULL, &got), TKM_OK);
        cr_assert_eq(got.tokens, want.tokens, "threads %u", t);
        cr_assert_eq(got.bytes, n);
    }
    size_t pieces = 0;
    tkm_result got = {sizeof got, 0, 0, 0};
    cr_assert_eq(tkm_count_parallel_tuned(e, s, n, 4, NULL, &got, TKM_PAR_MIN_SEGMENT, TKM_PAR_SEARCH_WINDOW,
                                          TKM_PAR_PIECES_PER_THREAD, &pieces),
                 TKM_OK);
    cr_assert_eq(pieces, 4 * TKM_PAR_PIECES_PER_THREAD);
    cr_assert_eq(got.tokens, want.tokens);
    /* 16 threads on 5 MiB: the 256 KiB minimum piece allows 20 pieces, not 64, but still one or
     * more for every thread (plan_cuts may drop the last when the remainder is under the minimum) */
    cr_assert_eq(tkm_count_parallel_tuned(e, s, n, 16, NULL, &got, TKM_PAR_MIN_SEGMENT, TKM_PAR_SEARCH_WINDOW,
                                          TKM_PAR_PIECES_PER_THREAD, &pieces),
                 TKM_OK);
    cr_assert_geq(pieces, 16);
    cr_assert_leq(pieces, n / TKM_PAR_MIN_SEGMENT);
    cr_assert_eq(got.tokens, want.tokens);
    /* a text under two minimum pieces is counted whole */
    cr_assert_eq(tkm_count_parallel_tuned(e, s, 300000, 4, NULL, &got, TKM_PAR_MIN_SEGMENT, TKM_PAR_SEARCH_WINDOW,
                                          TKM_PAR_PIECES_PER_THREAD, &pieces),
                 TKM_OK);
    cr_assert_eq(pieces, 1);
    tkm_encoding_free(e);
    free(s);
}

/* The first problem of the text lies in a later piece, with and without an earlier one of the
 * other kind: the earliest wins, as in the one-shot call. */
Test(parallel, earliest_error_across_pieces) {
    size_t n = 200000;
    uint8_t *base = make_text(n, 3);
    uint8_t *s = malloc(n);
    cr_assert_not_null(s);
    static const char *const bads[] = {"\xFF", "\xC3", "\xED\xA0\x80", "\xF0\x9F\x98"};
    oracle_rng r = {99};
    for (size_t k = 0; k < N_ENCS; k++) {
        tkm_encoding *e = open_enc(ENCS[k]);
        for (int round = 0; round < 3; round++) {
            memcpy(s, base, n);
            size_t bad_at = 1000 + oracle_rng_below(&r, (uint32_t)(n - 2000));
            const char *b = bads[round % 4];
            memcpy(s + bad_at, b, strlen(b));
            size_t sp_at = 1000 + oracle_rng_below(&r, (uint32_t)(n - 2000));
            memcpy(s + sp_at, "<|endoftext|>", 13);
            static const uint32_t modes[] = {TKM_UTF8_STRICT, TKM_UTF8_STRICT | TKM_SPECIAL_REJECT, TKM_SPECIAL_REJECT,
                                             TKM_SPECIAL_ALLOW | TKM_UTF8_STRICT, 0};
            for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
                check_threads(e, "bad+special", s, n, modes[m], 1, 4096, 1, NULL);
                check_threads(e, "bad+special", s, n, modes[m], 1, 4096, 4, NULL);
            }
        }
        tkm_encoding_free(e);
    }
    free(s);
    free(base);
}

Test(parallel, tiny_texts) {
    static const char *const texts[] = {"", "a", " ", "\n", "ab cd", "a b c d e f g h", "x\ny\nz\nw", "\xFF",
                                        "a \xFF b", "<|endoftext|>", "a <|endoftext|> b", "\xC3\xA9 \xC3\xA9 \xC3"};
    for (size_t k = 0; k < N_ENCS; k++) {
        tkm_encoding *e = open_enc(ENCS[k]);
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
            for (size_t t = 0; t < N_THREADS_SET; t++)
                for (uint32_t f = 0; f < 8; f++) {
                    if ((f & TKM_SPECIAL_ALLOW) && (f & TKM_SPECIAL_REJECT)) continue;
                    check_same(e, texts[i], texts[i], strlen(texts[i]), f, THREADS[t], 1, 1 << 16, 1);
                    tkm_options o = {sizeof o, f, 0, NULL};
                    tkm_result want = {sizeof want, 0, 0, 0}, got = {sizeof got, 0, 0, 0};
                    tkm_status ws = tkm_count_ex(e, texts[i], strlen(texts[i]), &o, &want);
                    cr_assert_eq(tkm_count_parallel(e, texts[i], strlen(texts[i]), THREADS[t], &o, &got), ws);
                    cr_assert_eq(got.tokens, want.tokens);
                    cr_assert_eq(got.error_offset, want.error_offset);
                }
        /* every prefix length of a short mixed text, cut wherever possible */
        uint8_t *s = make_text(300, 4);
        for (size_t l = 0; l <= 300; l++) check_same(e, "prefix", s, l, 0, 16, 1, 1 << 16, 1);
        free(s);
        tkm_encoding_free(e);
    }
}

Test(parallel, no_safe_cut_falls_back_to_fewer_pieces) {
    size_t n = 200000;
    uint8_t *s = malloc(n);
    cr_assert_not_null(s);
    memset(s, 'a', n);
    tkm_encoding *e = open_enc("cl100k_base");
    for (size_t t = 0; t < N_THREADS_SET; t++)
        cr_assert_eq(check_same(e, "one letter", s, n, 0, THREADS[t], 1, 1 << 20, 1), 1);
    /* one safe point only: at 100500 (' ' after a letter); 4 threads, boundaries at 50000, 100000,
     * 150000, a 1000-byte search window: only the middle boundary finds it */
    s[100500] = ' ';
    cr_assert_eq(check_same(e, "one cut", s, n, 0, 4, 1, 1000, 1), 2);
    cr_assert_eq(check_same(e, "one cut", s, n, TKM_UTF8_STRICT, 4, 1, 1000, 1), 2);
    /* the window too short to reach it: one piece */
    cr_assert_eq(check_same(e, "one cut", s, n, 0, 4, 1, 100, 1), 1);
    /* spaces alone are no cut (a space run's pieces depend on what follows it) */
    memset(s, ' ', n);
    cr_assert_eq(check_same(e, "spaces", s, n, 0, 7, 1, 1 << 20, 1), 1);
    tkm_encoding_free(e);
    free(s);
}

/* A runtime-loaded vocabulary whose special token contains ' ': allow/reject modes must not cut. */
Test(parallel, specials_with_spaces_disable_cutting) {
    size_t vlen;
    char *v = (char *)oracle_read_file(TKM_SOURCE_DIR "/vocab/r50k_base.tiktoken", &vlen);
    cr_assert_not_null(v);
    tkm_special_token sp[] = {{"<| a b |>", 50257}, {"x\ny", 50258}};
    tkm_encoding *u = NULL;
    cr_assert_eq(tkm_encoding_load_tiktoken(v, vlen, TKM_PATTERN_GPT2, sp, 2, "spacey", &u), TKM_OK);
    free(v);
    size_t n = 100000;
    uint8_t *s = make_text(n, 5);
    for (size_t at = 1000; at + 20 < n; at += 7919) memcpy(s + at, (at / 7919) % 2 ? "<| a b |>" : "x\ny", (at / 7919) % 2 ? 9 : 3);
    for (size_t t = 0; t < N_THREADS_SET; t++) {
        cr_assert_eq(check_same(u, "spacey allow", s, n, TKM_SPECIAL_ALLOW, THREADS[t], 1, 1 << 16, 1), 1);
        cr_assert_eq(check_same(u, "spacey reject", s, n, TKM_SPECIAL_REJECT, THREADS[t], 1, 1 << 16, 1), 1);
        /* ordinary mode: special-token text is text, cutting is fine */
        size_t pieces = check_same(u, "spacey ordinary", s, n, 0, THREADS[t], 1, 1 << 16, 1);
        cr_assert_eq(pieces, THREADS[t]);
    }
    size_t cut = 1;
    tkm_options allow = {sizeof allow, TKM_SPECIAL_ALLOW, 0, NULL};
    cr_assert_eq(tkm_find_cut(u, s, n, 0, &allow, &cut), TKM_OK);
    cr_assert_eq(cut, 0);
    free(s);
    tkm_encoding_free(u);
}

/* ---- allocator hook ------------------------------------------------------------------------- */

static atomic_long allocs, frees, budget;
static void *count_alloc(void *opaque, size_t size) {
    (void)opaque;
    if (atomic_fetch_sub(&budget, 1) <= 0) return NULL;
    atomic_fetch_add(&allocs, 1);
    return malloc(size);
}
static void count_free(void *opaque, void *p) {
    (void)opaque;
    if (p) atomic_fetch_add(&frees, 1);
    free(p);
}

Test(parallel, allocator_hook_and_out_of_memory) {
    size_t n = 1 << 20;
    uint8_t *s = make_text(n, 6);
    /* pieces of 64 bytes or less merge in stack memory: plant long made-up words in every piece */
    oracle_rng r = {6};
    for (size_t at = 100; at + 600 < n; at += 8192) {
        size_t p = at;
        while (s[p] != ' ') p++; /* start on a character boundary ... */
        size_t end = p + 201;
        while ((s[end] & 0xC0) == 0x80) end++; /* ... and end on one */
        for (size_t i = p + 1; i < end; i++) s[i] = (uint8_t)('a' + oracle_rng_below(&r, 26));
    }
    cr_assert_eq(tkm_utf8_first_invalid(s, n), n);
    tkm_encoding *e = open_enc("o200k_base");
    tkm_allocator a = {count_alloc, count_free, NULL};
    tkm_options o = {sizeof o, 0, 0, &a};
    tkm_result want = {sizeof want, 0, 0, 0}, got = {sizeof got, 0, 0, 0};
    cr_assert_eq(tkm_count_ex(e, s, n, NULL, &want), TKM_OK);
    atomic_store(&budget, 1L << 40);
    size_t pieces = 0;
    cr_assert_eq(tkm_count_parallel_tuned(e, s, n, 4, &o, &got, 1, 1 << 16, 1, &pieces), TKM_OK);
    cr_assert_eq(pieces, 4);
    cr_assert_eq(got.tokens, want.tokens);
    cr_assert_eq(tkm_count_parallel_tuned(e, s, n, 4, &o, &got, 1, 1 << 16, 4, &pieces), TKM_OK);
    cr_assert_eq(pieces, 16);
    cr_assert_eq(got.tokens, want.tokens);
    cr_assert_gt(atomic_load(&allocs), 4, "the threads' work memory did not come from the hook");
    cr_assert_eq(atomic_load(&allocs), atomic_load(&frees), "leak: %ld allocations, %ld frees", atomic_load(&allocs),
                 atomic_load(&frees));

    /* Strict mode, an invalid byte at 80%, and every allocation after the bookkeeping one fails:
     * the one-shot rejects the text before counting; so must the parallel call, not report OOM. */
    s[n * 4 / 5] = 0xFF;
    tkm_options so = {sizeof so, TKM_UTF8_STRICT, 0, &a};
    atomic_store(&budget, 0);
    cr_assert_eq(tkm_count_ex(e, s, n, &so, &want), TKM_ERR_INVALID_UTF8);
    size_t bad_at = want.error_offset; /* n * 4 / 5, or the start of the character it broke */
    cr_assert(bad_at <= n * 4 / 5 && bad_at + 3 >= n * 4 / 5);
    for (size_t t = 1; t < N_THREADS_SET; t++) {
        atomic_store(&budget, 1);
        got.error_offset = 0;
        cr_assert_eq(tkm_count_parallel_tuned(e, s, n, THREADS[t], &so, &got, 1, 1 << 16, 1, &pieces),
                     TKM_ERR_INVALID_UTF8, "threads %u", THREADS[t]);
        cr_assert_gt(pieces, 1);
        cr_assert_eq(got.error_offset, bad_at);
    }
    /* the same without strict mode: out of memory, as the one-shot */
    atomic_store(&budget, 0);
    cr_assert_eq(tkm_count_ex(e, s, n, &o, &want), TKM_ERR_NO_MEMORY);
    atomic_store(&budget, 1);
    cr_assert_eq(tkm_count_parallel_tuned(e, s, n, 4, &o, &got, 1, 1 << 16, 1, &pieces), TKM_ERR_NO_MEMORY);
    /* even the bookkeeping allocation fails: counted on the calling thread, still exact */
    atomic_store(&budget, 0);
    cr_assert_eq(tkm_count_parallel_tuned(e, s, n, 4, &so, &got, 1, 1 << 16, 1, &pieces), TKM_ERR_INVALID_UTF8);
    cr_assert_eq(pieces, 1);
    cr_assert_eq(got.error_offset, bad_at);
    cr_assert_eq(atomic_load(&allocs), atomic_load(&frees));
    tkm_encoding_free(e);
    free(s);
}

Test(parallel, bad_arguments) {
    tkm_encoding *e = open_enc("o200k_base");
    tkm_result r = {sizeof r, 0, 0, 0};
    tkm_options bad = {sizeof bad, TKM_SPECIAL_ALLOW | TKM_SPECIAL_REJECT, 0, NULL};
    cr_assert_eq(tkm_count_parallel(NULL, "a", 1, 2, NULL, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_parallel(e, NULL, 1, 2, NULL, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_parallel(e, "a", 1, 2, NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_parallel(e, "a", 1, 2, &bad, &r), TKM_ERR_INVALID_ARGUMENT);
    tkm_result small = {sizeof(size_t), 0, 0, 0};
    cr_assert_eq(tkm_count_parallel(e, "a", 1, 2, NULL, &small), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_parallel(e, NULL, 0, 2, NULL, &r), TKM_OK);
    cr_assert_eq(r.tokens, 0);
    size_t cut;
    cr_assert_eq(tkm_find_cut(e, "a b", 3, 0, NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_find_cut(NULL, "a b", 3, 0, NULL, &cut), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_find_cut(e, "a b", 3, 0, &bad, &cut), TKM_ERR_INVALID_ARGUMENT);
    tkm_encoding_free(e);
}

/* ---- tkm_find_cut ----------------------------------------------------------------------------- */

Test(parallel, find_cut_is_safe_for_any_continuation) {
    size_t n = 200000;
    uint8_t *s = make_text(n, 7);
    oracle_rng r = {7};
    for (size_t k = 0; k < N_ENCS; k++) {
        tkm_encoding *e = open_enc(ENCS[k]);
        size_t whole;
        cr_assert_eq(tkm_count(e, s, n, &whole), TKM_OK);
        for (int i = 0; i < 40; i++) {
            /* a window ending anywhere, even inside a character or a piece */
            size_t w = 6 + oracle_rng_below(&r, (uint32_t)(n - 6)), cut = 0;
            size_t from = i % 3 ? 0 : w / 2;
            cr_assert_eq(tkm_find_cut(e, s, w, from, NULL, &cut), TKM_OK);
            if (cut == 0) continue;
            cr_assert(cut >= from && cut >= 2 && cut + 4 <= w, "cut %zu in window %zu from %zu", cut, w, from);
            size_t a, b;
            cr_assert_eq(tkm_count(e, s, cut, &a), TKM_OK);
            cr_assert_eq(tkm_count(e, s + cut, n - cut, &b), TKM_OK);
            cr_assert_eq(a + b, whole, "%s: cut %zu of window %zu: %zu + %zu != %zu", ENCS[k], cut, w, a, b, whole);
        }
        /* the last safe point: none between it and the end of the window */
        size_t cut = 0;
        cr_assert_eq(tkm_find_cut(e, "hello world", 11, 0, NULL, &cut), TKM_OK);
        cr_assert_eq(cut, 5);
        cr_assert_eq(tkm_find_cut(e, "hello world", 11, 6, NULL, &cut), TKM_OK);
        cr_assert_eq(cut, 0);
        cr_assert_eq(tkm_find_cut(e, "aaaaaaaaaaaa", 12, 0, NULL, &cut), TKM_OK);
        cr_assert_eq(cut, 0);
        tkm_encoding_free(e);
    }
    free(s);
}

/* ---- batches -------------------------------------------------------------------------------- */

static void check_batch(const tkm_encoding *e, const tkm_text *items, size_t n, uint32_t flags) {
    tkm_options o = {sizeof o, flags, 0, NULL};
    tkm_item_result *want = calloc(n ? n : 1, sizeof *want), *out = calloc(n ? n : 1, sizeof *out);
    cr_assert(want && out);
    tkm_status first = TKM_OK;
    for (size_t i = 0; i < n; i++) {
        tkm_result w = {sizeof w, 0, 0, 0};
        want[i].status = tkm_count_ex(e, items[i].data, items[i].len, &o, &w);
        want[i].tokens = w.tokens;
        want[i].error_offset = w.error_offset;
        if (first == TKM_OK) first = want[i].status;
    }
    for (size_t t = 0; t <= N_THREADS_SET; t++) {
        unsigned threads = t < N_THREADS_SET ? THREADS[t] : 0;
        memset(out, 0x5A, (n ? n : 1) * sizeof *out);
        out[0].struct_size = sizeof *out;
        tkm_status st = tkm_count_batch(e, items, n, threads, &o, out);
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq(out[i].struct_size, sizeof *out);
            cr_assert_eq(out[i].status, want[i].status, "item %zu flags %u threads %u: %d vs %d", i, flags, threads,
                         out[i].status, want[i].status);
            cr_assert_eq(out[i].tokens, want[i].tokens, "item %zu flags %u threads %u", i, flags, threads);
            cr_assert_eq(out[i].error_offset, want[i].error_offset, "item %zu", i);
        }
        cr_assert_eq(st, first, "batch status %d, first failed item %d", st, first);
    }
    free(want);
    free(out);
}

Test(parallel, batch_equals_one_shot_per_item) {
    size_t n = 1 << 20;
    uint8_t *s = make_text(n, 8);
    s[300000] = 0xFF;                          /* an ill-formed byte in some items */
    memcpy(s + 600000, "<|endoftext|>", 13); /* special-token text in others */
    size_t k = 600;
    tkm_text *items = calloc(k, sizeof *items);
    cr_assert_not_null(items);
    oracle_rng r = {8};
    for (size_t i = 0; i < k; i++) {
        size_t len = i % 100 == 0 ? 0 : i % 7 == 0 ? oracle_rng_below(&r, 20000) : oracle_rng_below(&r, 2000);
        size_t at = i % 50 == 1 ? 300000 - len / 2 : i % 50 == 2 ? 600000 - len / 2 : oracle_rng_below(&r, (uint32_t)(n - len));
        if (at > n - len) at = n - len;
        items[i].struct_size = sizeof items[i];
        items[i].data = len ? s + at : NULL;
        items[i].len = len;
    }
    static const char *const fams[] = {"o200k_base", "cl100k_base", "r50k_base"}; /* each pattern family */
    for (size_t ei = 0; ei < 3; ei++) {
        tkm_encoding *e = open_enc(fams[ei]);
        check_batch(e, items, k, 0);
        check_batch(e, items, k, TKM_UTF8_STRICT);
        check_batch(e, items, k, TKM_SPECIAL_ALLOW);
        check_batch(e, items, k, TKM_SPECIAL_REJECT | TKM_UTF8_STRICT);
        check_batch(e, items, 1, 0);
        check_batch(e, items + 1, 2, 0);
        tkm_encoding_free(e);
    }
    free(items);
    free(s);
}

/* Callers built against a larger (newer) struct: the strides come from struct_size. */
typedef struct big_text {
    tkm_text t;
    uint64_t future[3];
} big_text;
typedef struct big_result {
    tkm_item_result r;
    uint64_t future[2];
} big_result;

Test(parallel, batch_strides_and_errors) {
    tkm_encoding *e = open_enc("cl100k_base");
    static const char *const texts[] = {"hello world", "", "caf\xC3\xA9 \xFF", "a <|endoftext|> b", "12345 67"};
    enum { K = 5 };
    big_text in[K];
    big_result out[K];
    memset(in, 0, sizeof in);
    memset(out, 0xAB, sizeof out);
    for (size_t i = 0; i < K; i++) {
        in[i].t.struct_size = sizeof(big_text);
        in[i].t.data = texts[i];
        in[i].t.len = strlen(texts[i]);
        in[i].future[0] = 0xDEAD;
    }
    out[0].r.struct_size = sizeof(big_result);
    tkm_options strict = {sizeof strict, TKM_UTF8_STRICT | TKM_SPECIAL_REJECT, 0, NULL};
    cr_assert_eq(tkm_count_batch(e, &in[0].t, K, 3, &strict, &out[0].r), TKM_ERR_INVALID_UTF8);
    for (size_t i = 0; i < K; i++) {
        tkm_result want = {sizeof want, 0, 0, 0};
        tkm_status ws = tkm_count_ex(e, texts[i], strlen(texts[i]), &strict, &want);
        cr_assert_eq(out[i].r.struct_size, sizeof(big_result));
        cr_assert_eq(out[i].r.status, ws, "item %zu", i);
        cr_assert_eq(out[i].r.tokens, want.tokens);
        cr_assert_eq(out[i].r.error_offset, want.error_offset);
        cr_assert_eq(out[i].future[0], 0xABABABABABABABABull, "wrote past the fields it knows");
    }
    /* an item with a different struct_size fails alone */
    in[2].t.struct_size = sizeof(tkm_text);
    cr_assert_eq(tkm_count_batch(e, &in[0].t, K, 2, NULL, &out[0].r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(out[2].r.status, TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(out[0].r.status, TKM_OK);
    cr_assert_eq(out[4].r.status, TKM_OK);
    cr_assert_gt(out[4].r.tokens, 0);
    in[2].t.struct_size = sizeof(big_text);
    in[1].t.len = 3; /* NULL data with a length */
    in[1].t.data = NULL;
    cr_assert_eq(tkm_count_batch(e, &in[0].t, K, 2, NULL, &out[0].r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(out[1].r.status, TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(out[0].r.status, TKM_OK);
    in[1].t.len = 0;

    /* call-level errors are reported in every item too */
    tkm_options bad = {sizeof bad, 1u << 9, 0, NULL};
    cr_assert_eq(tkm_count_batch(e, &in[0].t, K, 2, &bad, &out[0].r), TKM_ERR_INVALID_ARGUMENT);
    for (size_t i = 0; i < K; i++) cr_assert_eq(out[i].r.status, TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_batch(NULL, &in[0].t, K, 2, NULL, &out[0].r), TKM_ERR_INVALID_ARGUMENT);
    for (size_t i = 0; i < K; i++) cr_assert_eq(out[i].r.status, TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_batch(e, NULL, K, 2, NULL, &out[0].r), TKM_ERR_INVALID_ARGUMENT);
    tkm_text tiny = {sizeof(size_t), "a", 1};
    cr_assert_eq(tkm_count_batch(e, &tiny, 1, 2, NULL, &out[0].r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(out[0].r.status, TKM_ERR_INVALID_ARGUMENT);
    /* an unusable out array: nothing can be written */
    tkm_item_result r1 = {sizeof(size_t), TKM_OK, 0, 0};
    cr_assert_eq(tkm_count_batch(e, &in[0].t, 1, 2, NULL, &r1), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_batch(e, &in[0].t, 1, 2, NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    /* nothing to count */
    cr_assert_eq(tkm_count_batch(e, NULL, 0, 2, NULL, NULL), TKM_OK);
    cr_assert_eq(tkm_count_batch(NULL, NULL, 0, 2, NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    tkm_encoding_free(e);
}
