#!/usr/bin/env bash
# compare.sh - tokmeter vs the reference tokenizer, side by side, in one run on one machine.
#
# usage: bench/compare.sh [options]
#   --build-dir=DIR    CMake build directory holding bench/tkm_time (default: $TKM_BENCH_BUILD_DIR
#                      or <repo>/build-bench). Configured (-DTKM_BUILD_BENCH=ON, Release, tests off)
#                      if it has no CMakeCache.txt; `cmake --build DIR --target tkm_time` always
#                      runs first so the binary is never stale.
#   --no-build         use DIR/bench/tkm_time as it is
#   --corpus=DIR       corpus root (default: $TKM_CORPUS_DIR or <repo>/../shared/corpus)
#   --encodings=LIST   space- or comma-separated (default: o200k_base cl100k_base)
#   --sets=LIST        default: english code multilingual chat adversarial
#   --also-kernels=LIST  tokmeter once more per kernel named (default: scalar; "" for none), as
#                      extra columns; the main tokmeter column is the default kernel
#   --tkm-runs=N       tokmeter: best of at least N passes after one warm-up pass (default 5) ...
#   --tkm-min=S        ... and more passes until they add up to S seconds (default 2; cheap, and
#                      a short disturbance by other work on the machine cannot spoil every pass)
#   --ref-runs=N       tiktoken: best of up to N passes after a warm-up (default 3) ...
#   --ref-budget=S     ... stopping once its timed passes exceed S seconds (default 20; >= 1 pass)
#
# What is timed, per corpus set (all files of the set, sorted by name, each file one call):
#   tokmeter: bench/tkm_time.c, in-process tkm_count (default options) on bytes in memory.
#   tiktoken: bench/tiktoken_time.mjs, npm tiktoken (tools/node_modules, OpenAI's Rust core as WASM),
#             in-process `encode_ordinary(text).length` on strings decoded beforehand (UTF-8 with
#             replacement, BOM kept: the same input policy as tokmeter's default).
# Neither side includes process start-up, file reading or vocabulary loading.
#
# Both sides get the same file list. Files on which the reference panics are excluded from BOTH
# sides (listed in EXCLUDE below and in the output). The token count of every file must agree;
# otherwise a MISMATCH is printed and the exit status is 1 (after the whole table is printed).
# Exit status: 0 all counts agree; 1 mismatch or a side failed; 2 usage or setup error.
#
# Run time on the 2-core dev VM is about 6 minutes, almost all of it the reference on the
# adversarial set (~2 minutes per encoding for one pass), so it gets a single pass there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CMDLINE=$(printf "%q " "$0" "$@"); CMDLINE=${CMDLINE% }
BUILD=${TKM_BENCH_BUILD_DIR:-$ROOT/build-bench}
CORPUS=${TKM_CORPUS_DIR:-$ROOT/../shared/corpus}
ENCODINGS="o200k_base cl100k_base"
ALSO_KERNELS=scalar
SETS="english code multilingual chat adversarial"
TKM_RUNS=5
TKM_MIN=2
REF_RUNS=3
REF_BUDGET=20
DO_BUILD=1
# Inputs on which tiktoken 1.0.22's WASM regex engine panics ("RuntimeError: unreachable"); see
# tests/golden/counts.tsv (REFERENCE_FAILED). Paths relative to the corpus root.
EXCLUDE="adversarial/longrun-letter-v0.txt"

die() { echo "compare.sh: $*" >&2; exit 2; }
for a in "$@"; do
  case "$a" in
    --build-dir=*) BUILD=${a#*=} ;;
    --no-build) DO_BUILD=0 ;;
    --corpus=*) CORPUS=${a#*=} ;;
    --encodings=*) ENCODINGS=${a#*=}; ENCODINGS=${ENCODINGS//,/ } ;;
    --sets=*) SETS=${a#*=}; SETS=${SETS//,/ } ;;
    --also-kernels=*) ALSO_KERNELS=${a#*=}; ALSO_KERNELS=${ALSO_KERNELS//,/ } ;;
    --tkm-runs=*) TKM_RUNS=${a#*=} ;;
    --tkm-min=*) TKM_MIN=${a#*=} ;;
    --ref-runs=*) REF_RUNS=${a#*=} ;;
    --ref-budget=*) REF_BUDGET=${a#*=} ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $a (see --help)" ;;
  esac
done

[ -d "$CORPUS" ] || die "corpus not found: $CORPUS (use --corpus=DIR or TKM_CORPUS_DIR)"
CORPUS=$(cd "$CORPUS" && pwd)
command -v node >/dev/null || die "node not found (apt-get install nodejs)"
[ -f "$ROOT/tools/node_modules/tiktoken/package.json" ] ||
  die "tiktoken not installed: run npm ci --prefix $ROOT/tools"

if [ "$DO_BUILD" = 1 ]; then
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    echo "compare.sh: configuring $BUILD" >&2
    cmake -S "$ROOT" -B "$BUILD" -DTKM_BUILD_BENCH=ON -DTKM_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >&2
  elif ! grep -q '^TKM_BUILD_BENCH:BOOL=ON' "$BUILD/CMakeCache.txt"; then
    cmake "$BUILD" -DTKM_BUILD_BENCH=ON >&2
  fi
  cmake --build "$BUILD" --target tkm_time -j2 >&2
fi
TKM_TIME=$BUILD/bench/tkm_time
[ -x "$TKM_TIME" ] || die "$TKM_TIME not found (build with -DTKM_BUILD_BENCH=ON)"
if grep -q '^CMAKE_BUILD_TYPE:STRING=' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt")
else
  BUILD_TYPE=unknown
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tkm-compare.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ---- header ------------------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
flags=$(awk -F': ' '/^flags/ { print $2; exit }' /proc/cpuinfo)
has() { case " $flags " in *" $1 "*) echo yes ;; *) echo no ;; esac; }
tkver=$(node -p "require('$ROOT/tools/node_modules/tiktoken/package.json').version")
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$rev" != unknown ] && [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  rev="$rev (with uncommitted changes)"
fi

echo "# tokmeter vs tiktoken"
echo
echo "- date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "- command: \`$CMDLINE\` (in $(pwd))"
echo "- CPU: ${cpu:-unknown}, $(nproc) cores online; avx2: $(has avx2), avx512f: $(has avx512f), avx512bw: $(has avx512bw), bmi2: $(has bmi2)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
DEFAULT_KERNEL=$("$BUILD/tokmeter" --kernels 2>/dev/null | awk '$1 == "*" { print $2 }')
[ -n "$DEFAULT_KERNEL" ] || DEFAULT_KERNEL="default"
echo "- tokmeter: git $rev, build $BUILD ($BUILD_TYPE), kernel: $DEFAULT_KERNEL${TOKMETER_KERNEL:+ (TOKMETER_KERNEL)}; also: ${ALSO_KERNELS:-none}"
echo "- 'CPU MB/s': set bytes / best CPU time of a pass (excludes time waiting for a core on a busy machine)"
echo "- tiktoken: npm tiktoken@$tkver (WASM) on node $(node --version)"
echo "- corpus: $CORPUS"
echo "- tokmeter: best of at least $TKM_RUNS passes (more until ${TKM_MIN}s) after a warm-up pass; tiktoken: best of up to $REF_RUNS passes after a warm-up, stopping once its passes exceed ${REF_BUDGET}s (passes actually run: column 'ref runs')"
echo "- excluded from BOTH sides (the reference panics on it): $EXCLUDE"
echo "- MB = 10^6 bytes; MB/s = set bytes / best pass time; ratio = tokmeter MB/s / tiktoken MB/s"
echo

mismatch=0
failed=0

# Sorted file list of one set, minus exclusions, one absolute path per line.
set_files() {
  local set=$1 f rel skip x
  for f in "$CORPUS/$set"/*; do
    [ -f "$f" ] || continue
    rel=${f#"$CORPUS"/}
    skip=0
    for x in $EXCLUDE; do [ "$rel" = "$x" ] && skip=1; done
    [ "$skip" = 1 ] || printf '%s\n' "$f"
  done | LC_ALL=C sort
}

for enc in $ENCODINGS; do
  echo "## $enc"
  echo
  hk=""; hs=""; empty=" |"
  for k in $ALSO_KERNELS; do hk="$hk $k MB/s |"; hs="$hs---:|"; empty="$empty |"; done
  echo "| set | files | MB | tokens | tokmeter MB/s | CPU MB/s |$hk tiktoken MB/s | ratio | ref runs |"
  echo "|---|---:|---:|---:|---:|---:|$hs---:|---:|---:|"
  tot_bytes=0; tot_tokens=0; tot_tkm=0; tot_ref=0; tot_ok=1
  nadv_bytes=0; nadv_tokens=0; nadv_tkm=0; nadv_ref=0; nadv_n=0
  for set in $SETS; do
    if [ ! -d "$CORPUS/$set" ]; then
      echo "| $set | corpus set missing | | | | | | |"
      failed=1; tot_ok=0; continue
    fi
    mapfile -t files < <(set_files "$set")
    if [ "${#files[@]}" -eq 0 ]; then
      echo "| $set | 0 | | | | | | |"; continue
    fi
    out_t=$TMP/$enc.$set.tkm; out_r=$TMP/$enc.$set.ref
    echo "compare.sh: $enc/$set: tokmeter ..." >&2
    if ! "$TKM_TIME" -n "$TKM_RUNS" -t "$TKM_MIN" "$enc" "${files[@]}" >"$out_t"; then
      echo "| $set | tokmeter FAILED | | | | | | |"; failed=1; tot_ok=0; continue
    fi
    echo "compare.sh: $enc/$set: tiktoken ..." >&2
    rc=0
    node "$ROOT/bench/tiktoken_time.mjs" --runs="$REF_RUNS" --budget="$REF_BUDGET" "$enc" "${files[@]}" >"$out_r" || rc=$?
    if [ "$rc" -ne 0 ]; then
      why=$(grep '^FAIL' "$out_r" | cut -f2- | tr '\t' ' ' || true)
      echo "| $set | tiktoken FAILED (exit $rc) ${why:+: $why} | | | | | | |"
      echo "!!! REFERENCE FAILED on $enc/$set: ${why:-exit $rc} (add the file to EXCLUDE if it is a known panic)" >&2
      failed=1; tot_ok=0; continue
    fi
    # per-file comparison
    bad=$(awk -F'\t' 'NR==FNR { if ($1=="FILE") t[$2]=$4; next }
                      $1=="FILE" && t[$2] != $4 { printf "%s tokmeter=%s tiktoken=%s\n", $2, t[$2], $4 }' "$out_t" "$out_r")
    read -r _ bytes tok_t sec_t _ cpu_t < <(grep '^TOTAL' "$out_t")
    read -r _ bytes_r tok_r sec_r runs_r < <(grep '^TOTAL' "$out_r")
    kcols=""
    for k in $ALSO_KERNELS; do
      echo "compare.sh: $enc/$set: tokmeter, kernel $k ..." >&2
      if TOKMETER_KERNEL=$k "$TKM_TIME" -n "$TKM_RUNS" -t "$TKM_MIN" "$enc" "${files[@]}" >"$out_t.$k"; then
        read -r _ _ tok_k sec_k _ < <(grep '^TOTAL' "$out_t.$k")
        [ "$tok_k" = "$tok_t" ] || { bad="$bad kernel $k: $tok_k tokens, default kernel $tok_t"; }
        kcols="$kcols $(awk -v b="$bytes" -v t="$sec_k" 'BEGIN { printf "%.1f", b / t / 1e6 }') |"
      else
        kcols="$kcols FAILED |"; failed=1
      fi
    done
    row=$(awk -v s="$set" -v n="${#files[@]}" -v b="$bytes" -v k="$tok_t" -v tt="$sec_t" -v tc="${cpu_t:-0}" -v tr="$sec_r" -v rr="$runs_r" -v kc="$kcols" 'BEGIN {
            mt = b / tt / 1e6; mr = b / tr / 1e6; mc = (tc > 0 ? b / tc / 1e6 : 0);
            printf "| %s | %d | %.2f | %d | %.1f | %.1f |%s %.2f | %.1fx | %d |", s, n, b / 1e6, k, mt, mc, kc, mr, mt / mr, rr }')
    if [ -n "$bad" ] || [ "$tok_t" != "$tok_r" ] || [ "$bytes" != "$bytes_r" ]; then
      mismatch=1; tot_ok=0
      echo "$row **MISMATCH: tokmeter $tok_t tokens, tiktoken $tok_r**"
      {
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        echo "!!! MISMATCH $enc/$set: tokmeter $tok_t tokens, tiktoken $tok_r tokens"
        printf '%s\n' "$bad" | sed 's/^/!!!   /'
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
      } | tee -a "$TMP/mismatches" >&2
    else
      echo "$row"
    fi
    tot_bytes=$((tot_bytes + bytes)); tot_tokens=$((tot_tokens + tok_t))
    tot_tkm=$(awk -v a="$tot_tkm" -v b="$sec_t" 'BEGIN { printf "%.6f", a + b }')
    tot_ref=$(awk -v a="$tot_ref" -v b="$sec_r" 'BEGIN { printf "%.6f", a + b }')
    if [ "$set" != adversarial ]; then
      nadv_n=$((nadv_n + 1)); nadv_bytes=$((nadv_bytes + bytes)); nadv_tokens=$((nadv_tokens + tok_t))
      nadv_tkm=$(awk -v a="$nadv_tkm" -v b="$sec_t" 'BEGIN { printf "%.6f", a + b }')
      nadv_ref=$(awk -v a="$nadv_ref" -v b="$sec_r" 'BEGIN { printf "%.6f", a + b }')
    fi
    # the reference's slowest files, for the notes below the table
    awk -F'\t' -v s="$set" '$1=="FILE" { n=split($2, p, "/"); printf "%s\t%s/%s\t%.2f MB\t%.2f MB/s\n", $5, s, p[n], $3/1e6, ($5>0 ? $3/$5/1e6 : 0) }' \
      "$out_r" >>"$TMP/$enc.slow"
  done
  if [ "$nadv_n" -gt 0 ] && [ "$nadv_bytes" != "$tot_bytes" ]; then
    awk -v b="$nadv_bytes" -v k="$nadv_tokens" -v tt="$nadv_tkm" -v tr="$nadv_ref" -v e="$empty" 'BEGIN {
          mt = b / tt / 1e6; mr = b / tr / 1e6;
          printf "| **all but adversarial** | | %.2f | %d | %.1f |%s %.2f | %.1fx | |\n", b / 1e6, k, mt, e, mr, mt / mr }'
  fi
  if [ "$tot_bytes" -gt 0 ]; then
    awk -v b="$tot_bytes" -v k="$tot_tokens" -v tt="$tot_tkm" -v tr="$tot_ref" -v ok="$tot_ok" -v e="$empty" 'BEGIN {
          mt = b / tt / 1e6; mr = b / tr / 1e6;
          printf "| **all** | | %.2f | %d | %.1f |%s %.2f | %.1fx | |%s\n", b / 1e6, k, mt, e, mr, mt / mr, (ok ? "" : " (incomplete)") }'
  fi
  echo
  if [ -s "$TMP/$enc.slow" ]; then
    echo "Slowest files for tiktoken ($enc; seconds in its best pass):"
    sort -t$'\t' -k1,1 -g -r "$TMP/$enc.slow" | awk -F'\t' 'NR <= 5 { printf "- %s: %.2f s (%s, %s)\n", $2, $1, $3, $4 }'
    echo
  fi
done

if [ "$mismatch" = 1 ]; then
  echo "**MISMATCH: tokmeter and tiktoken disagree on the token count (details on stderr)**"
  cat "$TMP/mismatches"
  exit 1
fi
if [ "$failed" = 1 ]; then
  echo "**INCOMPLETE: a side failed or a set was missing (see above)**"
  exit 1
fi
echo "All token counts agree (every file of every set, every encoding)."
