/*
 * test_chat.c - chat-request counting, completion counting, prices.
 *
 * Expected numbers come from outside the code under test:
 *  - the openai-cookbook notebook "How to count tokens with tiktoken" (examples/
 *    How_to_count_tokens_with_tiktoken.ipynb in openai/openai-cookbook, commit c81359cd), whose
 *    recorded cells show the OpenAI API's own usage.prompt_tokens: 129 (gpt-3.5-turbo, gpt-4-0613,
 *    gpt-4) and 124 (gpt-4o, gpt-4o-mini) for its 6-message example (cell 15); 105 (gpt-3.5-turbo,
 *    gpt-4) and 101 (gpt-4o, gpt-4o-mini) for its weather-tool example (cell 17);
 *  - OpenAI's vision guide ("Calculating costs"): 1024 x 1024 high = 765, 2048 x 4096 high =
 *    1105, low = 85; other sizes worked by hand from its rules in the comments;
 *  - corpus requests and responses re-counted by an independent oracle below that parses them
 *    with a different JSON library (jansson) and applies the cookbook's loop directly;
 *  - costs worked by hand from the prices in data/prices.tsv.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "tokmeter.h"

static const char *EX1_MESSAGES =
    "[{\"role\":\"system\",\"content\":\"You are a helpful, pattern-following assistant that translates corporate "
    "jargon into plain English.\"},"
    "{\"role\":\"system\",\"name\":\"example_user\",\"content\":\"New synergies will help drive top-line growth.\"},"
    "{\"role\":\"system\",\"name\":\"example_assistant\",\"content\":\"Things working well together will increase "
    "revenue.\"},"
    "{\"role\":\"system\",\"name\":\"example_user\",\"content\":\"Let's circle back when we have more bandwidth to "
    "touch base on opportunities for increased leverage.\"},"
    "{\"role\":\"system\",\"name\":\"example_assistant\",\"content\":\"Let's talk later when we're less busy about how "
    "to do better.\"},"
    "{\"role\":\"user\",\"content\":\"This late pivot means we don't have time to boil the ocean for the client "
    "deliverable.\"}]";

static const char *EX2_TOOL =
    "{\"type\":\"function\",\"function\":{\"name\":\"get_current_weather\",\"description\":\"Get the current weather "
    "in a given location\",\"parameters\":{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\","
    "\"description\":\"The city and state, e.g. San Francisco, CA\"},\"unit\":{\"type\":\"string\",\"description\":"
    "\"The unit of temperature to return\",\"enum\":[\"celsius\",\"fahrenheit\"]}},\"required\":[\"location\"]}}}";

static const char *EX2_MESSAGES =
    "[{\"role\":\"system\",\"content\":\"You are a helpful assistant that can answer to questions about the "
    "weather.\"},{\"role\":\"user\",\"content\":\"What's the weather like in San Francisco?\"}]";

static char *fmt(const char *f, ...) {
    static char buf[1 << 16];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

static tkm_status req(const char *body, const char *model, tkm_chat_result *r) {
    tkm_chat_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.model = model;
    memset(r, 0, sizeof *r);
    r->struct_size = sizeof *r;
    return tkm_chat_count_request(body, strlen(body), &o, r);
}

static size_t tok(const char *enc, const char *s, size_t n) {
    tkm_encoding *e = NULL;
    size_t k = 0;
    cr_assert_eq(tkm_encoding_open(enc, &e), TKM_OK);
    cr_assert_eq(tkm_count(e, s, n, &k), TKM_OK);
    tkm_encoding_free(e);
    return k;
}

/* ---- the cookbook's worked examples and the API's documented counts ------------------------- */
Test(chat, cookbook_messages_example_matches_api_counts) {
    static const struct {
        const char *model;
        size_t api;
    } cases[] = {{"gpt-3.5-turbo", 129}, {"gpt-4-0613", 129}, {"gpt-4", 129}, {"gpt-4o", 124}, {"gpt-4o-mini", 124}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tkm_chat_result r;
        const char *body = fmt("{\"model\":\"%s\",\"messages\":%s}", cases[i].model, EX1_MESSAGES);
        cr_assert_eq(req(body, NULL, &r), TKM_OK, "%s: %s", cases[i].model, r.error);
        cr_expect_eq(r.prompt_tokens, cases[i].api, "%s: %zu, the API said %zu", cases[i].model, r.prompt_tokens,
                     cases[i].api);
        cr_expect_eq(r.overhead_tokens, 6 * 3 + 4 * 1 + 3, "6 messages, 4 names, priming");
        cr_expect_eq(r.n_messages, 6);
        cr_expect_eq(r.flags, 0, "%s: plain messages of a cookbook model: flags %u", cases[i].model, r.flags);
        cr_expect_str_eq(r.model, cases[i].model);
    }
}

Test(chat, cookbook_tools_example_matches_api_counts) {
    static const struct {
        const char *model;
        size_t api;
    } cases[] = {{"gpt-3.5-turbo", 105}, {"gpt-4", 105}, {"gpt-4o", 101}, {"gpt-4o-mini", 101}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tkm_chat_result r;
        const char *body = fmt("{\"model\":\"%s\",\"tools\":[%s],\"messages\":%s}", cases[i].model, EX2_TOOL, EX2_MESSAGES);
        cr_assert_eq(req(body, NULL, &r), TKM_OK, "%s: %s", cases[i].model, r.error);
        cr_expect_eq(r.prompt_tokens, cases[i].api, "%s: %zu, the API said %zu", cases[i].model, r.prompt_tokens,
                     cases[i].api);
        cr_expect_eq(r.flags, 0, "flags %u", r.flags);
    }
}

Test(chat, legacy_functions_count_like_tools) {
    tkm_chat_result a, b;
    const char *fn = strstr(EX2_TOOL, "\"function\":{") + strlen("\"function\":");
    char func[2048];
    snprintf(func, sizeof func, "%.*s", (int)(strlen(fn) - 1), fn); /* the object without the outer '}' */
    cr_assert_eq(req(fmt("{\"model\":\"gpt-4o\",\"tools\":[%s],\"messages\":%s}", EX2_TOOL, EX2_MESSAGES), NULL, &a),
                 TKM_OK);
    cr_assert_eq(req(fmt("{\"model\":\"gpt-4o\",\"functions\":[%s],\"messages\":%s}", func, EX2_MESSAGES), NULL, &b),
                 TKM_OK, "%s", b.error);
    cr_expect_eq(a.tool_tokens, b.tool_tokens);
    cr_expect_eq(a.prompt_tokens, 101);
}

Test(chat, model_option_overrides_body_and_unverified_models_are_flagged) {
    tkm_chat_result r;
    cr_assert_eq(req(fmt("{\"model\":\"gpt-4\",\"messages\":%s}", EX1_MESSAGES), "gpt-4o", &r), TKM_OK);
    cr_expect_eq(r.prompt_tokens, 124);
    cr_expect_str_eq(r.encoding, "o200k_base");
    cr_assert_eq(req(fmt("{\"model\":\"gpt-4.1-mini\",\"messages\":%s}", EX1_MESSAGES), NULL, &r), TKM_OK);
    cr_expect(r.flags & TKM_CHAT_MODEL_UNVERIFIED, "gpt-4.1 is not a model the notebook checked");
    cr_expect_eq(r.prompt_tokens, 124, "same o200k text and the same framing constants");
}

/* ---- text counting: exact, whatever the string holds ---------------------------------------- */
Test(chat, every_string_value_is_counted_exactly) {
    tkm_chat_result r;
    /* "\u0000" must not cut the string short: a body could otherwise hide text from the count */
    cr_assert_eq(req("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"abc\\u0000 hidden "
                     "words here\",\"tool_call_id\":\"call_1\"}]}",
                     NULL, &r),
                 TKM_OK, "%s", r.error);
    size_t want = tok("o200k_base", "user", 4) + tok("o200k_base", "abc\0 hidden words here", 22) +
                  tok("o200k_base", "call_1", 6);
    cr_expect_eq(r.text_tokens, want, "%zu vs %zu", r.text_tokens, want);
    cr_expect_eq(r.prompt_tokens, want + 3 + 3);
}

Test(chat, content_parts_tool_calls_and_tool_messages) {
    tkm_chat_result r;
    const char *body = "{\"model\":\"gpt-4o\",\"messages\":["
                       "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather in Paris?\"}]},"
                       "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
                       "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
                       "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"18 C, cloudy\"}]}";
    cr_assert_eq(req(body, NULL, &r), TKM_OK, "%s", r.error);
    size_t want = tok("o200k_base", "user", 4) + tok("o200k_base", "Weather in Paris?", 17) +
                  tok("o200k_base", "assistant", 9) + tok("o200k_base", "get_weather", 11) +
                  tok("o200k_base", "{\"city\":\"Paris\"}", 16) + tok("o200k_base", "tool", 4) +
                  tok("o200k_base", "c1", 2) + tok("o200k_base", "18 C, cloudy", 12);
    cr_expect_eq(r.text_tokens, want, "%zu vs %zu", r.text_tokens, want);
    cr_expect_eq(r.overhead_tokens, 3 * 3 + 3);
    cr_expect(r.flags & TKM_CHAT_EXTENDED, "content parts and tool_calls are beyond the notebook");
    cr_expect_eq(r.flags & TKM_CHAT_INCOMPLETE, 0);
}

Test(chat, huge_content_is_counted_exactly) {
    size_t n = (size_t)8 << 20;
    char *body = malloc(n + 200);
    char *text = malloc(n);
    for (size_t i = 0; i < n; i++) text[i] = "lorem ipsum dolor sit amet, "[i % 28];
    int h = sprintf(body, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"");
    memcpy(body + h, text, n);
    strcpy(body + h + n, "\"}]}");
    tkm_chat_result r = {.struct_size = sizeof r};
    cr_assert_eq(tkm_chat_count_request(body, strlen(body), NULL, &r), TKM_OK, "%s", r.error);
    cr_expect_eq(r.prompt_tokens, tok("o200k_base", text, n) + tok("o200k_base", "user", 4) + 6);
    free(body);
    free(text);
}

/* ---- images ----------------------------------------------------------------------------------- */
static void b64(const unsigned char *d, size_t n, char *out) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        out[o++] = A[v >> 18], out[o++] = A[(v >> 12) & 63];
        out[o++] = i + 1 < n ? A[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? A[v & 63] : '=';
    }
    out[o] = 0;
}

static size_t one_image(const char *model, const char *url, const char *detail, const tkm_chat_image_size *sz,
                        tkm_chat_result *r) {
    char body[8192];
    snprintf(body, sizeof body,
             "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
             "\"image_url\":{\"url\":\"%s\"%s%s%s}}]}]}",
             model, url, detail ? ",\"detail\":\"" : "", detail ? detail : "", detail ? "\"" : "");
    tkm_chat_options o = {.struct_size = sizeof o};
    o.image_sizes = sz;
    o.n_image_sizes = sz ? 1 : 0;
    memset(r, 0, sizeof *r);
    r->struct_size = sizeof *r;
    cr_assert_eq(tkm_chat_count_request(body, strlen(body), &o, r), TKM_OK, "%s", r->error);
    cr_assert_eq(r->n_images, 1);
    return r->image_tokens;
}

Test(chat, image_tile_formula_documented_examples) {
    tkm_chat_result r;
    tkm_chat_image_size a = {1024, 1024}, b = {2048, 4096}, c = {4096, 8192}, d = {512, 512};
    cr_expect_eq(one_image("gpt-4o", "https://x/a.png", "high", &a, &r), 765);
    cr_expect_eq(one_image("gpt-4o", "https://x/a.png", "high", &b, &r), 1105);
    cr_expect_eq(one_image("gpt-4o", "https://x/a.png", "low", &c, &r), 85);
    cr_expect_eq(one_image("gpt-4o", "https://x/a.png", "low", NULL, &r), 85, "low needs no size");
    cr_expect_eq(one_image("gpt-4o", "https://x/a.png", "high", &d, &r), 85 + 170, "one tile, no upscaling");
    cr_expect_eq(r.flags & TKM_CHAT_INCOMPLETE, 0);
    /* gpt-4o-mini's documented constants: base 2833, 5667 per tile */
    cr_expect_eq(one_image("gpt-4o-mini", "https://x/a.png", "high", &a, &r), 2833 + 4 * 5667);
    cr_expect_eq(one_image("gpt-4o-mini", "https://x/a.png", "low", NULL, &r), 2833);
    /* detail auto (or none): counted as high, an upper bound; content arrays are flagged extended */
    cr_expect_eq(one_image("gpt-4o", "https://x/a.png", NULL, &a, &r), 765);
    cr_expect_eq(one_image("gpt-4o", "https://x/a.png", "auto", &a, &r), 765);
    cr_expect(r.flags & TKM_CHAT_EXTENDED);
}

Test(chat, image_size_unknown_is_reported_not_guessed) {
    tkm_chat_result r;
    cr_expect_eq(one_image("gpt-4o", "https://example.com/cat.jpg", "high", NULL, &r), 0);
    cr_expect_eq(r.n_images_unknown, 1);
    cr_expect(r.flags & TKM_CHAT_INCOMPLETE);
    tkm_chat_image_size a = {1024, 1024};
    cr_expect_eq(one_image("gpt-4.1", "https://x/a.png", "high", &a, &r), 0, "patch-based model: formula not carried");
    cr_expect_eq(r.n_images_unknown, 1);
    cr_expect_eq(one_image("gpt-4o", "data:image/png;base64,AAAA", "high", NULL, &r), 0, "not a PNG header");
    cr_expect_eq(r.n_images_unknown, 1);
}

Test(chat, image_size_from_data_url_headers) {
    unsigned char png[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                             0, 0, 0x04, 0x00, 0, 0, 0x04, 0x00, 8, 6, 0, 0, 0, 1, 2, 3, 4}; /* 1024 x 1024 */
    unsigned char gif[13] = {'G', 'I', 'F', '8', '9', 'a', 0x4c, 0x04, 0x2c, 0x01, 0, 0, 0};   /* 1100 x 300 */
    /* JPEG: SOI, an APP0 segment to skip, then SOF0 with height 600, width 800 */
    unsigned char jpg[40] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
                             0xff, 0xc0, 0, 17, 8, 0x02, 0x58, 0x03, 0x20, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0};
    /* WebP VP8X: canvas 2000 x 1000 stored minus one, 24-bit little-endian */
    unsigned char webp[30] = {'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X', 10, 0, 0, 0,
                              0, 0, 0, 0, 0xcf, 0x07, 0, 0xe7, 0x03, 0};
    char enc[256], url[320];
    tkm_chat_result r;
    b64(png, sizeof png, enc);
    snprintf(url, sizeof url, "data:image/png;base64,%s", enc);
    cr_expect_eq(one_image("gpt-4o", url, "high", NULL, &r), 765, "PNG 1024 x 1024");
    b64(gif, sizeof gif, enc);
    snprintf(url, sizeof url, "data:image/gif;base64,%s", enc);
    /* 1100 x 300: fits 2048, shortest 300 <= 768: 3 x 1 tiles */
    cr_expect_eq(one_image("gpt-4o", url, "high", NULL, &r), 85 + 3 * 170, "GIF 1100 x 300");
    b64(jpg, sizeof jpg, enc);
    snprintf(url, sizeof url, "data:image/jpeg;base64,%s", enc);
    /* 800 x 600: no scaling, 2 x 2 tiles */
    cr_expect_eq(one_image("gpt-4o", url, "high", NULL, &r), 85 + 4 * 170, "JPEG 800 x 600");
    b64(webp, sizeof webp, enc);
    snprintf(url, sizeof url, "data:image/webp;base64,%s", enc);
    /* 2000 x 1000 -> shortest to 768: 1536 x 768: 3 x 2 tiles */
    cr_expect_eq(one_image("gpt-4o", url, "high", NULL, &r), 85 + 6 * 170, "WebP 2000 x 1000");
    /* a caller-supplied size wins over the header */
    tkm_chat_image_size s = {512, 512};
    cr_expect_eq(one_image("gpt-4o", url, "high", &s, &r), 255);
}

/* ---- hostile and malformed bodies: clear statuses, never a crash ------------------------------ */
static void expect_err(const char *body, size_t len, tkm_status want, const char *needle) {
    tkm_chat_result r = {.struct_size = sizeof r};
    tkm_status st = tkm_chat_count_request(body, len, NULL, &r);
    cr_expect_eq(st, want, "'%.60s': %s (%s), wanted %s", body, tkm_status_string(st), r.error,
                 tkm_status_string(want));
    if (needle) cr_expect(strstr(r.error, needle) != NULL, "'%.60s': message '%s' lacks '%s'", body, r.error, needle);
}
#define ERR(body, st, needle) expect_err(body, strlen(body), st, needle)

Test(chat, malformed_json_reports_offset) {
    tkm_chat_result r = {.struct_size = sizeof r};
    const char *b = "{\"model\":\"gpt-4o\",\"messages\":[}";
    cr_assert_eq(tkm_chat_count_request(b, strlen(b), NULL, &r), TKM_ERR_BAD_JSON);
    cr_expect_eq(r.error_offset, 30, "offset %zu: %s", r.error_offset, r.error);
    ERR("", TKM_ERR_BAD_JSON, "end of input");
    ERR("{\"model\":\"gpt-4o\",\"messages\":[", TKM_ERR_BAD_JSON, "end of input");
    ERR("{\"model\":\"gpt-4o\",\"messages\":[]} x", TKM_ERR_BAD_JSON, NULL);
    ERR("{'model':'gpt-4o'}", TKM_ERR_BAD_JSON, NULL);
    ERR("{\"model\":\"gpt-4o\",\"messages\":[],}", TKM_ERR_BAD_JSON, NULL);
    const char bad_utf8[] = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"a\xff\"}]}";
    cr_assert_eq(tkm_chat_count_request(bad_utf8, strlen(bad_utf8), NULL, &r), TKM_ERR_BAD_JSON);
    cr_expect_eq(r.error_offset, (size_t)(strchr(bad_utf8, '\xff') - bad_utf8), "%s", r.error);
}

Test(chat, wrong_shapes_name_the_path) {
    ERR("[1,2]", TKM_ERR_BAD_REQUEST, "not a JSON object");
    ERR("{\"messages\":[]}", TKM_ERR_BAD_REQUEST, "model");
    ERR("{\"model\":5,\"messages\":[]}", TKM_ERR_BAD_REQUEST, "model: expected a string");
    ERR("{\"model\":\"gpt-4o\"}", TKM_ERR_BAD_REQUEST, "messages: missing");
    ERR("{\"model\":\"gpt-4o\",\"messages\":{}}", TKM_ERR_BAD_REQUEST, "messages: expected an array");
    ERR("{\"model\":\"gpt-4o\",\"messages\":[3]}", TKM_ERR_BAD_REQUEST, "messages[0]: expected an object");
    ERR("{\"model\":\"gpt-4o\",\"messages\":[{\"content\":\"x\"}]}", TKM_ERR_BAD_REQUEST, "messages[0].role");
    ERR("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":7}]}", TKM_ERR_BAD_REQUEST,
        "messages[0].content");
    ERR("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"name\":[1],\"content\":\"x\"}]}",
        TKM_ERR_BAD_REQUEST, "messages[0].name");
    ERR("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]}", TKM_ERR_BAD_REQUEST,
        "messages[0].content[0].type");
    ERR("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":1}]}]}",
        TKM_ERR_BAD_REQUEST, "content[0].text");
    ERR("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
        "{\"url\":\"x\",\"detail\":\"huge\"}}]}]}",
        TKM_ERR_BAD_REQUEST, "detail");
    ERR("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":{}}]}", TKM_ERR_BAD_REQUEST,
        "tool_calls");
    ERR("{\"model\":\"gpt-4o\",\"messages\":[],\"tools\":{}}", TKM_ERR_BAD_REQUEST, "tools: expected an array");
    ERR("{\"model\":\"gpt-4o\",\"messages\":[],\"tools\":[{\"type\":\"function\",\"function\":{\"description\":\"d\"}}]}",
        TKM_ERR_BAD_REQUEST, "tools[0].function.name");
    ERR("{\"model\":\"gpt-4o\",\"messages\":[],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"parameters\":{\"properties\":{\"a\":3}}}}]}",
        TKM_ERR_BAD_REQUEST, "properties.a");
    ERR("{\"model\":\"no-such-model\",\"messages\":[]}", TKM_ERR_UNKNOWN_MODEL, "no-such-model");
    ERR("{\"model\":\"gpt-oss-20b\",\"messages\":[]}", TKM_ERR_UNSUPPORTED, "o200k_harmony");
    ERR("{\"model\":\"davinci\",\"messages\":[]}", TKM_ERR_UNSUPPORTED, NULL);
}

Test(chat, deep_nesting_and_size_limits) {
    size_t depth = 100000;
    char *b = malloc(2 * depth + 64);
    int h = sprintf(b, "{\"model\":\"gpt-4o\",\"messages\":");
    memset(b + h, '[', depth);
    memset(b + h + depth, ']', depth);
    strcpy(b + h + 2 * depth, "}");
    expect_err(b, strlen(b), TKM_ERR_TOO_LARGE, "nested deeper");
    free(b);
    const char *ok = "{\"model\":\"gpt-4o\",\"messages\":[]}";
    tkm_chat_options o = {.struct_size = sizeof o};
    o.max_body_bytes = 10;
    tkm_chat_result r = {.struct_size = sizeof r};
    cr_expect_eq(tkm_chat_count_request(ok, strlen(ok), &o, &r), TKM_ERR_TOO_LARGE);
    o.max_body_bytes = 0;
    o.max_depth = 1; /* the object itself is level 1; the messages array is too deep */
    cr_expect_eq(tkm_chat_count_request(ok, strlen(ok), &o, &r), TKM_ERR_TOO_LARGE, "%s", r.error);
    o.max_depth = 2;
    cr_expect_eq(tkm_chat_count_request(ok, strlen(ok), &o, &r), TKM_OK, "%s", r.error);
    cr_expect_eq(r.prompt_tokens, 3, "no messages: the reply priming only");
}

Test(chat, bad_arguments) {
    tkm_chat_result r = {.struct_size = sizeof r};
    cr_expect_eq(tkm_chat_count_request(NULL, 3, NULL, &r), TKM_ERR_INVALID_ARGUMENT);
    cr_expect_eq(tkm_chat_count_request("{}", 2, NULL, NULL), TKM_ERR_INVALID_ARGUMENT);
    r.struct_size = 8;
    cr_expect_eq(tkm_chat_count_request("{}", 2, NULL, &r), TKM_ERR_INVALID_ARGUMENT);
    tkm_chat_result r2 = {.struct_size = sizeof r2};
    tkm_chat_options o = {.struct_size = 4};
    cr_expect_eq(tkm_chat_count_request("{}", 2, &o, &r2), TKM_ERR_INVALID_ARGUMENT);
    cr_expect_str_neq(tkm_status_string(TKM_ERR_BAD_JSON), "unknown status");
    cr_expect_str_neq(tkm_status_string(TKM_ERR_BAD_REQUEST), "unknown status");
    cr_expect_str_neq(tkm_status_string(TKM_ERR_TOO_LARGE), "unknown status");
    cr_expect_str_neq(tkm_status_string(TKM_ERR_BAD_PRICES), "unknown status");
}

/* ---- responses and SSE captures ----------------------------------------------------------- */
Test(chat, response_body_completion_tokens_and_usage) {
    const char *body = "{\"id\":\"x\",\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":["
                       "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello there, friend.\"}},"
                       "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\","
                       "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]}}],"
                       "\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":9,\"prompt_tokens_details\":"
                       "{\"cached_tokens\":4}}}";
    tkm_chat_result r = {.struct_size = sizeof r};
    cr_assert_eq(tkm_chat_count_response(body, strlen(body), NULL, &r), TKM_OK, "%s", r.error);
    cr_expect_eq(r.n_choices, 2);
    cr_expect_eq(r.completion_tokens, tok("o200k_base", "Hello there, friend.", 20) + tok("o200k_base", "f", 1) +
                                          tok("o200k_base", "{\"a\":1}", 7));
    cr_expect(r.flags & TKM_CHAT_USAGE);
    cr_expect_eq(r.usage_prompt_tokens, 20);
    cr_expect_eq(r.usage_completion_tokens, 9);
    cr_expect_eq(r.usage_cached_tokens, 4);
    const char *bad = "{\"model\":\"gpt-4o\",\"choices\":[{\"message\":{\"content\":5}}]}";
    cr_expect_eq(tkm_chat_count_response(bad, strlen(bad), NULL, &r), TKM_ERR_BAD_REQUEST);
    cr_expect(strstr(r.error, "choices[0].message.content") != NULL, "%s", r.error);
}

/* Build an SSE capture that streams `text` in pieces of `step` bytes (split anywhere, even inside
 * a word), plus a second choice and a tool call, the way the API sends them. */
static char *sse_capture(const char *text, size_t step) {
    size_t cap = 1 << 20, o = 0;
    char *s = malloc(cap);
    o += (size_t)sprintf(s + o, ": keep-alive comment\n\nevent: ignored\n");
    for (size_t i = 0, len = strlen(text); i < len; i += step) {
        char piece[72];
        size_t n = len - i < step ? len - i : step;
        memcpy(piece, text + i, n);
        piece[n] = 0;
        o += (size_t)sprintf(s + o,
                             "data: {\"id\":\"c\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":"
                             "{\"content\":\"%s\"}}]}\r\n\r\n",
                             piece);
    }
    o += (size_t)sprintf(s + o, "data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":1,\"delta\":{\"tool_calls\":[{"
                                "\"index\":0,\"function\":{\"name\":\"get_\",\"arguments\":\"{\\\"ci\"}}]}}]}\n\n");
    o += (size_t)sprintf(s + o, "data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":1,\"delta\":{\"tool_calls\":[{"
                                "\"index\":0,\"function\":{\"name\":\"weather\",\"arguments\":\"ty\\\":1}\"}}]}}]}\n\n");
    o += (size_t)sprintf(s + o, "data: {\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,"
                                "\"completion_tokens\":12}}\n\ndata: [DONE]\n\n");
    return s;
}

Test(chat, sse_capture_counts_the_concatenated_stream) {
    const char *text = "Streaming answers arrive in little pieces, split anywhere: inside words too.";
    size_t want = tok("o200k_base", text, strlen(text)) + tok("o200k_base", "get_weather", 11) +
                  tok("o200k_base", "{\"city\":1}", 10);
    static const size_t steps[] = {1, 2, 3, 7, 64};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        char *cap = sse_capture(text, steps[k]);
        tkm_chat_result r = {.struct_size = sizeof r};
        cr_assert_eq(tkm_chat_count_sse(cap, strlen(cap), NULL, &r), TKM_OK, "%s", r.error);
        cr_expect_eq(r.completion_tokens, want, "step %zu: %zu vs %zu", steps[k], r.completion_tokens, want);
        cr_expect_eq(r.n_choices, 2);
        cr_expect(r.flags & TKM_CHAT_STREAM_DONE);
        cr_expect(r.flags & TKM_CHAT_USAGE);
        cr_expect_eq(r.usage_completion_tokens, 12);
        cr_expect_str_eq(r.model, "gpt-4o");
        free(cap);
    }
}

Test(chat, sse_errors_name_the_line) {
    const char *cap = "data: {\"model\":\"gpt-4o\",\"choices\":[]}\n\ndata: {\"model\":\n\n";
    tkm_chat_result r = {.struct_size = sizeof r};
    cr_expect_eq(tkm_chat_count_sse(cap, strlen(cap), NULL, &r), TKM_ERR_BAD_JSON);
    cr_expect(strstr(r.error, "line 3") != NULL, "%s", r.error);
    cr_expect_eq(r.error_offset, strlen(cap) - 2, "offset %zu: %s", r.error_offset, r.error);
    const char *none = "{\"model\":\"gpt-4o\"}\n";
    cr_expect_eq(tkm_chat_count_sse(none, strlen(none), NULL, &r), TKM_ERR_BAD_REQUEST);
    const char *no_done = "data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n";
    cr_assert_eq(tkm_chat_count_sse(no_done, strlen(no_done), NULL, &r), TKM_OK, "%s", r.error);
    cr_expect_eq(r.flags & TKM_CHAT_STREAM_DONE, 0, "a capture cut short says so");
    cr_expect_eq(r.completion_tokens, 1);
    const char *bad_idx = "data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":99999,\"delta\":{}}]}\n";
    cr_expect_eq(tkm_chat_count_sse(bad_idx, strlen(bad_idx), NULL, &r), TKM_ERR_BAD_REQUEST);
}

/* ---- the corpus, against an independent oracle ------------------------------------------------ */
/* The notebook's loop over a jansson-parsed request: 3 per message, every string value, 1 per
 * name, 3 for priming. Only for requests the loop covers (string contents, no tools). */
static int oracle_prompt(json_t *req, const char *enc, size_t *out) {
    json_t *msgs = json_object_get(req, "messages");
    if (!json_is_array(msgs) || json_object_get(req, "tools")) return 0;
    size_t total = 3, i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *k;
        json_t *v;
        total += 3;
        json_object_foreach(m, k, v) {
            if (!json_is_string(v)) return 0;
            total += tok(enc, json_string_value(v), json_string_length(v)) + (strcmp(k, "name") == 0);
        }
    }
    *out = total;
    return 1;
}

static int oracle_completion(json_t *resp, const char *enc, size_t *out) {
    size_t total = 0, i, j;
    json_t *ch, *call;
    json_array_foreach(json_object_get(resp, "choices"), i, ch) {
        json_t *msg = json_object_get(ch, "message"), *c = json_object_get(msg, "content");
        if (json_is_string(c)) total += tok(enc, json_string_value(c), json_string_length(c));
        json_array_foreach(json_object_get(msg, "tool_calls"), j, call) {
            json_t *fn = json_object_get(call, "function");
            json_t *n = json_object_get(fn, "name"), *a = json_object_get(fn, "arguments");
            if (!json_is_string(n) || !json_is_string(a)) return 0;
            total += tok(enc, json_string_value(n), json_string_length(n)) +
                     tok(enc, json_string_value(a), json_string_length(a));
        }
    }
    *out = total;
    return 1;
}

Test(chat, corpus_requests_and_responses_match_the_oracle, .timeout = 600) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/chat", TKM_CORPUS_DIR);
    DIR *d = opendir(dir);
    if (!d) cr_skip_test("corpus not found at %s", dir);
    size_t checked_req = 0, checked_resp = 0, tools = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "openai-", 7) != 0) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t n;
        char *s = (char *)oracle_read_file(path, &n);
        cr_assert_not_null(s, "%s", path);
        size_t line = 0;
        for (char *p = s; p < s + n;) {
            char *e = memchr(p, '\n', (size_t)(s + n - p));
            if (!e) e = s + n;
            line++;
            if (e > p) {
                json_error_t jerr;
                json_t *j = json_loadb(p, (size_t)(e - p), 0, &jerr);
                cr_assert_not_null(j, "%s:%zu: oracle could not parse", path, line);
                tkm_chat_result r = {.struct_size = sizeof r};
                size_t want;
                if (json_object_get(j, "choices")) {
                    cr_assert_eq(tkm_chat_count_response(p, (size_t)(e - p), NULL, &r), TKM_OK, "%s:%zu: %s", path,
                                 line, r.error);
                    if (oracle_completion(j, r.encoding, &want)) {
                        cr_expect_eq(r.completion_tokens, want, "%s:%zu", path, line);
                        checked_resp++;
                    }
                } else {
                    cr_assert_eq(tkm_chat_count_request(p, (size_t)(e - p), NULL, &r), TKM_OK, "%s:%zu: %s", path,
                                 line, r.error);
                    cr_expect_eq(r.prompt_tokens, r.text_tokens + r.overhead_tokens + r.tool_tokens + r.image_tokens);
                    if (oracle_prompt(j, r.encoding, &want)) {
                        cr_expect_eq(r.prompt_tokens, want, "%s:%zu", path, line);
                        checked_req++;
                    } else if (r.tool_tokens) {
                        tools++;
                    }
                }
                json_decref(j);
            }
            p = e + 1;
        }
        free(s);
    }
    closedir(d);
    cr_expect_geq(checked_req, 500, "requests checked against the oracle: %zu", checked_req);
    cr_expect_geq(checked_resp, 500, "responses checked against the oracle: %zu", checked_resp);
    cr_expect_geq(tools, 100, "requests with tools counted: %zu", tools);
}

/* ---- prices and costs ---------------------------------------------------------------------- */
Test(prices, builtin_table_loads_and_is_consistent) {
    tkm_prices *p = NULL;
    cr_assert_eq(tkm_prices_open_builtin(&p), TKM_OK);
    size_t rows = 0;
    tkm_cost c = {.struct_size = sizeof c};
    const char *m;
    for (size_t i = 0; (m = tkm_prices_at(p, i, NULL, &c)) != NULL; i++, rows++) {
        const char *enc = NULL;
        cr_assert_eq(tkm_model_encoding_name(m, &enc), TKM_OK, "%s", m);
        cr_expect_str_eq(enc, c.encoding, "%s: the price table says %s, the model table %s", m, c.encoding, enc);
        cr_expect(c.date && c.source && *c.source, "%s: every price needs its date and source", m);
        cr_expect(c.output_price >= c.input_price && c.input_price >= c.cached_input_price, "%s", m);
    }
    cr_expect_geq(rows, 5);
    tkm_prices_free(p);
}

Test(prices, costs_are_exact_integers) {
    tkm_prices *p = NULL;
    cr_assert_eq(tkm_prices_open_builtin(&p), TKM_OK);
    tkm_cost c = {.struct_size = sizeof c};
    /* gpt-4o: $2.50 input, $1.25 cached, $10.00 output per 1M tokens (data/prices.tsv) */
    cr_assert_eq(tkm_cost_estimate(p, "gpt-4o-2024-08-06", 1000, 400, 500, &c), TKM_OK);
    cr_expect_str_eq(c.price_model, "gpt-4o");
    cr_expect_eq(c.input_price, 2500000);
    cr_expect_eq(c.input_cost, 600ull * 2500000 + 400ull * 1250000); /* $0.002 in pico-dollars */
    cr_expect_eq(c.input_cost, 2000000000ull);
    cr_expect_eq(c.output_cost, 5000000000ull); /* 500 x $10 / 1M = $0.005 */
    cr_expect_eq(c.total_cost, 7000000000ull);
    /* an exact row beats the dated one; a price below one micro-dollar per token stays exact */
    cr_assert_eq(tkm_cost_estimate(p, "gpt-4o-2024-05-13", 3, 0, 0, &c), TKM_OK);
    cr_expect_eq(c.input_cost, 15000000);
    cr_assert_eq(tkm_cost_estimate(p, "gpt-4.1-nano", 1, 1, 0, &c), TKM_OK); /* $0.025 / 1M cached */
    cr_expect_eq(c.input_cost, 25000);
    cr_assert_eq(tkm_cost_estimate(p, "gpt-4o-mini-2024-07-18", 0, 0, 1, &c), TKM_OK);
    cr_expect_str_eq(c.price_model, "gpt-4o-mini");
    /* other models sharing a prefix are not priced as their neighbour */
    cr_expect_eq(tkm_cost_estimate(p, "gpt-4o-realtime-preview", 1, 0, 1, &c), TKM_ERR_UNKNOWN_MODEL);
    cr_expect_eq(tkm_cost_estimate(p, "gpt-4o-2024-08-06x", 1, 0, 1, &c), TKM_ERR_UNKNOWN_MODEL);
    cr_expect_eq(tkm_cost_estimate(p, "gpt-4o", 1, 2, 0, &c), TKM_ERR_INVALID_ARGUMENT);
    cr_expect_eq(tkm_cost_estimate(p, "gpt-4o", UINT64_MAX, 0, 0, &c), TKM_ERR_UNSUPPORTED);
    tkm_prices_free(p);
}

Test(prices, user_tables_and_their_errors) {
    const char *ok = "# mine\nmodel\tmatch\tencoding\tinput\tcached_input\toutput\tdate\tsource\n"
                     "my-model\tprefix\tcl100k_base\t1\t-\t0.000001\t2026-12\tcontract 42\r\n";
    tkm_prices *p = NULL;
    size_t line = 99;
    cr_assert_eq(tkm_prices_load(ok, strlen(ok), &p, &line), TKM_OK);
    cr_expect_eq(line, 0);
    tkm_cost c = {.struct_size = sizeof c};
    cr_assert_eq(tkm_cost_estimate(p, "my-model-v2", 10, 4, 3, &c), TKM_OK);
    cr_expect_eq(c.cached_input_price, c.input_price, "no cached price: cached tokens at the input price");
    cr_expect_eq(c.input_cost, 10ull * 1000000);
    cr_expect_eq(c.output_cost, 3);
    cr_expect_str_eq(c.source, "contract 42");
    tkm_prices_free(p);
    static const char *bad[] = {
        "m\texact\tcl100k_base\t1.2345678\t-\t1\t2026-01-01\ts\n", /* 7 decimals */
        "m\texact\tcl100k_base\t1\t-\t1\t2026-1-01\ts\n",          /* date */
        "m\texact\tnope\t1\t-\t1\t2026-01-01\ts\n",                /* encoding */
        "m\tfuzzy\tcl100k_base\t1\t-\t1\t2026-01-01\ts\n",         /* match */
        "m\texact\tcl100k_base\t1\t-\t1\t2026-01-01\n",            /* fields */
        "m\texact\tcl100k_base\t-1\t-\t1\t2026-01-01\ts\n",        /* sign */
        "m\texact\tcl100k_base\t1.\t-\t1\t2026-01-01\ts\n",        /* no decimals after the point */
        "m\texact\tcl100k_base\t1\t-\t1\t2026-01-01\t\n",          /* no source */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "# header comment\n%s", bad[i]);
        cr_expect_eq(tkm_prices_load(buf, strlen(buf), &p, &line), TKM_ERR_BAD_PRICES, "case %zu", i);
        cr_expect_eq(line, 2, "case %zu: line %zu", i, line);
    }
    const char *dup = "a\texact\tcl100k_base\t1\t-\t1\t2026-01-01\ts\na\texact\tcl100k_base\t2\t-\t1\t2026-01-01\ts\n";
    cr_expect_eq(tkm_prices_load(dup, strlen(dup), &p, &line), TKM_ERR_BAD_PRICES);
    cr_expect_eq(line, 2);
    cr_expect_eq(tkm_prices_load(NULL, 1, &p, &line), TKM_ERR_INVALID_ARGUMENT);
    tkm_prices_free(NULL);
}
