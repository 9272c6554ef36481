/*
 * tables.c - a built-in vocabulary's tables, copied into transparent huge pages once the process
 * has counted enough text with them (internal; tkm_tables_for, encoding.h).
 *
 * Design notes. The lookups of a count land at random in the whole-piece table (fast[], 8 MiB for
 * o200k_base) and the merge's pair table (pairs[], 4 MiB): with 4 KiB pages that is 3000 pages,
 * more than the second-level TLB of many cores holds (AMD Zen 3: 2048 entries), so most of those
 * accesses also walk the page table. The built-in tables are const data in the library's file
 * mapping, which Linux backs with 4 KiB pages; a copy in anonymous memory marked MADV_HUGEPAGE
 * needs 9 TLB entries instead. Measured on an AMD EPYC Zen 3 VM (AVX2 kernel, o200k_base unless
 * said, one binary with TOKMETER_HUGE_TABLES=0 against =1, tkm_time -n 5, serial runs on one core
 * in alternating order, medians of the time ratios =1 / =0): 2 MB of each set (8 pairs of runs)
 * English 0.968, code 0.988, multilingual 0.980, chat 0.963; whole sets (6 pairs) English 0.984,
 * multilingual 0.983, code 0.968, cl100k_base English 0.953. Small but always the same way, on
 * a machine whose runs of one binary moved up to 30% within minutes.
 * The copy costs a few milliseconds once (all 16.4 MiB of o200k_base, memcpy and faulting in the
 * huge pages: about 4 ms here, once 28 ms while the kernel gathered the pages), which would
 * double the time of a short command-line count, so it is made only after
 * TKM_HOT_AFTER bytes counted through the vocabulary in calls of at least TKM_HOT_MIN_CALL bytes
 * (smaller calls would pay for the shared counter's cache line, and do not decide the matter),
 * by the call that crosses the line; calls already running, and those on other threads until
 * the copy is published, go on with the const tables. The copy is made once per process and
 * vocabulary and never freed (handles come and go; it is what a long-running gateway wants).
 * The tables' contents are the same bytes either way, so no count can change; test_vocab
 * compares every array of the copy with the original, and the parity runs per kernel run with
 * the copy made at the first count (tests/with_kernel.sh).
 * TOKMETER_HUGE_TABLES=0 never copies, =1 copies at the first count of any size; otherwise the
 * copy is made where the kernel offers transparent huge pages (always or madvise).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"

#define TKM_HOT_MIN_CALL ((size_t)4 << 10)
#define TKM_HOT_AFTER ((size_t)64 << 20)

struct tkm_hot {
    const tkm_ranks *base;
    _Atomic(const tkm_ranks *) copy; /* &own once it is complete; then never changes */
    atomic_size_t seen;              /* bytes counted in calls of TKM_HOT_MIN_CALL or more */
    atomic_int taken;                /* 1 once a call has started the copy (it is tried once) */
    tkm_ranks own;
};

static struct tkm_hot tkm_hots[] = {
    {&tkm_ranks_o200k_base, NULL, 0, 0, {0}},
    {&tkm_ranks_cl100k_base, NULL, 0, 0, {0}},
    {&tkm_ranks_p50k_base, NULL, 0, 0, {0}},
    {&tkm_ranks_r50k_base, NULL, 0, 0, {0}},
};

struct tkm_hot *tkm_hot_of(const tkm_ranks *base) {
    for (size_t i = 0; i < sizeof tkm_hots / sizeof tkm_hots[0]; i++)
        if (tkm_hots[i].base == base) return &tkm_hots[i];
    return NULL;
}

enum { TKM_HOT_UNSET = -1, TKM_HOT_NEVER = 0, TKM_HOT_FIRST = 1, TKM_HOT_AUTO = 2 };
static atomic_int tkm_hot_policy = TKM_HOT_UNSET;

/* Does the kernel offer transparent huge pages to MADV_HUGEPAGE? */
static int thp_offered(void) {
#if defined(__linux__)
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f) return 0;
    char buf[128];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, "[always]") != NULL || strstr(buf, "[madvise]") != NULL;
#else
    return 0;
#endif
}

static int hot_policy(void) {
    int p = atomic_load_explicit(&tkm_hot_policy, memory_order_relaxed);
    if (p != TKM_HOT_UNSET) return p;
    const char *s = getenv("TOKMETER_HUGE_TABLES");
    if (s && strcmp(s, "0") == 0)
        p = TKM_HOT_NEVER;
    else if (s && strcmp(s, "1") == 0)
        p = TKM_HOT_FIRST;
    else
        p = thp_offered() ? TKM_HOT_AUTO : TKM_HOT_NEVER;
    atomic_store_explicit(&tkm_hot_policy, p, memory_order_relaxed); /* racing threads agree */
    return p;
}

const tkm_ranks *tkm_tables_for(const tkm_encoding *e, size_t n) {
    struct tkm_hot *h = e->hot;
    const tkm_ranks *c = atomic_load_explicit(&h->copy, memory_order_acquire);
    if (c) return c;
    const int p = hot_policy();
    if (p == TKM_HOT_NEVER) return e->ranks;
    if (p == TKM_HOT_AUTO) {
        if (n < TKM_HOT_MIN_CALL) return e->ranks;
        /* past the line once copied or tried, so a wrap of the counter (32-bit size_t) is harmless */
        if (atomic_fetch_add_explicit(&h->seen, n, memory_order_relaxed) + n < TKM_HOT_AFTER) return e->ranks;
    }
    int expect = 0;
    if (!atomic_compare_exchange_strong_explicit(&h->taken, &expect, 1, memory_order_acq_rel, memory_order_relaxed))
        return e->ranks; /* another call is copying, or the copy failed: the const tables answer the same */
    if (tkm_ranks_copy(h->base, tkm_table_alloc, NULL, &h->own) != 0) return e->ranks;
    atomic_store_explicit(&h->copy, &h->own, memory_order_release);
    return &h->own;
}
