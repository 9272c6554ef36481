/*
 * vocabc.c - build-time (host) generator of the compiled-in vocabularies.
 *
 *   vocabc --name NAME --tiktoken FILE --expect-sha256 HEX --out OUT.c
 *       Verifies sha256(FILE) == HEX, builds the table with tkm_ranks_build() (the same code the
 *       library uses at run time) and writes C defining `const tkm_ranks tkm_ranks_NAME`.
 *
 *   vocabc --name NAME --specials FILE --n-vocab N [--tiktoken FILE --expect-sha256 HEX] --out OUT.c
 *       Parses a .specials file (lines "ID<TAB>TEXT", '#' comments) and writes C defining
 *       `const tkm_specials tkm_specials_NAME`. Checks: texts non-empty, printable ASCII and
 *       unique; ids < 2^31 and < N. With --tiktoken also: no id is a mergeable rank and
 *       N == max(n_ranks, max id + 1).
 *
 * Exit status 0 on success, 1 on any error (message on stderr, no output file left behind).
 * The output depends only on the input bytes and NAME (host-independent: XXH3 is portable).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

static const char *g_prog = "vocabc";

static void die(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: error: ", g_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void *xalloc(void *opaque, size_t n) {
    (void)opaque;
    return malloc(n ? n : 1);
}
static void xfree(void *opaque, void *p) {
    (void)opaque;
    free(p);
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) die("out of memory");
    for (;;) {
        if (n == cap) {
            cap *= 2;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) die("out of memory");
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) die("cannot read %s", path);
    fclose(f);
    *len = n;
    return buf;
}

static void hex32(const uint8_t h[32], char out[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[64] = 0;
}

/* Basename of path, with anything unusual replaced so it is safe inside a C comment. */
static void safe_basename(const char *path, char *out, size_t cap) {
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '/' || *p == '\\') b = p + 1;
    size_t i = 0;
    for (; b[i] && i + 1 < cap; i++) {
        char c = b[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                 c == '-';
        out[i] = ok ? c : '_';
    }
    out[i] = 0;
}

/* ---- output ---------------------------------------------------------------------------------- */

typedef struct outf {
    FILE *f;
    char *tmp;
    const char *path;
} outf;

static outf out_open(const char *path) {
    outf o;
    o.path = path;
    o.tmp = malloc(strlen(path) + 8);
    if (!o.tmp) die("out of memory");
    sprintf(o.tmp, "%s.tmp", path);
    o.f = fopen(o.tmp, "wb");
    if (!o.f) die("cannot create %s: %s", o.tmp, strerror(errno));
    return o;
}

static void out_close(outf *o) {
    int bad = ferror(o->f);
    if (fclose(o->f) != 0 || bad) {
        remove(o->tmp);
        die("cannot write %s", o->tmp);
    }
    remove(o->path); /* rename() does not replace an existing file everywhere */
    if (rename(o->tmp, o->path) != 0) {
        remove(o->tmp);
        die("cannot rename %s to %s: %s", o->tmp, o->path, strerror(errno));
    }
    free(o->tmp);
}

/* Bytes as C string-literal chunks: printable ASCII as is (but " \ ?), the rest as 3-digit octal
 * escapes, so a chunk may end anywhere and no escape can swallow a following digit. */
static void put_string_chunks(FILE *f, const uint8_t *p, size_t n, const char *indent) {
    size_t col = 0;
    fprintf(f, "%s\"", indent);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (col >= 100) {
            fprintf(f, "\"\n%s\"", indent);
            col = 0;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '?') {
            fputc(c, f);
            col += 1;
        } else {
            fprintf(f, "\\%03o", (unsigned)c);
            col += 4;
        }
    }
    fputc('"', f);
}

/* An array of n unsigned words of `width` bytes (4 or 8) as a union of a char array, initialized
 * by a string literal holding the words' little-endian bytes, and the word array read through it.
 * Design note: as an initializer list of integers, the o200k tables took gcc 40 s of CPU time to
 * compile (2 million elements); as string literals, a few seconds. The generated file checks at
 * compile time that the target is little-endian (the bytes are written in that order). */
static void put_words(FILE *f, const char *name, const void *words, size_t n, unsigned width) {
    size_t nb = n * width;
    uint8_t *b = (uint8_t *)malloc(nb ? nb : 1);
    if (!b) die("out of memory");
    for (size_t i = 0; i < n; i++) {
        uint64_t w = width == 8 ? ((const uint64_t *)words)[i] : ((const uint32_t *)words)[i];
        for (unsigned k = 0; k < width; k++) b[i * width + k] = (uint8_t)(w >> (8 * k));
    }
    /* +1: room for the literal's NUL (no truncation warnings on any compiler). */
    fprintf(f, "static const union {\n    unsigned char c[%zu];\n    uint%u_t u[%zu];\n} %s = {\n", nb + 1, width * 8,
            n, name);
    put_string_chunks(f, b, nb, "    ");
    fprintf(f, "};\n\n");
    free(b);
}

/* ---- modes ----------------------------------------------------------------------------------- */

static int parse_hex_sha(const char *s, uint8_t out[32]) {
    if (strlen(s) != 64) return -1;
    for (int i = 0; i < 64; i++) {
        char c = s[i];
        int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (v < 0) return -1;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return 0;
}

/* Read, verify and build the ranks of a .tiktoken file. */
static uint8_t *load_ranks(const char *path, const char *expect_hex, tkm_ranks *v) {
    uint8_t expect[32];
    if (!expect_hex) die("--tiktoken needs --expect-sha256 HEX");
    if (parse_hex_sha(expect_hex, expect) != 0) die("--expect-sha256: need 64 hex digits, got '%s'", expect_hex);
    size_t len;
    uint8_t *data = read_file(path, &len);
    uint8_t got[32];
    tkm_sha256(data, len, got);
    if (memcmp(got, expect, 32) != 0) {
        char gh[65], eh[65];
        hex32(got, gh);
        hex32(expect, eh);
        die("sha256 mismatch for %s:\n  expected %s\n  actual   %s\n"
            "The vocabulary file is not the official one; refusing to compile it in.",
            path, eh, gh);
    }
    size_t err_line = 0;
    int rc = tkm_ranks_build(data, len, xalloc, xfree, NULL, v, &err_line);
    if (rc == -1) die("out of memory building %s", path);
    if (rc != 0) die("%s:%zu: malformed .tiktoken entry (code %d)", path, err_line, rc);
    if (memcmp(v->sha256, expect, 32) != 0) die("internal: sha256 of the built table differs");
    return data;
}

static void emit_ranks(const char *name, const char *tiktoken_path, const tkm_ranks *v, const char *out_path) {
    char base[256], hex[65];
    safe_basename(tiktoken_path, base, sizeof base);
    hex32(v->sha256, hex);
    uint32_t n_bytes = v->offsets[v->n_ranks];
    outf o = out_open(out_path);
    FILE *f = o.f;
    fprintf(f,
            "/* Generated by tools/vocabc.c from %s - do not edit.\n"
            " * sha256 %s\n"
            " * n_ranks %lu, n_tokens %lu, bytes %lu, slots %lu, max_len %lu, canonical splits %lu */\n"
            "#include \"vocab.h\"\n\n",
            base, hex, (unsigned long)v->n_ranks, (unsigned long)v->n_tokens, (unsigned long)n_bytes,
            (unsigned long)v->mask + 1ul, (unsigned long)v->max_len, (unsigned long)v->n_pairs);
    /* +1: room for the literal's NUL (no truncation warnings on any compiler). */
    fprintf(f, "static const uint8_t tkm_bytes_%s[%lu] =\n", name, (unsigned long)n_bytes + 1ul);
    put_string_chunks(f, v->bytes, n_bytes, "");
    fprintf(f, ";\n\n");
    char arr[160];
    fprintf(f, "#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__\n"
               "#error \"tokmeter's generated tables are little-endian\"\n#endif\n\n");
    snprintf(arr, sizeof arr, "tkm_offsets_%s", name);
    put_words(f, arr, v->offsets, (size_t)v->n_ranks + 1u, 4);
    snprintf(arr, sizeof arr, "tkm_slots_%s", name);
    put_words(f, arr, v->slots, (size_t)v->mask + 1u, 4);
    if (v->fast) {
        snprintf(arr, sizeof arr, "tkm_fast_%s", name);
        put_words(f, arr, v->fast, 2u * ((size_t)v->fast_mask + 1u), 8);
    }
    snprintf(arr, sizeof arr, "tkm_pair2_%s", name);
    put_words(f, arr, v->pair2, 65536u, 4);
    if (v->pairs) {
        snprintf(arr, sizeof arr, "tkm_byte_ids_%s", name);
        put_words(f, arr, v->byte_ids, 256u, 4);
        snprintf(arr, sizeof arr, "tkm_pairs_%s", name);
        put_words(f, arr, v->pairs, (size_t)v->pairs_mask + 1u + TKM_PAIR_TAIL, 8); /* with the tail (vocab.h) */
        snprintf(arr, sizeof arr, "tkm_inner2_%s", name);
        put_words(f, arr, v->inner2, 1024u, 8);
    }
    fprintf(f, "const tkm_ranks tkm_ranks_%s = {\n", name);
    fprintf(f, "    tkm_bytes_%s, tkm_offsets_%s.u, tkm_slots_%s.u,\n", name, name, name);
    fprintf(f, "    %luu, %luu, %luu, %luu,\n    {", (unsigned long)v->n_ranks, (unsigned long)v->n_tokens,
            (unsigned long)v->mask, (unsigned long)v->max_len);
    for (int i = 0; i < 32; i++) fprintf(f, "0x%02x%s", v->sha256[i], i == 31 ? "},\n" : i % 16 == 15 ? ",\n     " : ", ");
    if (v->fast)
        fprintf(f, "    tkm_fast_%s.u, %luu, %luu, tkm_pair2_%s.u,\n", name, (unsigned long)v->fast_mask,
                (unsigned long)v->fast_shift, name);
    else
        fprintf(f, "    NULL, 0u, 64u, tkm_pair2_%s.u,\n", name);
    if (v->pairs)
        fprintf(f, "    tkm_byte_ids_%s.u, tkm_pairs_%s.u, %luu, %luu, %luu, tkm_inner2_%s.u\n", name, name,
                (unsigned long)v->pairs_mask, (unsigned long)v->pairs_shift, (unsigned long)v->n_pairs, name);
    else
        fprintf(f, "    NULL, NULL, 0u, 64u, 0u, NULL\n");
    fprintf(f, "};\n");
    out_close(&o);
}

typedef struct special {
    const uint8_t *text;
    size_t len;
    uint32_t id;
} special;

static int cmp_text(const void *a, const void *b) {
    const special *x = *(const special *const *)a, *y = *(const special *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

static void emit_specials(const char *name, const char *path, unsigned long n_vocab, const tkm_ranks *ranks,
                          const char *out_path) {
    size_t len;
    uint8_t *d = read_file(path, &len);
    size_t cap = 64, n = 0;
    special *s = malloc(cap * sizeof *s);
    if (!s) die("out of memory");
    size_t pos = 0, line = 0;
    unsigned long max_id = 0;
    while (pos < len) {
        line++;
        size_t e = pos;
        while (e < len && d[e] != '\n') e++;
        size_t next = e < len ? e + 1 : e;
        if (e > pos && d[e - 1] == '\r') e--;
        if (e == pos || d[pos] == '#') {
            pos = next;
            continue;
        }
        size_t p = pos;
        unsigned long id = 0;
        while (p < e && d[p] >= '0' && d[p] <= '9') {
            id = id * 10 + (unsigned long)(d[p] - '0');
            if (id >= 0x80000000ul) die("%s:%zu: id too large", path, line);
            p++;
        }
        if (p == pos || p >= e || d[p] != '\t') die("%s:%zu: expected \"ID<TAB>TEXT\"", path, line);
        p++;
        if (p == e) die("%s:%zu: empty special-token text", path, line);
        for (size_t i = p; i < e; i++)
            if (d[i] < 0x20 || d[i] >= 0x7f) die("%s:%zu: special-token text must be printable ASCII", path, line);
        if (id >= n_vocab) die("%s:%zu: id %lu >= n_vocab %lu", path, line, id, n_vocab);
        if (ranks && id < ranks->n_ranks && ranks->offsets[id + 1] != ranks->offsets[id])
            die("%s:%zu: id %lu is also a mergeable rank", path, line, id);
        if (n == cap) {
            cap *= 2;
            special *ns = realloc(s, cap * sizeof *s);
            if (!ns) die("out of memory");
            s = ns;
        }
        s[n].text = d + p;
        s[n].len = e - p;
        s[n].id = (uint32_t)id;
        if (id > max_id) max_id = id;
        n++;
        pos = next;
    }
    if (n > 0) {
        special **sorted = malloc(n * sizeof *sorted);
        if (!sorted) die("out of memory");
        for (size_t i = 0; i < n; i++) sorted[i] = &s[i];
        qsort(sorted, n, sizeof *sorted, cmp_text);
        for (size_t i = 1; i < n; i++)
            if (cmp_text(&sorted[i - 1], &sorted[i]) == 0)
                die("%s: duplicate special-token text '%.*s'", path, (int)sorted[i]->len, (const char *)sorted[i]->text);
        free(sorted);
    }
    if (ranks) {
        unsigned long want = ranks->n_ranks;
        if (n > 0 && max_id + 1 > want) want = max_id + 1;
        if (want != n_vocab) die("%s: --n-vocab %lu but ranks and specials give %lu", path, n_vocab, want);
    }

    char base[256];
    safe_basename(path, base, sizeof base);
    outf o = out_open(out_path);
    FILE *f = o.f;
    fprintf(f,
            "/* Generated by tools/vocabc.c from %s - do not edit.\n"
            " * %zu special tokens, n_vocab %lu */\n"
            "#include \"vocab.h\"\n\n",
            base, n, n_vocab);
    if (n > 0) {
        fprintf(f, "static const tkm_special tkm_special_items_%s[%zu] = {\n", name, n);
        for (size_t i = 0; i < n; i++) {
            put_string_chunks(f, s[i].text, s[i].len, "    {");
            fprintf(f, ", %zuu, %luu},\n", s[i].len, (unsigned long)s[i].id);
        }
        fprintf(f, "};\n\n");
        fprintf(f, "const tkm_specials tkm_specials_%s = {tkm_special_items_%s, %zuu, %luu};\n", name, name, n,
                n_vocab);
    } else {
        fprintf(f, "const tkm_specials tkm_specials_%s = {NULL, 0u, %luu};\n", name, n_vocab);
    }
    out_close(&o);
    free(s);
    free(d);
}

static void usage(void) {
    fprintf(stderr,
            "usage: %s --name NAME --tiktoken FILE --expect-sha256 HEX --out OUT.c\n"
            "       %s --name NAME --specials FILE --n-vocab N [--tiktoken FILE --expect-sha256 HEX] --out OUT.c\n",
            g_prog, g_prog);
    exit(1);
}

int main(int argc, char **argv) {
    const char *name = NULL, *tiktoken = NULL, *expect = NULL, *out = NULL, *specials = NULL, *n_vocab_s = NULL;
    for (int i = 1; i < argc; i++) {
        const char **dst = NULL;
        if (!strcmp(argv[i], "--name")) dst = &name;
        else if (!strcmp(argv[i], "--tiktoken")) dst = &tiktoken;
        else if (!strcmp(argv[i], "--expect-sha256")) dst = &expect;
        else if (!strcmp(argv[i], "--out")) dst = &out;
        else if (!strcmp(argv[i], "--specials")) dst = &specials;
        else if (!strcmp(argv[i], "--n-vocab")) dst = &n_vocab_s;
        else {
            fprintf(stderr, "%s: unknown argument '%s'\n", g_prog, argv[i]);
            usage();
        }
        if (i + 1 >= argc) usage();
        *dst = argv[++i];
    }
    if (!name || !out) usage();
    if (!name[0] || strlen(name) > 64) die("--name: bad name");
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            die("--name must match [a-z0-9_]+, got '%s'", name);

    tkm_ranks v;
    memset(&v, 0, sizeof v);
    uint8_t *data = NULL;
    if (tiktoken) data = load_ranks(tiktoken, expect, &v);
    else if (expect) die("--expect-sha256 needs --tiktoken");

    if (specials) {
        if (!n_vocab_s) die("--specials needs --n-vocab N");
        char *end;
        errno = 0;
        unsigned long nv = strtoul(n_vocab_s, &end, 10);
        if (errno || *end || !*n_vocab_s || nv == 0 || nv > 0x80000000ul) die("--n-vocab: bad value '%s'", n_vocab_s);
        emit_specials(name, specials, nv, tiktoken ? &v : NULL, out);
    } else {
        if (!tiktoken) usage();
        if (n_vocab_s) die("--n-vocab only applies with --specials");
        emit_ranks(name, tiktoken, &v, out);
    }
    if (tiktoken) tkm_ranks_destroy(&v, xfree, NULL);
    free(data);
    return 0;
}
