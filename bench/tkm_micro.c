/*
 * tkm_micro - micro-benchmarks of the three stages of counting, on the files given:
 *
 *   split   each kernel's pre-tokenizer alone (arch/ split functions), MB/s and pieces/s
 *   lookup  whole-piece lookup in the rank table (tkm_ranks_find) of every piece, ns per piece
 *   merge   BPE (tkm_bpe_count) of every piece that is not one token, ns per piece and per byte
 *   batch   the same pieces through each kernel's batch merge (tkm_kernel.bpe_batch, as count.c
 *           calls it, TKM_BPE_BATCH at a time, but without the piece cache), ns per piece and per
 *           merge
 *
 * usage: tkm_micro ENCODING FILE...      (ENCODING: o200k_base, cl100k_base or r50k_base)
 *
 * The one benchmark that uses library internals (kernel/, arch/), like the tests do, because these
 * stages have no public entry point; everything else in bench/ uses include/tokmeter.h only. Files
 * are read whole first; each stage runs 3 times and the best time (CPU time of the process) is
 * printed. Timings are for people, never for tests.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../arch/arch.h"
#include "bpe.h"
#include "vocab.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    unsigned char *b = malloc(cap);
    while (b) {
        if (len == cap) {
            unsigned char *t = realloc(b, cap *= 2);
            if (!t) {
                free(b);
                b = NULL;
                break;
            }
            b = t;
        }
        size_t k = fread(b + len, 1, cap - len, f);
        len += k;
        if (k == 0) break;
    }
    fclose(f);
    *n = len;
    return b;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: tkm_micro ENCODING FILE...\n");
        return 2;
    }
    const tkm_ranks *v;
    int fam;
    if (strcmp(argv[1], "o200k_base") == 0) v = &tkm_ranks_o200k_base, fam = 3;
    else if (strcmp(argv[1], "cl100k_base") == 0) v = &tkm_ranks_cl100k_base, fam = 2;
    else if (strcmp(argv[1], "r50k_base") == 0) v = &tkm_ranks_r50k_base, fam = 1;
    else {
        fprintf(stderr, "tkm_micro: encoding must be o200k_base, cl100k_base or r50k_base\n");
        return 2;
    }
    int nf = argc - 2;
    unsigned char **data = calloc((size_t)nf, sizeof *data);
    size_t *len = calloc((size_t)nf, sizeof *len), total = 0;
    if (!data || !len) return 1;
    for (int i = 0; i < nf; i++) {
        data[i] = slurp(argv[i + 2], &len[i]);
        if (!data[i]) {
            fprintf(stderr, "tkm_micro: cannot read %s\n", argv[i + 2]);
            return 1;
        }
        total += len[i];
    }
    /* the pieces, once, from the scalar kernel: (file, start, end) */
    size_t cap = 1 << 20, np = 0;
    size_t *ps = malloc(cap * sizeof *ps), *pe = malloc(cap * sizeof *pe);
    int *pf = malloc(cap * sizeof *pf);
    if (!ps || !pe || !pf) return 1;
    size_t ends[64];
    for (int i = 0; i < nf; i++) {
        size_t pos = 0;
        while (pos < len[i]) {
            size_t m = tkm_kernel_scalar.split[fam](data[i], pos, len[i], ends, 64);
            for (size_t j = 0; j < m; j++) {
                if (np == cap) {
                    cap *= 2;
                    ps = realloc(ps, cap * sizeof *ps);
                    pe = realloc(pe, cap * sizeof *pe);
                    pf = realloc(pf, cap * sizeof *pf);
                    if (!ps || !pe || !pf) return 1;
                }
                ps[np] = pos;
                pe[np] = ends[j];
                pf[np++] = i;
                pos = ends[j];
            }
        }
    }
    printf("%s: %d files, %.2f MB, %zu pieces\n", argv[1], nf, total / 1e6, np);

    /* split, per kernel this CPU can run */
    const tkm_kernel *const *ks = tkm_arch_kernels();
    for (size_t k = 0; ks[k]; k++) {
        if (!ks[k]->cpu_ok()) continue;
        double best = 1e30;
        size_t count = 0;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = cpu_now();
            count = 0;
            for (int i = 0; i < nf; i++) {
                size_t pos = 0;
                while (pos < len[i]) {
                    size_t m = ks[k]->split[fam](data[i], pos, len[i], ends, 64);
                    pos = ends[m - 1];
                    count += m;
                }
            }
            double dt = cpu_now() - t0;
            if (dt < best) best = dt;
        }
        printf("split   %-8s %s %8.1f MB/s %8.1f M pieces/s%s\n", ks[k]->name, ks[k]->native ? "native  " : "emulated",
               total / best / 1e6, count / best / 1e6, count == np ? "" : "  (PIECE COUNT DIFFERS)");
    }

    /* lookup of every piece (single bytes included, as the counting loop does them by table) */
    double best = 1e30;
    size_t found = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = cpu_now();
        found = 0;
        for (size_t p = 0; p < np; p++)
            found += tkm_ranks_find(v, data[pf[p]] + ps[p], pe[p] - ps[p]) != TKM_RANK_NONE;
        double dt = cpu_now() - t0;
        if (dt < best) best = dt;
    }
    printf("lookup  %8.1f ns/piece  (%.1f%% of pieces are one token)\n", best / np * 1e9, 100.0 * found / np);

    /* merge of the pieces that are not one token */
    tkm_bpe_work w;
    memset(&w, 0, sizeof w);
    w.alloc = NULL;
    best = 1e30;
    size_t merged = 0, mbytes = 0, tokens = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = cpu_now();
        merged = mbytes = tokens = 0;
        for (size_t p = 0; p < np; p++) {
            size_t n = pe[p] - ps[p];
            const unsigned char *s = data[pf[p]] + ps[p];
            if (n == 1 || n > 64 || tkm_ranks_find(v, s, n) != TKM_RANK_NONE) continue; /* short pieces: no heap */
            tokens += tkm_bpe_count(v, s, n, &w);
            merged++;
            mbytes += n;
        }
        double dt = cpu_now() - t0;
        if (dt < best) best = dt;
    }
    printf("merge   %8.1f ns/piece %6.1f ns/byte  (%zu pieces of 2..64 bytes, %zu tokens; includes their lookup)\n",
           merged ? best / merged * 1e9 : 0.0, mbytes ? best / mbytes * 1e9 : 0.0, merged, tokens);

    /* the same pieces through each kernel's batch merge */
    const uint8_t **bp = malloc((merged ? merged : 1) * sizeof *bp);
    uint8_t *bn = malloc(merged ? merged : 1);
    if (!bp || !bn) return 1;
    size_t nbp = 0;
    for (size_t p = 0; p < np; p++) {
        size_t n = pe[p] - ps[p];
        const unsigned char *s = data[pf[p]] + ps[p];
        if (n == 1 || n > 64 || tkm_ranks_find(v, s, n) != TKM_RANK_NONE) continue;
        bp[nbp] = s;
        bn[nbp++] = (uint8_t)n;
    }
    for (size_t k = 0; ks[k]; k++) {
        if (!ks[k]->cpu_ok() || !v->pairs) continue;
        size_t btokens = 0;
        best = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = cpu_now();
            btokens = 0;
            for (size_t q = 0; q < nbp; q += TKM_BPE_BATCH) {
                uint32_t c[TKM_BPE_BATCH];
                const size_t nb = nbp - q < TKM_BPE_BATCH ? nbp - q : TKM_BPE_BATCH;
                ks[k]->bpe_batch(v, bp + q, bn + q, nb, c);
                for (size_t i = 0; i < nb; i++) btokens += c[i];
            }
            double dt = cpu_now() - t0;
            if (dt < best) best = dt;
        }
        printf("batch   %-8s %s %8.1f ns/piece %6.1f ns/merge%s\n", ks[k]->name,
               ks[k]->native ? "native  " : "emulated", nbp ? best / nbp * 1e9 : 0.0,
               mbytes > btokens ? best / (double)(mbytes - btokens) * 1e9 : 0.0,
               btokens == tokens ? "" : "  (TOKEN COUNT DIFFERS)");
    }
    free(bp);
    free(bn);
    for (int i = 0; i < nf; i++) free(data[i]);
    free(data);
    free(len);
    free(ps);
    free(pe);
    free(pf);
    return 0;
}
