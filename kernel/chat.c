/*
 * chat.c - prompt and completion tokens of OpenAI Chat Completions bodies.
 *
 * What is exact and what is OpenAI's estimate
 *   Every string that is counted (roles, contents, names, tool-call arguments, tool definitions'
 *   lines) is counted exactly, by tkm_count with default options. The framing is OpenAI's
 *   published method, from the openai-cookbook notebook "How to count tokens with tiktoken"
 *   (examples/How_to_count_tokens_with_tiktoken.ipynb, sections 6 and 7; read in the
 *   openai/openai-cookbook repository, commit c81359cd):
 *     - every message costs 3 tokens, plus the tokens of each of its string values (role,
 *       content, name, ...); a "name" costs 1 more; every reply is primed with 3 tokens;
 *     - tool (function) definitions: per function func_init (7 for gpt-4o / gpt-4o-mini, 10 for
 *       gpt-4 / gpt-3.5-turbo) + tokens("name:description"), the description without one trailing
 *       '.'; if it has properties, prop_init 3, then per property prop_key 3 +
 *       tokens("key:type:description") and, with an enum, enum_init -3 + per item 3 + tokens(item);
 *       after all functions func_end 12.
 *   The notebook shows these reproduce the API's own prompt_tokens: 129 (gpt-3.5-turbo, gpt-4)
 *   and 124 (gpt-4o, gpt-4o-mini) for its 6-message example, 105 and 101 for its weather-tool
 *   example; tests/test_chat.c checks all four.
 *   Beyond the notebook (TKM_CHAT_EXTENDED is set): content-part arrays count their text parts'
 *   tokens; assistant tool_calls / function_call count tokens(name) + tokens(arguments); a
 *   non-string property type or enum item counts its JSON text; nested parameter objects count
 *   only their top level; images with detail "auto" (or none) are counted as "high", an upper
 *   bound ("low" never costs more).
 *   Images (OpenAI vision guide, "Calculating costs", platform.openai.com/docs/guides/vision):
 *   "low" costs the base; "high": fit in 2048 x 2048, then shortest side down to 768, then base +
 *   per-tile x the 512 px tiles covering it (base 85 / tile 170 for gpt-4o, gpt-4-turbo,
 *   gpt-4.5; 2833 / 5667 for gpt-4o-mini). The size comes from tkm_chat_options.image_sizes or
 *   from the header of a data: URL (PNG, GIF, JPEG, WebP); otherwise, and for models whose image
 *   formula we do not carry (patch-based gpt-4.1 / gpt-5 / o-series), the image is *not* counted:
 *   n_images_unknown and TKM_CHAT_INCOMPLETE say so. Audio and file parts likewise.
 *
 * Design notes: the JSON library (measured 2026-12-01 on this machine, 2 shared cores, gcc -O2,
 * each line of the .jsonl files in ../shared/corpus/chat parsed into a tree and freed, 4,511 lines, 4.73 MB,
 * best of 5; throwaway harness, not committed):
 *     cJSON 1.7.15      363-400 MB/s
 *     json-c 0.16       130-136 MB/s  (STRICT | VALIDATE_UTF8, depth limit 64)
 *     jansson 2.14       56 MB/s      (38 MB/s with JSON_REJECT_DUPLICATES)
 *   Hostile inputs:  100,000 nested '[': all three refuse (jansson at its fixed 2048, cJSON at its
 *   fixed 1000, json-c at our configurable limit). 64 MiB string: cJSON 0.13 s, json-c 0.40 s,
 *   jansson 2.2 s. "\u0000" inside a string: cJSON silently truncates the string there (a body
 *   could hide text from the count), json-c and jansson keep the length. Invalid UTF-8: json-c
 *   and jansson reject it with its offset, cJSON accepts it. Trailing garbage and 1e400: cJSON
 *   accepts both by default. cJSON reports errors through a process-global pointer (not
 *   thread-safe) and has only global allocator hooks.
 *   Chosen: json-c. 2.4-3.5x faster than jansson, about the speed of counting itself (so the
 *   parse does not dominate), per-call error offset and description, configurable depth, UTF-8
 *   validation, length-carrying strings. Its price: some accessors assert() on a wrong type
 *   (json_object_array_length, json_object_object_foreach on a non-object), which would abort
 *   the caller. So every access below goes through helpers that test the type first; nothing
 *   else in this file touches a json_object. json-c does not take our allocator (tkm_options
 *   .allocator does not apply here) and takes an int length (bodies are capped well below).
 *   End to end (same machine): a 150-byte request 7.5 us; the corpus's 1,230 OpenAI requests
 *   (830 B on average) 42 us each, 20 MB/s. json-c's parse and tree are about half of that
 *   profile, opening the encoding handle per call ~10% (0.8 us): a handle cache or a caller-given
 *   handle would be the next step if request latency matters more than simplicity.
 *   Robustness check (throwaway, not committed): 100,000 random mutations of the cookbook
 *   bodies, a response and an SSE capture through all four entry points under ASan + UBSan:
 *   no error, no leak.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "tokmeter.h"

#define DEFAULT_MAX_BODY ((size_t)64 << 20)
#define DEFAULT_MAX_DEPTH 64u
#define MAX_DEPTH_CAP 10000u
#define MAX_IMAGE_HEADER ((size_t)1 << 20) /* decoded bytes of a data: URL searched for the size */

typedef struct ctx {
    tkm_chat_result *r;
    const tkm_chat_options *opt;
    tkm_encoding *enc;
    int o200k; /* the o200k family's tool constants, else cl100k's */
    const char *model;
    char *buf; /* scratch for concatenated lines */
    size_t cap;
} ctx;

/* ---- results and errors ------------------------------------------------------------------- */
static tkm_status fail(tkm_chat_result *r, tkm_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    return st;
}

static tkm_status begin(const tkm_chat_options *opt, tkm_chat_result *r) {
    if (!r || r->struct_size < sizeof(tkm_chat_result)) return TKM_ERR_INVALID_ARGUMENT;
    size_t ss = r->struct_size;
    memset(r, 0, sizeof *r);
    r->struct_size = ss;
    if (opt && opt->struct_size < sizeof(tkm_chat_options)) return TKM_ERR_INVALID_ARGUMENT;
    if (opt && !opt->image_sizes && opt->n_image_sizes) return TKM_ERR_INVALID_ARGUMENT;
    return TKM_OK;
}

/* ---- checked json-c access: never call an asserting accessor on the wrong type -------------- */
/* json-c represents JSON null as a NULL pointer; json_object_is_type(NULL, json_type_null) is 1 */
static int is(json_object *o, json_type t) { return json_object_is_type(o, t); }
static json_object *member(json_object *o, const char *key) {
    json_object *v = NULL;
    return is(o, json_type_object) && json_object_object_get_ex(o, key, &v) ? v : NULL;
}
static size_t arr_len(json_object *a) { return is(a, json_type_array) ? json_object_array_length(a) : 0; }
static json_object *arr_at(json_object *a, size_t i) {
    return i < arr_len(a) ? json_object_array_get_idx(a, i) : NULL;
}
static const char *str(json_object *o, size_t *len) {
    if (!is(o, json_type_string)) return NULL;
    *len = (size_t)json_object_get_string_len(o);
    return json_object_get_string(o);
}

static tkm_status parse(const void *body, size_t len, const tkm_chat_options *opt, tkm_chat_result *r,
                        size_t base_offset, json_object **out) {
    size_t max_body = opt && opt->max_body_bytes ? opt->max_body_bytes : DEFAULT_MAX_BODY;
    if (max_body > (size_t)INT_MAX - 1) max_body = (size_t)INT_MAX - 1;
    unsigned depth = opt && opt->max_depth ? opt->max_depth : DEFAULT_MAX_DEPTH;
    if (depth > MAX_DEPTH_CAP) depth = MAX_DEPTH_CAP;
    *out = NULL;
    if (!body && len) return TKM_ERR_INVALID_ARGUMENT;
    if (len > max_body)
        return fail(r, TKM_ERR_TOO_LARGE, "body of %zu bytes is over the limit of %zu bytes", len, max_body);
    json_tokener *tok = json_tokener_new_ex((int)depth);
    if (!tok) return TKM_ERR_NO_MEMORY;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, body ? (const char *)body : "", (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (err == json_tokener_success) {
        for (; end < len; end++) {
            char c = ((const char *)body)[end];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        }
        if (end < len) {
            json_object_put(o);
            r->error_offset = base_offset + end;
            return fail(r, TKM_ERR_BAD_JSON, "JSON: unexpected data after the value at byte %zu", r->error_offset);
        }
        *out = o;
        return TKM_OK;
    }
    json_object_put(o);
    if (err == json_tokener_error_depth) {
        r->error_offset = base_offset + end;
        return fail(r, TKM_ERR_TOO_LARGE, "JSON nested deeper than %u levels at byte %zu", depth, r->error_offset);
    }
    r->error_offset = base_offset + (err == json_tokener_continue ? len : end);
    return fail(r, TKM_ERR_BAD_JSON, "JSON: %s at byte %zu",
                err == json_tokener_continue ? "unexpected end of input" : json_tokener_error_desc(err),
                r->error_offset);
}

/* ---- counting ------------------------------------------------------------------------------- */
static tkm_status count(ctx *c, const char *s, size_t n, size_t *acc) {
    size_t k = 0;
    tkm_status st = tkm_count(c->enc, s, n, &k);
    if (st != TKM_OK) return st;
    *acc += k;
    return TKM_OK;
}

static tkm_status count_json_string(ctx *c, json_object *o, size_t *acc) {
    size_t n;
    const char *s = str(o, &n);
    return s ? count(c, s, n, acc) : TKM_OK;
}

/* a + ":" + b [+ ":" + d], each of b and d without one trailing '.' if strip says so */
static tkm_status count_line(ctx *c, const char *a, size_t na, const char *b, size_t nb, const char *d, size_t nd,
                             int three, int64_t *acc) {
    if (nb && b[nb - 1] == '.' && !three) nb--;
    if (three && nd && d[nd - 1] == '.') nd--;
    size_t need = na + nb + nd + 2;
    if (need > c->cap) {
        char *nbuf = (char *)realloc(c->buf, need);
        if (!nbuf) return TKM_ERR_NO_MEMORY;
        c->buf = nbuf;
        c->cap = need;
    }
    size_t p = 0;
    memcpy(c->buf + p, a, na), p += na;
    c->buf[p++] = ':';
    memcpy(c->buf + p, b, nb), p += nb;
    if (three) {
        c->buf[p++] = ':';
        memcpy(c->buf + p, d, nd), p += nd;
    }
    size_t k = 0;
    tkm_status st = count(c, c->buf, p, &k);
    *acc += (int64_t)k;
    return st;
}

/* ---- models ---------------------------------------------------------------------------------- */
static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* The models the notebook checked against the API, by its own name matching. */
static int cookbook_model(const char *m) {
    if (starts(m, "gpt-4o") || starts(m, "gpt-3.5-turbo")) return 1;
    return starts(m, "gpt-4") && (m[5] == '\0' || m[5] == '-');
}

static tkm_status open_model(ctx *c, json_object *root, tkm_chat_result *r) {
    size_t n = 0;
    const char *m = c->opt && c->opt->model ? c->opt->model : str(member(root, "model"), &n);
    if (!m) {
        if (member(root, "model")) return fail(r, TKM_ERR_BAD_REQUEST, "model: expected a string");
        return fail(r, TKM_ERR_BAD_REQUEST, "model: missing (give it in the body or in tkm_chat_options.model)");
    }
    snprintf(r->model, sizeof r->model, "%s", m);
    c->model = m;
    const char *name = NULL;
    tkm_status st = tkm_model_encoding_name(m, &name);
    if (st == TKM_ERR_UNKNOWN_MODEL) return fail(r, st, "model '%s' is not known (see tokmeter --list)", r->model);
    if (st != TKM_OK) return st;
    r->encoding = name;
    if (strcmp(name, "o200k_base") != 0 && strcmp(name, "cl100k_base") != 0)
        return fail(r, TKM_ERR_UNSUPPORTED, "model '%s' (%s) has no Chat Completions framing here", r->model, name);
    c->o200k = strcmp(name, "o200k_base") == 0;
    if (!cookbook_model(m)) r->flags |= TKM_CHAT_MODEL_UNVERIFIED;
    return tkm_encoding_open(name, &c->enc);
}

/* ---- images ---------------------------------------------------------------------------------- */
static int b64val(unsigned char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+' || ch == '-') return 62;
    if (ch == '/' || ch == '_') return 63;
    return -1;
}

static uint32_t be16(const unsigned char *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const unsigned char *p) { return be16(p) << 16 | be16(p + 2); }
static uint32_t le16(const unsigned char *p) { return (uint32_t)p[1] << 8 | p[0]; }
static uint32_t le24(const unsigned char *p) { return le16(p) | (uint32_t)p[2] << 16; }

/* Width and height from the start of a PNG, GIF, WebP or JPEG file; 0 if not found. */
static int image_header_size(const unsigned char *d, size_t n, uint32_t *w, uint32_t *h) {
    *w = *h = 0;
    if (n >= 24 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp(d + 12, "IHDR", 4) == 0) {
        *w = be32(d + 16), *h = be32(d + 20);
    } else if (n >= 10 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0)) {
        *w = le16(d + 6), *h = le16(d + 8);
    } else if (n >= 30 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0) {
        if (memcmp(d + 12, "VP8 ", 4) == 0 && d[23] == 0x9d && d[24] == 0x01 && d[25] == 0x2a)
            *w = le16(d + 26) & 0x3fff, *h = le16(d + 28) & 0x3fff;
        else if (memcmp(d + 12, "VP8L", 4) == 0 && d[20] == 0x2f) {
            uint32_t b = (uint32_t)d[21] | (uint32_t)d[22] << 8 | (uint32_t)d[23] << 16 | (uint32_t)d[24] << 24;
            *w = (b & 0x3fff) + 1, *h = ((b >> 14) & 0x3fff) + 1;
        } else if (memcmp(d + 12, "VP8X", 4) == 0)
            *w = le24(d + 24) + 1, *h = le24(d + 27) + 1;
    } else if (n >= 4 && d[0] == 0xff && d[1] == 0xd8) {
        size_t p = 2;
        while (p + 4 <= n) {
            if (d[p] != 0xff) return 0;
            unsigned m = d[p + 1];
            if (m == 0xff) { /* fill byte */
                p++;
                continue;
            }
            if (m == 0x01 || (m >= 0xd0 && m <= 0xd8)) { /* markers without a length */
                p += 2;
                continue;
            }
            if (m == 0xda || m == 0xd9) return 0; /* scan data before any frame header */
            if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
                if (p + 9 > n) return 0;
                *h = be16(d + p + 5), *w = be16(d + p + 7);
                break;
            }
            p += 2 + be16(d + p + 2);
        }
    }
    return *w && *h;
}

/* The size of an image from a data: URL, decoding at most MAX_IMAGE_HEADER bytes of it. */
static tkm_status data_url_size(const char *url, size_t n, uint32_t *w, uint32_t *h) {
    *w = *h = 0;
    if (n < 5 || strncmp(url, "data:", 5) != 0) return TKM_OK;
    const char *comma = memchr(url, ',', n);
    if (!comma) return TKM_OK;
    size_t hdr = (size_t)(comma - url);
    if (hdr < 7 || memcmp(comma - 7, ";base64", 7) != 0) return TKM_OK;
    const char *p = comma + 1, *e = url + n;
    size_t max = (size_t)(e - p) / 4 * 3 + 3;
    if (max > MAX_IMAGE_HEADER) max = MAX_IMAGE_HEADER;
    unsigned char *d = (unsigned char *)malloc(max ? max : 1);
    if (!d) return TKM_ERR_NO_MEMORY;
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; p < e && k < max; p++) {
        int v = b64val((unsigned char)*p);
        if (v < 0) break;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[k++] = (unsigned char)(acc >> bits);
        }
    }
    image_header_size(d, k, w, h);
    free(d);
    return TKM_OK;
}

/* ceil(x * num / (512 * den)) without overflow for 32-bit x and num, den <= 2^32 */
static uint64_t tiles_along(uint64_t x, uint64_t num, uint64_t den) { return (x * num + 512 * den - 1) / (512 * den); }

/* Tokens of one high-detail image: OpenAI's tile formula, in exact rational arithmetic. */
static uint64_t image_tiles(uint32_t w, uint32_t h) {
    uint64_t W = w, H = h, longest = W > H ? W : H, shortest = W < H ? W : H;
    uint64_t num = 1, den = 1;
    if (longest > 2048) num = 2048, den = longest; /* fit in 2048 x 2048 */
    if (shortest * num > 768 * den) num = 768, den = shortest; /* then shortest side to 768 */
    return tiles_along(W, num, den) * tiles_along(H, num, den);
}

static tkm_status count_image(ctx *c, json_object *part, const char *path) {
    tkm_chat_result *r = c->r;
    size_t idx = r->n_images++;
    json_object *iu = member(part, "image_url");
    size_t n = 0, dn = 0;
    const char *url = str(iu, &n), *detail = NULL;
    if (!url) {
        url = str(member(iu, "url"), &n);
        detail = str(member(iu, "detail"), &dn);
        if (!url) return fail(r, TKM_ERR_BAD_REQUEST, "%s.image_url.url: expected a string", path);
        if (!detail && member(iu, "detail") && !is(member(iu, "detail"), json_type_null))
            return fail(r, TKM_ERR_BAD_REQUEST, "%s.image_url.detail: expected a string", path);
    }
    int low = 0;
    if (detail && strcmp(detail, "low") == 0) low = 1;
    else if (detail && strcmp(detail, "high") != 0 && strcmp(detail, "auto") != 0)
        return fail(r, TKM_ERR_BAD_REQUEST, "%s.image_url.detail: expected \"low\", \"high\" or \"auto\"", path);
    uint64_t base, tile;
    if (starts(c->model, "gpt-4o-mini")) base = 2833, tile = 5667;
    else if (starts(c->model, "gpt-4o") || starts(c->model, "chatgpt-4o") || starts(c->model, "gpt-4-turbo") ||
             starts(c->model, "gpt-4-vision") || starts(c->model, "gpt-4.5"))
        base = 85, tile = 170;
    else {
        r->n_images_unknown++;
        r->flags |= TKM_CHAT_INCOMPLETE;
        return TKM_OK;
    }
    if (low) {
        r->image_tokens += base;
        return TKM_OK;
    }
    uint32_t w = 0, h = 0;
    if (c->opt && idx < c->opt->n_image_sizes) w = c->opt->image_sizes[idx].width, h = c->opt->image_sizes[idx].height;
    if (!w || !h) {
        tkm_status st = data_url_size(url, n, &w, &h);
        if (st != TKM_OK) return st;
    }
    if (!w || !h) {
        r->n_images_unknown++;
        r->flags |= TKM_CHAT_INCOMPLETE;
        return TKM_OK;
    }
    if (!detail || strcmp(detail, "auto") == 0) r->flags |= TKM_CHAT_EXTENDED;
    r->image_tokens += base + tile * image_tiles(w, h);
    return TKM_OK;
}

/* ---- messages -------------------------------------------------------------------------------- */
static tkm_status count_content_parts(ctx *c, json_object *parts, const char *mpath, size_t *acc) {
    tkm_chat_result *r = c->r;
    char path[96];
    r->flags |= TKM_CHAT_EXTENDED;
    for (size_t j = 0; j < arr_len(parts); j++) {
        json_object *p = arr_at(parts, j);
        snprintf(path, sizeof path, "%s.content[%zu]", mpath, j);
        size_t tn;
        const char *type = str(member(p, "type"), &tn);
        if (!type) return fail(r, TKM_ERR_BAD_REQUEST, "%s.type: expected a string", path);
        tkm_status st = TKM_OK;
        if (strcmp(type, "text") == 0 || strcmp(type, "refusal") == 0) {
            json_object *t = member(p, type);
            if (!is(t, json_type_string)) return fail(r, TKM_ERR_BAD_REQUEST, "%s.%s: expected a string", path, type);
            st = count_json_string(c, t, acc);
        } else if (strcmp(type, "image_url") == 0) {
            st = count_image(c, p, path);
        } else {
            r->n_parts_unknown++;
            r->flags |= TKM_CHAT_INCOMPLETE;
        }
        if (st != TKM_OK) return st;
    }
    return TKM_OK;
}

/* name + arguments of one tool call or legacy function_call object */
static tkm_status count_call(ctx *c, json_object *fn, const char *path, size_t *acc) {
    json_object *name = member(fn, "name"), *args = member(fn, "arguments");
    if (!is(name, json_type_string)) return fail(c->r, TKM_ERR_BAD_REQUEST, "%s.name: expected a string", path);
    if (args && !is(args, json_type_string) && !is(args, json_type_null))
        return fail(c->r, TKM_ERR_BAD_REQUEST, "%s.arguments: expected a string", path);
    tkm_status st = count_json_string(c, name, acc);
    return st == TKM_OK ? count_json_string(c, args, acc) : st;
}

static tkm_status count_tool_calls(ctx *c, json_object *calls, const char *mpath, size_t *acc) {
    char path[112];
    c->r->flags |= TKM_CHAT_EXTENDED;
    if (!is(calls, json_type_array))
        return fail(c->r, TKM_ERR_BAD_REQUEST, "%s.tool_calls: expected an array", mpath);
    for (size_t j = 0; j < arr_len(calls); j++) {
        json_object *call = arr_at(calls, j), *fn = member(call, "function");
        snprintf(path, sizeof path, "%s.tool_calls[%zu].function", mpath, j);
        if (!is(fn, json_type_object)) return fail(c->r, TKM_ERR_BAD_REQUEST, "%s: expected an object", path);
        tkm_status st = count_call(c, fn, path, acc);
        if (st != TKM_OK) return st;
    }
    return TKM_OK;
}

static tkm_status count_messages(ctx *c, json_object *root) {
    tkm_chat_result *r = c->r;
    json_object *msgs = member(root, "messages");
    if (!is(msgs, json_type_array))
        return fail(r, TKM_ERR_BAD_REQUEST, msgs ? "messages: expected an array" : "messages: missing");
    char path[48];
    for (size_t i = 0; i < arr_len(msgs); i++) {
        json_object *m = arr_at(msgs, i);
        snprintf(path, sizeof path, "messages[%zu]", i);
        if (!is(m, json_type_object)) return fail(r, TKM_ERR_BAD_REQUEST, "%s: expected an object", path);
        if (!is(member(m, "role"), json_type_string))
            return fail(r, TKM_ERR_BAD_REQUEST, "%s.role: expected a string", path);
        r->n_messages++;
        r->overhead_tokens += 3;
        json_object_object_foreach(m, key, val) {
            tkm_status st = TKM_OK;
            if (is(val, json_type_string)) {
                st = count_json_string(c, val, &r->text_tokens);
                if (strcmp(key, "name") == 0) r->overhead_tokens += 1;
            } else if (strcmp(key, "name") == 0 && !is(val, json_type_null)) {
                return fail(r, TKM_ERR_BAD_REQUEST, "%s.name: expected a string", path);
            } else if (strcmp(key, "content") == 0) {
                if (is(val, json_type_array)) st = count_content_parts(c, val, path, &r->text_tokens);
                else if (!is(val, json_type_null))
                    return fail(r, TKM_ERR_BAD_REQUEST, "%s.content: expected a string, an array of parts or null",
                                path);
            } else if (strcmp(key, "tool_calls") == 0) {
                if (!is(val, json_type_null)) st = count_tool_calls(c, val, path, &r->text_tokens);
            } else if (strcmp(key, "function_call") == 0 && is(val, json_type_object)) {
                char fpath[80];
                snprintf(fpath, sizeof fpath, "%s.function_call", path);
                r->flags |= TKM_CHAT_EXTENDED;
                st = count_call(c, val, fpath, &r->text_tokens);
            } else if (is(val, json_type_object) || is(val, json_type_array)) {
                r->n_parts_unknown++; /* e.g. an assistant's audio reference */
                r->flags |= TKM_CHAT_INCOMPLETE;
            }
            if (st != TKM_OK) return st;
        }
    }
    r->overhead_tokens += 3; /* every reply is primed with <|start|>assistant<|message|> */
    return TKM_OK;
}

/* ---- tool definitions ------------------------------------------------------------------------ */
/* The JSON text of a non-string value, or the string itself. */
static const char *value_text(json_object *v, size_t *n) {
    const char *s = str(v, n);
    if (s) return s;
    s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, n);
    return s ? s : (*n = 0, "");
}

static tkm_status count_function(ctx *c, json_object *fn, const char *path, int64_t *acc) {
    tkm_chat_result *r = c->r;
    size_t nn = 0, dn = 0;
    const char *name = str(member(fn, "name"), &nn), *desc = str(member(fn, "description"), &dn);
    if (!name) return fail(r, TKM_ERR_BAD_REQUEST, "%s.name: expected a string", path);
    if (!desc) desc = "", dn = 0;
    *acc += c->o200k ? 7 : 10; /* func_init */
    tkm_status st = count_line(c, name, nn, desc, dn, NULL, 0, 0, acc);
    if (st != TKM_OK) return st;
    json_object *params = member(fn, "parameters"), *props = member(params, "properties");
    if (params && !is(params, json_type_object))
        return fail(r, TKM_ERR_BAD_REQUEST, "%s.parameters: expected an object", path);
    if (props && !is(props, json_type_object))
        return fail(r, TKM_ERR_BAD_REQUEST, "%s.parameters.properties: expected an object", path);
    if (!props || json_object_object_length(props) == 0) return TKM_OK;
    *acc += 3; /* prop_init */
    json_object_object_foreach(props, key, p) {
        if (!is(p, json_type_object))
            return fail(r, TKM_ERR_BAD_REQUEST, "%s.parameters.properties.%s: expected an object", path, key);
        *acc += 3; /* prop_key */
        size_t tn = 0, pdn = 0;
        json_object *type = member(p, "type");
        const char *ts = type ? value_text(type, &tn) : "";
        const char *pd = str(member(p, "description"), &pdn);
        if (!type || !is(type, json_type_string) || !pd) r->flags |= TKM_CHAT_EXTENDED;
        if (!pd) pd = "", pdn = 0;
        if (member(p, "properties") || member(p, "items")) r->flags |= TKM_CHAT_EXTENDED;
        json_object *en = member(p, "enum");
        if (en) {
            if (!is(en, json_type_array))
                return fail(r, TKM_ERR_BAD_REQUEST, "%s.parameters.properties.%s.enum: expected an array", path, key);
            *acc -= 3; /* enum_init */
            for (size_t k = 0; k < arr_len(en); k++) {
                size_t in;
                json_object *item = arr_at(en, k);
                if (!is(item, json_type_string)) r->flags |= TKM_CHAT_EXTENDED;
                const char *it = value_text(item, &in);
                size_t got = 0;
                *acc += 3; /* enum_item */
                if ((st = count(c, it, in, &got)) != TKM_OK) return st;
                *acc += (int64_t)got;
            }
        }
        if ((st = count_line(c, key, strlen(key), ts, tn, pd, pdn, 1, acc)) != TKM_OK) return st;
    }
    return TKM_OK;
}

static tkm_status count_tools(ctx *c, json_object *root) {
    tkm_chat_result *r = c->r;
    json_object *tools = member(root, "tools"), *funcs = member(root, "functions");
    int64_t acc = 0;
    size_t n_fn = 0;
    char path[48];
    if (tools && !is(tools, json_type_null) && !is(tools, json_type_array))
        return fail(r, TKM_ERR_BAD_REQUEST, "tools: expected an array");
    if (funcs && !is(funcs, json_type_null) && !is(funcs, json_type_array))
        return fail(r, TKM_ERR_BAD_REQUEST, "functions: expected an array");
    for (size_t i = 0; i < arr_len(tools); i++) {
        json_object *t = arr_at(tools, i);
        snprintf(path, sizeof path, "tools[%zu]", i);
        if (!is(t, json_type_object)) return fail(r, TKM_ERR_BAD_REQUEST, "%s: expected an object", path);
        size_t tn;
        const char *type = str(member(t, "type"), &tn);
        if (!type || strcmp(type, "function") != 0) { /* custom tools etc.: no documented count */
            r->n_parts_unknown++;
            r->flags |= TKM_CHAT_INCOMPLETE;
            continue;
        }
        json_object *fn = member(t, "function");
        snprintf(path, sizeof path, "tools[%zu].function", i);
        if (!is(fn, json_type_object)) return fail(r, TKM_ERR_BAD_REQUEST, "%s: expected an object", path);
        tkm_status st = count_function(c, fn, path, &acc);
        if (st != TKM_OK) return st;
        n_fn++;
    }
    for (size_t i = 0; i < arr_len(funcs); i++) {
        json_object *fn = arr_at(funcs, i);
        snprintf(path, sizeof path, "functions[%zu]", i);
        if (!is(fn, json_type_object)) return fail(r, TKM_ERR_BAD_REQUEST, "%s: expected an object", path);
        tkm_status st = count_function(c, fn, path, &acc);
        if (st != TKM_OK) return st;
        n_fn++;
    }
    if (n_fn) acc += 12; /* func_end */
    if (acc < 0) return TKM_ERR_INTERNAL; /* every function adds at least func_init + func_end */
    r->tool_tokens = (size_t)acc;
    return TKM_OK;
}

/* ---- entry points ---------------------------------------------------------------------------- */
static void end_ctx(ctx *c) {
    free(c->buf);
    tkm_encoding_free(c->enc);
}

TKM_API tkm_status tkm_chat_count_request(const void *body, size_t len, const tkm_chat_options *opt,
                                          tkm_chat_result *r) {
    tkm_status st = begin(opt, r);
    if (st != TKM_OK) return st;
    json_object *root = NULL;
    if ((st = parse(body, len, opt, r, 0, &root)) != TKM_OK) return st;
    ctx c = {r, opt, NULL, 0, NULL, NULL, 0};
    if (!is(root, json_type_object)) st = fail(r, TKM_ERR_BAD_REQUEST, "the body is not a JSON object");
    if (st == TKM_OK) st = open_model(&c, root, r);
    if (st == TKM_OK) st = count_messages(&c, root);
    if (st == TKM_OK) st = count_tools(&c, root);
    if (st == TKM_OK) r->prompt_tokens = r->text_tokens + r->overhead_tokens + r->tool_tokens + r->image_tokens;
    end_ctx(&c);
    json_object_put(root);
    return st;
}

static int get_size(json_object *o, size_t *out) {
    if (!is(o, json_type_int)) return 0;
    int64_t v = json_object_get_int64(o);
    if (v < 0) return 0;
    *out = (size_t)v;
    return 1;
}

static void read_usage(json_object *root, tkm_chat_result *r) {
    json_object *u = member(root, "usage");
    if (!is(u, json_type_object)) return;
    int a = get_size(member(u, "prompt_tokens"), &r->usage_prompt_tokens);
    int b = get_size(member(u, "completion_tokens"), &r->usage_completion_tokens);
    get_size(member(member(u, "prompt_tokens_details"), "cached_tokens"), &r->usage_cached_tokens);
    if (a || b) r->flags |= TKM_CHAT_USAGE;
}

TKM_API tkm_status tkm_chat_count_response(const void *body, size_t len, const tkm_chat_options *opt,
                                           tkm_chat_result *r) {
    tkm_status st = begin(opt, r);
    if (st != TKM_OK) return st;
    json_object *root = NULL;
    if ((st = parse(body, len, opt, r, 0, &root)) != TKM_OK) return st;
    ctx c = {r, opt, NULL, 0, NULL, NULL, 0};
    json_object *choices = member(root, "choices");
    if (!is(root, json_type_object)) st = fail(r, TKM_ERR_BAD_REQUEST, "the body is not a JSON object");
    else if (!is(choices, json_type_array))
        st = fail(r, TKM_ERR_BAD_REQUEST, choices ? "choices: expected an array" : "choices: missing");
    if (st == TKM_OK) st = open_model(&c, root, r);
    char path[48];
    for (size_t i = 0; st == TKM_OK && i < arr_len(choices); i++) {
        json_object *m = member(arr_at(choices, i), "message");
        snprintf(path, sizeof path, "choices[%zu].message", i);
        if (!is(m, json_type_object)) {
            st = fail(r, TKM_ERR_BAD_REQUEST, "%s: expected an object", path);
            break;
        }
        r->n_choices++;
        json_object *content = member(m, "content"), *calls = member(m, "tool_calls");
        if (is(content, json_type_string)) st = count_json_string(&c, content, &r->completion_tokens);
        else if (is(content, json_type_array)) st = count_content_parts(&c, content, path, &r->completion_tokens);
        else if (content && !is(content, json_type_null))
            st = fail(r, TKM_ERR_BAD_REQUEST, "%s.content: expected a string or null", path);
        if (st == TKM_OK) st = count_json_string(&c, member(m, "refusal"), &r->completion_tokens);
        if (st == TKM_OK && calls && !is(calls, json_type_null))
            st = count_tool_calls(&c, calls, path, &r->completion_tokens);
        if (st == TKM_OK && is(member(m, "function_call"), json_type_object))
            st = count_call(&c, member(m, "function_call"), path, &r->completion_tokens);
    }
    if (st == TKM_OK) read_usage(root, r);
    end_ctx(&c);
    json_object_put(root);
    return st;
}

/* ---- SSE ------------------------------------------------------------------------------------ */
/* One text accumulated over deltas: a choice's content or refusal, or one tool call's name or
 * arguments. Concatenated first and counted once: tokens of pieces do not add up. */
typedef struct slot {
    uint32_t choice, kind, tool;
    char *s;
    size_t n, cap;
} slot;

typedef struct slots {
    slot *v;
    size_t n, cap;
} slots;

#define MAX_SLOTS 4096
#define MAX_INDEX 1023

static tkm_status slot_append(slots *ss, uint32_t choice, uint32_t kind, uint32_t tool, const char *s, size_t n) {
    slot *sl = NULL;
    for (size_t i = ss->n; i-- > 0;)
        if (ss->v[i].choice == choice && ss->v[i].kind == kind && ss->v[i].tool == tool) {
            sl = &ss->v[i];
            break;
        }
    if (!sl) {
        if (ss->n == MAX_SLOTS) return TKM_ERR_TOO_LARGE;
        if (ss->n == ss->cap) {
            size_t nc = ss->cap ? ss->cap * 2 : 8;
            slot *nv = (slot *)realloc(ss->v, nc * sizeof *nv);
            if (!nv) return TKM_ERR_NO_MEMORY;
            ss->v = nv, ss->cap = nc;
        }
        sl = &ss->v[ss->n++];
        memset(sl, 0, sizeof *sl);
        sl->choice = choice, sl->kind = kind, sl->tool = tool;
    }
    if (sl->cap - sl->n < n) {
        size_t nc = sl->cap ? sl->cap : 64;
        while (nc - sl->n < n) nc *= 2;
        char *ns = (char *)realloc(sl->s, nc);
        if (!ns) return TKM_ERR_NO_MEMORY;
        sl->s = ns, sl->cap = nc;
    }
    if (n) memcpy(sl->s + sl->n, s, n);
    sl->n += n;
    return TKM_OK;
}

static int index_of(json_object *o, size_t dflt, uint32_t *out) {
    if (!o) {
        *out = (uint32_t)dflt;
        return dflt <= MAX_INDEX;
    }
    if (!is(o, json_type_int)) return 0;
    int64_t v = json_object_get_int64(o);
    if (v < 0 || v > MAX_INDEX) return 0;
    *out = (uint32_t)v;
    return 1;
}

static tkm_status sse_chunk(tkm_chat_result *r, json_object *chunk, slots *ss, size_t line_no) {
    json_object *choices = member(chunk, "choices");
    if (!is(chunk, json_type_object))
        return fail(r, TKM_ERR_BAD_REQUEST, "line %zu: the chunk is not a JSON object", line_no);
    if (choices && !is(choices, json_type_array) && !is(choices, json_type_null))
        return fail(r, TKM_ERR_BAD_REQUEST, "line %zu: choices: expected an array", line_no);
    if (!r->model[0]) {
        size_t n;
        const char *m = str(member(chunk, "model"), &n);
        if (m) snprintf(r->model, sizeof r->model, "%s", m);
    }
    for (size_t i = 0; i < arr_len(choices); i++) {
        json_object *ch = arr_at(choices, i), *delta = member(ch, "delta");
        uint32_t ci, ti;
        if (!index_of(member(ch, "index"), i, &ci))
            return fail(r, TKM_ERR_BAD_REQUEST, "line %zu: choices[%zu].index: expected 0..%d", line_no, i, MAX_INDEX);
        if (ci + 1 > r->n_choices) r->n_choices = ci + 1;
        if (!delta || is(delta, json_type_null)) continue;
        if (!is(delta, json_type_object))
            return fail(r, TKM_ERR_BAD_REQUEST, "line %zu: choices[%zu].delta: expected an object", line_no, i);
        static const char *const kinds[] = {"content", "refusal"};
        for (uint32_t k = 0; k < 2; k++) {
            size_t n;
            json_object *v = member(delta, kinds[k]);
            const char *s = str(v, &n);
            if (!s && v && !is(v, json_type_null))
                return fail(r, TKM_ERR_BAD_REQUEST, "line %zu: choices[%zu].delta.%s: expected a string", line_no, i,
                            kinds[k]);
            tkm_status st = s ? slot_append(ss, ci, k, 0, s, n) : TKM_OK;
            if (st != TKM_OK) return st;
        }
        json_object *calls = member(delta, "tool_calls");
        if (calls && !is(calls, json_type_null) && !is(calls, json_type_array))
            return fail(r, TKM_ERR_BAD_REQUEST, "line %zu: choices[%zu].delta.tool_calls: expected an array", line_no,
                        i);
        for (size_t j = 0; j < arr_len(calls); j++) {
            json_object *call = arr_at(calls, j), *fn = member(call, "function");
            if (!index_of(member(call, "index"), j, &ti))
                return fail(r, TKM_ERR_BAD_REQUEST, "line %zu: tool_calls[%zu].index: expected 0..%d", line_no, j,
                            MAX_INDEX);
            static const char *const parts[] = {"name", "arguments"};
            for (uint32_t k = 0; k < 2; k++) {
                size_t n;
                const char *s = str(member(fn, parts[k]), &n);
                tkm_status st = s ? slot_append(ss, ci, 2 + k, ti, s, n) : TKM_OK;
                if (st != TKM_OK) return st;
            }
        }
    }
    read_usage(chunk, r);
    return TKM_OK;
}

TKM_API tkm_status tkm_chat_count_sse(const void *capture, size_t len, const tkm_chat_options *opt,
                                      tkm_chat_result *r) {
    tkm_status st = begin(opt, r);
    if (st != TKM_OK) return st;
    if (!capture && len) return TKM_ERR_INVALID_ARGUMENT;
    size_t max_body = opt && opt->max_body_bytes ? opt->max_body_bytes : DEFAULT_MAX_BODY;
    if (len > max_body)
        return fail(r, TKM_ERR_TOO_LARGE, "capture of %zu bytes is over the limit of %zu bytes", len, max_body);
    const char *p = (const char *)capture, *e = p + len;
    slots ss = {NULL, 0, 0};
    size_t line_no = 0, n_data = 0;
    int done = 0;
    while (st == TKM_OK && p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        const char *le = nl ? nl : e;
        const char *start = p;
        p = nl ? nl + 1 : e;
        line_no++;
        if (le > start && le[-1] == '\r') le--;
        if (done || (size_t)(le - start) < 5 || memcmp(start, "data:", 5) != 0) continue; /* other SSE fields */
        const char *d = start + 5;
        if (d < le && *d == ' ') d++;
        n_data++;
        if ((size_t)(le - d) == 6 && memcmp(d, "[DONE]", 6) == 0) {
            done = 1;
            continue;
        }
        json_object *chunk = NULL;
        st = parse(d, (size_t)(le - d), opt, r, (size_t)(d - (const char *)capture), &chunk);
        if (st != TKM_OK) {
            char msg[sizeof r->error];
            memcpy(msg, r->error, sizeof msg);
            snprintf(r->error, sizeof r->error, "line %zu: %.*s", line_no, (int)sizeof msg - 32, msg);
            break;
        }
        st = sse_chunk(r, chunk, &ss, line_no);
        if (st == TKM_ERR_TOO_LARGE) fail(r, st, "line %zu: more than %d streamed texts", line_no, MAX_SLOTS);
        json_object_put(chunk);
    }
    ctx c = {r, opt, NULL, 0, NULL, NULL, 0};
    if (st == TKM_OK && !n_data) st = fail(r, TKM_ERR_BAD_REQUEST, "no \"data:\" lines: not an SSE capture");
    if (st == TKM_OK && !r->model[0] && !(opt && opt->model))
        st = fail(r, TKM_ERR_BAD_REQUEST, "model: no chunk names one (give it in tkm_chat_options.model)");
    if (st == TKM_OK) {
        char model[sizeof r->model];
        memcpy(model, r->model, sizeof model);
        json_object *fake = json_object_new_object();
        if (!fake) st = TKM_ERR_NO_MEMORY;
        else if (!(opt && opt->model) && json_object_object_add(fake, "model", json_object_new_string(model)) != 0)
            st = TKM_ERR_NO_MEMORY;
        if (st == TKM_OK) st = open_model(&c, fake, r);
        c.model = r->model; /* the fake object's string dies with it */
        json_object_put(fake);
    }
    for (size_t i = 0; st == TKM_OK && i < ss.n; i++) st = count(&c, ss.v[i].s, ss.v[i].n, &r->completion_tokens);
    if (done) r->flags |= TKM_CHAT_STREAM_DONE;
    for (size_t i = 0; i < ss.n; i++) free(ss.v[i].s);
    free(ss.v);
    end_ctx(&c);
    return st;
}

/* ---- one field of a JSON line ---------------------------------------------------------------- */
static json_object *walk(json_object *o, const char *path, size_t n) {
    char key[256];
    const char *p = path, *e = path + n;
    while (o && p < e) {
        const char *dot = memchr(p, '.', (size_t)(e - p));
        size_t kl = (size_t)((dot ? dot : e) - p);
        if (kl == 0 || kl >= sizeof key) return NULL;
        memcpy(key, p, kl);
        key[kl] = '\0';
        if (is(o, json_type_array)) {
            char *end;
            unsigned long long i = strtoull(key, &end, 10);
            if (*end || key[0] < '0' || key[0] > '9') return NULL;
            o = arr_at(o, (size_t)i);
        } else {
            o = member(o, key);
        }
        p = dot ? dot + 1 : e;
    }
    return p >= e ? o : NULL;
}

TKM_API tkm_status tkm_json_count_field(const tkm_encoding *enc, const void *json, size_t len, const char *path,
                                        const tkm_chat_options *opt, tkm_chat_result *r) {
    tkm_status st = begin(opt, r);
    if (st != TKM_OK) return st;
    if (!enc || !path || !*path) return TKM_ERR_INVALID_ARGUMENT;
    json_object *root = NULL;
    if ((st = parse(json, len, opt, r, 0, &root)) != TKM_OK) return st;
    json_object *v = walk(root, path, strlen(path));
    size_t n = 0;
    const char *s = str(v, &n);
    if (!s) {
        st = fail(r, TKM_ERR_BAD_REQUEST, v ? "%s: not a string" : "%s: not found", path);
    } else {
        size_t k = 0;
        st = tkm_count(enc, s, n, &k);
        r->text_tokens = k;
        const char *last = strrchr(path, '.');
        size_t mn = 0;
        const char *m = NULL;
        if (last) {
            json_object *parent = walk(root, path, (size_t)(last - path));
            m = str(member(parent, "model"), &mn);
        }
        if (!m) m = str(member(root, "model"), &mn);
        if (m) snprintf(r->model, sizeof r->model, "%s", m);
    }
    json_object_put(root);
    return st;
}
