#!/usr/bin/env bash
# tools/check-sanitizers.sh - the library and a fast subset of the tests under sanitizers, and the
# CLI under valgrind memcheck. About 5 minutes on 2 cores.
#
# Usage: tools/check-sanitizers.sh [asan] [tsan] [valgrind]      (default: all three)
#
#   asan      build-asan/: ASan + UBSan (-fno-sanitize-recover=all, leaks checked with
#             tests/lsan.supp for Criterion's own leak), running with ctest: test_unicode,
#             test_api, test_vocab, test_misuse (without its slow >4 GiB suite "huge"),
#             test_threads, test_pretok (without its whole-corpus tests), fuzz_replay (the fuzz
#             corpus), the golden edge-case and code-point tests and the non-corpus stream tests.
#             Criterion tests are selected with CRITERION_TEST_PATTERN; a pattern that selects
#             nothing fails the run.
#   tsan      build-tsan/: ThreadSanitizer running test_threads (8 threads share each handle),
#             built without Criterion, which cannot run under TSan.
#   valgrind  build-valgrind/: memcheck of the plain CLI on corpus files, standard input, --ids,
#             --vocab and error paths (--leak-check=full; a memcheck error fails the run).
#
# Environment: TKM_SAN_CC (compiler, default clang-14; gcc works too), TKM_SAN_JOBS (build
# and ctest parallelism, default 2), TKM_CORPUS_DIR (default ../shared/corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${TKM_SAN_JOBS:-2}
CORPUS=${TKM_CORPUS_DIR:-$ROOT/../shared/corpus}
[[ -d "$CORPUS" ]] && CORPUS=$(cd "$CORPUS" && pwd)
what=("$@")
[[ ${#what[@]} -eq 0 ]] && what=(asan tsan valgrind)
for w in "${what[@]}"; do
  case $w in asan|tsan|valgrind) ;; *) echo "usage: $0 [asan] [tsan] [valgrind]" >&2; exit 2 ;; esac
done
want() { local w; for w in "${what[@]}"; do [[ $w == "$1" ]] && return 0; done; return 1; }

# Debian packages: build + test, and clang-14 / compiler-rt / valgrind (deps.sh group "sanitize").
tools/deps.sh build test sanitize

step() { printf '\n=== %s\n' "$*"; }
t_start=$SECONDS
elapsed() { echo "($((SECONDS - t_start)) s so far)"; }

failed=()
# Sanitizer reports go to files (log_path): Criterion runs each test in a worker process and does
# not fail a test whose worker reports leaks at exit, so the reports are collected here instead.
LOGS=$(mktemp -d); T=$(mktemp -d); trap 'rm -rf "$LOGS" "$T"' EXIT
san_reports() { # NAME: fail NAME if any sanitizer wrote a report since the last call
  local f any=0
  for f in "$LOGS"/*; do
    [[ -e $f ]] || continue
    any=1; echo "--- sanitizer report ($1): ${f##*/}"; cat "$f"; rm -f "$f"
  done
  [[ $any -eq 0 ]] || failed+=("$1: sanitizer reports")
}

# ctest wrapper: every named test must exist (a test the build does not register is an error, not
# a silent pass).
run_ctest() { # BUILD_DIR CRITERION_PATTERN TEST...
  local dir=$1 pat=$2; shift 2
  local regex known t
  regex="^($(IFS='|'; echo "$*"))\$"
  known=$(ctest --test-dir "$dir" -N -R "$regex" | sed -n 's/^ *Test *#[0-9]*: //p')
  for t in "$@"; do
    grep -qx "$t" <<<"$known" || { echo "check-sanitizers: test '$t' is not registered in $dir (tests/CMakeLists.txt)" >&2; exit 1; }
  done
  CRITERION_TEST_PATTERN=$pat ctest --test-dir "$dir" -R "$regex" --no-tests=error --output-on-failure -j"$JOBS" \
    || failed+=("$dir: ctest $* (pattern $pat)")
  # a pattern that selects nothing in a Criterion binary would pass vacuously
  if grep -q 'Synthesis: Tested: 0 ' "$dir/Testing/Temporary/LastTest.log"; then
    failed+=("$dir: pattern '$pat' selects no test in one of: $*")
  fi
  san_reports "$dir: $*"
}

configure_build() { # DIR CC CFLAGS TARGET...
  local dir=$1 cc=$2 flags=$3; shift 3
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" \
    -DTKM_CORPUS_DIR="$CORPUS" >/dev/null
  local help t
  help=$(cmake --build "$dir" --target help)
  for t in "$@"; do
    grep -qE "^(\.\.\. )?$t(:| |\$)" <<<"$help" \
      || { echo "check-sanitizers: no target '$t' in $dir: register it in tests/CMakeLists.txt (tkm_test)" >&2; exit 1; }
  done
  cmake --build "$dir" -j"$JOBS" --target "$@"
}

# ---- ASan + UBSan -----------------------------------------------------------------------------
if want asan; then
  step "ASan+UBSan build (build-asan, ${TKM_SAN_CC:-clang-14})"
  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g"
  # allocator_may_return_null: the library must survive a failed malloc (tests ask for SIZE_MAX)
  export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1:log_path=$LOGS/asan"
  export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$LOGS/ubsan"
  configure_build build-asan "${TKM_SAN_CC:-clang-14}" "$SAN" tokmeter_static \
    test_unicode test_api test_vocab test_pretok test_misuse test_threads test_golden test_stream test_counter fuzz_replay
  san_reports "build-asan: build tools"
  # an uninstrumented build would pass every check below vacuously
  grep -q __asan_init <(nm build-asan/tests/test_misuse) || { echo "check-sanitizers: build-asan is not instrumented" >&2; exit 1; }
  step "ASan+UBSan tests $(elapsed)"
  # Every test of these but test_misuse's >4 GiB inputs (suite huge) and the whole-corpus tests
  # (corpus_*): slow under ASan and the same code paths as the inputs that remain. The CLI is
  # checked by valgrind below. Two rounds of test_threads here; TSan runs more.
  TKM_THREAD_ROUNDS=2 run_ctest build-asan '!(huge)/!(corpus_*)' test_unicode test_api test_vocab test_misuse test_counter \
    test_threads test_pretok fuzz_replay
  run_ctest build-asan 'golden/@(edge_cases|every_code_point)' test_golden
  run_ctest build-asan 'stream/!(corpus*)' test_stream
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
fi

# ---- TSan -------------------------------------------------------------------------------------
# Criterion cannot start under TSan (Criterion issue #274: "Could not initialize inheritable
# arena"), so test_threads.c is built here as a plain program (-DTKM_THREADS_STANDALONE).
if want tsan; then
  step "TSan build (build-tsan, ${TKM_SAN_CC:-clang-14}) $(elapsed)"
  TSAN_FLAGS="-fsanitize=thread -fno-omit-frame-pointer -g"
  configure_build build-tsan "${TKM_SAN_CC:-clang-14}" "$TSAN_FLAGS" test_threads_standalone
  grep -q __tsan_init <(nm build-tsan/tests/test_threads_standalone) \
    || { echo "check-sanitizers: build-tsan is not instrumented" >&2; exit 1; }
  step "TSan test_threads (8 threads sharing each handle) $(elapsed)"
  TKM_THREAD_ROUNDS=${TKM_THREAD_ROUNDS:-4} TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$LOGS/tsan" \
    build-tsan/tests/test_threads_standalone \
    || failed+=("build-tsan: test_threads")
  san_reports "build-tsan: test_threads"
fi

# ---- valgrind memcheck of the CLI -------------------------------------------------------------
if want valgrind; then
  step "valgrind memcheck of the CLI (build-valgrind) $(elapsed)"
  cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTKM_BUILD_TESTS=OFF >/dev/null
  cmake --build build-valgrind -j"$JOBS" --target tokmeter_cli
  TKM=$ROOT/build-valgrind/tokmeter
  SAMPLE=$ROOT/tests/data/sample.txt
  files=()
  for f in english/rfc1034.txt multilingual/udhr-jpn.html code/js-lodash__lodash.js adversarial/UTF-8-test.txt \
           adversarial/invalid-utf8-v0.txt adversarial/random-bytes-v0.bin adversarial/longrun-letter-v0.txt \
           adversarial/special-tokens-v0.txt; do
    # the first 64 KiB of each: every code path of the CLI in seconds, not minutes, under memcheck
    if [[ -f "$CORPUS/$f" ]]; then head -c 65536 "$CORPUS/$f" >"$T/${f##*/}"; files+=("$T/${f##*/}"); fi
  done
  if [[ ${#files[@]} -eq 0 ]]; then
    echo "note: corpus absent: valgrind runs on tests/data/sample.txt only"
    files=("$SAMPLE")
  fi
  printf 'ok \xff bad\n' > "$T/bad.txt"
  vg_fail=0
  # vg EXPECTED_EXIT STDIN ARGS...: memcheck errors or leaks exit 97 (the CLI itself uses 0/1/2)
  vg() {
    local want=$1 in=$2; shift 2
    local rc=0
    valgrind -q --tool=memcheck --error-exitcode=97 --leak-check=full --show-leak-kinds=definite,possible \
      --errors-for-leak-kinds=definite,possible --track-origins=yes --log-file="$T/vg.log" \
      "$TKM" "$@" <"$in" >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc -eq 97 || -s "$T/vg.log" || $rc -ne $want ]]; then
      echo "FAIL: valgrind tokmeter $* (exit $rc, want $want)"; cat "$T/vg.log" "$T/err"; vg_fail=1
    else
      echo "ok: tokmeter $* $( [[ $in != /dev/null ]] && echo "< ${in##*/}") -> exit $rc"
    fi
  }
  vg 0 /dev/null "${files[@]}"
  vg 0 /dev/null --json -e cl100k_base "${files[@]}"
  vg 0 "${files[0]}" -m gpt-4
  vg 0 "${files[0]}" -e r50k_base -
  vg 0 /dev/null --ids -e o200k_base "$SAMPLE"
  vg 0 "${files[-1]}" --ids --json -e cl100k_base
  vg 0 /dev/null --special allow -e o200k_harmony "${files[@]}"
  vg 0 /dev/null -j 2 "${files[@]}"
  vg 0 /dev/null --vocab "$ROOT/vocab/r50k_base.tiktoken" --pattern gpt2 "$SAMPLE"
  vg 0 /dev/null --list
  vg 1 /dev/null "$SAMPLE" "$T/does-not-exist"
  vg 1 "$T/bad.txt" --strict
  vg 1 "$T/bad.txt" --strict --ids
  printf 'text <|endoftext|> more\n' > "$T/special.txt"
  vg 1 /dev/null --special reject -e cl100k_base "$T/special.txt"
  vg 1 /dev/null --vocab "$SAMPLE" --pattern cl100k "$SAMPLE"
  vg 2 /dev/null --bogus-option
  vg 2 /dev/null -e no_such_encoding "$SAMPLE"
  [[ $vg_fail -eq 0 ]] || failed+=("valgrind")
fi

if [[ ${#failed[@]} -ne 0 ]]; then
  step "check-sanitizers: FAILED after $((SECONDS - t_start)) s:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
step "check-sanitizers: all passed in $((SECONDS - t_start)) s"
