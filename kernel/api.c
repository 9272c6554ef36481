/*
 * api.c - encodings, models, handles, decoding, status strings and version.
 *
 * Built-in handles point at const tables compiled into the library; opening one allocates a
 * small handle (so that the per-handle kernel choice of arch/ can live in it) and parses nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "../arch/arch.h"

#include "encoding.h"

/* ---- version and status -------------------------------------------------------------------- */
#define TKM_STR2(x) #x
#define TKM_STR(x) TKM_STR2(x)

TKM_API const char *tkm_version_string(void) {
    return TKM_STR(TKM_VERSION_MAJOR) "." TKM_STR(TKM_VERSION_MINOR) "." TKM_STR(TKM_VERSION_PATCH);
}

TKM_API unsigned tkm_version_number(void) { return TKM_VERSION_NUMBER; }

TKM_API const char *tkm_status_string(tkm_status status) {
    switch (status) {
    case TKM_OK: return "success";
    case TKM_ERR_INVALID_ARGUMENT: return "invalid argument";
    case TKM_ERR_UNKNOWN_ENCODING: return "unknown encoding";
    case TKM_ERR_UNKNOWN_MODEL: return "unknown model";
    case TKM_ERR_NO_MEMORY: return "out of memory";
    case TKM_ERR_INVALID_UTF8: return "invalid UTF-8";
    case TKM_ERR_SPECIAL_TOKEN: return "input contains a special token";
    case TKM_ERR_INVALID_TOKEN: return "invalid token id";
    case TKM_ERR_BUFFER_TOO_SMALL: return "output buffer too small";
    case TKM_ERR_LIMIT_EXCEEDED: return "token limit exceeded";
    case TKM_ERR_BAD_VOCAB: return "malformed vocabulary";
    case TKM_ERR_UNSUPPORTED: return "unsupported";
    case TKM_ERR_INVALID_HANDLE: return "invalid or freed handle";
    case TKM_ERR_INTERNAL: return "internal error";
    case TKM_ERR_BAD_JSON: return "malformed JSON";
    case TKM_ERR_BAD_REQUEST: return "malformed request";
    case TKM_ERR_TOO_LARGE: return "request too large or too deeply nested";
    case TKM_ERR_BAD_PRICES: return "malformed price table";
    }
    return "unknown status";
}

/* ---- the built-in encodings ---------------------------------------------------------------- */
static const tkm_builtin builtins[] = {
    {"o200k_base", TKM_PATTERN_O200K, &tkm_ranks_o200k_base, &tkm_specials_o200k_base},
    {"cl100k_base", TKM_PATTERN_CL100K, &tkm_ranks_cl100k_base, &tkm_specials_cl100k_base},
    {"o200k_harmony", TKM_PATTERN_O200K, &tkm_ranks_o200k_base, &tkm_specials_o200k_harmony},
    {"p50k_base", TKM_PATTERN_GPT2, &tkm_ranks_p50k_base, &tkm_specials_p50k_base},
    {"p50k_edit", TKM_PATTERN_GPT2, &tkm_ranks_p50k_base, &tkm_specials_p50k_edit},
    {"r50k_base", TKM_PATTERN_GPT2, &tkm_ranks_r50k_base, &tkm_specials_r50k_base},
};
#define N_BUILTINS (sizeof builtins / sizeof builtins[0])

static const char *const builtin_names[] = {"o200k_base", "cl100k_base", "o200k_harmony", "p50k_base",
                                            "p50k_edit", "r50k_base", NULL};

TKM_API const char *const *tkm_encoding_names(void) { return builtin_names; }

/* ---- models: tiktoken's model table (tiktoken/model.py), plus newer model families ---------- */
typedef struct model_entry {
    const char *name;
    const char *encoding;
    int prefix;
} model_entry;

static const model_entry models[] = {
    /* reasoning and chat */
    {"o1", "o200k_base", 0}, {"o3", "o200k_base", 0}, {"o4-mini", "o200k_base", 0},
    {"gpt-5", "o200k_base", 0}, {"gpt-4.1", "o200k_base", 0}, {"gpt-4.5", "o200k_base", 0},
    {"gpt-4o", "o200k_base", 0}, {"chatgpt-4o-latest", "o200k_base", 0},
    {"gpt-4", "cl100k_base", 0}, {"gpt-3.5-turbo", "cl100k_base", 0}, {"gpt-3.5", "cl100k_base", 0},
    {"gpt-35-turbo", "cl100k_base", 0},
    /* base */
    {"davinci-002", "cl100k_base", 0}, {"babbage-002", "cl100k_base", 0},
    /* embeddings */
    {"text-embedding-ada-002", "cl100k_base", 0}, {"text-embedding-3-small", "cl100k_base", 0},
    {"text-embedding-3-large", "cl100k_base", 0},
    /* legacy text, code and edit models (tiktoken's table) */
    {"text-davinci-003", "p50k_base", 0}, {"text-davinci-002", "p50k_base", 0},
    {"text-davinci-001", "r50k_base", 0}, {"text-curie-001", "r50k_base", 0},
    {"text-babbage-001", "r50k_base", 0}, {"text-ada-001", "r50k_base", 0},
    {"davinci", "r50k_base", 0}, {"curie", "r50k_base", 0}, {"babbage", "r50k_base", 0}, {"ada", "r50k_base", 0},
    {"code-davinci-002", "p50k_base", 0}, {"code-davinci-001", "p50k_base", 0},
    {"code-cushman-002", "p50k_base", 0}, {"code-cushman-001", "p50k_base", 0},
    {"davinci-codex", "p50k_base", 0}, {"cushman-codex", "p50k_base", 0},
    {"text-davinci-edit-001", "p50k_edit", 0}, {"code-davinci-edit-001", "p50k_edit", 0},
    {"text-similarity-davinci-001", "r50k_base", 0}, {"text-similarity-curie-001", "r50k_base", 0},
    {"text-similarity-babbage-001", "r50k_base", 0}, {"text-similarity-ada-001", "r50k_base", 0},
    {"text-search-davinci-doc-001", "r50k_base", 0}, {"text-search-curie-doc-001", "r50k_base", 0},
    {"text-search-babbage-doc-001", "r50k_base", 0}, {"text-search-ada-doc-001", "r50k_base", 0},
    {"code-search-babbage-code-001", "r50k_base", 0}, {"code-search-ada-code-001", "r50k_base", 0},
    {"gpt2", "r50k_base", 0}, {"gpt-2", "r50k_base", 0},
    /* prefixes (longest match wins) */
    {"o1-", "o200k_base", 1}, {"o3-", "o200k_base", 1}, {"o4-", "o200k_base", 1},
    {"gpt-5", "o200k_base", 1}, {"gpt-4.1", "o200k_base", 1}, {"gpt-4.5", "o200k_base", 1},
    {"gpt-4o", "o200k_base", 1}, {"chatgpt-4o-", "o200k_base", 1},
    {"gpt-4-", "cl100k_base", 1}, {"gpt-3.5-turbo-", "cl100k_base", 1}, {"gpt-35-turbo-", "cl100k_base", 1},
    {"text-embedding-3-", "cl100k_base", 1},
    {"gpt-oss-", "o200k_harmony", 1},
    {"ft:gpt-4o", "o200k_base", 1}, {"ft:gpt-4.1", "o200k_base", 1}, {"ft:gpt-4", "cl100k_base", 1},
    {"ft:gpt-3.5-turbo", "cl100k_base", 1}, {"ft:davinci-002", "cl100k_base", 1},
    {"ft:babbage-002", "cl100k_base", 1},
};
#define N_MODELS (sizeof models / sizeof models[0])

TKM_API const char *tkm_model_at(size_t i, const char **encoding_name, int *is_prefix) {
    if (i >= N_MODELS) return NULL;
    if (encoding_name) *encoding_name = models[i].encoding;
    if (is_prefix) *is_prefix = models[i].prefix;
    return models[i].name;
}

TKM_API tkm_status tkm_model_encoding_name(const char *model, const char **name) {
    if (!model || !name) return TKM_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < N_MODELS; i++)
        if (!models[i].prefix && strcmp(models[i].name, model) == 0) {
            *name = models[i].encoding;
            return TKM_OK;
        }
    size_t best_len = 0;
    const char *best = NULL;
    for (size_t i = 0; i < N_MODELS; i++) {
        size_t l = strlen(models[i].name);
        if (models[i].prefix && l > best_len && strncmp(models[i].name, model, l) == 0) {
            best_len = l;
            best = models[i].encoding;
        }
    }
    if (!best) return TKM_ERR_UNKNOWN_MODEL;
    *name = best;
    return TKM_OK;
}

/* ---- handles ------------------------------------------------------------------------------- */
static int pattern_known(tkm_pattern p) {
    return p == TKM_PATTERN_GPT2 || p == TKM_PATTERN_CL100K || p == TKM_PATTERN_O200K;
}

/* Fill the derived fields; 0 if the vocabulary lacks a single byte (BPE could not finish). */
static int finish_handle(tkm_encoding *e) {
    for (unsigned b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        e->byte_rank[b] = tkm_ranks_find(e->ranks, &byte, 1);
        if (e->byte_rank[b] == TKM_RANK_NONE) return 0;
    }
    memset(e->special_first, 0, sizeof e->special_first);
    for (uint32_t i = 0; i < e->n_specials; i++) {
        uint8_t b = (uint8_t)e->specials[i].text[0];
        e->special_first[b >> 3] |= (uint8_t)(1u << (b & 7));
    }
    e->magic = TKM_MAGIC_OPEN;
    return 1;
}

static tkm_status open_builtin(const char *name, const char *kernel, tkm_encoding **out) {
    if (!name || !out) return TKM_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (strcmp(name, "gpt2") == 0) name = "r50k_base";
    const tkm_builtin *b = NULL;
    for (size_t i = 0; i < N_BUILTINS; i++)
        if (strcmp(builtins[i].name, name) == 0) b = &builtins[i];
    if (!b) return TKM_ERR_UNKNOWN_ENCODING;
    tkm_encoding *e = (tkm_encoding *)calloc(1, sizeof *e);
    if (!e) return TKM_ERR_NO_MEMORY;
    e->name = b->name;
    e->pattern = b->pattern;
    if (!tkm_arch_select((int)b->pattern, kernel, &e->split, &e->lookup, &e->bpe_batch, &e->validate, &e->kernel)) {
        free(e);
        return TKM_ERR_UNSUPPORTED;
    }
    e->ranks = b->ranks;
    e->hot = tkm_hot_of(b->ranks);
    e->specials = b->specials->items;
    e->n_specials = b->specials->count;
    e->n_vocab = b->specials->n_vocab;
    if (!finish_handle(e)) {
        free(e);
        return TKM_ERR_INTERNAL;
    }
    *out = e;
    return TKM_OK;
}

TKM_API tkm_status tkm_encoding_open(const char *name, tkm_encoding **out) {
    return open_builtin(name, NULL, out);
}

TKM_API tkm_status tkm_encoding_open_kernel(const char *name, const char *kernel, tkm_encoding **out) {
    if (!kernel) return out ? (*out = NULL, TKM_ERR_INVALID_ARGUMENT) : TKM_ERR_INVALID_ARGUMENT;
    return open_builtin(name, kernel, out);
}

TKM_API tkm_status tkm_encoding_kernel(const tkm_encoding *e, const char **kernel) {
    tkm_status st = tkm_check_handle(e);
    if (st != TKM_OK) return st;
    if (!kernel) return TKM_ERR_INVALID_ARGUMENT;
    *kernel = e->kernel;
    return TKM_OK;
}

TKM_API const char *tkm_kernel_at(size_t i, unsigned *flags) {
    const tkm_kernel *const *ks = tkm_arch_kernels();
    for (size_t j = 0; j <= i; j++)
        if (!ks[j]) return NULL;
    unsigned f = 0;
    if (ks[i]->cpu_ok()) f |= TKM_KERNEL_USABLE;
    if (ks[i]->native) f |= TKM_KERNEL_NATIVE;
    if (ks[i] == tkm_arch_default()) f |= TKM_KERNEL_DEFAULT;
    if (flags) *flags = f;
    return ks[i]->name;
}

TKM_API tkm_status tkm_encoding_open_for_model(const char *model, tkm_encoding **out) {
    const char *name;
    if (!out) return TKM_ERR_INVALID_ARGUMENT;
    *out = NULL;
    tkm_status st = tkm_model_encoding_name(model, &name);
    return st == TKM_OK ? tkm_encoding_open(name, out) : st;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = (char *)malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}


TKM_API void tkm_encoding_free(tkm_encoding *e) {
    if (!e || e->magic != TKM_MAGIC_OPEN) return;
    e->magic = TKM_MAGIC_FREED;
    if (e->owns) {
        tkm_ranks_destroy(&e->own_ranks, tkm_default_free, NULL);
        if (e->own_specials)
            for (uint32_t i = 0; i < e->n_specials; i++) free((void *)e->own_specials[i].text);
        free(e->own_specials);
        free(e->own_name);
    }
    free(e);
}

TKM_API tkm_status tkm_encoding_load_tiktoken(const void *data, size_t len, tkm_pattern pattern,
                                              const tkm_special_token *specials, size_t n_specials,
                                              const char *name, tkm_encoding **out) {
    if (!out) return TKM_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if ((!data && len) || (!specials && n_specials) || !pattern_known(pattern) || n_specials > 0x100000)
        return TKM_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < n_specials; i++)
        /* id UINT32_MAX: no uint32_t n_vocab covers it (ids are in [0, n_vocab)) */
        if (!specials[i].text || !specials[i].text[0] || strlen(specials[i].text) > 0xFFFF ||
            specials[i].id == UINT32_MAX)
            return TKM_ERR_INVALID_ARGUMENT;
    tkm_encoding *e = (tkm_encoding *)calloc(1, sizeof *e);
    if (!e) return TKM_ERR_NO_MEMORY;
    e->owns = 1;
    size_t line = 0;
    int rc = tkm_ranks_build(data, len, tkm_table_alloc, tkm_default_free, NULL, &e->own_ranks, &line);
    if (rc != 0) {
        free(e);
        return rc == -1 ? TKM_ERR_NO_MEMORY : TKM_ERR_BAD_VOCAB;
    }
    e->ranks = &e->own_ranks;
    e->pattern = pattern;
    if (!tkm_arch_select((int)pattern, NULL, &e->split, &e->lookup, &e->bpe_batch, &e->validate, &e->kernel)) {
        tkm_ranks_destroy(&e->own_ranks, tkm_default_free, NULL);
        free(e);
        return TKM_ERR_UNSUPPORTED;
    }
    uint32_t n_vocab = e->own_ranks.n_ranks;
    e->own_specials = n_specials ? (tkm_special *)calloc(n_specials, sizeof(tkm_special)) : NULL;
    e->own_name = dup_str(name ? name : "custom");
    if ((n_specials && !e->own_specials) || !e->own_name) goto nomem;
    for (size_t i = 0; i < n_specials; i++) {
        e->own_specials[i].text = dup_str(specials[i].text);
        if (!e->own_specials[i].text) goto nomem;
        e->own_specials[i].len = (uint32_t)strlen(specials[i].text);
        e->own_specials[i].id = specials[i].id;
        e->n_specials = (uint32_t)(i + 1);
        if (specials[i].id >= n_vocab) n_vocab = specials[i].id + 1;
    }
    e->specials = e->own_specials;
    e->n_vocab = n_vocab;
    e->name = e->own_name;
    e->magic = TKM_MAGIC_OPEN;
    if (!finish_handle(e)) {
        tkm_encoding_free(e);
        return TKM_ERR_BAD_VOCAB;
    }
    *out = e;
    return TKM_OK;
nomem:
    e->magic = TKM_MAGIC_OPEN;
    tkm_encoding_free(e);
    return TKM_ERR_NO_MEMORY;
}

TKM_API tkm_status tkm_encoding_info_get(const tkm_encoding *e, tkm_encoding_info *info) {
    tkm_status st = tkm_check_handle(e);
    if (st != TKM_OK) return st;
    if (!info || info->struct_size < sizeof(tkm_encoding_info)) return TKM_ERR_INVALID_ARGUMENT;
    info->name = e->name;
    info->n_vocab = e->n_vocab;
    info->n_ranks = e->ranks->n_tokens;
    info->n_specials = e->n_specials;
    info->max_token_bytes = e->ranks->max_len;
    info->pattern = e->pattern;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        info->vocab_sha256[2 * i] = hex[e->ranks->sha256[i] >> 4];
        info->vocab_sha256[2 * i + 1] = hex[e->ranks->sha256[i] & 15];
    }
    info->vocab_sha256[64] = 0;
    return TKM_OK;
}

/* ---- decoding ------------------------------------------------------------------------------ */
static const tkm_special *special_by_id(const tkm_encoding *e, uint32_t id) {
    for (uint32_t i = 0; i < e->n_specials; i++)
        if (e->specials[i].id == id) return &e->specials[i];
    return NULL;
}

TKM_API tkm_status tkm_decode(const tkm_encoding *e, const uint32_t *ids, size_t n_ids, void *out, size_t capacity,
                              size_t *n_bytes) {
    tkm_status st = tkm_check_handle(e);
    if (st != TKM_OK) return st;
    if (!n_bytes || (!ids && n_ids) || (!out && capacity)) return TKM_ERR_INVALID_ARGUMENT;
    uint8_t *o = (uint8_t *)out;
    size_t total = 0;
    for (size_t i = 0; i < n_ids; i++) {
        const uint8_t *p = NULL;
        size_t len = 0;
        if (ids[i] < e->ranks->n_ranks) p = tkm_ranks_bytes(e->ranks, ids[i], &len);
        if (!len) {
            const tkm_special *sp = special_by_id(e, ids[i]);
            if (!sp) {
                *n_bytes = i;
                return TKM_ERR_INVALID_TOKEN;
            }
            p = (const uint8_t *)sp->text;
            len = sp->len;
        }
        if (total < capacity) memcpy(o + total, p, len <= capacity - total ? len : capacity - total);
        total += len;
    }
    *n_bytes = total;
    return total > capacity ? TKM_ERR_BUFFER_TOO_SMALL : TKM_OK;
}
