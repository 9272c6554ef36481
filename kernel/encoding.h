/*
 * encoding.h - the insides of a tkm_encoding handle and the counting driver (internal).
 */
#ifndef TKM_ENCODING_H
#define TKM_ENCODING_H
#include <stddef.h>
#include <stdint.h>

#include "../include/tokmeter.h"
#include "bpe.h"
#include "pretok.h"
#include "vocab.h"

#define TKM_MAGIC_OPEN 0x746B6D65u /* "tkme" */
#define TKM_MAGIC_FREED 0xDEADC0DEu

/* A built-in encoding: what tkm_encoding_open copies into a handle. */
typedef struct tkm_builtin {
    const char *name;
    tkm_pattern pattern;
    const tkm_ranks *ranks;
    const tkm_specials *specials;
} tkm_builtin;

struct tkm_encoding {
    uint32_t magic;
    tkm_pattern pattern;
    tkm_split_fn split;     /* the pre-tokenizer: pieces, many per call, from the kernel chosen at open */
    tkm_lookup_fn lookup;   /* its whole-piece lookup of a batch, or NULL (count.c's scalar one) */
    tkm_bpe_batch_fn bpe_batch; /* its batch merge (kernel/bpe_batch.h); never NULL */
    tkm_validate_fn validate;   /* its UTF-8 check (same answers as tkm_utf8_first_invalid); never NULL */
    const char *kernel;     /* that kernel's name (static) */
    const char *name;
    const tkm_ranks *ranks;
    struct tkm_hot *hot;    /* a built-in vocabulary's copy in huge pages (api.c), or NULL */
    const tkm_special *specials;
    uint32_t n_specials;
    uint32_t n_vocab;
    uint32_t byte_rank[256]; /* rank of each single byte (every vocabulary has all 256) */
    uint8_t special_first[32]; /* bitmap of the first bytes of special tokens */
    /* owned storage (tkm_encoding_load_tiktoken) */
    int owns;
    tkm_ranks own_ranks;
    tkm_special *own_specials;
    char *own_name;
};

/* Per-call working memory; released by tkm_work_release. */
typedef struct tkm_work {
    const tkm_ranks *v; /* this call's tables: e->ranks or its copy (tkm_tables_for), set by tkm_run */
    tkm_bpe_work bpe;
    uint8_t *rep; /* repaired piece bytes (ill-formed UTF-8 -> U+FFFD) */
    size_t rep_cap;
    uint32_t *tmp; /* ids of one piece when the caller's buffer is too short */
    size_t tmp_cap;
    /* counting only: BPE results of recent pieces (see count.c), allocated once the call has
     * seen TKM_PCACHE_AFTER bytes; NULL before (or if the allocation failed: it is optional) */
    struct tkm_pcache_entry *pcache;
    struct tkm_scache_line *scache; /* pieces of up to TKM_FAST_MAX bytes; same allocation as pcache */
    void *pcache_mem;               /* that allocation, as the allocator returned it */
    size_t seen;
    int pcache_tried;
    /* counting only, whole text (no limit): pieces that need BPE, TKM_BPE_BATCH at a time looked
     * up in the piece cache and the rest merged together (tkm_bpe_count_batch); they point into
     * the caller's text or into a part repaired whole into rep, which is flushed before rep is
     * reused (count.c, emit_merged's `stable`) */
    int defer;
    uint32_t n_deferred;
    const uint8_t *deferred[TKM_BPE_BATCH];
    uint8_t deferred_len[TKM_BPE_BATCH];
} tkm_work;

/* malloc/free with the allocator-hook signature. */
void *tkm_default_alloc(void *opaque, size_t size);
void tkm_default_free(void *opaque, void *p);
/* The same for vocabulary tables: blocks of 2 MiB or more in transparent huge pages (count.c). */
void *tkm_table_alloc(void *opaque, size_t size);

/* The tables a call on n bytes of text counts with, for a handle of a built-in encoding (e->hot):
 * e->ranks, or once the process has counted enough with that vocabulary, the same tables copied
 * into huge pages (api.c). Every call sees tables with the same contents. */
const tkm_ranks *tkm_tables_for(const tkm_encoding *e, size_t n);
/* The copy's state for built-in table base (tables.c), or NULL for any other table. */
struct tkm_hot *tkm_hot_of(const tkm_ranks *base);

void tkm_work_init(tkm_work *w, const tkm_options *opt);
void tkm_work_release(tkm_work *w);
/* Release the scratch buffers (merge, repair, ids) that hold more than `keep` bytes; the piece
 * cache stays. tkm_work_release is tkm_work_trim(w, 0) and the piece cache. */
void tkm_work_trim(tkm_work *w, size_t keep);

/* An object that keeps a tkm_work from call to call (a stream, a counter): checks the handle and
 * the options (*flags), initialises *w under them and allocates the object - `size` zeroed bytes
 * - from their allocator. On failure *obj is NULL. tkm_object_free releases w, then the object
 * (w may be the object's own member). */
tkm_status tkm_object_open(const tkm_encoding *enc, const tkm_options *opt, size_t size, void **obj, uint32_t *flags,
                           tkm_work *w);
void tkm_object_free(tkm_work *w, void *obj);

/* Where tokens go: counted only (ids == NULL), or written up to cap while n keeps counting.
 * Counting stops with TKM_ERR_LIMIT_EXCEEDED after the piece that takes n above limit
 * (SIZE_MAX: no limit); stop is then the byte offset (from origin) where it stopped. */
typedef struct tkm_sink {
    uint32_t *ids;
    size_t cap;
    size_t n;
    size_t limit;
    const uint8_t *origin;
    size_t stop;       /* on TKM_ERR_LIMIT_EXCEEDED: end of the piece that crossed the limit */
    size_t last_start; /* ... its start (offset from origin) */
    size_t last_n;     /* ... and its token count (1 for a special token) */
    int last_special;
} tkm_sink;
#define TKM_SINK_INIT(ids, cap, origin) {(ids), (cap), 0, SIZE_MAX, (const uint8_t *)(origin), 0, 0, 0, 0}

/* Index of the first ill-formed UTF-8 byte in s[0..n), or n if the text is well-formed. */
size_t tkm_utf8_first_invalid(const uint8_t *s, size_t n);

/* Tokenize s[0..n) under opt (flags already validated), adding to *k. On error, *err_off is set
 * (offset within s) for TKM_ERR_INVALID_UTF8 / TKM_ERR_SPECIAL_TOKEN. With a limit in *k the text
 * is validated piece by piece as it is reached (never ahead of the stop), so strict mode reports
 * ill-formed UTF-8 only in the part scanned. */
tkm_status tkm_run(const tkm_encoding *e, const uint8_t *s, size_t n, uint32_t flags, tkm_work *w, tkm_sink *k,
                   size_t *err_off);

/* One count of text[0..len), len >= 1, in w (arguments already checked, result zeroed): the whole
 * text (limit SIZE_MAX) or up to a limit; the result filled as tkm_count_ex / tkm_count_limit
 * fill it; *sink_out (may be NULL) gets the sink, for tkm_truncate. */
tkm_status tkm_count_with(const tkm_encoding *enc, tkm_work *w, const void *text, size_t len, size_t limit,
                          uint32_t flags, tkm_result *result, tkm_sink *sink_out);

/* Validation shared by the entry points. */
tkm_status tkm_check_handle(const tkm_encoding *e);
tkm_status tkm_check_options(const tkm_options *opt, uint32_t *flags);
/* The checks of a counting call (handle, result, text, options) in their order; on TKM_OK the
 * result is zeroed and *flags set. */
tkm_status tkm_check_count_args(const tkm_encoding *enc, const void *text, size_t len, const tkm_options *opt,
                                tkm_result *result, uint32_t *flags);

#endif
