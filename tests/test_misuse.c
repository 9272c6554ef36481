/*
 * test_misuse.c - hostile and careless callers: the API answers with a status, never a crash.
 *
 *   args      NULL for every pointer parameter of every public function, zero and huge lengths
 *   handle    foreign objects (zeroed or garbage memory) passed as a handle
 *   options   too-small struct_size for options/result/info, invalid flag bits, larger structs
 *   alloc     a failing allocator at every allocation of a call: NO_MEMORY, no leak, no crash
 *   decode    out-of-range ids and the holes between ranks and special ids
 *   stream    misuse of tkm_stream: errors are sticky, finish twice, NULL chunks
 *   strict    TKM_UTF8_STRICT reports the exact offset of the first ill-formed sequence
 *   vocab     tkm_encoding_load_tiktoken argument checks
 *   huge      inputs over 4 GiB (slow: ~40 s CPU; sanitizer runs exclude them with a filter)
 *
 * Inputs over 4 GiB are built without touching GBs of memory: a small memfd (or unlinked temp
 * file) is mapped over and over with MAP_FIXED into a reserved PROT_NONE region, so every copy
 * shares the same physical pages. (Anonymous MAP_NORESERVE pages are not used: on some kernels
 * a read fault on them allocates a real page instead of mapping the zero page, so scanning
 * 4.5 GiB of them costs 4.5 GiB of RAM.) Note that VmRSS still counts each mapping of the shared
 * pages, so it reads ~4.5 GB while the physical cost is the pattern plus ~9 MB of page tables.
 * The tests skip, with a message, if the machine refuses the mappings.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "tokmeter.h"

static const char *const ALL_ENCS[] = {"o200k_base", "cl100k_base", "o200k_harmony",
                                       "p50k_base",  "p50k_edit",   "r50k_base"};
#define N_ENCS (sizeof ALL_ENCS / sizeof ALL_ENCS[0])
/* one encoding per pattern family */
static const char *const FAMILY_ENCS[] = {"o200k_base", "cl100k_base", "r50k_base"};

static tkm_encoding *open_enc(const char *name) {
    tkm_encoding *e = NULL;
    cr_assert_eq(tkm_encoding_open(name, &e), TKM_OK, "open %s", name);
    cr_assert_not_null(e);
    return e;
}

static tkm_options make_opt(uint32_t flags) {
    tkm_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.flags = flags;
    return o;
}

static tkm_result make_res(void) {
    tkm_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    return r;
}

/* A piece no vocabulary holds whole, longer than the BPE's small-piece limit and without a BPE
 * cut (every two adjacent bytes occur together in some token: vocab.h, inner2), so it is merged
 * whole and needs scratch memory. (A run of rare consonant pairs such as "qzxj..." is cut into
 * short segments by every vocabulary, and then needs none.) */
static const char LONG_PIECE[] = "supercalifragilisticexpialidocioussupercalifragilisticexpialidocious"
                                 "supercalifragilisticexpialidocioussupercalifragilisticexpialidocious"
                                 "supercalifragilisticexpialidocious";

/* ---- an allocator that counts, refuses on demand and records the largest request -------------- */
typedef struct probe {
    size_t calls;   /* alloc calls */
    size_t frees;   /* free calls with a non-NULL pointer */
    size_t live;    /* allocated and not yet freed */
    size_t fail_at; /* refuse the fail_at-th call (1-based); 0: never */
    int fail_all;   /* refuse every call */
    size_t limit;   /* refuse requests larger than this; 0: no limit */
    size_t largest; /* largest size requested */
} probe;

static void *probe_alloc(void *opaque, size_t size) {
    probe *p = (probe *)opaque;
    p->calls++;
    if (size > p->largest) p->largest = size;
    if (p->fail_all || p->calls == p->fail_at || (p->limit && size > p->limit)) return NULL;
    void *m = malloc(size ? size : 1);
    if (m) p->live++;
    return m;
}

static void probe_free(void *opaque, void *ptr) {
    probe *p = (probe *)opaque;
    if (!ptr) return;
    p->frees++;
    p->live--;
    free(ptr);
}

/* ---- a foreign object: memory that was never a handle ------------------------------------------- */
static _Alignas(64) unsigned char zero_block[1 << 16];
static _Alignas(64) unsigned char junk_block[1 << 16];

static int block_is(const unsigned char *b, size_t n, unsigned char v) {
    for (size_t i = 0; i < n; i++)
        if (b[i] != v) return 0;
    return 1;
}

/* ================================================================================================ */
Test(args, version_and_status_strings) {
    cr_assert_not_null(tkm_version_string());
    cr_assert_eq(tkm_version_number(), (unsigned)TKM_VERSION_NUMBER);
    /* every pinned status has its own string */
    for (int st = TKM_OK; st <= TKM_ERR_INTERNAL; st++)
        cr_assert_str_neq(tkm_status_string((tkm_status)st), "unknown status", "status %d", st);
    /* values no status will take (statuses are appended one by one from 0) */
    const int odd[] = {-1, -1000, 4096, 1 << 20, 0x7FFFFFFF};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        const char *m = tkm_status_string((tkm_status)odd[i]);
        cr_assert_not_null(m, "status %d", odd[i]);
        cr_assert_str_eq(m, "unknown status");
    }
}

Test(args, open_and_models) {
    tkm_encoding *e = (tkm_encoding *)junk_block;
    cr_assert_eq(tkm_encoding_open(NULL, &e), TKM_ERR_INVALID_ARGUMENT);
    cr_assert(e == NULL || e == (tkm_encoding *)junk_block, "a failed open wrote a pointer");
    cr_assert_eq(tkm_encoding_open("o200k_base", NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encoding_open(NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    const char *bad_names[] = {"", "O200K_BASE", "o200k_base ", " o200k_base", "o200k", "cl100k_base\n", "gpt-4"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        e = NULL;
        cr_assert_eq(tkm_encoding_open(bad_names[i], &e), TKM_ERR_UNKNOWN_ENCODING, "'%s'", bad_names[i]);
        cr_assert_null(e);
    }
    char longname[8192];
    memset(longname, 'o', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    cr_assert_eq(tkm_encoding_open(longname, &e), TKM_ERR_UNKNOWN_ENCODING);

    cr_assert_eq(tkm_encoding_open_for_model(NULL, &e), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encoding_open_for_model("gpt-4o", NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encoding_open_for_model(NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    e = NULL;
    cr_assert_eq(tkm_encoding_open_for_model("", &e), TKM_ERR_UNKNOWN_MODEL);
    cr_assert_null(e);
    cr_assert_eq(tkm_encoding_open_for_model(longname, &e), TKM_ERR_UNKNOWN_MODEL);

    const char *name = "unchanged";
    cr_assert_eq(tkm_model_encoding_name(NULL, &name), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_model_encoding_name("gpt-4o", NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_model_encoding_name(NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_model_encoding_name("", &name), TKM_ERR_UNKNOWN_MODEL);
    cr_assert_str_eq(name, "unchanged", "a failed lookup wrote its out-pointer");

    /* the static lists */
    const char *const *names = tkm_encoding_names();
    cr_assert_not_null(names);
    size_t k = 0;
    while (names[k])
        k++;
    cr_assert_eq(k, N_ENCS);
    cr_assert_null(tkm_model_at(SIZE_MAX, NULL, NULL));
    cr_assert_null(tkm_model_at((size_t)1 << 40, &name, NULL));
    cr_assert_not_null(tkm_model_at(0, NULL, NULL), "NULL out-pointers are accepted");
    size_t n_models = 0;
    while (tkm_model_at(n_models, NULL, NULL))
        n_models++;
    cr_assert_gt(n_models, 10);
    cr_assert_null(tkm_model_at(n_models, NULL, NULL));
}

Test(args, free_accepts_null_and_foreign) {
    tkm_encoding_free(NULL);
    tkm_stream_free(NULL);
    memset(zero_block, 0, sizeof zero_block);
    tkm_encoding_free((tkm_encoding *)zero_block);
    cr_assert(block_is(zero_block, sizeof zero_block, 0), "freeing a foreign object wrote to it");
    memset(junk_block, 0xA5, sizeof junk_block);
    tkm_encoding_free((tkm_encoding *)junk_block);
    cr_assert(block_is(junk_block, sizeof junk_block, 0xA5), "freeing a foreign object wrote to it");
}

Test(args, count_and_count_ex) {
    tkm_encoding *e = open_enc("o200k_base");
    size_t n = 777;
    cr_assert_eq(tkm_count(NULL, "x", 1, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count(e, NULL, 1, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count(e, NULL, SIZE_MAX, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count(e, NULL, (size_t)1 << 40, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count(e, "x", 1, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count(NULL, NULL, 0, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(n, 777, "an error wrote a count");
    /* zero length: NULL or not, the count is 0 */
    cr_assert_eq(tkm_count(e, NULL, 0, &n), TKM_OK);
    cr_assert_eq(n, 0);
    n = 5;
    cr_assert_eq(tkm_count(e, "abc", 0, &n), TKM_OK);
    cr_assert_eq(n, 0);

    tkm_result r = make_res();
    tkm_options o = make_opt(0);
    cr_assert_eq(tkm_count_ex(NULL, "x", 1, &o, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_ex(e, NULL, 1, &o, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_ex(e, NULL, SIZE_MAX, NULL, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_ex(e, "x", 1, &o, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_ex(e, "x", 1, NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    r.tokens = 99;
    cr_assert_eq(tkm_count_ex(e, NULL, 0, NULL, &r), TKM_OK);
    cr_assert_eq(r.tokens, 0);
    cr_assert_eq(r.bytes, 0);
    cr_assert_eq(tkm_count_ex(e, "", 0, &o, &r), TKM_OK);
    cr_assert_eq(r.tokens, 0);
    cr_assert_eq(tkm_count_ex(e, "hello", 5, NULL, &r), TKM_OK);
    cr_assert_eq(r.tokens, 1);
    cr_assert_eq(r.bytes, 5);
    /* NUL bytes are ordinary input: the text need not be a C string */
    cr_assert_eq(tkm_count_ex(e, "a\0b\0\0c", 6, NULL, &r), TKM_OK);
    cr_assert_gt(r.tokens, 0);
    cr_assert_eq(r.bytes, 6);
    tkm_encoding_free(e);
}

Test(args, count_limit) {
    tkm_encoding *e = open_enc("o200k_base");
    tkm_result r = make_res();
    tkm_options o = make_opt(0);
    cr_assert_eq(tkm_count_limit(NULL, "x", 1, 5, &o, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_limit(e, NULL, 1, 5, &o, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_limit(e, NULL, SIZE_MAX, 5, NULL, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_limit(e, "x", 1, 5, &o, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_count_limit(NULL, NULL, 0, 0, NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    tkm_result q;
    memset(&q, 0x5A, sizeof q);
    q.struct_size = sizeof q - 1;
    cr_assert_eq(tkm_count_limit(e, "x", 1, 5, NULL, &q), TKM_ERR_INVALID_ARGUMENT);
    cr_assert(block_is((const unsigned char *)&q + sizeof(size_t), sizeof q - sizeof(size_t), 0x5A));
    /* zero length, zero limit */
    cr_assert_eq(tkm_count_limit(e, NULL, 0, 0, NULL, &r), TKM_OK);
    cr_assert_eq(r.tokens, 0);
    cr_assert_eq(tkm_count_limit(e, "hello world", 11, 0, NULL, &r), TKM_ERR_LIMIT_EXCEEDED);
    cr_assert_eq(r.tokens, 1);
    cr_assert_eq(r.bytes, 5);
    cr_assert_eq(tkm_count_limit(e, "hello world", 11, 2, NULL, &r), TKM_OK);
    cr_assert_eq(r.tokens, 2);
    cr_assert_eq(r.bytes, 11);
    /* the largest limits mean "no limit" */
    const size_t big[] = {SIZE_MAX, SIZE_MAX - 1, (size_t)1 << 40};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(tkm_count_limit(e, LONG_PIECE, sizeof LONG_PIECE - 1, big[i], NULL, &r), TKM_OK);
        tkm_result w = make_res();
        cr_assert_eq(tkm_count_ex(e, LONG_PIECE, sizeof LONG_PIECE - 1, NULL, &w), TKM_OK);
        cr_assert_eq(r.tokens, w.tokens);
    }
    tkm_encoding_free(e);
}

Test(args, truncate) {
    tkm_encoding *e = open_enc("cl100k_base");
    tkm_result r = make_res();
    tkm_options o = make_opt(0);
    cr_assert_eq(tkm_truncate(NULL, "x", 1, 5, &o, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_truncate(e, NULL, 1, 5, &o, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_truncate(e, NULL, SIZE_MAX, 5, NULL, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_truncate(e, "x", 1, 5, &o, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_truncate(NULL, NULL, 0, 0, NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    tkm_result q;
    memset(&q, 0x5A, sizeof q);
    q.struct_size = sizeof q - 1;
    cr_assert_eq(tkm_truncate(e, "x", 1, 5, NULL, &q), TKM_ERR_INVALID_ARGUMENT);
    cr_assert(block_is((const unsigned char *)&q + sizeof(size_t), sizeof q - sizeof(size_t), 0x5A));
    /* zero length, zero budget, budgets that fit */
    cr_assert_eq(tkm_truncate(e, NULL, 0, 0, NULL, &r), TKM_OK);
    cr_assert_eq(r.tokens, 0);
    cr_assert_eq(r.bytes, 0);
    cr_assert_eq(tkm_truncate(e, "hello world", 11, 0, NULL, &r), TKM_OK);
    cr_assert_eq(r.tokens, 0);
    cr_assert_eq(r.bytes, 0);
    cr_assert_eq(tkm_truncate(e, "hello world", 11, 1, NULL, &r), TKM_OK);
    cr_assert_eq(r.tokens, 1);
    cr_assert_eq(r.bytes, 5);
    const size_t big[] = {2, 3, (size_t)1 << 40, SIZE_MAX - 1, SIZE_MAX};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        cr_assert_eq(tkm_truncate(e, "hello world", 11, big[i], NULL, &r), TKM_OK);
        cr_assert_eq(r.tokens, 2);
        cr_assert_eq(r.bytes, 11);
    }
    /* inside one long piece: the prefix is exactly the bytes of the first ids */
    uint32_t ids[256];
    size_t n = 0;
    cr_assert_eq(tkm_encode(e, LONG_PIECE, sizeof LONG_PIECE - 1, NULL, ids, 256, &n), TKM_OK);
    for (size_t m = 0; m <= n; m++) {
        char out[256];
        size_t nb = 0;
        cr_assert_eq(tkm_decode(e, ids, m, out, sizeof out, &nb), TKM_OK);
        cr_assert_eq(tkm_truncate(e, LONG_PIECE, sizeof LONG_PIECE - 1, m, NULL, &r), TKM_OK);
        cr_assert_eq(r.tokens, m);
        cr_assert_eq(r.bytes, nb, "budget %zu: %zu bytes, the first ids hold %zu", m, r.bytes, nb);
    }
    tkm_encoding_free(e);
}

Test(args, encode) {
    tkm_encoding *e = open_enc("cl100k_base");
    uint32_t ids[8];
    size_t n = 777;
    cr_assert_eq(tkm_encode(NULL, "hi", 2, NULL, ids, 8, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encode(e, NULL, 2, NULL, ids, 8, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encode(e, NULL, SIZE_MAX, NULL, ids, 8, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encode(e, "hi", 2, NULL, NULL, 8, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encode(e, "hi", 2, NULL, NULL, SIZE_MAX, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encode(e, "hi", 2, NULL, ids, 8, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encode(NULL, NULL, 0, NULL, NULL, 0, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(n, 777, "an error wrote a count");
    /* sizing call and zero lengths */
    cr_assert_eq(tkm_encode(e, "hello world", 11, NULL, NULL, 0, &n), TKM_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(n, 2);
    cr_assert_eq(tkm_encode(e, NULL, 0, NULL, NULL, 0, &n), TKM_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(tkm_encode(e, "x", 0, NULL, ids, 8, &n), TKM_OK);
    cr_assert_eq(n, 0);
    /* a too-small buffer is filled up to capacity and nothing beyond */
    uint32_t guard[4] = {0xAAAAAAAAu, 0xAAAAAAAAu, 0xAAAAAAAAu, 0xAAAAAAAAu};
    cr_assert_eq(tkm_encode(e, "hello world again", 17, NULL, guard, 1, &n), TKM_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(n, 3);
    cr_assert_eq(guard[0], 15339);
    cr_assert_eq(guard[1], 0xAAAAAAAAu, "wrote past capacity");
    /* the long-piece path into a short buffer (scratch copy) also stops at capacity */
    uint32_t want[128];
    size_t nw = 0;
    cr_assert_eq(tkm_encode(e, LONG_PIECE, sizeof LONG_PIECE - 1, NULL, want, 128, &nw), TKM_OK);
    cr_assert_gt(nw, 4);
    uint32_t part[128];
    for (size_t i = 0; i < 128; i++)
        part[i] = 0xAAAAAAAAu;
    cr_assert_eq(tkm_encode(e, LONG_PIECE, sizeof LONG_PIECE - 1, NULL, part, 3, &n), TKM_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(n, nw);
    cr_assert_eq(memcmp(part, want, 3 * sizeof part[0]), 0);
    cr_assert_eq(part[3], 0xAAAAAAAAu, "wrote past capacity");
    tkm_encoding_free(e);
}

Test(args, info) {
    tkm_encoding *e = open_enc("p50k_edit");
    tkm_encoding_info info;
    memset(&info, 0x5A, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(tkm_encoding_info_get(NULL, &info), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encoding_info_get(e, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encoding_info_get(NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    const size_t small[] = {0, 1, sizeof(size_t), offsetof(tkm_encoding_info, n_vocab), sizeof info - 1};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        info.struct_size = small[i];
        cr_assert_eq(tkm_encoding_info_get(e, &info), TKM_ERR_INVALID_ARGUMENT, "struct_size %zu", small[i]);
        cr_assert(block_is((const unsigned char *)&info + sizeof(size_t), sizeof info - sizeof(size_t), 0x5A),
                  "struct_size %zu: the rejected struct was written", small[i]);
    }
    /* a caller built against a later header passes a larger struct */
    struct {
        tkm_encoding_info info;
        unsigned char later[64];
    } big;
    memset(&big, 0, sizeof big);
    big.info.struct_size = sizeof big;
    cr_assert_eq(tkm_encoding_info_get(e, &big.info), TKM_OK);
    cr_assert_str_eq(big.info.name, "p50k_edit");
    tkm_encoding_free(e);
}

Test(args, decode) {
    tkm_encoding *e = open_enc("r50k_base");
    const uint32_t ids[] = {31373, 995};
    char out[64];
    size_t n = 777;
    cr_assert_eq(tkm_decode(NULL, ids, 2, out, sizeof out, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_decode(e, NULL, 2, out, sizeof out, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_decode(e, NULL, SIZE_MAX, out, sizeof out, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_decode(e, ids, 2, NULL, sizeof out, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_decode(e, ids, 2, NULL, SIZE_MAX, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_decode(e, ids, 2, out, sizeof out, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_decode(NULL, NULL, 0, NULL, 0, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(n, 777, "an error wrote a size");
    cr_assert_eq(tkm_decode(e, NULL, 0, NULL, 0, &n), TKM_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(tkm_decode(e, ids, 0, out, sizeof out, &n), TKM_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(tkm_decode(e, ids, 2, NULL, 0, &n), TKM_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(n, 11);
    memset(out, '#', sizeof out);
    cr_assert_eq(tkm_decode(e, ids, 2, out, 7, &n), TKM_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(n, 11);
    cr_assert_eq(memcmp(out, "hello w#", 8), 0, "partial output or a write past capacity");
    tkm_encoding_free(e);
}

/* ================================================================================================ */
Test(handle, foreign_objects_are_invalid_handles) {
    memset(zero_block, 0, sizeof zero_block);
    memset(junk_block, 0xA5, sizeof junk_block);
    const tkm_encoding *fakes[] = {(const tkm_encoding *)zero_block, (const tkm_encoding *)junk_block};
    const unsigned char fill[] = {0, 0xA5};
    for (int f = 0; f < 2; f++) {
        const tkm_encoding *h = fakes[f];
        size_t n = 777;
        tkm_result r = make_res();
        uint32_t ids[4] = {0, 0, 0, 0};
        char out[16];
        tkm_encoding_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        tkm_stream *s = (tkm_stream *)junk_block;
        cr_assert_eq(tkm_count(h, "x", 1, &n), TKM_ERR_INVALID_HANDLE);
        cr_assert_eq(tkm_count(h, NULL, 0, &n), TKM_ERR_INVALID_HANDLE);
        cr_assert_eq(tkm_count_ex(h, "x", 1, NULL, &r), TKM_ERR_INVALID_HANDLE);
        cr_assert_eq(tkm_count_limit(h, "x", 1, 5, NULL, &r), TKM_ERR_INVALID_HANDLE);
        cr_assert_eq(tkm_truncate(h, "x", 1, 5, NULL, &r), TKM_ERR_INVALID_HANDLE);
        cr_assert_eq(tkm_encode(h, "x", 1, NULL, ids, 4, &n), TKM_ERR_INVALID_HANDLE);
        cr_assert_eq(tkm_decode(h, ids, 0, out, sizeof out, &n), TKM_ERR_INVALID_HANDLE);
        cr_assert_eq(tkm_encoding_info_get(h, &info), TKM_ERR_INVALID_HANDLE);
        cr_assert_eq(tkm_stream_open(h, NULL, &s), TKM_ERR_INVALID_HANDLE);
        cr_assert(s == NULL || s == (tkm_stream *)junk_block);
        tkm_counter *c = (tkm_counter *)junk_block;
        cr_assert_eq(tkm_counter_open(h, NULL, &c), TKM_ERR_INVALID_HANDLE);
        cr_assert_null(c);
        cr_assert_eq(n, 777);
        cr_assert(block_is(f ? junk_block : zero_block, sizeof zero_block, fill[f]), "a foreign object was written");
    }
}

/* ================================================================================================ */
Test(options, invalid_flags_and_sizes) {
    tkm_encoding *e = open_enc("cl100k_base");
    tkm_result r = make_res();
    uint32_t ids[8];
    size_t n;
    tkm_stream *s = NULL;
    for (int bit = 3; bit < 32; bit++) {
        tkm_options o = make_opt(1u << bit);
        cr_assert_eq(tkm_count_ex(e, "x", 1, &o, &r), TKM_ERR_INVALID_ARGUMENT, "flag bit %d", bit);
        cr_assert_eq(tkm_count_ex(e, NULL, 0, &o, &r), TKM_ERR_INVALID_ARGUMENT, "flag bit %d, empty", bit);
        cr_assert_eq(tkm_count_limit(e, "x", 1, 9, &o, &r), TKM_ERR_INVALID_ARGUMENT, "flag bit %d", bit);
        cr_assert_eq(tkm_truncate(e, "x", 1, 9, &o, &r), TKM_ERR_INVALID_ARGUMENT, "flag bit %d", bit);
        cr_assert_eq(tkm_encode(e, "x", 1, &o, ids, 8, &n), TKM_ERR_INVALID_ARGUMENT, "flag bit %d", bit);
        cr_assert_eq(tkm_stream_open(e, &o, &s), TKM_ERR_INVALID_ARGUMENT, "flag bit %d", bit);
        cr_assert_null(s);
        tkm_counter *c = NULL;
        cr_assert_eq(tkm_counter_open(e, &o, &c), TKM_ERR_INVALID_ARGUMENT, "flag bit %d", bit);
        cr_assert_null(c);
    }
    tkm_options both = make_opt(TKM_SPECIAL_ALLOW | TKM_SPECIAL_REJECT);
    cr_assert_eq(tkm_count_ex(e, "x", 1, &both, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encode(e, "x", 1, &both, ids, 8, &n), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_stream_open(e, &both, &s), TKM_ERR_INVALID_ARGUMENT);
    tkm_options all = make_opt(0xFFFFFFFFu);
    cr_assert_eq(tkm_count_ex(e, "x", 1, &all, &r), TKM_ERR_INVALID_ARGUMENT);

    /* options too small to hold even the flags */
    const size_t tiny[] = {0, 1, sizeof(size_t), offsetof(tkm_options, flags) + sizeof(uint32_t) - 1};
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        tkm_options o = make_opt(0);
        o.struct_size = tiny[i];
        cr_assert_eq(tkm_count_ex(e, "x", 1, &o, &r), TKM_ERR_INVALID_ARGUMENT, "options size %zu", tiny[i]);
        cr_assert_eq(tkm_count_limit(e, "x", 1, 9, &o, &r), TKM_ERR_INVALID_ARGUMENT, "options size %zu", tiny[i]);
        cr_assert_eq(tkm_truncate(e, "x", 1, 9, &o, &r), TKM_ERR_INVALID_ARGUMENT, "options size %zu", tiny[i]);
        cr_assert_eq(tkm_encode(e, "x", 1, &o, ids, 8, &n), TKM_ERR_INVALID_ARGUMENT, "options size %zu", tiny[i]);
        cr_assert_eq(tkm_stream_open(e, &o, &s), TKM_ERR_INVALID_ARGUMENT, "options size %zu", tiny[i]);
        tkm_counter *c = NULL;
        cr_assert_eq(tkm_counter_open(e, &o, &c), TKM_ERR_INVALID_ARGUMENT, "options size %zu", tiny[i]);
    }
    /* results too small */
    const size_t rsmall[] = {0, 1, sizeof(size_t), offsetof(tkm_result, error_offset), sizeof(tkm_result) - 1};
    for (size_t i = 0; i < sizeof rsmall / sizeof rsmall[0]; i++) {
        tkm_result q;
        memset(&q, 0x5A, sizeof q);
        q.struct_size = rsmall[i];
        cr_assert_eq(tkm_count_ex(e, "x", 1, NULL, &q), TKM_ERR_INVALID_ARGUMENT, "result size %zu", rsmall[i]);
        cr_assert(block_is((const unsigned char *)&q + sizeof(size_t), sizeof q - sizeof(size_t), 0x5A),
                  "result size %zu: the rejected struct was written", rsmall[i]);
    }
    /* larger structs from a later header are accepted */
    struct {
        tkm_options o;
        unsigned char later[64];
    } bigo;
    struct {
        tkm_result r;
        unsigned char later[64];
    } bigr;
    memset(&bigo, 0, sizeof bigo);
    memset(&bigr, 0, sizeof bigr);
    bigo.o.struct_size = sizeof bigo;
    bigr.r.struct_size = sizeof bigr;
    cr_assert_eq(tkm_count_ex(e, "hello world", 11, &bigo.o, &bigr.r), TKM_OK);
    cr_assert_eq(bigr.r.tokens, 2);
    tkm_encoding_free(e);
}

/* An older caller's options struct that ends before `allocator` must work, and the library must not
 * read the field past struct_size (what lies there is not the caller's allocator). */
Test(options, fields_beyond_struct_size_are_not_read) {
    tkm_encoding *e = open_enc("o200k_base");
    const size_t sizes[] = {offsetof(tkm_options, flags) + sizeof(uint32_t), offsetof(tkm_options, allocator)};
    for (size_t i = 0; i < 2; i++) {
        probe p;
        memset(&p, 0, sizeof p);
        tkm_allocator a = {probe_alloc, probe_free, &p};
        tkm_options o = make_opt(0);
        o.struct_size = sizes[i];
        o.allocator = &a; /* beyond struct_size: must be ignored */
        tkm_result r = make_res();
        cr_assert_eq(tkm_count_ex(e, LONG_PIECE, sizeof LONG_PIECE - 1, &o, &r), TKM_OK, "size %zu", sizes[i]);
        cr_assert_eq(tkm_truncate(e, LONG_PIECE, sizeof LONG_PIECE - 1, 3, &o, &r), TKM_OK, "size %zu", sizes[i]);
        uint32_t ids[4];
        size_t n;
        cr_assert_eq(tkm_encode(e, LONG_PIECE, sizeof LONG_PIECE - 1, &o, ids, 4, &n), TKM_ERR_BUFFER_TOO_SMALL);
        tkm_stream *s = NULL;
        cr_assert_eq(tkm_stream_open(e, &o, &s), TKM_OK);
        cr_assert_eq(tkm_stream_feed(s, LONG_PIECE, sizeof LONG_PIECE - 1, NULL), TKM_OK);
        cr_assert_eq(tkm_stream_finish(s, &r), TKM_OK);
        tkm_stream_free(s);
        cr_expect_eq(p.calls, 0,
                     "options.struct_size = %zu ends before .allocator, yet the library called the allocator "
                     "stored past it %zu times (it reads opt->allocator without checking struct_size)",
                     sizes[i], p.calls);
    }
    tkm_encoding_free(e);
}

/* The same bug made visible as an out-of-bounds read: a 16-byte options struct (flags only, as an
 * older caller would declare it) at the very end of a readable page, followed by an inaccessible
 * page. Reading opt->allocator faults. */
Test(options, small_struct_at_end_of_page) {
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *m = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) cr_skip_test("mmap: %s", strerror(errno));
    cr_assert_eq(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
    const size_t old_size = offsetof(tkm_options, allocator);
    tkm_options *o = (tkm_options *)(void *)(m + pg - old_size);
    memset(o, 0, old_size);
    o->struct_size = old_size;
    o->flags = TKM_UTF8_STRICT;
    tkm_encoding *e = open_enc("o200k_base");
    tkm_result r = make_res();
    cr_assert_eq(tkm_count_ex(e, "hello", 5, o, &r), TKM_OK);
    cr_assert_eq(r.tokens, 1);
    tkm_encoding_free(e);
    munmap(m, 2 * (size_t)pg);
}

/* ================================================================================================ */
/* Every allocation of a call fails in turn: the call reports NO_MEMORY (or succeeds with the right
 * answer when the failed allocation had a fallback), and nothing leaks. */
static void sweep_failures(const char *enc_name, const char *text, size_t len, uint32_t flags, size_t cap) {
    tkm_encoding *e = open_enc(enc_name);
    tkm_options o = make_opt(flags);
    tkm_result want = make_res();
    cr_assert_eq(tkm_count_ex(e, text, len, &o, &want), TKM_OK);
    uint32_t *want_ids = malloc((want.tokens + 1) * sizeof *want_ids);
    uint32_t *ids = malloc((want.tokens + cap + 1) * sizeof *ids);
    size_t nw = 0;
    cr_assert_eq(tkm_encode(e, text, len, &o, want_ids, want.tokens, &nw), TKM_OK);
    /* truncation inside the first piece (every text here starts with LONG_PIECE) */
    size_t head = 0;
    cr_assert_eq(tkm_count(e, LONG_PIECE, sizeof LONG_PIECE - 1, &head), TKM_OK);
    cr_assert_gt(head, 2);
    tkm_result want_tr = make_res();
    cr_assert_eq(tkm_truncate(e, text, len, head / 2, &o, &want_tr), TKM_OK);
    cr_assert_eq(want_tr.tokens, head / 2);
    for (int what = 0; what < 4; what++) { /* 0 count_ex, 1 encode into `cap`, 2 stream, 3 truncate */
        probe p;
        memset(&p, 0, sizeof p);
        tkm_allocator a = {probe_alloc, probe_free, &p};
        o.allocator = &a;
        size_t total_calls = 0;
        for (size_t k = 1;; k++) {
            memset(&p, 0, sizeof p);
            p.fail_at = k;
            tkm_status st;
            tkm_result r = make_res();
            size_t n = 0;
            if (what == 0) {
                st = tkm_count_ex(e, text, len, &o, &r);
                n = r.tokens;
            } else if (what == 1) {
                st = tkm_encode(e, text, len, &o, ids, cap, &n);
                if (st == TKM_ERR_BUFFER_TOO_SMALL && cap < want.tokens) st = TKM_OK;
            } else if (what == 3) {
                st = tkm_truncate(e, text, len, head / 2, &o, &r);
                n = r.tokens;
            } else {
                tkm_stream *s = NULL;
                st = tkm_stream_open(e, &o, &s); /* the stream itself comes from the allocator too */
                if (k == 1) cr_assert_eq(st, TKM_ERR_NO_MEMORY, "%s: stream_open must use the allocator", enc_name);
                if (st == TKM_OK) {
                    for (size_t pos = 0; pos < len && st == TKM_OK; pos += 97)
                        st = tkm_stream_feed(s, text + pos, len - pos < 97 ? len - pos : 97, NULL);
                    tkm_status fs = tkm_stream_finish(s, &r);
                    if (st == TKM_OK) st = fs;
                    n = r.tokens;
                    tkm_stream_free(s);
                } else {
                    cr_assert_null(s);
                }
            }
            cr_assert(st == TKM_OK || st == TKM_ERR_NO_MEMORY, "%s what %d fail_at %zu: %s", enc_name, what, k,
                      tkm_status_string(st));
            cr_assert_eq(p.live, 0, "%s what %d fail_at %zu: %zu allocations leaked", enc_name, what, k, p.live);
            if (st == TKM_OK && what == 3) {
                cr_assert(r.tokens == want_tr.tokens && r.bytes == want_tr.bytes, "%s truncate fail_at %zu", enc_name,
                          k);
            } else if (st == TKM_OK) {
                cr_assert_eq(n, want.tokens, "%s what %d fail_at %zu: %zu tokens, want %zu", enc_name, what, k, n,
                             want.tokens);
                if (what == 1) {
                    size_t m = cap < n ? cap : n;
                    cr_assert_eq(memcmp(ids, want_ids, m * sizeof *ids), 0, "fail_at %zu: ids differ", k);
                }
            }
            if (p.calls < k) { /* the k-th allocation never happened: every failure point was tried */
                total_calls = p.calls;
                break;
            }
        }
        cr_assert_gt(total_calls, 0, "%s what %d: the allocator was never used", enc_name, what);
        memset(&p, 0, sizeof p);
        p.fail_all = 1;
        tkm_result r = make_res();
        cr_assert_eq(tkm_count_ex(e, text, len, &o, &r), TKM_ERR_NO_MEMORY);
        cr_assert_eq(p.live, 0);
        o.allocator = NULL;
    }
    free(want_ids);
    free(ids);
    tkm_encoding_free(e);
}

Test(alloc, every_failure_point) {
    /* long pieces (BPE scratch), an ill-formed piece (repair buffer), a short ids buffer (copy) */
    char text[4096];
    size_t n = 0;
    for (int rep = 0; rep < 3; rep++) {
        memcpy(text + n, LONG_PIECE, sizeof LONG_PIECE - 1);
        n += sizeof LONG_PIECE - 1;
        const char *mid = " and then !#\xFF$%\xC3(&*\xE2\x82)!#$%^&*()_+=-~`|\\{}[]:;<>,.?/!@#$%^&*()_+ more words\n";
        memcpy(text + n, mid, strlen(mid));
        n += strlen(mid);
    }
    for (size_t i = 0; i < sizeof FAMILY_ENCS / sizeof FAMILY_ENCS[0]; i++) {
        sweep_failures(FAMILY_ENCS[i], text, n, 0, 5);
        sweep_failures(FAMILY_ENCS[i], text, n, 0, 1000);
    }
    char sp[512];
    int spn = snprintf(sp, sizeof sp, "%s<|endoftext|>%s", LONG_PIECE, LONG_PIECE);
    sweep_failures("cl100k_base", sp, (size_t)spn, TKM_SPECIAL_ALLOW, 1);
}

/* A long piece that BPE cuts into short segments (vocab.h, inner2) is merged without scratch
 * memory; one without cuts (LONG_PIECE) needs it. Both counts equal the encode path's. */
Test(alloc, cut_pieces_need_no_scratch) {
    static const char cut[] = "qzxjvkwqpzxjqvkzjxqpwvkzjqxpvwkzqjxvpkwzqjxpvkwzjqxvpkwzqjxvpkwqzjxvpkwzqjxvpkz"
                              "xqjvkwpzqxjvkpwzqjxvkpwzqxjvpkwzqjxvkpwzqxjvkpwzqjxvpkwzqjxvkpwqzjxvpkwzqjxvkp";
    for (size_t i = 0; i < sizeof FAMILY_ENCS / sizeof FAMILY_ENCS[0]; i++) {
        tkm_encoding *e = open_enc(FAMILY_ENCS[i]);
        probe p;
        memset(&p, 0, sizeof p);
        tkm_allocator a = {probe_alloc, probe_free, &p};
        tkm_options o = make_opt(0);
        o.allocator = &a;
        tkm_result r = make_res();
        uint32_t ids[256];
        size_t n = 0;
        cr_assert_eq(tkm_count_ex(e, cut, sizeof cut - 1, &o, &r), TKM_OK);
        cr_assert_eq(p.calls, 0, "%s: %zu allocations for a piece cut into short segments", FAMILY_ENCS[i], p.calls);
        cr_assert_eq(tkm_encode(e, cut, sizeof cut - 1, NULL, ids, 256, &n), TKM_OK);
        cr_assert_eq(r.tokens, n, "%s: count %zu, encode %zu", FAMILY_ENCS[i], r.tokens, n);
        r = make_res();
        cr_assert_eq(tkm_count_ex(e, LONG_PIECE, sizeof LONG_PIECE - 1, &o, &r), TKM_OK);
        cr_assert_gt(p.calls, 0, "%s: LONG_PIECE was merged without scratch memory", FAMILY_ENCS[i]);
        cr_assert_eq(p.live, 0);
        tkm_encoding_free(e);
    }
}

/* The options' allocator also serves the stream's own buffer; after a stream is freed nothing is
 * outstanding. */
Test(alloc, stream_balances) {
    tkm_encoding *e = open_enc("o200k_base");
    probe p;
    memset(&p, 0, sizeof p);
    tkm_allocator a = {probe_alloc, probe_free, &p};
    tkm_options o = make_opt(0);
    o.allocator = &a;
    tkm_stream *s = NULL;
    cr_assert_eq(tkm_stream_open(e, &o, &s), TKM_OK);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(tkm_stream_feed(s, LONG_PIECE, sizeof LONG_PIECE - 1, NULL), TKM_OK);
    tkm_result r = make_res();
    cr_assert_eq(tkm_stream_finish(s, &r), TKM_OK);
    tkm_stream_free(s);
    cr_assert_gt(p.calls, 0);
    cr_assert_eq(p.live, 0, "%zu allocations outstanding after tkm_stream_free", p.live);
    tkm_encoding_free(e);
}

/* ================================================================================================ */
Test(decode, ids_out_of_range_and_holes) {
    for (size_t k = 0; k < N_ENCS; k++) {
        tkm_encoding *e = open_enc(ALL_ENCS[k]);
        tkm_encoding_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        cr_assert_eq(tkm_encoding_info_get(e, &info), TKM_OK);
        unsigned char out[64];
        size_t n;
        const uint32_t bad[] = {info.n_vocab, info.n_vocab + 1, info.n_vocab + 1000, 0x7FFFFFFFu,
                                0x80000000u,  0xFFFFFFFEu,      0xFFFFFFFFu};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            uint32_t ids[3] = {0, 1, bad[i]};
            n = 777;
            cr_assert_eq(tkm_decode(e, ids, 3, out, sizeof out, &n), TKM_ERR_INVALID_TOKEN, "%s id %u", ALL_ENCS[k],
                         bad[i]);
            cr_assert_eq(n, 2, "%s id %u: the index of the bad id", ALL_ENCS[k], bad[i]);
            cr_assert_eq(tkm_decode(e, ids + 2, 1, NULL, 0, &n), TKM_ERR_INVALID_TOKEN);
            cr_assert_eq(n, 0);
        }
        /* every id in [0, n_vocab) is a token or a hole; at most a few holes (tiktoken's gaps) */
        size_t holes = 0;
        for (uint32_t id = 0; id < info.n_vocab; id++) {
            unsigned char buf[256];
            tkm_status st = tkm_decode(e, &id, 1, buf, sizeof buf, &n);
            cr_assert(st == TKM_OK || st == TKM_ERR_INVALID_TOKEN, "%s id %u: %s", ALL_ENCS[k], id,
                      tkm_status_string(st));
            if (st == TKM_OK) {
                cr_assert_gt(n, 0, "%s id %u decodes to nothing", ALL_ENCS[k], id);
                cr_assert_leq(n, sizeof buf);
            } else {
                cr_assert_geq(id, info.n_ranks, "%s: a mergeable rank %u does not decode", ALL_ENCS[k], id);
                holes++;
            }
        }
        cr_assert_leq(holes, info.n_vocab - info.n_ranks, "%s", ALL_ENCS[k]);
        cr_log_info("%s: %zu holes in [0, %u)", ALL_ENCS[k], holes, info.n_vocab);
        tkm_encoding_free(e);
    }
}

/* ================================================================================================ */
Test(stream, argument_misuse) {
    tkm_encoding *e = open_enc("o200k_base");
    tkm_stream *s = (tkm_stream *)junk_block;
    cr_assert_eq(tkm_stream_open(e, NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_stream_open(NULL, NULL, &s), TKM_ERR_INVALID_ARGUMENT);
    cr_assert(s == NULL || s == (tkm_stream *)junk_block);
    cr_assert_eq(tkm_stream_open(NULL, NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_stream_open(e, NULL, &s), TKM_OK);
    size_t fin = 777;
    cr_assert_eq(tkm_stream_feed(NULL, "x", 1, &fin), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_stream_feed(NULL, NULL, 0, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_stream_feed(s, NULL, 1, &fin), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_stream_feed(s, NULL, SIZE_MAX, &fin), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(fin, 777);
    /* NULL chunk with length 0 is fine; so are empty chunks and a NULL final_tokens */
    cr_assert_eq(tkm_stream_feed(s, NULL, 0, &fin), TKM_OK);
    cr_assert_eq(fin, 0);
    cr_assert_eq(tkm_stream_feed(s, "", 0, NULL), TKM_OK);
    cr_assert_eq(tkm_stream_feed(s, "hello", 5, NULL), TKM_OK);
    cr_assert_eq(tkm_stream_feed(s, NULL, 0, NULL), TKM_OK);
    cr_assert_eq(tkm_stream_feed(s, " world", 6, &fin), TKM_OK);
    tkm_result r = make_res();
    cr_assert_eq(tkm_stream_finish(NULL, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_stream_finish(s, NULL), TKM_ERR_INVALID_ARGUMENT);
    tkm_result q;
    memset(&q, 0x5A, sizeof q);
    q.struct_size = sizeof q - 1;
    cr_assert_eq(tkm_stream_finish(s, &q), TKM_ERR_INVALID_ARGUMENT);
    cr_assert(block_is((const unsigned char *)&q + sizeof(size_t), sizeof q - sizeof(size_t), 0x5A));
    /* finish twice: the same answer */
    cr_assert_eq(tkm_stream_finish(s, &r), TKM_OK);
    cr_assert_eq(r.tokens, 2);
    cr_assert_eq(r.bytes, 11);
    tkm_result r2 = make_res();
    cr_assert_eq(tkm_stream_finish(s, &r2), TKM_OK);
    cr_assert_eq(r2.tokens, 2);
    cr_assert_eq(r2.bytes, 11);
    tkm_stream_free(s);
    /* an empty stream */
    cr_assert_eq(tkm_stream_open(e, NULL, &s), TKM_OK);
    cr_assert_eq(tkm_stream_finish(s, &r), TKM_OK);
    cr_assert_eq(r.tokens, 0);
    cr_assert_eq(r.bytes, 0);
    tkm_stream_free(s);
    /* a stream that is never finished is freed cleanly */
    cr_assert_eq(tkm_stream_open(e, NULL, &s), TKM_OK);
    cr_assert_eq(tkm_stream_feed(s, LONG_PIECE, sizeof LONG_PIECE - 1, NULL), TKM_OK);
    tkm_stream_free(s);
    tkm_encoding_free(e);
}

/* Text with many safe cut points after the first error, so that feed itself runs into it. */
static void feed_text_with_error(tkm_stream *s, const char *head, size_t head_len, tkm_status want) {
    char buf[8192];
    memcpy(buf, head, head_len);
    size_t n = head_len;
    while (n + 16 < sizeof buf) {
        memcpy(buf + n, "word other ", 11);
        n += 11;
    }
    cr_assert_eq(tkm_stream_feed(s, buf, n, NULL), want);
}

Test(stream, errors_are_sticky) {
    tkm_encoding *e = open_enc("cl100k_base");
    struct {
        uint32_t flags;
        const char *head;
        size_t len;
        tkm_status st;
        size_t off;
    } cases[] = {
        {TKM_UTF8_STRICT, "ok \xFF bad ", 9, TKM_ERR_INVALID_UTF8, 3},
        {TKM_SPECIAL_REJECT, "hi <|endoftext|> there ", 23, TKM_ERR_SPECIAL_TOKEN, 3},
    };
    for (size_t i = 0; i < 2; i++) {
        tkm_options o = make_opt(cases[i].flags);
        tkm_stream *s = NULL;
        cr_assert_eq(tkm_stream_open(e, &o, &s), TKM_OK);
        cr_assert_eq(tkm_stream_feed(s, "first ", 6, NULL), TKM_OK);
        feed_text_with_error(s, cases[i].head, cases[i].len, cases[i].st);
        /* later feeds, even valid or empty ones, return the same error */
        cr_assert_eq(tkm_stream_feed(s, "fine text ", 10, NULL), cases[i].st, "case %zu", i);
        cr_assert_eq(tkm_stream_feed(s, NULL, 0, NULL), cases[i].st, "case %zu", i);
        tkm_result r = make_res();
        cr_assert_eq(tkm_stream_finish(s, &r), cases[i].st);
        cr_assert_eq(r.error_offset, 6 + cases[i].off);
        cr_assert_eq(r.tokens, 0);
        tkm_result r2 = make_res();
        cr_assert_eq(tkm_stream_finish(s, &r2), cases[i].st, "finish twice");
        cr_assert_eq(r2.error_offset, r.error_offset);
        cr_assert_eq(tkm_stream_feed(s, "more ", 5, NULL), cases[i].st, "feed after finish after error");
        tkm_stream_free(s);
    }
    /* an error found only by finish is also reported by every later call */
    tkm_options o = make_opt(TKM_UTF8_STRICT);
    tkm_stream *s = NULL;
    cr_assert_eq(tkm_stream_open(e, &o, &s), TKM_OK);
    cr_assert_eq(tkm_stream_feed(s, "abc\xC3", 4, NULL), TKM_OK);
    tkm_result r = make_res();
    cr_assert_eq(tkm_stream_finish(s, &r), TKM_ERR_INVALID_UTF8);
    cr_assert_eq(r.error_offset, 3);
    cr_assert_eq(tkm_stream_feed(s, "\xA9", 1, NULL), TKM_ERR_INVALID_UTF8);
    cr_assert_eq(tkm_stream_finish(s, &r), TKM_ERR_INVALID_UTF8);
    cr_assert_eq(r.error_offset, 3);
    tkm_stream_free(s);
    tkm_encoding_free(e);
}

/* An allocation failure while buffering a chunk must poison the stream like any other error:
 * otherwise a caller that stops feeding and calls finish (as the CLI does) gets TKM_OK and a count
 * that silently misses the chunk. */
Test(stream, allocation_failure_is_sticky) {
    tkm_encoding *e = open_enc("o200k_base");
    probe p;
    memset(&p, 0, sizeof p);
    tkm_allocator a = {probe_alloc, probe_free, &p};
    tkm_options o = make_opt(0);
    o.allocator = &a;
    tkm_stream *s = NULL;
    cr_assert_eq(tkm_stream_open(e, &o, &s), TKM_OK);
    cr_assert_eq(tkm_stream_feed(s, "hello world ", 12, NULL), TKM_OK);
    static char big[1 << 18];
    memset(big, 'a', sizeof big); /* one long piece: buffered whole, the buffer must grow */
    p.fail_all = 1;
    cr_assert_eq(tkm_stream_feed(s, big, sizeof big, NULL), TKM_ERR_NO_MEMORY);
    p.fail_all = 0;
    tkm_status st = tkm_stream_feed(s, " tail", 5, NULL);
    tkm_result r = make_res();
    tkm_status fs = tkm_stream_finish(s, &r);
    cr_expect_eq(st, TKM_ERR_NO_MEMORY, "feed after a failed feed returned %s", tkm_status_string(st));
    cr_expect_eq(fs, TKM_ERR_NO_MEMORY,
                 "finish after a failed feed returned %s with %zu tokens over %zu bytes: the %zu-byte chunk that "
                 "could not be buffered is silently missing from the count",
                 tkm_status_string(fs), r.tokens, r.bytes, sizeof big);
    tkm_stream_free(s);
    cr_assert_eq(p.live, 0);
    /* a length that cannot be buffered at all: no read of the chunk, and sticky as well */
    cr_assert_eq(tkm_stream_open(e, NULL, &s), TKM_OK);
    cr_assert_eq(tkm_stream_feed(s, "abc", 3, NULL), TKM_OK);
    cr_assert_eq(tkm_stream_feed(s, "x", SIZE_MAX, NULL), TKM_ERR_NO_MEMORY);
    cr_expect_eq(tkm_stream_finish(s, &r), TKM_ERR_NO_MEMORY, "finish after an impossible chunk: %zu tokens", r.tokens);
    tkm_stream_free(s);
    tkm_encoding_free(e);
}

/* ================================================================================================ */
#define VALID SIZE_MAX
typedef struct utf8_case {
    const char *s;
    size_t n;
    size_t off; /* offset of the first ill-formed sequence, VALID if none */
    const char *what;
} utf8_case;
#define U(lit, off, what)                                                                                              \
    { lit, sizeof(lit) - 1, off, what }

/* Hex escapes are split from a following hex digit ("\xC3" "A") on purpose. */
static const utf8_case UTF8_CASES[] = {
    U("\x80", 0, "lone continuation"),
    U("ab\x80", 2, "lone continuation at end"),
    U("ab\xBF"
      "cd",
      2, "lone continuation in the middle"),
    U("\xC3\xA9\x80", 2, "continuation after a complete sequence"),
    U("\x80\x80\x80", 0, "continuation run"),
    U("abc\xC3", 3, "truncated 2-byte at end"),
    U("abc\xC3 x", 3, "truncated 2-byte in the middle"),
    U("\xC3"
      "A",
      0, "2-byte lead then ASCII"),
    U("\xC3\xC3\xA9", 0, "2-byte lead then another lead"),
    U("x\xE2", 1, "truncated 3-byte (1 of 3) at end"),
    U("x\xE2\x82", 1, "truncated 3-byte (2 of 3) at end"),
    U("x\xE2\x82y", 1, "truncated 3-byte in the middle"),
    U("x\xE2y", 1, "3-byte lead then ASCII"),
    U("\xE2\x82\xE2\x82\xAC", 0, "truncated 3-byte then a complete one"),
    U("x\xF0", 1, "truncated 4-byte (1 of 4) at end"),
    U("x\xF0\x9F", 1, "truncated 4-byte (2 of 4) at end"),
    U("x\xF0\x9F\x98", 1, "truncated 4-byte (3 of 4) at end"),
    U("x\xF0\x9F\x98 y", 1, "truncated 4-byte in the middle"),
    U("\xF0\x9F\x98\xF0\x9F\x98\x80", 0, "truncated 4-byte then a complete one"),
    U("\xC0\x80", 0, "overlong NUL C0 80"),
    U("a\xC0\xAF", 1, "overlong '/' C0 AF"),
    U("a\xC1\xBF", 1, "overlong C1 BF"),
    U("ab\xE0\x80\x80", 2, "overlong E0 80 80"),
    U("\xE0\x9F\xBF", 0, "overlong E0 9F BF"),
    U("\xF0\x80\x80\x80", 0, "overlong F0 80 80 80"),
    U("\xF0\x8F\xBF\xBF", 0, "overlong F0 8F BF BF"),
    U("\xED\xA0\x80", 0, "surrogate U+D800"),
    U("a\xED\xAF\xBF", 1, "surrogate U+DBFF"),
    U("a\xED\xB0\x80", 1, "surrogate U+DC00"),
    U("a\xED\xBF\xBF", 1, "surrogate U+DFFF"),
    U("\xED\xA0\xBD\xED\xB8\x80", 0, "surrogate pair (CESU-8)"),
    U("\xF4\x90\x80\x80", 0, "U+110000 (F4 90)"),
    U("z\xF4\xBF\xBF\xBF", 1, "F4 BF"),
    U("\xF5\x80\x80\x80", 0, "F5 lead"),
    U("\xF7\xBF\xBF\xBF", 0, "F7 lead"),
    U("\xF8\x88\x80\x80\x80", 0, "5-byte form"),
    U("\xFC\x84\x80\x80\x80\x80", 0, "6-byte form"),
    U("\xFE", 0, "FE"),
    U("\xFF", 0, "FF"),
    U("hello \xE2\x82\xAC \xF0\x9F\x98\x80 \xFF", 15, "after valid multi-byte text"),
    U("ok \xFF bad \xC0", 3, "the first of two errors"),
    U("\xC2\x80", VALID, "U+0080"),
    U("\xDF\xBF", VALID, "U+07FF"),
    U("\xE0\xA0\x80", VALID, "U+0800"),
    U("\xED\x9F\xBF", VALID, "U+D7FF"),
    U("\xEE\x80\x80", VALID, "U+E000"),
    U("\xEF\xBF\xBD", VALID, "U+FFFD itself"),
    U("\xF0\x90\x80\x80", VALID, "U+10000"),
    U("\xF4\x8F\xBF\xBF", VALID, "U+10FFFF (a noncharacter)"),
    U("\xEF\xB7\x90", VALID, "noncharacter U+FDD0"),
    U("\xEF\xB7\xAF", VALID, "noncharacter U+FDEF"),
    U("\xEF\xBF\xBE", VALID, "noncharacter U+FFFE"),
    U("\xEF\xBF\xBF", VALID, "noncharacter U+FFFF"),
    U("\xF0\x9F\xBF\xBE", VALID, "noncharacter U+1FFFE"),
    U("\xF3\xBF\xBF\xBF", VALID, "noncharacter U+FFFFF"),
    U("\xEF\xBB\xBF"
      "BOM",
      VALID, "a BOM"),
    U("a\0b\0", VALID, "NUL bytes"),
};

static void check_strict(const tkm_encoding *e, const char *enc, const char *s, size_t n, size_t want,
                         const char *what) {
    tkm_options o = make_opt(TKM_UTF8_STRICT);
    tkm_result r = make_res();
    tkm_status st = tkm_count_ex(e, s, n, &o, &r);
    if (want == VALID) {
        cr_assert_eq(st, TKM_OK, "%s %s: %s at %zu", enc, what, tkm_status_string(st), r.error_offset);
    } else {
        cr_assert_eq(st, TKM_ERR_INVALID_UTF8, "%s %s: %s", enc, what, tkm_status_string(st));
        cr_assert_eq(r.error_offset, want, "%s %s: offset %zu, want %zu", enc, what, r.error_offset, want);
        cr_assert_eq(r.tokens, 0);
        size_t nid = 0;
        uint32_t ids[64];
        cr_assert_eq(tkm_encode(e, s, n, &o, ids, 64, &nid), TKM_ERR_INVALID_UTF8, "%s %s: encode", enc, what);
    }
    /* the stream, split at every position and byte by byte, agrees */
    for (size_t cut = 0; cut <= n; cut++) {
        for (int bytewise = 0; bytewise < 2; bytewise++) {
            tkm_stream *sm = NULL;
            cr_assert_eq(tkm_stream_open(e, &o, &sm), TKM_OK);
            tkm_status fs = TKM_OK;
            if (bytewise) {
                for (size_t i = 0; i < n && fs == TKM_OK; i++)
                    fs = tkm_stream_feed(sm, s + i, 1, NULL);
            } else {
                fs = tkm_stream_feed(sm, s, cut, NULL);
                if (fs == TKM_OK) fs = tkm_stream_feed(sm, s + cut, n - cut, NULL);
            }
            tkm_result q = make_res();
            tkm_status st2 = tkm_stream_finish(sm, &q);
            tkm_stream_free(sm);
            cr_assert(fs == TKM_OK || fs == st2, "%s %s: feed said %s, finish %s", enc, what, tkm_status_string(fs),
                      tkm_status_string(st2));
            cr_assert_eq(st2, st, "%s %s cut %zu: stream %s, one-shot %s", enc, what, cut, tkm_status_string(st2),
                         tkm_status_string(st));
            if (st2 == TKM_OK)
                cr_assert_eq(q.tokens, r.tokens);
            else
                cr_assert_eq(q.error_offset, r.error_offset, "%s %s cut %zu", enc, what, cut);
            if (bytewise) break;
        }
    }
    /* replacement mode never fails */
    size_t cnt;
    cr_assert_eq(tkm_count(e, s, n, &cnt), TKM_OK, "%s %s: replace mode", enc, what);
    if (n) cr_assert_gt(cnt, 0);
}

Test(strict, first_bad_sequence_offsets) {
    for (size_t k = 0; k < sizeof FAMILY_ENCS / sizeof FAMILY_ENCS[0]; k++) {
        tkm_encoding *e = open_enc(FAMILY_ENCS[k]);
        for (size_t i = 0; i < sizeof UTF8_CASES / sizeof UTF8_CASES[0]; i++) {
            const utf8_case *c = &UTF8_CASES[i];
            check_strict(e, FAMILY_ENCS[k], c->s, c->n, c->off, c->what);
            /* the same case after a prefix of every length (exercises the 8-byte ASCII skip) and
             * before some trailing text */
            for (size_t pre = 1; pre <= 19; pre++) {
                char buf[96];
                char what[128];
                memset(buf, 'a' + (int)(pre % 26), pre);
                memcpy(buf + pre, c->s, c->n);
                memcpy(buf + pre + c->n, " tail words", 11);
                snprintf(what, sizeof what, "%s after %zu letters", c->what, pre);
                check_strict(e, FAMILY_ENCS[k], buf, pre + c->n + 11, c->off == VALID ? VALID : c->off + pre, what);
            }
        }
        /* every lead byte that can never start a sequence */
        for (unsigned b = 0x80; b <= 0xFF; b++) {
            if (b >= 0xC2 && b <= 0xF4) continue;
            char buf[40] = "0123456789 abcdefghijk lmnop";
            buf[27] = (char)b;
            check_strict(e, FAMILY_ENCS[k], buf, 28, 27, "a byte that never starts a sequence");
        }
        tkm_encoding_free(e);
    }
}

Test(strict, late_error_in_long_text) {
    tkm_encoding *e = open_enc("o200k_base");
    size_t n = 1 << 20;
    char *s = malloc(n);
    for (size_t i = 0; i < n; i++)
        s[i] = "the quick brown fox \xC3\xA9 "[i % 23];
    /* the pattern's period is 23 bytes; make sure the copy is well-formed, then break it late */
    for (size_t i = n - 64; i < n; i++)
        s[i] = 'z';
    tkm_options o = make_opt(TKM_UTF8_STRICT);
    tkm_result r = make_res();
    cr_assert_eq(tkm_count_ex(e, s, n, &o, &r), TKM_OK);
    s[n - 7] = (char)0xE0;
    cr_assert_eq(tkm_count_ex(e, s, n, &o, &r), TKM_ERR_INVALID_UTF8);
    cr_assert_eq(r.error_offset, n - 7);
    free(s);
    tkm_encoding_free(e);
}

/* Strict and reject together: every entry point reports the FIRST problem in byte order, whatever
 * the chunking (tkm_stream_finish is documented to equal tkm_count_ex). */
Test(strict, first_problem_in_byte_order_everywhere) {
    tkm_encoding *e = open_enc("cl100k_base");
    static const struct {
        const char *head;
        tkm_status st;
        size_t off;
    } cases[] = {
        {"<|endoftext|> hello \xFF there", TKM_ERR_SPECIAL_TOKEN, 0},
        {"hello \xFF there <|endoftext|>", TKM_ERR_INVALID_UTF8, 6},
        {"a \xC3<|endoftext|>", TKM_ERR_INVALID_UTF8, 2},
    };
    tkm_options o = make_opt(TKM_UTF8_STRICT | TKM_SPECIAL_REJECT);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char t[4096];
        size_t n = strlen(cases[i].head);
        memcpy(t, cases[i].head, n);
        for (int k = 0; k < 100; k++, n += 5)
            memcpy(t + n, " word", 5);
        char what[5][16] = {"count_ex", "count_limit", "encode", "stream", "stream 1 byte"};
        for (int api = 0; api < 5; api++) {
            tkm_result r = make_res();
            tkm_status st;
            size_t off = 0;
            if (api == 0) {
                st = tkm_count_ex(e, t, n, &o, &r);
                off = r.error_offset;
            } else if (api == 1) {
                st = tkm_count_limit(e, t, n, 100000, &o, &r);
                off = r.error_offset;
            } else if (api == 2) {
                uint32_t ids[512];
                st = tkm_encode(e, t, n, &o, ids, 512, &off); /* *n_ids holds the offset on error */
            } else {
                tkm_stream *s = NULL;
                cr_assert_eq(tkm_stream_open(e, &o, &s), TKM_OK);
                size_t step = api == 3 ? n : 1;
                tkm_status fs = TKM_OK;
                for (size_t pos = 0; pos < n && fs == TKM_OK; pos += step)
                    fs = tkm_stream_feed(s, t + pos, n - pos < step ? n - pos : step, NULL);
                st = tkm_stream_finish(s, &r);
                off = r.error_offset;
                tkm_stream_free(s);
            }
            cr_expect(st == cases[i].st && off == cases[i].off,
                      "case %zu (%s...): %s reports %s at %zu, want %s at %zu", i,
                      i == 0 ? "special first" : "bad byte first", what[api], tkm_status_string(st), off,
                      tkm_status_string(cases[i].st), cases[i].off);
        }
    }
    tkm_encoding_free(e);
}

/* ================================================================================================ */
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A .tiktoken file holding the 256 single bytes (ranks 0..255) and "ab" (rank 256). */
static size_t tiny_vocab(char *out) {
    size_t n = 0;
    for (unsigned b = 0; b < 256; b++)
        n += (size_t)sprintf(out + n, "%c%c== %u\n", B64[b >> 2], B64[(b & 3) << 4], b);
    n += (size_t)sprintf(out + n, "YWI= 256\n");
    return n;
}

Test(vocab, load_tiktoken_arguments) {
    char v[4096];
    size_t vn = tiny_vocab(v);
    tkm_encoding *e = NULL;
    cr_assert_eq(tkm_encoding_load_tiktoken(v, vn, TKM_PATTERN_GPT2, NULL, 0, NULL, &e), TKM_OK);
    size_t c;
    cr_assert_eq(tkm_count(e, "ab", 2, &c), TKM_OK);
    cr_assert_eq(c, 1);
    tkm_encoding_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    cr_assert_eq(tkm_encoding_info_get(e, &info), TKM_OK);
    cr_assert_str_eq(info.name, "custom");
    cr_assert_eq(info.n_vocab, 257);
    tkm_encoding_free(e);

    tkm_encoding *x = (tkm_encoding *)junk_block;
    cr_assert_eq(tkm_encoding_load_tiktoken(v, vn, TKM_PATTERN_GPT2, NULL, 0, NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encoding_load_tiktoken(NULL, 10, TKM_PATTERN_GPT2, NULL, 0, NULL, &x), TKM_ERR_INVALID_ARGUMENT);
    cr_assert(x == NULL || x == (tkm_encoding *)junk_block);
    cr_assert_eq(tkm_encoding_load_tiktoken(NULL, SIZE_MAX, TKM_PATTERN_GPT2, NULL, 0, NULL, &x),
                 TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encoding_load_tiktoken(NULL, 0, TKM_PATTERN_GPT2, NULL, 0, NULL, &x), TKM_ERR_BAD_VOCAB);
    cr_assert_eq(tkm_encoding_load_tiktoken(v, 0, TKM_PATTERN_GPT2, NULL, 0, NULL, &x), TKM_ERR_BAD_VOCAB);
    const int bad_pat[] = {0, 4, -1, 255, 0x7FFFFFFF};
    for (size_t i = 0; i < sizeof bad_pat / sizeof bad_pat[0]; i++)
        cr_assert_eq(tkm_encoding_load_tiktoken(v, vn, (tkm_pattern)bad_pat[i], NULL, 0, NULL, &x),
                     TKM_ERR_INVALID_ARGUMENT, "pattern %d", bad_pat[i]);
    cr_assert_eq(tkm_encoding_load_tiktoken(v, vn, TKM_PATTERN_GPT2, NULL, 1, NULL, &x), TKM_ERR_INVALID_ARGUMENT);
    cr_assert_eq(tkm_encoding_load_tiktoken(v, vn, TKM_PATTERN_GPT2, NULL, SIZE_MAX, NULL, &x),
                 TKM_ERR_INVALID_ARGUMENT);
    tkm_special_token sp_null[] = {{NULL, 300}};
    cr_assert_eq(tkm_encoding_load_tiktoken(v, vn, TKM_PATTERN_GPT2, sp_null, 1, NULL, &x), TKM_ERR_INVALID_ARGUMENT);
    tkm_special_token sp_empty[] = {{"", 300}};
    cr_assert_eq(tkm_encoding_load_tiktoken(v, vn, TKM_PATTERN_GPT2, sp_empty, 1, NULL, &x), TKM_ERR_INVALID_ARGUMENT);
    tkm_special_token sp_ok[] = {{"<|end|>", 300}};
    cr_assert_eq(tkm_encoding_load_tiktoken(v, vn, TKM_PATTERN_GPT2, sp_ok, SIZE_MAX, NULL, &x),
                 TKM_ERR_INVALID_ARGUMENT);
    /* a malformed file: every way is a status */
    const char *bad[] = {"!!!! 0\n", "YQ==\n", "YQ== x\n", "YQ==  0\n", "\n", "YQ== 99999999999999999999\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tkm_status st = tkm_encoding_load_tiktoken(bad[i], strlen(bad[i]), TKM_PATTERN_GPT2, NULL, 0, NULL, &x);
        cr_assert(st == TKM_ERR_BAD_VOCAB, "'%s': %s", bad[i], tkm_status_string(st));
    }
}

/* n_vocab is a uint32_t: a special id of 0xFFFFFFFF has no n_vocab that covers it. */
Test(vocab, special_id_at_uint32_max) {
    char v[4096];
    size_t vn = tiny_vocab(v);
    tkm_special_token sp[] = {{"<|end|>", 0xFFFFFFFFu}};
    tkm_encoding *e = NULL;
    tkm_status st = tkm_encoding_load_tiktoken(v, vn, TKM_PATTERN_GPT2, sp, 1, NULL, &e);
    if (st == TKM_OK) {
        tkm_encoding_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        cr_assert_eq(tkm_encoding_info_get(e, &info), TKM_OK);
        tkm_encoding_free(e);
        cr_expect_fail("special id 0xFFFFFFFF accepted: n_vocab wrapped to %u (ids are documented to be in "
                       "[0, n_vocab))",
                       info.n_vocab);
    } else {
        cr_expect(st == TKM_ERR_INVALID_ARGUMENT || st == TKM_ERR_BAD_VOCAB, "%s", tkm_status_string(st));
    }
}

/* ================================================================================================ */
/* Inputs over 4 GiB. */
#define MIB ((size_t)1 << 20)

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct big_map {
    unsigned char *base;
    size_t len;
} big_map;

/* Map `copies` copies of pat[0..plen) (plen a multiple of the page size) back to back, all backed
 * by the same physical pages. Returns 0 and fills *m, or -1 with a reason in why. */
static int map_repeated(const void *pat, size_t plen, size_t copies, big_map *m, char *why, size_t why_len) {
    if (SIZE_MAX / copies < plen) {
        snprintf(why, why_len, "size_t cannot hold %zu x %zu bytes", copies, plen);
        return -1;
    }
    int fd = memfd_create("tkm_misuse", 0);
    if (fd < 0) {
        FILE *t = tmpfile();
        fd = t ? dup(fileno(t)) : -1;
        if (t) fclose(t);
    }
    if (fd < 0) {
        snprintf(why, why_len, "no memfd or temporary file: %s", strerror(errno));
        return -1;
    }
    for (size_t done = 0; done < plen;) {
        ssize_t w = write(fd, (const char *)pat + done, plen - done);
        if (w <= 0) {
            snprintf(why, why_len, "writing the pattern: %s", strerror(errno));
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    size_t len = plen * copies;
    unsigned char *base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        snprintf(why, why_len, "reserving %zu bytes of address space: %s", len, strerror(errno));
        close(fd);
        return -1;
    }
    for (size_t i = 0; i < copies; i++) {
        if (mmap(base + i * plen, plen, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
            snprintf(why, why_len, "mapping copy %zu of %zu: %s (vm.max_map_count?)", i, copies, strerror(errno));
            munmap(base, len);
            close(fd);
            return -1;
        }
    }
    close(fd);
    m->base = base;
    m->len = len;
    return 0;
}

static void map_or_skip(const void *pat, size_t plen, size_t copies, big_map *m) {
    char why[256];
    if (map_repeated(pat, plen, copies, m, why, sizeof why) != 0)
        cr_skip_test("cannot build a %.2f GiB input on this machine: %s", (double)plen * (double)copies / (1 << 30),
                     why);
}

/* 4.5 GiB of NUL bytes: NUL is [^\s\p{L}\p{N}], so in every family the whole input is ONE pre-token,
 * over the documented 2 GiB single-piece limit: TKM_ERR_UNSUPPORTED, without allocating it. */
static void nul_run(const char *enc_name) {
    unsigned char *pat = calloc(1, 4 * MIB);
    big_map m;
    map_or_skip(pat, 4 * MIB, 1152, &m); /* 4.5 GiB */
    tkm_encoding *e = open_enc(enc_name);
    probe p;
    memset(&p, 0, sizeof p);
    p.limit = 64 * MIB;
    tkm_allocator a = {probe_alloc, probe_free, &p};
    tkm_options o = make_opt(0);
    o.allocator = &a;
    tkm_result r = make_res();
    double t0 = now_s();
    tkm_status st = tkm_count_ex(e, m.base, m.len, &o, &r);
    double dt = now_s() - t0;
    cr_log_info("%s: 4.5 GiB of NUL: %s in %.1f s, largest allocation request %zu bytes", enc_name,
                tkm_status_string(st), dt, p.largest);
    cr_assert_eq(st, TKM_ERR_UNSUPPORTED, "%s: %s", enc_name, tkm_status_string(st));
    cr_assert_leq(p.largest, p.limit, "%s: asked for %zu bytes", enc_name, p.largest);
    cr_assert_eq(p.live, 0);
    cr_assert_lt(dt, 90.0, "%s: %.1f s to refuse", enc_name, dt);
    tkm_encoding_free(e);
    munmap(m.base, m.len);
    free(pat);
}

Test(huge, nul_run_o200k, .timeout = 180) {
    nul_run("o200k_base");
}
Test(huge, nul_run_cl100k, .timeout = 180) {
    nul_run("cl100k_base");
}
Test(huge, nul_run_gpt2, .timeout = 180) {
    nul_run("r50k_base");
}

/* 2 GiB + 4 MiB of 0xFF: one pre-token of U+FFFD in replacement mode. Also over the limit: the
 * answer must be UNSUPPORTED without first allocating a repaired copy (3 bytes per input byte). */
Test(huge, ill_formed_run_over_the_limit, .timeout = 180) {
    unsigned char *pat = malloc(4 * MIB);
    memset(pat, 0xFF, 4 * MIB);
    big_map m;
    map_or_skip(pat, 4 * MIB, 513, &m);
    tkm_encoding *e = open_enc("o200k_base");
    tkm_options o = make_opt(TKM_UTF8_STRICT);
    tkm_result r = make_res();
    cr_assert_eq(tkm_count_ex(e, m.base, m.len, &o, &r), TKM_ERR_INVALID_UTF8);
    cr_assert_eq(r.error_offset, 0);
    probe p;
    memset(&p, 0, sizeof p);
    p.limit = 256 * MIB;
    tkm_allocator a = {probe_alloc, probe_free, &p};
    o = make_opt(0);
    o.allocator = &a;
    double t0 = now_s();
    tkm_status st = tkm_count_ex(e, m.base, m.len, &o, &r);
    cr_log_info("2 GiB of 0xFF: %s in %.1f s, largest allocation request %zu bytes", tkm_status_string(st),
                now_s() - t0, p.largest);
    cr_expect_eq(st, TKM_ERR_UNSUPPORTED, "%s (largest allocation request: %zu bytes)", tkm_status_string(st),
                 p.largest);
    cr_expect_leq(p.largest, p.limit, "asked for %zu bytes before refusing a piece over the limit", p.largest);
    cr_assert_eq(p.live, 0);
    tkm_encoding_free(e);
    munmap(m.base, m.len);
    free(pat);
}

/* A 1 MiB page of ordinary mixed text whose pieces never straddle its end. */
static unsigned char *text_page(size_t plen) {
    static const char *const lines[] = {
        "The quick brown fox jumps over the lazy dog; it's 12345 metres, isn't it?\n",
        ("Caf\xC3\xA9 na\xC3\xAFve r\xC3\xA9sum\xC3\xA9 \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E "
         "\xF0\x9F\x98\x80\xF0\x9F\x91\x8D\r\n"),
        "    def f(x):  return x ** 2  # comment\t\t\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n",
        "\xD0\x9C\xD0\xBD\xD0\xBE\xD0\xB3\xD0\xBE \xD1\x82\xD0\xB5\xD0\xBA\xD1\x81\xD1\x82\xD0\xB0, WE'LL SEE.\n",
    };
    /* mostly a fast word (one whole-piece lookup per 12 bytes) to keep the test under ~15 s */
    static const char filler[] = " information";
    unsigned char *p = malloc(plen);
    size_t n = 0;
    for (size_t i = 0;; i++) {
        const char *l = lines[i % (sizeof lines / sizeof lines[0])];
        size_t ll = strlen(l);
        if (n + ll + 400 * (sizeof filler - 1) + 2 > plen) break;
        memcpy(p + n, l, ll);
        n += ll;
        p[n++] = 'X';
        for (int k = 0; k < 400; k++, n += sizeof filler - 1)
            memcpy(p + n, filler, sizeof filler - 1);
        p[n++] = '\n';
    }
    memset(p + n, ' ', plen - n);
    p[plen - 1] = '\n';
    return p;
}

/* 4 GiB + 4 MiB of ordinary text: many small pieces; the count must be exact past 2^32 bytes. */
Test(huge, text_over_4gib, .timeout = 240) {
    const size_t plen = 4 * MIB, copies = 1025;
    unsigned char *pat = text_page(plen);
    tkm_encoding *e = open_enc("o200k_base");
    size_t one = 0, three = 0;
    cr_assert_eq(tkm_count(e, pat, plen, &one), TKM_OK);
    unsigned char *x3 = malloc(3 * plen);
    for (int i = 0; i < 3; i++)
        memcpy(x3 + (size_t)i * plen, pat, plen);
    cr_assert_eq(tkm_count(e, x3, 3 * plen, &three), TKM_OK);
    free(x3);
    cr_assert_eq(three, 3 * one, "the test page's pieces straddle its end (%zu vs 3 x %zu)", three, one);
    big_map m;
    map_or_skip(pat, plen, copies, &m);
    cr_assert_gt(m.len, (size_t)1 << 32);
    tkm_result r = make_res();
    double t0 = now_s();
    tkm_status st = tkm_count_ex(e, m.base, m.len, NULL, &r);
    double dt = now_s() - t0;
    cr_log_info("o200k_base: %zu bytes of text: %s, %zu tokens in %.1f s", m.len, tkm_status_string(st), r.tokens, dt);
    cr_assert_eq(st, TKM_OK);
    cr_assert_eq(r.bytes, m.len);
    cr_assert_eq(r.tokens, one * copies, "%zu tokens, want %zu x %zu = %zu", r.tokens, one, copies, one * copies);
    tkm_encoding_free(e);
    munmap(m.base, m.len);
    free(pat);
}
