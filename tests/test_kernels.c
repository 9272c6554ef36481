/*
 * test_kernels.c - every split kernel against the scalar specification, piece by piece, and every
 * kernel's whole-piece lookup against tkm_ranks_find, its batch merge against the reference BPE
 * and its UTF-8 check against tkm_utf8_first_invalid (at the end of the file).
 *
 * Kernels under test: every kernel of this build that the CPU can run (tkm_arch_kernels: the
 * native ones and the other architecture's through SIMDe), plus a SIMDe-emulated copy of each
 * SIMD kernel (built with SIMDE_NO_NATIVE, see tests/CMakeLists.txt), so that the AVX-512 logic
 * is proven here even on a CPU without AVX-512, and every kernel's on every CPU.
 *
 * Each comparison walks the text with the kernel, with a cap that changes from call to call (so
 * resuming mid-text is exercised), and checks every end against tkm_pretok_next_<family> at the
 * same position. Inputs: every file of the shared corpus; fragments (contractions, case changes,
 * digit runs, CR/LF and whitespace runs, multibyte letters and marks, Unicode spaces and digits,
 * ill-formed bytes) placed at every offset 0..130 inside six kinds of filler, so that each one
 * straddles every 16/32/64-byte block boundary and the window's reload point; every prefix length
 * of a mixed text; and seeded random texts over an alphabet of such pieces.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../arch/arch.h"
#include "../arch/generic/split_types.h"
#include "../kernel/bpe.h"
#include "../kernel/encoding.h" /* tkm_default_alloc */
#include "oracle.h"
#include "unicode.h"

extern const tkm_kernel tkm_kernel_avx2_emu, tkm_kernel_avx512_emu, tkm_kernel_neon_emu;

static const tkm_kernel *g_kernels[16];
static size_t g_nk;

static void collect_kernels(void) {
    g_nk = 0;
    const tkm_kernel *const *ks = tkm_arch_kernels();
    for (size_t i = 0; ks[i]; i++)
        if (ks[i]->cpu_ok() && ks[i] != &tkm_kernel_scalar) g_kernels[g_nk++] = ks[i];
    g_kernels[g_nk++] = &tkm_kernel_avx2_emu;
    g_kernels[g_nk++] = &tkm_kernel_avx512_emu;
    g_kernels[g_nk++] = &tkm_kernel_neon_emu;
}

static size_t scalar_next(int fam, const uint8_t *s, size_t pos, size_t n) {
    switch (fam) {
    case 1: return tkm_pretok_next_gpt2(s, pos, n);
    case 2: return tkm_pretok_next_cl100k(s, pos, n);
    default: return tkm_pretok_next_o200k(s, pos, n);
    }
}

static void hexdump(const uint8_t *s, size_t n, size_t at) {
    size_t a = at > 24 ? at - 24 : 0, b = at + 40 < n ? at + 40 : n;
    fprintf(stderr, "  bytes [%zu, %zu):", a, b);
    for (size_t i = a; i < b; i++) fprintf(stderr, "%s%02x", i == at ? " |" : " ", s[i]);
    fprintf(stderr, "\n");
}

/* Split s[0..n) with kernel k and compare every end with the scalar scanner. */
static void check_text(const tkm_kernel *k, int fam, const uint8_t *s, size_t n, const char *what) {
    static const size_t caps[] = {64, 1, 7, 64, 3, 200, 2, 64};
    size_t ends[256], pos = 0, call = 0;
    while (pos < n) {
        size_t cap = caps[call++ % (sizeof caps / sizeof caps[0])];
        size_t m = k->split[fam](s, pos, n, ends, cap);
        if (m < 1 || m > cap) {
            cr_assert_fail("%s %s %s: split at %zu of %zu returned %zu pieces (cap %zu)", k->name,
                     oracle_family_name(fam), what, pos, n, m, cap);
        }
        for (size_t i = 0; i < m; i++) {
            size_t want = scalar_next(fam, s, pos, n);
            if (ends[i] != want) {
                hexdump(s, n, pos);
                cr_assert_fail("%s %s %s: piece at %zu ends at %zu, scalar says %zu (n %zu)", k->name,
                         oracle_family_name(fam), what, pos, ends[i], want, n);
            }
            pos = want;
        }
    }
    size_t none = k->split[fam](s, n, n, ends, 8);
    if (none != 0) cr_assert_fail("%s %s %s: split at the end returned %zu", k->name, oracle_family_name(fam), what, none);
}

static void check_all(const uint8_t *s, size_t n, const char *what) {
    /* exact-size heap copy: a read past the end is caught by ASan */
    uint8_t *c = malloc(n ? n : 1);
    cr_assert_not_null(c);
    memcpy(c, s, n);
    for (size_t i = 0; i < g_nk; i++)
        for (int fam = 1; fam <= 3; fam++) check_text(g_kernels[i], fam, c, n, what);
    free(c);
}

TestSuite(kernels, .init = collect_kernels);

Test(kernels, list) {
    /* the scalar kernel is last, usable and native; the default is native and usable */
    const tkm_kernel *const *ks = tkm_arch_kernels();
    size_t n = 0;
    while (ks[n]) n++;
    cr_assert_geq(n, 4);
    cr_assert_eq(ks[n - 1], &tkm_kernel_scalar);
    cr_assert_str_eq(tkm_kernel_scalar.name, "scalar");
    const tkm_kernel *d = tkm_arch_default();
    if (getenv("TOKMETER_KERNEL") == NULL) {
        cr_assert_not_null(d);
        cr_assert(d->native && d->cpu_ok(), "default kernel %s must be native and usable", d->name);
    }
    cr_assert_null(tkm_arch_find("no-such-kernel"));
    cr_assert_eq(tkm_arch_find("scalar"), &tkm_kernel_scalar);
    cr_assert_geq(g_nk, 4, "at least the three emulated copies and one more");
}

/* The ASCII byte classes the kernels use are the Unicode properties of U+0000..U+007F. */
Test(kernels, ascii_classes_match_unicode) {
    for (unsigned c = 0; c < 256; c++) {
        unsigned a = tkm_acls((uint8_t)c);
        if (c >= 0x80) {
            cr_assert_eq(a, TKM_A_HI, "byte %02x", c);
            continue;
        }
        unsigned u = tkm_uc_props(c);
        cr_assert_eq(!!(a & TKM_A_LO), !!(u & TKM_UC_LL), "U+%04X Ll", c);
        cr_assert_eq(!!(a & TKM_A_UP), !!(u & TKM_UC_LU), "U+%04X Lu", c);
        cr_assert_eq(!!(a & TKM_A_LETTER), !!(u & TKM_UC_L), "U+%04X L", c);
        cr_assert_eq(!!(a & TKM_A_DG), !!(u & TKM_UC_N), "U+%04X N", c);
        cr_assert_eq(!!(a & TKM_A_WS), !!(u & TKM_UC_WS), "U+%04X White_Space", c);
        cr_assert_eq(!!(a & TKM_A_PU), !(u & (TKM_UC_L | TKM_UC_N | TKM_UC_WS)), "U+%04X other", c);
        cr_assert_eq(!!(a & TKM_A_NL), c == '\r' || c == '\n', "U+%04X CR/LF", c);
        cr_assert_eq(u & (TKM_UC_M | TKM_UC_LT | TKM_UC_LM | TKM_UC_LO), 0u, "U+%04X has no other letter class", c);
    }
}

static void check_lookup_file(const uint8_t *d, size_t n, const char *name); /* below */

/* Every corpus file: each kernel's split against the scalar one, and each kernel's lookup. */
Test(kernels, corpus, .timeout = 600) {
    size_t nf = 0;
    char **files = oracle_list_files(TKM_CORPUS_DIR, &nf);
    if (!files || nf == 0) {
        free(files);
        cr_skip_test("shared corpus not found at %s", TKM_CORPUS_DIR);
    }
    for (size_t i = 0; i < nf; i++) {
        size_t n;
        uint8_t *d = oracle_read_file(files[i], &n);
        cr_assert_not_null(d, "read %s", files[i]);
        for (size_t k = 0; k < g_nk; k++)
            for (int fam = 1; fam <= 3; fam++) check_text(g_kernels[k], fam, d, n, files[i]);
        check_lookup_file(d, n, files[i]);
        free(d);
        free(files[i]);
    }
    free(files);
}

static const char *const g_frags[] = {
    "'s", "'S", "'t", "'re", "'RE", "'Ve", "'m", "'ll", "'LL", "'lL", "'d", "'x", "'", "''s", "don't", "DON'T",
    "we'll've", "'\xC5\xBF", "x'\xC5\xBF", "'\xC5", "Hello", "HELLOworld", "helloWorld", "ABC", "aBc", "I", "a",
    "\xC3\x89" "COLE", "caf\xC3\xA9", "na\xC3\xAFve", "e\xCC\x81", "A\xCC\x81" "b", "\xC7\x85" "x", "12345", "1",
    "12", "123", "1234", "\xEF\xBC\x91\xEF\xBC\x92", "1\xD9\xA3", "\xC2\xB2", "\r\n", "\n", "\r", "\n\n\n", "\r\r\n",
    "   ", " \t\n ", "\t", "\x0B\x0C", "  x", " x", " 1", " !", "!!!", " !?/", "/\n/", "!\r\n/", ".\n\n", "a/b",
    "://", "  \n  ", " \n", "\n ", "\xC2\xA0", " \xC2\xA0 ", "\xC2\x85", "\xE2\x80\xA8", "\xE3\x80\x80" "a",
    "\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80\xF0\x9F\x98\x80", "\xE6\x97\xA5\xE6\x9C\xAC", "\xE2\x80\x9C" "quote",
    "\xC2\xAB" "x", "\xFF", "\x80", "\xC0\xAF", "\xE2\x82", "\xF0\x9F", "\xED\xA0\x80", "\xEF\xBF\xBD", "\x00",
    "\x01\x7F", "a\x00" "b", "<|endoftext|>", "x\xC3", " \xC3\xA9", "\t\xC3\xA9", "!\xC3\xA9", "1\xC3\xA9",
};

static const char g_fillers[] = {'a', ' ', '1', '.', 'A', '\n'};

Test(kernels, fragments_at_every_offset, .timeout = 600) {
    uint8_t buf[512];
    char what[96];
    for (size_t fi = 0; fi < sizeof g_fillers; fi++) {
        for (size_t g = 0; g < sizeof g_frags / sizeof g_frags[0]; g++) {
            const char *f = g_frags[g];
            size_t fl = strlen(f);
            if (g_frags[g][0] == 0) fl = 1; /* the NUL fragment */
            static const size_t tails[] = {0, 1, 2, 5, 70};
            for (size_t o = 0; o <= 130; o++) {
                for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
                    size_t n = 0;
                    memset(buf, g_fillers[fi], o);
                    n = o;
                    memcpy(buf + n, f, fl);
                    n += fl;
                    memset(buf + n, g_fillers[fi], tails[t]);
                    n += tails[t];
                    snprintf(what, sizeof what, "fragment %zu filler %02x offset %zu tail %zu", g,
                             (unsigned)g_fillers[fi], o, tails[t]);
                    check_all(buf, n, what);
                }
            }
        }
    }
}

Test(kernels, every_length) {
    static const char mixed[] =
        "It's 2026: HELLOworld don't \xC3\xA9t\xC3\xA9 123456 \r\n\r\n   \t x!!! /path/to\n/x "
        "\xF0\x9F\x98\x80 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E caf\xC3\xA9 WE'LL 'll   \n\n  end.\xFF\xC3";
    size_t len = sizeof mixed - 1;
    char what[64];
    for (size_t n = 0; n <= len; n++) {
        snprintf(what, sizeof what, "prefix %zu", n);
        check_all((const uint8_t *)mixed, n, what);
        snprintf(what, sizeof what, "suffix from %zu", n);
        check_all((const uint8_t *)mixed + n, len - n, what);
    }
}

/* A random text of about `want` bytes (at most cap) in buf: units drawn from alphabet[off ..
 * off + sub) (mod na); rare_last: the alphabet's last unit is kept only one time in 8. Returns its
 * length. "" is one NUL byte. */
static size_t random_text(oracle_rng *r, const char *const *alphabet, uint32_t na, uint32_t sub, uint32_t off,
                          int rare_last, uint8_t *buf, size_t cap, size_t want) {
    size_t n = 0;
    while (n < want) {
        uint32_t ai = (off + oracle_rng_below(r, sub)) % na;
        if (rare_last && ai == na - 1 && oracle_rng_below(r, 8) != 0) continue;
        const char *a = alphabet[ai];
        size_t al = a[0] ? strlen(a) : 1;
        if (n + al > cap) break;
        memcpy(buf + n, a, al);
        n += al;
    }
    return n;
}

static const char *const g_alphabet[] = {
    "a", "z", "e", "A", "Z", "0", "7", " ", " ", " ", "\t", "\r", "\n", "\r\n", ".", ",", "!", "/", "'", "'s", "'LL",
    "-", "_", "\"", "(", "\xC3\xA9", "\xC3\x89", "\xC3\x9F", "\xCC\x81", "\xC7\x85", "\xE6\x97\xA5", "\xF0\x9F\x98\x80",
    "\xC2\xA0", "\xE2\x80\xA8", "\xEF\xBC\x91", "\xC2\xB2", "\xC5\xBF", "\xFF", "\x80", "\xE2\x82", "\x00", "\x7F",
    "hello", "World", "THE", "123", "    ", "\n\n",
};

Test(kernels, random_texts, .timeout = 600) {
    oracle_rng r = {0x746B6D6B65726E31ull};
    uint8_t buf[1024];
    char what[64];
    const uint32_t na = sizeof g_alphabet / sizeof g_alphabet[0];
    for (int iter = 0; iter < 6000; iter++) {
        size_t want = oracle_rng_below(&r, 400);
        size_t n = random_text(&r, g_alphabet, na, na, 0, 0, buf, sizeof buf, want);
        snprintf(what, sizeof what, "random text %d", iter);
        check_all(buf, n, what);
    }
}

/* ASCII only, so that whole 64-byte windows (the whole-window routines of split_walk.h) decide most
 * pieces: contractions and near-misses, lower-to-upper steps, prefixes, P tails with '/', line
 * breaks inside whitespace runs, digit runs, runs that cross the window's edges; a rare
 * non-ASCII byte cuts a window short. */
static const char *const g_ascii_alphabet[] = {
    "a", "s", "t", "e", "l", "r", "v", "m", "d", "x", "A", "S", "T", "E", "L", "R", "V", "Q", "0", "7", "42",
    "12345", " ", " ", " ", "  ", "    ", "\t", "\x0B", "\x0C", "\r", "\n", "\r\n", "\n\n", ".", ",", "!", "?", "/",
    "//", "'", "'", "'s", "'S", "'re", "'rE", "'ve", "'ll", "'lL", "'l", "'r", "'d", "'m", "'t", "-", "_", "(", ")",
    "\"", "\x00", "\x1F", "\x7F", "hello", "World", "THE", "don't", "I'M", "fooBar", "HTMLParser", "://", "!\n/",
    " \n ", "\n  ", "http://x.y/z", "a,b", " ,x", "\xC3\xA9",
};

Test(kernels, random_ascii_texts, .timeout = 600) {
    oracle_rng r = {0x746B6D6173636969ull};
    uint8_t buf[2048];
    char what[64];
    const uint32_t na = sizeof g_ascii_alphabet / sizeof g_ascii_alphabet[0];
    for (int iter = 0; iter < 8000; iter++) {
        size_t want = 64 + oracle_rng_below(&r, 900);
        /* a text draws from a random sub-alphabet, so that some texts are dense in one feature;
         * the last unit (non-ASCII) is rare */
        uint32_t sub = 4 + oracle_rng_below(&r, na - 4), off = oracle_rng_below(&r, na);
        size_t n = random_text(&r, g_ascii_alphabet, na, sub, off, 1, buf, sizeof buf, want);
        snprintf(what, sizeof what, "random ASCII text %d", iter);
        check_all(buf, n, what);
    }
}

/* Long runs: every piece longer than the window goes through the scalar fallback. */
Test(kernels, long_runs) {
    static const char units[][5] = {"a", "A", " ", "\n", "1", "!", "\xC3\xA9", "ab", "a ", " a", "\r\n"};
    size_t n = 5000;
    uint8_t *buf = malloc(n * 4);
    cr_assert_not_null(buf);
    char what[64];
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t ul = strlen(units[u]), len = 0;
        while (len + ul <= n) {
            memcpy(buf + len, units[u], ul);
            len += ul;
        }
        snprintf(what, sizeof what, "run of unit %zu", u);
        check_all(buf, len, what);
    }
    free(buf);
}

/* ---- whole-piece lookup (tkm_lookup_fn) ---------------------------------------------------------
 * Every kernel that has one, against tkm_ranks_find: a piece it counts must be a token, a piece it
 * calls absent must not be, found must be the number of pieces it counts (bits clear in its
 * mask). The pieces are drawn directly (not from a split): tokens of every length, the same with
 * one byte changed, random bytes, runs longer than 12 bytes, in batches of 1 to 64 pieces laid
 * end to end in an exact-size heap copy, so that the last pieces sit at the end of the text. */

#include "../kernel/vocab.h"

typedef struct lookup_tally {
    size_t found, absent, short_tokens;
} lookup_tally;

static int is_token(const tkm_ranks *v, const uint8_t *p, size_t len) {
    return len == 1 || tkm_ranks_find(v, p, len) != TKM_RANK_NONE;
}

/* One batch: pieces s[e[j]..e[j+1]), j < m (e[m + 1..] hold garbage the kernel must not use). */
static void check_lookup_batch(const tkm_kernel *k, const tkm_ranks *v, const uint8_t *s, size_t n, size_t *e,
                               size_t m, const char *what, lookup_tally *t) {
    for (size_t j = m + 1; j < m + 9; j++) e[j] = e[m] - 5 * j; /* wrong lengths if it reads them */
    size_t found = 12345;
    uint64_t absent = 0;
    const uint64_t todo = k->lookup(v, s, n, e, m, &found, &absent);
    const uint64_t all = m == 64 ? ~0ull : (1ull << m) - 1u;
    cr_assert_eq(todo & ~all, 0u, "%s %s: mask beyond the batch", k->name, what);
    cr_assert_eq(absent & ~todo, 0u, "%s %s: a piece called absent but counted", k->name, what);
    cr_assert_eq(found, (size_t)__builtin_popcountll(all & ~todo), "%s %s: found != pieces counted", k->name, what);
    for (size_t j = 0; j < m; j++) {
        const uint8_t *p = s + e[j];
        const size_t len = e[j + 1] - e[j];
        const int tok = is_token(v, p, len);
        if (!((todo >> j) & 1u) && !tok) {
            hexdump(s, n, e[j]);
            cr_assert_fail("%s %s: piece %zu (%zu bytes at %zu) counted as a token, it is not", k->name, what, j, len,
                           e[j]);
        }
        if (((absent >> j) & 1u) && tok) {
            hexdump(s, n, e[j]);
            cr_assert_fail("%s %s: piece %zu (%zu bytes at %zu) called absent, it is a token", k->name, what, j, len,
                           e[j]);
        }
        t->short_tokens += tok && len <= TKM_FAST_MAX && e[j] + 8 <= n;
    }
    t->found += found;
    t->absent += (size_t)__builtin_popcountll(absent);
}

static const tkm_ranks *const g_lookup_vocabs[] = {&tkm_ranks_o200k_base, &tkm_ranks_cl100k_base,
                                                    &tkm_ranks_r50k_base};

Test(kernels, lookup_drawn_pieces, .timeout = 600) {
    oracle_rng r = {0x746B6D6C6F6F6B75ull};
    size_t tested = 0;
    for (size_t ki = 0; ki < g_nk; ki++) {
        const tkm_kernel *k = g_kernels[ki];
        if (!k->lookup) continue;
        tested++;
        for (size_t vi = 0; vi < sizeof g_lookup_vocabs / sizeof g_lookup_vocabs[0]; vi++) {
            const tkm_ranks *v = g_lookup_vocabs[vi];
            cr_assert_not_null(v->fast);
            lookup_tally t = {0, 0, 0};
            for (int iter = 0; iter < 3000; iter++) {
                uint8_t buf[64 * 24];
                size_t e[64 + 9], n = 0;
                const size_t m = 1 + oracle_rng_below(&r, 64);
                for (size_t j = 0; j < m; j++) {
                    e[j] = n;
                    uint32_t kind = oracle_rng_below(&r, 8), len;
                    if (kind < 5) { /* a token (of at most 20 bytes), kind 3-4: one byte changed */
                        size_t tl;
                        const uint8_t *tb;
                        do {
                            tb = tkm_ranks_bytes(v, oracle_rng_below(&r, v->n_ranks), &tl);
                        } while (tl == 0 || tl > 20);
                        memcpy(buf + n, tb, tl);
                        if (kind >= 3)
                            buf[n + oracle_rng_below(&r, (uint32_t)tl)] ^= (uint8_t)(1u + oracle_rng_below(&r, 255));
                        len = (uint32_t)tl;
                    } else if (kind < 7) { /* random bytes, 1..14 */
                        len = 1 + oracle_rng_below(&r, 14);
                        for (uint32_t i = 0; i < len; i++) buf[n + i] = (uint8_t)oracle_rng_below(&r, 256);
                    } else { /* a run of one letter, 1..24 */
                        len = 1 + oracle_rng_below(&r, 24);
                        memset(buf + n, 'a' + (int)oracle_rng_below(&r, 3), len);
                    }
                    n += len;
                }
                e[m] = n;
                uint8_t *c = malloc(n); /* exact size: ASan sees a read past the end (emulated copies) */
                cr_assert_not_null(c);
                memcpy(c, buf, n);
                check_lookup_batch(k, v, c, n, e, m, "drawn pieces", &t);
                free(c);
            }
            /* the kernel does the work, not only the contract: most short tokens away from the end
             * are counted by it, and some pieces are called absent */
            cr_assert_gt(t.found, t.short_tokens * 9 / 10, "%s: counted %zu of %zu short tokens", k->name, t.found,
                         t.short_tokens);
            cr_assert_gt(t.absent, 0u, "%s: never called a piece absent", k->name);
        }
    }
    cr_assert_geq(tested, 1u, "the emulated AVX-512 copy at least has a lookup");
}

/* The pieces of real text (called from the corpus test for every file): the file split by the
 * scalar o200k and cl100k scanners, looked up by every kernel that has a lookup. */
static void check_lookup_file(const uint8_t *d, size_t n, const char *name) {
    for (size_t ki = 0; ki < g_nk; ki++) {
        const tkm_kernel *k = g_kernels[ki];
        if (!k->lookup) continue;
        for (int fam = 2; fam <= 3; fam++) {
            const tkm_ranks *v = fam == 3 ? &tkm_ranks_o200k_base : &tkm_ranks_cl100k_base;
            lookup_tally t = {0, 0, 0};
            size_t e[64 + 9], pos = 0;
            while (pos < n) {
                e[0] = pos;
                size_t m = tkm_kernel_scalar.split[fam](d, pos, n, e + 1, 64);
                check_lookup_batch(k, v, d, n, e, m, name, &t);
                pos = e[m];
            }
            cr_assert_eq(t.found > t.short_tokens * 9 / 10 || t.short_tokens == 0, 1, "%s %s: %zu of %zu", k->name,
                         name, t.found, t.short_tokens);
        }
    }
}

/* ---- the batch merge (tkm_kernel.bpe_batch, kernel/bpe_batch.h) ---------------------------- */

/* One drawn piece of 2..TKM_BPE_BATCH_MAX bytes into buf: several tokens end to end (the pieces real text sends
 * to the merge), a token with a byte changed, random bytes, a run of one or two letters, or
 * Cyrillic / CJK / emoji code points. Returns its length. */
static size_t draw_merge_piece(oracle_rng *r, const tkm_ranks *v, uint8_t *buf) {
    const uint32_t kind = oracle_rng_below(r, 8), want = 2 + oracle_rng_below(r, TKM_BPE_BATCH_MAX - 1);
    size_t n = 0;
    if (kind < 3) { /* tokens until the length is reached */
        while (n < want) {
            size_t tl;
            const uint8_t *tb = tkm_ranks_bytes(v, oracle_rng_below(r, v->n_ranks), &tl);
            if (tl == 0 || n + tl > TKM_BPE_BATCH_MAX) break;
            memcpy(buf + n, tb, tl);
            n += tl;
        }
    } else if (kind == 3) { /* a token of two or more bytes, one byte changed */
        const uint8_t *tb;
        do {
            tb = tkm_ranks_bytes(v, oracle_rng_below(r, v->n_ranks), &n);
        } while (n < 2 || n > TKM_BPE_BATCH_MAX);
        memcpy(buf, tb, n);
        buf[oracle_rng_below(r, (uint32_t)n)] ^= (uint8_t)(1u + oracle_rng_below(r, 255));
    } else if (kind == 4) {
        for (n = 0; n < want; n++) buf[n] = (uint8_t)oracle_rng_below(r, 256);
    } else if (kind == 5) {
        const uint8_t a = (uint8_t)('a' + oracle_rng_below(r, 26)), b = (uint8_t)('a' + oracle_rng_below(r, 3));
        for (n = 0; n < want; n++) buf[n] = oracle_rng_below(r, 4) ? a : b;
    } else { /* code points of one script: 2-byte Cyrillic, 3-byte CJK, 4-byte emoji */
        static const uint32_t base[3] = {0x0430, 0x4E00, 0x1F600}, span[3] = {32, 2000, 80};
        const uint32_t sc = oracle_rng_below(r, 3);
        for (;;) {
            const uint32_t c = base[sc] + oracle_rng_below(r, span[sc]);
            uint8_t u[4];
            const size_t ul = c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
            if (ul == 2) u[0] = (uint8_t)(0xC0 | c >> 6), u[1] = (uint8_t)(0x80 | (c & 63));
            if (ul == 3)
                u[0] = (uint8_t)(0xE0 | c >> 12), u[1] = (uint8_t)(0x80 | (c >> 6 & 63)),
                u[2] = (uint8_t)(0x80 | (c & 63));
            if (ul == 4)
                u[0] = (uint8_t)(0xF0 | c >> 18), u[1] = (uint8_t)(0x80 | (c >> 12 & 63)),
                u[2] = (uint8_t)(0x80 | (c >> 6 & 63)), u[3] = (uint8_t)(0x80 | (c & 63));
            if (n + ul > want && n >= 2) break;
            if (n + ul > TKM_BPE_BATCH_MAX) break;
            memcpy(buf + n, u, ul);
            n += ul;
        }
    }
    if (n == 0) buf[n++] = 'x'; /* the first token drawn was too long */
    if (n == 1) buf[n++] = (uint8_t)oracle_rng_below(r, 256);
    return n;
}

/* Every kernel's batch merge against the reference merge (tkm_bpe_encode_bytes, which looks up
 * the bytes of every pair and never the pair table): calls of 1..TKM_BPE_BATCH pieces, in
 * exact-size heap buffers, pieces of every length up to TKM_BPE_BATCH_MAX so that every group of
 * 16 keys and the lanes' refill are used. */
Test(kernels, bpe_batch_drawn_pieces, .timeout = 600) {
    oracle_rng r = {0x6270655F62617463ull};
    tkm_bpe_work w = {tkm_default_alloc, tkm_default_free, NULL, NULL, 0};
    const tkm_kernel *ks[16];
    size_t nks = 0;
    for (size_t ki = 0; ki < g_nk; ki++) ks[nks++] = g_kernels[ki];
    ks[nks++] = &tkm_kernel_scalar;
    size_t by_groups[TKM_BPE_BATCH_MAX / 16 + 1] = {0}, pieces = 0;
    for (size_t vi = 0; vi < sizeof g_lookup_vocabs / sizeof g_lookup_vocabs[0]; vi++) {
        const tkm_ranks *v = g_lookup_vocabs[vi];
        cr_assert_not_null(v->pairs);
        for (int iter = 0; iter < 1500; iter++) {
            uint8_t *ps[TKM_BPE_BATCH], ns[TKM_BPE_BATCH];
            uint32_t want[TKM_BPE_BATCH];
            const size_t nb = iter < 64 ? (size_t)iter + 1 : 1 + oracle_rng_below(&r, TKM_BPE_BATCH);
            for (size_t q = 0; q < nb; q++) {
                uint8_t buf[TKM_BPE_BATCH_MAX];
                const size_t n = draw_merge_piece(&r, v, buf);
                ps[q] = malloc(n);
                cr_assert_not_null(ps[q]);
                memcpy(ps[q], buf, n);
                ns[q] = (uint8_t)n;
                want[q] = (uint32_t)tkm_bpe_encode_bytes(v, ps[q], n, NULL, NULL, &w);
                by_groups[(n + 15) / 16]++;
                pieces++;
            }
            for (size_t ki = 0; ki < nks; ki++) {
                uint32_t got[TKM_BPE_BATCH];
                memset(got, 0xA5, sizeof got);
                ks[ki]->bpe_batch(v, (const uint8_t *const *)ps, ns, nb, got);
                for (size_t q = 0; q < nb; q++)
                    if (got[q] != want[q]) {
                        fprintf(stderr, "%s: piece %zu of %zu (%u bytes):", ks[ki]->name, q, nb, ns[q]);
                        for (size_t i = 0; i < ns[q]; i++) fprintf(stderr, " %02x", ps[q][i]);
                        fprintf(stderr, "\n");
                        cr_assert_eq(got[q], want[q], "%s: batch count %u, reference %u", ks[ki]->name, got[q],
                                     want[q]);
                    }
            }
            for (size_t q = 0; q < nb; q++) free(ps[q]);
        }
    }
    tkm_bpe_work_release(&w);
    for (size_t g = 1; g <= TKM_BPE_BATCH_MAX / 16; g++)
        cr_assert_gt(by_groups[g], pieces / 40, "pieces of %zu groups of 16 keys: %zu of %zu", g, by_groups[g], pieces);
}

/* ---- the UTF-8 check (tkm_validate_fn) of every kernel against tkm_utf8_first_invalid ---------- */

static void check_validate(const uint8_t *s, size_t n, const char *what) {
    const size_t want = tkm_utf8_first_invalid(s, n);
    for (size_t k = 0; k < g_nk; k++) {
        const size_t got = g_kernels[k]->validate(s, n);
        if (got != want) {
            hexdump(s, n, want < n ? want : n ? n - 1 : 0);
            cr_assert_eq(got, want, "%s: %s (%zu bytes): first ill-formed sequence at %zu, specification %zu",
                         g_kernels[k]->name, what, n, got, want);
        }
    }
}

/* Fillers that the bytes under test overwrite: ASCII, 2-byte and 3-byte letters, a 4-byte emoji. */
static void fill_text(uint8_t *buf, size_t n, int kind) {
    static const char *const unit[] = {"a", "\xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x98\x80"};
    const size_t ul = strlen(unit[kind]);
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)unit[kind][i % ul];
}

/* Every pair of bytes at offsets around the 32-byte blocks, in four fillers: the pair, what it
 * breaks of the filler's characters, and the characters around it. */
Test(kernels, utf8_every_pair_at_block_edges, .timeout = 900) {
    static const size_t at[] = {0, 1, 30, 31, 32, 33, 62, 63, 64, 94};
    uint8_t buf[96];
    size_t bad = 0;
    for (int kind = 0; kind < 4; kind++)
        for (size_t a = 0; a < sizeof at / sizeof at[0]; a++)
            for (uint32_t b = 0; b < 65536u; b++) {
                fill_text(buf, sizeof buf, kind);
                buf[at[a]] = (uint8_t)b;
                buf[at[a] + 1] = (uint8_t)(b >> 8);
                check_validate(buf, sizeof buf, "a pair of bytes in a filler");
                bad += tkm_utf8_first_invalid(buf, sizeof buf) < sizeof buf;
            }
    cr_assert_gt(bad, 0, "some pairs are ill-formed");
}

/* Every lead or continuation byte, every second byte and a set of third (and fourth) bytes that
 * cover each range boundary of table 3-7, across the block edge. */
Test(kernels, utf8_sequences_across_block_edge, .timeout = 900) {
    static const uint8_t edge[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                   0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
    const size_t ne = sizeof edge;
    uint8_t buf[80];
    size_t good = 0, bad = 0;
    for (size_t o = 28; o <= 33; o++)
        for (uint32_t b0 = 0x80; b0 < 0x100; b0++)
            for (uint32_t b1 = 0; b1 < 0x100; b1++)
                for (size_t i2 = 0; i2 < ne; i2++)
                    for (size_t i3 = 0; i3 < (b0 >= 0xF0 ? ne : 1); i3++) {
                        fill_text(buf, sizeof buf, 0);
                        buf[o] = (uint8_t)b0;
                        buf[o + 1] = (uint8_t)b1;
                        buf[o + 2] = edge[i2];
                        if (b0 >= 0xF0) buf[o + 3] = edge[i3];
                        check_validate(buf, sizeof buf, "a sequence across the block edge");
                        check_validate(buf, o + 2, "a sequence cut at the end");
                        check_validate(buf, o + 3, "a sequence cut at the end");
                        if (tkm_utf8_first_invalid(buf, sizeof buf) < sizeof buf)
                            bad++;
                        else
                            good++;
                    }
    cr_assert(good > 0 && bad > 0, "well-formed %zu, ill-formed %zu", good, bad);
}

/* Every prefix of mixed text (each cut inside a character at some length), and random bytes
 * changed in corpus text. */
Test(kernels, utf8_prefixes_and_mutations, .timeout = 900) {
    uint8_t buf[512];
    for (int kind = 0; kind < 4; kind++) {
        fill_text(buf, sizeof buf, kind);
        for (size_t i = 0; i < 200; i += 7) buf[i] = 'x'; /* shifts the characters against the blocks */
        for (size_t n = 0; n <= sizeof buf; n++) check_validate(buf, n, "a prefix of mixed text");
    }
    size_t nf = 0, tried = 0, bad = 0;
    char **files = oracle_list_files(TKM_CORPUS_DIR, &nf);
    oracle_rng r = {0x5eed0f0u};
    for (size_t f = 0; f < nf; f++) {
        size_t n;
        uint8_t *d = oracle_read_file(files[f], &n);
        cr_assert_not_null(d, "read %s", files[f]);
        check_validate(d, n, files[f]);
        for (int t = 0; t < 200 && n >= 256; t++) {
            const size_t a = oracle_rng_below(&r, (uint32_t)(n - 256 < 0xFFFFFFFFu ? n - 255 : 0xFFFFFFFFu));
            memcpy(buf, d + a, 256);
            const int flips = 1 + (int)oracle_rng_below(&r, 3);
            for (int k = 0; k < flips; k++) buf[oracle_rng_below(&r, 256)] = (uint8_t)oracle_rng_below(&r, 256);
            check_validate(buf, 256, "corpus text with bytes changed");
            tried++;
            bad += tkm_utf8_first_invalid(buf, 256) < 256;
        }
        free(d);
        free(files[f]);
    }
    free(files);
    if (nf) cr_assert(tried > 0 && bad > 0 && bad < tried, "mutations: %zu tried, %zu ill-formed", tried, bad);
}
