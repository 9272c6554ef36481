/*
 * test_bpe.c - the kernel's byte-pair merge (tkm_bpe_count / tkm_bpe_encode) and the public count
 * against the simple reference BPE of oracle.c, and known answers.
 *
 * Every comparison checks the token ranks, not only the count (counts let errors cancel).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "oracle.h"
#include "tokmeter.h"
#include "vocab.h"

#ifndef TKM_CORPUS_DIR
#define TKM_CORPUS_DIR ""
#endif

typedef struct encoding {
    const char *name;
    const tkm_ranks *ranks;
    int family;
} encoding;

/* p50k_edit shares p50k_base's table, o200k_harmony o200k_base's. */
static const encoding encodings[4] = {
    {"r50k_base", &tkm_ranks_r50k_base, ORACLE_GPT2},
    {"p50k_base", &tkm_ranks_p50k_base, ORACLE_GPT2},
    {"cl100k_base", &tkm_ranks_cl100k_base, ORACLE_CL100K},
    {"o200k_base", &tkm_ranks_o200k_base, ORACLE_O200K},
};
#define R50K (&encodings[0])
#define P50K (&encodings[1])
#define CL100K (&encodings[2])
#define O200K (&encodings[3])

/* ---- kernel scratch memory ------------------------------------------------------------------ */

static void *w_alloc(void *opaque, size_t size) {
    (void)opaque;
    return malloc(size);
}
static void w_free(void *opaque, void *ptr) {
    (void)opaque;
    free(ptr);
}
static tkm_bpe_work new_work(void) {
    tkm_bpe_work w = {w_alloc, w_free, NULL, NULL, 0};
    return w;
}

/* ---- comparison ----------------------------------------------------------------------------- */

static int reports_left = 10;

static void print_tokens(const encoding *e, const char *who, const uint32_t *t, size_t k, size_t at) {
    size_t lo = at > 4 ? at - 4 : 0, hi = at + 5 < k ? at + 5 : k;
    fprintf(stderr, "  %-7s %zu tokens; tokens %zu..%zu:", who, k, lo, hi);
    for (size_t i = lo; i < hi; i++) {
        size_t len = 0;
        const uint8_t *b = t[i] < e->ranks->n_ranks ? tkm_ranks_bytes(e->ranks, t[i], &len) : NULL;
        fprintf(stderr, " %u(", t[i]);
        for (size_t j = 0; b && j < len && j < 16; j++) fprintf(stderr, "%02X", b[j]);
        fprintf(stderr, "%s)", len > 16 ? ".." : "");
    }
    fputc('\n', stderr);
}

/* Kernel encode + count vs the reference token list `want` (k tokens). 1 if equal. */
static int check_kernel(const encoding *e, const uint8_t *p, size_t n, const uint32_t *want, size_t k, const char *label,
                        tkm_bpe_work *w) {
    uint32_t *got = malloc(n * sizeof *got);
    cr_assert_not_null(got);
    size_t kg = tkm_bpe_encode(e->ranks, p, n, got, w);
    size_t kc = tkm_bpe_count(e->ranks, p, n, w);
    cr_assert_neq(kg, TKM_BPE_NOMEM, "tkm_bpe_encode: out of memory (%zu bytes)", n);
    cr_assert_neq(kc, TKM_BPE_NOMEM, "tkm_bpe_count: out of memory (%zu bytes)", n);
    size_t i = 0;
    while (i < k && i < kg && got[i] == want[i]) i++;
    int same = kg == k && kc == k && i == k;
    if (e->ranks->pairs) { /* segment by segment between the cuts, as count.c counts long pieces */
        size_t ks = 0;
        for (size_t a = 0, b; a < n; a = b) {
            b = tkm_bpe_segment_end(e->ranks, p, a, n);
            size_t m = tkm_bpe_count_segment(e->ranks, p + a, b - a, w);
            cr_assert_neq(m, TKM_BPE_NOMEM, "tkm_bpe_count_segment: out of memory (%zu bytes)", b - a);
            ks += m;
        }
        if (ks != k) {
            same = 0;
            fprintf(stderr, "\nBPE MISMATCH %s %s: segment counts add up to %zu tokens, reference %zu\n", e->name,
                    label, ks, k);
        }
    }
    /* the reference (bytes) path of the kernel, which the tables are built with, agrees too */
    size_t kb = tkm_bpe_encode_bytes(e->ranks, p, n, got, NULL, w);
    cr_assert_neq(kb, TKM_BPE_NOMEM, "tkm_bpe_encode_bytes: out of memory (%zu bytes)", n);
    if (kb != k || memcmp(got, want, k * sizeof *got) != 0) {
        same = 0;
        fprintf(stderr, "\nBPE MISMATCH %s %s: bytes path gives %zu tokens, reference %zu\n", e->name, label, kb, k);
    }
    kg = tkm_bpe_encode(e->ranks, p, n, got, w); /* for the report below */
    if (!same && reports_left > 0) {
        reports_left--;
        fprintf(stderr, "\nBPE MISMATCH %s %s: piece of %zu bytes; reference %zu tokens, tkm_bpe_encode %zu, tkm_bpe_count %zu; first difference at token %zu\n",
                e->name, label, n, k, kg, kc, i);
        fprintf(stderr, "  piece:");
        for (size_t j = 0; j < n && j < 48; j++) fprintf(stderr, " %02X", p[j]);
        fprintf(stderr, "%s\n", n > 48 ? " ..." : "");
        print_tokens(e, "oracle", want, k, i);
        print_tokens(e, "kernel", got, kg, i);
    }
    free(got);
    return same;
}

/* Batched counting (tkm_bpe_count_batch): pieces of 2..TKM_BPE_BATCH_MAX bytes are collected, up
 * to TKM_BPE_BATCH at a time, and their counts compared with the reference's. */
static struct {
    const encoding *e;
    uint8_t *p[TKM_BPE_BATCH];
    uint8_t n[TKM_BPE_BATCH];
    size_t want[TKM_BPE_BATCH];
    size_t nb, checked, fails;
} g_batch;

static void batch_flush(void) {
    if (!g_batch.nb) return;
    uint32_t c[TKM_BPE_BATCH];
    tkm_bpe_count_batch(g_batch.e->ranks, (const uint8_t *const *)g_batch.p, g_batch.n, g_batch.nb, c);
    for (size_t q = 0; q < g_batch.nb; q++) {
        if (c[q] != g_batch.want[q] && g_batch.fails++ < 10)
            fprintf(stderr, "\nBATCH MISMATCH %s: piece of %u bytes (slot %zu of %zu): %u tokens, reference %zu\n",
                    g_batch.e->name, g_batch.n[q], q, g_batch.nb, c[q], g_batch.want[q]);
        free(g_batch.p[q]);
        g_batch.checked++;
    }
    g_batch.nb = 0;
}

static void batch_add(const encoding *e, const uint8_t *p, size_t n, size_t want) {
    if (n < 2 || n > TKM_BPE_BATCH_MAX || !e->ranks->pairs) return;
    if (g_batch.e != e) batch_flush();
    g_batch.e = e;
    g_batch.p[g_batch.nb] = malloc(n);
    cr_assert_not_null(g_batch.p[g_batch.nb]);
    memcpy(g_batch.p[g_batch.nb], p, n);
    g_batch.n[g_batch.nb] = (uint8_t)n;
    g_batch.want[g_batch.nb] = want;
    if (++g_batch.nb == TKM_BPE_BATCH) batch_flush();
}

/* Flush, and fail the test if any batched count differed. */
static void batch_finish(const char *what) {
    batch_flush();
    fprintf(stderr, "%s: %zu pieces also counted in batches\n", what, g_batch.checked);
    cr_assert_eq(g_batch.fails, 0, "%s: %zu batched counts differ from the reference", what, g_batch.fails);
}

/* Pure BPE (no whole-piece lookup) of p[0..n): kernel vs oracle_bpe (simple up to
 * ORACLE_SIMPLE_MAX bytes, rounds above). */
static int compare_bpe(const encoding *e, const uint8_t *in, size_t n, const char *label, tkm_bpe_work *w) {
    uint8_t *p = malloc(n); /* exact size: ASan sees any read past the piece */
    uint32_t *want = malloc(n * sizeof *want);
    cr_assert(p && want);
    memcpy(p, in, n);
    size_t k = oracle_bpe(e->ranks, p, n, want);
    int same = check_kernel(e, p, n, want, k, label, w);
    batch_add(e, p, n, k);
    free(want);
    free(p);
    return same;
}

static void reps_fill(uint8_t *dst, size_t n, const char *unit) {
    size_t u = strlen(unit);
    for (size_t i = 0; i < n; i++) dst[i] = (uint8_t)unit[i % u];
}

/* ---- corpus pieces -------------------------------------------------------------------------- */

/* A set of 64-bit piece hashes, to run each distinct piece once. */
typedef struct hset {
    uint64_t *v;
    size_t mask, n;
} hset;

static int hset_add(hset *h, uint64_t key) {
    if (key == 0) key = 1;
    if (2 * (h->n + 1) > h->mask + 1) {
        size_t old = h->v ? h->mask + 1 : 0;
        uint64_t *ov = h->v;
        h->mask = old ? 2 * old - 1 : 4095;
        h->v = calloc(h->mask + 1, sizeof *h->v);
        cr_assert_not_null(h->v);
        for (size_t i = 0; i < old; i++)
            if (ov[i]) {
                size_t j = ov[i] & h->mask;
                while (h->v[j]) j = (j + 1) & h->mask;
                h->v[j] = ov[i];
            }
        free(ov);
    }
    size_t j = key & h->mask;
    while (h->v[j]) {
        if (h->v[j] == key) return 0;
        j = (j + 1) & h->mask;
    }
    h->v[j] = key;
    h->n++;
    return 1;
}

static void corpus_pieces(const encoding *e) {
    const char *dir = TKM_CORPUS_DIR;
    if (!dir[0]) cr_skip_test("TKM_CORPUS_DIR not defined at compile time: corpus BPE test skipped");
    size_t nfiles = 0;
    char **files = oracle_list_files(dir, &nfiles);
    if (!files) cr_skip_test("corpus directory %s not found: corpus BPE test skipped", dir);
    if (nfiles == 0) cr_skip_test("corpus directory %s is empty: corpus BPE test skipped", dir);
    tkm_bpe_work w = new_work();
    hset seen = {NULL, 0, 0};
    size_t pieces = 0, merged = 0, fails = 0, longest = 0;
    for (size_t f = 0; f < nfiles; f++) {
        size_t n0, n;
        uint8_t *raw = oracle_read_file(files[f], &n0);
        cr_assert_not_null(raw, "cannot read %s", files[f]);
        /* Pieces are cut from the repaired text, as tiktoken sees it. */
        uint8_t *s = oracle_repair_utf8(raw, n0, &n);
        free(raw);
        size_t k;
        size_t *ends = oracle_split_alloc(e->family, s, n, &k);
        size_t a = 0;
        for (size_t i = 0; i < k; i++) {
            const uint8_t *p = s + a;
            size_t len = ends[i] - a;
            a = ends[i];
            pieces++;
            if (tkm_ranks_find(e->ranks, p, len) != TKM_RANK_NONE) continue;
            if (!hset_add(&seen, XXH3_64bits_withSeed(p, len, len))) continue;
            merged++;
            if (len > longest) longest = len;
            char label[1100];
            snprintf(label, sizeof label, "%s@%zu", files[f], (size_t)(p - s));
            fails += !compare_bpe(e, p, len, label, &w);
        }
        free(ends);
        free(s);
        free(files[f]);
    }
    free(files);
    free(seen.v);
    tkm_bpe_work_release(&w);
    fprintf(stderr, "corpus/%s: %zu pieces, %zu distinct pieces needing BPE (longest %zu bytes), %zu mismatches\n", e->name,
            pieces, merged, longest, fails);
    cr_assert_eq(fails, 0, "corpus/%s: %zu pieces merge differently from the reference BPE", e->name, fails);
    batch_finish(e->name);
    cr_assert_gt(g_batch.checked, 1000u);
}

Test(bpe, corpus_r50k, .timeout = 300) { corpus_pieces(R50K); }
Test(bpe, corpus_p50k, .timeout = 300) { corpus_pieces(P50K); }
Test(bpe, corpus_cl100k, .timeout = 300) { corpus_pieces(CL100K); }
Test(bpe, corpus_o200k, .timeout = 300) { corpus_pieces(O200K); }

/* ---- runs, random bytes, emoji ---------------------------------------------------------------- */

/* Runs of one unit repeated to lengths 1..max (in bytes) with the given step (a prime). */
static size_t runs(const encoding *e, const char *unit, size_t max, size_t step, tkm_bpe_work *w) {
    size_t fails = 0;
    uint8_t *buf = malloc(max);
    cr_assert_not_null(buf);
    reps_fill(buf, max, unit);
    for (size_t n = 1; n <= max; n += step) {
        char label[64];
        snprintf(label, sizeof label, "run of \"%s\" x %zu bytes", unit[0] == ' ' ? "SP" : unit, n);
        fails += !compare_bpe(e, buf, n, label, w);
    }
    free(buf);
    return fails;
}

Test(bpe, single_letter_runs, .timeout = 120) {
    tkm_bpe_work w = new_work();
    size_t fails = 0;
    for (int i = 0; i < 4; i++) {
        fails += runs(&encodings[i], "a", 3000, 11, &w);
        fails += runs(&encodings[i], "Z", 3000, 31, &w);
    }
    tkm_bpe_work_release(&w);
    cr_assert_eq(fails, 0, "%zu letter runs merge differently", fails);
    batch_finish("letter runs");
}

Test(bpe, space_digit_newline_runs, .timeout = 120) {
    tkm_bpe_work w = new_work();
    size_t fails = 0;
    for (int i = 0; i < 4; i++) {
        fails += runs(&encodings[i], " ", 3000, 13, &w);
        fails += runs(&encodings[i], "0", 3000, 37, &w);
        fails += runs(&encodings[i], "7", 500, 3, &w);
        fails += runs(&encodings[i], "\n", 1500, 29, &w);
        fails += runs(&encodings[i], "\t", 1500, 41, &w);
        fails += runs(&encodings[i], "12", 1500, 23, &w);
        fails += runs(&encodings[i], "ab", 1500, 19, &w);
        fails += runs(&encodings[i], " a", 1500, 43, &w);
        fails += runs(&encodings[i], "=", 1500, 47, &w);
    }
    tkm_bpe_work_release(&w);
    cr_assert_eq(fails, 0, "%zu runs merge differently", fails);
    batch_finish("space, digit and newline runs");
}

Test(bpe, emoji_runs, .timeout = 120) {
    static const char *const units[] = {
        "\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200D\U0001F469\u200D\U0001F467", "\U0001F1FA\U0001F1F8",
        "\u2764\uFE0F", "\u4E2D\u6587", "\u00E9", "\uFFFD",
    };
    tkm_bpe_work w = new_work();
    size_t fails = 0;
    for (int i = 0; i < 4; i++)
        for (size_t u = 0; u < sizeof units / sizeof *units; u++) fails += runs(&encodings[i], units[u], 2000, 17, &w);
    tkm_bpe_work_release(&w);
    cr_assert_eq(fails, 0, "%zu emoji / multibyte runs merge differently", fails);
    batch_finish("emoji runs");
}

Test(bpe, random_byte_pieces, .timeout = 120) {
    tkm_bpe_work w = new_work();
    oracle_rng r = {0x62706572616E64ull};
    size_t fails = 0;
    uint8_t buf[2048];
    for (int i = 0; i < 4; i++) {
        for (int t = 0; t < 6000; t++) {
            /* Mostly short; some up to 2 KB. Three byte mixes: uniform, ASCII-heavy, high-bit only. */
            size_t n = 1 + (t % 10 == 0 ? oracle_rng_below(&r, 2048) : oracle_rng_below(&r, 64));
            int mix = t % 3;
            for (size_t j = 0; j < n; j++) {
                uint32_t b = oracle_rng_below(&r, 256);
                if (mix == 1 && b >= 128) b = 'a' + b % 26;
                if (mix == 2) b |= 0x80;
                buf[j] = (uint8_t)b;
            }
            char label[64];
            snprintf(label, sizeof label, "random piece #%d (mix %d)", t, mix);
            fails += !compare_bpe(&encodings[i], buf, n, label, &w);
        }
    }
    tkm_bpe_work_release(&w);
    cr_assert_eq(fails, 0, "%zu random byte pieces merge differently", fails);
    batch_finish("random byte pieces");
}

/* The long-piece merge with 8-position blocks and 40-byte windows (tests/bpe_tiny_blocks.c):
 * pieces of 65..2000 bytes span up to 250 block heaps, which fill with stale entries and are
 * compacted, and are stitched from up to 80 windows. */
extern size_t tkm_bpe_tiny_compactions, tkm_bpe_tiny_windows, tkm_bpe_tiny_restarts, tkm_bpe_tiny_memo_hits;
extern size_t tkm_bpe_tiny_runs_taken, tkm_bpe_tiny_runs_declined;
extern int tkm_bpe_tiny_runs_on;
size_t tkm_bpe_tiny_encode(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, tkm_bpe_work *w);
size_t tkm_bpe_tiny_count(const tkm_ranks *v, const uint8_t *p, size_t n, tkm_bpe_work *w);
void tkm_bpe_tiny_work_release(tkm_bpe_work *w);

Test(bpe, tiny_blocks, .timeout = 120) {
    static const char *const units[] = {"a", " ", "\n", "abcdefghijklmnopqrstuvwxyz", "\U0001F600", "ab", "12", " a",
                                        "\u4E2D\u6587", "=-", "aab"};
    oracle_rng r = {0x74696E79ull};
    tkm_bpe_work w = new_work();
    uint8_t *buf = malloc(2000);
    uint32_t *want = malloc(2000 * sizeof *want), *got = malloc(2000 * sizeof *got);
    cr_assert(buf && want && got);
    tkm_bpe_tiny_runs_on = 0; /* run-like pieces too go through the heaps and windows here */
    size_t fails = 0, checked = 0;
    for (int i = 0; i < 4; i++) {
        const encoding *e = &encodings[i];
        cr_assert_not_null(e->ranks->pairs);
        for (int t = 0; t < 600; t++) {
            size_t n = 65 + oracle_rng_below(&r, 1936);
            if (t % 2 == 0) {
                reps_fill(buf, n, units[t / 2 % (sizeof units / sizeof *units)]);
            } else {
                for (size_t j = 0; j < n; j++) {
                    uint32_t b = oracle_rng_below(&r, 256);
                    buf[j] = (uint8_t)(t % 4 == 1 ? 'a' + b % 3 : b); /* few letters: long merges */
                }
            }
            size_t k = oracle_bpe(e->ranks, buf, n, want);
            size_t kg = tkm_bpe_tiny_encode(e->ranks, buf, n, got, &w);
            size_t kc = tkm_bpe_tiny_count(e->ranks, buf, n, &w);
            checked++;
            if (kg != k || kc != k || memcmp(got, want, k * sizeof *got) != 0) {
                if (fails++ < 5)
                    fprintf(stderr, "tiny blocks: %s piece #%d of %zu bytes: %zu tokens (count %zu), reference %zu\n",
                            e->name, t, n, kg, kc, k);
            }
        }
    }
    tkm_bpe_tiny_work_release(&w);
    free(buf);
    free(want);
    free(got);
    fprintf(stderr, "tiny blocks: %zu pieces, %zu block-heap compactions, %zu windows (%zu reused), %zu junctions that did not stand\n",
            checked, tkm_bpe_tiny_compactions, tkm_bpe_tiny_windows, tkm_bpe_tiny_memo_hits, tkm_bpe_tiny_restarts);
    cr_assert_eq(fails, 0, "%zu pieces merge differently with 8-position blocks and 40-byte windows", fails);
    cr_assert_gt(tkm_bpe_tiny_compactions, 0u, "the compaction of a full block heap was not exercised");
    cr_assert_gt(tkm_bpe_tiny_windows, 10 * checked, "the window stitching was not exercised");
    cr_assert_gt(tkm_bpe_tiny_restarts, 0u, "no junction failed to stand: the one-heap fallback was not exercised");
    cr_assert_gt(tkm_bpe_tiny_memo_hits, 0u, "no window was reused");
    cr_assert_lt(tkm_bpe_tiny_memo_hits, tkm_bpe_tiny_windows, "every window was reused");
}

/* The merge of runs (bpe.c, "Runs"): pieces of a few runs of one repeated byte - letters, spaces,
 * newlines, tabs, punctuation, digits, bytes of UTF-8 sequences and invalid ones - of 1 to 700
 * bytes each, against the reference, through the library's merge and the tiny-block copy (which
 * counts whether the path was taken); mean runs under 8 bytes are declined, and go to the heaps. */
Test(bpe, runs_of_bytes, .timeout = 300) {
    static const uint8_t alphabet[] = {'a',  'b', 'e', 'z', 'A', ' ', '\n', '\t', '-',  '=',  '_',
                                       '.',  '!', '0', '7', '\'', 'x', 0xFF, 0x80, 0xC3, 0xE4};
    oracle_rng r = {0x72756E73ull};
    tkm_bpe_work w = new_work(), wt = new_work();
    const size_t cap = 1200;
    uint8_t *buf = malloc(cap);
    uint32_t *want = malloc(cap * sizeof *want), *got = malloc(cap * sizeof *got);
    cr_assert(buf && want && got);
    size_t fails = 0, checked = 0;
    for (int i = 0; i < 4; i++) {
        const encoding *e = &encodings[i];
        for (int t = 0; t < 250; t++) {
            const size_t n = 65 + oracle_rng_below(&r, (uint32_t)(cap - 65));
            uint8_t pick[4];
            const uint32_t kinds = 1 + oracle_rng_below(&r, 4), longest = t % 3 == 0 ? 12 : 700;
            for (uint32_t k = 0; k < kinds; k++) /* short runs: of letters, which seldom cut the piece */
                pick[k] = alphabet[oracle_rng_below(&r, t % 3 == 0 ? 4 : sizeof alphabet)];
            for (size_t len = 0; len < n;) {
                const uint8_t b = pick[oracle_rng_below(&r, kinds)];
                size_t run = 1 + oracle_rng_below(&r, longest);
                if (run > n - len) run = n - len;
                memset(buf + len, b, run);
                len += run;
            }
            const size_t k = oracle_bpe(e->ranks, buf, n, want);
            const size_t kg = tkm_bpe_encode(e->ranks, buf, n, got, &w);
            const int ids_ok = kg == k && memcmp(got, want, k * sizeof *got) == 0;
            const size_t kc = tkm_bpe_count(e->ranks, buf, n, &w);
            const size_t kt = tkm_bpe_tiny_encode(e->ranks, buf, n, got, &wt);
            const int tiny_ok = kt == k && memcmp(got, want, k * sizeof *got) == 0;
            checked++;
            if (!ids_ok || !tiny_ok || kc != k || tkm_bpe_tiny_count(e->ranks, buf, n, &wt) != k) {
                if (fails++ < 5)
                    fprintf(stderr, "runs: %s piece #%d of %zu bytes, %u kinds: %zu tokens (count %zu, tiny %zu), "
                            "reference %zu\n", e->name, t, n, kinds, kg, kc, kt, k);
            }
        }
    }
    /* more runs than RUNS_MAX (8192): declined, so that the working memory stays bounded */
    const size_t big = 8300 * 8, declined = tkm_bpe_tiny_runs_declined;
    uint8_t *p = malloc(big);
    uint32_t *ids = malloc(big * sizeof *ids);
    cr_assert(p && ids);
    for (size_t i = 0; i < big; i++) p[i] = (uint8_t)(i / 8 % 2 ? 'b' : 'a');
    const size_t k = oracle_bpe(O200K->ranks, p, big, ids);
    cr_assert_eq(tkm_bpe_count(O200K->ranks, p, big, &w), k);
    cr_assert_eq(tkm_bpe_tiny_count(O200K->ranks, p, big, &wt), k);
    cr_assert_gt(tkm_bpe_tiny_runs_declined, declined, "8300 runs were not declined");
    free(p);
    free(ids);
    tkm_bpe_work_release(&w);
    tkm_bpe_tiny_work_release(&wt);
    free(buf);
    free(want);
    free(got);
    fprintf(stderr, "runs: %zu pieces, the merge of runs taken for %zu segments, declined for %zu\n", checked,
            tkm_bpe_tiny_runs_taken, tkm_bpe_tiny_runs_declined);
    cr_assert_eq(fails, 0, "%zu pieces merge differently as runs", fails);
    cr_assert_gt(tkm_bpe_tiny_runs_taken, checked, "the merge of runs was seldom taken");
    cr_assert_gt(tkm_bpe_tiny_runs_declined, 0u, "no piece of short runs was declined");
}

/* A vocabulary in which merges form pairs of lower rank ("aaa" and "aab" rank below "aa", their
 * part): the merge of runs must decline it (bpe.c), whether the pair stands only between the
 * merges of a run ("a" repeated) or after them ("aa" then "b" repeated), and the heaps give the
 * reference's tokens. */
Test(bpe, runs_declined_when_ranks_fall, .timeout = 60) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *text = malloc(256 * 12 + 64), *o = text;
    cr_assert_not_null(text);
    for (int c = 0; c < 256; c++) o += sprintf(o, "%c%c== %d\n", b64[c >> 2], b64[(c & 3) << 4], c);
    o += sprintf(o, "YWFh 256\nYWFi 257\nYWE= 258\nYWI= 259\nYmI= 260\n"); /* aaa, aab, aa, ab, bb */
    tkm_ranks v;
    size_t line = 0;
    cr_assert_eq(tkm_ranks_build(text, (size_t)(o - text), w_alloc, w_free, NULL, &v, &line), 0,
                 "line %zu", line);
    cr_assert_not_null(v.pairs);
    tkm_bpe_work w = new_work(), wt = new_work();
    uint8_t buf[400];
    uint32_t want[400], got[400];
    const size_t declined = tkm_bpe_tiny_runs_declined;
    for (size_t n = 65; n <= sizeof buf; n += 7) {
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(n % 2 == 0 || i < 2 ? 'a' : 'b');
        const size_t k = oracle_bpe(&v, buf, n, want);
        cr_assert_eq(tkm_bpe_encode(&v, buf, n, got, &w), k, "%zu bytes", n);
        cr_assert(memcmp(got, want, k * sizeof *got) == 0, "%zu bytes", n);
        cr_assert_eq(tkm_bpe_tiny_encode(&v, buf, n, got, &wt), k, "%zu bytes", n);
        cr_assert(memcmp(got, want, k * sizeof *got) == 0, "%zu bytes", n);
    }
    cr_assert_geq(tkm_bpe_tiny_runs_declined - declined, 48u, "every piece declined");
    tkm_bpe_work_release(&w);
    tkm_bpe_tiny_work_release(&wt);
    tkm_ranks_destroy(&v, w_free, NULL);
    free(text);
}

/* The two reference algorithms agree where the round-based one applies. */
Test(oracle, rounds_equal_simple, .timeout = 120) {
    static const char *const units[] = {"a", " ", "0", "\U0001F600", "ab", "\n", "Z"};
    uint8_t *buf = malloc(4096);
    uint32_t *a = malloc(4096 * sizeof *a), *b = malloc(4096 * sizeof *b);
    cr_assert(buf && a && b);
    for (int i = 0; i < 4; i++)
        for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
            reps_fill(buf, 4096, units[u]);
            for (size_t n = 1; n <= 4096; n += (n < 300 ? 1 : 97)) {
                size_t ka = oracle_bpe_simple(encodings[i].ranks, buf, n, a);
                size_t kb = oracle_bpe_rounds(encodings[i].ranks, buf, n, b);
                cr_assert_eq(ka, kb, "%s: run of unit %zu x %zu bytes: simple %zu tokens, rounds %zu", encodings[i].name, u, n, ka, kb);
                cr_assert_arr_eq(a, b, ka * sizeof *a, "%s: run of unit %zu x %zu bytes: tokens differ", encodings[i].name, u, n);
            }
        }
    free(buf);
    free(a);
    free(b);
}

/* ---- one-megabyte pieces and texts ------------------------------------------------------------ */

#define MB 1000000u

Test(bpe, megabyte_letter_piece, .timeout = 120) {
    uint8_t *buf = malloc(MB);
    cr_assert_not_null(buf);
    memset(buf, 'a', MB);
    tkm_bpe_work w = new_work();
    for (int i = 0; i < 4; i++) {
        uint32_t *want = malloc(MB * sizeof *want);
        cr_assert_not_null(want);
        size_t k = oracle_bpe_rounds(encodings[i].ranks, buf, MB, want);
        cr_assert(check_kernel(&encodings[i], buf, MB, want, k, "1 MB of 'a'", &w), "%s: 1 MB of 'a' merges differently", encodings[i].name);
        free(want);
    }
    tkm_bpe_work_release(&w);
    free(buf);
}

static tkm_encoding *open_enc(const char *name) {
    tkm_encoding *enc = NULL;
    tkm_status st = tkm_encoding_open(name, &enc);
    cr_assert_eq(st, TKM_OK, "tkm_encoding_open(%s): %s", name, tkm_status_string(st));
    return enc;
}

static size_t public_count(const char *name, const uint8_t *s, size_t n) {
    tkm_encoding *enc = open_enc(name);
    size_t c = 0;
    tkm_status st = tkm_count(enc, s, n, &c);
    cr_assert_eq(st, TKM_OK, "tkm_count(%s): %s", name, tkm_status_string(st));
    tkm_encoding_free(enc);
    return c;
}

/* Known answer from the issue (verified against tiktoken by its author). */
Test(bpe, million_spaces_known_answer, .timeout = 60) {
    uint8_t *buf = malloc(MB);
    cr_assert_not_null(buf);
    memset(buf, ' ', MB);
    cr_expect_eq(public_count("cl100k_base", buf, MB), 7813, "cl100k_base: 1,000,000 spaces");
    cr_expect_eq(public_count("o200k_base", buf, MB), 7813, "o200k_base: 1,000,000 spaces");
    /* And the oracle agrees with the known answer (guards the guard). */
    cr_expect_eq(oracle_count(ORACLE_CL100K, &tkm_ranks_cl100k_base, buf, MB), 7813, "oracle cl100k_base: 1,000,000 spaces");
    cr_expect_eq(oracle_count(ORACLE_O200K, &tkm_ranks_o200k_base, buf, MB), 7813, "oracle o200k_base: 1,000,000 spaces");
    free(buf);
}

/* Public tkm_count and tkm_encode vs oracle_count / oracle_encode on one text, for three encodings. */
static void megabyte_text(const uint8_t *buf, size_t n, const char *what) {
    cr_assert(oracle_text_agrees(buf, n, NULL), "%s: the text has code points PCRE2 classifies differently", what);
    static const int which[3] = {2, 3, 0}; /* cl100k, o200k, r50k */
    for (int q = 0; q < 3; q++) {
        const encoding *e = &encodings[which[q]];
        size_t want_n = oracle_count(e->family, e->ranks, buf, n);
        uint32_t *want = malloc((want_n ? want_n : 1) * sizeof *want);
        cr_assert_not_null(want);
        cr_assert_eq(oracle_encode(e->family, e->ranks, buf, n, want, want_n), want_n);
        tkm_encoding *enc = open_enc(e->name);
        size_t got_n = 0;
        tkm_status st = tkm_count(enc, buf, n, &got_n);
        cr_assert_eq(st, TKM_OK, "tkm_count(%s): %s", e->name, tkm_status_string(st));
        cr_expect_eq(got_n, want_n, "%s, %s: tkm_count %zu, oracle %zu", what, e->name, got_n, want_n);
        tkm_options opt;
        memset(&opt, 0, sizeof opt);
        opt.struct_size = sizeof opt;
        tkm_result res;
        memset(&res, 0, sizeof res);
        res.struct_size = sizeof res;
        st = tkm_count_ex(enc, buf, n, &opt, &res);
        cr_assert_eq(st, TKM_OK, "tkm_count_ex(%s): %s", e->name, tkm_status_string(st));
        cr_expect_eq(res.tokens, want_n, "%s, %s: tkm_count_ex %zu, oracle %zu", what, e->name, res.tokens, want_n);
        uint32_t *got = malloc((want_n + 1) * sizeof *got);
        cr_assert_not_null(got);
        size_t ids = 0;
        st = tkm_encode(enc, buf, n, NULL, got, want_n + 1, &ids);
        cr_assert_eq(st, TKM_OK, "tkm_encode(%s): %s", e->name, tkm_status_string(st));
        cr_expect_eq(ids, want_n, "%s, %s: tkm_encode %zu ids, oracle %zu", what, e->name, ids, want_n);
        size_t i = 0;
        while (i < ids && i < want_n && got[i] == want[i]) i++;
        if (i < want_n && i < ids) {
            fprintf(stderr, "%s, %s: first different id at %zu\n", what, e->name, i);
            print_tokens(e, "oracle", want, want_n, i);
            print_tokens(e, "public", got, ids, i);
        }
        cr_expect(i == want_n && ids == want_n, "%s, %s: ids differ from the oracle at index %zu", what, e->name, i);
        fprintf(stderr, "%s, %s: %zu tokens\n", what, e->name, want_n);
        free(got);
        free(want);
        tkm_encoding_free(enc);
    }
}

Test(bpe, megabyte_one_letter, .timeout = 120) {
    uint8_t *buf = malloc(MB);
    cr_assert_not_null(buf);
    memset(buf, 'x', MB);
    megabyte_text(buf, MB, "1 MB of 'x'");
    free(buf);
}

Test(bpe, megabyte_random_bytes, .timeout = 120) {
    uint8_t *buf = malloc(MB);
    cr_assert_not_null(buf);
    oracle_rng r = {0x72616E646F6D4D42ull};
    for (size_t i = 0; i < MB; i++) buf[i] = (uint8_t)oracle_rng_next(&r);
    /* Break up the rare well-formed code points PCRE2 (Unicode 14) classifies differently. */
    size_t bad, fixed = 0;
    while (!oracle_text_agrees(buf, MB, &bad)) {
        buf[bad] = 'x';
        fixed++;
    }
    fprintf(stderr, "1 MB random bytes: %zu code points replaced to suit PCRE2\n", fixed);
    megabyte_text(buf, MB, "1 MB of random bytes");
    free(buf);
}

Test(bpe, megabyte_one_emoji, .timeout = 120) {
    uint8_t *buf = malloc(MB);
    cr_assert_not_null(buf);
    reps_fill(buf, MB, "\U0001F600"); /* 4 bytes, so 250,000 whole emoji */
    megabyte_text(buf, MB, "1 MB of U+1F600");
    free(buf);
}
