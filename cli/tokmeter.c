/*
 * tokmeter - count LLM tokens exactly, like wc counts lines.
 *
 * A thin layer over the public API (include/tokmeter.h) only. Counting streams each input through
 * tkm_stream in fixed-size reads, so multi-GB files and pipes run in bounded memory; --ids reads
 * each input whole (the ids themselves are proportional to it).
 *
 * Exit status: 0 success; 1 an input or output failed (other inputs are still counted, no total
 * is printed because it would be incomplete; a regular file that changes while it is read is not
 * counted; a closed output pipe or a full disk is reported as a write error); 2 usage error.
 * With --limit: 0 every input within the budget, 1 one is over, 2 an error or usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokmeter.h"

#define READ_CHUNK (1u << 20)

static const char *prog = "tokmeter";

typedef struct cli {
    const char *encoding;
    const char *model;
    const char *vocab_file;
    const char *pattern;
    int json, ids;
    int mode_limit, mode_truncate; /* --limit N / --truncate N */
    size_t budget;
    tkm_options opt;
    tkm_encoding *enc;
    const char *enc_name;
    unsigned jobs; /* -j N: threads for counting (1: none, 0: one per CPU) */
    /* chat requests, request logs, costs, streaming (issue 5) */
    int chat, cost, follow;
    size_t stream_chunk;        /* --stream-chunk N: feed the streaming counter N bytes at a time */
    const char *jsonl_field;    /* --jsonl FIELD */
    const char *prices_file;    /* --prices FILE */
    tkm_prices *prices;
    int progress, progress_pct; /* a bar on stderr: only for a terminal and a long regular file */
} cli;

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s [-e ENCODING | -m MODEL] [options] [FILE...]\n"
            "       %s chat [-m MODEL] [--cost] [--json] REQUEST.json|RESPONSE.json|CAPTURE.sse...\n"
            "       %s --jsonl FIELD [-m MODEL] [--cost] [--json] LOG.jsonl...\n"
            "Count the tokens of each FILE (or standard input; '-' is standard input) exactly as\n"
            "OpenAI's tiktoken does, and print 'COUNT FILE' per line, plus a total for several files.\n"
            "\n"
            "  -e, --encoding NAME   o200k_base (default), cl100k_base, o200k_harmony, p50k_base,\n"
            "                        p50k_edit, r50k_base (alias gpt2)\n"
            "  -m, --model MODEL     the encoding a model uses (gpt-4o, gpt-4, gpt-oss-120b, ...)\n"
            "      --json            one JSON object per input: file, encoding, tokens, bytes\n"
            "      --ids             print the token ids of each input instead of the count\n"
            "      --limit N         budget check: exit 0 if every input has at most N tokens, 1 if one\n"
            "                        has more ('COUNT+ FILE': counted up to the stop), 2 on an error\n"
            "      --truncate N      write the longest prefix holding the first N tokens to stdout\n"
            "      --stream-chunk N  count through the streaming counter, N bytes per feed\n"
            "      --follow          print the tokens final so far after every read (for pipes)\n"
            "      --jsonl FIELD     count one string field (dotted path, e.g. messages.0.content) of\n"
            "                        each JSON line; per-line counts and a total\n"
            "      --cost            add the price estimate (chat, --jsonl); integer micro-cent exact\n"
            "      --prices FILE     a price table in the format of data/prices.tsv\n"
            "  -j, --jobs N          count on N threads (0: one per CPU): large files are cut at safe\n"
            "                        points, smaller ones counted side by side; same output as -j1\n"
            "      --strict          invalid UTF-8 is an error (default: read as U+FFFD, like tiktoken\n"
            "                        on bytes.decode('utf-8', 'replace'))\n"
            "      --special MODE    special-token text: ordinary (default), allow, reject\n"
            "      --vocab FILE      use a .tiktoken file with --pattern gpt2|cl100k|o200k\n"
            "      --list            list encodings and known models\n"
            "      --kernels         list the CPU kernels, '*' marks the one in use (TOKMETER_KERNEL=NAME\n"
            "                        forces one: scalar, avx2, avx512, neon)\n"
            "      --version         print the version\n"
            "  -h, --help            this help\n"
            "'chat' counts a Chat Completions request (prompt tokens, OpenAI's documented method),\n"
            "a response body or an SSE capture (completion tokens).\n",
            prog, prog, prog);
}

/* Print s as a JSON string (control characters escaped; ill-formed UTF-8 as U+FFFD). */
static void json_string(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            p++;
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            fputc((int)c, f);
            p++;
        } else {
            int need = c >= 0xF0 && c <= 0xF4 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c <= 0xDF ? 1 : -1;
            int ok = need > 0 && c <= 0xF4;
            for (int k = 1; ok && k <= need; k++) ok = (p[k] & 0xC0) == 0x80;
            if (ok && need == 2 && ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))) ok = 0;
            if (ok && need == 3 && ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))) ok = 0;
            if (ok) {
                fwrite(p, 1, (size_t)need + 1, f);
                p += need + 1;
            } else {
                fputs("\\ufffd", f);
                p++;
            }
        }
    }
    fputc('"', f);
}

static int open_input(const char *path, int *fd) {
    if (strcmp(path, "-") == 0) {
        *fd = STDIN_FILENO;
        return 0;
    }
    *fd = open(path, O_RDONLY);
    if (*fd < 0) return errno;
    struct stat st;
    if (fstat(*fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(*fd);
        return EISDIR;
    }
    return 0;
}

static ssize_t read_some(int fd, unsigned char *buf, size_t n) {
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0 || errno != EINTR) return r;
    }
}

static void report_status(const char *name, tkm_status st, const tkm_result *r) {
    if (st == TKM_ERR_INVALID_UTF8 || st == TKM_ERR_SPECIAL_TOKEN)
        fprintf(stderr, "%s: %s: %s at byte offset %zu\n", prog, name, tkm_status_string(st), r->error_offset);
    else
        fprintf(stderr, "%s: %s: %s\n", prog, name, tkm_status_string(st));
}

/* A regular file that changed while it was read (size or modification time, or a byte count that
 * differs from its size) would give a count of no file that ever existed: report it instead. */
static int changed_during_read(int fd, const struct stat *before, size_t bytes_read, const char *name) {
    struct stat after;
    if (!S_ISREG(before->st_mode)) return 0;
    if (fstat(fd, &after) == 0 && after.st_size == before->st_size && after.st_mtim.tv_sec == before->st_mtim.tv_sec &&
        after.st_mtim.tv_nsec == before->st_mtim.tv_nsec && (off_t)bytes_read == before->st_size)
        return 0;
    fprintf(stderr, "%s: %s: file changed while being read; not counted\n", prog, name);
    return 1;
}

/* A progress bar on stderr, redrawn when the percentage changes; only when c->progress is set. */
static void progress(cli *c, unsigned long long done, unsigned long long total) {
    if (!c->progress || !total) return;
    int pct = (int)(done >= total ? 100 : done * 100 / total);
    if (pct == c->progress_pct) return;
    c->progress_pct = pct;
    fprintf(stderr, "\r%s [%-40.*s] %3d%%", prog, pct * 40 / 100, "########################################", pct);
}

static void progress_end(cli *c) {
    if (c->progress && c->progress_pct >= 0) fprintf(stderr, "\r%60s\r", "");
    c->progress_pct = -1;
}

/* Long runs (a regular file of 64 MiB or more) get a bar when stderr is a terminal. */
static void progress_begin(cli *c, const struct stat *st) {
    c->progress = isatty(STDERR_FILENO) && S_ISREG(st->st_mode) && st->st_size >= (off_t)64 << 20;
    c->progress_pct = -1;
}

/* Count one input through the streaming counter. Returns 0 on success. */
static int count_fd(cli *c, int fd, const char *name, tkm_result *res, unsigned char *buf,
                    unsigned long long size) {
    tkm_stream *s = NULL;
    unsigned long long done = 0;
    tkm_status st = tkm_stream_open(c->enc, &c->opt, &s);
    if (st != TKM_OK) {
        report_status(name, st, res);
        return 1;
    }
    for (;;) {
        ssize_t r = read_some(fd, buf, READ_CHUNK);
        if (r < 0) {
            fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(errno));
            tkm_stream_free(s);
            return 1;
        }
        if (r == 0) break;
        size_t step = c->stream_chunk ? c->stream_chunk : (size_t)r, fin = 0;
        for (size_t off = 0; off < (size_t)r && st == TKM_OK; off += step)
            st = tkm_stream_feed(s, buf + off, (size_t)r - off < step ? (size_t)r - off : step, &fin);
        if (st != TKM_OK) break;
        done += (unsigned long long)r;
        if (c->follow) {
            printf("%zu so far\n", fin);
            fflush(stdout);
        }
        progress(c, done, size);
    }
    progress_end(c);
    st = tkm_stream_finish(s, res);
    tkm_stream_free(s);
    if (st != TKM_OK) {
        report_status(name, st, res);
        return 1;
    }
    return 0;
}

/* ---- -j N: counting on several threads (tkm_count_parallel, tkm_find_cut) ---------------------
 * Output is that of -j1, byte for byte and in the same order. A regular file of at least
 * JOBS_LARGE bytes is read in windows of JOBS_WINDOW bytes; each window is cut at its last safe
 * point (tkm_find_cut) and counted on all threads, the rest is carried into the next window, so
 * memory stays at about one window, as the streaming counter would keep (the carry only grows
 * across a stretch without any safe point). Smaller inputs are counted side by side, up to
 * JOBS_GROUP at a time, each on one thread by the streaming counter; their results and messages
 * are printed in order afterwards. Standard input that is not a large regular file is counted as
 * with -j1. */
#define JOBS_WINDOW ((size_t)64 << 20)
#define JOBS_LARGE ((off_t)1 << 20)
#define JOBS_GROUP 64

typedef struct job_file {
    const char *name, *shown;
    int fd, open_err, read_err;
    struct stat before;
    tkm_status st;
    tkm_result r;
} job_file;

typedef struct job_group {
    cli *c;
    job_file *f;
    size_t n, next;
    pthread_mutex_t lock;
} job_group;

static int parse_jobs(const char *v, unsigned *jobs) {
    char *end;
    errno = 0;
    unsigned long j = strtoul(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-' || j > 1024) {
        fprintf(stderr, "%s: -j/--jobs takes a number of threads from 0 (one per CPU) to 1024, not '%s'\n", prog, v);
        return 2;
    }
    *jobs = (unsigned)j;
    return 0;
}

static void print_count(const cli *c, const char *name, const tkm_result *r, int stdin_only) {
    if (c->json) {
        fputs("{\"file\":", stdout);
        json_string(stdout, name);
        fputs(",\"encoding\":", stdout);
        json_string(stdout, c->enc_name);
        printf(",\"tokens\":%zu,\"bytes\":%zu}\n", r->tokens, r->bytes);
    } else if (stdin_only) {
        printf("%zu\n", r->tokens);
    } else {
        printf("%zu %s\n", r->tokens, name);
    }
}

/* One large regular file in windows, each counted on c->jobs threads. Returns 0 on success. */
static int count_fd_windows(cli *c, int fd, const char *name, tkm_result *res, unsigned long long size) {
    size_t cap = size < JOBS_WINDOW ? (size_t)size + 4096 : JOBS_WINDOW, len = 0, from = 0, tokens = 0, base = 0;
    unsigned char *b = malloc(cap);
    tkm_status st = TKM_OK;
    int eof = 0;
    if (!b) {
        fprintf(stderr, "%s: %s: out of memory\n", prog, name);
        return 1;
    }
    while (!eof && st == TKM_OK) {
        while (len < cap && !eof) {
            ssize_t r = read_some(fd, b + len, cap - len);
            if (r < 0) {
                fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(errno));
                free(b);
                return 1;
            }
            eof = r == 0;
            len += (size_t)r;
        }
        size_t cut = len;
        if (!eof) {
            st = tkm_find_cut(c->enc, b, len, from, &c->opt, &cut);
            if (st == TKM_OK && cut == 0) { /* no safe point yet: read on into a larger buffer */
                unsigned char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(b, cap * 2);
                if (!nb) {
                    fprintf(stderr, "%s: %s: out of memory\n", prog, name);
                    free(b);
                    return 1;
                }
                b = nb;
                cap *= 2;
                from = len >= 3 ? len - 3 : 0;
                continue;
            }
            if (st != TKM_OK) break;
        }
        tkm_result r;
        memset(&r, 0, sizeof r);
        r.struct_size = sizeof r;
        st = tkm_count_parallel(c->enc, b, cut, c->jobs, &c->opt, &r);
        if (st != TKM_OK) {
            res->error_offset = base + r.error_offset;
            break;
        }
        tokens += r.tokens;
        memmove(b, b + cut, len - cut);
        len -= cut;
        base += cut;
        from = len >= 3 ? len - 3 : 0; /* the carry holds no safe point but maybe its last 3 bytes */
        progress(c, base, size);
    }
    progress_end(c);
    free(b);
    if (st != TKM_OK) {
        report_status(name, st, res);
        return 1;
    }
    res->tokens = tokens;
    res->bytes = base;
    return 0;
}

/* The streaming count of count_fd, without printing: errors are kept for the main thread. */
static void count_job(cli *c, job_file *f, unsigned char *buf) {
    tkm_stream *s = NULL;
    memset(&f->r, 0, sizeof f->r);
    f->r.struct_size = sizeof f->r;
    f->st = tkm_stream_open(c->enc, &c->opt, &s);
    if (f->st != TKM_OK) return;
    for (;;) {
        ssize_t r = read_some(f->fd, buf, READ_CHUNK);
        if (r < 0) {
            f->read_err = errno;
            tkm_stream_free(s);
            return;
        }
        if (r == 0) break;
        if ((f->st = tkm_stream_feed(s, buf, (size_t)r, NULL)) != TKM_OK) break;
    }
    f->st = tkm_stream_finish(s, &f->r);
    tkm_stream_free(s);
}

static void *job_worker(void *arg) {
    job_group *g = arg;
    unsigned char *buf = malloc(READ_CHUNK);
    for (;;) {
        pthread_mutex_lock(&g->lock);
        size_t i = g->next < g->n ? g->next++ : g->n;
        pthread_mutex_unlock(&g->lock);
        if (i == g->n) break;
        job_file *f = &g->f[i];
        if (f->open_err) continue;
        if (!buf) f->read_err = ENOMEM;
        else count_job(g->c, f, buf);
    }
    free(buf);
    return NULL;
}

/* Count g->f[0..n) side by side, then print each result or message in order. */
static int run_group(cli *c, job_group *g, unsigned threads, int stdin_only, size_t *total_tokens,
                     size_t *total_bytes) {
    int failed = 0;
    pthread_t tid[JOBS_GROUP];
    size_t started = 0;
    g->next = 0;
    if (threads > g->n) threads = (unsigned)g->n;
    for (unsigned t = 1; t < threads; t++)
        if (pthread_create(&tid[started], NULL, job_worker, g) == 0) started++;
    job_worker(g);
    for (size_t t = 0; t < started; t++) pthread_join(tid[t], NULL);
    for (size_t i = 0; i < g->n; i++) {
        job_file *f = &g->f[i];
        int rc = 1;
        if (f->open_err) fprintf(stderr, "%s: %s: %s\n", prog, f->shown, strerror(f->open_err));
        else if (f->read_err) fprintf(stderr, "%s: %s: %s\n", prog, f->shown, strerror(f->read_err));
        else if (f->st != TKM_OK) report_status(f->shown, f->st, &f->r);
        else rc = changed_during_read(f->fd, &f->before, f->r.bytes, f->shown);
        if (!rc) {
            *total_tokens += f->r.tokens;
            *total_bytes += f->r.bytes;
            print_count(c, f->name, &f->r, stdin_only);
        }
        if (!f->open_err && f->fd != STDIN_FILENO) close(f->fd);
        failed |= rc;
    }
    g->n = 0;
    return failed;
}

/* The plain counting loop of main() for -j N (N != 1). Returns the exit status so far. */
static int count_jobs(cli *c, const char **files, size_t n_files, int stdin_only, size_t *total_tokens,
                      size_t *total_bytes) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = c->jobs ? c->jobs : cpus > 0 ? (unsigned)cpus : 1u;
    job_file jf[JOBS_GROUP];
    job_group g;
    memset(&g, 0, sizeof g);
    g.c = c;
    g.f = jf;
    int failed = 0, have_lock = pthread_mutex_init(&g.lock, NULL) == 0;
    if (!have_lock) threads = 1;
    for (size_t i = 0; i < n_files; i++) {
        const char *name = files[i];
        const char *shown = strcmp(name, "-") == 0 ? "standard input" : name;
        job_file *f = &jf[g.n];
        memset(f, 0, sizeof *f);
        f->name = name;
        f->shown = shown;
        f->open_err = open_input(name, &f->fd);
        if (!f->open_err && fstat(f->fd, &f->before) != 0) memset(&f->before, 0, sizeof f->before);
        int large = !f->open_err && S_ISREG(f->before.st_mode) && f->before.st_size >= JOBS_LARGE;
        int alone = large || (!f->open_err && f->fd == STDIN_FILENO);
        if (!alone) {
            if (++g.n == JOBS_GROUP) failed |= run_group(c, &g, threads, stdin_only, total_tokens, total_bytes);
            continue;
        }
        /* a large file or standard input: in order, after the inputs before it */
        job_file one = *f;
        if (g.n) failed |= run_group(c, &g, threads, stdin_only, total_tokens, total_bytes);
        tkm_result r;
        memset(&r, 0, sizeof r);
        r.struct_size = sizeof r;
        int rc;
        progress_begin(c, &one.before);
        if (large) {
            rc = count_fd_windows(c, one.fd, shown, &r, (unsigned long long)one.before.st_size);
        } else {
            unsigned char *buf = malloc(READ_CHUNK);
            rc = buf ? count_fd(c, one.fd, shown, &r, buf, 0) : 1;
            if (!buf) fprintf(stderr, "%s: %s: out of memory\n", prog, shown);
            free(buf);
        }
        if (!rc) rc = changed_during_read(one.fd, &one.before, r.bytes, shown);
        if (!rc) {
            *total_tokens += r.tokens;
            *total_bytes += r.bytes;
            print_count(c, name, &r, stdin_only);
        }
        if (one.fd != STDIN_FILENO) close(one.fd);
        failed |= rc;
    }
    if (g.n) failed |= run_group(c, &g, threads, stdin_only, total_tokens, total_bytes);
    if (have_lock) pthread_mutex_destroy(&g.lock);
    return failed;
}

/* Read a whole input into memory (for --ids). */
static int slurp(int fd, const char *name, unsigned char **data, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    if (!b) goto oom;
    for (;;) {
        if (n == cap) {
            unsigned char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(b, cap * 2);
            if (!nb) goto oom;
            b = nb;
            cap *= 2;
        }
        ssize_t r = read_some(fd, b + n, cap - n);
        if (r < 0) {
            fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(errno));
            free(b);
            return 1;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    *data = b;
    *len = n;
    return 0;
oom:
    free(b);
    fprintf(stderr, "%s: %s: out of memory\n", prog, name);
    return 1;
}

static int ids_fd(cli *c, int fd, const struct stat *before, const char *name, const char *label) {
    unsigned char *data = NULL;
    size_t len = 0, n = 0;
    if (slurp(fd, name, &data, &len)) return 1;
    if (changed_during_read(fd, before, len, name)) {
        free(data);
        return 1;
    }
    tkm_status st = tkm_encode(c->enc, data, len, &c->opt, NULL, 0, &n);
    uint32_t *ids = NULL;
    if (st == TKM_ERR_BUFFER_TOO_SMALL) {
        ids = malloc(n ? n * sizeof *ids : 1);
        if (!ids) {
            free(data);
            fprintf(stderr, "%s: %s: out of memory\n", prog, name);
            return 1;
        }
        st = tkm_encode(c->enc, data, len, &c->opt, ids, n, &n);
    }
    free(data);
    if (st != TKM_OK) {
        tkm_result r = {sizeof r, 0, 0, n};
        report_status(name, st, &r);
        free(ids);
        return 1;
    }
    if (c->json) {
        fputs("{\"file\":", stdout);
        json_string(stdout, label);
        fputs(",\"encoding\":", stdout);
        json_string(stdout, c->enc_name);
        fputs(",\"ids\":[", stdout);
        for (size_t i = 0; i < n; i++) printf(i ? ",%u" : "%u", ids[i]);
        printf("],\"tokens\":%zu,\"bytes\":%zu}\n", n, len);
    } else {
        for (size_t i = 0; i < n; i++) printf(i ? " %u" : "%u", ids[i]);
        putchar('\n');
    }
    free(ids);
    return 0;
}

/* Read an input until the tokens already final exceed `budget` or the input ends, keeping what was
 * read (at most the text of budget + 1 tokens plus one read chunk). */
static int read_budget(cli *c, int fd, const char *name, size_t budget, unsigned char **data, size_t *len) {
    tkm_stream *s = NULL;
    size_t cap = 0, n = 0, fin = 0;
    unsigned char *b = NULL;
    tkm_status st = tkm_stream_open(c->enc, &c->opt, &s);
    if (st != TKM_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, name, tkm_status_string(st));
        return 1;
    }
    while (fin <= budget) {
        if (cap - n < READ_CHUNK) {
            size_t nc = cap ? cap * 2 : 2 * (size_t)READ_CHUNK;
            unsigned char *nb = realloc(b, nc);
            if (!nb) {
                fprintf(stderr, "%s: %s: out of memory\n", prog, name);
                goto fail;
            }
            b = nb;
            cap = nc;
        }
        ssize_t r = read_some(fd, b + n, READ_CHUNK);
        if (r < 0) {
            fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(errno));
            goto fail;
        }
        if (r == 0) break;
        /* errors (strict UTF-8, reject) are reported by the exact call on the data afterwards */
        if (tkm_stream_feed(s, b + n, (size_t)r, &fin) != TKM_OK) fin = 0, budget = SIZE_MAX;
        n += (size_t)r;
        if (budget == SIZE_MAX) continue;
    }
    tkm_stream_free(s);
    *data = b;
    *len = n;
    return 0;
fail:
    tkm_stream_free(s);
    free(b);
    return 1;
}

/* --limit N: "COUNT FILE" if the input has at most N tokens, else "COUNT+ FILE" with the tokens
 * counted up to the stop. Returns 0 within, 1 over, 2 on an error. */
static int limit_fd(cli *c, int fd, const struct stat *before, const char *name, const char *label) {
    unsigned char *data = NULL;
    size_t len = 0;
    if (read_budget(c, fd, name, c->budget, &data, &len)) return 2;
    tkm_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    tkm_status st = tkm_count_limit(c->enc, data, len, c->budget, &c->opt, &r);
    free(data);
    if (st != TKM_OK && st != TKM_ERR_LIMIT_EXCEEDED) {
        report_status(name, st, &r);
        return 2;
    }
    if (st == TKM_OK && changed_during_read(fd, before, len, name)) return 2;
    int over = st == TKM_ERR_LIMIT_EXCEEDED;
    if (c->json) {
        fputs("{\"file\":", stdout);
        json_string(stdout, label);
        fputs(",\"encoding\":", stdout);
        json_string(stdout, c->enc_name);
        printf(",\"limit\":%zu,\"within_limit\":%s,\"tokens\":%zu,\"bytes\":%zu}\n", c->budget,
               over ? "false" : "true", r.tokens, r.bytes);
    } else {
        printf("%zu%s %s\n", r.tokens, over ? "+" : "", label);
    }
    return over;
}

/* --truncate N: write the longest prefix holding the first N tokens to stdout. */
static int truncate_fd(cli *c, int fd, const struct stat *before, const char *name) {
    unsigned char *data = NULL;
    size_t len = 0;
    if (read_budget(c, fd, name, c->budget, &data, &len)) return 1;
    tkm_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    tkm_status st = tkm_truncate(c->enc, data, len, c->budget, &c->opt, &r);
    if (st != TKM_OK) {
        report_status(name, st, &r);
        free(data);
        return 1;
    }
    if (r.bytes == len && changed_during_read(fd, before, len, name)) {
        free(data);
        return 1;
    }
    fwrite(data, 1, r.bytes, stdout);
    free(data);
    return 0;
}

/* --kernels: every kernel of this build; '*' marks the one new handles use. */
static int list_kernels(void) {
    unsigned f;
    const char *k;
    int any_default = 0;
    for (size_t i = 0; (k = tkm_kernel_at(i, &f)) != NULL; i++) {
        const char *what = !(f & TKM_KERNEL_USABLE) ? "not supported by this CPU"
                           : (f & TKM_KERNEL_NATIVE) ? "native"
                                                     : "emulated (SIMDe; for tests)";
        printf("%c %-8s %s\n", (f & TKM_KERNEL_DEFAULT) ? '*' : ' ', k, what);
        any_default |= (f & TKM_KERNEL_DEFAULT) != 0;
    }
    if (!any_default) {
        const char *env = getenv("TOKMETER_KERNEL");
        fprintf(stderr, "%s: TOKMETER_KERNEL=%s is not a kernel this CPU can run\n", prog, env ? env : "");
        return 1;
    }
    return 0;
}

static int list_all(void) {
    puts("encodings:");
    for (const char *const *n = tkm_encoding_names(); *n; n++) {
        tkm_encoding *e = NULL;
        tkm_encoding_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (tkm_encoding_open(*n, &e) != TKM_OK || tkm_encoding_info_get(e, &info) != TKM_OK) {
            tkm_encoding_free(e);
            fprintf(stderr, "%s: cannot open built-in encoding %s\n", prog, *n);
            return 1;
        }
        printf("  %-14s n_vocab %-7u sha256 %s\n", *n, info.n_vocab, info.vocab_sha256);
        tkm_encoding_free(e);
    }
    puts("models (exact names):");
    const char *enc;
    int prefix;
    const char *m;
    for (size_t i = 0; (m = tkm_model_at(i, &enc, &prefix)) != NULL; i++)
        if (!prefix) printf("  %-30s %s\n", m, enc);
    puts("model prefixes:");
    for (size_t i = 0; (m = tkm_model_at(i, &enc, &prefix)) != NULL; i++)
        if (prefix) printf("  %-30s %s\n", m, enc);
    return 0;
}

static int load_vocab(cli *c) {
    tkm_pattern pat;
    if (!c->pattern) {
        fprintf(stderr, "%s: --vocab needs --pattern gpt2|cl100k|o200k\n", prog);
        return 2;
    }
    if (strcmp(c->pattern, "gpt2") == 0) pat = TKM_PATTERN_GPT2;
    else if (strcmp(c->pattern, "cl100k") == 0) pat = TKM_PATTERN_CL100K;
    else if (strcmp(c->pattern, "o200k") == 0) pat = TKM_PATTERN_O200K;
    else {
        fprintf(stderr, "%s: unknown pattern '%s' (gpt2, cl100k, o200k)\n", prog, c->pattern);
        return 2;
    }
    int fd;
    int err = open_input(c->vocab_file, &fd);
    if (err) {
        fprintf(stderr, "%s: %s: %s\n", prog, c->vocab_file, strerror(err));
        return 1;
    }
    unsigned char *data;
    size_t len;
    if (slurp(fd, c->vocab_file, &data, &len)) return 1;
    if (fd != STDIN_FILENO) close(fd);
    tkm_status st = tkm_encoding_load_tiktoken(data, len, pat, NULL, 0, c->vocab_file, &c->enc);
    free(data);
    if (st != TKM_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, c->vocab_file, tkm_status_string(st));
        return 1;
    }
    c->enc_name = c->vocab_file;
    return 0;
}

/* ---- chat bodies, request logs and costs (issue 5) ------------------------------------------ */
/* Exact dollars from pico-dollars: at least two decimals, trailing zeros trimmed. */
static void print_usd(FILE *f, uint64_t pico) {
    char d[16];
    snprintf(d, sizeof d, "%012llu", (unsigned long long)(pico % 1000000000000ull));
    int n = 12;
    while (n > 2 && d[n - 1] == '0') n--;
    fprintf(f, "%llu.%.*s", (unsigned long long)(pico / 1000000000000ull), n, d);
}

static int load_prices(cli *c) {
    if (c->prices) return 0;
    if (!c->prices_file) {
        tkm_status st = tkm_prices_open_builtin(&c->prices);
        if (st == TKM_OK) return 0;
        fprintf(stderr, "%s: built-in price table: %s\n", prog, tkm_status_string(st));
        return 1;
    }
    int fd;
    int err = open_input(c->prices_file, &fd);
    if (err) {
        fprintf(stderr, "%s: %s: %s\n", prog, c->prices_file, strerror(err));
        return 1;
    }
    unsigned char *data;
    size_t len, line = 0;
    int rc = slurp(fd, c->prices_file, &data, &len);
    if (fd != STDIN_FILENO) close(fd);
    if (rc) return 1;
    tkm_status st = tkm_prices_load(data, len, &c->prices, &line);
    free(data);
    if (st == TKM_ERR_BAD_PRICES) {
        fprintf(stderr, "%s: %s:%zu: %s\n", prog, c->prices_file, line, tkm_status_string(st));
        return 1;
    }
    if (st != TKM_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, c->prices_file, tkm_status_string(st));
        return 1;
    }
    return 0;
}

static void chat_error(const char *name, tkm_status st, const tkm_chat_result *r) {
    fprintf(stderr, "%s: %s: %s%s%s\n", prog, name, tkm_status_string(st), r->error[0] ? ": " : "", r->error);
}

/* An SSE capture starts (after blank space) with an SSE field, not with a JSON value. */
static int looks_like_sse(const unsigned char *d, size_t n) {
    size_t i = 0;
    while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n')) i++;
    static const char *const fields[] = {"data:", "event:", "id:", "retry:", ":"};
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
        if (n - i >= strlen(fields[k]) && memcmp(d + i, fields[k], strlen(fields[k])) == 0) return 1;
    return 0;
}

/* tokmeter chat FILE: a request (prompt tokens), a response or an SSE capture (completion tokens). */
static int chat_fd(cli *c, int fd, const char *name, const char *label) {
    unsigned char *data = NULL;
    size_t len = 0;
    if (slurp(fd, name, &data, &len)) return 1;
    tkm_chat_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.model = c->model;
    tkm_chat_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    const char *kind = "request";
    tkm_status st;
    if (looks_like_sse(data, len)) {
        kind = "stream";
        st = tkm_chat_count_sse(data, len, &o, &r);
    } else {
        st = tkm_chat_count_request(data, len, &o, &r);
        if (st == TKM_ERR_BAD_REQUEST && strncmp(r.error, "messages: missing", 17) == 0) {
            tkm_chat_result r2;
            memset(&r2, 0, sizeof r2);
            r2.struct_size = sizeof r2;
            tkm_status st2 = tkm_chat_count_response(data, len, &o, &r2);
            if (!(st2 == TKM_ERR_BAD_REQUEST && strncmp(r2.error, "choices: missing", 16) == 0)) {
                st = st2, r = r2, kind = "response";
            } else {
                snprintf(r.error, sizeof r.error, "neither a request (no \"messages\") nor a response (no \"choices\")");
            }
        }
    }
    free(data);
    if (st != TKM_OK) {
        chat_error(name, st, &r);
        return 1;
    }
    int request = strcmp(kind, "request") == 0;
    tkm_cost cost;
    memset(&cost, 0, sizeof cost);
    cost.struct_size = sizeof cost;
    if (c->cost) {
        if (load_prices(c)) return 1;
        uint64_t in = request ? r.prompt_tokens : 0, cached = 0, out = request ? 0 : r.completion_tokens;
        if (!request && (r.flags & TKM_CHAT_USAGE)) in = r.usage_prompt_tokens, cached = r.usage_cached_tokens;
        if (cached > in) cached = in;
        st = tkm_cost_estimate(c->prices, r.model, in, cached, out, &cost);
        if (st != TKM_OK) {
            fprintf(stderr, "%s: %s: no price for model '%s'%s\n", prog, name, r.model,
                    st == TKM_ERR_UNKNOWN_MODEL ? " (give a table with --prices FILE)" : "");
            return 1;
        }
    }
    if (c->json) {
        fputs("{\"file\":", stdout);
        json_string(stdout, label);
        printf(",\"kind\":\"%s\",\"model\":", kind);
        json_string(stdout, r.model);
        fputs(",\"encoding\":", stdout);
        json_string(stdout, r.encoding ? r.encoding : "");
        if (request)
            printf(",\"prompt_tokens\":%zu,\"text_tokens\":%zu,\"overhead_tokens\":%zu,\"tool_tokens\":%zu,"
                   "\"image_tokens\":%zu,\"messages\":%zu,\"images\":%zu,\"images_unknown\":%zu,\"parts_unknown\":%zu",
                   r.prompt_tokens, r.text_tokens, r.overhead_tokens, r.tool_tokens, r.image_tokens, r.n_messages,
                   r.n_images, r.n_images_unknown, r.n_parts_unknown);
        else
            printf(",\"completion_tokens\":%zu,\"choices\":%zu", r.completion_tokens, r.n_choices);
        if (r.flags & TKM_CHAT_USAGE)
            printf(",\"usage\":{\"prompt_tokens\":%zu,\"completion_tokens\":%zu,\"cached_tokens\":%zu}",
                   r.usage_prompt_tokens, r.usage_completion_tokens, r.usage_cached_tokens);
        if (!request && !strcmp(kind, "stream")) printf(",\"stream_done\":%s", r.flags & TKM_CHAT_STREAM_DONE ? "true" : "false");
        printf(",\"extended\":%s,\"model_unverified\":%s,\"incomplete\":%s", r.flags & TKM_CHAT_EXTENDED ? "true" : "false",
               r.flags & TKM_CHAT_MODEL_UNVERIFIED ? "true" : "false", r.flags & TKM_CHAT_INCOMPLETE ? "true" : "false");
        if (c->cost) {
            printf(",\"cost\":{\"price_model\":");
            json_string(stdout, cost.price_model);
            printf(",\"input_pico_usd\":%llu,\"output_pico_usd\":%llu,\"total_pico_usd\":%llu,\"total_usd\":\"",
                   (unsigned long long)cost.input_cost, (unsigned long long)cost.output_cost,
                   (unsigned long long)cost.total_cost);
            print_usd(stdout, cost.total_cost);
            printf("\",\"date\":");
            json_string(stdout, cost.date);
            printf(",\"source\":");
            json_string(stdout, cost.source);
            putchar('}');
        }
        puts("}");
        return 0;
    }
    printf("%s: %s, model %s (%s)\n", label, kind, r.model, r.encoding ? r.encoding : "?");
    if (request)
        printf("  prompt_tokens %zu  (text %zu + framing %zu + tools %zu + images %zu)\n", r.prompt_tokens,
               r.text_tokens, r.overhead_tokens, r.tool_tokens, r.image_tokens);
    else
        printf("  completion_tokens %zu  (%zu choice%s)\n", r.completion_tokens, r.n_choices, r.n_choices == 1 ? "" : "s");
    if (r.flags & TKM_CHAT_USAGE)
        printf("  usage reported by the API: prompt %zu (cached %zu), completion %zu\n", r.usage_prompt_tokens,
               r.usage_cached_tokens, r.usage_completion_tokens);
    if (r.flags & TKM_CHAT_EXTENDED)
        puts("  note: has parts beyond the cookbook's method (content arrays, tool calls, ...): see README");
    if (r.flags & TKM_CHAT_MODEL_UNVERIFIED)
        puts("  note: the framing constants were not verified by OpenAI for this model");
    if (r.flags & TKM_CHAT_INCOMPLETE)
        printf("  note: NOT counted: %zu image(s) of unknown size or formula, %zu other part(s)\n", r.n_images_unknown,
               r.n_parts_unknown);
    if (!request && !strcmp(kind, "stream") && !(r.flags & TKM_CHAT_STREAM_DONE))
        puts("  note: the capture does not end with data: [DONE]");
    if (c->cost) {
        fputs("  cost_usd ", stdout);
        print_usd(stdout, cost.total_cost);
        fputs(" (", stdout);
        print_usd(stdout, cost.input_cost);
        fputs(" input + ", stdout);
        print_usd(stdout, cost.output_cost);
        printf(" output; %s prices of %s, %s)\n", cost.price_model, cost.date, cost.source);
    }
    return 0;
}

/* --jsonl FIELD: one count per JSON line, a total; with --cost the input cost of each line. */
static int jsonl_fd(cli *c, int fd, const struct stat *before, const char *name, const char *label,
                    size_t *total_tokens, uint64_t *total_cost) {
    FILE *f = fdopen(dup(fd), "r");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(errno));
        return 1;
    }
    tkm_chat_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    char *line = NULL;
    size_t cap = 0, line_no = 0, file_tokens = 0;
    unsigned long long done = 0;
    int failed = 0, fatal = c->cost && load_prices(c);
    ssize_t n;
    progress_begin(c, before);
    while (!fatal && (n = getline(&line, &cap, f)) >= 0) {
        line_no++;
        done += (unsigned long long)n;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (!len) continue;
        tkm_chat_result r;
        memset(&r, 0, sizeof r);
        r.struct_size = sizeof r;
        tkm_status st = tkm_json_count_field(c->enc, line, len, c->jsonl_field, &o, &r);
        if (st != TKM_OK) {
            progress_end(c);
            fprintf(stderr, "%s: %s:%zu: %s%s%s\n", prog, name, line_no, tkm_status_string(st), r.error[0] ? ": " : "",
                    r.error);
            failed = 1;
            continue;
        }
        file_tokens += r.text_tokens;
        *total_tokens += r.text_tokens;
        const char *model = c->model ? c->model : r.model;
        tkm_cost cost;
        memset(&cost, 0, sizeof cost);
        cost.struct_size = sizeof cost;
        if (c->cost) {
            st = model[0] ? tkm_cost_estimate(c->prices, model, r.text_tokens, 0, 0, &cost) : TKM_ERR_UNKNOWN_MODEL;
            if (st != TKM_OK || *total_cost > UINT64_MAX - cost.input_cost) {
                progress_end(c);
                fprintf(stderr, "%s: %s:%zu: %s\n", prog, name, line_no,
                        !model[0] ? "no model in the line (give -m MODEL)"
                        : st == TKM_ERR_UNKNOWN_MODEL ? "no price for the line's model (give --prices FILE)"
                                                      : "cost overflows");
                failed = 1;
                continue;
            }
            *total_cost += cost.input_cost;
        }
        if (c->json) {
            fputs("{\"file\":", stdout);
            json_string(stdout, label);
            printf(",\"line\":%zu,\"tokens\":%zu", line_no, r.text_tokens);
            if (c->cost) {
                fputs(",\"model\":", stdout);
                json_string(stdout, model);
                printf(",\"cost_pico_usd\":%llu", (unsigned long long)cost.input_cost);
            }
            puts("}");
        } else if (c->cost) {
            printf("%zu ", r.text_tokens);
            print_usd(stdout, cost.input_cost);
            printf(" %s:%zu\n", label, line_no);
        } else {
            printf("%zu %s:%zu\n", r.text_tokens, label, line_no);
        }
        progress(c, done, S_ISREG(before->st_mode) ? (unsigned long long)before->st_size : 0);
    }
    progress_end(c);
    if (!failed && ferror(f)) {
        fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(errno));
        failed = 1;
    }
    free(line);
    fclose(f);
    (void)file_tokens;
    return failed || fatal;
}

static int need_arg(int i, int argc, const char *opt) {
    if (i + 1 >= argc) {
        fprintf(stderr, "%s: option %s needs an argument\n", prog, opt);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    cli c;
    memset(&c, 0, sizeof c);
    c.opt.struct_size = sizeof c.opt;
    c.jobs = 1;
    /* static: the list lives until exit, also on the early returns (memcheck: reachable, not lost) */
    static const char **files;
    files = calloc((size_t)argc + 1, sizeof *files);
    size_t n_files = 0;
    int no_more_opts = 0;
    if (!files) return 1;
    /* A closed output pipe is a write error we report (exit 1), not a silent death by SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);

    int first = 1;
    if (argc > 1 && strcmp(argv[1], "chat") == 0) c.chat = 1, first = 2; /* the chat subcommand */
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (no_more_opts || a[0] != '-' || strcmp(a, "-") == 0) {
            files[n_files++] = a;
            continue;
        }
        const char *val = NULL;
        char optname[64];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        if (eq) {
            size_t l = (size_t)(eq - a) < sizeof optname - 1 ? (size_t)(eq - a) : sizeof optname - 1;
            memcpy(optname, a, l);
            optname[l] = 0;
            val = eq + 1;
            a = optname;
        }
#define TAKE(dst)                                        \
    do {                                                 \
        if (val) dst = val;                              \
        else if (need_arg(i, argc, a)) dst = argv[++i];  \
        else return 2;                                   \
    } while (0)
        if (strcmp(a, "--") == 0) no_more_opts = 1;
        else if (strcmp(a, "-e") == 0 || strcmp(a, "--encoding") == 0) TAKE(c.encoding);
        else if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) TAKE(c.model);
        else if (strcmp(a, "--vocab") == 0) TAKE(c.vocab_file);
        else if (strcmp(a, "--limit") == 0 || strcmp(a, "--truncate") == 0) {
            const char *v = NULL;
            int is_limit = strcmp(a, "--limit") == 0;
            TAKE(v);
            char *end;
            errno = 0;
            unsigned long long b = strtoull(v, &end, 10);
            if (!*v || *end || errno || v[0] == '-' || b >= SIZE_MAX) {
                fprintf(stderr, "%s: %s takes a number of tokens, not '%s'\n", prog, a, v);
                return 2;
            }
            c.budget = (size_t)b;
            c.mode_limit = is_limit;
            c.mode_truncate = !is_limit;
        }
        else if (strcmp(a, "--pattern") == 0) TAKE(c.pattern);
        else if (strcmp(a, "--jsonl") == 0) TAKE(c.jsonl_field);
        else if (strcmp(a, "--prices") == 0) TAKE(c.prices_file);
        else if (strcmp(a, "--stream-chunk") == 0) {
            const char *v = NULL;
            TAKE(v);
            char *end;
            errno = 0;
            unsigned long long b = strtoull(v, &end, 10);
            if (!*v || *end || errno || v[0] == '-' || b == 0 || b > (1u << 30)) {
                fprintf(stderr, "%s: --stream-chunk takes a number of bytes from 1 to 2^30, not '%s'\n", prog, v);
                return 2;
            }
            c.stream_chunk = (size_t)b;
        }
        else if (strcmp(a, "--special") == 0) {
            const char *m = NULL;
            TAKE(m);
            if (strcmp(m, "ordinary") == 0) c.opt.flags &= ~(uint32_t)(TKM_SPECIAL_ALLOW | TKM_SPECIAL_REJECT);
            else if (strcmp(m, "allow") == 0) c.opt.flags = (c.opt.flags & ~(uint32_t)TKM_SPECIAL_REJECT) | TKM_SPECIAL_ALLOW;
            else if (strcmp(m, "reject") == 0) c.opt.flags = (c.opt.flags & ~(uint32_t)TKM_SPECIAL_ALLOW) | TKM_SPECIAL_REJECT;
            else {
                fprintf(stderr, "%s: --special takes ordinary, allow or reject\n", prog);
                return 2;
            }
        } else if (strcmp(a, "-j") == 0 || strcmp(a, "--jobs") == 0) {
            const char *v = NULL;
            TAKE(v);
            if (parse_jobs(v, &c.jobs)) return 2;
        } else if (!val && strncmp(a, "-j", 2) == 0 && a[2] >= '0' && a[2] <= '9') {
            if (parse_jobs(a + 2, &c.jobs)) return 2;
        } else if (val) {
            fprintf(stderr, "%s: option %s takes no value\n", prog, a);
            return 2;
        } else if (strcmp(a, "--json") == 0) c.json = 1;
        else if (strcmp(a, "--ids") == 0) c.ids = 1;
        else if (strcmp(a, "--strict") == 0) c.opt.flags |= TKM_UTF8_STRICT;
        else if (strcmp(a, "--cost") == 0) c.cost = 1;
        else if (strcmp(a, "--follow") == 0) c.follow = 1;
        else if (strcmp(a, "--list") == 0) return list_all();
        else if (strcmp(a, "--kernels") == 0) return list_kernels();
        else if (strcmp(a, "--version") == 0) {
            printf("tokmeter %s\n", tkm_version_string());
            return 0;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n", prog, argv[i]);
            usage(stderr);
            return 2;
        }
#undef TAKE
    }

    int counting_only = c.chat || c.jsonl_field;
    if ((c.chat && c.jsonl_field) || (counting_only && (c.ids || c.mode_limit || c.mode_truncate || c.follow ||
                                                        c.stream_chunk || c.vocab_file || c.opt.flags)) ||
        ((c.follow || c.stream_chunk) && (c.ids || c.mode_limit || c.mode_truncate)) ||
        ((c.cost || c.prices_file) && !counting_only) || (c.chat && c.encoding)) {
        fprintf(stderr, "%s: 'chat' and --jsonl take -m/-e, --cost, --prices, --json only; --cost needs 'chat' or "
                        "--jsonl; --follow and --stream-chunk do not combine with --ids, --limit or --truncate\n",
                prog);
        return 2;
    }
    if (c.chat) {
        int failed = 0;
        if (n_files == 0) files[n_files++] = "-";
        for (size_t i = 0; i < n_files; i++) {
            const char *shown = strcmp(files[i], "-") == 0 ? "standard input" : files[i];
            int fd, err = open_input(files[i], &fd);
            if (err) {
                fprintf(stderr, "%s: %s: %s\n", prog, shown, strerror(err));
                failed = 1;
                continue;
            }
            failed |= chat_fd(&c, fd, shown, files[i]);
            if (fd != STDIN_FILENO) close(fd);
        }
        free(files);
        tkm_prices_free(c.prices);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "%s: write error: %s\n", prog, strerror(errno));
            return 1;
        }
        return failed;
    }
    if ((c.mode_limit || c.mode_truncate) + c.ids > 1 || (c.mode_truncate && c.json)) {
        fprintf(stderr, "%s: --limit, --truncate and --ids do not combine (nor --truncate with --json)\n", prog);
        return 2;
    }
    if (c.mode_truncate && n_files > 1) {
        fprintf(stderr, "%s: --truncate takes one input\n", prog);
        return 2;
    }
    if ((c.encoding != NULL) + (c.model != NULL) + (c.vocab_file != NULL) > 1) {
        fprintf(stderr, "%s: give at most one of -e, -m, --vocab\n", prog);
        return 2;
    }
    tkm_status st = TKM_OK;
    if (c.vocab_file) {
        int rc = load_vocab(&c);
        if (rc) return rc;
    } else if (c.model) {
        st = tkm_model_encoding_name(c.model, &c.enc_name);
        if (st == TKM_OK) st = tkm_encoding_open(c.enc_name, &c.enc);
        if (st == TKM_ERR_UNKNOWN_MODEL) {
            fprintf(stderr, "%s: unknown model '%s' (see --list)\n", prog, c.model);
            return 2;
        }
    } else {
        c.enc_name = c.encoding ? c.encoding : "o200k_base";
        st = tkm_encoding_open(c.enc_name, &c.enc);
        if (st == TKM_ERR_UNKNOWN_ENCODING) {
            fprintf(stderr, "%s: unknown encoding '%s' (see --list)\n", prog, c.enc_name);
            return 2;
        }
    }
    if (st == TKM_ERR_UNSUPPORTED && getenv("TOKMETER_KERNEL")) {
        fprintf(stderr, "%s: TOKMETER_KERNEL=%s: no such kernel, or this CPU cannot run it (see --kernels)\n", prog,
                getenv("TOKMETER_KERNEL"));
        return 2;
    }
    if (st != TKM_OK) {
        fprintf(stderr, "%s: %s\n", prog, tkm_status_string(st));
        return 1;
    }
    tkm_encoding_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (tkm_encoding_info_get(c.enc, &info) == TKM_OK && !c.vocab_file) c.enc_name = info.name;

    int stdin_only = n_files == 0;
    if (stdin_only) files[n_files++] = "-";
    int whole = c.ids || c.mode_limit || c.mode_truncate || c.jsonl_field;
    uint64_t total_cost = 0;
    unsigned char *buf = whole ? NULL : malloc(READ_CHUNK);
    if (!whole && !buf) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    int failed = 0;
    size_t total_tokens = 0, total_bytes = 0, first_file = 0;
    if (c.jobs != 1 && !whole && !c.follow && !c.stream_chunk) {
        failed = count_jobs(&c, files, n_files, stdin_only, &total_tokens, &total_bytes);
        first_file = n_files;
    }
    for (size_t i = first_file; i < n_files; i++) {
        const char *name = files[i];
        const char *shown = strcmp(name, "-") == 0 ? "standard input" : name;
        int fd;
        int err = open_input(name, &fd);
        if (err) {
            fprintf(stderr, "%s: %s: %s\n", prog, shown, strerror(err));
            failed = c.mode_limit ? 2 : 1;
            continue;
        }
        struct stat before;
        if (fstat(fd, &before) != 0) memset(&before, 0, sizeof before);
        int rc;
        if (c.mode_limit) {
            rc = limit_fd(&c, fd, &before, shown, name);
            if (fd != STDIN_FILENO) close(fd);
            if (rc == 2) failed = 2;
            else if (rc == 1 && failed == 0) failed = 1;
            continue;
        } else if (c.jsonl_field) {
            rc = jsonl_fd(&c, fd, &before, shown, name, &total_tokens, &total_cost);
        } else if (c.mode_truncate) {
            rc = truncate_fd(&c, fd, &before, shown);
        } else if (c.ids) {
            rc = ids_fd(&c, fd, &before, shown, strcmp(name, "-") == 0 ? "-" : name);
        } else {
            tkm_result r;
            memset(&r, 0, sizeof r);
            r.struct_size = sizeof r;
            progress_begin(&c, &before);
            rc = count_fd(&c, fd, shown, &r, buf, S_ISREG(before.st_mode) ? (unsigned long long)before.st_size : 0);
            if (!rc) rc = changed_during_read(fd, &before, r.bytes, shown);
            if (!rc) {
                total_tokens += r.tokens;
                total_bytes += r.bytes;
                if (c.json) {
                    fputs("{\"file\":", stdout);
                    json_string(stdout, name);
                    fputs(",\"encoding\":", stdout);
                    json_string(stdout, c.enc_name);
                    printf(",\"tokens\":%zu,\"bytes\":%zu}\n", r.tokens, r.bytes);
                } else if (stdin_only) {
                    printf("%zu\n", r.tokens);
                } else {
                    printf("%zu %s\n", r.tokens, name);
                }
            }
        }
        if (fd != STDIN_FILENO) close(fd);
        failed |= rc;
    }
    if (c.jsonl_field && !failed) {
        if (c.json) {
            printf("{\"file\":null,\"total\":true,\"tokens\":%zu", total_tokens);
            if (c.cost) printf(",\"cost_pico_usd\":%llu", (unsigned long long)total_cost);
            puts("}");
        } else if (c.cost) {
            printf("%zu ", total_tokens);
            print_usd(stdout, total_cost);
            puts(" total");
        } else {
            printf("%zu total\n", total_tokens);
        }
    } else if (!c.ids && !c.mode_limit && !c.mode_truncate && n_files > 1 && !failed) {
        if (c.json)
            printf("{\"file\":null,\"total\":true,\"encoding\":\"%s\",\"tokens\":%zu,\"bytes\":%zu}\n", c.enc_name,
                   total_tokens, total_bytes);
        else
            printf("%zu total\n", total_tokens);
    }
    free(buf);
    free(files);
    tkm_encoding_free(c.enc);
    tkm_prices_free(c.prices);
    errno = 0;
    int flush_failed = fflush(stdout) != 0;
    if (flush_failed || ferror(stdout)) {
        int e = flush_failed ? errno : 0;
        fprintf(stderr, "%s: write error%s%s\n", prog, e ? ": " : "", e ? strerror(e) : "");
        return c.mode_limit ? 2 : 1;
    }
    return failed;
}
