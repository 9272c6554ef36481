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
    TKM_ERR_INTERNAL = 13,        /**< a broken invariant; please report                      */
    TKM_ERR_BAD_JSON = 14,        /**< chat: not well-formed JSON (offset and message in the result) */
    TKM_ERR_BAD_REQUEST = 15,     /**< chat: valid JSON of the wrong shape (message names the path) */
    TKM_ERR_TOO_LARGE = 16,       /**< chat: body over the size limit or nested deeper than allowed */
    TKM_ERR_BAD_PRICES = 17       /**< a price table is malformed (line in tkm_prices_load's out) */
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

/* ---- kernels (CPU-specific fast paths; every kernel gives identical results) ---------------- */
enum {
    TKM_KERNEL_USABLE = 1u << 0,  /**< this CPU can run it                                      */
    TKM_KERNEL_NATIVE = 1u << 1,  /**< real instructions of this architecture (else: emulated)  */
    TKM_KERNEL_DEFAULT = 1u << 2  /**< new handles use it (best native one, or TOKMETER_KERNEL) */
};

/**
 * Kernel i of this build (best first: "avx512", "avx2", "neon", "scalar"; the order depends on the
 * architecture), or NULL past the last. *flags (may be NULL) gets TKM_KERNEL_* bits. The default is
 * the best native kernel the CPU supports; the environment variable TOKMETER_KERNEL=NAME, read
 * once, forces one for every handle (tkm_encoding_open then fails with TKM_ERR_UNSUPPORTED if the
 * named kernel does not exist or this CPU cannot run it). Emulated kernels (SIMDe, the other
 * architecture's) exist for testing; they are never chosen by default.
 */
TKM_API const char *tkm_kernel_at(size_t i, unsigned *flags);

/** Open a built-in encoding with a given kernel (TKM_ERR_UNSUPPORTED if this CPU cannot run it). */
TKM_API TKM_NODISCARD tkm_status tkm_encoding_open_kernel(const char *name, const char *kernel, tkm_encoding **out);

/** The kernel a handle counts with (a static string). */
TKM_API TKM_NODISCARD tkm_status tkm_encoding_kernel(const tkm_encoding *enc, const char **kernel);

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

/* ---- reusable counter ---------------------------------------------------------------------- */
typedef struct tkm_counter tkm_counter; /**< one per thread; not used by two threads at once */

/**
 * A counter for many texts in turn - a gateway worker's requests - with one encoding and one set
 * of options. It keeps its working memory from call to call, and with it a cache of the counts of
 * recent pieces that need a merge (tkm_count_ex has one only within a call of 16 KiB or more, so a
 * short request never does). Every answer - count, bytes, status, error offset - equals
 * tkm_count_ex / tkm_count_limit on the same text with the same encoding and options: the cache is
 * keyed by a piece's bytes, compared in full. Memory: about 130 KiB once the counter has counted
 * 16 KiB, plus scratch for the longest piece of a call, of which at most about 1 MiB per buffer is
 * kept after the call. opt->allocator, when given, serves all of it, the counter itself included.
 * The encoding must stay open while the counter is in use.
 */
TKM_API TKM_NODISCARD tkm_status tkm_counter_open(const tkm_encoding *enc, const tkm_options *opt,
                                                   tkm_counter **out);
/** tkm_count_ex(enc, text, len, opt, result) with the counter's encoding and options. */
TKM_API TKM_NODISCARD tkm_status tkm_counter_count(tkm_counter *c, const void *text, size_t len,
                                                    tkm_result *result);
/** tkm_count_limit(enc, text, len, limit, opt, result) with the counter's encoding and options. */
TKM_API TKM_NODISCARD tkm_status tkm_counter_count_limit(tkm_counter *c, const void *text, size_t len,
                                                          size_t limit, tkm_result *result);
/** Release a counter. NULL is accepted. */
TKM_API void tkm_counter_free(tkm_counter *c);

/* ---- multi-threaded counting ------------------------------------------------------------------
 * Texts are split only at safe cut points: positions where counting the two sides separately
 * provably gives the count of the whole (the rule the streaming counter uses). So every answer -
 * count, status, error offset - equals tkm_count_ex on the same text with the same options. Threads
 * are POSIX threads started and joined within the call: no global state, no thread pool; any
 * number of calls may run at once. n_threads 0 means the CPUs this process may run on. Each
 * thread's working memory comes from opt->allocator when given (it must then be thread-safe);
 * only the threads' own stacks do not. A thread that cannot be started is not an error: its
 * share is counted by the calling thread. Full counts only (no limit, no ids).
 */

/** Most threads one call uses; larger n_threads values are capped to this. */
#define TKM_MAX_THREADS 256

/**
 * Count text[0..len) on up to n_threads threads. The text is cut into up to 4 pieces per thread,
 * each at least 256 KiB (a text under two such pieces is counted on the calling thread), at a safe
 * point at or shortly after each boundary of equal parts; where no safe point is found nearby
 * (e.g. one very long pre-token) fewer pieces are used. Each thread takes the next piece when it
 * is done with one. Same result and status as tkm_count_ex: on an error, the earliest problem of
 * the whole text.
 */
TKM_API TKM_NODISCARD tkm_status tkm_count_parallel(const tkm_encoding *enc, const void *text, size_t len,
                                                     unsigned n_threads, const tkm_options *opt, tkm_result *result);

/**
 * The last safe cut point of text[0..len) at or after `from`: the largest c with from <= c < len
 * such that, for any bytes X that follow, counting text[0..c) and then text[c..len) + X gives the
 * count of text + X, and the earliest problem of text + X is the earliest of text[0..c) if it has
 * one, else c + the offset of the earliest problem of text[c..len) + X. Decided from text[0..len)
 * alone, so input can be cut into windows before the rest arrives. *cut = 0 when there is none
 * (no safe point in range, or options under which cutting is unsafe: see tkm_count_parallel).
 */
TKM_API TKM_NODISCARD tkm_status tkm_find_cut(const tkm_encoding *enc, const void *text, size_t len, size_t from,
                                               const tkm_options *opt, size_t *cut);

/** One input of a batch. Set struct_size = sizeof(tkm_text) in every element. */
typedef struct tkm_text {
    size_t struct_size;
    const void *data; /**< may be NULL when len is 0 */
    size_t len;
} tkm_text;

/** The answer for one input of a batch. Set out[0].struct_size = sizeof(tkm_item_result). */
typedef struct tkm_item_result {
    size_t struct_size;
    tkm_status status;   /**< as tkm_count_ex would return for this input                      */
    size_t tokens;       /**< tokens counted (valid when status is TKM_OK, else 0)             */
    size_t error_offset; /**< byte offset of the problem for INVALID_UTF8 / SPECIAL_TOKEN, else 0 */
} tkm_item_result;

/**
 * Count n_items independent texts (e.g. a gateway's requests) on up to n_threads threads, each
 * text whole on one thread, with the same options. Fewer threads are used for small batches
 * (about one per 64 KiB of text). The array strides are items[0].struct_size and
 * out[0].struct_size, so callers built against an older, smaller struct keep working; an item whose
 * struct_size differs from items[0]'s fails with TKM_ERR_INVALID_ARGUMENT.
 * Every out[i] is written whenever out[0].struct_size is valid - also when the call itself fails
 * (bad handle, options, items), then with that status in each. Returns TKM_OK when every item is
 * TKM_OK, otherwise the status of the lowest-index item that failed (or of the call).
 */
TKM_API TKM_NODISCARD tkm_status tkm_count_batch(const tkm_encoding *enc, const tkm_text *items, size_t n_items,
                                                  unsigned n_threads, const tkm_options *opt, tkm_item_result *out);
/* ---- end of multi-threaded counting ------------------------------------------------------------ */

/* ==== chat requests and cost ================================================================ */
/*
 * Counting OpenAI Chat Completions bodies. The text of every message is counted exactly (the same
 * count tkm_count gives); the framing around it - per-message and per-name overheads, reply
 * priming, tool definitions, images - follows OpenAI's published method (the openai-cookbook
 * notebook "How to count tokens with tiktoken", and the vision guide's image formula). That method
 * is an estimate OpenAI documents, not a guarantee: tkm_chat_result.flags says where a request
 * goes beyond what it covers, and what could not be counted at all (never guessed).
 * JSON is parsed with json-c; the option/result structs are struct_size-versioned like the rest.
 */

/** Caller-supplied size of an image part (e.g. known to the gateway from an upload). */
typedef struct tkm_chat_image_size {
    uint32_t width, height; /**< pixels; 0 x 0 = not known (the data: URL header is read if possible) */
} tkm_chat_image_size;

typedef struct tkm_chat_options {
    size_t struct_size;           /**< sizeof(tkm_chat_options) */
    const char *model;            /**< overrides the body's "model"; NULL: the body's model is used */
    size_t max_body_bytes;        /**< 0: 64 MiB. Larger bodies -> TKM_ERR_TOO_LARGE, nothing parsed */
    uint32_t max_depth;           /**< JSON nesting limit; 0: 64. Deeper -> TKM_ERR_TOO_LARGE */
    uint32_t reserved0;
    const tkm_chat_image_size *image_sizes; /**< sizes of the request's image parts, in order */
    size_t n_image_sizes;
} tkm_chat_options;

/* tkm_chat_result.flags */
enum {
    TKM_CHAT_EXTENDED = 1u << 0,   /**< the body has parts the cookbook's method does not cover
                                         (content-part arrays, assistant tool_calls, nested tool
                                         parameters, detail "auto" counted as high); counted as
                                         README "Chat requests" describes                          */
    TKM_CHAT_MODEL_UNVERIFIED = 1u << 1, /**< the model is not one the cookbook checked against the
                                         API (gpt-4o*, gpt-4, gpt-3.5-turbo); its encoding family's
                                         constants were used                                    */
    TKM_CHAT_INCOMPLETE = 1u << 2, /**< something was not counted: see n_images_unknown, n_parts_unknown */
    TKM_CHAT_USAGE = 1u << 3,      /**< a response carried "usage": usage_* fields are the API's own numbers */
    TKM_CHAT_STREAM_DONE = 1u << 4 /**< an SSE capture ended with "data: [DONE]"                  */
};

typedef struct tkm_chat_result {
    size_t struct_size;           /**< sizeof(tkm_chat_result) */
    uint32_t flags;               /**< TKM_CHAT_* */
    uint32_t reserved0;
    char model[64];               /**< the model counted for (option or body), truncated if longer */
    const char *encoding;         /**< its encoding, a static string */
    /* request (tkm_chat_count_request) */
    size_t prompt_tokens;         /**< the estimate: text + overhead + tools + images */
    size_t text_tokens;           /**< exact counts of the text counted (roles, content, names, ...) */
    size_t overhead_tokens;       /**< per-message/per-name overheads and reply priming */
    size_t tool_tokens;           /**< tools / functions definitions */
    size_t image_tokens;          /**< images whose size was known */
    size_t n_messages;
    size_t n_images;              /**< image parts seen */
    size_t n_images_unknown;      /**< ...of which not counted: size or model formula unknown */
    size_t n_parts_unknown;       /**< other parts not counted (audio, files, unknown types) */
    /* response (tkm_chat_count_response / tkm_chat_count_sse) */
    size_t completion_tokens;     /**< exact counts of generated content, refusals, tool-call names and arguments */
    size_t n_choices;
    size_t usage_prompt_tokens, usage_completion_tokens, usage_cached_tokens; /**< with TKM_CHAT_USAGE */
    /* errors */
    size_t error_offset;          /**< TKM_ERR_BAD_JSON: byte offset of the problem */
    char error[160];              /**< what went wrong and where, e.g. "messages[2].content: expected ..." */
} tkm_chat_result;

/**
 * Prompt tokens of a Chat Completions request body (`messages`, optional `tools` or legacy
 * `functions`). Errors: TKM_ERR_BAD_JSON, TKM_ERR_BAD_REQUEST, TKM_ERR_TOO_LARGE (with
 * result->error), TKM_ERR_UNKNOWN_MODEL, TKM_ERR_UNSUPPORTED (a model without chat framing, e.g.
 * a legacy completions model or gpt-oss / harmony).
 */
TKM_API TKM_NODISCARD tkm_status tkm_chat_count_request(const void *body, size_t len, const tkm_chat_options *opt,
                                                         tkm_chat_result *result);

/** Completion tokens of a Chat Completions response body (choices[].message). */
TKM_API TKM_NODISCARD tkm_status tkm_chat_count_response(const void *body, size_t len, const tkm_chat_options *opt,
                                                          tkm_chat_result *result);

/**
 * Completion tokens of a captured Chat Completions SSE stream: one JSON chunk per "data:" line,
 * choices[].delta content / refusal / tool_calls concatenated per choice and counted once, until
 * "data: [DONE]". Other SSE fields and comments are ignored. error_offset is a byte offset in the
 * capture.
 */
TKM_API TKM_NODISCARD tkm_status tkm_chat_count_sse(const void *capture, size_t len, const tkm_chat_options *opt,
                                                     tkm_chat_result *result);

/**
 * Tokens of one string field of a JSON document (e.g. one line of a request log), by a dotted
 * path: object keys, and decimal indexes into arrays ("messages.0.content", "body.prompt").
 * result->text_tokens = the exact count of the string's bytes. result->model = the string
 * "model" next to the field's parent (e.g. "body.model" for "body.prompt"), else the top-level
 * "model", else empty. A missing field or a non-string -> TKM_ERR_BAD_REQUEST naming the path.
 */
TKM_API TKM_NODISCARD tkm_status tkm_json_count_field(const tkm_encoding *enc, const void *json, size_t len,
                                                       const char *path, const tkm_chat_options *opt,
                                                       tkm_chat_result *result);

/* ---- prices: integers, never floating-point money ------------------------------------------ */
/*
 * A price is stored as pico-dollars per token, which is the same number as micro-dollars per
 * million tokens ($2.50 / 1M tokens = 2,500,000). A cost is pico-dollars (1e-12 USD) as uint64:
 * exact for every price with at most six decimals per 1M tokens, up to $18.4 million per value.
 */
typedef struct tkm_prices tkm_prices; /**< opaque, immutable, thread-safe */

/** The price table compiled into the library (data/prices.tsv). Free with tkm_prices_free(). */
TKM_API TKM_NODISCARD tkm_status tkm_prices_open_builtin(tkm_prices **out);

/**
 * A price table from the bytes of a user's file, same format as data/prices.tsv. `data` is only
 * read during the call. On TKM_ERR_BAD_PRICES, *error_line (may be NULL) is the 1-based line.
 */
TKM_API TKM_NODISCARD tkm_status tkm_prices_load(const void *data, size_t len, tkm_prices **out, size_t *error_line);

/** Release a table. NULL is accepted. */
TKM_API void tkm_prices_free(tkm_prices *p);

typedef struct tkm_cost {
    size_t struct_size;             /**< sizeof(tkm_cost) */
    const char *price_model;        /**< the row that matched (valid while the table is open)    */
    const char *encoding;           /**< the row's encoding                                       */
    const char *date;               /**< when the price was read, YYYY-MM-DD                      */
    const char *source;             /**< where it was read                                        */
    uint64_t input_price;           /**< pico-USD per input token (= micro-USD per 1M tokens)     */
    uint64_t cached_input_price;    /**< pico-USD per cached input token (= input_price if none)  */
    uint64_t output_price;          /**< pico-USD per output token                                */
    uint64_t input_cost;            /**< pico-USD: uncached input + cached input                  */
    uint64_t output_cost;           /**< pico-USD                                                 */
    uint64_t total_cost;            /**< pico-USD                                                 */
} tkm_cost;

/**
 * The cost of input_tokens (of which cached_input_tokens were cache hits) and output_tokens for a
 * model: exact name first, then the longest matching prefix row. TKM_ERR_UNKNOWN_MODEL if no row
 * matches; TKM_ERR_INVALID_ARGUMENT if cached > input; TKM_ERR_UNSUPPORTED if a cost overflows.
 */
TKM_API TKM_NODISCARD tkm_status tkm_cost_estimate(const tkm_prices *prices, const char *model, uint64_t input_tokens,
                                                    uint64_t cached_input_tokens, uint64_t output_tokens,
                                                    tkm_cost *out);

/** Row i of a table (model, prefix flag, prices in *out with zero costs); NULL when i is past the end. */
TKM_API const char *tkm_prices_at(const tkm_prices *prices, size_t i, int *is_prefix, tkm_cost *out);
/* ==== end of chat requests and cost ========================================================= */

#ifdef __cplusplus
}
#endif
#endif /* TOKMETER_H */
