/*
 * fuzz_count.c - differential fuzz target: the library against the test oracles and against itself.
 *
 * A libFuzzer entry point (LLVMFuzzerTestOneInput). Built two ways:
 *  - with clang -fsanitize=fuzzer,address,undefined: the fuzzer (tests/fuzz/README.md);
 *  - with the normal compiler plus tests/fuzz/replay.c: replays the saved corpus under ctest.
 *
 * Input layout (zstd-style: the first bytes choose the code paths, the rest is the text):
 *
 *   byte 0  bits 0-2  encoding: (value % 6) into encodings[] below
 *           bit  3    TKM_UTF8_STRICT
 *           bits 4-5  special mode: 0 ordinary, 1 TKM_SPECIAL_ALLOW, 2 TKM_SPECIAL_REJECT,
 *                     3 ALLOW|REJECT together (invalid: every entry point must refuse it)
 *           bit  6    count through a checking allocator (balance is asserted); byte 2 says
 *                     which allocation fails (0: none)
 *           bit  7    also make the sizing calls (tkm_encode / tkm_decode with capacity 0)
 *   byte 1  streaming chunk sizes: 0 one feed, 1 one byte at a time, 2..127 that many bytes,
 *           128..255 pseudo-random sizes in [0, 2 * (value - 127)] (zero-length feeds included)
 *   byte 2  with bit 6: the 1-based number of the first allocation that fails (it and every
 *           later one fail within that call)
 *   rest    the text (any bytes). Missing header bytes read as 0.
 *
 * What is asserted (a failure prints the case and the input in hex, then abort()s):
 *  1. pre-tokenizer, every kernel and every family: each piece end e satisfies pos < e <= len and
 *     falls on a character boundary (a well-formed code point or a maximal ill-formed
 *     subsequence); kernels other than the scalar one give the scalar pieces; for the selected
 *     encoding's family, the scalar pieces equal PCRE2's (oracle_split) when text <= 4 KiB and
 *     PCRE2 (Unicode 14) classifies every code point as our tables (Unicode 16) do.
 *     Every kernel's UTF-8 check (tkm_validate_fn) finds the first ill-formed byte where the own
 *     validator below does.
 *  2. status: tkm_count_ex, tkm_encode and the streaming counter return exactly the expected
 *     status: INVALID_UTF8 at the first ill-formed byte (strict mode; own validator below), else
 *     SPECIAL_TOKEN at the leftmost special-token text (reject mode; own search below), else OK.
 *     NO_MEMORY only when the checking allocator failed an allocation; INVALID_ARGUMENT only for
 *     the invalid flag combination. Error offsets must be exact.
 *  3. counts: count_ex == encode's count == sizing call == stream total, and == tkm_count where
 *     the flags cannot change the result; for text <= 4 KiB that agrees (see 1) the ids equal the
 *     oracle's (PCRE2 split + simple BPE, per segment between special tokens in allow mode).
 *     A too-small id buffer yields BUFFER_TOO_SMALL, the needed count and the same prefix.
 *  4. decode(encode(text)) == the text with each maximal ill-formed subsequence replaced by
 *     U+FFFD (oracle_repair_utf8); in allow mode each special token decodes to its text (for two
 *     texts that share an id, to the <|reserved_...|> one, as documented in README.md).
 *  5. streaming: with the chosen chunking, the feeds' final-token counts never decrease and never
 *     exceed the total, and tkm_stream_finish equals tkm_count_ex (status, tokens, bytes, error
 *     offset). A failed feed leaves the stream failed: finish must not then report success.
 *  6. the checking allocator sees no leak and no foreign free after any call.
 *  7. multi-threaded counting (with the default allocator, which is thread-safe): the text cut
 *     into up to 2 or 3 threads times 1-4 pieces each, with a 1-byte minimum piece (the tuned
 *     entry point, kernel/parallel.h), gives tkm_count_ex's status, count, bytes and error offset.
 *  8. the reusable counter (tkm_counter, through the checking allocator when chosen): the text,
 *     its first half, the text again (the piece cache now warm) and the text under a limit of half
 *     its count each give what tkm_count_ex / tkm_count_limit give (status, tokens, bytes, error
 *     offset), unless the checking allocator failed an allocation (then NO_MEMORY or the same).
 *
 * Known findings can be silenced at run time so that a long fuzzing run keeps searching for new
 * ones: TKM_FUZZ_IGNORE=name[,name...] (names are printed with each failure). The replay test
 * never sets it, so every saved reproducer fails there until it is fixed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../arch/arch.h"
#include "oracle.h"
#include "parallel.h"
#include "pretok.h"
#include "tokmeter.h"
#include "vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEADER 3
#define FUZZ_ORACLE_MAX 4096 /* longest text compared with PCRE2 and the simple BPE */

/* ---- what is being tested ------------------------------------------------------------------ */

typedef struct fuzz_encoding {
    const char *name;
    int family;
    const tkm_ranks *ranks;
    const tkm_specials *specials;
} fuzz_encoding;

static const fuzz_encoding encodings[6] = {
    {"o200k_base", ORACLE_O200K, &tkm_ranks_o200k_base, &tkm_specials_o200k_base},
    {"cl100k_base", ORACLE_CL100K, &tkm_ranks_cl100k_base, &tkm_specials_cl100k_base},
    {"r50k_base", ORACLE_GPT2, &tkm_ranks_r50k_base, &tkm_specials_r50k_base},
    {"p50k_base", ORACLE_GPT2, &tkm_ranks_p50k_base, &tkm_specials_p50k_base},
    {"p50k_edit", ORACLE_GPT2, &tkm_ranks_p50k_base, &tkm_specials_p50k_edit},
    {"o200k_harmony", ORACLE_O200K, &tkm_ranks_o200k_base, &tkm_specials_o200k_harmony},
};

/*
 * Pre-tokenizer kernels, indexed by family (ORACLE_GPT2..ORACLE_O200K). Entry 0 is the scalar
 * specification (one scanner call per piece); every split kernel of arch/ that this CPU can run
 * (tkm_arch_kernels: native and SIMDe-emulated ones), and a SIMDe-emulated copy of each SIMD
 * kernel (tests/kernel_emu_*.c, so AVX-512 is checked on CPUs without it), is compared with it
 * piece for piece, splitting with a capacity taken from the input (resuming mid-text). The
 * API-level checks (check_api) run twice: on handles of the default kernel and on handles opened
 * with the scalar kernel.
 */
typedef struct fuzz_kernel {
    const char *name;
    int (*usable)(void); /* NULL: always */
    tkm_pretok_fn next[4];
} fuzz_kernel;

static const fuzz_kernel kernels[] = {
    {"scalar", NULL, {NULL, tkm_pretok_next_gpt2, tkm_pretok_next_cl100k, tkm_pretok_next_o200k}},
};
#define N_KERNELS (sizeof kernels / sizeof kernels[0])

extern const tkm_kernel tkm_kernel_avx2_emu, tkm_kernel_avx512_emu, tkm_kernel_neon_emu;
static const tkm_kernel *split_kernels[16];
static size_t n_split_kernels;

/* ---- the current case and failure reports ---------------------------------------------------- */

static struct {
    const uint8_t *data;
    size_t size;
    const fuzz_encoding *enc;
    uint32_t flags;
    unsigned chunk, fail_at, use_alloc, sizing;
    const char *stage;
} cur;

static const char *ignore_list; /* TKM_FUZZ_IGNORE, read once */

static const char *special_mode_name(uint32_t f) {
    if ((f & TKM_SPECIAL_ALLOW) && (f & TKM_SPECIAL_REJECT)) return "allow|reject(invalid)";
    if (f & TKM_SPECIAL_ALLOW) return "allow";
    if (f & TKM_SPECIAL_REJECT) return "reject";
    return "ordinary";
}

static int ignored(const char *name) {
    if (!ignore_list || !*ignore_list) return 0;
    size_t len = strlen(name);
    for (const char *p = ignore_list; *p;) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == len && memcmp(p, name, k) == 0) return 1;
        p += k + (e ? 1 : 0);
    }
    return 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3), noreturn))
#endif
static void fail(const char *check, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "\nfuzz_count: FAILED check '%s' in %s: ", check, cur.stage ? cur.stage : "?");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr,
            "\n  encoding=%s strict=%d special=%s chunk=%u allocator=%s fail_at=%u sizing=%u"
            " text_len=%zu\n  input (%zu bytes, the first %d are the header):\n  ",
            cur.enc ? cur.enc->name : "?", (cur.flags & TKM_UTF8_STRICT) ? 1 : 0, special_mode_name(cur.flags),
            cur.chunk, cur.use_alloc ? "checking" : "default", cur.fail_at, cur.sizing,
            cur.size > FUZZ_HEADER ? cur.size - FUZZ_HEADER : 0, cur.size, FUZZ_HEADER);
    size_t show = cur.size < 4096 ? cur.size : 4096;
    for (size_t i = 0; i < show; i++) fprintf(stderr, "%02x%s", cur.data[i], (i + 1) % 32 ? "" : "\n  ");
    fprintf(stderr, "%s\n", show < cur.size ? " ..." : "");
    fprintf(stderr, "  (to keep fuzzing past this known failure: TKM_FUZZ_IGNORE=%s)\n", check);
    abort();
}

/* A failed check `name` unless it is silenced by TKM_FUZZ_IGNORE. */
#define CHECK(name, cond, ...)                                                                                     \
    do {                                                                                                           \
        if (!(cond) && !ignored(name)) fail(name, __VA_ARGS__);                                                    \
    } while (0)

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "fuzz_count: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

/* ---- independent helpers: UTF-8 structure and special-token search ------------------------------ */

/*
 * Bytes of the character at s[i] (i < n) under WHATWG replacement: a well-formed sequence
 * (*ok = 1) or a maximal ill-formed subsequence (*ok = 0), following Unicode 16.0 Table 3-7.
 * Written out here on purpose, not taken from kernel/pretok.h.
 */
static size_t u8_char(const uint8_t *s, size_t i, size_t n, int *ok) {
    uint8_t b = s[i];
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    *ok = 1;
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) need = 2;
    else if (b == 0xE0) need = 3, lo = 0xA0;
    else if (b == 0xED) need = 3, hi = 0x9F;
    else if (b >= 0xE1 && b <= 0xEF) need = 3;
    else if (b == 0xF0) need = 4, lo = 0x90;
    else if (b == 0xF4) need = 4, hi = 0x8F;
    else if (b >= 0xF1 && b <= 0xF3) need = 4;
    else {
        *ok = 0; /* 80..C1, F5..FF: never a lead byte */
        return 1;
    }
    size_t k = 1;
    while (k < need && i + k < n) {
        uint8_t c = s[i + k];
        if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
        k++;
    }
    if (k < need) *ok = 0;
    return k;
}

static size_t first_invalid(const uint8_t *s, size_t n) {
    size_t i = 0;
    int ok;
    while (i < n) {
        size_t k = u8_char(s, i, n, &ok);
        if (!ok) return i;
        i += k;
    }
    return n;
}

/* s[0..n) with each maximal ill-formed subsequence replaced by EF BF BD (malloc'd); checked
 * against oracle_repair_utf8, which shares the kernel's decoder. */
static uint8_t *repair_utf8(const uint8_t *s, size_t n, size_t *out_n) {
    uint8_t *r = xmalloc(3 * n);
    size_t o = 0;
    int ok;
    for (size_t i = 0, k; i < n; i += k) {
        k = u8_char(s, i, n, &ok);
        if (ok) {
            memcpy(r + o, s + i, k);
            o += k;
        } else {
            memcpy(r + o, "\xEF\xBF\xBD", 3);
            o += 3;
        }
    }
    size_t on;
    uint8_t *t = oracle_repair_utf8(s, n, &on);
    CHECK("utf8-repair-vs-oracle", on == o && memcmp(t, r, o) == 0,
          "own UTF-8 repair (%zu bytes) and oracle_repair_utf8 (%zu bytes) differ", o, on);
    free(t);
    *out_n = o;
    return r;
}

/* 1 at every offset where a character starts, and at n. */
static uint8_t *char_starts(const uint8_t *s, size_t n) {
    uint8_t *m = xmalloc(n + 1);
    memset(m, 0, n + 1);
    int ok;
    for (size_t i = 0; i < n; i += u8_char(s, i, n, &ok)) m[i] = 1;
    m[n] = 1;
    return m;
}

/* Leftmost special-token text at or after `from`, the longest one there. NULL if none. */
static const tkm_special *find_special(const tkm_specials *sp, const uint8_t *s, size_t from, size_t n,
                                       size_t *at) {
    for (size_t i = from; i < n; i++) {
        const tkm_special *best = NULL;
        for (uint32_t j = 0; j < sp->count; j++) {
            const tkm_special *t = &sp->items[j];
            if ((uint8_t)t->text[0] != s[i] || t->len > n - i) continue;
            if (memcmp(t->text, s + i, t->len) == 0 && (!best || t->len > best->len)) best = t;
        }
        if (best) {
            *at = i;
            return best;
        }
    }
    return NULL;
}

/* The text that decoding `id` yields: for texts sharing an id, the <|reserved_...|> one. */
static const tkm_special *decoded_special(const tkm_specials *sp, const tkm_special *t) {
    for (uint32_t j = 0; j < sp->count; j++) {
        const tkm_special *u = &sp->items[j];
        if (u->id == t->id && u != t && strncmp(u->text, "<|reserved_", 11) == 0) return u;
    }
    return t;
}

/* ---- the checking allocator -------------------------------------------------------------------- */

typedef struct fuzz_alloc {
    size_t calls, live, failed;
    size_t fail_at; /* 0: never */
} fuzz_alloc;

static fuzz_alloc g_alloc;

static void *fa_alloc(void *opaque, size_t size) {
    fuzz_alloc *a = opaque;
    a->calls++;
    if (a->fail_at && a->calls >= a->fail_at) {
        a->failed++;
        return NULL;
    }
    void *p = malloc(size ? size : 1);
    if (p) a->live++;
    return p;
}

static void fa_free(void *opaque, void *p) {
    fuzz_alloc *a = opaque;
    if (!p) return;
    CHECK("alloc-balance", a->live > 0, "free() of a block the allocator did not hand out");
    a->live--;
    free(p);
}

static const tkm_allocator g_allocator = {fa_alloc, fa_free, &g_alloc};

static void alloc_reset(void) {
    g_alloc.calls = g_alloc.live = g_alloc.failed = 0;
    g_alloc.fail_at = cur.fail_at;
}

static void alloc_check_balanced(const char *what) {
    CHECK("alloc-balance", g_alloc.live == 0, "%s left %zu allocation(s) unreleased", what, g_alloc.live);
}

/* A status is acceptable if it is the expected one, or NO_MEMORY after an injected failure. */
static int is_oom(tkm_status st) { return st == TKM_ERR_NO_MEMORY && cur.use_alloc && g_alloc.failed; }

static void check_status(const char *check, const char *what, tkm_status got, tkm_status want) {
    if (got == want || is_oom(got)) return;
    CHECK(check, 0, "%s returned %d (%s), expected %d (%s)", what, (int)got, tkm_status_string(got), (int)want,
          tkm_status_string(want));
}

/* ---- 1. pre-tokenizers ------------------------------------------------------------------------ */

static size_t *kernel_split(const fuzz_kernel *k, int family, const uint8_t *s, size_t n, const uint8_t *starts,
                            size_t *count) {
    size_t cap = 64, m = 0, pos = 0;
    size_t *ends = xmalloc(cap * sizeof *ends);
    while (pos < n) {
        size_t e = k->next[family](s, pos, n);
        if (e <= pos || e > n) {
            CHECK("pretok-range", 0, "%s/%s: piece at %zu ends at %zu (text length %zu)", k->name,
                  oracle_family_name(family), pos, e, n);
            break; /* silenced: cannot go on */
        }
        CHECK("pretok-char-boundary", starts[e], "%s/%s: piece [%zu, %zu) ends inside a character", k->name,
              oracle_family_name(family), pos, e);
        if (m == cap) {
            cap *= 2;
            size_t *t = realloc(ends, cap * sizeof *ends);
            if (!t) abort();
            ends = t;
        }
        ends[m++] = e;
        pos = e;
    }
    *count = m;
    return ends;
}

/* The same through a split kernel, cap pieces per call (cap varies from call to call). */
static size_t *kernel_split_batch(const tkm_kernel *k, int family, const uint8_t *s, size_t n, size_t *count) {
    size_t cap = 64, m = 0, pos = 0, call = 0;
    size_t *ends = xmalloc(cap * sizeof *ends);
    size_t buf[64];
    while (pos < n) {
        size_t want = 1 + (size_t)((cur.size + call * 7) % 64);
        call++;
        size_t got = k->split[family](s, pos, n, buf, want);
        if (got < 1 || got > want) {
            CHECK("pretok-split-count", 0, "%s/%s: split at %zu returned %zu pieces for a capacity of %zu", k->name,
                  oracle_family_name(family), pos, got, want);
            break;
        }
        for (size_t i = 0; i < got; i++) {
            if (buf[i] <= pos || buf[i] > n) {
                CHECK("pretok-range", 0, "%s/%s: piece at %zu ends at %zu (text length %zu)", k->name,
                      oracle_family_name(family), pos, buf[i], n);
                *count = m;
                return ends;
            }
            if (m == cap) {
                cap *= 2;
                size_t *t = realloc(ends, cap * sizeof *ends);
                if (!t) abort();
                ends = t;
            }
            ends[m++] = buf[i];
            pos = buf[i];
        }
    }
    CHECK("pretok-split-count", k->split[family](s, n, n, buf, 8) == 0, "%s/%s: split at the end returned pieces",
          k->name, oracle_family_name(family));
    *count = m;
    return ends;
}

/* First index where a and b differ (a common prefix length), or the shorter length. */
static size_t first_diff(const size_t *a, size_t na, const size_t *b, size_t nb) {
    size_t i = 0;
    while (i < na && i < nb && a[i] == b[i]) i++;
    return i;
}

static void check_split_equal(const char *check, const char *who, const size_t *want, size_t nw, const char *other,
                              const size_t *got, size_t ng, int family) {
    size_t i = first_diff(want, nw, got, ng);
    if (i == nw && i == ng) return;
    size_t start = i ? want[i - 1] : 0;
    CHECK(check, 0, "family %s, piece %zu starting at byte %zu: %s ends it at %zu, %s at %zu (%zu vs %zu pieces)",
          oracle_family_name(family), i, start, who, i < nw ? want[i] : (size_t)0, other, i < ng ? got[i] : (size_t)0,
          nw, ng);
}

static void check_pretok(const uint8_t *s, size_t n, int agrees) {
    cur.stage = "pre-tokenizer";
    uint8_t *starts = char_starts(s, n);
    for (int family = ORACLE_GPT2; family <= ORACLE_O200K; family++) {
        size_t n_ref = 0, *ref = NULL;
        for (size_t k = 0; k < N_KERNELS; k++) {
            if (kernels[k].usable && !kernels[k].usable()) continue;
            size_t m;
            size_t *ends = kernel_split(&kernels[k], family, s, n, starts, &m);
            if (k == 0) {
                ref = ends;
                n_ref = m;
                continue;
            }
            check_split_equal("pretok-kernel-vs-scalar", "scalar", ref, n_ref, kernels[k].name, ends, m, family);
            free(ends);
        }
        for (size_t k = 0; k < n_split_kernels; k++) {
            size_t m;
            size_t *ends = kernel_split_batch(split_kernels[k], family, s, n, &m);
            check_split_equal("pretok-kernel-vs-scalar", "scalar", ref, n_ref, split_kernels[k]->name, ends, m, family);
            free(ends);
        }
        if (family == cur.enc->family && agrees) {
            size_t m;
            size_t *oe = oracle_split_alloc(family, s, n, &m);
            check_split_equal("pretok-vs-pcre2", "PCRE2", oe, m, "the scalar kernel", ref, n_ref, family);
            free(oe);
        }
        free(ref);
    }
    free(starts);
}

/* ---- 2-6. counting, encoding, decoding, streaming ------------------------------------------------ */

/* The oracle's ids for the whole text under the selected special mode (allow: specials split
 * the text into segments that are encoded separately). Returns the count; ids gets up to cap. */
static size_t oracle_ids(const uint8_t *s, size_t n, int allow, uint32_t *ids, size_t cap) {
    const fuzz_encoding *e = cur.enc;
    size_t k = 0, pos = 0, at;
    const tkm_special *sp;
    while (allow && pos < n && (sp = find_special(e->specials, s, pos, n, &at)) != NULL) {
        k += oracle_encode(e->family, e->ranks, s + pos, at - pos, ids ? ids + k : NULL, cap > k ? cap - k : 0);
        if (k < cap) ids[k] = sp->id;
        k++;
        pos = at + sp->len;
    }
    k += oracle_encode(e->family, e->ranks, s + pos, n - pos, ids ? ids + k : NULL, cap > k ? cap - k : 0);
    return k;
}

/* What decode(encode(s)) must give: repaired text; in allow mode special texts as decoded. */
static uint8_t *expected_decode(const uint8_t *s, size_t n, int allow, size_t *out_n) {
    const tkm_specials *sps = cur.enc->specials;
    size_t cap = 3 * n + 64, o = 0, pos = 0, at;
    uint8_t *r = xmalloc(cap);
    const tkm_special *sp;
    for (;;) {
        sp = allow && pos < n ? find_special(sps, s, pos, n, &at) : NULL;
        size_t end = sp ? at : n, rn;
        uint8_t *seg = repair_utf8(s + pos, end - pos, &rn);
        const tkm_special *d = sp ? decoded_special(sps, sp) : NULL;
        size_t need = o + rn + (d ? d->len : 0);
        if (need > cap) {
            cap = 2 * need;
            uint8_t *t = realloc(r, cap);
            if (!t) abort();
            r = t;
        }
        memcpy(r + o, seg, rn);
        o += rn;
        free(seg);
        if (!sp) break;
        memcpy(r + o, d->text, d->len);
        o += d->len;
        pos = at + sp->len;
    }
    *out_n = o;
    return r;
}

static uint64_t rng_state;
static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t next_chunk(size_t left) {
    size_t c;
    if (cur.chunk == 0) c = left;
    else if (cur.chunk < 128) c = cur.chunk;
    else c = (size_t)(rng_next() % (2 * (cur.chunk - 127) + 1));
    return c < left ? c : left;
}

/*
 * Strict + reject mode with both an ill-formed byte and a special-token text: the one that comes
 * first in the text must be reported (tokmeter.h), by the stream as by tkm_count_ex. A check of
 * its own, so that a long run could silence exactly this class of finding (README.md, Results).
 */
static const char *stream_check(tkm_status got, tkm_status want) {
    const int a = got == TKM_ERR_SPECIAL_TOKEN || got == TKM_ERR_INVALID_UTF8;
    const int b = want == TKM_ERR_SPECIAL_TOKEN || want == TKM_ERR_INVALID_UTF8;
    return a && b && got != want ? "stream-error-precedence" : "stream-status";
}

/* Streams s[0..n) with the chosen chunking; compares with count_ex's outcome (st, r). */
static void check_stream(const uint8_t *s, size_t n, const tkm_encoding *enc, const tkm_options *opt,
                         tkm_status want, tkm_status st_ex, int ex_oom, const tkm_result *r_ex, int invalid_flags) {
    cur.stage = "stream";
    alloc_reset();
    rng_state = ((uint64_t)cur.chunk << 32) ^ n;
    tkm_stream *sm = (tkm_stream *)&rng_state; /* must be overwritten */
    tkm_status st = tkm_stream_open(enc, opt, &sm);
    if (invalid_flags) {
        check_status("status", "tkm_stream_open", st, TKM_ERR_INVALID_ARGUMENT);
        CHECK("status", sm == NULL, "tkm_stream_open failed but did not clear *out");
        return;
    }
    check_status("status", "tkm_stream_open", st, TKM_OK);
    if (st != TKM_OK) return;
    size_t pos = 0, final_prev = 0, fin;
    tkm_status feed_st = TKM_OK;
    while (pos < n) {
        size_t c = next_chunk(n - pos);
        const void *p = c == 0 && (rng_next() & 1) ? NULL : s + pos;
        fin = (size_t)-1;
        feed_st = tkm_stream_feed(sm, p, c, &fin);
        if (feed_st != TKM_OK) break;
        CHECK("stream-final-monotonic", fin >= final_prev && fin != (size_t)-1,
              "feed up to byte %zu reported %zu final tokens, %zu before", pos + c, fin, final_prev);
        final_prev = fin;
        pos += c;
    }
    if (feed_st != TKM_OK) check_status(stream_check(feed_st, want), "tkm_stream_feed", feed_st, want);
    tkm_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    st = tkm_stream_finish(sm, &r);
    tkm_stream_free(sm);
    alloc_check_balanced("the stream");
    if (feed_st != TKM_OK && st == TKM_OK) {
        CHECK("stream-error-sticky", 0,
              "tkm_stream_feed failed with %s at byte %zu but tkm_stream_finish then reported success"
              " (%zu tokens: a silently wrong total)",
              tkm_status_string(feed_st), pos, r.tokens);
        return; /* silenced: the rest would only repeat it */
    }
    if (st == TKM_OK || feed_st == TKM_OK) check_status(stream_check(st, want), "tkm_stream_finish", st, want);
    if (is_oom(st) || is_oom(feed_st) || ex_oom) return;
    CHECK(stream_check(st, st_ex), st == st_ex, "stream status %s, tkm_count_ex %s", tkm_status_string(st),
          tkm_status_string(st_ex));
    if (st == TKM_OK) {
        CHECK("stream-vs-count", r.tokens == r_ex->tokens, "stream counted %zu tokens, tkm_count_ex %zu", r.tokens,
              r_ex->tokens);
        CHECK("stream-vs-count", r.bytes == n, "stream reports %zu bytes of %zu", r.bytes, n);
        CHECK("stream-final-monotonic", final_prev <= r.tokens, "%zu tokens reported final, total %zu", final_prev,
              r.tokens);
    } else if (st == st_ex) {
        CHECK("stream-vs-count", r.error_offset == r_ex->error_offset, "stream error offset %zu, tkm_count_ex %zu",
              r.error_offset, r_ex->error_offset);
    }
}

/* One call of the counter against the one-shot answer (want_st, *want), under check 8's rules. */
static void counter_vs(const char *what, tkm_status got_st, const tkm_result *got, tkm_status want_st,
                       int want_oom, const tkm_result *want) {
    if (is_oom(got_st) || want_oom) return; /* an allocation failed on purpose: nothing to compare */
    CHECK("counter", got_st == want_st, "%s: status %s, the one-shot %s", what, tkm_status_string(got_st),
          tkm_status_string(want_st));
    if (got_st != want_st) return;
    const int same =
        got->tokens == want->tokens && got->bytes == want->bytes && got->error_offset == want->error_offset;
    CHECK("counter", same, "%s: %zu tokens / %zu bytes / offset %zu, the one-shot %zu / %zu / %zu", what, got->tokens,
          got->bytes, got->error_offset, want->tokens, want->bytes, want->error_offset);
}

static void check_counter(const uint8_t *s, size_t n, const tkm_encoding *enc, const tkm_options *opt,
                          tkm_status st_ex, int ex_oom, const tkm_result *ex) {
    cur.stage = "tkm_counter";
    alloc_reset();
    tkm_counter *c = NULL;
    tkm_status st = tkm_counter_open(enc, opt, &c);
    if (st != TKM_OK) {
        CHECK("counter", is_oom(st) || (st == TKM_ERR_INVALID_ARGUMENT && st_ex == st), "tkm_counter_open: %s",
              tkm_status_string(st));
        CHECK("counter", c == NULL, "a failed tkm_counter_open left a counter");
        alloc_check_balanced("tkm_counter_open");
        return;
    }
    tkm_result got, want;
    memset(&got, 0, sizeof got);
    got.struct_size = sizeof got;
    want = got;
    counter_vs("the text", tkm_counter_count(c, s, n, &got), &got, st_ex, ex_oom, ex);
    const size_t half = n / 2;
    tkm_status st_h = tkm_count_ex(enc, s, half, opt, &want);
    counter_vs("its first half", tkm_counter_count(c, s, half, &got), &got, st_h, is_oom(st_h), &want);
    counter_vs("the text again", tkm_counter_count(c, s, n, &got), &got, st_ex, ex_oom, ex);
    if (st_ex == TKM_OK) {
        const size_t limit = ex->tokens / 2;
        tkm_status st_l = tkm_count_limit(enc, s, n, limit, opt, &want);
        counter_vs("under a limit", tkm_counter_count_limit(c, s, n, limit, &got), &got, st_l, is_oom(st_l), &want);
    }
    tkm_counter_free(c);
    alloc_check_balanced("tkm_counter");
}

static void check_api(const uint8_t *s, size_t n, const tkm_encoding *enc, int agrees) {
    const uint32_t f = cur.flags;
    const int allow = (f & TKM_SPECIAL_ALLOW) != 0, reject = (f & TKM_SPECIAL_REJECT) != 0;
    const int invalid_flags = allow && reject;
    tkm_options opt;
    memset(&opt, 0, sizeof opt);
    opt.struct_size = sizeof opt;
    opt.flags = f;
    opt.allocator = cur.use_alloc ? &g_allocator : NULL;

    /* The expected outcome, from the helpers above. */
    tkm_status want = TKM_OK;
    size_t want_off = 0, bad = first_invalid(s, n), at;
    for (size_t k = 0; k < n_split_kernels; k++) {
        const size_t got = split_kernels[k]->validate(s, n);
        CHECK("utf8-check-kernel-vs-own", got == bad, "%s: first ill-formed sequence at %zu, own validator %zu",
              split_kernels[k]->name, got, bad);
    }
    if (invalid_flags) {
        want = TKM_ERR_INVALID_ARGUMENT;
    } else {
        /* Several problems: the one that comes first in the text is reported (tokmeter.h). */
        const int has_bad = (f & TKM_UTF8_STRICT) && bad < n;
        const int has_sp = reject && find_special(cur.enc->specials, s, 0, n, &at);
        if (has_sp && (!has_bad || at < bad)) {
            want = TKM_ERR_SPECIAL_TOKEN;
            want_off = at;
        } else if (has_bad) {
            want = TKM_ERR_INVALID_UTF8;
            want_off = bad;
        }
    }

    /* tkm_count_ex */
    cur.stage = "tkm_count_ex";
    alloc_reset();
    tkm_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    tkm_status st_ex = tkm_count_ex(enc, s, n, &opt, &r);
    const int ex_oom = is_oom(st_ex);
    alloc_check_balanced("tkm_count_ex");
    check_status("status", "tkm_count_ex", st_ex, want);
    if (st_ex == TKM_OK) CHECK("count-bytes", r.bytes == n, "result.bytes %zu for %zu input bytes", r.bytes, n);
    if (st_ex == want && want != TKM_OK && want != TKM_ERR_INVALID_ARGUMENT)
        CHECK("error-offset", r.error_offset == want_off, "error offset %zu, expected %zu", r.error_offset, want_off);

    /* The parallel counter against the one-shot call (not through the checking allocator, which
     * counts allocations in one global and would race). Threads and pieces per thread come from
     * the input's length and chunk byte, so the corpus exercises several of each. */
    if (!cur.use_alloc) {
        cur.stage = "tkm_count_parallel";
        const unsigned threads = 2u + (unsigned)(n % 2u), per = 1u + cur.chunk % 4u;
        tkm_result pr;
        memset(&pr, 0, sizeof pr);
        pr.struct_size = sizeof pr;
        size_t pieces = 0;
        tkm_status st_p = tkm_count_parallel_tuned(enc, s, n, threads, &opt, &pr, 1, 4096, per, &pieces);
        CHECK("parallel", st_p == st_ex, "%u threads x %u: status %s, tkm_count_ex %s", threads, per,
              tkm_status_string(st_p), tkm_status_string(st_ex));
        CHECK("parallel", pieces <= (size_t)threads * per, "%zu pieces for %u threads x %u", pieces, threads, per);
        if (st_p == st_ex && st_ex == TKM_OK)
            CHECK("parallel", pr.tokens == r.tokens && pr.bytes == r.bytes,
                  "%u threads x %u (%zu pieces): %zu tokens / %zu bytes, tkm_count_ex %zu / %zu", threads, per,
                  pieces, pr.tokens, pr.bytes, r.tokens, r.bytes);
        if (st_p == st_ex && st_ex != TKM_OK && st_ex != TKM_ERR_INVALID_ARGUMENT)
            CHECK("parallel", pr.error_offset == r.error_offset,
                  "%u threads x %u (%zu pieces): error offset %zu, tkm_count_ex %zu", threads, per, pieces,
                  pr.error_offset, r.error_offset);
    }

    check_counter(s, n, enc, &opt, st_ex, ex_oom, &r);

    /* tkm_encode into a buffer that is always big enough (<= 3 tokens per input byte). */
    cur.stage = "tkm_encode";
    size_t cap = 3 * n + 4, n_ids = (size_t)-1;
    uint32_t *ids = xmalloc(cap * sizeof *ids);
    alloc_reset();
    tkm_status st_en = tkm_encode(enc, s, n, &opt, ids, cap, &n_ids);
    alloc_check_balanced("tkm_encode");
    check_status("status", "tkm_encode", st_en, want);
    if (st_en == want && want != TKM_OK && want != TKM_ERR_INVALID_ARGUMENT)
        CHECK("error-offset", n_ids == want_off, "tkm_encode reported error offset %zu, expected %zu", n_ids, want_off);
    if (st_en == TKM_OK && st_ex == TKM_OK)
        CHECK("count-vs-encode", n_ids == r.tokens, "tkm_encode gave %zu ids, tkm_count_ex counted %zu", n_ids,
              r.tokens);

    /* The oracle: PCRE2 split + simple BPE (+ own special-token segmentation). */
    if (want == TKM_OK && agrees && (st_ex == TKM_OK || st_en == TKM_OK)) {
        cur.stage = "oracle";
        uint32_t *oids = xmalloc(cap * sizeof *oids);
        size_t on = oracle_ids(s, n, allow, oids, cap);
        if (st_ex == TKM_OK)
            CHECK("count-vs-oracle", r.tokens == on, "tkm_count_ex counted %zu tokens, the oracle %zu", r.tokens, on);
        if (st_en == TKM_OK) {
            size_t i = 0;
            while (i < on && i < n_ids && ids[i] == oids[i]) i++;
            CHECK("encode-vs-oracle", i == on && i == n_ids,
                  "ids differ at index %zu: tkm_encode %u, oracle %u (%zu vs %zu ids)", i,
                  i < n_ids ? ids[i] : 0u, i < on ? oids[i] : 0u, n_ids, on);
        }
        free(oids);
    }

    if (st_en == TKM_OK) {
        /* A too-small buffer: the needed count and the same prefix. */
        if (n_ids >= 2) {
            cur.stage = "tkm_encode (short buffer)";
            size_t half = n_ids / 2, got = (size_t)-1;
            uint32_t *h = xmalloc(half * sizeof *h);
            alloc_reset();
            tkm_status st = tkm_encode(enc, s, n, &opt, h, half, &got);
            alloc_check_balanced("tkm_encode (short buffer)");
            check_status("status", "tkm_encode (short buffer)", st, TKM_ERR_BUFFER_TOO_SMALL);
            if (st == TKM_ERR_BUFFER_TOO_SMALL) {
                CHECK("encode-short-buffer", got == n_ids, "needed %zu ids reported, %zu are", got, n_ids);
                CHECK("encode-short-buffer", memcmp(h, ids, half * sizeof *h) == 0,
                      "the first %zu ids differ from a full encode", half);
            }
            free(h);
        }
        if (cur.sizing) {
            cur.stage = "tkm_encode (sizing)";
            size_t got = (size_t)-1;
            alloc_reset();
            tkm_status st = tkm_encode(enc, s, n, &opt, NULL, 0, &got);
            alloc_check_balanced("tkm_encode (sizing)");
            check_status("status", "tkm_encode (sizing)", st, n_ids ? TKM_ERR_BUFFER_TOO_SMALL : TKM_OK);
            if (!is_oom(st)) CHECK("encode-sizing", got == n_ids, "sizing call reported %zu ids, %zu are", got, n_ids);
        }

        /* decode(encode(s)) */
        cur.stage = "tkm_decode";
        size_t en;
        uint8_t *expect = expected_decode(s, n, allow, &en);
        size_t need = (size_t)-1;
        if (cur.sizing) {
            tkm_status st = tkm_decode(enc, ids, n_ids, NULL, 0, &need);
            check_status("status", "tkm_decode (sizing)", st, en ? TKM_ERR_BUFFER_TOO_SMALL : TKM_OK);
            CHECK("decode-roundtrip", need == en, "sizing decode needs %zu bytes, expected %zu", need, en);
        }
        uint8_t *out = xmalloc(en + 1);
        tkm_status st = tkm_decode(enc, ids, n_ids, out, en + 1, &need);
        check_status("status", "tkm_decode", st, TKM_OK);
        if (st == TKM_OK) {
            size_t i = 0;
            while (i < need && i < en && out[i] == expect[i]) i++;
            CHECK("decode-roundtrip", need == en && i == en,
                  "decode(encode(text)) differs from the repaired text at byte %zu (%zu vs %zu bytes)", i, need, en);
        }
        free(out);
        free(expect);
    }
    free(ids);

    /* tkm_count with default options: equal wherever the flags cannot change the result. */
    cur.stage = "tkm_count";
    size_t cnt = (size_t)-1;
    tkm_status st_c = tkm_count(enc, s, n, &cnt);
    CHECK("status", st_c == TKM_OK, "tkm_count returned %s", tkm_status_string(st_c));
    if (st_ex == TKM_OK && !allow)
        CHECK("count-vs-count_ex", cnt == r.tokens, "tkm_count %zu, tkm_count_ex %zu with flags 0x%x", cnt,
              r.tokens, (unsigned)f);
    if (n <= FUZZ_ORACLE_MAX && agrees && (allow || st_ex != TKM_OK)) {
        cur.stage = "tkm_count (oracle)";
        size_t on = oracle_ids(s, n, 0, NULL, 0);
        CHECK("count-vs-oracle", cnt == on, "tkm_count %zu, the oracle %zu", cnt, on);
    }

    check_stream(s, n, enc, &opt, want, st_ex, ex_oom, &r, invalid_flags);
}

/* ---- entry point -------------------------------------------------------------------------------- */

static tkm_encoding *handles[6], *scalar_handles[6];

static void init_once(void) {
    static int done;
    if (done) return;
    done = 1;
    ignore_list = getenv("TKM_FUZZ_IGNORE");
    for (size_t i = 0; i < 6; i++) {
        tkm_status st = tkm_encoding_open(encodings[i].name, &handles[i]);
        if (st != TKM_OK) {
            fprintf(stderr, "fuzz_count: tkm_encoding_open(%s): %s\n", encodings[i].name, tkm_status_string(st));
            abort();
        }
        st = tkm_encoding_open_kernel(encodings[i].name, "scalar", &scalar_handles[i]);
        if (st != TKM_OK) {
            fprintf(stderr, "fuzz_count: tkm_encoding_open_kernel(%s, scalar): %s\n", encodings[i].name,
                    tkm_status_string(st));
            abort();
        }
    }
    const tkm_kernel *const *ks = tkm_arch_kernels();
    for (size_t i = 0; ks[i]; i++)
        if (ks[i] != &tkm_kernel_scalar && ks[i]->cpu_ok()) split_kernels[n_split_kernels++] = ks[i];
    split_kernels[n_split_kernels++] = &tkm_kernel_avx2_emu;
    split_kernels[n_split_kernels++] = &tkm_kernel_avx512_emu;
    split_kernels[n_split_kernels++] = &tkm_kernel_neon_emu;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_once();
    uint8_t h[FUZZ_HEADER] = {0};
    for (size_t i = 0; i < FUZZ_HEADER && i < size; i++) h[i] = data[i];
    const uint8_t *s = size > FUZZ_HEADER ? data + FUZZ_HEADER : data + size;
    size_t n = size > FUZZ_HEADER ? size - FUZZ_HEADER : 0;

    memset(&cur, 0, sizeof cur);
    cur.data = data;
    cur.size = size;
    size_t ei = (size_t)(h[0] & 7) % 6;
    cur.enc = &encodings[ei];
    cur.flags = (h[0] & 8) ? TKM_UTF8_STRICT : 0;
    static const uint32_t modes[4] = {0, TKM_SPECIAL_ALLOW, TKM_SPECIAL_REJECT, TKM_SPECIAL_ALLOW | TKM_SPECIAL_REJECT};
    cur.flags |= modes[(h[0] >> 4) & 3];
    cur.use_alloc = (h[0] >> 6) & 1;
    cur.fail_at = cur.use_alloc ? h[2] : 0;
    cur.sizing = h[0] >> 7;
    cur.chunk = h[1];

    int agrees = n <= FUZZ_ORACLE_MAX && oracle_text_agrees(s, n, NULL);
    check_pretok(s, n, agrees);
    check_api(s, n, handles[ei], agrees);
    check_api(s, n, scalar_handles[ei], agrees);
    return 0;
}
