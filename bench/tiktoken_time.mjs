#!/usr/bin/env node
// tiktoken_time.mjs - in-process timing of the reference tokenizer (npm tiktoken, OpenAI's Rust
// core compiled to WASM) over a list of files. Used by bench/compare.sh; output format matches
// bench/tkm_time.c.
//
// usage: node bench/tiktoken_time.mjs [--runs=N] [--budget=SECONDS] ENCODING FILE...
//
// Every file is read and decoded to a JS string first (UTF-8 with WHATWG replacement, BOM kept:
// the same input policy as tokmeter's default and as tests/golden). That decode is NOT timed:
// what is timed is `enc.encode_ordinary(text).length` per file, which includes tiktoken's own
// copy of the JS string into WASM memory as UTF-8. Warm-up: the first 64 KiB (in UTF-16 units)
// of every file, at most 1 MiB in all, encoded once untimed. Then up to N timed passes
// (default 3), stopping early once the timed passes add up to more than --budget seconds
// (default 20; at least one pass always runs); the best pass is reported.
//
// Prints (tab-separated):
//     FILE <path> <bytes> <tokens> <seconds>     one line per file (seconds: in the best pass)
//     TOTAL <bytes> <tokens> <best_seconds> <runs>
// If the reference throws (its regex engine panics on some very long runs), prints
//     FAIL <path> <message>
// and exits 3: the WASM instance may be corrupt after a panic, so nothing more is measured.
// tiktoken is loaded from tools/node_modules (npm ci --prefix tools).

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(path.join(ROOT, 'tools', 'package.json'));

let runs = 3;
let budget = 20;
const args = [];
for (const a of process.argv.slice(2)) {
  if (a.startsWith('--runs=')) runs = Number(a.slice(7));
  else if (a.startsWith('--budget=')) budget = Number(a.slice(9));
  else args.push(a);
}
if (!(runs >= 1) || !(budget >= 0) || args.length < 2) {
  process.stderr.write('usage: node bench/tiktoken_time.mjs [--runs=N] [--budget=SECONDS] ENCODING FILE...\n');
  process.exit(2);
}
const [encodingName, ...files] = args;

const { get_encoding } = require('tiktoken');
const enc = get_encoding(encodingName);
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const inputs = files.map((p) => {
  const buf = fs.readFileSync(p);
  return { path: p, bytes: buf.length, text: decoder.decode(buf), tokens: -1, seconds: 0 };
});

function encodeOrDie(inp, text) {
  try {
    return enc.encode_ordinary(text).length;
  } catch (e) {
    process.stdout.write(`FAIL\t${inp.path}\t${String(e && e.message ? e.message : e).replace(/\s+/g, ' ')}\n`);
    process.exit(3);
  }
}

// warm-up
let warm = 0;
for (const inp of inputs) {
  if (warm >= 1 << 20) break;
  const slice = inp.text.slice(0, 1 << 16);
  encodeOrDie(inp, slice);
  warm += slice.length;
}

let best = Infinity;
let spent = 0;
let done = 0;
for (let r = 0; r < runs; r++) {
  let dt = 0;
  const per = [];
  for (const inp of inputs) {
    const t0 = performance.now();
    const n = encodeOrDie(inp, inp.text);
    const t = (performance.now() - t0) / 1000;
    per.push(t);
    dt += t;
    if (inp.tokens >= 0 && inp.tokens !== n) {
      process.stderr.write(`tiktoken_time: count changed between runs on ${inp.path}\n`);
      process.exit(1);
    }
    inp.tokens = n;
  }
  done++;
  if (dt < best) {
    best = dt;
    inputs.forEach((inp, i) => { inp.seconds = per[i]; });
  }
  spent += dt;
  if (spent > budget) break;
}
enc.free();

let bytes = 0;
let tokens = 0;
let out = '';
for (const inp of inputs) {
  out += `FILE\t${inp.path}\t${inp.bytes}\t${inp.tokens}\t${inp.seconds.toFixed(6)}\n`;
  bytes += inp.bytes;
  tokens += inp.tokens;
}
out += `TOTAL\t${bytes}\t${tokens}\t${best.toFixed(6)}\t${done}\n`;
process.stdout.write(out);
