/*
 * split_walk.h - the pre-tokenizer loop shared by every SIMD kernel (internal; included once by
 * each arch/<isa>/split_<isa>.c after it defines its classifier).
 *
 * The including file includes split_types.h, then defines, before including this file:
 *   TKM_KNAME(x)   token-pastes the kernel suffix: TKM_KNAME(split_o200k) -> split_o200k_avx2
 *   static inline void tkm_classify64(const uint8_t *p, tkm_cls *c)
 *                  fills c->lo, up, dg, ws, nl, hi, sl for the 64 bytes p[0..64) (all readable):
 *                  bit i of a mask is set iff p[i] is in the class:
 *                  lo [a-z], up [A-Z], dg [0-9], ws [\t\n\v\f\r ], nl [\r\n], hi [\x80-\xff], sl '/'.
 *
 * Specification: kernel/pretok_<family>.c. For each piece start, the walker decides the piece
 * from byte-class bitmasks of a 64-byte window when every byte the decision depends on is ASCII
 * and inside the window; otherwise (a byte >= 0x80 where a Unicode property could matter, or a
 * run that reaches the window's end before the text's) it calls the scalar scanner for that one
 * piece. So each piece is, by construction, either the scalar piece or the same regex rule
 * restricted to ASCII, where the Unicode classes coincide with the ASCII ones (tests/
 * test_kernels.c checks the ASCII classes against the Unicode tables and every piece against the
 * scalar scanner, across every 16/32/64-byte boundary).
 *
 * Design notes.
 * - Window: the masks cover [w, w+64); a piece starting more than 32 bytes into the window
 *   reclassifies at its own start, so every piece of up to ~32 bytes is decided from one window.
 *   Tried: aligned blocks with carried state across blocks (fewer classifications, but every run
 *   needs a cross-block path; more code, no measurable gain, since classification is a few
 *   instructions per 64 bytes while lookup dominates).
 * - Runs are found with count-trailing-zeros on the inverted, shifted class mask; the last CR/LF
 *   of a whitespace run with count-leading-zeros.
 * - Whole windows: from every fresh window, ascii_block (o200k, cl100k) or gpt2_block finds every
 *   piece start of the window at once from the masks (a dozen shifts and ands, a carry for the P
 *   tails, short loops only for contractions, digit runs and whitespace runs with a line break
 *   inside) and emits those it can prove; the per-piece walk takes over only where it proves
 *   nothing (a byte >= 0x80 near the start, a run longer than the window). Measured
 *   (bench/tkm_micro, o200k, one core): split 301 -> 738 MB/s on the English set, 816 MB/s on
 *   code; cachegrind, tkm_time on jane-eyre.txt: 115.6M -> 88.7M instructions for the whole
 *   count. The per-piece walk was ~136 instructions per piece, most of them branches on the
 *   piece's first bytes. cl100k: split 541 MB/s on English; tkm_time best of 6 interleaved,
 *   English 0.157 -> 0.130 s, code 0.089 -> 0.074 s. GPT-2: split 928 MB/s on English
 *   (r50k); jane-eyre.txt r50k count 90.7M -> 73.3M instructions; p50k code 0.109 -> 0.084 s.
 *   The text's last window (64 bytes or fewer, all ASCII) is decided the same way, every run
 *   ending at the real end: a 1000-byte request, o200k, 69.0K -> 66.2K instructions per count.
 * - Memory contract: never reads s[n] or beyond. A window shorter than 64 bytes (the tail) is
 *   classified from a zero-padded stack copy and its masks are cut to the text.
 */
#include "split_types.h"

/* ---- per kernel (this part is compiled once per including file) ---------------------------- */

/* How far ahead of a window the text is prefetched. A whole count validates the text first (kernel/
 * count.c), so a text larger than the caches comes back from memory when it is split: perf put
 * 66% of win_load's samples on the instruction after its 64-byte load, win_load 9.6% of an English
 * count (tkm_time -n 5 o200k_base, the whole 15 MB set), against 3.7% on 200 KB counted 200 times.
 * Hardware prefetch did not hide it, among the lookups' random accesses. With one prefetch per
 * window, 1024 bytes ahead: serial runs on one core in alternating order, medians of 6, whole sets:
 * English 0.945, code 0.916, multilingual 0.961; 2048 bytes against 1024: English 0.994. */
#ifndef TKM_SPLIT_AHEAD
#define TKM_SPLIT_AHEAD 1024
#endif

static inline void TKM_KNAME(win_load)(tkm_win *W, const uint8_t *s, size_t pos, size_t n) {
    tkm_cls c;
    uint64_t valid = ~(uint64_t)0;
    if (n - pos >= 64) {
        if (n - pos > TKM_SPLIT_AHEAD) __builtin_prefetch(s + pos + TKM_SPLIT_AHEAD);
        tkm_classify64(s + pos, &c);
        W->lim = pos + 64;
    } else {
        uint8_t buf[64];
        memset(buf, 0, sizeof buf);
        memcpy(buf, s + pos, n - pos);
        tkm_classify64(buf, &c);
        valid = ((uint64_t)1 << (n - pos)) - 1u;
        W->lim = n;
    }
    W->w = pos;
    W->lo = c.lo & valid;
    W->up = c.up & valid;
    W->dg = c.dg & valid;
    W->ws = c.ws & valid;
    W->nl = c.nl & valid;
    W->hi = c.hi & valid;
    W->pu = ~(c.lo | c.up | c.dg | c.ws | c.hi) & valid;
    W->letter = W->lo | W->up;
    W->tail_o200k = (c.nl | c.sl) & valid;
    W->sp = c.sp & valid;
    W->ap = c.ap & valid;
}

/* End of the run of mask m from i (w <= i <= lim); TKM_UNDEC if it reaches the window's end
 * before the text's end. */
static inline size_t TKM_KNAME(run)(const tkm_win *W, uint64_t m, size_t i, size_t n) {
    size_t o = i - W->w, e;
    if (o >= 64) {
        e = i;
    } else {
        uint64_t x = ~(m >> o);
        e = x ? i + (size_t)__builtin_ctzll(x) : W->w + 64;
    }
    if (e >= W->lim) return W->lim == n ? n : TKM_UNDEC;
    return e;
}

/* A run of m from i that a non-ASCII code point could continue: undecided if it stops at one. */
static inline size_t TKM_KNAME(run_ascii)(const tkm_win *W, uint64_t m, size_t i, const uint8_t *s, size_t n) {
    size_t e = TKM_KNAME(run)(W, m, i, n);
    if (e != TKM_UNDEC && e < n && s[e] >= 0x80) return TKM_UNDEC;
    return e;
}

/* Contraction after an apostrophe, at j: its length, 0, or TKM_UNDEC. ci: (?i:...) with Unicode
 * simple folding, where only U+017F (C5 BF) folds onto one of the letters (to 's'). */
static inline size_t TKM_KNAME(contraction)(const uint8_t *s, size_t j, size_t n, int ci) {
    if (j >= n) return 0;
    uint8_t c1 = s[j];
    if (c1 >= 0x80) return (ci && c1 == 0xC5 && j + 1 < n && s[j + 1] == 0xBF) ? 2 : 0;
    if (ci && c1 >= 'A' && c1 <= 'Z') c1 = (uint8_t)(c1 + 32);
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 1;
    if (c1 != 'r' && c1 != 'v' && c1 != 'l') return 0;
    if (j + 1 >= n) return 0;
    uint8_t c2 = s[j + 1];
    if (ci && c2 >= 'A' && c2 <= 'Z') c2 = (uint8_t)(c2 + 32);
    if ((c1 == 'l' && c2 == 'l') || (c1 != 'l' && c2 == 'e')) return 2;
    return 0;
}

/* \p{N}{1,3} at pos (s[pos] is an ASCII digit). */
static inline size_t TKM_KNAME(digits3)(const tkm_win *W, const uint8_t *s, size_t pos, size_t n) {
    size_t r = TKM_KNAME(run)(W, W->dg, pos, n);
    if (r == TKM_UNDEC) return TKM_UNDEC;
    if (r - pos >= 3) return pos + 3;
    if (r < n && s[r] >= 0x80) return TKM_UNDEC; /* a non-ASCII number could follow */
    return r;
}

/* Whitespace at pos: \s*[\r\n]+ (with_nl) | \s+(?!\S) | \s+, as tkm_pt_space. */
static inline size_t TKM_KNAME(space)(const tkm_win *W, const uint8_t *s, size_t pos, size_t n, int with_nl) {
    size_t r = TKM_KNAME(run_ascii)(W, W->ws, pos, s, n);
    if (r == TKM_UNDEC) return TKM_UNDEC;
    if (with_nl) {
        size_t a = pos - W->w, b = r - W->w; /* [a, b) within the window, b <= 64 */
        uint64_t in = (b >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << b) - 1u)) & ~(((uint64_t)1 << a) - 1u);
        uint64_t nl = W->nl & in;
        if (nl) return W->w + (size_t)(64 - __builtin_clzll(nl));
    }
    if (r == n) return n;
    if (r - pos > 1) return r - 1;
    return r;
}

/* [^\s\p{L}\p{N}]+ from i, then the family's tail ([\r\n]* or [\r\n/]*). */
static inline size_t TKM_KNAME(punct)(const tkm_win *W, const uint8_t *s, size_t i, size_t n, uint64_t tail) {
    size_t e = TKM_KNAME(run_ascii)(W, W->pu, i, s, n);
    if (e == TKM_UNDEC || !tail) return e;
    return TKM_KNAME(run)(W, tail, e, n);
}

/* o200k letters from q (s[q] an ASCII letter): U* W+ | U+ W*, in ASCII [A-Z]*[a-z]*, then the
 * optional contraction. */
static inline size_t TKM_KNAME(o200k_letters)(const tkm_win *W, const uint8_t *s, size_t q, size_t n) {
    size_t u = TKM_KNAME(run)(W, W->up, q, n);
    if (u == TKM_UNDEC) return TKM_UNDEC;
    size_t l = TKM_KNAME(run_ascii)(W, W->lo, u, s, n);
    if (l == TKM_UNDEC) return TKM_UNDEC;
    if (l < n && s[l] == '\'') {
        size_t k = TKM_KNAME(contraction)(s, l + 1, n, 1);
        if (k) return l + 1 + k;
    }
    return l;
}

static inline size_t TKM_KNAME(o200k_piece)(const tkm_win *W, const uint8_t *s, size_t pos, size_t n) {
    unsigned k = tkm_acls(s[pos]);
    if (k & TKM_A_HI) return TKM_UNDEC;
    if (k & TKM_A_LETTER) return TKM_KNAME(o200k_letters)(W, s, pos, n);
    if (!(k & (TKM_A_DG | TKM_A_NL)) && pos + 1 < n) { /* [^\r\n\p{L}\p{N}]? before letters */
        unsigned k2 = tkm_acls(s[pos + 1]);
        if (k2 & TKM_A_HI) return TKM_UNDEC;
        if (k2 & TKM_A_LETTER) return TKM_KNAME(o200k_letters)(W, s, pos + 1, n);
    }
    if (k & TKM_A_DG) return TKM_KNAME(digits3)(W, s, pos, n);
    if (s[pos] == ' ' && pos + 1 < n && (tkm_acls(s[pos + 1]) & TKM_A_PU))
        return TKM_KNAME(punct)(W, s, pos + 1, n, W->tail_o200k);
    if (k & TKM_A_PU) return TKM_KNAME(punct)(W, s, pos, n, W->tail_o200k);
    return TKM_KNAME(space)(W, s, pos, n, 1);
}

/*
 * Whole windows (ascii_block, gpt2_block). Given that pos = W->w is a piece start, find every piece
 * start in the window from its byte-class masks, with no branch per piece, and return the ends
 * that can be proven (at most cap of them; 0 if none). Bit i is byte pos+i; only bytes of the
 * window (s[pos..W->lim)) are read.
 *  - The window is cut at its first byte >= 0x80 (E): past it, Unicode properties would matter.
 *  - Only starts at or before `safe` are emitted: safe = (start of the class run that holds byte
 *    E-1) - 3. A piece that ends there was decided by bytes below E: its last run ended inside the
 *    window, and the longest look-ahead past a piece's end is 2 bytes (a contraction's "'re",
 *    whose check also lowers safe itself when those bytes are not all below E). The regex never
 *    looks behind, so bytes before pos do not matter.
 *  - The text's last window, if all ASCII, is decided whole: every run ends inside it, and
 *    \s+(?!\S) takes a whitespace run at the very end whole.
 *  - Contractions (rare) and digit runs (groups of three) are walked bit by bit; so are whitespace
 *    runs that hold a line break followed by other whitespace (their last break ends a piece).
 */

/* The window's ASCII span: E (bytes below the first byte >= 0x80, or the text's end) and its mask
 * *V. Returns the last start that can be proven (safe, see above), or 0 if none can. *WSL: the
 * bits where the last byte of a whitespace run may start the next piece (\s+(?!\S)): all, except
 * the text's last byte when the span reaches the end of the text. */
static inline unsigned TKM_KNAME(block_span)(const tkm_win *W, size_t n, unsigned *E, uint64_t *V, uint64_t *WSL) {
    const int end = !W->hi && W->lim == n;
    const unsigned e = W->hi ? (unsigned)__builtin_ctzll(W->hi) : (unsigned)(W->lim - W->w);
    if (e < (end ? 2u : 16u)) return 0;
    const uint64_t v = e == 64 ? ~(uint64_t)0 : (((uint64_t)1 << e) - 1u), top = (uint64_t)1 << (e - 1);
    *E = e;
    *V = v;
    if (end) {
        *WSL = v >> 1;
        return e - 1;
    }
    *WSL = ~(uint64_t)0;
    const uint64_t L = W->letter & v, D = W->dg & v, S = W->ws & v;
    const uint64_t last = (L & top) ? L : (D & top) ? D : (S & top) ? S : (W->pu & v);
    const uint64_t z = ~last & (top - 1u);
    const unsigned j = z ? 64u - (unsigned)__builtin_clzll(z) : 0u;
    return j < 4 ? 0 : j - 3;
}

/* Contractions at the apostrophes ca: marks their letters in *ABS (o200k: the apostrophe too)
 * and the byte after each in *CE; lowers *safe where the letters are not all below E. ci: the
 * case-insensitive list (o200k, cl100k); GPT-2's is lower case only. o200k: an apostrophe that is
 * itself inside a contraction is skipped. */
static inline void TKM_KNAME(block_contractions)(const uint8_t *s, size_t pos, unsigned E, uint64_t L, uint64_t ca,
                                                 int o200k, int ci, uint64_t *ABS, uint64_t *CE, unsigned *safe) {
    const uint8_t fold = ci ? 0x20 : 0;
    while (ca) {
        const unsigned a = (unsigned)__builtin_ctzll(ca);
        ca &= ca - 1u;
        if (o200k && ((*ABS >> (a - 1)) & 1u)) continue;
        if (a + 2 >= E) { /* no start from a on is proven (a can be 0 in a tail window) */
            if (a <= *safe) *safe = a ? a - 1 : 0;
            return;
        }
        unsigned k = 0;
        if ((L >> (a + 1)) & 1u) {
            const uint8_t c1 = (uint8_t)(s[pos + a + 1] | fold), c2 = (uint8_t)(s[pos + a + 2] | fold);
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
                k = 1;
            else if (((L >> (a + 2)) & 1u) && (((c1 == 'r' || c1 == 'v') && c2 == 'e') || (c1 == 'l' && c2 == 'l')))
                k = 2;
        }
        if (k) {
            *ABS |= o200k ? (((uint64_t)2 << k) - 1u) << a : (((uint64_t)1 << k) - 1u) << (a + 1);
            if (a + k + 1 < 64) *CE |= (uint64_t)1 << (a + k + 1);
        }
    }
}

/* Write the ends of the starts in bits 1..safe of st (at most cap); their number.
 * The loop's exit is mispredicted about once a call: 80K of the 641K mispredicts of an English
 * count (cachegrind --branch-sim, tkm_time on 2 MB, AVX2 kernel).
 * Tried: when all the ends fit with 7 (or 15) slots to spare, writing them in whole groups of 8
 * (or 16), where bit 63 stands in for an empty mask.
 * - Groups of 8: 728K mispredicts in all.
 * - Groups of 16, unrolled: 632K; the test for room mispredicts itself.
 * - Same-time wall ratios for groups of 16: English 1.038, code 1.012.
 * Not kept. */
static inline size_t TKM_KNAME(block_emit)(uint64_t st, unsigned safe, size_t pos, size_t *ends, size_t cap) {
    uint64_t em = st & ~(uint64_t)1 & (((uint64_t)2 << safe) - 1u);
    size_t m = 0;
    while (em && m < cap) {
        ends[m++] = pos + (size_t)__builtin_ctzll(em);
        em &= em - 1u;
    }
    return m;
}

/* o200k and cl100k. Every start is a rule of the pattern restricted to ASCII (the specification:
 * kernel/pretok_<family>.c; names: L letters, P [^\s\p{L}\p{N}], S \s):
 *  letters   a run start; o200k: a lower-to-upper step (U*l+ and U+l* both stop there); the byte
 *            after a contraction. The start moves one byte left onto a prefix
 *            [^\r\n\p{L}\p{N}]: a non-newline space, or a P that begins its piece (no P before
 *            it, no ' ' before it).
 *  contraction  o200k: an apostrophe right after a letter (the letter piece goes on over it);
 *            cl100k: an apostrophe that begins its piece (a piece of its own).
 *  P         a run start, unless a ' ' precedes it (" ?P+" takes the space); the run's tail
 *            (newlines right after P, and what follows in [\r\n/] for o200k, [\r\n] for cl100k)
 *            is part of it.
 *  S         a run start (after any tail); after the run's last newline, if whitespace follows;
 *            the run's last byte, unless it is a newline (\s+(?!\S) leaves it to the next piece).
 *  digits    every third digit of a run.
 */
static inline size_t TKM_KNAME(ascii_block)(const tkm_win *W, const uint8_t *s, size_t pos, size_t n, size_t *ends,
                                            size_t cap, const int o200k) {
    unsigned E;
    uint64_t V, WSL;
    unsigned safe = TKM_KNAME(block_span)(W, n, &E, &V, &WSL);
    if (!safe) return 0;
    const uint64_t lo = W->lo & V, up = W->up & V, L = W->letter & V, D = W->dg & V, S = W->ws & V, NL = W->nl & V;
    const uint64_t P = W->pu & V, SP = W->sp & V;
    /* contractions. o200k: an apostrophe right after a letter that is not itself part of one;
     * ABS gets the apostrophe and its letters. cl100k: an apostrophe that begins a P run and has
     * no ' ' before it; ABS gets its letters (the apostrophe starts the piece). CE: the byte after. */
    uint64_t ABS = 0, CE = 0;
    TKM_KNAME(block_contractions)(s, pos, E, L, W->ap & V & (o200k ? (L << 1) : (~(P << 1) & ~(SP << 1))), o200k, 1,
                                  &ABS, &CE, &safe);
    if (safe == 0) return 0;
    const uint64_t Lp = L & ~ABS, Pp = P & ~ABS;
    /* P tails: newlines right after P, carried through the tail set (a seed inside a carry chain
     * is put back by the "| TS") */
    const uint64_t TSET = (o200k ? W->tail_o200k : W->nl) & V, TS = NL & (Pp << 1), sum = TSET + TS;
    const uint64_t TB = (TSET & ~sum) | TS, TE = sum & ~TSET;
    const uint64_t P2 = Pp & ~TB, S2 = S & ~TB;
    const uint64_t PS = P2 & ~(P2 << 1) & ~(SP << 1);
    uint64_t LS = Lp & ~(L << 1) & ~((S & ~NL) << 1) & ~(PS << 1);
    if (o200k) LS |= up & (lo << 1) & ~ABS;
    uint64_t DS = 0, drs = D & ~(D << 1);
    while (drs) {
        const unsigned r = (unsigned)__builtin_ctzll(drs);
        drs &= drs - 1u;
        const uint64_t run = ~(D >> r);
        const unsigned len = run ? (unsigned)__builtin_ctzll(run) : 64u - r;
        for (unsigned k = 0; k < len; k += 3) DS |= (uint64_t)1 << (r + k);
    }
    const uint64_t Q = S2 & ~NL;
    uint64_t NLQ = 0, x = NL & S2 & (Q >> 1);
    while (x) {
        const unsigned i = (unsigned)__builtin_ctzll(x);
        const uint64_t run = ~(S2 >> i);
        const unsigned b = i + (run ? (unsigned)__builtin_ctzll(run) : 64u - i);
        const uint64_t in = (b >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << b) - 1u)) & ~(((uint64_t)1 << i) - 1u);
        const unsigned jn = 63u - (unsigned)__builtin_clzll(NL & in);
        if (jn + 1 < b) NLQ |= (uint64_t)1 << (jn + 1);
        x &= ~in;
    }
    const uint64_t WS = (S2 & ~(S2 << 1)) | (S2 & ~(S2 >> 1) & ~NL & WSL) | NLQ;
    return TKM_KNAME(block_emit)((LS | DS | PS | WS | TE | CE) & V, safe, pos, ends, cap);
}
static inline size_t TKM_KNAME(o200k_block)(const tkm_win *W, const uint8_t *s, size_t pos, size_t n, size_t *ends,
                                             size_t cap) {
    return TKM_KNAME(ascii_block)(W, s, pos, n, ends, cap, 1);
}
static inline size_t TKM_KNAME(cl100k_block)(const tkm_win *W, const uint8_t *s, size_t pos, size_t n, size_t *ends,
                                              size_t cap) {
    return TKM_KNAME(ascii_block)(W, s, pos, n, ends, cap, 0);
}

/* GPT-2 ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+), a whole
 * window at once, under the same span and safe rules: starts at letter, digit and P runs (a ' '
 * before one takes its place), at contractions (lower case, at an apostrophe that begins a P run
 * with no ' ' before it: a piece of its own) and the byte after them, and at the first and the
 * last byte of each whitespace run (\s+(?!\S) leaves the last byte to the next piece). */
static inline size_t TKM_KNAME(gpt2_block)(const tkm_win *W, const uint8_t *s, size_t pos, size_t n, size_t *ends,
                                            size_t cap) {
    unsigned E;
    uint64_t V, WSL;
    unsigned safe = TKM_KNAME(block_span)(W, n, &E, &V, &WSL);
    if (!safe) return 0;
    const uint64_t L = W->letter & V, D = W->dg & V, S = W->ws & V, P = W->pu & V, SP = W->sp & V;
    uint64_t ABS = 0, CE = 0;
    TKM_KNAME(block_contractions)(s, pos, E, L, W->ap & V & ~(P << 1) & ~(SP << 1), 0, 0, &ABS, &CE, &safe);
    if (safe == 0) return 0;
    const uint64_t runs = ((L & ~ABS & ~(L << 1)) | (D & ~(D << 1)) | (P & ~(P << 1))) & ~(SP << 1);
    const uint64_t WS = (S & ~(S << 1)) | (S & ~(S >> 1) & WSL);
    return TKM_KNAME(block_emit)((runs | WS | CE) & V, safe, pos, ends, cap);
}

static inline size_t TKM_KNAME(cl100k_piece)(const tkm_win *W, const uint8_t *s, size_t pos, size_t n) {
    unsigned k = tkm_acls(s[pos]);
    if (k & TKM_A_HI) return TKM_UNDEC;
    if (s[pos] == '\'') {
        size_t c = TKM_KNAME(contraction)(s, pos + 1, n, 1);
        if (c) return pos + 1 + c;
    }
    if (k & TKM_A_LETTER) return TKM_KNAME(run_ascii)(W, W->letter, pos, s, n);
    if (!(k & (TKM_A_DG | TKM_A_NL)) && pos + 1 < n) {
        unsigned k2 = tkm_acls(s[pos + 1]);
        if (k2 & TKM_A_HI) return TKM_UNDEC;
        if (k2 & TKM_A_LETTER) return TKM_KNAME(run_ascii)(W, W->letter, pos + 1, s, n);
    }
    if (k & TKM_A_DG) return TKM_KNAME(digits3)(W, s, pos, n);
    if (s[pos] == ' ' && pos + 1 < n && (tkm_acls(s[pos + 1]) & TKM_A_PU))
        return TKM_KNAME(punct)(W, s, pos + 1, n, W->nl);
    if (k & TKM_A_PU) return TKM_KNAME(punct)(W, s, pos, n, W->nl);
    return TKM_KNAME(space)(W, s, pos, n, 1);
}

static inline size_t TKM_KNAME(gpt2_piece)(const tkm_win *W, const uint8_t *s, size_t pos, size_t n) {
    unsigned k = tkm_acls(s[pos]);
    if (k & TKM_A_HI) return TKM_UNDEC;
    if (s[pos] == '\'') {
        size_t c = TKM_KNAME(contraction)(s, pos + 1, n, 0);
        if (c) return pos + 1 + c;
    }
    if (s[pos] == ' ' && pos + 1 < n) {
        unsigned k2 = tkm_acls(s[pos + 1]);
        if (k2 & TKM_A_HI) return TKM_UNDEC;
        if (k2 & TKM_A_LETTER) return TKM_KNAME(run_ascii)(W, W->letter, pos + 1, s, n);
        if (k2 & TKM_A_DG) return TKM_KNAME(run_ascii)(W, W->dg, pos + 1, s, n);
        if (k2 & TKM_A_PU) return TKM_KNAME(run_ascii)(W, W->pu, pos + 1, s, n);
    }
    if (k & TKM_A_LETTER) return TKM_KNAME(run_ascii)(W, W->letter, pos, s, n);
    if (k & TKM_A_DG) return TKM_KNAME(run_ascii)(W, W->dg, pos, s, n);
    if (k & TKM_A_PU) return TKM_KNAME(run_ascii)(W, W->pu, pos, s, n);
    return TKM_KNAME(space)(W, s, pos, n, 0);
}

/* The whole-window routine (family_block) is tried at each fresh window; where it proves nothing,
 * the pieces are walked one by one until the window goes stale (the next piece starts more than
 * 32 bytes in). */
#define TKM_DEFINE_SPLIT(family)                                                                        \
    static size_t TKM_KNAME(split_##family)(const uint8_t *s, size_t pos, size_t n, size_t *ends,      \
                                            size_t cap) {                                              \
        tkm_win W;                                                                                     \
        size_t m = 0;                                                                                  \
        if (pos >= n || cap == 0) return 0;                                                            \
        for (;;) {                                                                                     \
            TKM_KNAME(win_load)(&W, s, pos, n);                                                        \
            size_t k = TKM_KNAME(family##_block)(&W, s, pos, n, ends + m, cap - m);                    \
            if (k) {                                                                                   \
                m += k;                                                                                \
                pos = ends[m - 1];                                                                     \
                if (pos >= n || m >= cap) return m;                                                    \
                continue;                                                                              \
            }                                                                                          \
            do {                                                                                       \
                size_t e = TKM_KNAME(family##_piece)(&W, s, pos, n);                                   \
                if (e == TKM_UNDEC) e = tkm_pretok_next_##family(s, pos, n);                           \
                ends[m++] = e;                                                                         \
                pos = e;                                                                               \
            } while (pos < n && m < cap && pos - W.w <= 32);                                           \
            if (pos >= n || m >= cap) return m;                                                        \
        }                                                                                              \
    }

TKM_DEFINE_SPLIT(gpt2)
TKM_DEFINE_SPLIT(cl100k)
TKM_DEFINE_SPLIT(o200k)
#undef TKM_DEFINE_SPLIT
