#!/usr/bin/env node
// gen_golden.mjs - regenerate tokmeter's golden files from the reference tokenizer.
//
// PURPOSE
//   tokmeter must count tokens exactly like OpenAI's tiktoken. This script runs the reference
//   (npm `tiktoken@1.0.22`: OpenAI's Rust tiktoken core compiled to WASM, pinned in
//   tools/package.json and installed in tools/node_modules) over the shared corpus and over
//   hand-designed / generated inputs, and writes the expected results as TSV files that the C
//   tests read. Nothing here is used at build time.
//
// USAGE (from the repository root)
//   npm ci --prefix tools                                   # once
//   node tools/gen_golden.mjs all                           # regenerate every golden file
//   node tools/gen_golden.mjs counts|ids|edge|codepoints    # regenerate one file
//   node tools/gen_golden.mjs all --check                   # regenerate in memory, compare, write nothing
//   options: --corpus=DIR   corpus root (default $TOKMETER_CORPUS or /work/shared/corpus)
//            --out=DIR      output directory (default tests/golden next to this script's parent)
//            --jobs=N       worker threads (default 2)
//
// WHAT IT WRITES (tests/golden/; formats are described in tests/golden/README.md and in each header)
//   counts.tsv      token count + ids hash of every corpus file, for each of the six encodings
//   ids.tsv         full ids of a ~1 KB slice at a deterministic pseudo-random offset of every file
//   edge.tsv        hand-designed edge-case inputs (hex bytes) with count and ids per encoding
//   codepoints.tsv  every Unicode scalar value, in 256-code-point chunks, count + ids hash
//
// INPUT POLICY (identical for every file)
//   bytes -> UTF-8 decoded with WHATWG replacement (one U+FFFD per maximal ill-formed
//   subsequence; a leading BOM is KEPT: TextDecoder('utf-8', {ignoreBOM: true})) -> encode_ordinary
//   (special-token strings are ordinary text).
//
// ENCODINGS
//   r50k_base p50k_base p50k_edit cl100k_base o200k_base: embedded in the WASM (get_encoding).
//   o200k_harmony: not in the WASM; built with tiktoken/lite `new Tiktoken(ranks, specials, pat_str)`
//   from vocab/o200k_base.tiktoken (or /work/shared/reference/vocab/o200k_harmony.tiktoken), the
//   special tokens of /work/shared/reference/vocab/o200k_harmony.json and o200k_base's pat_str.
//   For ordinary text it must equal o200k_base; this script asserts that on every input.
//
// REFERENCE FAILURES
//   The WASM regex engine panics ("RuntimeError: unreachable") on some very long runs. Such a
//   result is written as the literal REFERENCE_FAILED (never a made-up number). Every input is
//   encoded in a worker thread; after a panic the worker (and its WASM instance) is discarded and
//   a fresh one continues, so a panic can never corrupt later results.
//
// DETERMINISM
//   Output depends only on the corpus bytes, the tiktoken version and this script: fixed ordering,
//   slice offsets derived from sha256 of the relative path, no timestamps or host data in files.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const SELF = fileURLToPath(import.meta.url);
const TOOLS = path.dirname(SELF);
const ROOT = path.dirname(TOOLS);

const ENCODINGS = ['r50k_base', 'p50k_base', 'p50k_edit', 'cl100k_base', 'o200k_base', 'o200k_harmony'];
const EMBEDDED = new Set(ENCODINGS.slice(0, 5));
const REF_DIR = '/work/shared/reference';
const HARMONY_JSON = path.join(REF_DIR, 'vocab', 'o200k_harmony.json');
const RANK_CANDIDATES = [path.join(ROOT, 'vocab', 'o200k_base.tiktoken'), path.join(REF_DIR, 'vocab', 'o200k_harmony.tiktoken')];
const FAILED = 'REFERENCE_FAILED';
const SLICE_LEN = 1024;
const CHUNK = 256;

// ---------------------------------------------------------------------------------------------
// FNV-1a 64 over the ids, each id fed as 4 little-endian bytes. Offset basis 0xcbf29ce484222325,
// prime 0x100000001b3. Implemented on two 32-bit halves (BigInt would be far too slow).
// h * prime mod 2^64 = h * 0x1b3 + (h << 40).
function fnvIds(ids) {
  let hi = 0xcbf29ce4, lo = 0x84222325;
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    for (let k = 0; k < 32; k += 8) {
      lo = (lo ^ ((v >>> k) & 0xff)) >>> 0;
      const p = lo * 0x1b3; // < 2^41, exact
      const nlo = p >>> 0;
      const carry = Math.floor(p / 4294967296);
      hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
      lo = nlo;
    }
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

function fnvIdsBig(ids) { // reference implementation, used once as a self-test
  let h = 0xcbf29ce484222325n;
  for (const v of ids) for (let k = 0; k < 32; k += 8) { h ^= BigInt((v >>> k) & 0xff); h = (h * 0x100000001b3n) & 0xffffffffffffffffn; }
  return h.toString(16).padStart(16, '0');
}

const decodeUtf8 = (buf) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(buf);

// Text of one code-point chunk. variant 'sep': each code point preceded by U+0020;
// variant 'cat': the code points concatenated. Code points first..last inclusive, no surrogates.
function chunkText(first, last, variant) {
  const parts = [];
  for (let cp = first; cp <= last; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    parts.push((variant === 'sep' ? ' ' : '') + String.fromCodePoint(cp));
  }
  return parts.join('');
}

// ---------------------------------------------------------------------------------------------
// Worker: owns one WASM instance per module; encodes a list of items for one encoding.
function loadEncoder(name) {
  if (EMBEDDED.has(name)) return require('tiktoken').get_encoding(name);
  if (name !== 'o200k_harmony') throw new Error('unknown encoding ' + name);
  const meta = JSON.parse(fs.readFileSync(HARMONY_JSON, 'utf8'));
  const base = JSON.parse(fs.readFileSync(require.resolve('tiktoken/encoders/o200k_base.json'), 'utf8'));
  if (meta.pat_str !== base.pat_str) throw new Error('o200k_harmony.json pat_str differs from o200k_base pat_str');
  const ranksFile = RANK_CANDIDATES.find((f) => fs.existsSync(f));
  if (!ranksFile) throw new Error('no o200k ranks file found in ' + RANK_CANDIDATES.join(', '));
  const { Tiktoken } = require('tiktoken/lite');
  return new Tiktoken(fs.readFileSync(ranksFile, 'utf8'), meta.special_tokens, base.pat_str);
}

function itemText(it) {
  if (it.src === 'file') {
    const buf = fs.readFileSync(it.path);
    return decodeUtf8(it.len === undefined ? buf : buf.subarray(it.off, it.off + it.len));
  }
  if (it.src === 'bytes') return decodeUtf8(Buffer.from(it.hex, 'hex'));
  if (it.src === 'cps') return chunkText(it.first, it.last, it.variant);
  throw new Error('bad item');
}

function workerMain() {
  const encs = new Map();
  let poisoned = false; // after a panic this worker only waits to be terminated
  parentPort.on('message', (task) => {
    if (task === 'exit') { for (const e of encs.values()) e.free(); process.exit(0); }
    if (poisoned) throw new Error('task sent to a poisoned worker');
    let enc = encs.get(task.enc);
    if (!enc) { enc = loadEncoder(task.enc); encs.set(task.enc, enc); }
    const results = [];
    for (let i = 0; i < task.items.length; i++) {
      const it = task.items[i];
      const text = itemText(it);
      let ids;
      const t0 = performance.now();
      try {
        ids = enc.encode_ordinary(text);
      } catch (e) {
        // The WASM instance may be in an undefined state now: report and die, never reuse it.
        poisoned = true;
        parentPort.postMessage({ id: task.id, results, failedAt: i, error: String(e) });
        return;
      }
      const r = { count: ids.length, hash: fnvIds(ids), ms: performance.now() - t0 };
      if (it.wantIds) r.ids = Array.prototype.join.call(ids, ' ');
      results.push(r);
    }
    parentPort.postMessage({ id: task.id, results });
  });
}

// ---------------------------------------------------------------------------------------------
// Main-thread scheduler. runTasks(tasks): task = {enc, items}; returns per task an array of
// results, a failed item being {failed: true, error}.
async function runTasks(tasks, jobs, label) {
  const out = tasks.map((t) => new Array(t.items.length));
  // queue entries: [taskIndex, startItem]
  const queue = tasks.map((t, i) => [i, 0]).filter(([i]) => tasks[i].items.length);
  let done = 0, total = tasks.reduce((s, t) => s + t.items.length, 0);
  const t0 = Date.now();
  let lastLog = 0;
  const progress = () => {
    const now = Date.now();
    if (process.stderr.isTTY && now - lastLog > 1000) { lastLog = now; process.stderr.write(`\r${label}: ${done}/${total} items, ${((now - t0) / 1000).toFixed(0)} s   `); }
  };
  const failures = [];
  const slow = []; // items that took the reference more than 10 s (quadratic BPE on long pieces)
  async function lane() {
    let w = null;
    const spawn = () => new Worker(SELF, { workerData: { worker: true } });
    while (queue.length) {
      const [ti, start] = queue.shift();
      const task = tasks[ti];
      if (!w) w = spawn();
      const msg = await new Promise((resolve, reject) => {
        const onMsg = (m) => { cleanup(); resolve(m); };
        const onErr = (e) => { cleanup(); reject(e); };
        const onExit = (c) => { cleanup(); reject(new Error('worker exited unexpectedly with code ' + c)); };
        const cleanup = () => { w.off('message', onMsg); w.off('error', onErr); w.off('exit', onExit); };
        w.on('message', onMsg); w.on('error', onErr); w.on('exit', onExit);
        w.postMessage({ id: ti, enc: task.enc, items: task.items.slice(start) });
      });
      msg.results.forEach((r, k) => {
        out[ti][start + k] = r;
        if (r.ms > 10000) slow.push(`${task.enc} ${task.items[start + k].rel ?? task.items[start + k].name}: ${(r.ms / 1000).toFixed(1)} s`);
      });
      done += msg.results.length;
      if (msg.failedAt !== undefined) {
        const idx = start + msg.failedAt;
        out[ti][idx] = { failed: true, error: msg.error };
        failures.push({ enc: task.enc, item: task.items[idx], error: msg.error });
        done++;
        await w.terminate(); // discard the WASM instance that panicked
        w = null;
        if (idx + 1 < task.items.length) queue.unshift([ti, idx + 1]);
      }
      progress();
    }
    if (w) { const ex = new Promise((res) => w.once('exit', res)); w.postMessage('exit'); await ex; }
  }
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, lane));
  if (process.stderr.isTTY) process.stderr.write('\n');
  console.error(`${label}: ${total} items in ${((Date.now() - t0) / 1000).toFixed(1)} s` + (failures.length ? `, ${failures.length} reference failure(s)` : ''));
  for (const f of failures) console.error(`  ${FAILED}: ${f.enc} ${f.item.rel ?? f.item.name ?? ''} (${f.error})`);
  for (const x of slow) console.error(`  slow: ${x}`);
  return out;
}

// o200k_harmony must equal o200k_base on ordinary text: compare per item (count + ids hash).
function assertHarmony(byEnc, describe) {
  const a = byEnc.o200k_base, b = byEnc.o200k_harmony;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    const same = (x.failed && y.failed) || (!x.failed && !y.failed && x.count === y.count && x.hash === y.hash);
    if (!same) throw new Error(`o200k_harmony differs from o200k_base on ${describe(i)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Corpus
function listCorpus(root) {
  const out = [];
  const walk = (dir) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.isFile() && path.relative(root, p) !== 'MANIFEST.md') out.push(path.relative(root, p).split(path.sep).join('/'));
    }
  };
  walk(root);
  out.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return out.map((rel) => {
    const buf = fs.readFileSync(path.join(root, rel));
    return { rel, path: path.join(root, rel), size: buf.length, sha256: crypto.createHash('sha256').update(buf).digest('hex') };
  });
}

// Slice offset: first 6 bytes of sha256("tokmeter-golden-slice:" + rel) as a big-endian integer,
// modulo (size - 1024 + 1); length min(1024, size).
function sliceOf(f) {
  const len = Math.min(SLICE_LEN, f.size);
  const h = crypto.createHash('sha256').update('tokmeter-golden-slice:' + f.rel).digest();
  const off = f.size > SLICE_LEN ? h.readUIntBE(0, 6) % (f.size - SLICE_LEN + 1) : 0;
  return { off, len };
}

const cell = (r) => (r.failed ? FAILED : String(r.count));
const hashCell = (r) => (r.failed ? FAILED : r.hash);

async function genCounts(files, jobs) {
  const tasks = ENCODINGS.map((enc) => ({ enc, items: files.map((f) => ({ src: 'file', path: f.path, rel: f.rel })) }));
  const res = await runTasks(tasks, jobs, 'counts');
  const byEnc = Object.fromEntries(ENCODINGS.map((e, i) => [e, res[i]]));
  assertHarmony(byEnc, (i) => files[i].rel);
  const lines = [
    '# tokmeter golden: token counts of every corpus file. Reference: npm tiktoken@1.0.22 (WASM), encode_ordinary,',
    '# input bytes decoded as UTF-8 with WHATWG replacement (BOM kept). path is relative to the corpus root.',
    '# ids_fnv1a64: FNV-1a 64 (basis cbf29ce484222325, prime 100000001b3) over every id as 4 little-endian bytes, 16 hex digits.',
    `# ${FAILED}: the reference panicked on this input; no count is known from it.`,
    'encoding\tpath\tsize\tsha256\tcount\tids_fnv1a64',
  ];
  const totals = {};
  ENCODINGS.forEach((enc, ei) => {
    let tot = 0, nf = 0;
    files.forEach((f, fi) => {
      const r = res[ei][fi];
      if (r.failed) nf++; else tot += r.count;
      lines.push([enc, f.rel, f.size, f.sha256, cell(r), hashCell(r)].join('\t'));
    });
    totals[enc] = { tokens: tot, failed: nf };
  });
  return { text: lines.join('\n') + '\n', totals };
}

async function genIds(files, jobs) {
  const slices = files.map(sliceOf);
  const tasks = ENCODINGS.map((enc) => ({ enc, items: files.map((f, i) => ({ src: 'file', path: f.path, rel: f.rel, off: slices[i].off, len: slices[i].len, wantIds: true })) }));
  const res = await runTasks(tasks, jobs, 'ids');
  const byEnc = Object.fromEntries(ENCODINGS.map((e, i) => [e, res[i]]));
  assertHarmony(byEnc, (i) => files[i].rel + ' slice');
  const sliceSha = files.map((f, i) => crypto.createHash('sha256').update(fs.readFileSync(f.path).subarray(slices[i].off, slices[i].off + slices[i].len)).digest('hex'));
  const lines = [
    '# tokmeter golden: ids of one slice of every corpus file. Reference: npm tiktoken@1.0.22 (WASM), encode_ordinary.',
    '# The slice is bytes [offset, offset+length) of the file (it may cut a UTF-8 sequence: decoded with WHATWG replacement,',
    '# BOM kept). offset = first 6 bytes of sha256("tokmeter-golden-slice:" + path), big-endian, mod (size - 1024 + 1);',
    '# length = min(1024, size). slice_sha256 is the sha256 of the slice bytes. ids are space separated.',
    `# ${FAILED} in count and ids: the reference panicked on this slice.`,
    'encoding\tpath\toffset\tlength\tslice_sha256\tcount\tids',
  ];
  ENCODINGS.forEach((enc, ei) => files.forEach((f, fi) => {
    const r = res[ei][fi];
    lines.push([enc, f.rel, slices[fi].off, slices[fi].len, sliceSha[fi], cell(r), r.failed ? FAILED : r.ids].join('\t'));
  }));
  return { text: lines.join('\n') + '\n' };
}

// ---------------------------------------------------------------------------------------------
// Edge cases: [name, Buffer]. Names are ASCII, unique, without tabs.
function edgeCases() {
  const cases = [];
  const names = new Set();
  const add = (name, data) => {
    if (names.has(name)) throw new Error('duplicate edge case name ' + name);
    if (!/^[\x21-\x7e]+$/.test(name)) throw new Error('bad edge case name ' + JSON.stringify(name));
    names.add(name);
    cases.push([name, Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8')]);
  };
  const B = (...xs) => Buffer.from(xs);
  const cat = (...parts) => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p, 'utf8'))));
  const hex2 = (n) => n.toString(16).padStart(2, '0');

  add('empty', Buffer.alloc(0));
  for (let b = 0; b < 256; b++) add('byte-' + hex2(b), B(b));

  // invalid / unusual UTF-8
  const bad = {
    'lone-cont-80': B(0x80), 'lone-cont-bf': B(0xbf), 'lone-cont-80-80': B(0x80, 0x80), 'lone-cont-x4': B(0x80, 0x81, 0x82, 0x83),
    'lone-cont-in-word': cat('a', B(0x80), 'b'), 'lone-cont-after-space': cat(' ', B(0x80), 'word'), 'lone-cont-before-space': cat('word', B(0x9f), ' next'),
    'trunc-c3': B(0xc3), 'trunc-e2-82': B(0xe2, 0x82), 'trunc-e2': B(0xe2), 'trunc-f0-9f-98': B(0xf0, 0x9f, 0x98), 'trunc-f0-9f': B(0xf0, 0x9f), 'trunc-f0': B(0xf0),
    'trunc-at-end-2': cat('abc', B(0xc3)), 'trunc-at-end-3': cat('abc', B(0xe2, 0x82)), 'trunc-at-end-4': cat('abc ', B(0xf0, 0x9f, 0x98)),
    'trunc-mid-word': cat('x', B(0xf0, 0x9f), 'y'), 'trunc-then-valid': cat(B(0xe2, 0x82), '\u20ac'), 'trunc-twice': B(0xe2, 0x82, 0xe2, 0x82),
    'overlong-c0-80': B(0xc0, 0x80), 'overlong-c1-bf': B(0xc1, 0xbf), 'overlong-c0-af': B(0xc0, 0xaf), 'overlong-e0-80-80': B(0xe0, 0x80, 0x80),
    'overlong-e0-9f-bf': B(0xe0, 0x9f, 0xbf), 'overlong-f0-80-80-80': B(0xf0, 0x80, 0x80, 0x80), 'overlong-f0-8f-bf-bf': B(0xf0, 0x8f, 0xbf, 0xbf),
    'overlong-slash-in-path': cat('a', B(0xc0, 0xaf), 'b'),
    'surrogate-ed-a0-80': B(0xed, 0xa0, 0x80), 'surrogate-ed-bf-bf': B(0xed, 0xbf, 0xbf), 'surrogate-pair-encoded': B(0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80),
    'surrogate-in-word': cat('ab', B(0xed, 0xa0, 0x80), 'cd'), 'max-ed-9f-bf': B(0xed, 0x9f, 0xbf),
    'above-max-f4-90': B(0xf4, 0x90, 0x80, 0x80), 'max-f4-8f-bf-bf': B(0xf4, 0x8f, 0xbf, 0xbf),
    'f5-seq': B(0xf5, 0x80, 0x80, 0x80), 'f8-seq': B(0xf8, 0x88, 0x80, 0x80, 0x80), 'fc-seq': B(0xfc, 0x84, 0x80, 0x80, 0x80, 0x80),
    'fe': B(0xfe), 'ff': B(0xff), 'fe-ff': B(0xfe, 0xff), 'ff-fe-bom16': cat(B(0xff, 0xfe), 'h\0i\0'),
    'c3-28': cat(B(0xc3, 0x28)), 'e2-28-a1': B(0xe2, 0x28, 0xa1), 'e2-82-28': B(0xe2, 0x82, 0x28), 'f0-28-8c-bc': B(0xf0, 0x28, 0x8c, 0xbc),
    'f0-90-28-bc': B(0xf0, 0x90, 0x28, 0xbc), 'mixed-invalid-run': B(0x80, 0xc3, 0xe2, 0x82, 0xf0, 0x9f, 0x98, 0xff, 0x41),
    'invalid-between-digits': cat('12', B(0xff), '34'), 'invalid-after-newline': cat('a\n', B(0xc3), ' b'), 'invalid-run-16': Buffer.alloc(16, 0xff),
    'replacement-char-literal': '\ufffd', 'replacement-vs-invalid': cat('\ufffd', B(0xff), '\ufffd'),
  };
  for (const [k, v] of Object.entries(bad)) add('utf8-' + k, v);

  // BOM
  const BOM = '\ufeff';
  add('bom-alone', BOM); add('bom-start', BOM + 'hello world'); add('bom-middle', 'hello' + BOM + 'world');
  add('bom-middle-spaced', 'hello ' + BOM + ' world'); add('bom-twice-start', BOM + BOM + 'a'); add('bom-then-space', BOM + ' hi');
  add('bom-end', 'end' + BOM); add('bom-after-newline', 'line\n' + BOM + 'next'); add('bom-digits', BOM + '123');

  // contractions
  const suffixes = ['s', 't', 're', 've', 'm', 'll', 'd'];
  const caseVariants = (s) => {
    const out = [];
    for (let m = 0; m < 1 << s.length; m++) out.push([...s].map((c, i) => (m >> i & 1 ? c.toUpperCase() : c)).join(''));
    return out;
  };
  const ctx = { 'after-letters': (q) => 'it' + q, 'after-caps': (q) => 'IT' + q, 'after-space': (q) => 'x ' + q, start: (q) => q, 'word-then-space': (q) => 'dog' + q + ' cat', 'doubled': (q) => 'a' + q + q, 'after-digit': (q) => '9' + q };
  for (const s of suffixes) for (const v of caseVariants(s)) for (const [cn, f] of Object.entries(ctx)) add(`contr-${v}-${cn}`, f("'" + v));
  for (const [cn, f] of Object.entries(ctx)) {
    add(`contr-longs-${cn}`, f("'\u017f"));
    add(`contr-rquote-s-${cn}`, f('\u2019s'));
  }
  add('contr-kelvin-alone', '\u212a'); add('contr-kelvin-word', 'TAL\u212a talk'); add('contr-kelvin-after-quote', "it'\u212a");
  add('contr-kelvin-lower-word', 'wal\u212a'); add('contr-longs-word', 'Cla\u017f\u017f'); add('contr-longs-ll', "we'\u017f\u017f");
  for (const s of ['ll', 're', 'd', 've', 'm', 't', 'LL']) add(`contr-rquote-${s}`, 'they\u2019' + s);
  add('contr-no-letter', "' s"); add('contr-quote-only', "'"); add('contr-quotes', "''''"); add('contr-quote-space-s', "it 's"); add('contr-quote-sx', "it'sx");
  add('contr-quote-lly', "we'lly"); add('contr-quote-digit', "'90s"); add('contr-dq', 'he said "it\'s"');

  // digits
  const scripts = { ascii: 0x30, arabicindic: 0x660, devanagari: 0x966, fullwidth: 0xff10, bengali: 0x9e6 };
  for (const [sn, base] of Object.entries(scripts)) for (let n = 1; n <= 12; n++) {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCodePoint(base + ((i + 1) % 10));
    add(`digits-${sn}-${n}`, s); add(`digits-${sn}-${n}-space`, ' ' + s);
  }
  add('digits-mixed-scripts', '12\u0663\u0664\u096b6'); add('digits-in-word', 'abc1234567def'); add('digits-decimal', '3.14159265358979');
  add('digits-comma', '1,234,567'); add('digits-roman', '\u2160\u2161\u2162'); add('digits-superscript', 'x\u00b2\u00b3'); add('digits-fraction', '\u00bd\u2153');
  add('digits-circled', '\u2460\u2461\u2462\u2463'); add('digits-neg', '-12345'); add('digits-newline', '123\n456'); add('digits-letter-digit', 'A1B2C3');

  // whitespace runs
  add('ws-cr', '\r'); add('ws-lf', '\n'); add('ws-crlf', '\r\n'); add('ws-lfcr', '\n\r'); add('ws-crlf-x3', '\r\n\r\n\r\n');
  add('ws-crlf-text', 'a\r\nb\r\n'); add('ws-cr-text', 'a\rb\r'); add('ws-tab', '\t'); add('ws-vt-ff', 'a\x0b\x0cb');
  const kinds = { sp: ' ', tab: '\t', lf: '\n', mix: ' \t\n\r', spnl: '  \n', crlf: '\r\n' };
  const follow = { letter: 'a', punct: '!', digit: '7', end: '' };
  for (const [kn, unit] of Object.entries(kinds)) for (let n = 1; n <= 10; n++) {
    let run = '';
    for (let i = 0; run.length < n; i++) run += unit[i % unit.length];
    for (const [fn, fl] of Object.entries(follow)) add(`ws-${kn}-${n}-${fn}`, 'x' + run + fl);
  }
  for (let n = 1; n <= 4; n++) add(`ws-sp-${n}-start`, ' '.repeat(n) + 'word');

  // Unicode spaces / format characters
  const uspaces = { nbsp: '\u00a0', ideo: '\u3000', lsep: '\u2028', psep: '\u2029', nel: '\u0085', zwsp: '\u200b', zwnbsp: '\ufeff', enquad: '\u2000', thin: '\u2009', ogham: '\u1680', narrownb: '\u202f' };
  for (const [un, c] of Object.entries(uspaces)) {
    add(`uspace-${un}-alone`, c); add(`uspace-${un}-between`, 'a' + c + 'b'); add(`uspace-${un}-double-letter`, c + c + 'a');
    add(`uspace-${un}-after-space`, 'a ' + c + 'b'); add(`uspace-${un}-before-space`, 'a' + c + ' b'); add(`uspace-${un}-after-lf`, 'a\n' + c + 'b');
    add(`uspace-${un}-end`, 'a' + c); add(`uspace-${un}-before-digit`, c + '12');
  }

  // combining marks
  add('mark-on-letter', 'e\u0301'); add('mark-three-on-letter', 'e\u0301\u0302\u0303'); add('mark-on-space', 'a \u0301b'); add('mark-start', '\u0301abc');
  add('mark-alone', '\u0301'); add('mark-on-digit', '5\u0301'); add('mark-on-digit-run', '123\u0301456'); add('mark-run-50-on-a', 'a' + '\u0301'.repeat(50));
  add('mark-run-100', '\u0301'.repeat(100)); add('mark-on-punct', '!\u0301?'); add('mark-on-newline', '\n\u0301'); add('mark-caps', 'ABC\u0301def');
  add('mark-caps-lower', 'Ab\u0301C'); add('mark-spacing-mc', '\u0915\u093e'); add('mark-enclosing', 'a\u20dd'); add('mark-zalgo', 'Z\u0351\u0360\u0334a\u0352\u035fl\u0327g\u0316o');
  add('mark-decomposed-word', 'cafe\u0301 ol\u00e9'); add('mark-after-cjk', '\u4e2d\u0301'); add('mark-keycap', '1\ufe0f\u20e3');

  // letter categories, CamelCase, ALLCAPS
  const words = {
    'titlecase-dz': '\u01c5', 'titlecase-word': '\u01c5ungla', 'titlecase-mid': 'a\u01c5b', 'titlecase-caps': 'AB\u01c5cd', 'titlecase-space': ' \u01c5\u01c8\u01cb',
    'modifier-h': '\u02b0', 'modifier-mid': 'a\u02b0b', 'modifier-before-caps': '\u02b0ABC', 'modifier-caps-lower': 'ABC\u02b0def', 'modifier-iteration': '\u4eba\u3005',
    'modifier-after-space': ' \u02b0\u02b1', 'lo-after-caps': 'AB\u05d0cd',
    camel: 'CamelCase', 'camel-http': 'HTTPServer', 'camel-xml': 'XMLHttpRequest', allcaps: 'ALLCAPS', 'allcaps-lower': 'ALLCAPSlower',
    'allcaps-contr': "ALLCAPS's", 'allcaps-contr-upper': "ALLCAPS'S", 'allcaps-ll': "YOU'LL", 'camel-contr': "Camel's", 'camelcaps-contr': "CAMELCase's",
    'iphone': 'iPhone', 'mcdonalds': "McDonald's", 'caps-space-lower': ' HELLOworld', 'getter': 'getHTTPResponseCode', 'accented-caps': '\u00c0\u00c9\u00ce\u00f5\u00fc',
    'greek-caps': '\u0391\u0392\u0393\u03b1\u03b2', 'cyrillic-caps': '\u041f\u0420\u0418\u0432\u0435\u0442', 'single-upper': 'A', 'upper-lower-upper': 'aBcDeF',
    'snake': 'snake_case_name', 'dunder': '__init__', 'caps-digit': 'ABC123def', 'german-eszett': 'STRA\u00dfE Stra\u1e9ee', 'turkish-i': '\u0130stanbul \u0131i',
  };
  for (const [k, v] of Object.entries(words)) add('letters-' + k, v);

  // punctuation runs with newlines and slashes
  const puncts = { 'slash2': '//', 'bang-nl-slash': '!\n/', 'star-slash-nl': '*/\n', 'comment': '/* comment */\n', 'bang3-nl2': '!!!\n\n', 'dots-crlf': '...\r\n',
    'q-bang-slash': '?!/\n/', 'sp-slash2-nl': ' //\n', 'arrow-nl-slash': '-->\n\n/', 'semi-nl': ';\n', 'brace-paren-nl': '});\n', 'quote-nl-slash': '"\n/',
    'sp2-bang2-nl': '  !!\n', 'slash-cr': '/\r/', 'url': 'https://example.com/a/b?c=d', 'path': '/usr/local/bin/', 'punct-nl-sp': '.\n ', 'code-line': '\tif (x) {\n\t\treturn;\n\t}\n',
    'html': '<div class="a">\n</div>\n', 'punct-unicode': '\u00ab\u2014\u00bb\u2026\n', 'punct-slash-run': '/////\n\n\n', 'sp-punct-sp': 'a ! b', 'dollar': '$$$', 'backslash': '\\\\n\\t' };
  for (const [k, v] of Object.entries(puncts)) add('punct-' + k, v);

  // emoji and scripts
  const emoji = { family: '\u{1f468}\u200d\u{1f469}\u200d\u{1f467}\u200d\u{1f466}', flags: '\u{1f1fa}\u{1f1f8}\u{1f1eb}\u{1f1f7}', 'skin-tone': '\u{1f44d}\u{1f3fd}',
    'rainbow-flag': '\u{1f3f3}\ufe0f\u200d\u{1f308}', heart: '\u2764\ufe0f', 'in-word': 'a\u{1f600}b', 'after-space': ' \u{1f600}', three: '\u{1f600}\u{1f600}\u{1f600}',
    'tag-flag': '\u{1f3f4}\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}', 'zwj-alone': '\u200d', 'vs16-alone': '\ufe0f' };
  for (const [k, v] of Object.entries(emoji)) add('emoji-' + k, v);
  const scriptsText = { cjk: '\u4f60\u597d\uff0c\u4e16\u754c\u3002', japanese: '\u3053\u3093\u306b\u3061\u306f\u4e16\u754c', thai: '\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a',
    devanagari: '\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e', arabic: '\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645',
    hangul: '\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4', 'hangul-jamo': '\u1100\u1161\u11a8', hebrew: '\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd', cyrillic: '\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!',
    greek: '\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5', 'cjk-ext-b': '\u{20000}\u{20001}\u{2a6d6}', 'mixed-latin-cjk': 'Hello\u4e16\u754c world' };
  for (const [k, v] of Object.entries(scriptsText)) add('script-' + k, v);

  // special-token strings of every encoding (ordinary text)
  const specials = new Set();
  for (const e of ['r50k_base', 'p50k_base', 'p50k_edit', 'cl100k_base', 'o200k_base']) {
    for (const s of Object.keys(JSON.parse(fs.readFileSync(require.resolve(`tiktoken/encoders/${e}.json`), 'utf8')).special_tokens)) specials.add(s);
  }
  for (const s of Object.keys(JSON.parse(fs.readFileSync(HARMONY_JSON, 'utf8')).special_tokens)) specials.add(s);
  // Named tokens: alone and in several contexts. The ~1,080 <|reserved_N|> strings differ only in
  // their digits: a deterministic sample alone, and EVERY one inside text, 32 per case, one per line.
  const sorted = [...specials].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const reserved = sorted.filter((s) => /^<\|reserved_\d+\|>$/.test(s));
  for (const s of sorted) {
    const nm = s.replace(/^<\|/, '').replace(/\|>$/, '');
    if (/^reserved_/.test(nm)) {
      const k = reserved.indexOf(s);
      if (k === 0 || k === reserved.length - 1 || k % 37 === 0 || nm === 'reserved_200100' || nm === 'reserved_200018') add(`special-${nm}-alone`, s);
      continue;
    }
    add(`special-${nm}-alone`, s);
    add(`special-${nm}-in-text`, `Hello ${s} world`); add(`special-${nm}-twice`, s + s); add(`special-${nm}-glued`, 'a' + s + '\n'); add(`special-${nm}-after-nl`, 'x\n' + s);
  }
  for (let k = 0; k < reserved.length; k += 32) add(`special-reserved-group-${k / 32}`, reserved.slice(k, k + 32).map((s) => 'x ' + s).join('\n'));
  add('special-partial-open', '<|endoftext'); add('special-partial-close', 'endoftext|>'); add('special-partial-no-gt', '<|endoftext|');
  add('special-all-harmony-named', '<|start|>assistant<|channel|>final<|message|>Hi<|end|><|return|><|call|><|constrain|>');

  // long-ish runs
  add('long-space-1000', ' '.repeat(1000)); add('long-space-1000-a', ' '.repeat(1000) + 'a'); add('long-x-space-1000-y', 'x' + ' '.repeat(1000) + 'y');
  add('long-nl-1000', '\n'.repeat(1000)); add('long-crlf-500', '\r\n'.repeat(500)); add('long-tab-1000', '\t'.repeat(1000)); add('long-a-1000', 'a'.repeat(1000));
  add('long-A-1000', 'A'.repeat(1000)); add('long-digits-4096', '0123456789'.repeat(410).slice(0, 4096)); add('long-bang-2000', '!'.repeat(2000));
  add('long-emoji-500', '\u{1f600}'.repeat(500)); add('long-ab-space-500', 'ab '.repeat(500)); add('long-cjk-1000', '\u4e2d'.repeat(1000));
  add('long-invalid-1000', Buffer.alloc(1000, 0x80)); add('long-mark-1000', 'a' + '\u0301'.repeat(1000)); add('long-sp-nl-mixed', ' \n'.repeat(500));

  // misc
  const misc = { 'hello-world': 'Hello world', 'double-space': 'hello  world', 'leading-space': ' hello', 'trailing-space': 'hello ', 'accented': '\u00e9t\u00e9',
    'sentence': 'The quick brown fox jumps over the lazy dog.', 'python': 'def foo(x):\n    return x + 1\n', 'json': '{"a": [1, 2.5, "x"], "b": null}',
    'tab-indent': '\t\tdef foo():\n', 'nul-in-text': 'a\0b\0\0c', 'control-chars': '\x01\x02\x1b[31mred\x1b[0m', 'del': 'a\x7fb' };
  for (const [k, v] of Object.entries(misc)) add('misc-' + k, v);
  return cases;
}

async function genEdge(jobs) {
  const cases = edgeCases();
  const tasks = ENCODINGS.map((enc) => ({ enc, items: cases.map(([name, b]) => ({ src: 'bytes', name, hex: b.toString('hex'), wantIds: true })) }));
  const res = await runTasks(tasks, jobs, 'edge');
  const byEnc = Object.fromEntries(ENCODINGS.map((e, i) => [e, res[i]]));
  assertHarmony(byEnc, (i) => 'edge case ' + cases[i][0]);
  const lines = [
    '# tokmeter golden: edge-case inputs. Reference: npm tiktoken@1.0.22 (WASM), encode_ordinary.',
    '# hex: the input bytes (lowercase hex; EMPTY field for the empty input), decoded as UTF-8 with WHATWG replacement',
    '# (BOM kept). ids: space separated (EMPTY field when count is 0). One row per (case, encoding), cases in a fixed order.',
    `# ${FAILED} in count and ids: the reference panicked on this input.`,
    'name\tencoding\thex\tcount\tids',
  ];
  cases.forEach(([name, b], ci) => ENCODINGS.forEach((enc, ei) => {
    const r = res[ei][ci];
    lines.push([name, enc, b.toString('hex'), cell(r), r.failed ? FAILED : r.ids].join('\t'));
  }));
  return { text: lines.join('\n') + '\n', n: cases.length };
}

async function genCodepoints(jobs) {
  const chunks = [];
  for (let first = 0; first < 0x110000; first += CHUNK) {
    if (first >= 0xd800 && first <= 0xdfff) continue; // whole chunks of surrogates
    for (const variant of ['sep', 'cat']) chunks.push({ src: 'cps', first, last: first + CHUNK - 1, variant, name: `${first.toString(16)}-${variant}` });
  }
  // batch items so that a task is not one message per chunk
  const tasks = ENCODINGS.map((enc) => ({ enc, items: chunks }));
  const res = await runTasks(tasks, jobs, 'codepoints');
  const byEnc = Object.fromEntries(ENCODINGS.map((e, i) => [e, res[i]]));
  assertHarmony(byEnc, (i) => 'code point chunk ' + chunks[i].name);
  const h = (n) => n.toString(16).toUpperCase().padStart(4, '0');
  const lines = [
    '# tokmeter golden: every Unicode scalar value. Reference: npm tiktoken@1.0.22 (WASM), encode_ordinary.',
    `# One row per chunk of ${CHUNK} consecutive code points first..last (hex, inclusive; surrogates D800..DFFF are never`,
    '# included: those chunks are absent) and variant: "sep" = each code point preceded by U+0020 (" \\u{first} \\u{first+1} ...");',
    '# "cat" = the code points concatenated with nothing between them. Text is UTF-8 encoded (valid, no BOM handling issue).',
    '# Each encoding column is COUNT:HASH, HASH = FNV-1a 64 over the ids, each id as 4 little-endian bytes',
    '# (offset basis 0xcbf29ce484222325, prime 0x100000001b3), 16 lowercase hex digits.',
    `# ${FAILED}: the reference panicked on this chunk.`,
    ['first', 'last', 'variant', ...ENCODINGS].join('\t'),
  ];
  chunks.forEach((c, ci) => {
    lines.push([h(c.first), h(c.last), c.variant, ...ENCODINGS.map((e, ei) => { const r = res[ei][ci]; return r.failed ? FAILED : `${r.count}:${r.hash}`; })].join('\t'));
  });
  return { text: lines.join('\n') + '\n' };
}

// ---------------------------------------------------------------------------------------------
async function main() {
  const argv = process.argv.slice(2);
  const opts = Object.fromEntries(argv.filter((a) => a.startsWith('--')).map((a) => { const [k, v] = a.slice(2).split('='); return [k, v ?? true]; }));
  const modes = argv.filter((a) => !a.startsWith('--'));
  const valid = ['all', 'counts', 'ids', 'edge', 'codepoints'];
  if (!modes.length || modes.some((m) => !valid.includes(m))) {
    console.error('usage: node tools/gen_golden.mjs all|counts|ids|edge|codepoints... [--check] [--corpus=DIR] [--out=DIR] [--jobs=N]');
    process.exit(2);
  }
  const want = new Set(modes.includes('all') ? valid.slice(1) : modes);
  const corpus = opts.corpus ?? process.env.TOKMETER_CORPUS ?? '/work/shared/corpus';
  const outDir = opts.out ?? path.join(ROOT, 'tests', 'golden');
  const jobs = Number(opts.jobs ?? 2);
  const check = !!opts.check;

  // self-test of the hash
  const probe = [0, 1, 255, 256, 65535, 100000, 199997, 4294967295, 123456789];
  if (fnvIds(probe) !== fnvIdsBig(probe) || fnvIds([]) !== 'cbf29ce484222325') throw new Error('fnv self-test failed');

  const tiktokenVersion = JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve('tiktoken')), 'package.json'), 'utf8')).version;
  if (tiktokenVersion !== '1.0.22') throw new Error(`expected tiktoken 1.0.22, found ${tiktokenVersion} (run npm ci --prefix tools)`);
  console.error(`reference tiktoken@${tiktokenVersion}, node ${process.version}, o200k ranks for harmony: ${RANK_CANDIDATES.find((f) => fs.existsSync(f))}`);

  const outputs = [];
  const t0 = Date.now();
  let files = null;
  if (want.has('counts') || want.has('ids')) { files = listCorpus(corpus); console.error(`corpus ${corpus}: ${files.length} files`); }
  if (want.has('counts')) {
    const r = await genCounts(files, jobs);
    outputs.push(['counts.tsv', r.text]);
    for (const e of ENCODINGS) console.error(`  total ${e}: ${r.totals[e].tokens} tokens` + (r.totals[e].failed ? ` (+${r.totals[e].failed} ${FAILED})` : ''));
  }
  if (want.has('ids')) outputs.push(['ids.tsv', (await genIds(files, jobs)).text]);
  if (want.has('edge')) { const r = await genEdge(jobs); console.error(`  ${r.n} edge cases`); outputs.push(['edge.tsv', r.text]); }
  if (want.has('codepoints')) outputs.push(['codepoints.tsv', (await genCodepoints(jobs)).text]);

  let mismatch = 0;
  for (const [name, text] of outputs) {
    const p = path.join(outDir, name);
    if (!/^[\x09\x0a\x20-\x7e]*$/.test(text)) throw new Error(name + ' is not ASCII');
    if (check) {
      const old = fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : null;
      const same = old === text;
      if (!same) mismatch++;
      console.error(`${name}: ${same ? 'up to date' : 'DIFFERS'}`);
    } else {
      fs.mkdirSync(outDir, { recursive: true });
      fs.writeFileSync(p, text);
      console.error(`wrote ${p} (${text.length} bytes)`);
    }
  }
  console.error(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (mismatch) process.exit(1);
}

if (isMainThread) main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
else if (workerData && workerData.worker) workerMain();
