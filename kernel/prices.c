/*
 * prices.c - price tables and integer cost estimates.
 *
 * Money is never a floating-point number here. A price "USD per 1M tokens" with at most six
 * decimals is read exactly into micro-dollars per 1M tokens, which is the same integer as
 * pico-dollars per token; a cost is then tokens x price in pico-dollars, one multiplication, no
 * rounding, with an overflow check. The table format is data/prices.tsv (see its header and
 * data/README.md); the built-in table is that file, embedded at build time (cmake/prices.cmake)
 * and parsed by the same loader as a user's file, so both are checked the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "tokmeter.h"

extern const char tkm_prices_tsv[];
extern const size_t tkm_prices_tsv_len;

enum { MATCH_EXACT, MATCH_DATED, MATCH_PREFIX };

typedef struct price_row {
    const char *model, *encoding, *date, *source;
    int match;
    int has_cached;
    uint64_t input, cached, output;
} price_row;

#define PRICES_MAGIC 0x70726963u

struct tkm_prices {
    uint32_t magic;
    size_t n;
    price_row *rows;
    char *text; /* a NUL-separated copy of the file the rows point into */
};

/* "12.345" (USD per 1M tokens) -> 12345000 micro-USD per 1M tokens; 0 on a malformed value. */
static int parse_price(const char *s, uint64_t *out) {
    uint64_t v = 0;
    int digits = 0, frac = -1;
    for (; *s; s++) {
        if (*s == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (*s < '0' || *s > '9') return 0;
        if (frac >= 0 && ++frac > 6) return 0; /* not exact in micro-dollars */
        if (v > (UINT64_MAX - 9) / 10) return 0;
        v = v * 10 + (uint64_t)(*s - '0');
        digits++;
    }
    if (!digits || frac == 0) return 0;
    for (int k = frac < 0 ? 0 : frac; k < 6; k++) {
        if (v > UINT64_MAX / 10) return 0;
        v *= 10;
    }
    if (v > (uint64_t)1000000 * 1000000) return 0; /* over $1,000,000 per 1M tokens: a typo */
    *out = v;
    return 1;
}

static int is_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

static int valid_date(const char *s) {
    size_t n = strlen(s);
    if (n != 7 && n != 10) return 0;
    if (!is_digits(s, 4) || s[4] != '-' || !is_digits(s + 5, 2)) return 0;
    return n == 7 || (s[7] == '-' && is_digits(s + 8, 2));
}

static int known_encoding(const char *e) {
    for (const char *const *n = tkm_encoding_names(); *n; n++)
        if (strcmp(*n, e) == 0) return 1;
    return 0;
}

TKM_API void tkm_prices_free(tkm_prices *p) {
    if (!p || p->magic != PRICES_MAGIC) return;
    p->magic = 0;
    free(p->rows);
    free(p->text);
    free(p);
}

TKM_API tkm_status tkm_prices_load(const void *data, size_t len, tkm_prices **out, size_t *error_line) {
    if (error_line) *error_line = 0;
    if (!out || (!data && len)) return TKM_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (len > ((size_t)16 << 20)) return TKM_ERR_BAD_PRICES; /* a price table, not a data set */
    tkm_prices *p = (tkm_prices *)calloc(1, sizeof *p);
    if (!p) return TKM_ERR_NO_MEMORY;
    p->magic = PRICES_MAGIC;
    p->text = (char *)malloc(len + 1);
    size_t max_rows = 1;
    for (size_t i = 0; i < len; i++) max_rows += ((const char *)data)[i] == '\n';
    p->rows = (price_row *)calloc(max_rows, sizeof *p->rows);
    if (!p->text || !p->rows) {
        tkm_prices_free(p);
        return TKM_ERR_NO_MEMORY;
    }
    if (len) memcpy(p->text, data, len);
    p->text[len] = '\0';
    char *s = p->text, *end = p->text + len;
    size_t line = 0;
    while (s < end) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *le = nl ? nl : end;
        line++;
        *le = '\0';
        if (le > s && le[-1] == '\r') le[-1] = '\0';
        char *cur = s;
        s = nl ? nl + 1 : end;
        if (!*cur || *cur == '#') continue;
        char *f[8];
        int nf = 0;
        for (char *q = cur; nf < 8;) {
            f[nf++] = q;
            char *t = strchr(q, '\t');
            if (!t) break;
            *t = '\0';
            q = t + 1;
        }
        if (nf == 8 && strcmp(f[0], "model") == 0 && strcmp(f[1], "match") == 0) continue; /* the header */
        price_row *r = &p->rows[p->n];
        int ok = nf == 8 && *f[0] && *f[7] && known_encoding(f[2]) && valid_date(f[6]) &&
                 parse_price(f[3], &r->input) && parse_price(f[5], &r->output) &&
                 (strcmp(f[4], "-") == 0 || parse_price(f[4], &r->cached)) && !strchr(f[7], '\t');
        if (ok) {
            if (strcmp(f[1], "exact") == 0) r->match = MATCH_EXACT;
            else if (strcmp(f[1], "dated") == 0) r->match = MATCH_DATED;
            else if (strcmp(f[1], "prefix") == 0) r->match = MATCH_PREFIX;
            else ok = 0;
        }
        for (size_t i = 0; ok && i < p->n; i++)
            if (p->rows[i].match == r->match && strcmp(p->rows[i].model, f[0]) == 0) ok = 0; /* duplicate */
        if (!ok) {
            if (error_line) *error_line = line;
            tkm_prices_free(p);
            return TKM_ERR_BAD_PRICES;
        }
        r->model = f[0], r->encoding = f[2], r->date = f[6], r->source = f[7];
        r->has_cached = strcmp(f[4], "-") != 0;
        if (!r->has_cached) r->cached = r->input;
        p->n++;
    }
    *out = p;
    return TKM_OK;
}

TKM_API tkm_status tkm_prices_open_builtin(tkm_prices **out) {
    return tkm_prices_load(tkm_prices_tsv, tkm_prices_tsv_len, out, NULL);
}

/* name, or name + "-YYYY-MM-DD" */
static int dated_match(const char *row, const char *model) {
    size_t n = strlen(row);
    if (strncmp(row, model, n) != 0) return 0;
    const char *s = model + n;
    if (!*s) return 1;
    return strlen(s) == 11 && s[0] == '-' && is_digits(s + 1, 4) && s[5] == '-' && is_digits(s + 6, 2) &&
           s[8] == '-' && is_digits(s + 9, 2);
}

static const price_row *find(const tkm_prices *p, const char *model) {
    for (size_t i = 0; i < p->n; i++)
        if (p->rows[i].match == MATCH_EXACT && strcmp(p->rows[i].model, model) == 0) return &p->rows[i];
    const price_row *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < p->n; i++) {
        const price_row *r = &p->rows[i];
        size_t l = strlen(r->model);
        int hit = r->match == MATCH_DATED ? dated_match(r->model, model)
                  : r->match == MATCH_PREFIX ? strncmp(r->model, model, l) == 0
                                              : 0;
        if (hit && (l > best_len || (l == best_len && r->match == MATCH_DATED))) best = r, best_len = l;
    }
    return best;
}

static void fill(const price_row *r, tkm_cost *c) {
    size_t ss = c->struct_size;
    memset(c, 0, sizeof *c);
    c->struct_size = ss;
    c->price_model = r->model, c->encoding = r->encoding, c->date = r->date, c->source = r->source;
    c->input_price = r->input, c->cached_input_price = r->cached, c->output_price = r->output;
}

static int mul_add(uint64_t a, uint64_t b, uint64_t *acc) {
    if (a && b > UINT64_MAX / a) return 0;
    if (*acc > UINT64_MAX - a * b) return 0;
    *acc += a * b;
    return 1;
}

TKM_API tkm_status tkm_cost_estimate(const tkm_prices *p, const char *model, uint64_t input_tokens,
                                     uint64_t cached_input_tokens, uint64_t output_tokens, tkm_cost *out) {
    if (!p || !model || !out || out->struct_size < sizeof(tkm_cost)) return TKM_ERR_INVALID_ARGUMENT;
    if (p->magic != PRICES_MAGIC) return TKM_ERR_INVALID_HANDLE;
    if (cached_input_tokens > input_tokens) return TKM_ERR_INVALID_ARGUMENT;
    const price_row *r = find(p, model);
    if (!r) return TKM_ERR_UNKNOWN_MODEL;
    tkm_cost c = {out->struct_size, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0};
    fill(r, &c);
    if (!mul_add(input_tokens - cached_input_tokens, r->input, &c.input_cost) ||
        !mul_add(cached_input_tokens, r->cached, &c.input_cost) || !mul_add(output_tokens, r->output, &c.output_cost) ||
        c.input_cost > UINT64_MAX - c.output_cost)
        return TKM_ERR_UNSUPPORTED;
    c.total_cost = c.input_cost + c.output_cost;
    *out = c;
    return TKM_OK;
}

TKM_API const char *tkm_prices_at(const tkm_prices *p, size_t i, int *is_prefix, tkm_cost *out) {
    if (!p || p->magic != PRICES_MAGIC || i >= p->n) return NULL;
    if (is_prefix) *is_prefix = p->rows[i].match == MATCH_PREFIX;
    if (out && out->struct_size >= sizeof(tkm_cost)) fill(&p->rows[i], out);
    return p->rows[i].model;
}
