/*
 * tokmeter.h - exact LLM token counting (the one public header).
 *
 * C99, usable from C++. Every symbol is prefixed tkm_ / TKM_.
 *
 * Contract, in short:
 *  - An encoding handle (tkm_encoding) is opaque and immutable once opened; any number of threads
 *    may use one handle at the same time without locks.
 *  - Every function that can fail returns a tkm_status. Results are written through out-pointers
 *    and only when TKM_OK is returned (or where a function documents otherwise). A count is never
 *    signalled in-band: there is no "-1 means error".
 *  - The library never prints, exits, aborts, or reads files. Input is bytes plus a length; it
 *    need not be NUL-terminated and may contain NUL bytes.
 *  - Status values are pinned and append-only; the numbers below never change meaning.
 *
 * Input policy (see tkm_options.flags):
 *  - Default: bytes are read as UTF-8 with WHATWG replacement: each maximal ill-formed
 *    subsequence counts as U+FFFD; a BOM is an ordinary character. The count equals tiktoken's
 *    encode_ordinary(data.decode("utf-8", "replace")).
 *  - TKM_UTF8_STRICT: ill-formed UTF-8 is an error (TKM_ERR_INVALID_UTF8) and the byte offset of
 *    the first bad sequence is reported in tkm_result.error_offset.
 *  - When a text has several problems (strict mode and reject mode together), the one that comes
 *    first in the text is reported, by every entry point alike.
 *  - Special-token strings (e.g. "<|endoftext|>") are ordinary text by default, as provider APIs
 *    treat user content. TKM_SPECIAL_ALLOW recognises them as single special tokens;
 *    TKM_SPECIAL_REJECT fails with TKM_ERR_SPECIAL_TOKEN (offset in error_offset).
 */
#ifndef TOKMETER_H
#define TOKMETER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version (read by CMake; defined once, here) ------------------------------------------ */
#define TKM_VERSION_MAJOR 0
#define TKM_VERSION_MINOR 1
#define TKM_VERSION_PATCH 0
#define TKM_VERSION_NUMBER (TKM_VERSION_MAJOR * 10000 + TKM_VERSION_MINOR * 100 + TKM_VERSION_PATCH)

/* ---- symbol visibility and attributes ----------------------------------------------------- */
#if defined(_WIN32) && defined(TKM_BUILDING_SHARED)
#define TKM_API __declspec(dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define TKM_API __attribute__((visibility("default")))
#else
#define TKM_API
#endif

#if defined(__cplusplus) && __cplusplus >= 201703L
#define TKM_NODISCARD [[nodiscard]]
#elif defined(__GNUC__) && (__GNUC__ >= 4)
#define TKM_NODISCARD __attribute__((warn_unused_result))
#else
#define TKM_NODISCARD
#endif

/** Library version as "MAJOR.MINOR.PATCH". */
TKM_API const char *tkm_version_string(void);
/** Library version as TKM_VERSION_NUMBER of the linked library (compare with the header's). */
TKM_API unsigned tkm_version_number(void);

/* ---- status codes (pinned, append-only) ---------------------------------------------------- */
typedef enum tkm_status {
    TKM_OK = 0,
    TKM_ERR_INVALID_ARGUMENT = 1, /**< NULL where a pointer is required, bad flags, ...       */
    TKM_ERR_UNKNOWN_ENCODING = 2, /**< no encoding of that name                               */
    TKM_ERR_UNKNOWN_MODEL = 3,    /**< no model of that name or prefix                        */
    TKM_ERR_NO_MEMORY = 4,        /**< an allocation failed; nothing was counted              */
    TKM_ERR_INVALID_UTF8 = 5,     /**< strict mode: ill-formed UTF-8 at result.error_offset   */
    TKM_ERR_SPECIAL_TOKEN = 6,    /**< reject mode: special-token text at result.error_offset */
    TKM_ERR_INVALID_TOKEN = 7,    /**< decode: a token id that the encoding does not have     */
    TKM_ERR_BUFFER_TOO_SMALL = 8, /**< output buffer too small; the size needed is reported   */
    TKM_ERR_LIMIT_EXCEEDED = 9,   /**< tkm_count_limit: the text has more tokens than the limit */
    TKM_ERR_BAD_VOCAB = 10,       /**< a user-supplied .tiktoken file is malformed            */
    TKM_ERR_UNSUPPORTED = 11,     /**< valid request this build or encoding cannot serve      */
    TKM_ERR_INVALID_HANDLE = 12,  /**< a handle that is not (or no longer) an open encoding   */
    TKM_ERR_INTERNAL = 13         /**< a broken invariant; please report                      */
} tkm_status;

/** A static, human-readable English description of a status ("success", ...). Never NULL. */
TKM_API const char *tkm_status_string(tkm_status status);

/* ---- encodings ------------------------------------------------------------------------------ */
typedef struct tkm_encoding tkm_encoding; /**< opaque, immutable, thread-safe */

/**
 * Open a built-in encoding by name: "o200k_base", "cl100k_base", "r50k_base" (alias "gpt2"),
 * "p50k_base", "p50k_edit", "o200k_harmony". Reads no file and parses nothing: the tables are
 * compiled into the library. Free with tkm_encoding_free().
 */
TKM_API TKM_NODISCARD tkm_status tkm_encoding_open(const char *name, tkm_encoding **out);

/**
 * Open the encoding a model uses (tiktoken's model table, plus newer models: gpt-5*, gpt-4.1*,
 * gpt-4o*, o1/o3/o4* -> o200k_base; gpt-4*, gpt-3.5-turbo* -> cl100k_base; gpt-oss-* ->
 * o200k_harmony; legacy models as tiktoken maps them). Exact names first, then prefixes.
 */
TKM_API TKM_NODISCARD tkm_status tkm_encoding_open_for_model(const char *model, tkm_encoding **out);

/** The encoding name a model maps to, as a static string (no handle is opened). */
TKM_API TKM_NODISCARD tkm_status tkm_model_encoding_name(const char *model, const char **name);

/** The pre-tokenizer pattern families (the regex each built-in encoding splits text with). */
typedef enum tkm_pattern {
    TKM_PATTERN_GPT2 = 1,   /**< r50k_base, p50k_base, p50k_edit */
    TKM_PATTERN_CL100K = 2, /**< cl100k_base                     */
    TKM_PATTERN_O200K = 3   /**< o200k_base, o200k_harmony       */
} tkm_pattern;

/** One special token of a user-supplied vocabulary. */
typedef struct tkm_special_token {
    const char *text; /**< bytes of the token text (NUL-terminated) */
    uint32_t id;
} tkm_special_token;

/**
 * Build an encoding from the contents of a user-supplied .tiktoken file (lines "BASE64 RANK")
 * used with one of the built-in pattern families. `data` is only read during the call.
 * `name` (may be NULL) is copied and reported by tkm_encoding_info. `n_vocab` 0 means
 * max(rank, special id) + 1. Returns TKM_ERR_BAD_VOCAB for a malformed file (duplicate bytes or
 * ranks, bad base64, missing single bytes needed by BPE).
 */
TKM_API TKM_NODISCARD tkm_status tkm_encoding_load_tiktoken(const void *data, size_t len, tkm_pattern pattern,
                                                             const tkm_special_token *specials, size_t n_specials,
                                                             const char *name, tkm_encoding **out);

/** Release a handle. NULL is accepted and ignored. Built-in and loaded handles alike. */
TKM_API void tkm_encoding_free(tkm_encoding *enc);

/** Facts about an encoding, so that a bill can say exactly which table produced a count. */
typedef struct tkm_encoding_info {
    size_t struct_size;          /**< set to sizeof(tkm_encoding_info) before the call      */
    const char *name;            /**< e.g. "o200k_base"; valid while the handle is open     */
    uint32_t n_vocab;            /**< ids are in [0, n_vocab)                               */
    uint32_t n_ranks;            /**< mergeable (BPE) tokens                                */
    uint32_t n_specials;         /**< special tokens                                        */
    uint32_t max_token_bytes;    /**< longest mergeable token in bytes                      */
    tkm_pattern pattern;         /**< pre-tokenizer family                                  */
    char vocab_sha256[65];       /**< hex sha256 of the canonical .tiktoken file             */
} tkm_encoding_info;

TKM_API TKM_NODISCARD tkm_status tkm_encoding_info_get(const tkm_encoding *enc, tkm_encoding_info *info);

/** Names of the built-in encodings, NULL-terminated static array. */
TKM_API const char *const *tkm_encoding_names(void);

/** Known model names (exact) and prefixes with their encodings; index i until NULL is returned. */
TKM_API const char *tkm_model_at(size_t i, const char **encoding_name, int *is_prefix);

/* ---- options and results -------------------------------------------------------------------- */
enum {
    TKM_UTF8_REPLACE = 0,          /**< default: WHATWG replacement (one U+FFFD per bad subsequence) */
    TKM_UTF8_STRICT = 1u << 0,     /**< ill-formed UTF-8 -> TKM_ERR_INVALID_UTF8                    */
    TKM_SPECIAL_ORDINARY = 0,      /**< default: special-token text is ordinary text                */
    TKM_SPECIAL_ALLOW = 1u << 1,   /**< special-token text becomes one special token each           */
    TKM_SPECIAL_REJECT = 1u << 2   /**< special-token text -> TKM_ERR_SPECIAL_TOKEN                 */
};

/** Optional allocator. All allocations of a call go through it when given. */
typedef struct tkm_allocator {
    void *(*alloc)(void *opaque, size_t size);
    void (*free)(void *opaque, void *ptr);
    void *opaque;
} tkm_allocator;

/**
 * Per-call options. Zero-initialise, set struct_size = sizeof(tkm_options), then fields.
 * New fields are only ever appended; an older caller's smaller struct keeps working.
 */
typedef struct tkm_options {
    size_t struct_size;
    uint32_t flags;                /**< TKM_UTF8_* | TKM_SPECIAL_*                               */
    uint32_t reserved0;
    const tkm_allocator *allocator; /**< NULL: malloc/free                                       */
} tkm_options;

/** Per-call result. Zero-initialise and set struct_size = sizeof(tkm_result). */
typedef struct tkm_result {
    size_t struct_size;
    size_t tokens;        /**< tokens counted (valid when TKM_OK)                                */
    size_t bytes;         /**< input bytes consumed                                              */
    size_t error_offset;  /**< byte offset of the problem for INVALID_UTF8 / SPECIAL_TOKEN      */
} tkm_result;

/* ---- counting, encoding, decoding ----------------------------------------------------------- */

/** Count the tokens of text[0..len) with default options. text may be NULL when len is 0. */
TKM_API TKM_NODISCARD tkm_status tkm_count(const tkm_encoding *enc, const void *text, size_t len, size_t *count);

/** Count with options; details (including error offsets) in *result. opt may be NULL. */
TKM_API TKM_NODISCARD tkm_status tkm_count_ex(const tkm_encoding *enc, const void *text, size_t len,
                                               const tkm_options *opt, tkm_result *result);

/**
 * Count against a budget: stops as soon as the count exceeds `limit`, so a 1 MB prompt checked
 * against a 4,096-token budget is scanned only as far as needed. Returns TKM_OK when the whole text
 * has at most `limit` tokens (result->tokens = the exact count), or TKM_ERR_LIMIT_EXCEEDED with
 * result->tokens = the tokens counted up to the stop (> limit; exact: no later byte changes them)
 * and result->bytes = the input bytes scanned. The text is validated only as far as it is scanned:
 * in strict mode, ill-formed UTF-8 after the stop is not reported.
 */
TKM_API TKM_NODISCARD tkm_status tkm_count_limit(const tkm_encoding *enc, const void *text, size_t len, size_t limit,
                                                  const tkm_options *opt, tkm_result *result);

/**
 * Truncate to a budget: result->bytes = the length of the longest prefix of text that ends at a
 * token boundary of the whole text's encoding and holds at most `max_tokens` of its tokens;
 * result->tokens = how many it holds (= max_tokens when the text is longer, unless the boundary
 * would fall inside a U+FFFD that replaced ill-formed input; then the prefix stops one token
 * earlier). No token is cut in half: for valid UTF-8 the prefix is exactly the bytes of the first
 * result->tokens ids. Scans only as far as the budget needs. TKM_OK unless an error occurs.
 */
TKM_API TKM_NODISCARD tkm_status tkm_truncate(const tkm_encoding *enc, const void *text, size_t len,
                                               size_t max_tokens, const tkm_options *opt, tkm_result *result);

/**
 * Encode text to token ids into ids[0..capacity). On TKM_OK *n_ids is the number written. If the
 * buffer is too small, returns TKM_ERR_BUFFER_TOO_SMALL with *n_ids = the number needed (ids is
 * then filled up to capacity). ids may be NULL when capacity is 0 (a sizing call).
 */
TKM_API TKM_NODISCARD tkm_status tkm_encode(const tkm_encoding *enc, const void *text, size_t len,
                                             const tkm_options *opt, uint32_t *ids, size_t capacity,
                                             size_t *n_ids);

/**
 * Decode ids to bytes (token bytes concatenated; special tokens as their text). Output as for
 * tkm_encode: TKM_ERR_BUFFER_TOO_SMALL reports the size needed in *n_bytes. An id the encoding
 * does not have -> TKM_ERR_INVALID_TOKEN, its index in *n_bytes.
 */
TKM_API TKM_NODISCARD tkm_status tkm_decode(const tkm_encoding *enc, const uint32_t *ids, size_t n_ids,
                                             void *out, size_t capacity, size_t *n_bytes);

/* ---- incremental (streaming) counter --------------------------------------------------------- */
typedef struct tkm_stream tkm_stream; /**< one per stream; not shared between threads */

/**
 * Start counting a stream of bytes that arrives in chunks split anywhere (even inside a UTF-8
 * sequence or a piece). Memory is bounded by the longest unfinished pre-token, not the stream.
 * The final total always equals tkm_count_ex over the concatenated input with the same options.
 */
TKM_API TKM_NODISCARD tkm_status tkm_stream_open(const tkm_encoding *enc, const tkm_options *opt, tkm_stream **out);
/** Feed the next chunk. *final_tokens (may be NULL) = tokens already final, no later byte can change them. */
TKM_API TKM_NODISCARD tkm_status tkm_stream_feed(tkm_stream *s, const void *chunk, size_t len, size_t *final_tokens);
/** End of input: the exact total in result (tokens, bytes, error offset in strict mode). */
TKM_API TKM_NODISCARD tkm_status tkm_stream_finish(tkm_stream *s, tkm_result *result);
/** Release a stream. NULL is accepted. */
TKM_API void tkm_stream_free(tkm_stream *s);

#ifdef __cplusplus
}
#endif
#endif /* TOKMETER_H */
