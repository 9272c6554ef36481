/*
 * oracle.c - independent test oracles: PCRE2 splitter, Unicode agreement filter, simple BPE.
 *
 * Nothing here shares code with the library's pre-tokenizers or merge: the splitter is PCRE2 running
 * the reference regexes verbatim; the merge is tiktoken's loop written out plainly. The only
 * library pieces used are the UTF-8 decoder that defines the replacement policy (pretok.h), the
 * property table under test for the agreement filter (unicode.h) and the rank lookup (vocab.h).
 *
 * State (compiled patterns, the agreement cache) is process-global and not thread-safe: each
 * Criterion test runs in its own process, single-threaded.
 */
#define _POSIX_C_SOURCE 200809L
#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include "oracle.h"

#include <dirent.h>
#include <sys/stat.h>

#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretok.h"
#include "unicode.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static void oracle_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("ORACLE FAILURE: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    abort();
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oracle_die("out of memory (%zu bytes)", n);
    return p;
}

static void *xrealloc(void *q, size_t n) {
    void *p = realloc(q, n ? n : 1);
    if (!p) oracle_die("out of memory (%zu bytes)", n);
    return p;
}

static size_t utf8_put(uint8_t *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) { o[0] = (uint8_t)(0xC0 | (cp >> 6)); o[1] = (uint8_t)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- patterns ------------------------------------------------------------------------------- */

/* Copied verbatim from the comment in kernel/pretok.h (line breaks there fall after a '|'). */
static const char pat_gpt2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static const char pat_cl100k[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const char pat_o200k[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const char *oracle_pattern(int family) {
    switch (family) {
    case ORACLE_GPT2: return pat_gpt2;
    case ORACLE_CL100K: return pat_cl100k;
    case ORACLE_O200K: return pat_o200k;
    default: return NULL;
    }
}

const char *oracle_family_name(int family) {
    switch (family) {
    case ORACLE_GPT2: return "gpt2";
    case ORACLE_CL100K: return "cl100k";
    case ORACLE_O200K: return "o200k";
    default: return "?";
    }
}

static pcre2_match_context *g_mctx;
static pcre2_jit_stack *g_jit_stack;

static pcre2_code *compile_or_die(const char *pat) {
    int err;
    PCRE2_SIZE erroff;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &erroff, NULL);
    if (!c) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        oracle_die("pcre2_compile(\"%s\") failed at %zu: %s", pat, (size_t)erroff, (const char *)msg);
    }
    (void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE); /* JIT if available; the interpreter otherwise */
    return c;
}

static pcre2_match_context *match_context(void) {
    if (!g_mctx) {
        g_mctx = pcre2_match_context_create(NULL);
        if (!g_mctx) oracle_die("pcre2_match_context_create failed");
        /* Inputs reach megabytes in one piece: lift every limit; the patterns are linear anyway. */
        pcre2_set_match_limit(g_mctx, 0xFFFFFFFFu);
        pcre2_set_depth_limit(g_mctx, 0xFFFFFFFFu);
        pcre2_set_heap_limit(g_mctx, 0xFFFFFFFFu);
        g_jit_stack = pcre2_jit_stack_create(64 * 1024, 512 * 1024 * 1024, NULL);
        if (g_jit_stack) pcre2_jit_stack_assign(g_mctx, NULL, g_jit_stack);
    }
    return g_mctx;
}

static pcre2_code *family_code(int family) {
    static pcre2_code *codes[4];
    const char *pat = oracle_pattern(family);
    if (!pat) oracle_die("unknown pattern family %d", family);
    if (!codes[family]) codes[family] = compile_or_die(pat);
    return codes[family];
}

/* ---- splitting ------------------------------------------------------------------------------ */

/* Calls emit(ctx, end) for each match of text t[0..n) (valid UTF-8), like Rust's find_iter. */
typedef void (*emit_fn)(void *ctx, size_t start, size_t end);

static void split_valid(int family, const uint8_t *t, size_t n, emit_fn emit, void *ctx) {
    pcre2_code *code = family_code(family);
    pcre2_match_context *mctx = match_context();
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    if (!md) oracle_die("pcre2_match_data_create failed");
    /* The check is done once here, then skipped (it would otherwise make each call O(n)). */
    if (n > 0) {
        int rc = pcre2_match(code, (PCRE2_SPTR)t, n, 0, 0, md, mctx);
        if (rc == PCRE2_ERROR_NOMATCH) oracle_die("%s: no match at all in %zu bytes", oracle_family_name(family), n);
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            oracle_die("%s: pcre2_match failed at offset 0: %s", oracle_family_name(family), (const char *)msg);
        }
    }
    size_t off = 0, expect = 0;
    int first = 1;
    while (off < n) {
        int rc;
        if (first) {
            rc = 1; /* reuse the checking call's result */
            first = 0;
        } else {
            rc = pcre2_match(code, (PCRE2_SPTR)t, n, off, PCRE2_NO_UTF_CHECK, md, mctx);
        }
        if (rc == PCRE2_ERROR_NOMATCH) {
            oracle_die("%s: no match from offset %zu of %zu: the pattern leaves a gap", oracle_family_name(family), off, n);
        }
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            oracle_die("%s: pcre2_match failed at offset %zu: %s", oracle_family_name(family), off, (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = (size_t)ov[0], b = (size_t)ov[1];
        if (a != expect) oracle_die("%s: match starts at %zu, previous ended at %zu: a gap", oracle_family_name(family), a, expect);
        if (b == a) {
            /* find_iter: an empty match moves the search on by one character. These patterns
             * cannot match empty; were it to happen, the gap check above fires next. */
            size_t adv;
            (void)tkm_utf8_decode(t, b, n, &adv);
            off = b + adv;
            continue;
        }
        emit(ctx, a, b);
        expect = b;
        off = b;
    }
    pcre2_match_data_free(md);
}

/* Repaired text plus, when anything was repaired, the map from repaired to original offsets. */
typedef struct repaired {
    const uint8_t *t;
    size_t n;
    uint8_t *owned;  /* NULL when t is the input itself */
    size_t *map;     /* map[i] = original offset of the character starting at t[i]; map[n] = len */
} repaired;

static void repair(const uint8_t *s, size_t n, repaired *r) {
    size_t i = 0, bad = 0;
    while (i < n) {
        size_t adv;
        uint32_t cp = tkm_utf8_decode(s, i, n, &adv);
        if (cp == 0xFFFD && !(adv == 3 && s[i] == 0xEF && s[i + 1] == 0xBF && s[i + 2] == 0xBD)) bad++;
        i += adv;
    }
    r->owned = NULL;
    r->map = NULL;
    if (bad == 0) {
        r->t = s;
        r->n = n;
        return;
    }
    /* Every ill-formed subsequence is at least one byte and becomes three. */
    uint8_t *t = xmalloc(n + 2 * bad + 1);
    size_t *map = xmalloc((n + 2 * bad + 1) * sizeof *map);
    size_t o = 0;
    i = 0;
    while (i < n) {
        size_t adv;
        uint32_t cp = tkm_utf8_decode(s, i, n, &adv);
        size_t k = utf8_put(t + o, cp);
        for (size_t j = 0; j < k; j++) map[o + j] = (j == 0) ? i : (size_t)-1; /* only char starts used */
        o += k;
        i += adv;
    }
    map[o] = n;
    r->t = t;
    r->n = o;
    r->owned = t;
    r->map = map;
}

static void repaired_free(repaired *r) {
    free(r->owned);
    free(r->map);
}

uint8_t *oracle_repair_utf8(const uint8_t *s, size_t n, size_t *out_n) {
    repaired r;
    repair(s, n, &r);
    uint8_t *t = xmalloc(r.n);
    if (r.n) memcpy(t, r.t, r.n);
    *out_n = r.n;
    repaired_free(&r);
    return t;
}

typedef struct split_ctx {
    const size_t *map;
    size_t *ends;
    size_t cap;
    size_t count;
    int grow; /* 1: ends is a malloc'd growable buffer */
} split_ctx;

static void split_emit(void *vctx, size_t start, size_t end) {
    (void)start;
    split_ctx *c = vctx;
    size_t e = end;
    if (c->map) {
        e = c->map[end];
        if (e == (size_t)-1) oracle_die("piece end %zu is not a character start of the repaired text", end);
    }
    if (c->count >= c->cap && c->grow) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->ends = xrealloc(c->ends, c->cap * sizeof *c->ends);
    }
    if (c->count < c->cap) c->ends[c->count] = e;
    c->count++;
}

size_t oracle_split(int family, const uint8_t *s, size_t n, size_t *ends, size_t cap) {
    repaired r;
    repair(s, n, &r);
    split_ctx c = {r.map, ends, cap, 0, 0};
    split_valid(family, r.t, r.n, split_emit, &c);
    repaired_free(&r);
    return c.count;
}

size_t *oracle_split_alloc(int family, const uint8_t *s, size_t n, size_t *count) {
    repaired r;
    repair(s, n, &r);
    split_ctx c = {r.map, NULL, 0, 0, 1};
    split_valid(family, r.t, r.n, split_emit, &c);
    repaired_free(&r);
    if (!c.ends) c.ends = xmalloc(sizeof *c.ends);
    *count = c.count;
    return c.ends;
}

/* ---- agreement filter ----------------------------------------------------------------------- */

static const char *const prop_pats[8] = {"\\p{Lu}", "\\p{Ll}", "\\p{Lt}", "\\p{Lm}", "\\p{Lo}", "\\p{M}", "\\p{N}", "\\s"};
static const unsigned prop_flags[8] = {TKM_UC_LU, TKM_UC_LL, TKM_UC_LT, TKM_UC_LM, TKM_UC_LO, TKM_UC_M, TKM_UC_N, TKM_UC_WS};

int oracle_cp_agrees(uint32_t cp) {
    static uint8_t cache[0x110000]; /* 0 unknown, 1 agrees, 2 differs */
    static pcre2_code *codes[8];
    static pcre2_match_data *md;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    if (cache[cp]) return cache[cp] == 1;
    if (!md) {
        for (int k = 0; k < 8; k++) codes[k] = compile_or_die(prop_pats[k]);
        md = pcre2_match_data_create(4, NULL);
        if (!md) oracle_die("pcre2_match_data_create failed");
    }
    uint8_t buf[4];
    size_t len = utf8_put(buf, cp);
    unsigned pc = 0;
    for (int k = 0; k < 8; k++) {
        int rc = pcre2_match(codes[k], buf, len, 0, PCRE2_ANCHORED, md, NULL);
        if (rc >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            if (ov[0] == 0 && ov[1] == len) pc |= prop_flags[k];
        } else if (rc != PCRE2_ERROR_NOMATCH) {
            oracle_die("pcre2_match(%s) on U+%04X failed: %d", prop_pats[k], (unsigned)cp, rc);
        }
    }
    int ok = pc == tkm_uc_props(cp);
    cache[cp] = ok ? 1 : 2;
    return ok;
}

int oracle_text_agrees(const uint8_t *s, size_t n, size_t *first_bad) {
    size_t i = 0;
    while (i < n) {
        size_t adv;
        uint32_t cp = tkm_utf8_decode(s, i, n, &adv);
        if (!oracle_cp_agrees(cp)) {
            if (first_bad) *first_bad = i;
            return 0;
        }
        i += adv;
    }
    return 1;
}

/* ---- simple BPE ----------------------------------------------------------------------------- */

static uint32_t rank_of(const tkm_ranks *v, const uint8_t *p, size_t a, size_t b) {
    return tkm_ranks_find_slow(v, p + a, b - a); /* independent of the fast table */
}

static size_t emit_parts(const tkm_ranks *v, const uint8_t *p, const size_t *start, size_t m, uint32_t *out) {
    if (out) {
        for (size_t i = 0; i < m; i++) {
            uint32_t r = rank_of(v, p, start[i], start[i + 1]);
            if (r == TKM_RANK_NONE) oracle_die("BPE ended with a part (%zu bytes at %zu) that is no token", start[i + 1] - start[i], start[i]);
            out[i] = r;
        }
    }
    return m;
}

size_t oracle_bpe_simple(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out) {
    if (n == 0) oracle_die("oracle_bpe_simple: empty piece");
    /* Parts are p[start[i] .. start[i+1]); pair i joins parts i and i+1 (bytes start[i] .. start[i+2]). */
    size_t m = n;
    size_t *start = xmalloc((n + 1) * sizeof *start);
    uint32_t *rank = xmalloc(n * sizeof *rank);
    for (size_t i = 0; i <= n; i++) start[i] = i;
    for (size_t i = 0; i + 1 < m; i++) rank[i] = rank_of(v, p, start[i], start[i + 2]);
    for (;;) {
        uint32_t best = TKM_RANK_NONE;
        size_t at = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            if (rank[i] < best) { /* strict: ties go to the leftmost pair */
                best = rank[i];
                at = i;
            }
        }
        if (best == TKM_RANK_NONE) break;
        /* Merge parts at and at+1: drop the boundary start[at+1], and pair at+1's rank. */
        memmove(start + at + 1, start + at + 2, (m - at - 1) * sizeof *start);
        if (m > at + 3) memmove(rank + at + 1, rank + at + 2, (m - at - 3) * sizeof *rank);
        m--;
        if (at + 1 < m) rank[at] = rank_of(v, p, start[at], start[at + 2]);
        if (at > 0) rank[at - 1] = rank_of(v, p, start[at - 1], start[at + 1]);
    }
    size_t k = emit_parts(v, p, start, m, out);
    free(start);
    free(rank);
    return k;
}

/* strict: abort when a round is not equivalent to one-at-a-time merging; otherwise return
 * (size_t)-1 in that case. */
static size_t bpe_rounds(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out, int strict) {
    if (n == 0) oracle_die("oracle_bpe_rounds: empty piece");
    size_t m = n;
    size_t *start = xmalloc((n + 1) * sizeof *start);
    size_t *nstart = xmalloc((n + 1) * sizeof *nstart);
    uint32_t *rank = xmalloc(n * sizeof *rank);
    for (size_t i = 0; i <= n; i++) start[i] = i;
    for (size_t i = 0; i + 1 < m; i++) rank[i] = rank_of(v, p, start[i], start[i + 2]);
    for (size_t round = 0;; round++) {
        uint32_t r = TKM_RANK_NONE;
        for (size_t i = 0; i + 1 < m; i++)
            if (rank[i] < r) r = rank[i];
        if (r == TKM_RANK_NONE) break;
        /* One pass, left to right. At the moment pair i is merged, the one-at-a-time algorithm
         * would be in this state: parts left of i already as in nstart, parts right of i+1 as in
         * start. The merge creates the pairs (last output part, merged) and (merged, part i+2);
         * if either had rank <= r, the one-at-a-time algorithm would merge it before (or at the
         * same rank as) the next pair of rank r, and this pass would be wrong. */
        size_t k = 0, i = 0;
        while (i < m) {
            if (i + 1 < m && rank[i] == r) {
                size_t a = start[i], b = start[i + 2];
                if (k > 0) {
                    uint32_t lr = rank_of(v, p, nstart[k - 1], b);
                    if (lr != TKM_RANK_NONE && lr <= r) {
                        if (!strict) goto not_applicable;
                        oracle_die("oracle_bpe_rounds: round %zu (rank %u): merge at byte %zu makes a left pair of rank %u", round, r, a, lr);
                    }
                }
                if (i + 2 < m) {
                    uint32_t rr = rank_of(v, p, a, start[i + 3]);
                    if (rr != TKM_RANK_NONE && rr <= r) {
                        if (!strict) goto not_applicable;
                        oracle_die("oracle_bpe_rounds: round %zu (rank %u): merge at byte %zu makes a right pair of rank %u", round, r, a, rr);
                    }
                }
                nstart[k++] = a;
                i += 2;
            } else {
                nstart[k++] = start[i];
                i += 1;
            }
        }
        nstart[k] = n;
        size_t *tmp = start;
        start = nstart;
        nstart = tmp;
        m = k;
        for (size_t j = 0; j + 1 < m; j++) {
            rank[j] = rank_of(v, p, start[j], start[j + 2]);
            if (rank[j] <= r) oracle_die("oracle_bpe_rounds: round %zu left a pair of rank %u <= %u", round, rank[j], r);
        }
    }
    size_t k = emit_parts(v, p, start, m, out);
    free(start);
    free(nstart);
    free(rank);
    return k;
not_applicable:
    free(start);
    free(nstart);
    free(rank);
    return (size_t)-1;
}

size_t oracle_bpe_rounds(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out) {
    return bpe_rounds(v, p, n, out, 1);
}

size_t oracle_bpe(const tkm_ranks *v, const uint8_t *p, size_t n, uint32_t *out) {
    if (n <= ORACLE_SIMPLE_MAX) return oracle_bpe_simple(v, p, n, out);
    size_t k = bpe_rounds(v, p, n, out, 0);
    if (k != (size_t)-1) return k;
    /* The rounds do not apply to this piece: the quadratic algorithm, if it can finish. */
    if (n <= ORACLE_SIMPLE_FALLBACK_MAX) return oracle_bpe_simple(v, p, n, out);
    return oracle_bpe_rounds(v, p, n, out); /* aborts with the reason */
}

/* ---- count / encode ------------------------------------------------------------------------- */

typedef struct enc_ctx {
    const tkm_ranks *v;
    const uint8_t *t;
    uint32_t *out;
    size_t cap;
    size_t count;
    uint32_t *tmp;
    size_t tmp_cap;
} enc_ctx;

static void enc_emit(void *vctx, size_t a, size_t b) {
    enc_ctx *c = vctx;
    const uint8_t *piece = c->t + a;
    size_t len = b - a;
    uint32_t whole = tkm_ranks_find_slow(c->v, piece, len);
    if (whole != TKM_RANK_NONE) {
        if (c->out && c->count < c->cap) c->out[c->count] = whole;
        c->count++;
        return;
    }
    if (!c->out) {
        c->count += oracle_bpe(c->v, piece, len, NULL);
        return;
    }
    if (c->tmp_cap < len) {
        c->tmp_cap = len;
        c->tmp = xrealloc(c->tmp, len * sizeof *c->tmp);
    }
    size_t k = oracle_bpe(c->v, piece, len, c->tmp);
    for (size_t j = 0; j < k; j++) {
        if (c->count < c->cap) c->out[c->count] = c->tmp[j];
        c->count++;
    }
}

size_t oracle_encode(int family, const tkm_ranks *v, const uint8_t *s, size_t n, uint32_t *out, size_t cap) {
    repaired r;
    repair(s, n, &r);
    enc_ctx c = {v, r.t, out, out ? cap : 0, 0, NULL, 0};
    split_valid(family, r.t, r.n, enc_emit, &c);
    free(c.tmp);
    repaired_free(&r);
    return c.count;
}

size_t oracle_count(int family, const tkm_ranks *v, const uint8_t *s, size_t n) {
    return oracle_encode(family, v, s, n, NULL, 0);
}

/* ---- test-data helpers ---------------------------------------------------------------------- */

typedef struct file_list {
    char **v;
    size_t n, cap;
} file_list;

static void walk(const char *dir, file_list *fl) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
        char *path = xmalloc(len);
        snprintf(path, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) {
            free(path);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            walk(path, fl);
            free(path);
        } else if (S_ISREG(st.st_mode)) {
            if (fl->n == fl->cap) {
                fl->cap = fl->cap ? 2 * fl->cap : 64;
                fl->v = xrealloc(fl->v, fl->cap * sizeof *fl->v);
            }
            fl->v[fl->n++] = path;
        } else {
            free(path);
        }
    }
    closedir(d);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **oracle_list_files(const char *dir, size_t *count) {
    DIR *d = opendir(dir);
    if (!d) return NULL;
    closedir(d);
    file_list fl = {NULL, 0, 0};
    walk(dir, &fl);
    if (fl.n) qsort(fl.v, fl.n, sizeof *fl.v, cmp_str);
    if (!fl.v) fl.v = xmalloc(sizeof *fl.v);
    *count = fl.n;
    return fl.v;
}

uint8_t *oracle_read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = xmalloc(cap);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        size_t k = fread(buf + len, 1, cap - len, f);
        len += k;
        if (k == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    /* Exact size, so that a read past the end is caught by ASan. */
    uint8_t *exact = xmalloc(len);
    if (len) memcpy(exact, buf, len);
    free(buf);
    *n = len;
    return exact;
}

uint64_t oracle_rng_next(oracle_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint32_t oracle_rng_below(oracle_rng *r, uint32_t bound) {
    return (uint32_t)(oracle_rng_next(r) % bound);
}
