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
} cli;

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s [-e ENCODING | -m MODEL] [options] [FILE...]\n"
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
            "      --strict          invalid UTF-8 is an error (default: read as U+FFFD, like tiktoken\n"
            "                        on bytes.decode('utf-8', 'replace'))\n"
            "      --special MODE    special-token text: ordinary (default), allow, reject\n"
            "      --vocab FILE      use a .tiktoken file with --pattern gpt2|cl100k|o200k\n"
            "      --list            list encodings and known models\n"
            "      --version         print the version\n"
            "  -h, --help            this help\n",
            prog);
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

/* Count one input through the streaming counter. Returns 0 on success. */
static int count_fd(cli *c, int fd, const char *name, tkm_result *res, unsigned char *buf) {
    tkm_stream *s = NULL;
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
        st = tkm_stream_feed(s, buf, (size_t)r, NULL);
        if (st != TKM_OK) break;
    }
    st = tkm_stream_finish(s, res);
    tkm_stream_free(s);
    if (st != TKM_OK) {
        report_status(name, st, res);
        return 1;
    }
    return 0;
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
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t n_files = 0;
    int no_more_opts = 0;
    if (!files) return 1;
    /* A closed output pipe is a write error we report (exit 1), not a silent death by SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);

    for (int i = 1; i < argc; i++) {
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
        } else if (val) {
            fprintf(stderr, "%s: option %s takes no value\n", prog, a);
            return 2;
        } else if (strcmp(a, "--json") == 0) c.json = 1;
        else if (strcmp(a, "--ids") == 0) c.ids = 1;
        else if (strcmp(a, "--strict") == 0) c.opt.flags |= TKM_UTF8_STRICT;
        else if (strcmp(a, "--list") == 0) return list_all();
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
    int whole = c.ids || c.mode_limit || c.mode_truncate;
    unsigned char *buf = whole ? NULL : malloc(READ_CHUNK);
    if (!whole && !buf) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    int failed = 0;
    size_t total_tokens = 0, total_bytes = 0;
    for (size_t i = 0; i < n_files; i++) {
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
        } else if (c.mode_truncate) {
            rc = truncate_fd(&c, fd, &before, shown);
        } else if (c.ids) {
            rc = ids_fd(&c, fd, &before, shown, strcmp(name, "-") == 0 ? "-" : name);
        } else {
            tkm_result r;
            memset(&r, 0, sizeof r);
            r.struct_size = sizeof r;
            rc = count_fd(&c, fd, shown, &r, buf);
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
    if (!c.ids && !c.mode_limit && !c.mode_truncate && n_files > 1 && !failed) {
        if (c.json)
            printf("{\"file\":null,\"total\":true,\"encoding\":\"%s\",\"tokens\":%zu,\"bytes\":%zu}\n", c.enc_name,
                   total_tokens, total_bytes);
        else
            printf("%zu total\n", total_tokens);
    }
    free(buf);
    free(files);
    tkm_encoding_free(c.enc);
    errno = 0;
    int flush_failed = fflush(stdout) != 0;
    if (flush_failed || ferror(stdout)) {
        int e = flush_failed ? errno : 0;
        fprintf(stderr, "%s: write error%s%s\n", prog, e ? ": " : "", e ? strerror(e) : "");
        return c.mode_limit ? 2 : 1;
    }
    return failed;
}
