/*
 * pretok.h - pre-tokenizers: split text into pieces exactly as the reference regexes do (internal).
 *
 * One hand-written scanner per pattern family; each is the specification of correct behaviour for
 * its family (the SIMD kernels in arch/ must agree with it piece for piece).
 *
 *   gpt2   (r50k_base, p50k_base, p50k_edit):
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   cl100k (cl100k_base):
 *     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 *     \s*[\r\n]+|\s+(?!\S)|\s+
 *   o200k  (o200k_base, o200k_harmony):
 *     [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
 *     [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
 *     \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *
 * These are the pat_str strings embedded in the reference (npm tiktoken 1.0.22 WASM; extracted
 * from tiktoken_bg.wasm), with leftmost-first (backtracking) alternation semantics.
 *
 * Text is bytes; it is decoded as UTF-8 where each maximal ill-formed subsequence reads as one
 * U+FFFD (WHATWG / Python "replace"), so pieces are byte ranges of the original input.
 */
#ifndef TKM_PRETOK_H
#define TKM_PRETOK_H
#include <stddef.h>
#include <stdint.h>

/* End of the piece that starts at s[pos]; requires pos < len; returns e with pos < e <= len.
 * s[len] is never read: len is the end of the text. */
typedef size_t (*tkm_pretok_fn)(const uint8_t *s, size_t pos, size_t len);

size_t tkm_pretok_next_gpt2(const uint8_t *s, size_t pos, size_t len);
size_t tkm_pretok_next_cl100k(const uint8_t *s, size_t pos, size_t len);
size_t tkm_pretok_next_o200k(const uint8_t *s, size_t pos, size_t len);

/* Split s[pos..len) into consecutive pieces: writes up to cap piece END offsets, returns how many
 * (>= 1 when pos < len and cap > 0). The scalar kernel's are below; SIMD kernels live in arch/. */
typedef size_t (*tkm_split_fn)(const uint8_t *s, size_t pos, size_t len, size_t *ends, size_t cap);

/* Whole-piece lookup of a batch of pieces (counting): the pieces are s[e[j]..e[j+1]) for
 * j < m <= 64, inside s[0..n) (e holds m + 1 entries). Sets *found to the number of pieces it
 * proved to be one token each, and returns the mask of the others (bit j: piece j), which the
 * caller looks up and merges itself; *absent gets a subset of that mask, pieces it proved not to
 * be a token. v must have a fast table (v->fast != NULL). A kernel may leave any piece to the
 * caller; it never claims a piece that is not a token, and reads only s[0..n) and v's tables.
 * NULL in a kernel: count.c's scalar lookup. tests/test_kernels.c checks every kernel's answers
 * against tkm_ranks_find. */
struct tkm_ranks;
typedef uint64_t (*tkm_lookup_fn)(const struct tkm_ranks *v, const uint8_t *s, size_t n, const size_t *e, size_t m,
                                  size_t *found, uint64_t *absent);

/* Counts of a batch of short pieces that need a merge: tkm_bpe_count_batch (kernel/bpe.h), the
 * same function built for a kernel's instruction set (kernel/bpe_batch.h). */
typedef void (*tkm_bpe_batch_fn)(const struct tkm_ranks *v, const uint8_t *const *ps, const uint8_t *ns, size_t nb,
                                 uint32_t *counts);

/* Where s[0..n) stops being well-formed UTF-8: tkm_utf8_first_invalid (kernel/count.c), or a
 * kernel's faster copy with the same answers (arch/x86/utf8_avx2.h). */
typedef size_t (*tkm_validate_fn)(const uint8_t *s, size_t n);
size_t tkm_utf8_first_invalid(const uint8_t *s, size_t n); /* the specification (kernel/count.c) */

/* The one entry point into arch/ (defined in arch/dispatch.c): the split, lookup, batch merge and
 * UTF-8 check functions and the kernel name for a new handle of pattern family `pattern` (1 gpt2, 2 cl100k, 3 o200k).
 * force: a kernel name, or NULL for the default (TOKMETER_KERNEL if set, else the best this CPU
 * runs). Returns 0 if the forced or TOKMETER_KERNEL kernel is unknown or cannot run on this CPU. */
int tkm_arch_select(int pattern, const char *force, tkm_split_fn *fn, tkm_lookup_fn *lookup, tkm_bpe_batch_fn *batch,
                    tkm_validate_fn *validate, const char **name);

/* The scalar kernel's split (kernel/pretok_split.c): ends of up to cap consecutive pieces from pos,
 * by the scanners above; returns how many (>= 1 when pos < len and cap > 0). */
size_t tkm_pretok_split_gpt2(const uint8_t *s, size_t pos, size_t len, size_t *ends, size_t cap);
size_t tkm_pretok_split_cl100k(const uint8_t *s, size_t pos, size_t len, size_t *ends, size_t cap);
size_t tkm_pretok_split_o200k(const uint8_t *s, size_t pos, size_t len, size_t *ends, size_t cap);

/* Decode one code point at s[i] (i < n): returns it and sets *adv to the bytes consumed (1..4).
 * Ill-formed input yields 0xFFFD and advances over the maximal subpart (at least 1 byte).
 * GCC makes the ladder of lead-byte ranges a jump table. On 1 MiB of random bytes, its indirect
 * jump was mispredicted 499K times (cachegrind --branch-sim, tkm_time, AVX2 kernel).
 * Tried: the lead byte's class computed with selects. Random bytes: +2.3% instructions and -1.8%
 * mispredicts. Multilingual 2 MB: +0.2% and -2.1%. Same-time wall ratios were 0.974-0.993 and
 * 0.965-1.006, within the noise. Not kept. */
static inline uint32_t tkm_utf8_decode(const uint8_t *s, size_t i, size_t n, size_t *adv) {
    uint32_t c = s[i];
    if (c < 0x80) { *adv = 1; return c; }
    size_t need;
    uint32_t lo = 0x80, hi = 0xBF, cp;
    if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
    else if (c == 0xE0) { need = 2; lo = 0xA0; cp = c & 0x0F; }
    else if (c >= 0xE1 && c <= 0xEC) { need = 2; cp = c & 0x0F; }
    else if (c == 0xED) { need = 2; hi = 0x9F; cp = c & 0x0F; }
    else if (c >= 0xEE && c <= 0xEF) { need = 2; cp = c & 0x0F; }
    else if (c == 0xF0) { need = 3; lo = 0x90; cp = c & 0x07; }
    else if (c >= 0xF1 && c <= 0xF3) { need = 3; cp = c & 0x07; }
    else if (c == 0xF4) { need = 3; hi = 0x8F; cp = c & 0x07; }
    else { *adv = 1; return 0xFFFD; }
    for (size_t k = 1; k <= need; k++) {
        if (i + k >= n) { *adv = k; return 0xFFFD; }
        uint32_t d = s[i + k];
        if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF)) { *adv = k; return 0xFFFD; }
        cp = (cp << 6) | (d & 0x3F);
    }
    *adv = need + 1;
    return cp;
}

#endif
