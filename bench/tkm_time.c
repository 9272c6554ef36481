/*
 * tkm_time - in-process timing of tkm_count over a list of files (used by bench/compare.sh).
 *
 * usage: tkm_time [-n RUNS] [-t MIN_SECONDS] ENCODING FILE...
 *
 * Reads every FILE into memory first (reading is not timed), counts each file once untimed as a
 * warm-up, then times at least RUNS passes (default 3), and more until the timed passes add up to
 * MIN_SECONDS (default 0; at most 1000 passes), so that a short disturbance on a shared machine
 * cannot spoil every pass; one pass = one tkm_count call per file, in the
 * order given; a pass is timed as a whole, and each tkm_count call separately as well
 * (clock_gettime; a clock read costs well under a microsecond). Prints, tab-separated:
 *     FILE <path> <bytes> <tokens> <seconds>     one line per file (seconds: in the best pass)
 *     TOTAL <bytes> <tokens> <best_seconds> <passes run> <best_cpu_seconds>
 * Exit status: 0 success, 1 a file or a count failed, 2 usage error.
 * Public API only (include/tokmeter.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokmeter.h"

typedef struct input {
    const char *path;
    unsigned char *data;
    size_t len;
    size_t tokens;
    double seconds; /* this file's time in the latest pass */
    double best_seconds; /* this file's time in the best pass */
} input;

/* CPU time of this process: on a shared machine it excludes the time the process waited for a
 * core (caches and memory bandwidth are still shared, so it is a lower bound, not the truth). */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int read_file(const char *path, unsigned char **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf;
    if (!f) return -1;
    buf = malloc(cap);
    while (buf) {
        size_t got;
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (!buf || ferror(f)) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    *data = buf;
    *len = n;
    return 0;
}

static int count_all(const tkm_encoding *enc, input *in, int n_in, size_t *total) {
    int i;
    size_t sum = 0;
    for (i = 0; i < n_in; i++) {
        size_t n = 0;
        double t0 = now_seconds();
        tkm_status st = tkm_count(enc, in[i].data, in[i].len, &n);
        in[i].seconds = now_seconds() - t0;
        if (st != TKM_OK) {
            fprintf(stderr, "tkm_time: %s: %s\n", in[i].path, tkm_status_string(st));
            return -1;
        }
        in[i].tokens = n;
        sum += n;
    }
    *total = sum;
    return 0;
}

int main(int argc, char **argv) {
    int runs = 3, argi = 1, n_in, i, r;
    const char *encoding;
    tkm_encoding *enc = NULL;
    input *in;
    size_t bytes = 0, tokens = 0;
    double best = -1.0, best_cpu = -1.0, min_seconds = 0.0, spent = 0.0;
    tkm_status st;

    while (argi + 1 < argc && (strcmp(argv[argi], "-n") == 0 || strcmp(argv[argi], "-t") == 0)) {
        if (argv[argi][1] == 'n')
            runs = atoi(argv[argi + 1]);
        else
            min_seconds = atof(argv[argi + 1]);
        argi += 2;
    }
    if (runs < 1 || runs > 1000 || !(min_seconds >= 0.0) || argc - argi < 2) {
        fprintf(stderr, "usage: tkm_time [-n RUNS] [-t MIN_SECONDS] ENCODING FILE...\n");
        return 2;
    }
    encoding = argv[argi++];
    st = tkm_encoding_open(encoding, &enc);
    if (st != TKM_OK) {
        fprintf(stderr, "tkm_time: %s: %s\n", encoding, tkm_status_string(st));
        return 2;
    }
    n_in = argc - argi;
    in = calloc((size_t)n_in, sizeof *in);
    if (!in) return 1;
    for (i = 0; i < n_in; i++) {
        in[i].path = argv[argi + i];
        if (read_file(in[i].path, &in[i].data, &in[i].len) != 0) {
            fprintf(stderr, "tkm_time: cannot read %s\n", in[i].path);
            return 1;
        }
        bytes += in[i].len;
    }
    if (count_all(enc, in, n_in, &tokens) != 0) return 1; /* warm-up */
    for (r = 0; r < 1000 && (r < runs || spent < min_seconds); r++) {
        size_t t = 0;
        double t0 = now_seconds(), c0 = cpu_seconds(), dt, dc;
        if (count_all(enc, in, n_in, &t) != 0) return 1;
        dt = now_seconds() - t0;
        dc = cpu_seconds() - c0;
        if (best_cpu < 0 || dc < best_cpu) best_cpu = dc;
        spent += dt;
        if (t != tokens) {
            fprintf(stderr, "tkm_time: count changed between runs (%zu vs %zu)\n", t, tokens);
            return 1;
        }
        if (best < 0 || dt < best) {
            best = dt;
            for (i = 0; i < n_in; i++) in[i].best_seconds = in[i].seconds;
        }
    }
    for (i = 0; i < n_in; i++) printf("FILE\t%s\t%zu\t%zu\t%.6f\n", in[i].path, in[i].len, in[i].tokens, in[i].best_seconds);
    printf("TOTAL\t%zu\t%zu\t%.6f\t%d\t%.6f\n", bytes, tokens, best, r, best_cpu);
    for (i = 0; i < n_in; i++) free(in[i].data);
    free(in);
    tkm_encoding_free(enc);
    return 0;
}
