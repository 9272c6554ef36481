/*
 * count.c - the counting driver: split -> whole-piece lookup -> merge fallback -> sum.
 *
 * Design notes.
 * - Ill-formed UTF-8: the whole text is validated once (cheap, and strict mode needs it anyway);
 *   when it is well-formed - nearly always - pieces are looked up in place. Otherwise ill-formed
 *   parts are re-encoded with U+FFFD (EF BF BD) per maximal ill-formed subsequence into a scratch
 *   buffer, which makes the count equal to tiktoken's on data.decode("utf-8","replace"): a whole
 *   count repairs the text 64 KiB at a time between safe cuts and counts the copies on the fast
 *   path (run_ordinary); a limited count or an encode checks and repairs piece by piece
 *   (run_pieces).
 * - A one-byte piece is one token (every vocabulary holds all 256 bytes): no hashing.
 * - A piece found whole in the vocabulary is one token; only the rest go through BPE.
 * - Special tokens (allow / reject modes) are found first and split the text into segments, as
 *   tiktoken does; pieces never span a special token.
 * - Tried and not kept: deferring repaired pieces into the BPE batch too (copied into a 1 KiB
 *   side buffer, since the next repair overwrites them). On 1 MiB of random bytes, where
 *   bpe_small_ids of such pieces is a third of the profile, cachegrind counted 9% more
 *   instructions and 2% more mispredicted branches, and interleaved tkm_time and tkm_worst
 *   (`random`, `invalid_trunc`) runs showed no difference beyond the machine's noise.
 */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* madvise, posix_memalign */
#endif
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "cut.h"
#include "encoding.h"

/*
 * The default allocator. Working memory is O(longest piece) and freed at the end of each call, so
 * a call on a piece of megabytes gets fresh pages from the kernel every time: at 8 MiB of one
 * piece (over 200 MB of merge lists and heaps), faulting in and zeroing 4 KiB pages cost more
 * than the merge itself, and it grew faster than the piece, since glibc keeps freed blocks of up
 * to 32 MB for reuse but returns bigger ones (bench/tkm_worst: 1 MiB of one emoji 42 MB/s, 8 MiB
 * 28 MB/s). Blocks of TKM_HUGE_ALLOC or more are therefore 2 MiB-aligned and marked
 * MADV_HUGEPAGE (transparent huge pages, where the kernel offers them: a hint, never an error).
 */
#define TKM_HUGE_ALLOC ((size_t)32 << 20)
#define TKM_HUGE_PAGE ((size_t)2 << 20)

/* size bytes rounded up to whole 2 MiB pages, 2 MiB-aligned, marked MADV_HUGEPAGE; or malloc's
 * block where there is no such hint */
static void *huge_block(size_t size) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    void *p = NULL;
    size_t rounded = (size + TKM_HUGE_PAGE - 1) & ~(TKM_HUGE_PAGE - 1);
    if (rounded < size || posix_memalign(&p, TKM_HUGE_PAGE, rounded) != 0) return NULL;
    (void)madvise(p, rounded, MADV_HUGEPAGE);
    return p;
#else
    return malloc(size);
#endif
}

void *tkm_default_alloc(void *opaque, size_t size) {
    (void)opaque;
    return size >= TKM_HUGE_ALLOC ? huge_block(size) : malloc(size);
}
/* Vocabulary tables (api.c): looked up at random all over, so huge pages from 2 MiB on. */
void *tkm_table_alloc(void *opaque, size_t size) {
    (void)opaque;
    return size >= TKM_HUGE_PAGE ? huge_block(size) : malloc(size);
}
void tkm_default_free(void *opaque, void *p) {
    (void)opaque;
    free(p);
}

void tkm_work_init(tkm_work *w, const tkm_options *opt) {
    memset(w, 0, sizeof *w);
    /* An older caller's smaller struct ends before .allocator: what lies there is not ours to read. */
    const tkm_allocator *a =
        opt && opt->struct_size >= offsetof(tkm_options, allocator) + sizeof opt->allocator ? opt->allocator : NULL;
    if (a && a->alloc && a->free) {
        w->bpe.alloc = a->alloc;
        w->bpe.dealloc = a->free;
        w->bpe.opaque = a->opaque;
    } else {
        w->bpe.alloc = tkm_default_alloc;
        w->bpe.dealloc = tkm_default_free;
    }
}

static void drop(tkm_work *w, void **buf, size_t *cap) {
    if (*buf) w->bpe.dealloc(w->bpe.opaque, *buf);
    *buf = NULL;
    *cap = 0;
}

void tkm_work_trim(tkm_work *w, size_t keep) {
    if (w->bpe.cap > keep) tkm_bpe_work_release(&w->bpe);
    if (w->rep_cap > keep) drop(w, (void **)&w->rep, &w->rep_cap);
    if (w->tmp_cap > keep) drop(w, (void **)&w->tmp, &w->tmp_cap);
}

void tkm_work_release(tkm_work *w) {
    tkm_work_trim(w, 0);
    if (w->pcache_mem) w->bpe.dealloc(w->bpe.opaque, w->pcache_mem);
    w->pcache_mem = NULL;
    w->pcache = NULL;
    w->scache = NULL;
}

tkm_status tkm_object_open(const tkm_encoding *enc, const tkm_options *opt, size_t size, void **obj, uint32_t *flags,
                           tkm_work *w) {
    *obj = NULL;
    tkm_status st = tkm_check_handle(enc);
    if (st != TKM_OK || (st = tkm_check_options(opt, flags)) != TKM_OK) return st;
    tkm_work_init(w, opt);
    *obj = w->bpe.alloc(w->bpe.opaque, size); /* the caller's allocator serves the object too */
    if (!*obj) return TKM_ERR_NO_MEMORY;
    memset(*obj, 0, size);
    return TKM_OK;
}

void tkm_object_free(tkm_work *w, void *obj) {
    tkm_work_release(w);
    void (*dealloc)(void *, void *) = w->bpe.dealloc; /* w may lie inside obj */
    void *opaque = w->bpe.opaque;
    dealloc(opaque, obj);
}

static void *grow(tkm_work *w, void **buf, size_t *cap, size_t need) {
    if (*cap >= need) return *buf;
    size_t want = need < 256 ? 256 : need;
    if (*buf) w->bpe.dealloc(w->bpe.opaque, *buf);
    *buf = w->bpe.alloc(w->bpe.opaque, want);
    *cap = *buf ? want : 0;
    return *buf;
}

/* The well-formed sequences of Unicode's table 3-7, checked in place: a lead byte gives the
 * length and the range of the second byte (E0: A0..BF, ED: 80..9F, F0: 90..BF, F4: 80..8F, else
 * 80..BF); the others are 80..BF. Returns the start of the first sequence that is not one of them,
 * which is where tkm_utf8_decode first returns a U+FFFD that is not a literal EF BF BD (test_api
 * and test_misuse check the offsets of every ill-formed shape, the fuzz target against an
 * independent validator). Measured (cachegrind, tkm_time o200k over 2 MB of the multilingual
 * set): decoding each code point with tkm_utf8_decode here was 7.5% of all instructions, this
 * loop 5.4% (the whole count: 509M -> 499M). */
size_t tkm_utf8_first_invalid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        const uint8_t c = s[i];
        if (c < 0x80) {
            /* skip ASCII eight bytes at a time */
            while (i + 8 <= n) {
                uint64_t x;
                memcpy(&x, s + i, 8);
                if (x & 0x8080808080808080ull) break;
                i += 8;
            }
            while (i < n && s[i] < 0x80) i++;
            continue;
        }
        if (c < 0xC2 || c > 0xF4) return i;
        const size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (n - i < len) return i;
        const uint8_t lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
        const uint8_t hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        if (len >= 3 && (s[i + 2] & 0xC0) != 0x80) return i;
        if (len == 4 && (s[i + 3] & 0xC0) != 0x80) return i;
        i += len;
    }
    return n;
}

/* Re-encode piece p[0..n) with U+FFFD for each maximal ill-formed subsequence. NULL on OOM. */
static const uint8_t *repair(tkm_work *w, const uint8_t *p, size_t n, size_t *out_n) {
    uint8_t *r = (uint8_t *)grow(w, (void **)&w->rep, &w->rep_cap, 3 * n);
    if (!r) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t adv;
        uint32_t c = p[i] < 0x80 ? p[i] : tkm_utf8_decode(p, i, n, &adv);
        if (p[i] < 0x80) adv = 1;
        if (c == 0xFFFD) {
            r[o++] = 0xEF;
            r[o++] = 0xBF;
            r[o++] = 0xBD;
        } else {
            memcpy(r + o, p + i, adv);
            o += adv;
        }
        i += adv;
    }
    *out_n = o;
    return r;
}

/* Length of the repaired form of p[0..n) (see repair), computed without building it. */
static size_t repaired_len(const uint8_t *p, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t adv = 1;
        uint32_t c = p[i] < 0x80 ? p[i] : tkm_utf8_decode(p, i, n, &adv);
        o += c == 0xFFFD ? 3 : adv;
        i += adv;
    }
    return o;
}

/*
 * Piece cache (counting only). A piece that is not one token costs a BPE merge with ~2 lookups per
 * byte; natural text repeats such pieces (names, inflected words, every word of most non-English
 * scripts, which the vocabularies hold only in parts). A direct-mapped cache of 4096 entries
 * (128 KiB) maps a piece's bytes - compared in full, so a hit is exact - to its token count; pieces
 * of up to TKM_FAST_MAX bytes go to the small-piece cache instead (below), allocated with it.
 * It is allocated only after a call has seen TKM_PCACHE_AFTER bytes, so short requests pay
 * nothing; a stream keeps it across chunks. Measured on the corpus (o200k, best CPU time of 5
 * passes on the shared machine): multilingual -20%, code -18%, English within noise. Tried
 * entries of up to 62 bytes (64-byte entries): no further gain; the pieces it would add are long
 * CJK runs, whose merges are the remaining cost there (see README, Speed). Tried: every short
 * piece through the cache first, whole tokens included (to keep frequent pieces in L1/L2 instead
 * of the 8 MiB table): +12% instructions, +28% D1 misses and slower on English and code; only
 * pieces that need BPE are cached.
 * When counting whole texts the cache is read at the flush of each batch of deferred pieces,
 * all their slots hashed and prefetched first (flush_deferred); before, each piece was looked up
 * as it was deferred, one dependent miss at a time, and hashed again when its count was stored.
 * cachegrind (tkm_time, 2 MB of a set): English 157.9M -> 157.6M instructions, multilingual
 * 487.5M -> 483.8M, code 138.8M -> 137.6M; whole sets (tkm_time -n 3 o200k_base, best CPU time
 * of 6 interleaved rounds, two series): English -3.5% / -5.4%, chat -9% / -7%, code -8% / -1%,
 * multilingual -9% / +10% (the machine's noise is of that size). Tried: 32 pieces per flush,
 * the misses merged 16 at a time: +0.3-1.3% instructions, no gain beyond the noise.
 * A tkm_counter (counter.c) keeps the cache from call to call.
 * Tried on the Xeon (2 MiB L2 per core) and not kept: growing the cache to 16384 entries (512 KiB)
 * once the work has seen 256 KiB or 1 MiB. cachegrind with a 48 KiB D1 and a 2 MiB last level,
 * whole sets: English -4.6% instructions, -8.6% D1 misses, +4% last-level misses; multilingual
 * -2.4% / +8% last-level; code -1.2% / +5%. Interleaved wall-time series (tkm_time -n 3) moved
 * 5-13% either way from one series to the next, no gain beyond the noise.
 * Re-tried on AMD EPYC Zen 5 (1 MiB L2 per core): 16384 entries from the start. Same-time wall
 * ratios (new/old, tkm_time -n 3 o200k_base on whole sets, medians of 6-10 rounds):
 * - English 0.851, 0.962 and 0.943 in three series;
 * - multilingual 0.948;
 * - code 1.029;
 * - chat 1.122.
 * 32768 entries gave English 0.86, and 8192 gave 0.993. The results are mixed, and the allocation
 * and memset of a 512 KiB cache would weigh on calls just past TKM_PCACHE_AFTER. Not kept.
 */
#define TKM_PCACHE_BITS 12
#define TKM_PCACHE_MAX 30
#define TKM_PCACHE_AFTER ((size_t)16 << 10)
struct tkm_pcache_entry {
    uint8_t len; /* 0: empty */
    uint8_t count;
    uint8_t b[TKM_PCACHE_MAX];
};

/* The small-piece cache: pieces of 2..TKM_FAST_MAX bytes keyed by their fast-table key (vocab.h:
 * k0, k1 and the length identify the bytes exactly, from loads inside the piece), so a hit is two
 * compares of words instead of XXH3 and a memcmp of a variable length. An entry is 16 bytes: k0,
 * then k1 | count << 32 | length << 59 (an empty entry, all zeros, has length 0 and matches no
 * key). Four entries make a 64-byte line, one set, kept in order of use: a hit moves its entry to
 * the front, a new entry goes in front and the last one drops out (LRU). Simulated on the o200k
 * pieces that need a merge (the order in which a whole-set count meets them), the share found in
 * a cache: English 54.6% with the 4096-entry direct-mapped cache alone -> 64.3% with 8192 entries
 * in 4-way sets for pieces of <= 12 bytes (95% of them there) and the direct-mapped one for the
 * rest, 68.7% with 16384 entries; code 72.5 -> 76.3 -> 77.6%; multilingual 46.8 -> 51.8 -> 52.9%
 * (40% of its pieces are longer). Direct-mapped 8192 / 16384 entries instead of sets: English 60.7 /
 * 64.9%. Measured against the 4096-entry cache alone (AMD EPYC Zen 5):
 * - cachegrind, AVX2 kernel, tkm_time -n 1 o200k_base on the whole English set: 1200.5M -> 1146.6M
 *   instructions (-4.5%), 6.65M -> 6.41M mispredicted branches; code 664.3M -> 656.6M; 2 MB of
 *   the multilingual set 465.3M -> 455.1M;
 * - same-time wall ratios (new/old, tkm_time -n 3 o200k_base on whole sets, medians of 8): English
 *   0.953, code 0.912, chat 0.942, multilingual 0.997.
 * 16384 entries (256 KiB) against these 8192: English 0.992, code 1.035, chat 1.030; not kept. */
#define TKM_SCACHE_BITS 11 /* sets */
#define TKM_SCACHE_WAYS 4
#define TKM_SCACHE_COUNT ((uint64_t)0xFF << 32)
struct tkm_scache_entry {
    uint64_t k0, w;
};
struct tkm_scache_line {
    struct tkm_scache_entry e[TKM_SCACHE_WAYS];
};

static void pcache_alloc(tkm_work *w) {
    const size_t small = sizeof(struct tkm_scache_line) << TKM_SCACHE_BITS;
    const size_t big = sizeof(struct tkm_pcache_entry) << TKM_PCACHE_BITS;
    uint8_t *m = (uint8_t *)w->bpe.alloc(w->bpe.opaque, small + big + 64);
    if (!m) return; /* optional: without it, go on uncached */
    w->pcache_mem = m;
    uint8_t *a = m + (64 - (uintptr_t)m % 64) % 64; /* the sets on cache lines */
    memset(a, 0, small + big);
    w->scache = (struct tkm_scache_line *)(void *)a;
    w->pcache = (struct tkm_pcache_entry *)(void *)(a + small);
}

static struct tkm_pcache_entry *pcache_get(tkm_work *w) {
    if (!w->pcache && !w->pcache_tried && w->seen >= TKM_PCACHE_AFTER) {
        w->pcache_tried = 1;
        pcache_alloc(w);
    }
    return w->pcache;
}

/* Pieces the small cache holds (a byte is one token and never looked for). */
static inline int scache_holds(size_t len) { return len - 2u < TKM_FAST_MAX - 1u; }

/* The set and the wanted word of p[0..len) (scache_holds(len)). */
static inline uint32_t scache_key(const uint8_t *p, size_t len, uint64_t *k0, uint64_t *want) {
    uint64_t k1;
    tkm_fast_key(p, len, k0, &k1);
    *want = k1 | (uint64_t)len << 59;
    return (uint32_t)(tkm_fast_hash(*k0, k1, len) >> (64 - TKM_SCACHE_BITS));
}

/* The way of set l that holds key (k0, want), or TKM_SCACHE_WAYS. */
static inline unsigned scache_way(const struct tkm_scache_line *l, uint64_t k0, uint64_t want) {
    unsigned i = 0;
    while (i < TKM_SCACHE_WAYS && !(l->e[i].k0 == k0 && (l->e[i].w & ~TKM_SCACHE_COUNT) == want)) i++;
    return i;
}

/* The count set l holds for the key, its entry moved to the front; SIZE_MAX if it holds none. */
static inline size_t scache_hit(struct tkm_scache_line *l, uint64_t k0, uint64_t want) {
    const unsigned i = scache_way(l, k0, want);
    if (i == TKM_SCACHE_WAYS) return SIZE_MAX;
    const struct tkm_scache_entry e = l->e[i];
    memmove(&l->e[1], &l->e[0], i * sizeof e);
    l->e[0] = e;
    return (size_t)(e.w >> 32 & 0xFF);
}

/* Put the key's count m (<= TKM_FAST_MAX) in front of set l, unless it is there already (two
 * copies of a piece in one batch are both merged). */
static inline void scache_store(struct tkm_scache_line *l, uint64_t k0, uint64_t want, size_t m) {
    if (scache_way(l, k0, want) != TKM_SCACHE_WAYS) return;
    memmove(&l->e[1], &l->e[0], (TKM_SCACHE_WAYS - 1) * sizeof l->e[0]);
    l->e[0].k0 = k0;
    l->e[0].w = want | (uint64_t)m << 32;
}

/* The entry of p[0..len), len <= TKM_PCACHE_MAX. */
static inline uint32_t pcache_index(const uint8_t *p, size_t len) {
    return (uint32_t)(tkm_vocab_hash(p, len) >> (64 - TKM_PCACHE_BITS));
}

/* The count entry c holds for p[0..len), or SIZE_MAX if it holds another piece. */
static inline size_t pcache_hit(const struct tkm_pcache_entry *c, const uint8_t *p, size_t len) {
    return c->len == len && memcmp(c->b, p, len) == 0 ? c->count : SIZE_MAX;
}

static inline void pcache_store(struct tkm_pcache_entry *c, const uint8_t *p, size_t len, size_t m) {
    c->len = (uint8_t)len;
    c->count = (uint8_t)m; /* m <= len <= TKM_PCACHE_MAX */
    memcpy(c->b, p, len);
}

/* Where p[0..len) lives in the caches: a set of the small-piece cache (scache_holds(len); its key
 * in *k0, *want), an entry of the other (*k0 = *want = 0), or UINT32_MAX: too long for either. */
static inline uint32_t cache_slot(const uint8_t *p, size_t len, uint64_t *k0, uint64_t *want) {
    if (scache_holds(len)) return scache_key(p, len, k0, want);
    *k0 = *want = 0;
    return len <= TKM_PCACHE_MAX ? pcache_index(p, len) : UINT32_MAX;
}

/* The count cached at slot (from cache_slot) for p[0..len), or SIZE_MAX (w->pcache != NULL). */
static inline size_t cache_hit(tkm_work *w, uint32_t slot, const uint8_t *p, size_t len, uint64_t k0, uint64_t want) {
    if (scache_holds(len)) return scache_hit(&w->scache[slot], k0, want);
    return slot != UINT32_MAX ? pcache_hit(&w->pcache[slot], p, len) : SIZE_MAX;
}

/* Cache count m of p[0..len) at slot (from cache_slot; w->pcache != NULL). */
static inline void cache_store(tkm_work *w, uint32_t slot, const uint8_t *p, size_t len, uint64_t k0, uint64_t want,
                               size_t m) {
    if (scache_holds(len))
        scache_store(&w->scache[slot], k0, want, m);
    else if (slot != UINT32_MAX)
        pcache_store(&w->pcache[slot], p, len, m);
}

static void pcache_put(tkm_work *w, const uint8_t *p, size_t len, size_t m) {
    if (!w->pcache) return;
    uint64_t k0, want;
    const uint32_t slot = cache_slot(p, len, &k0, &want);
    cache_store(w, slot, p, len, k0, want, m);
}

/* Cached count of p[0..len), or SIZE_MAX if not cached. */
static size_t pcache_find(tkm_work *w, const uint8_t *p, size_t len) {
    if (len > TKM_PCACHE_MAX || !pcache_get(w)) return SIZE_MAX;
    uint64_t k0, want;
    const uint32_t slot = cache_slot(p, len, &k0, &want);
    return cache_hit(w, slot, p, len, k0, want);
}

static size_t bpe_count_cached(const uint8_t *p, size_t len, tkm_work *w) {
    size_t m = pcache_find(w, p, len);
    if (m != SIZE_MAX) return m;
    m = tkm_bpe_count(w->v, p, len, &w->bpe);
    if (m != TKM_BPE_NOMEM) pcache_put(w, p, len, m);
    return m;
}

/* Count the deferred pieces (see tkm_work.defer): those in the piece cache from it, the rest merged
 * together (tkm_bpe_count_batch) and then cached. The cache slots of all of them are computed and
 * their lines prefetched before the first is read, so the cache's misses overlap (see the notes
 * at TKM_SPLIT_BATCH) instead of each stalling the piece that meets it. */
static void flush_deferred(const tkm_encoding *e, tkm_work *w, tkm_sink *k) {
    const uint32_t nd = w->n_deferred;
    if (!nd) return;
    w->n_deferred = 0;
    struct tkm_pcache_entry *pc = pcache_get(w);
    struct tkm_scache_line *sc = w->scache;
    const uint8_t *ps[TKM_BPE_BATCH];
    uint8_t ns[TKM_BPE_BATCH];
    uint32_t slot[TKM_BPE_BATCH], c[TKM_BPE_BATCH], nm = 0;
    uint64_t sk0[TKM_BPE_BATCH], swant[TKM_BPE_BATCH]; /* small pieces: their keys */
    if (pc) {
        for (uint32_t q = 0; q < nd; q++) { /* every slot first, its line prefetched */
            const size_t len = w->deferred_len[q];
            slot[q] = cache_slot(w->deferred[q], len, &sk0[q], &swant[q]);
            if (scache_holds(len))
                __builtin_prefetch(&sc[slot[q]]);
            else if (slot[q] != UINT32_MAX)
                __builtin_prefetch(&pc[slot[q]]);
        }
        for (uint32_t q = 0; q < nd; q++) {
            const uint8_t *p = w->deferred[q];
            const size_t len = w->deferred_len[q];
            const size_t hit = cache_hit(w, slot[q], p, len, sk0[q], swant[q]);
            if (hit != SIZE_MAX) {
                k->n += hit;
                continue;
            }
            ps[nm] = p;
            ns[nm] = (uint8_t)len;
            sk0[nm] = sk0[q];
            swant[nm] = swant[q];
            slot[nm++] = slot[q]; /* nm <= q: the slots and keys still to be read lie above */
        }
    } else {
        for (uint32_t q = 0; q < nd; q++) {
            ps[q] = w->deferred[q];
            ns[q] = w->deferred_len[q];
        }
        nm = nd;
    }
    if (!nm) return;
    e->bpe_batch(w->v, ps, ns, nm, c);
    for (uint32_t q = 0; q < nm; q++) {
        k->n += c[q];
        if (pc) cache_store(w, slot[q], ps[q], ns[q], sk0[q], swant[q], c[q]);
    }
}

static void defer_piece(const tkm_encoding *e, const uint8_t *p, size_t len, tkm_work *w, tkm_sink *k) {
    w->deferred[w->n_deferred] = p;
    w->deferred_len[w->n_deferred] = (uint8_t)len;
    if (++w->n_deferred == TKM_BPE_BATCH) flush_deferred(e, w, k);
}

/* A piece that is not one token: BPE. Out of line, so that emit_piece's common case (one token)
 * inlines into the loop without this function's register pressure and stack frame. `stable`: p
 * stays where it is until the next flush, so it may be merged later - true of the caller's text
 * and of a part that run_ordinary repaired as a whole (run_count flushes before it returns), not of
 * the one piece run_pieces repairs into the same buffer, which the next repair overwrites. */
static __attribute__((noinline)) tkm_status emit_merged(const tkm_encoding *e, const uint8_t *p, size_t len,
                                                        tkm_work *w, tkm_sink *k, int stable) {
    if (len >= 0x7FFFFFFFu) return TKM_ERR_UNSUPPORTED; /* one pre-token of 2 GiB or more */
    size_t m;
    if (!k->ids) {
        if (w->defer && stable && len <= TKM_BPE_BATCH_MAX) { /* the piece cache is read at the flush */
            defer_piece(e, p, len, w, k);
            return TKM_OK;
        }
        if (w->defer && stable) { /* long: its segments between BPE cuts (vocab.h), short ones batched */
            for (size_t a = 0, i; a < len; a = i) {
                i = tkm_bpe_segment_end(w->v, p, a, len);
                size_t sl = i - a;
                if (sl == 1) {
                    k->n++;
                } else if (sl <= TKM_BPE_BATCH_MAX) {
                    defer_piece(e, p + a, sl, w, k);
                } else {
                    m = tkm_bpe_count_segment(w->v, p + a, sl, &w->bpe); /* no second cut scan */
                    if (m == TKM_BPE_NOMEM) return TKM_ERR_NO_MEMORY;
                    k->n += m;
                }
            }
            return TKM_OK;
        }
        m = bpe_count_cached(p, len, w);
    } else if (k->cap - (k->n < k->cap ? k->n : k->cap) >= len) {
        m = tkm_bpe_encode(w->v, p, len, k->ids + k->n, &w->bpe);
    } else {
        uint32_t *t = (uint32_t *)grow(w, (void **)&w->tmp, &w->tmp_cap, len * sizeof(uint32_t));
        if (!t) return TKM_ERR_NO_MEMORY;
        m = tkm_bpe_encode(w->v, p, len, t, &w->bpe);
        if (m != TKM_BPE_NOMEM)
            for (size_t i = 0; i < m && k->n + i < k->cap; i++) k->ids[k->n + i] = t[i];
    }
    if (m == TKM_BPE_NOMEM) return TKM_ERR_NO_MEMORY;
    k->n += m;
    return TKM_OK;
}

static inline tkm_status emit_piece(const tkm_encoding *e, const uint8_t *p, size_t len, tkm_work *w, tkm_sink *k,
                                    int stable) {
    uint32_t r;
    if (len == 1)
        r = e->byte_rank[p[0]];
    else
        r = tkm_ranks_find(w->v, p, len);
    if (r != TKM_RANK_NONE) {
        if (k->n < k->cap) k->ids[k->n] = r;
        k->n++;
        return TKM_OK;
    }
    return emit_merged(e, p, len, w, k, stable);
}

static int has_high_byte(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 0x80) return 1;
    return 0;
}

/* Pieces per split call: enough to amortise the call, small enough that a limited count scans
 * only a little past its stop. Tried: a pass over each batch that prefetches the fast-table slot
 * of every piece before the lookups (to overlap their cache misses); measured no gain (the core
 * already overlaps independent lookups), so it was removed. What helped was the lookup table
 * itself (kernel/vocab.h: one cache line per lookup instead of three). Re-measured after the
 * whole-window split made the split cheap (a prefetch pass in run_count over each batch of ends):
 * best of 8-10 interleaved tkm_time passes moved both ways within the noise (English 0.140 vs
 * 0.161 s, then 0.148 vs 0.145 s; code 0.069 vs 0.061 s, then 0.072 vs 0.075 s); not kept.
 * Also measured and not kept: the piece cache at 16K or 64K entries (cachegrind, jane-eyre.txt
 * and 2 MB of the multilingual set: hits 51 -> 62 -> 68% and 43 -> 48 -> 51%, instructions
 * -3.7% / -2.7% at 16K, last-level misses +3-4%, more at 64K).
 * Kept (run_count): the fast-table key and slot of every piece of 3..12 bytes computed in a first
 * pass over the batch, the slot's line prefetched, and the lookups made from the kept keys - the
 * pass costs the stores, not a second hashing as in the prefetch pass above (cachegrind: 2 MB of
 * English 144.2M -> 159.5M instructions, +10%). It pays where the lines are not in cache, as in a
 * gateway's stream of distinct requests: bench/tkm_bench requests/o200k_base, best of 4
 * interleaved runs, time per MiB of requests: english 100 B / 1 KB / 4 KB 21.2 / 13.8 / 13.5 ->
 * 18.1 / 11.6 / 11.9 ms, chat 16.0 / 10.4 / 10.9 -> 13.0 / 8.5 / 9.7 ms; whole sets (tkm_time -n 3,
 * best CPU time of 8 interleaved rounds): English 0.136 -> 0.126 s, chat 0.028 -> 0.026 s, code
 * and multilingual within the noise (two series: +5% / +10%, then -1% / +2.5%); one repeated 1 KB
 * request (latency/, all in cache) within the noise.
 * Tried and not kept: every piece of up to 12 bytes keyed and probed (1- and 2-byte pieces too),
 * the key built without a branch on the length class from a 16-byte window and selects, to spare
 * the two mispredicted length tests per piece (cachegrind --branch-sim, 2 MB: mispredicts -17% on
 * English, -29% on code; instructions +17% / +25%, 157.6M -> 184.4M on English). */
#define TKM_SPLIT_BATCH 64

/* Pieces whose fast-table key run_count computes in its first pass: 3..TKM_FAST_MAX bytes (a byte
 * is one token, two bytes are looked up in pair2, longer pieces in the slow table). */
static inline int keyed_first(size_t len) { return len - 3u < TKM_FAST_MAX - 2u; }

/* run_ordinary's common case, the whole of a well-formed text counted (w->defer): every piece
 * points into the text, no ids are written, there is no limit to check. A piece of one byte or
 * found whole is one token; the rest go to emit_merged. The same sums as the general loop, with
 * none of its per-piece checks (cachegrind, jane-eyre.txt o200k: see the commit). */
static tkm_status run_count_scalar(const tkm_encoding *e, const uint8_t *s, size_t n, tkm_work *w, tkm_sink *k) {
    const tkm_split_fn split = e->split;
    const tkm_ranks *v = w->v;
    size_t pos = 0, ends[TKM_SPLIT_BATCH];
    uint64_t fk0[TKM_SPLIT_BATCH], fwant[TKM_SPLIT_BATCH];
    uint32_t fslot[TKM_SPLIT_BATCH];
    while (pos < n) {
        const size_t m = split(s, pos, n, ends, TKM_SPLIT_BATCH);
        size_t c = 0;
        if (v->fast) { /* keys and slots of the fast-table pieces first, their lines prefetched */
            size_t b = pos;
            for (size_t j = 0; j < m; j++) {
                const size_t len = ends[j] - b;
                if (keyed_first(len)) {
                    uint64_t k0, k1;
                    tkm_fast_key(s + b, len, &k0, &k1);
                    fk0[j] = k0;
                    fwant[j] = k1 | (uint64_t)len << 59;
                    fslot[j] = (uint32_t)tkm_fast_slot(v, k0, k1, len);
                    __builtin_prefetch(v->fast + 2 * (size_t)fslot[j]);
                }
                b = ends[j];
            }
        }
        for (size_t j = 0; j < m; j++) {
            const uint8_t *p = s + pos;
            const size_t len = ends[j] - pos;
            pos = ends[j];
            /* one byte: one token; keyed in the first pass: probe (the length test first: with
             * v->fast first, 2 MB of English took 1.5% more instructions) */
            uint32_t r = 0;
            if (keyed_first(len) && v->fast)
                r = tkm_fast_probe(v, fk0[j], fwant[j], fslot[j]);
            else if (len > 1)
                r = tkm_ranks_find(v, p, len);
            if (r != TKM_RANK_NONE) {
                c++;
                continue;
            }
            k->n += c;
            c = 0;
            tkm_status st = emit_merged(e, p, len, w, k, 1);
            if (st != TKM_OK) return st;
        }
        k->n += c;
    }
    flush_deferred(e, w, k);
    return TKM_OK;
}

/* run_count with the kernel's lookup of a batch (e->lookup, kernel/pretok.h; arch/x86/
 * lookup_avx512.h has the measurements): the kernel counts the pieces it proves to be one token
 * each; the rest are looked up here - except those it proved not to be a token - and merged. */
static tkm_status run_count_kernel(const tkm_encoding *e, const uint8_t *s, size_t n, tkm_work *w, tkm_sink *k) {
    const tkm_ranks *v = w->v;
    const tkm_split_fn split = e->split;
    const tkm_lookup_fn lookup = e->lookup;
    size_t pos = 0, ed[TKM_SPLIT_BATCH + 1]; /* ed[0]: start of the batch; ed[1..m]: piece ends */
    uint32_t sidx[TKM_SPLIT_BATCH]; /* XXH3-table slots of the long pieces (`slow`) */
    while (pos < n) {
        ed[0] = pos;
        const size_t m = split(s, pos, n, ed + 1, TKM_SPLIT_BATCH);
        size_t found;
        uint64_t absent;
        uint64_t todo = lookup(v, s, n, ed, m, &found, &absent);
        k->n += found;
        /* The pieces longer than the fast table's keys (kernel/vocab.h), which the kernel leaves
         * here: their slots in the XXH3 table hashed and prefetched first, then the offsets of the
         * ranks in those slots, so that their misses overlap; looked up one by one, the slot's
         * miss was 45% of this loop's samples on the multilingual set (perf, Zen 5), where such
         * pieces - Cyrillic words, say - are common, and the offsets' miss the next 34%. */
        uint64_t slow = 0;
        for (uint64_t t = todo & ~absent; t; t &= t - 1) {
            const unsigned j = (unsigned)__builtin_ctzll(t);
            const size_t len = ed[j + 1] - ed[j];
            if (len > TKM_FAST_MAX && len <= v->max_len) {
                sidx[j] = (uint32_t)tkm_vocab_hash(s + ed[j], len) & v->mask;
                __builtin_prefetch(v->slots + sidx[j]);
                slow |= (uint64_t)1 << j;
            }
        }
        for (uint64_t t = slow; t; t &= t - 1) { /* then the offsets of the ranks found there */
            const uint32_t r = v->slots[sidx[__builtin_ctzll(t)]];
            if (r != TKM_RANK_NONE) __builtin_prefetch(v->offsets + r);
        }
        for (; todo; todo &= todo - 1) {
            const unsigned j = (unsigned)__builtin_ctzll(todo);
            const uint8_t *p = s + ed[j];
            const size_t len = ed[j + 1] - ed[j];
            const uint32_t r = (slow >> j) & 1u ? tkm_ranks_find_slow_at(v, p, len, sidx[j])
                               : (absent >> j) & 1u ? TKM_RANK_NONE
                               : len == 1           ? 0u /* every byte is a token */
                                                    : tkm_ranks_find(v, p, len);
            if (r != TKM_RANK_NONE) {
                k->n++;
                continue;
            }
            tkm_status st = emit_merged(e, p, len, w, k, 1);
            if (st != TKM_OK) return st;
        }
        pos = ed[m];
    }
    flush_deferred(e, w, k);
    return TKM_OK;
}

static tkm_status run_count(const tkm_encoding *e, const uint8_t *s, size_t n, tkm_work *w, tkm_sink *k) {
    return e->lookup && w->v->fast ? run_count_kernel(e, s, n, w, k) : run_count_scalar(e, s, n, w, k);
}

/* The general loop: any mode (ids, a limit), any text; pieces of ill-formed text are repaired one
 * by one as they are met. */
static tkm_status run_pieces(const tkm_encoding *e, const uint8_t *s, size_t n, int valid, int strict,
                             tkm_work *w, tkm_sink *k, size_t *err_off) {
    const tkm_split_fn split = e->split;
    size_t pos = 0, ends[TKM_SPLIT_BATCH], m = 0, j = 0;
    while (pos < n) {
        if (j == m) {
            m = split(s, pos, n, ends, TKM_SPLIT_BATCH);
            j = 0;
        }
        size_t end = ends[j++];
        const uint8_t *p = s + pos;
        size_t len = end - pos, bad;
        int stable = 1;
        if (!valid && has_high_byte(p, len) && (bad = tkm_utf8_first_invalid(p, len)) < len) {
            if (strict) {
                *err_off = (size_t)(p - k->origin) + bad;
                return TKM_ERR_INVALID_UTF8;
            }
            /* a repaired piece over the limit is refused before its copy (3 bytes per input byte)
             * is allocated: working memory stays O(longest piece that can be counted) */
            if (len > 0x7FFFFFFFu / 3 && repaired_len(p, len) >= 0x7FFFFFFFu) return TKM_ERR_UNSUPPORTED;
            p = repair(w, p, len, &len);
            if (!p) return TKM_ERR_NO_MEMORY;
            stable = 0;
        }
        size_t before = k->n;
        tkm_status st = emit_piece(e, p, len, w, k, stable);
        if (st != TKM_OK) return st;
        if (k->n > k->limit) {
            k->last_start = (size_t)(s + pos - k->origin);
            k->last_n = k->n - before;
            k->last_special = 0;
            k->stop = (size_t)(s + end - k->origin);
            return TKM_ERR_LIMIT_EXCEEDED;
        }
        pos = end;
    }
    flush_deferred(e, w, k);
    return TKM_OK;
}

/*
 * Ill-formed text counted whole (w->defer, replacement mode) - random bytes, but also a long text
 * with one stray byte or a request cut inside its last character. It used to take the general
 * loop throughout (run_pieces: each piece checked, repaired and looked up on its own, BPE one
 * piece at a time), so one bad byte anywhere cost the whole text 21% more instructions (2 MB of
 * English with 0xFF appended) and random bytes spent a third of their time in one-by-one merges.
 * Now the text is taken TKM_REPAIR_CHUNK bytes at a time, each part ending at a safe cut (cut.c,
 * the rule the stream and the threads use: counting the parts apart gives the whole's count, and
 * no UTF-8 sequence or ill-formed subsequence spans a cut, so repairing the parts apart gives the
 * repaired whole). A part with no ill-formed byte is counted in place by run_count; another is
 * repaired first (into w->rep, up to 3 bytes per byte) and the repaired copy - well-formed, which
 * is what tiktoken counts: data.decode("utf-8", "replace") - goes to run_count. A stretch of more
 * than a chunk without a safe cut takes the general loop up to the next cut, so the copy stays
 * bounded by 3 * TKM_REPAIR_CHUNK. Measured: see the commit and README, Speed.
 */
#ifndef TKM_REPAIR_CHUNK /* the fuzz build with tiny windows sets a tiny one (tests/fuzz/README.md) */
#define TKM_REPAIR_CHUNK ((size_t)64 << 10)
#endif

/* s[0..n) counted in its mode. No ill-formed byte lies before s + ok_below (0: not known; a
 * whole text is validated first, a limited count piece by piece as it goes). */
static tkm_status run_ordinary(const tkm_encoding *e, const uint8_t *s, size_t n, size_t ok_below, int strict,
                               int level, tkm_work *w, tkm_sink *k, size_t *err_off) {
    const int valid = ok_below >= n;
    if (valid && w->defer) return run_count(e, s, n, w, k);
    if (!w->defer || strict || level == TKM_CUT_NONE) return run_pieces(e, s, n, valid, strict, w, k, err_off);
    size_t pos = 0;
    while (pos < n) {
        size_t end = n;
        if (n - pos > TKM_REPAIR_CHUNK) {
            end = tkm_cut_last(s, pos + 2, pos + TKM_REPAIR_CHUNK, n, level);
            if (!end) { /* no cut in a chunk's length: piece by piece up to the next one */
                end = tkm_cut_first(s, pos + TKM_REPAIR_CHUNK, n, n, level);
                if (!end) end = n;
                tkm_status st = run_pieces(e, s + pos, end - pos, 0, 0, w, k, err_off);
                if (st != TKM_OK) return st;
                pos = end;
                continue;
            }
        }
        const uint8_t *t = s + pos;
        size_t tn = end - pos;
        if (end > ok_below && tkm_utf8_first_invalid(t, tn) < tn && !(t = repair(w, t, tn, &tn)))
            return TKM_ERR_NO_MEMORY;
        tkm_status st = run_count(e, t, tn, w, k);
        if (st != TKM_OK) return st;
        pos = end;
    }
    return TKM_OK;
}

/* Leftmost special token at or after `from`; the longest one if several start there. */
static int find_special(const tkm_encoding *e, const uint8_t *s, size_t from, size_t n, size_t *at,
                        const tkm_special **which) {
    for (size_t i = from; i < n; i++) {
        uint8_t b = s[i];
        if (!(e->special_first[b >> 3] & (1u << (b & 7)))) continue;
        const tkm_special *best = NULL;
        for (uint32_t j = 0; j < e->n_specials; j++) {
            const tkm_special *sp = &e->specials[j];
            if (sp->len <= n - i && (!best || sp->len > best->len) && memcmp(sp->text, s + i, sp->len) == 0)
                best = sp;
        }
        if (best) {
            *at = i;
            *which = best;
            return 1;
        }
    }
    return 0;
}

tkm_status tkm_run(const tkm_encoding *e, const uint8_t *s, size_t n, uint32_t flags, tkm_work *w, tkm_sink *k,
                   size_t *err_off) {
    w->seen += n;
    w->v = e->hot ? tkm_tables_for(e, n) : e->ranks;
    w->defer = !k->ids && k->limit == SIZE_MAX && w->v->pairs != NULL;
    w->n_deferred = 0;
    const int strict = (flags & TKM_UTF8_STRICT) != 0;
    size_t bad = 0; /* no ill-formed byte before s + bad */
    if (k->limit == SIZE_MAX) { /* whole text: validate once, then skip per-piece checks */
        size_t at;
        bad = e->validate(s, n);
        const tkm_special *sp;
        if (bad < n && strict) {
            /* the earliest problem in the text wins, as when the text is scanned in order */
            if ((flags & TKM_SPECIAL_REJECT) && find_special(e, s, 0, n, &at, &sp) && at < bad) {
                *err_off = (size_t)(s - k->origin) + at;
                return TKM_ERR_SPECIAL_TOKEN;
            }
            *err_off = (size_t)(s - k->origin) + bad;
            return TKM_ERR_INVALID_UTF8;
        }
    }
    if (!(flags & (TKM_SPECIAL_ALLOW | TKM_SPECIAL_REJECT)) || e->n_specials == 0)
        return run_ordinary(e, s, n, bad, strict, TKM_CUT_ALL, w, k, err_off);

    size_t pos = 0, at;
    const tkm_special *sp;
    const int level = tkm_cut_allowed(e, flags);
    while (pos < n && find_special(e, s, pos, n, &at, &sp)) {
        tkm_status st = run_ordinary(e, s + pos, at - pos, bad > pos ? bad - pos : 0, strict, level, w, k, err_off);
        if (st != TKM_OK) return st;
        if (flags & TKM_SPECIAL_REJECT) {
            *err_off = (size_t)(s + at - k->origin);
            return TKM_ERR_SPECIAL_TOKEN;
        }
        if (k->n < k->cap) k->ids[k->n] = sp->id;
        k->n++;
        pos = at + sp->len;
        if (k->n > k->limit) {
            k->last_start = (size_t)(s + at - k->origin);
            k->last_n = 1;
            k->last_special = 1;
            k->stop = (size_t)(s + pos - k->origin);
            return TKM_ERR_LIMIT_EXCEEDED;
        }
    }
    return run_ordinary(e, s + pos, n - pos, bad > pos ? bad - pos : 0, strict, level, w, k, err_off);
}

tkm_status tkm_check_handle(const tkm_encoding *e) {
    if (!e) return TKM_ERR_INVALID_ARGUMENT;
    if (e->magic != TKM_MAGIC_OPEN) return TKM_ERR_INVALID_HANDLE;
    return TKM_OK;
}

tkm_status tkm_check_options(const tkm_options *opt, uint32_t *flags) {
    *flags = 0;
    if (!opt) return TKM_OK;
    if (opt->struct_size < sizeof(size_t) + sizeof(uint32_t)) return TKM_ERR_INVALID_ARGUMENT;
    uint32_t f = opt->flags;
    if (f & ~(uint32_t)(TKM_UTF8_STRICT | TKM_SPECIAL_ALLOW | TKM_SPECIAL_REJECT)) return TKM_ERR_INVALID_ARGUMENT;
    if ((f & TKM_SPECIAL_ALLOW) && (f & TKM_SPECIAL_REJECT)) return TKM_ERR_INVALID_ARGUMENT;
    *flags = f;
    return TKM_OK;
}

tkm_status tkm_check_count_args(const tkm_encoding *enc, const void *text, size_t len, const tkm_options *opt,
                                tkm_result *result, uint32_t *flags) {
    tkm_status st = tkm_check_handle(enc);
    if (st != TKM_OK) return st;
    if (!result || result->struct_size < sizeof(tkm_result)) return TKM_ERR_INVALID_ARGUMENT;
    if (!text && len) return TKM_ERR_INVALID_ARGUMENT;
    if ((st = tkm_check_options(opt, flags)) != TKM_OK) return st;
    result->tokens = 0;
    result->bytes = 0;
    result->error_offset = 0;
    return TKM_OK;
}

tkm_status tkm_count_with(const tkm_encoding *enc, tkm_work *w, const void *text, size_t len, size_t limit,
                          uint32_t flags, tkm_result *result, tkm_sink *sink_out) {
    tkm_sink k = TKM_SINK_INIT(NULL, 0, text);
    k.limit = limit;
    size_t off = 0;
    tkm_status st = tkm_run(enc, (const uint8_t *)text, len, flags, w, &k, &off);
    if (sink_out) *sink_out = k;
    if (st == TKM_OK) {
        result->tokens = k.n;
        result->bytes = len;
    } else if (st == TKM_ERR_LIMIT_EXCEEDED) {
        result->tokens = k.n;
        result->bytes = k.stop;
    } else {
        result->error_offset = off;
    }
    return st;
}

static tkm_status count_impl(const tkm_encoding *enc, const void *text, size_t len, size_t limit,
                             const tkm_options *opt, tkm_result *result, tkm_sink *sink_out) {
    uint32_t flags;
    tkm_status st = tkm_check_count_args(enc, text, len, opt, result, &flags);
    if (st != TKM_OK || len == 0) return st;
    tkm_work w;
    tkm_work_init(&w, opt);
    st = tkm_count_with(enc, &w, text, len, limit, flags, result, sink_out);
    tkm_work_release(&w);
    return st;
}

TKM_API tkm_status tkm_count_ex(const tkm_encoding *enc, const void *text, size_t len, const tkm_options *opt,
                                tkm_result *result) {
    return count_impl(enc, text, len, SIZE_MAX, opt, result, NULL);
}

TKM_API tkm_status tkm_count_limit(const tkm_encoding *enc, const void *text, size_t len, size_t limit,
                                   const tkm_options *opt, tkm_result *result) {
    if (limit == SIZE_MAX) limit = SIZE_MAX - 1; /* SIZE_MAX is the internal "no limit" */
    return count_impl(enc, text, len, limit, opt, result, NULL);
}

/* Original-text length of the first `rep_off` bytes of the repaired form of p[0..n), or SIZE_MAX if
 * that offset falls strictly inside a U+FFFD that replaced ill-formed input. */
static size_t unrepair_offset(const uint8_t *p, size_t n, size_t rep_off) {
    size_t i = 0, r = 0;
    while (i < n && r < rep_off) {
        size_t adv;
        uint32_t c = p[i] < 0x80 ? p[i] : tkm_utf8_decode(p, i, n, &adv);
        if (p[i] < 0x80) adv = 1;
        int replaced = c == 0xFFFD && !(adv == 3 && p[i] == 0xEF);
        size_t rlen = replaced ? 3 : adv;
        if (replaced && rep_off < r + rlen) return SIZE_MAX;
        if (!replaced && rep_off < r + rlen) return i + (rep_off - r);
        r += rlen;
        i += adv;
    }
    return i;
}

TKM_API tkm_status tkm_truncate(const tkm_encoding *enc, const void *text, size_t len, size_t max_tokens,
                                const tkm_options *opt, tkm_result *result) {
    if (max_tokens == SIZE_MAX) max_tokens = SIZE_MAX - 1;
    tkm_sink k;
    tkm_status st = count_impl(enc, text, len, max_tokens, opt, result, &k);
    if (st != TKM_ERR_LIMIT_EXCEEDED) return st; /* fits whole (or an error) */
    /* The piece [last_start, stop) crossed the budget: keep `need` of its tokens. */
    size_t before = k.n - k.last_n, need = max_tokens - before;
    result->tokens = before;
    result->bytes = k.last_start;
    if (need == 0 || k.last_special) return TKM_OK;
    const uint8_t *p = (const uint8_t *)text + k.last_start;
    size_t n = k.stop - k.last_start;
    tkm_work w;
    tkm_work_init(&w, opt);
    w.v = enc->ranks; /* emit_piece without tkm_run */
    const uint8_t *q = p;
    size_t qn = n;
    int repaired = tkm_utf8_first_invalid(p, n) < n;
    uint32_t *ids = (uint32_t *)grow(&w, (void **)&w.tmp, &w.tmp_cap, 3 * n * sizeof(uint32_t));
    if (repaired && ids) q = repair(&w, p, n, &qn);
    st = TKM_ERR_NO_MEMORY;
    if (ids && q) {
        tkm_sink piece = TKM_SINK_INIT(ids, 3 * n, q);
        st = emit_piece(enc, q, qn, &w, &piece, 0);
        if (st == TKM_OK) {
            size_t rep_off = 0;
            for (size_t i = 0; i < need && i < piece.n; i++) {
                size_t tl;
                (void)tkm_ranks_bytes(enc->ranks, ids[i], &tl);
                rep_off += tl;
                size_t o = repaired ? unrepair_offset(p, n, rep_off) : rep_off;
                if (o == SIZE_MAX) continue; /* a token boundary inside a replaced sequence: not a prefix */
                result->tokens = before + i + 1;
                result->bytes = k.last_start + o;
            }
        }
    }
    tkm_work_release(&w);
    return st;
}

TKM_API tkm_status tkm_count(const tkm_encoding *enc, const void *text, size_t len, size_t *count) {
    if (!count) return TKM_ERR_INVALID_ARGUMENT;
    tkm_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    tkm_status st = tkm_count_ex(enc, text, len, NULL, &r);
    if (st == TKM_OK) *count = r.tokens;
    return st;
}

TKM_API tkm_status tkm_encode(const tkm_encoding *enc, const void *text, size_t len, const tkm_options *opt,
                              uint32_t *ids, size_t capacity, size_t *n_ids) {
    tkm_status st = tkm_check_handle(enc);
    if (st != TKM_OK) return st;
    if (!n_ids || (!ids && capacity) || (!text && len)) return TKM_ERR_INVALID_ARGUMENT;
    uint32_t flags;
    if ((st = tkm_check_options(opt, &flags)) != TKM_OK) return st;
    *n_ids = 0;
    if (len == 0) return TKM_OK;
    tkm_work w;
    tkm_work_init(&w, opt);
    uint32_t dummy;
    tkm_sink k = TKM_SINK_INIT(ids ? ids : &dummy, ids ? capacity : 0, text);
    size_t off = 0;
    st = tkm_run(enc, (const uint8_t *)text, len, flags, &w, &k, &off);
    tkm_work_release(&w);
    if (st != TKM_OK) {
        *n_ids = off;
        return st;
    }
    *n_ids = k.n;
    return k.n > capacity ? TKM_ERR_BUFFER_TOO_SMALL : TKM_OK;
}
