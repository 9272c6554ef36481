/*
 * test_threads.c - one handle, many threads: handles are immutable and need no locks.
 *
 * Every built-in encoding (plus a runtime-loaded one) is opened ONCE and shared by N_THREADS
 * threads that count (with and without a limit, through counters of their own, and on threads of
 * their own with the parallel counter), truncate, encode, decode and stream the same and
 * different inputs at the same time, in every mode (replacement, strict, special allow/reject).
 * Every answer must equal the single-threaded one computed first. Meanwhile the threads also open
 * and free handles of their own and look up models. This is the test the ThreadSanitizer build
 * runs (tools/check-sanitizers.sh): any data race inside the library is reported there even if
 * the answers happen to be right.
 *
 * Worker threads never assert (cr_assert long-jumps into the test's own thread); they record
 * the first mismatch and the main thread asserts after joining. TKM_THREAD_ROUNDS overrides the
 * number of rounds (default 4).
 *
 * Criterion cannot run under ThreadSanitizer (its BoxFort arena fails to map: "Could not
 * initialize inheritable arena", Criterion issue #274), so compiled with -DTKM_THREADS_STANDALONE
 * this file has its own main() and no Criterion; tools/check-sanitizers.sh builds it that way.
 */
#define _POSIX_C_SOURCE 200809L
#ifdef TKM_THREADS_STANDALONE
#include <stdio.h>
#include <stdlib.h>
#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                                   \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)
#else
#include <criterion/criterion.h>
#define CHECK(cond, ...) cr_assert(cond, __VA_ARGS__)
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "parallel.h"
#include "tokmeter.h"

#define N_THREADS 8

static const char *const ENCS[] = {"o200k_base", "cl100k_base", "o200k_harmony", "p50k_base", "p50k_edit", "r50k_base"};
#define N_BUILTIN (sizeof ENCS / sizeof ENCS[0])
#define N_HANDLES (N_BUILTIN + 1) /* + r50k_base loaded from vocab/ at run time */

typedef struct input {
    const char *name;
    uint8_t *data;
    size_t len;
} input;

#define MAX_INPUTS 8
static input inputs[MAX_INPUTS];
static size_t n_inputs;

static const uint32_t MODES[] = {0, TKM_UTF8_STRICT, TKM_SPECIAL_ALLOW, TKM_SPECIAL_REJECT};
#define N_MODES (sizeof MODES / sizeof MODES[0])

/* The single-threaded answer for one (handle, input, mode). */
typedef struct job {
    size_t h, in;
    uint32_t flags;
    tkm_status st;
    size_t tokens, err_off;
    uint64_t ids_hash;   /* FNV-1a of the ids (TKM_OK only) */
    uint64_t bytes_hash; /* FNV-1a of decode(ids) (TKM_OK only) */
    size_t limit;        /* tkm_count_limit with half the tokens as the budget: */
    tkm_status lim_st;   /*   its status, tokens, bytes and error offset */
    size_t lim_tokens, lim_bytes, lim_off;
    tkm_status tr_st; /* tkm_truncate with the same budget */
    size_t tr_tokens, tr_bytes;
} job;

static tkm_encoding *handles[N_HANDLES];
static const char *handle_names[N_HANDLES];
static job *jobs;
static size_t n_jobs;
static int rounds = 4;

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t failures;
static char first_failure[512];

static void fail(const char *fmt, ...) {
    pthread_mutex_lock(&fail_lock);
    if (failures++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(first_failure, sizeof first_failure, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&fail_lock);
}

static uint64_t fnv(const void *p, size_t n, uint64_t h) {
    const uint8_t *b = (const uint8_t *)p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define FNV0 0xcbf29ce484222325ull

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void add_input(const char *name, uint8_t *data, size_t len) {
    CHECK(n_inputs < MAX_INPUTS, "too many inputs");
    inputs[n_inputs].name = name;
    inputs[n_inputs].data = data;
    inputs[n_inputs].len = len;
    n_inputs++;
}

static uint8_t *dup_bytes(const void *p, size_t n) {
    uint8_t *d = malloc(n ? n : 1);
    CHECK(d != NULL, "out of memory");
    memcpy(d, p, n);
    return d;
}

static void make_inputs(void) {
    size_t len = 0;
    uint8_t *sample = oracle_read_file(TKM_SOURCE_DIR "/tests/data/sample.txt", &len);
    CHECK(sample != NULL, "tests/data/sample.txt missing");
    add_input("sample.txt", sample, len);

    /* mixed text from a word list: ASCII, accents, CJK, Cyrillic, emoji, digits, contractions */
    static const char *const words[] = {"the",
                                        "The",
                                        "quick",
                                        "brown",
                                        "fox",
                                        "isn't",
                                        "WE'LL",
                                        "caf\xC3\xA9",
                                        "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",
                                        "\xD1\x82\xD0\xB5\xD0\xBA\xD1\x81\xD1\x82",
                                        "\xF0\x9F\x98\x80",
                                        "12345",
                                        "3.14159",
                                        "  ",
                                        "\n",
                                        "\r\n",
                                        "\t",
                                        "!?",
                                        "://",
                                        "<|endoftext|>",
                                        "<|start|>",
                                        "<|fim_prefix|>"};
    uint64_t seed = 0x243F6A8885A308D3ull;
    size_t cap = 48 * 1024, n = 0;
    uint8_t *mixed = malloc(cap + 64);
    while (n < cap) {
        const char *w = words[rng_next(&seed) % (sizeof words / sizeof words[0])];
        size_t wl = strlen(w);
        memcpy(mixed + n, w, wl);
        n += wl;
        if (rng_next(&seed) % 3) mixed[n++] = ' ';
    }
    add_input("mixed words", mixed, n);

    /* one long piece: the heap BPE and its scratch memory */
    uint8_t *run = malloc(20000);
    memset(run, 'a', 20000);
    add_input("20000 x 'a'", run, 20000);

    /* random bytes: ill-formed UTF-8, repair buffers, strict errors */
    uint8_t *rnd = malloc(6000);
    for (size_t i = 0; i < 6000; i++)
        rnd[i] = (uint8_t)rng_next(&seed);
    add_input("random bytes", rnd, 6000);

    /* special tokens densely, with a late ill-formed byte */
    static const char spec[] = "<|endoftext|>hello<|fim_prefix|> x<|start|>user<|message|>hi<|end|> ";
    size_t sl = sizeof spec - 1, reps = 40;
    uint8_t *sp = malloc(sl * reps + 2);
    for (size_t i = 0; i < reps; i++)
        memcpy(sp + i * sl, spec, sl);
    sp[sl * reps] = 0xC3;
    sp[sl * reps + 1] = '!';
    add_input("special tokens", sp, sl * reps + 2);

    add_input("empty", dup_bytes("", 0), 0);
}

/* ---- the operations, each compared with the job's expected answer --------------------------------- */
/* A full count's answer against the job's: status, and the count or the error offset. */
static int count_matches(const job *j, tkm_status st, const tkm_result *r) {
    if (st != j->st) return 0;
    if (st == TKM_OK) return r->tokens == j->tokens;
    if (st == TKM_ERR_INVALID_UTF8 || st == TKM_ERR_SPECIAL_TOKEN) return r->error_offset == j->err_off;
    return 1;
}

static int do_count(const tkm_encoding *e, const job *j) {
    const input *in = &inputs[j->in];
    tkm_options o = {sizeof o, j->flags, 0, NULL};
    tkm_result r = {sizeof r, 0, 0, 0};
    if (!count_matches(j, tkm_count_ex(e, in->data, in->len, &o, &r), &r)) return 0;
    /* and through a counter of this thread's own, twice (the second time with its piece cache warm) */
    tkm_counter *c = NULL;
    if (tkm_counter_open(e, &o, &c) != TKM_OK) return 0;
    int ok = 1;
    for (int i = 0; i < 2 && ok; i++) ok = count_matches(j, tkm_counter_count(c, in->data, in->len, &r), &r);
    tkm_counter_free(c);
    return ok;
}

/* The same count on three threads of its own, the input cut into up to twelve pieces (a 1-byte
 * minimum piece: the inputs here are far below the public 256 KiB), which those threads take from
 * one shared counter: the parallel counter's own synchronisation, under TSan. */
static int do_parallel(const tkm_encoding *e, const job *j) {
    const input *in = &inputs[j->in];
    tkm_options o = {sizeof o, j->flags, 0, NULL};
    tkm_result r = {sizeof r, 0, 0, 0};
    return count_matches(j, tkm_count_parallel_tuned(e, in->data, in->len, 3, &o, &r, 1, 1 << 16, 4, NULL), &r);
}

/* Encode (and decode back) with a caller buffer of `cap` ids; *scratch grows as needed. */
static int do_encode(const tkm_encoding *e, const job *j, uint32_t **ids, size_t *ids_cap, uint8_t **bytes,
                     size_t *bytes_cap) {
    const input *in = &inputs[j->in];
    tkm_options o = {sizeof o, j->flags, 0, NULL};
    size_t n = 0;
    tkm_status st = tkm_encode(e, in->data, in->len, &o, *ids, *ids_cap, &n);
    if (st == TKM_ERR_BUFFER_TOO_SMALL) {
        if (n > *ids_cap) {
            free(*ids);
            *ids = malloc(n * sizeof **ids);
            *ids_cap = n;
        }
        st = tkm_encode(e, in->data, in->len, &o, *ids, *ids_cap, &n);
    }
    if (st != j->st) return 0;
    if (st != TKM_OK) return 1;
    if (n != j->tokens || fnv(*ids, n * sizeof **ids, FNV0) != j->ids_hash) return 0;
    size_t nb = 0;
    st = tkm_decode(e, *ids, n, *bytes, *bytes_cap, &nb);
    if (st == TKM_ERR_BUFFER_TOO_SMALL) {
        free(*bytes);
        *bytes = malloc(nb);
        *bytes_cap = nb;
        st = tkm_decode(e, *ids, n, *bytes, *bytes_cap, &nb);
    }
    return st == TKM_OK && fnv(*bytes, nb, FNV0) == j->bytes_hash;
}

static int do_limit(const tkm_encoding *e, const job *j) {
    const input *in = &inputs[j->in];
    tkm_options o = {sizeof o, j->flags, 0, NULL};
    tkm_result r = {sizeof r, 0, 0, 0};
    tkm_status st = tkm_count_limit(e, in->data, in->len, j->limit, &o, &r);
    if (st != j->lim_st) return 0;
    if (st == TKM_OK || st == TKM_ERR_LIMIT_EXCEEDED) return r.tokens == j->lim_tokens && r.bytes == j->lim_bytes;
    return r.error_offset == j->lim_off;
}

static int do_truncate(const tkm_encoding *e, const job *j) {
    const input *in = &inputs[j->in];
    tkm_options o = {sizeof o, j->flags, 0, NULL};
    tkm_result r = {sizeof r, 0, 0, 0};
    tkm_status st = tkm_truncate(e, in->data, in->len, j->limit, &o, &r);
    return st == j->tr_st && (st != TKM_OK || (r.tokens == j->tr_tokens && r.bytes == j->tr_bytes));
}

static int do_stream(const tkm_encoding *e, const job *j, size_t chunk) {
    const input *in = &inputs[j->in];
    tkm_options o = {sizeof o, j->flags, 0, NULL};
    tkm_stream *s = NULL;
    if (tkm_stream_open(e, &o, &s) != TKM_OK) return 0;
    tkm_status st = TKM_OK;
    for (size_t pos = 0; pos < in->len && st == TKM_OK; pos += chunk)
        st = tkm_stream_feed(s, in->data + pos, in->len - pos < chunk ? in->len - pos : chunk, NULL);
    tkm_result r = {sizeof r, 0, 0, 0};
    tkm_status fs = tkm_stream_finish(s, &r);
    tkm_stream_free(s);
    if (st != TKM_OK && st != fs) return 0;
    if (fs != j->st) return 0;
    if (fs == TKM_OK) return r.tokens == j->tokens;
    return r.error_offset == j->err_off;
}

typedef struct worker {
    int id;
} worker;

static void *work(void *arg) {
    const worker *w = (const worker *)arg;
    uint32_t *ids = NULL;
    uint8_t *bytes = NULL;
    size_t ids_cap = 0, bytes_cap = 0;
    uint64_t seed = 0x9E3779B97F4A7C15ull * (uint64_t)(w->id + 1);
    for (int r = 0; r < rounds; r++) {
        /* even threads walk the jobs in the same order (identical inputs at the same time), odd
         * threads start at their own offset (different inputs at the same time) */
        size_t start = (w->id % 2) ? ((size_t)w->id * 7 + (size_t)r) % n_jobs : (size_t)r % n_jobs;
        for (size_t k = 0; k < n_jobs; k++) {
            const job *j = &jobs[(start + k) % n_jobs];
            const tkm_encoding *e = handles[j->h];
            const char *en = handle_names[j->h], *inn = inputs[j->in].name;
            switch ((size_t)(w->id + r + (int)k) % 6) {
            case 0:
                if (!do_count(e, j)) fail("thread %d: count %s / %s / flags %u differs", w->id, en, inn, j->flags);
                break;
            case 5:
                if (!do_parallel(e, j))
                    fail("thread %d: parallel count %s / %s / flags %u differs", w->id, en, inn, j->flags);
                break;
            case 3:
                if (!do_limit(e, j))
                    fail("thread %d: count_limit %s / %s / flags %u differs", w->id, en, inn, j->flags);
                break;
            case 4:
                if (!do_truncate(e, j))
                    fail("thread %d: truncate %s / %s / flags %u differs", w->id, en, inn, j->flags);
                break;
            case 1:
                if (!do_encode(e, j, &ids, &ids_cap, &bytes, &bytes_cap))
                    fail("thread %d: encode/decode %s / %s / flags %u differs", w->id, en, inn, j->flags);
                break;
            default: {
                size_t chunk = 1 + (size_t)(rng_next(&seed) % 4096);
                if (!do_stream(e, j, chunk))
                    fail("thread %d: stream (chunk %zu) %s / %s / flags %u differs", w->id, chunk, en, inn, j->flags);
            }
            }
        }
        /* handles of its own, opened and freed while the shared ones are in use */
        tkm_encoding *mine = NULL;
        const char *name = ENCS[(size_t)(w->id + r) % N_BUILTIN];
        if (tkm_encoding_open(name, &mine) != TKM_OK) {
            fail("thread %d: open %s failed", w->id, name);
        } else {
            size_t c = 0;
            if (tkm_count(mine, inputs[0].data, inputs[0].len, &c) != TKM_OK) fail("thread %d: own handle", w->id);
            tkm_encoding_free(mine);
        }
        const char *mapped = NULL;
        if (tkm_model_encoding_name("gpt-4o-mini", &mapped) != TKM_OK || strcmp(mapped, "o200k_base") != 0)
            fail("thread %d: model lookup", w->id);
        for (size_t h = 0; h < N_HANDLES; h++) {
            tkm_encoding_info info;
            memset(&info, 0, sizeof info);
            info.struct_size = sizeof info;
            if (tkm_encoding_info_get(handles[h], &info) != TKM_OK || strcmp(info.name, handle_names[h]) != 0)
                fail("thread %d: info of %s", w->id, handle_names[h]);
        }
    }
    free(ids);
    free(bytes);
    return NULL;
}

static void setup(void) {
    const char *env = getenv("TKM_THREAD_ROUNDS");
    if (env && atoi(env) > 0) rounds = atoi(env);
    make_inputs();
    for (size_t h = 0; h < N_BUILTIN; h++) {
        CHECK(tkm_encoding_open(ENCS[h], &handles[h]) == TKM_OK, "%s", ENCS[h]);
        handle_names[h] = ENCS[h];
    }
    size_t vlen = 0;
    char *vocab = (char *)oracle_read_file(TKM_SOURCE_DIR "/vocab/r50k_base.tiktoken", &vlen);
    CHECK(vocab != NULL, "vocab/r50k_base.tiktoken missing");
    tkm_special_token sp[] = {{"<|endoftext|>", 50256}};
    CHECK(tkm_encoding_load_tiktoken(vocab, vlen, TKM_PATTERN_GPT2, sp, 1, "loaded_r50k", &handles[N_BUILTIN]) ==
              TKM_OK,
          "loading vocab/r50k_base.tiktoken");
    handle_names[N_BUILTIN] = "loaded_r50k";
    free(vocab);

    /* the single-threaded answers */
    n_jobs = N_HANDLES * n_inputs * N_MODES;
    jobs = calloc(n_jobs, sizeof *jobs);
    size_t k = 0;
    for (size_t h = 0; h < N_HANDLES; h++)
        for (size_t i = 0; i < n_inputs; i++)
            for (size_t m = 0; m < N_MODES; m++, k++) {
                job *j = &jobs[k];
                j->h = h;
                j->in = i;
                j->flags = MODES[m];
                tkm_options o = {sizeof o, j->flags, 0, NULL};
                tkm_result r = {sizeof r, 0, 0, 0};
                j->st = tkm_count_ex(handles[h], inputs[i].data, inputs[i].len, &o, &r);
                CHECK(j->st == TKM_OK || j->st == TKM_ERR_INVALID_UTF8 || j->st == TKM_ERR_SPECIAL_TOKEN, "%s / %s: %s",
                      handle_names[h], inputs[i].name, tkm_status_string(j->st));
                j->tokens = r.tokens;
                j->err_off = r.error_offset;
                j->limit = r.tokens / 2;
                tkm_result lr = {sizeof lr, 0, 0, 0};
                j->lim_st = tkm_count_limit(handles[h], inputs[i].data, inputs[i].len, j->limit, &o, &lr);
                j->lim_tokens = lr.tokens;
                j->lim_bytes = lr.bytes;
                j->lim_off = lr.error_offset;
                tkm_result tr = {sizeof tr, 0, 0, 0};
                j->tr_st = tkm_truncate(handles[h], inputs[i].data, inputs[i].len, j->limit, &o, &tr);
                j->tr_tokens = tr.tokens;
                j->tr_bytes = tr.bytes;
                if (j->st != TKM_OK) continue;
                CHECK(j->lim_st == (r.tokens ? TKM_ERR_LIMIT_EXCEEDED : TKM_OK), "%s / %s: count_limit %s",
                      handle_names[h], inputs[i].name, tkm_status_string(j->lim_st));
                uint32_t *ids = malloc((r.tokens + 1) * sizeof *ids);
                size_t n = 0;
                tkm_status es = tkm_encode(handles[h], inputs[i].data, inputs[i].len, &o, ids, r.tokens, &n);
                CHECK(es == TKM_OK && n == r.tokens, "%s / %s: encode %s", handle_names[h], inputs[i].name,
                      tkm_status_string(es));
                j->ids_hash = fnv(ids, n * sizeof *ids, FNV0);
                size_t nb = 0;
                tkm_status ds = tkm_decode(handles[h], ids, n, NULL, 0, &nb);
                CHECK(ds == (nb ? TKM_ERR_BUFFER_TOO_SMALL : TKM_OK), "decode sizing: %s", tkm_status_string(ds));
                uint8_t *bytes = malloc(nb + 1);
                ds = tkm_decode(handles[h], ids, n, bytes, nb, &nb);
                CHECK(ds == TKM_OK, "decode: %s", tkm_status_string(ds));
                j->bytes_hash = fnv(bytes, nb, FNV0);
                free(bytes);
                free(ids);
            }
    /* the loaded vocabulary answers like the built-in one */
    for (size_t i = 0; i < n_inputs; i++)
        for (size_t m = 0; m < N_MODES; m++) {
            const job *a = &jobs[((N_BUILTIN - 1) * n_inputs + i) * N_MODES + m];
            const job *b = &jobs[(N_BUILTIN * n_inputs + i) * N_MODES + m];
            CHECK(a->st == b->st && a->tokens == b->tokens && a->ids_hash == b->ids_hash, "loaded r50k differs on %s",
                  inputs[i].name);
        }
}

static void teardown(void) {
    for (size_t h = 0; h < N_HANDLES; h++)
        tkm_encoding_free(handles[h]);
    for (size_t i = 0; i < n_inputs; i++)
        free(inputs[i].data);
    free(jobs);
}

static void run_threads(void) {
    /* a sanity check that the answers are not trivial */
    size_t ok = 0, err = 0;
    for (size_t k = 0; k < n_jobs; k++) {
        if (jobs[k].st == TKM_OK)
            ok++;
        else
            err++;
    }
    CHECK(ok > n_jobs / 2, "only %zu of %zu jobs succeed", ok, n_jobs);
    CHECK(err > 0, "no job exercises an error path");

    pthread_t t[N_THREADS];
    worker w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i].id = i;
        CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < N_THREADS; i++)
        CHECK(pthread_join(t[i], NULL) == 0, "pthread_join");
    CHECK(failures == 0, "%zu mismatches under %d threads x %d rounds; first: %s", failures, N_THREADS, rounds,
          first_failure);
}

#ifdef TKM_THREADS_STANDALONE
int main(void) {
    setup();
    run_threads();
    teardown();
    printf("test_threads: %zu jobs x %d threads x %d rounds: all equal to the single-threaded answers\n", n_jobs,
           N_THREADS, rounds);
    return 0;
}
#else
Test(threads, shared_handles_agree_with_single_thread, .init = setup, .fini = teardown, .timeout = 900) {
    run_threads();
}
#endif
