/*
 * test_pretok.c - the scalar pre-tokenizers against the PCRE2 oracle, piece boundary by boundary.
 *
 * Every comparison runs only on text whose code points PCRE2 (Unicode 14) and our tables
 * (Unicode 16) classify alike (oracle_text_agrees); anything else would test PCRE2's tables.
 * Inputs are copied into exact-size heap buffers so that a read past the end shows under ASan.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "pretok.h"

#ifndef TKM_CORPUS_DIR
#define TKM_CORPUS_DIR ""
#endif

typedef struct family {
    int id;
    tkm_pretok_fn fn;
    const char *name;
} family;

static const family families[3] = {
    {ORACLE_GPT2, tkm_pretok_next_gpt2, "gpt2"},
    {ORACLE_CL100K, tkm_pretok_next_cl100k, "cl100k"},
    {ORACLE_O200K, tkm_pretok_next_o200k, "o200k"},
};

/* ---- comparison ----------------------------------------------------------------------------- */

/* The kernel's piece ends; stops at the first out-of-range return (*bad = 1). malloc'd. */
static size_t *kernel_split(const family *f, const uint8_t *s, size_t n, size_t *count, int *bad) {
    size_t cap = 64, k = 0, pos = 0;
    size_t *ends = malloc(cap * sizeof *ends);
    cr_assert_not_null(ends);
    *bad = 0;
    while (pos < n) {
        size_t e = f->fn(s, pos, n);
        if (e <= pos || e > n) {
            *bad = 1;
            if (k == cap) ends = realloc(ends, (cap *= 2) * sizeof *ends);
            ends[k++] = e;
            break;
        }
        if (k == cap) {
            cap *= 2;
            ends = realloc(ends, cap * sizeof *ends);
            cr_assert_not_null(ends);
        }
        ends[k++] = e;
        pos = e;
    }
    *count = k;
    return ends;
}

static void hexdump(const uint8_t *s, size_t n, size_t from, size_t to, size_t mark) {
    for (size_t row = from & ~(size_t)15; row < to; row += 16) {
        fprintf(stderr, "  %8zu: ", row);
        for (size_t j = row; j < row + 16; j++) {
            if (j < from || j >= to || j >= n) fprintf(stderr, "   ");
            else fprintf(stderr, j == mark ? "[%02X" : (j == mark + 1 ? "]%02X" : " %02X"), s[j]);
        }
        fprintf(stderr, "  |");
        for (size_t j = row; j < row + 16 && j < to && j < n; j++)
            fputc(j < from ? ' ' : (s[j] >= 0x20 && s[j] < 0x7F ? s[j] : '.'), stderr);
        fprintf(stderr, "|\n");
    }
}

static void print_ends(const char *who, const size_t *ends, size_t k, size_t lo, size_t hi) {
    fprintf(stderr, "  %-7s (%zu pieces):", who, k);
    if (lo > 0) fprintf(stderr, " ...");
    for (size_t i = lo; i < k && i < hi; i++) fprintf(stderr, " %zu", ends[i]);
    if (hi < k) fprintf(stderr, " ...");
    fputc('\n', stderr);
}

static int reports_left = 12; /* diagnostics per test process; failures are still counted */

/* 1 if the kernel's split of s[0..n) equals the oracle's; prints a report otherwise. */
static int compare_split(const family *f, const uint8_t *in, size_t n, const char *label) {
    uint8_t *s = malloc(n ? n : 1);
    cr_assert_not_null(s);
    if (n) memcpy(s, in, n);
    size_t ko, kk;
    int bad;
    size_t *oe = oracle_split_alloc(f->id, s, n, &ko);
    size_t *ke = kernel_split(f, s, n, &kk, &bad);
    size_t i = 0;
    while (i < ko && i < kk && oe[i] == ke[i]) i++;
    int same = !bad && ko == kk && i == ko;
    if (!same && reports_left > 0) {
        reports_left--;
        size_t piece_start = i ? oe[i - 1] : 0;
        size_t diff = n;
        if (i < ko) diff = oe[i];
        if (i < kk && ke[i] < diff) diff = ke[i];
        fprintf(stderr, "\nMISMATCH family=%s input=%s (%zu bytes): piece %zu starting at byte %zu%s\n", f->name,
                label, n, i, piece_start, bad ? " (kernel returned an out-of-range end)" : "");
        if (i < ko) fprintf(stderr, "  oracle piece ends at %zu\n", oe[i]);
        else fprintf(stderr, "  oracle has no more pieces\n");
        if (i < kk) fprintf(stderr, "  kernel piece ends at %zu\n", ke[i]);
        else fprintf(stderr, "  kernel has no more pieces\n");
        fprintf(stderr, "  bytes around it ([ marks the piece start):\n");
        size_t from = piece_start > 32 ? piece_start - 32 : 0;
        size_t to = diff + 32 < n ? diff + 32 : n;
        if (to > from + 256) to = from + 256;
        hexdump(s, n, from, to, piece_start);
        size_t lo = (n <= 512) ? 0 : (i > 8 ? i - 8 : 0);
        size_t hi = (n <= 512) ? (size_t)-1 : i + 8;
        print_ends("oracle", oe, ko, lo, hi);
        print_ends("kernel", ke, kk, lo, hi);
    }
    free(oe);
    free(ke);
    free(s);
    return same;
}

/* Compares all three families; returns the number of mismatches. Texts that do not agree are
 * counted in *skipped. */
static int compare_all(const uint8_t *s, size_t n, const char *label, size_t *skipped) {
    if (!oracle_text_agrees(s, n, NULL)) {
        if (skipped) (*skipped)++;
        return 0;
    }
    int fails = 0;
    for (int f = 0; f < 3; f++) fails += !compare_split(&families[f], s, n, label);
    return fails;
}

/* ---- string building ------------------------------------------------------------------------ */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void buf_add(buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        while (b->n + n > b->cap) b->cap = b->cap ? 2 * b->cap : 256;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void buf_str(buf *b, const char *s) { buf_add(b, s, strlen(s)); }
static void buf_cp(buf *b, uint32_t cp) {
    uint8_t o[4];
    size_t k;
    if (cp < 0x80) { o[0] = (uint8_t)cp; k = 1; }
    else if (cp < 0x800) { o[0] = (uint8_t)(0xC0 | (cp >> 6)); o[1] = (uint8_t)(0x80 | (cp & 0x3F)); k = 2; }
    else if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12)); o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (uint8_t)(0x80 | (cp & 0x3F)); k = 3;
    } else {
        o[0] = (uint8_t)(0xF0 | (cp >> 18)); o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (uint8_t)(0x80 | (cp & 0x3F)); k = 4;
    }
    buf_add(b, o, k);
}

/* A list of test strings (may contain NUL). */
typedef struct strlist {
    buf *v;
    size_t n, cap;
} strlist;

static void list_addn(strlist *l, const void *p, size_t n) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        cr_assert_not_null(l->v);
    }
    buf b = {NULL, 0, 0};
    buf_add(&b, p, n);
    l->v[l->n++] = b;
}
static void list_add(strlist *l, const char *s) { list_addn(l, s, strlen(s)); }
static void list_add3(strlist *l, const char *a, const char *b, const char *c) {
    buf t = {NULL, 0, 0};
    buf_str(&t, a);
    buf_str(&t, b);
    buf_str(&t, c);
    list_addn(l, t.p, t.n);
    free(t.p);
}
static void list_free(strlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i].p);
    free(l->v);
}

/* Runs every string of the list through compare_all; fails the test on any mismatch. */
static void run_list(const strlist *l, const char *what) {
    int fails = 0;
    size_t skipped = 0;
    char label[64];
    for (size_t i = 0; i < l->n; i++) {
        snprintf(label, sizeof label, "%s#%zu", what, i);
        fails += compare_all(l->v[i].p, l->v[i].n, label, &skipped);
    }
    fprintf(stderr, "%s: %zu strings x 3 families, %zu skipped (code points PCRE2 classifies differently), %d mismatches\n",
            what, l->n, skipped, fails);
    cr_assert_eq(fails, 0, "%s: %d split mismatches against PCRE2 (see stderr)", what, fails);
}

/* ---- (a) hand-picked tricky strings --------------------------------------------------------- */

#define NBSP "\u00A0"
#define IDSP "\u3000"
#define LSEP "\u2028"
#define NEL "\xC2\x85"
#define LONG_S "\u017F"
#define ACUTE "\u0301"

static void hand_contractions(strlist *l) {
    static const char *const suf[] = {"s", "t", "re", "ve", "m", "ll", "d"};
    static const char *const before[] = {"", " ", "a", "A", "1", "123", "  ", "!", "\n", "\u00E9", "x'", "'", "\u01C5", "\u02B0", ACUTE, "\u4E2D", "\t"};
    static const char *const after[] = {"", "x", " ", "'s", "s", "!", "1", "\n", "X", ACUTE};
    for (size_t k = 0; k < sizeof suf / sizeof *suf; k++) {
        size_t len = strlen(suf[k]);
        for (unsigned mask = 0; mask < (1u << len); mask++) { /* every case combination */
            char c[8] = "'";
            for (size_t j = 0; j < len; j++) c[1 + j] = (char)((mask >> j) & 1 ? suf[k][j] - 32 : suf[k][j]);
            c[1 + len] = 0;
            for (size_t b = 0; b < sizeof before / sizeof *before; b++)
                for (size_t a = 0; a < sizeof after / sizeof *after; a++) list_add3(l, before[b], c, after[a]);
        }
    }
    /* U+017F LATIN SMALL LETTER LONG S folds to s, U+212A KELVIN SIGN to k (no contraction). */
    for (size_t b = 0; b < sizeof before / sizeof *before; b++)
        for (size_t a = 0; a < sizeof after / sizeof *after; a++) {
            list_add3(l, before[b], "'" LONG_S, after[a]);
            list_add3(l, before[b], "'\u212A", after[a]);
        }
    static const char *const words[] = {
        "'s", " 's", "1's", "123's", "don't", "DON'T", "Don'T", "HTTPServer's", "HTTPSERVER'S", "it'S", "we'Re",
        "'ll've", "''s", "'''", "'s's's", "a's'", "x'sy", "x'Sy", "ab'", "'", " '", "' s", "'\u2019s", "\u2019s",
        "I'M", "i'm", "you'VE", "he'D", "they'LL", "'sS", "'Ss", "'LLl", "\u00C9cole's", "\u0416\u0436's",
        "\u01C5's", "\u01C4'S", "\u02B0's", "a" ACUTE "'s", "A" ACUTE "'S", "\u4E2D's", "\U0001F600's", ("1'" LONG_S),
    };
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) list_add(l, words[i]);
}

static void hand_digits(strlist *l) {
    static const char *const ctx_before[] = {"", " ", "a", "  ", "!", "\n", "x ", "\u0660"};
    static const char *const ctx_after[] = {"", "a", " ", "!", "\n", "'s", "\u0661", "\u00B2", "\u2163"};
    for (int len = 1; len <= 10; len++) {
        char d[16];
        for (int j = 0; j < len; j++) d[j] = (char)('0' + (j * 7 + 3) % 10);
        d[len] = 0;
        for (size_t b = 0; b < sizeof ctx_before / sizeof *ctx_before; b++)
            for (size_t a = 0; a < sizeof ctx_after / sizeof *ctx_after; a++) list_add3(l, ctx_before[b], d, ctx_after[a]);
        /* Other Nd / No / Nl runs of the same length. */
        buf t = {NULL, 0, 0};
        for (int j = 0; j < len; j++) buf_cp(&t, j % 3 == 0 ? 0x0660 + (uint32_t)j : (j % 3 == 1 ? 0x00B2 : 0x2163));
        list_addn(l, t.p, t.n);
        buf_str(&t, "x");
        list_addn(l, t.p, t.n);
        free(t.p);
    }
}

static void hand_whitespace(strlist *l) {
    static const char *const unit[] = {" ", "\t", "\r", "\n", "\r\n", NBSP, IDSP, LSEP, NEL, "\u2029", "\u1680", "\u2003", "\v", "\f"};
    static const char *const after[] = {"a", "1", "!", "", "'s", "\u00E9", "A", ACUTE, "\u4E2D", "/", " a", "\n"};
    static const char *const before[] = {"", "a", "!", "1"};
    for (size_t u = 0; u < sizeof unit / sizeof *unit; u++)
        for (int len = 1; len <= 6; len++) {
            buf run = {NULL, 0, 0};
            for (int j = 0; j < len; j++) buf_str(&run, unit[u]);
            buf_add(&run, "", 1); /* NUL-terminate */
            for (size_t b = 0; b < sizeof before / sizeof *before; b++)
                for (size_t a = 0; a < sizeof after / sizeof *after; a++) list_add3(l, before[b], (const char *)run.p, after[a]);
            free(run.p);
        }
    /* Mixed runs: every sequence of length 1..4 over a small whitespace alphabet, then a letter / end. */
    static const char *const mix[] = {" ", "\n", "\r", "\t", NBSP, NEL};
    const size_t m = sizeof mix / sizeof *mix;
    for (int len = 1; len <= 4; len++) {
        size_t total = 1;
        for (int j = 0; j < len; j++) total *= m;
        for (size_t code = 0; code < total; code++) {
            buf run = {NULL, 0, 0};
            size_t c = code;
            for (int j = 0; j < len; j++, c /= m) buf_str(&run, mix[c % m]);
            buf_add(&run, "", 1);
            list_add3(l, "x", (const char *)run.p, "y");
            list_add3(l, "x", (const char *)run.p, "");
            list_add3(l, "!", (const char *)run.p, "1");
            free(run.p);
        }
    }
}

static void hand_letters_marks(strlist *l) {
    static const char *const s[] = {
        ACUTE, " " ACUTE, "!" ACUTE, "1" ACUTE, ACUTE ACUTE ACUTE, "a" ACUTE "b", "A" ACUTE "b", ACUTE "A", ACUTE "a",
        "\n" ACUTE, " " ACUTE ACUTE "a", "!" ACUTE "A", "e" ACUTE ACUTE, "E" ACUTE "\u0903", "\u0915\u093F\u0903",
        "\u0903", " \u0903x", "\u20DD", "a\u20DDB",
        "\u01C5", "\u01C5a", "\u01C5A", "a\u01C5b", "A\u01C5", "\u01C5\u01C5", " \u01C5x", "!\u01C5", "\u01C4\u01C5\u01C6",
        "\u02B0", "a\u02B0b", "A\u02B0", "\u02B0A", "\u02B0\u02B0", " \u02B0", "AB\u02B0cd", "\u3005\u3005",
        "HELLOworld", "HTTPServer", "HTTPServer's", "ABCdEF", "aBC", "aBc", "AbC", "\u00C9COLE\u00E9cole", "A", "a", "AA",
        "Aa", "aA", "ABCDEFGHIJKLMNOPQRSTUVWXYZabc", "camelCaseWordsHere", "snake_case_words", "XMLHttpRequest",
        "\u0416\u0416\u0436\u0436", "\u03A3\u03C3\u03C2", "\U00010400\U00010428", " \U00010400x",
        "\u4E2D\u6587\u5B57\u7B26", " \u4E2D\u6587", "\u4E2Da", "a\u4E2D", "A\u4E2Db", "\u65E5\u672C\u8A9E\u306E\u30C6\u30AD\u30B9\u30C8",
        "\u4E2D'S", "\u05D0\u05D1 \u05D2", "\u0627\u0644\u0639\u0631\u0628\u064A\u0629", "\uAC00\uAC01",
        "!!!\r\n", "...//", " ?/\n/", "./a", "!!\r\r\n\n/x", "//\n", "<|endoftext|>", "a/b/c", " // comment\n", "http://x.y/z",
        "!/\r\n/\n", " !\r\n\r\n", "!\n\n\n", "?!/", "\"/\"", "/\n/\n", " /", "//", "/ /", "!\r", "!\n a", "! \n",
        "\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200D\U0001F469\u200D\U0001F467", " \U0001F600\U0001F600",
        "a\U0001F600b", "\U0001F600\n", "\u2764\uFE0F", "\U0001F1FA\U0001F1F8", " \u2019", "\u201Cquoted\u201D",
        "\uFFFD", "a\uFFFDb", " \uFFFD\uFFFD", "\xEF\xBB\xBF" "abc", "\u00BF" "Qu\u00E9?", "\u20AC" "100", "$1,000.00",
        "x=1;y=22;z=333", "a1b2c3", "A1", "1A", "1a", "a1", "_1", "_a", "__init__", "\t\tif (x) {\n\t\t\treturn;\n\t\t}\n",
    };
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) list_add(l, s[i]);
    /* Every ASCII byte, alone, doubled, and between letters; NUL included. */
    for (int c = 0; c < 128; c++) {
        char t[4] = {(char)c, (char)c, 0, 0};
        list_addn(l, t, 1);
        list_addn(l, t, 2);
        char u[3] = {'a', (char)c, 'b'};
        list_addn(l, u, 3);
        char w[3] = {' ', (char)c, ' '};
        list_addn(l, w, 3);
    }
}

Test(pretok, hand_list) {
    strlist l = {NULL, 0, 0};
    hand_contractions(&l);
    hand_digits(&l);
    hand_whitespace(&l);
    hand_letters_marks(&l);
    run_list(&l, "hand");
    list_free(&l);
}

/* ---- (b) random strings and block straddling ------------------------------------------------- */

/* Representative code points; every one must pass oracle_cp_agrees (checked). */
static const uint32_t alphabet[] = {
    'a', 'z', 'A', 'Z', 's', 'S', 't', 'T', 'r', 'e', 'v', 'm', 'l', 'L', 'd', 'D', '0', '9', ' ', '\t', '\n', '\r',
    '\'', '.', '!', '/', ',', '-', '_', '"', '(', 0x0B, 0x0C, 0x00,
    0x00A0, 0x00E9, 0x00C9, 0x017F, 0x01C5, 0x02B0, 0x0301, 0x0903, 0x0660, 0x00B2, 0x2163, 0x0085, 0x2028, 0x3000,
    0x2003, 0x4E2D, 0x3042, 0x05D0, 0x0416, 0x0436, 0x03C3, 0x1F600, 0x1F44D, 0x200D, 0xFE0F, 0x2019, 0x20AC, 0xFFFD,
    0x10400, 0x1D7CE, 0xE000, 0x001F,
};
#define N_ALPHA (sizeof alphabet / sizeof *alphabet)

static void add_atom(oracle_rng *r, buf *b) {
    static const char *const contr[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M", "'LL", "'lL", "'D", ("'" LONG_S)};
    static const char *const ws[] = {" ", " ", " ", "\t", "\n", "\r", "\r\n", NBSP, IDSP, LSEP, NEL};
    static const char *const punct[] = {"!", ".", "/", "?", "\"", "\\", "*", "\u2019", "\u20AC", "\U0001F600", "<|", "|>"};
    uint32_t k = oracle_rng_below(r, 100);
    if (k < 45) {
        buf_cp(b, alphabet[oracle_rng_below(r, N_ALPHA)]);
    } else if (k < 55) {
        buf_str(b, contr[oracle_rng_below(r, sizeof contr / sizeof *contr)]);
    } else if (k < 65) {
        if (oracle_rng_below(r, 2)) buf_str(b, " ");
        uint32_t len = 1 + oracle_rng_below(r, 12);
        for (uint32_t j = 0; j < len; j++) {
            if (oracle_rng_below(r, 8) == 0) buf_cp(b, 0x0660 + oracle_rng_below(r, 10));
            else buf_cp(b, '0' + oracle_rng_below(r, 10));
        }
    } else if (k < 80) {
        uint32_t len = 1 + oracle_rng_below(r, 8);
        for (uint32_t j = 0; j < len; j++) buf_str(b, ws[oracle_rng_below(r, sizeof ws / sizeof *ws)]);
    } else if (k < 90) {
        uint32_t len = 1 + oracle_rng_below(r, 10);
        for (uint32_t j = 0; j < len; j++) {
            uint32_t c = 'a' + oracle_rng_below(r, 26);
            uint32_t q = oracle_rng_below(r, 10);
            if (q < 3) c -= 32;
            else if (q == 3) c = 0x00E9;
            else if (q == 4) c = 0x0301;
            buf_cp(b, c);
        }
    } else if (k < 97) {
        uint32_t len = 1 + oracle_rng_below(r, 5);
        for (uint32_t j = 0; j < len; j++) buf_str(b, punct[oracle_rng_below(r, sizeof punct / sizeof *punct)]);
    } else {
        uint32_t len = 1 + oracle_rng_below(r, 4);
        for (uint32_t j = 0; j < len; j++) buf_cp(b, j & 1 ? 0x0903 : 0x0301);
    }
}

Test(pretok, alphabet_agrees) {
    for (size_t i = 0; i < N_ALPHA; i++)
        cr_expect(oracle_cp_agrees(alphabet[i]), "alphabet code point U+%04X: PCRE2 and tkm_uc_props disagree", (unsigned)alphabet[i]);
}

Test(pretok, random_strings) {
    for (size_t i = 0; i < N_ALPHA; i++) cr_assert(oracle_cp_agrees(alphabet[i]), "U+%04X disagrees", (unsigned)alphabet[i]);
    oracle_rng r = {0x746B6D70726574ull}; /* fixed seed: reproducible */
    strlist l = {NULL, 0, 0};
    for (int i = 0; i < 24000; i++) {
        buf b = {NULL, 0, 0};
        size_t target = oracle_rng_below(&r, 201);
        while (b.n < target) add_atom(&r, &b);
        list_addn(&l, b.p, b.n);
        free(b.p);
    }
    run_list(&l, "random");
    list_free(&l);
}

/* Each snippet at every byte offset 0..66 after fillers of several classes, then several tails, so
 * that it straddles every 16/32/64-byte block boundary. */
Test(pretok, straddle_blocks) {
    static const char *const snippets[] = {
        "'s", "'LL", "'" LONG_S, "1234567", " 12", "    a", " \t\n\r\n x", "\r\n\r\n", NBSP NBSP "a", IDSP " ", "\U0001F600",
        "\u4E2D\u6587", "e" ACUTE, "HTTPServer's", "!!\r\n/", "\u01C5's", "   ", " \n ", NEL "x", "\u00E9\u00C9\u00E9",
    };
    static const char *const fillers[] = {"a", " ", ".", "\u00E9", "1", "A", "\n"};
    static const char *const tails[] = {"", "x", " ", "\n", "'s", "9"};
    strlist l = {NULL, 0, 0};
    for (size_t sn = 0; sn < sizeof snippets / sizeof *snippets; sn++)
        for (size_t fi = 0; fi < sizeof fillers / sizeof *fillers; fi++)
            for (size_t off = 0; off <= 66; off++)
                for (size_t ta = 0; ta < sizeof tails / sizeof *tails; ta++) {
                    buf b = {NULL, 0, 0};
                    while (b.n + strlen(fillers[fi]) <= off) buf_str(&b, fillers[fi]);
                    while (b.n < off) buf_str(&b, "b");
                    buf_str(&b, snippets[sn]);
                    buf_str(&b, tails[ta]);
                    list_addn(&l, b.p, b.n);
                    free(b.p);
                }
    run_list(&l, "straddle");
    list_free(&l);
}

/* ---- (c) corpus ------------------------------------------------------------------------------ */

static void corpus_family(const family *f) {
    const char *dir = TKM_CORPUS_DIR;
    if (!dir[0]) cr_skip_test("TKM_CORPUS_DIR not defined at compile time: corpus split test skipped");
    size_t nfiles = 0;
    char **files = oracle_list_files(dir, &nfiles);
    if (!files) cr_skip_test("corpus directory %s not found: corpus split test skipped", dir);
    if (nfiles == 0) cr_skip_test("corpus directory %s is empty: corpus split test skipped", dir);
    int fails = 0;
    size_t whole = 0, partial = 0, bytes = 0;
    for (size_t i = 0; i < nfiles; i++) {
        size_t n;
        uint8_t *s = oracle_read_file(files[i], &n);
        cr_assert_not_null(s, "cannot read %s", files[i]);
        size_t bad = 0;
        if (oracle_text_agrees(s, n, &bad)) {
            fails += !compare_split(f, s, n, files[i]);
            whole++;
            bytes += n;
        } else {
            /* Compare every maximal run of agreeing code points as a text of its own. */
            size_t adv;
            uint32_t cp = tkm_utf8_decode(s, bad, n, &adv);
            size_t segs = 0, seg_bytes = 0, seg_fails = 0, start = 0, j = 0;
            while (j <= n) {
                int cut = (j == n);
                if (!cut) {
                    uint32_t c = tkm_utf8_decode(s, j, n, &adv);
                    cut = !oracle_cp_agrees(c);
                }
                if (cut) {
                    if (j > start) {
                        char label[1024];
                        snprintf(label, sizeof label, "%s[%zu..%zu)", files[i], start, j);
                        seg_fails += !compare_split(f, s + start, j - start, label);
                        segs++;
                        seg_bytes += j - start;
                    }
                    if (j == n) break;
                    start = j + adv;
                }
                j += adv;
            }
            fprintf(stderr, "corpus/%s: %s: U+%04X (byte %zu) and others are classified differently by PCRE2 (Unicode 14): "
                    "compared %zu agreeing segments as separate texts (%zu of %zu bytes)\n",
                    f->name, files[i], (unsigned)cp, bad, segs, seg_bytes, n);
            fails += seg_fails != 0;
            partial++;
            bytes += seg_bytes;
        }
        free(s);
        free(files[i]);
    }
    free(files);
    fprintf(stderr, "corpus/%s: %zu files whole, %zu in agreeing segments, %zu bytes compared, %d mismatching files\n", f->name, whole,
            partial, bytes, fails);
    cr_assert_eq(fails, 0, "corpus/%s: %d files split differently from PCRE2 (see stderr)", f->name, fails);
}

Test(pretok, corpus_gpt2, .timeout = 300) { corpus_family(&families[0]); }
Test(pretok, corpus_cl100k, .timeout = 300) { corpus_family(&families[1]); }
Test(pretok, corpus_o200k, .timeout = 300) { corpus_family(&families[2]); }

/* ---- (d) ill-formed UTF-8 through the repair mapping ---------------------------------------- */

Test(pretok, invalid_utf8) {
    strlist l = {NULL, 0, 0};
    /* All single bytes and all byte pairs. */
    for (int a = 0; a < 256; a++) {
        uint8_t t[1] = {(uint8_t)a};
        list_addn(&l, t, 1);
    }
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++) {
            uint8_t t[2] = {(uint8_t)a, (uint8_t)b};
            list_addn(&l, t, 2);
        }
    /* Truncated, overlong, surrogate and out-of-range sequences in context. */
    static const char *const seqs[] = {
        "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\xC5\xBF", "\xE3\x80\x80", "\xC2\xA0", "\xC2\x85", "\xEF\xBF\xBD",
        "\xE2\x80\xA8", "\xF0\x90\x90\x80", "\xCC\x81",
    };
    static const char *const junk[] = {"\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xED\xA0\x80", "\xED\xBF\xBF",
                                       "\xF0\x80\x80\x80", "\xF4\x90\x80\x80", "\xF5\x80", "\xFF", "\xFE", "\x80", "\xBF\xBF", "\xF8\x88\x80\x80\x80"};
    static const char *const pre[] = {"", "a", " ", "'", "1", "!", "\n", "  "};
    static const char *const post[] = {"", "a", " ", "1", "s", "'s", "\x80", "\xC3", "!", "\n", "\xE4\xB8"};
    for (size_t q = 0; q < sizeof seqs / sizeof *seqs; q++) {
        size_t len = strlen(seqs[q]);
        for (size_t cut = 1; cut < len; cut++) { /* every proper prefix */
            char t[8];
            memcpy(t, seqs[q], cut);
            t[cut] = 0;
            for (size_t p = 0; p < sizeof pre / sizeof *pre; p++)
                for (size_t o = 0; o < sizeof post / sizeof *post; o++) list_add3(&l, pre[p], t, post[o]);
        }
    }
    for (size_t q = 0; q < sizeof junk / sizeof *junk; q++)
        for (size_t p = 0; p < sizeof pre / sizeof *pre; p++)
            for (size_t o = 0; o < sizeof post / sizeof *post; o++) list_add3(&l, pre[p], junk[q], post[o]);
    /* Random byte strings: uniform bytes, and text with bad bytes sprinkled in. */
    oracle_rng r = {0x696E76616C6964ull};
    for (int i = 0; i < 12000; i++) {
        buf b = {NULL, 0, 0};
        size_t target = oracle_rng_below(&r, 97);
        int mode = i & 1;
        while (b.n < target) {
            if (mode == 0) {
                uint8_t c = (uint8_t)oracle_rng_below(&r, 256);
                buf_add(&b, &c, 1);
            } else if (oracle_rng_below(&r, 4) == 0) {
                uint8_t c = (uint8_t)(0x80 + oracle_rng_below(&r, 128));
                buf_add(&b, &c, 1);
            } else {
                add_atom(&r, &b);
            }
        }
        list_addn(&l, b.p, b.n);
        free(b.p);
    }
    run_list(&l, "invalid-utf8");
    list_free(&l);
}

/* The oracle itself: repair and mapping on fixed examples (guards the guard). */
Test(oracle, repair_mapping) {
    const uint8_t in[] = {'a', 0xE4, 0xB8, ' ', 'b', 0xFF, 0xC3, 0xA9};
    size_t rn;
    uint8_t *rep = oracle_repair_utf8(in, sizeof in, &rn);
    const uint8_t want[] = {'a', 0xEF, 0xBF, 0xBD, ' ', 'b', 0xEF, 0xBF, 0xBD, 0xC3, 0xA9};
    cr_assert_eq(rn, sizeof want);
    cr_assert_arr_eq(rep, want, sizeof want);
    free(rep);
    size_t ends[16];
    /* gpt2: "a" | "\uFFFD" | " b" | "\uFFFD" | "\u00E9"  ->  original ends 1, 3, 5, 6, 8 */
    size_t k = oracle_split(ORACLE_GPT2, in, sizeof in, ends, 8);
    cr_assert_eq(k, 5);
    size_t want_ends[5] = {1, 3, 5, 6, 8};
    cr_assert_arr_eq(ends, want_ends, sizeof want_ends);
    /* find_iter on known examples. */
    const char *t = "Hello world's  123456\n\n";
    k = oracle_split(ORACLE_CL100K, (const uint8_t *)t, strlen(t), ends, 16);
    size_t want_cl[8] = {5, 11, 13, 14, 15, 18, 21, 23}; /* Hello| world|'s| | |123|456|\n\n */
    cr_assert_eq(k, 8);
    cr_assert_arr_eq(ends, want_cl, sizeof want_cl);
}
