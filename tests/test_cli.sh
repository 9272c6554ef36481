#!/usr/bin/env bash
# tests/test_cli.sh - the tokmeter command behaves like a good Unix tool.
# Usage: test_cli.sh PATH/TO/tokmeter SOURCE_DIR CORPUS_DIR
# Expected counts of tests/data/sample.txt come from the reference (npm tiktoken 1.0.22,
# encode_ordinary), recorded when the sample was written.
set -u
TKM=$1; SRC=$2; CORPUS=$3
SAMPLE=$SRC/tests/data/sample.txt
T=$(mktemp -d); trap 'chmod -R u+rwx "$T"; rm -rf "$T"' EXIT
pass=0; fail=0
ok()   { pass=$((pass+1)); }
bad()  { fail=$((fail+1)); echo "FAIL: $*"; }
expect_eq() { [[ "$1" == "$2" ]] && ok || bad "$3: got [$1] want [$2]"; }

# counts per encoding (reference values)
declare -A want=([o200k_base]=67 [cl100k_base]=71 [r50k_base]=94 [p50k_base]=94 [p50k_edit]=94 [o200k_harmony]=67 [gpt2]=94)
for e in "${!want[@]}"; do
  expect_eq "$("$TKM" -e "$e" "$SAMPLE")" "${want[$e]} $SAMPLE" "count -e $e"
done
expect_eq "$("$TKM" "$SAMPLE")" "67 $SAMPLE" "default encoding is o200k_base"
expect_eq "$("$TKM" -m gpt-4 < "$SAMPLE")" "71" "stdin, -m gpt-4"
expect_eq "$("$TKM" -m gpt-oss-20b - < "$SAMPLE")" "67 -" "'-' is stdin, gpt-oss -> harmony"
expect_eq "$("$TKM" --encoding=cl100k_base "$SAMPLE" "$SAMPLE" | tail -1)" "142 total" "total line"
expect_eq "$("$TKM" --json -e cl100k_base "$SAMPLE")" "{\"file\":\"$SAMPLE\",\"encoding\":\"cl100k_base\",\"tokens\":71,\"bytes\":$(stat -c %s "$SAMPLE")}" "json"
expect_eq "$(printf 'hello world' | "$TKM" --ids -e cl100k_base)" "15339 1917" "--ids"
expect_eq "$(printf 'hello world' | "$TKM" --ids --json -e cl100k_base)" '{"file":"-","encoding":"cl100k_base","ids":[15339,1917],"tokens":2,"bytes":11}' "--ids --json"
expect_eq "$(printf '' | "$TKM")" "0" "empty input"
"$TKM" --version | grep -Eq '^tokmeter [0-9]+\.[0-9]+\.[0-9]+$' && ok || bad "--version"
"$TKM" --list | grep -q 'gpt-4o.*o200k_base' && ok || bad "--list models"
"$TKM" --list | grep -q 'cl100k_base.*n_vocab 100277' && ok || bad "--list encodings"
"$TKM" --help | grep -q 'usage:' && ok || bad "--help"

# special tokens and strict UTF-8
expect_eq "$(printf 'a<|endoftext|>b' | "$TKM" -e cl100k_base --ids --special allow)" "64 100257 65" "--special allow"
printf 'a<|endoftext|>b' | "$TKM" --special reject >"$T/out" 2>"$T/err"; rc=$?
expect_eq "$rc" 1 "--special reject exit"; grep -q 'special token at byte offset 1' "$T/err" && ok || bad "reject message"
[[ ! -s "$T/out" ]] && ok || bad "reject printed a count"
printf 'ok \xff bad' | "$TKM" --strict >"$T/out" 2>"$T/err"; rc=$?
expect_eq "$rc" 1 "--strict exit"; grep -q 'invalid UTF-8 at byte offset 3' "$T/err" && ok || bad "strict message: $(cat "$T/err")"
[[ ! -s "$T/out" ]] && ok || bad "strict printed a count"
expect_eq "$(printf 'ok \xff bad' | "$TKM")" "$(printf 'ok \xef\xbf\xbd bad' | "$TKM")" "replacement policy"

# failure modes: missing file, directory, unreadable, bad option, unknown encoding/model
"$TKM" "$T/nope" >"$T/out" 2>"$T/err"; rc=$?
expect_eq "$rc" 1 "missing file exit"; grep -q 'No such file' "$T/err" && ok || bad "missing file message"
"$TKM" "$T" >"$T/out" 2>"$T/err"; rc=$?
expect_eq "$rc" 1 "directory exit"; grep -q 'Is a directory' "$T/err" && ok || bad "directory message"
"$TKM" "$SAMPLE" "$T/nope" >"$T/out" 2>"$T/err"; rc=$?
expect_eq "$rc" 1 "partial failure exit"
expect_eq "$(cat "$T/out")" "67 $SAMPLE" "good file still counted, no total after a failure"
if [[ $(id -u) -ne 0 ]]; then
  cp "$SAMPLE" "$T/locked"; chmod 000 "$T/locked"
  "$TKM" "$T/locked" >/dev/null 2>"$T/err"; rc=$?
  expect_eq "$rc" 1 "unreadable exit"; grep -q 'Permission denied' "$T/err" && ok || bad "unreadable message"
fi
"$TKM" --bogus >/dev/null 2>"$T/err"; rc=$?
expect_eq "$rc" 2 "bad option exit"; grep -q "unknown option" "$T/err" && ok || bad "bad option message"
"$TKM" -e nope "$SAMPLE" >/dev/null 2>"$T/err"; rc=$?
expect_eq "$rc" 2 "unknown encoding exit"
"$TKM" -m nope "$SAMPLE" >/dev/null 2>"$T/err"; rc=$?
expect_eq "$rc" 2 "unknown model exit"
"$TKM" -e >/dev/null 2>"$T/err"; rc=$?
expect_eq "$rc" 2 "missing option argument"
"$TKM" -e cl100k_base -m gpt-4 "$SAMPLE" >/dev/null 2>&1; rc=$?
expect_eq "$rc" 2 "conflicting -e and -m"

# FIFO and a pipe larger than one read chunk: bounded-memory streaming equals the one-shot count
mkfifo "$T/fifo"; (cat "$SAMPLE" > "$T/fifo" &)
expect_eq "$("$TKM" "$T/fifo")" "67 $T/fifo" "fifo"
cp "$SAMPLE" "$T/big"; for i in $(seq 1 15); do cat "$T/big" "$T/big" > "$T/big2"; mv "$T/big2" "$T/big"; done
expect_eq "$("$TKM" < "$T/big")" "$("$TKM" --ids < "$T/big" | wc -w)" "7 MB pipe: stream count = encode count"

# custom vocabulary through --vocab
expect_eq "$("$TKM" --vocab "$SRC/vocab/cl100k_base.tiktoken" --pattern cl100k "$SAMPLE" | cut -d' ' -f1)" "71" "--vocab"
"$TKM" --vocab "$SAMPLE" --pattern cl100k "$SAMPLE" >/dev/null 2>"$T/err"; rc=$?
expect_eq "$rc" 1 "--vocab malformed"; grep -q 'malformed vocabulary' "$T/err" && ok || bad "--vocab message"

# output errors: a full disk is reported, not ignored
if [[ -w /dev/full ]]; then
  "$TKM" "$SAMPLE" >/dev/full 2>"$T/err"; rc=$?
  expect_eq "$rc" 1 "write error exit"; grep -q 'write error' "$T/err" && ok || bad "write error message"
fi

# a closed output pipe is reported, with a non-zero exit (not a silent SIGPIPE death)
"$TKM" --ids "$T/big" 2>"$T/err" | head -c 10 >/dev/null; rc=${PIPESTATUS[0]}
expect_eq "$rc" 1 "broken pipe exit"; grep -q 'write error: Broken pipe' "$T/err" && ok || bad "broken pipe message"

# a regular file that changes while it is read is not counted (writer appends throughout the read)
for i in 1 2 3; do cat "$T/big"; done > "$T/grow"
( for i in $(seq 1 400); do echo more >> "$T/grow"; sleep 0.01; done ) & writer=$!
sleep 0.05
"$TKM" "$T/grow" >"$T/out" 2>"$T/err"; rc=$?
kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null
expect_eq "$rc" 1 "changing file exit"; grep -q 'file changed while being read' "$T/err" && ok || bad "changing file message"
[[ ! -s "$T/out" ]] && ok || bad "changing file printed a count"

# --limit and --truncate (budgets)
expect_eq "$("$TKM" --limit 67 "$SAMPLE")" "67 $SAMPLE" "--limit within"
"$TKM" --limit 67 "$SAMPLE" >/dev/null; expect_eq "$?" 0 "--limit within exit"
"$TKM" --limit 66 "$SAMPLE" >"$T/out"; rc=$?
expect_eq "$rc" 1 "--limit over exit"; grep -Eq '^[0-9]+\+ ' "$T/out" && ok || bad "--limit over output: $(cat "$T/out")"
expect_eq "$("$TKM" --limit 5 --json -e cl100k_base "$SAMPLE" | grep -c '"within_limit":false')" "1" "--limit --json"
"$TKM" --limit 5 "$T/nope" 2>/dev/null; expect_eq "$?" 2 "--limit error exit is 2, not 'over'"
"$TKM" --limit x "$SAMPLE" 2>/dev/null; expect_eq "$?" 2 "--limit bad number"
# (re-counting a truncated prefix need not give N in general; for this sample it does at every N tried)
for n in 0 1 5 17 40 66 67 200; do
  got=$("$TKM" --truncate $n "$SAMPLE" | "$TKM")
  want=$(( n < 67 ? n : 67 ))
  expect_eq "$got" "$want" "--truncate $n then count"
done
expect_eq "$("$TKM" --truncate 1000 "$SAMPLE" | cmp - "$SAMPLE" && echo same)" "same" "--truncate over the length is the whole input"
# a 1 MiB input against a 10-token budget stops early (reads one chunk, not the whole pipe)
expect_eq "$(cat "$T/big" | "$TKM" --limit 10 | cut -d' ' -f1)" "11+" "--limit on a pipe"

# corpus spot checks against the golden counts (if both are present)
G=$SRC/tests/golden/counts.tsv
if [[ -d "$CORPUS" && -f "$G" ]]; then
  while IFS=$'\t' read -r enc path size sha count; do
    [[ "$count" =~ ^[0-9]+$ && -f "$CORPUS/$path" ]] || continue
    expect_eq "$("$TKM" -e "$enc" "$CORPUS/$path" | cut -d' ' -f1)" "$count" "golden $enc $path"
  done < <(grep -E '^(o200k_base|cl100k_base)'$'\t''(english/rfc1034|code/js-lodash|multilingual/udhr-jpn|adversarial/UTF-8-test|chat/openai-mtbench)' "$G")
else
  echo "note: corpus or golden counts absent: corpus spot checks skipped"
fi

# ---- issue 5: streaming chunks, chat bodies, request logs, costs ----------------------------
# --stream-chunk N equals the one-shot count (the --ids count is independent of the stream path)
ids_n=$("$TKM" --ids "$SAMPLE" | wc -w)
for n in 1 2 3 7 64 4096; do
  expect_eq "$("$TKM" --stream-chunk $n "$SAMPLE")" "$ids_n $SAMPLE" "--stream-chunk $n"
done
"$TKM" --stream-chunk 0 "$SAMPLE" >/dev/null 2>&1; expect_eq "$?" 2 "--stream-chunk 0 is a usage error"
"$TKM" --stream-chunk 5 --ids "$SAMPLE" >/dev/null 2>&1; expect_eq "$?" 2 "--stream-chunk with --ids"
# --follow: running totals while a pipe is open (two writes, a pause between), then the final count
( printf 'first part of the text. '; sleep 0.3; printf 'second part.\n' ) | "$TKM" --follow > "$T/follow"
grep -Eq '^[0-9]+ so far$' "$T/follow" && ok || bad "--follow prints running totals: $(cat "$T/follow")"
expect_eq "$(tail -1 "$T/follow")" "$(printf 'first part of the text. second part.\n' | "$TKM")" "--follow final count"
# a progress bar for long runs (64 MiB or more) only when stderr is a terminal
for i in 1 2 3 4 5 6 7 8 9; do cat "$T/big"; done > "$T/big64"
"$TKM" "$T/big64" >/dev/null 2>"$T/err"; [[ ! -s "$T/err" ]] && ok || bad "progress bar on a non-terminal stderr"
if command -v script >/dev/null; then
  script -qec "$TKM $T/big64" /dev/null > "$T/tty" 2>&1
  grep -q '100%' "$T/tty" && ok || bad "progress bar on a terminal"
  grep -q "$("$TKM" < "$T/big64") $T/big64" "$T/tty" && ok || bad "count after the progress bar"
fi
# --stream-chunk 1 on a corpus file equals its golden count
G1=$(grep -P '^o200k_base\tchat/openai-mtbench-and-judge.jsonl\t' "$SRC/tests/golden/counts.tsv" 2>/dev/null | cut -f5)
if [[ -n "$G1" && -f "$CORPUS/chat/openai-mtbench-and-judge.jsonl" ]]; then
  expect_eq "$("$TKM" --stream-chunk 1 "$CORPUS/chat/openai-mtbench-and-judge.jsonl" | cut -d' ' -f1)" "$G1" "--stream-chunk 1 on a corpus file"
fi

# chat: the cookbook's example (its recorded API counts: gpt-4o 124, gpt-4 129)
cat > "$T/ex1.json" <<'EOF'
{"model": "gpt-4o", "messages": [
 {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
 {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
 {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
 {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
 {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
 {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}]}
EOF
"$TKM" chat "$T/ex1.json" | grep -q 'prompt_tokens 124 ' && ok || bad "chat: cookbook example gpt-4o"
"$TKM" chat -m gpt-4 "$T/ex1.json" | grep -q 'prompt_tokens 129 ' && ok || bad "chat -m gpt-4: cookbook example"
"$TKM" chat --json "$T/ex1.json" < /dev/null | grep -q '"prompt_tokens":124,' && ok || bad "chat --json"
# --cost: 124 input tokens at gpt-4o's $2.50 per 1M (data/prices.tsv) = $0.00031
"$TKM" chat --cost "$T/ex1.json" | grep -q 'cost_usd 0.00031 ' && ok || bad "chat --cost: $("$TKM" chat --cost "$T/ex1.json")"
"$TKM" chat --cost --json "$T/ex1.json" | grep -q '"total_pico_usd":310000000,' && ok || bad "chat --cost --json"
printf 'model\tmatch\tencoding\tinput\tcached_input\toutput\tdate\tsource\ngpt-4o\texact\to200k_base\t1\t-\t1\t2026-12-01\ttest\n' > "$T/prices.tsv"
"$TKM" chat --cost --prices "$T/prices.tsv" "$T/ex1.json" | grep -q 'cost_usd 0.000124 ' && ok || bad "chat --prices"
printf 'gpt-4o\texact\to200k_base\tx\t-\t1\t2026-12-01\ttest\n' > "$T/badprices.tsv"
"$TKM" chat --cost --prices "$T/badprices.tsv" "$T/ex1.json" >/dev/null 2>"$T/err"; rc=$?
expect_eq "$rc" 1 "bad price table exit"; grep -q 'badprices.tsv:1: malformed price table' "$T/err" && ok || bad "bad price table message: $(cat "$T/err")"
"$TKM" chat --cost -m gpt-4 "$T/ex1.json" >/dev/null 2>"$T/err"; expect_eq "$?" 1 "no price: exit 1"
grep -q "no price for model 'gpt-4'" "$T/err" && ok || bad "no price message"
# a response body and an SSE capture: completion tokens = the count of the generated text
printf '{"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, how are you?"}}]}' > "$T/resp.json"
want=$(printf 'Hello there, how are you?' | "$TKM")
"$TKM" chat "$T/resp.json" | grep -q "completion_tokens $want " && ok || bad "chat response: $("$TKM" chat "$T/resp.json")"
printf 'data: {"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hello th"}}]}\n\ndata: {"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"ere, how are you?"}}]}\n\ndata: [DONE]\n\n' > "$T/cap.sse"
"$TKM" chat "$T/cap.sse" | grep -q "completion_tokens $want " && ok || bad "chat SSE: $("$TKM" chat "$T/cap.sse")"
printf '{"model":"gpt-4o","messages":[' > "$T/broken.json"
"$TKM" chat "$T/broken.json" >/dev/null 2>"$T/err"; expect_eq "$?" 1 "chat malformed exit"
grep -q 'malformed JSON: JSON: unexpected end of input at byte 30' "$T/err" && ok || bad "chat malformed message: $(cat "$T/err")"
printf '{"model":"gpt-4o","messages":[{"role":"user","content":5}]}' > "$T/shape.json"
"$TKM" chat "$T/shape.json" 2>&1 >/dev/null | grep -q 'messages\[0\].content' && ok || bad "chat wrong shape names the path"
"$TKM" chat --ids "$T/ex1.json" >/dev/null 2>&1; expect_eq "$?" 2 "chat --ids is a usage error"

# --jsonl FIELD: per-line counts and a total; bad lines name their number
printf '{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}]}\n\n{"body":{"model":"gpt-4o-mini","prompt":"one two three"}}\n' > "$T/log.jsonl"
expect_eq "$("$TKM" --jsonl messages.0.content "$T/log.jsonl" 2>/dev/null | head -1)" "$(printf 'hello world' | "$TKM") $T/log.jsonl:1" "--jsonl line count"
"$TKM" --jsonl messages.0.content "$T/log.jsonl" >/dev/null 2>"$T/err"; expect_eq "$?" 1 "--jsonl missing field exit"
grep -q 'log.jsonl:3: malformed request: messages.0.content: not found' "$T/err" && ok || bad "--jsonl error names the line: $(cat "$T/err")"
printf '{"body":{"model":"gpt-4o-mini","prompt":"one two three"}}\n{"body":{"model":"gpt-4o","prompt":"four"}}\n' > "$T/log2.jsonl"
expect_eq "$("$TKM" --jsonl body.prompt "$T/log2.jsonl" | tail -1)" "$(( $(printf 'one two three' | "$TKM") + $(printf 'four' | "$TKM") )) total" "--jsonl total"
# --cost sums each line's model price: 3 x $0.15/1M + 1 x $2.50/1M = $0.00000295
expect_eq "$("$TKM" --jsonl body.prompt --cost "$T/log2.jsonl" | tail -1)" "4 0.00000295 total" "--jsonl --cost total"
printf '{"body":{"prompt":"x"}\n' > "$T/log3.jsonl"
"$TKM" --jsonl body.prompt "$T/log3.jsonl" >/dev/null 2>"$T/err"; expect_eq "$?" 1 "--jsonl malformed line exit"
grep -q 'log3.jsonl:1: malformed JSON' "$T/err" && ok || bad "--jsonl malformed line message"

# --kernels: one kernel marked in use; forcing each usable kernel gives the same counts; a bad
# TOKMETER_KERNEL is a clear error, never a silent fallback
expect_eq "$(env -u TOKMETER_KERNEL "$TKM" --kernels | grep -c '^\* ')" 1 "--kernels marks one kernel"
"$TKM" --kernels | grep -q '^. scalar   native$' && ok || bad "--kernels lists scalar"
KF=$CORPUS/english/rfc1034.txt; [[ -f "$KF" ]] || KF=$SAMPLE
base=$(env -u TOKMETER_KERNEL "$TKM" -e cl100k_base "$KF")
for k in $("$TKM" --kernels | awk '$NF != "CPU" {print ($1 == "*" ? $2 : $1)}'); do
  expect_eq "$(TOKMETER_KERNEL=$k "$TKM" -e cl100k_base "$KF")" "$base" "TOKMETER_KERNEL=$k count"
  expect_eq "$(TOKMETER_KERNEL=$k "$TKM" --kernels | grep '^\* ' | awk '{print $2}')" "$k" "TOKMETER_KERNEL=$k is in use"
done
printf 'x' | TOKMETER_KERNEL=no-such "$TKM" >"$T/out" 2>"$T/err"; expect_eq "$?" 2 "bad TOKMETER_KERNEL exit"
grep -q 'TOKMETER_KERNEL=no-such' "$T/err" && ok || bad "bad TOKMETER_KERNEL message: $(cat "$T/err")"
[[ ! -s "$T/out" ]] && ok || bad "bad TOKMETER_KERNEL printed a count"

# -j N / --jobs N: the output (stdout, stderr, exit status) is that of -j1, for many small files
# counted side by side, for large files cut into windows at safe points, and for standard input
jobs_same() { # jobs_same LABEL ARGS... : -j1 vs -j3
  local a b
  a=$("$TKM" -j1 "${@:2}" 2>&1; echo "rc=$?"); b=$("$TKM" -j3 "${@:2}" 2>&1; echo "rc=$?")
  [[ "$a" == "$b" ]] && ok || bad "-j $1: $(diff <(echo "$a") <(echo "$b") | head -5)"
}
if [[ -d "$CORPUS/english" ]]; then
  jobs_same "corpus" "$CORPUS"/*/*
  jobs_same "code cl100k json" -e cl100k_base --json "$CORPUS"/code/*
  expect_eq "$("$TKM" --jobs=0 "$CORPUS"/chat/* 2>&1)" "$("$TKM" "$CORPUS"/chat/* 2>&1)" "--jobs=0 (one per CPU)"
  jobs_same "strict, a missing file, a directory" --strict "$CORPUS"/adversarial/* "$T/missing" "$CORPUS" "$SAMPLE"
  jobs_same "reject" --special reject "$CORPUS"/adversarial/* "$CORPUS"/chat/*
  # > 64 MiB: several windows; an invalid byte after the first window must keep its file offset
  for i in 1 2 3 4 5; do cat "$CORPUS"/english/*; done > "$T/big.txt"
  printf 'tail \xff end' >> "$T/big.txt"
  big=$(stat -c %s "$T/big.txt")
  [[ $big -gt $((64 << 20)) ]] && ok || bad "-j test file is only $big bytes"
  jobs_same "large file" "$T/big.txt" "$SAMPLE"
  a=$("$TKM" -j1 --strict "$T/big.txt" 2>&1); b=$("$TKM" -j2 --strict "$T/big.txt" 2>&1)
  expect_eq "$b" "$a" "-j large file strict"
  grep -q "invalid UTF-8 at byte offset $((big - 5))\$" <<<"$b" && ok || bad "-j strict offset: $b"
  expect_eq "$("$TKM" -j2 < "$T/big.txt")" "$("$TKM" -j1 "$T/big.txt" | cut -d' ' -f1)" "-j large standard input"
  rm -f "$T/big.txt"
fi
expect_eq "$("$TKM" -j3 "$SAMPLE" - "$SAMPLE" < "$SAMPLE" 2>&1)" "$("$TKM" -j1 "$SAMPLE" - "$SAMPLE" < "$SAMPLE" 2>&1)" \
  "-j with standard input among files"
expect_eq "$(cat "$SAMPLE" | "$TKM" -j2)" "67" "-j piped standard input"
expect_eq "$("$TKM" -j4 "$SAMPLE" "$SAMPLE" | tail -1)" "134 total" "-j4 total line"
for v in x -1 1025 ''; do
  "$TKM" -j "$v" "$SAMPLE" >/dev/null 2>&1; expect_eq "$?" 2 "-j '$v' is a usage error"
done
expect_eq "$("$TKM" -j2 "$SAMPLE")" "67 $SAMPLE" "-j2 count"
expect_eq "$("$TKM" --jobs 2 "$SAMPLE")" "67 $SAMPLE" "--jobs 2 count"

echo "cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
