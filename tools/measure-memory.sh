#!/usr/bin/env bash
# tools/measure-memory.sh - peak RSS and time of the tokmeter CLI on large and hostile inputs.
#
# Usage: tools/measure-memory.sh [-s GIB] [-e ENCODING] [TOKMETER]
#   -s GIB       size of the large ordinary-text file (default 3); 0 skips the large-file rows
#   -e ENCODING  encoding to count with (default o200k_base)
#   TOKMETER     the binary to measure (default build/tokmeter, built like tools/quickstart.sh
#                when build/ has not been configured yet)
#
# Rows:
#   big text file / same through a pipe   corpus text (english, code, multilingual, chat)
#                                         concatenated to GIB GiB in $TMPDIR (default /tmp),
#                                         deleted on exit; the two counts must agree
#   1 MB / 8 MB of 'a'                    one pre-token: O(N) memory is documented
#   --ids on 1 MB / 8 MB of 'a'           --ids reads the whole input
#   8 MB of 0xFF                          ill-formed UTF-8: one pre-token of U+FFFD
#   8 MB of "a," / 64 MB minified JSON    small pre-tokens but no safe cut point (no space after
#                                         a letter or digit, no newline): the stream keeps it all
# Peak RSS is /usr/bin/time's "maximum resident set size" of tokmeter alone.
set -euo pipefail
cd "$(dirname "$0")/.."
GIB=3
ENC=o200k_base
while getopts "s:e:h" o; do
  case $o in
    s) GIB=$OPTARG ;;
    e) ENC=$OPTARG ;;
    *) sed -n '2,10p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
TKM=${1:-build/tokmeter}
CORPUS=${TKM_CORPUS_DIR:-../shared/corpus}

[[ -x /usr/bin/time ]] || { echo "measure-memory: /usr/bin/time missing: apt-get install time" >&2; exit 1; }
if [[ $# -eq 0 ]]; then
  tools/deps.sh build
  [[ -f build/CMakeCache.txt ]] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTKM_BUILD_TESTS=OFF >/dev/null
  cmake --build build -j2 --target tokmeter_cli >/dev/null
fi
[[ -x "$TKM" ]] || { echo "measure-memory: $TKM is not executable" >&2; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/tkm-mem.XXXXXX")
trap 'rm -rf "$W"' EXIT

printf '%s\n' "tokmeter: $TKM ($("$TKM" --version)), encoding $ENC, $(nproc) CPUs, $(uname -sr)"
printf '%-34s %14s %14s %8s %10s\n' case "input bytes" tokens "wall s" "peak RSS"
# row LABEL BYTES COMMAND... : run COMMAND (stdin as set by the caller) under /usr/bin/time
row() {
  local label=$1 bytes=$2; shift 2
  local rc=0
  /usr/bin/time -f '%e %M' -o "$W/time" "$@" >"$W/out" 2>"$W/err" || rc=$?
  local wall rss tokens
  read -r wall rss <"$W/time" || true
  tokens=$(awk '{print $1; exit}' "$W/out")
  [[ $rc -eq 0 ]] || tokens="exit $rc: $(head -c 60 "$W/err")"
  if [[ "$*" == *--ids* && $rc -eq 0 ]]; then tokens=$(wc -w <"$W/out"); fi
  printf '%-34s %14s %14s %8s %7.1f MB\n' "$label" "$bytes" "$tokens" "$wall" "$(awk -v k="$rss" 'BEGIN{print k/1024}')"
  LAST_TOKENS=$tokens
}

# ---- large ordinary text ----------------------------------------------------------------------
if [[ $GIB != 0 ]]; then
  want=$((GIB * 1024 * 1024 * 1024))
  avail=$(df -P -B1 "$W" | awk 'NR==2{print $4}')
  if [[ ! -d $CORPUS ]]; then
    echo "note: corpus $CORPUS absent: large-file rows skipped"
  elif (( avail < want + (1 << 30) )); then
    echo "note: only $((avail >> 20)) MB free in $W: large-file rows skipped (need $((want >> 20)) MB + 1 GB)"
  else
    mapfile -t parts < <(find "$CORPUS/english" "$CORPUS/code" "$CORPUS/multilingual" "$CORPUS/chat" -type f | sort)
    big=$W/big.txt
    : >"$big"
    while (( $(stat -c %s "$big") < want )); do cat "${parts[@]}" >>"$big"; done
    truncate -s "$want" "$big" # may cut a UTF-8 sequence at the very end: harmless
    size=$(stat -c %s "$big")
    row "big text file ($GIB GiB)" "$size" "$TKM" -e "$ENC" "$big"
    file_tokens=$LAST_TOKENS
    # shellcheck disable=SC2016  # expanded by the inner sh
    row "same, through a pipe" "$size" sh -c 'cat "$1" | "$2" -e "$3"' sh "$big" "$TKM" "$ENC"
    [[ $LAST_TOKENS == "$file_tokens" ]] || echo "MISMATCH: file $file_tokens, pipe $LAST_TOKENS"
    rm -f "$big"
  fi
fi

# ---- one long pre-token and hostile shapes ----------------------------------------------------
gen() { # NAME BYTES: files of one shape (yes/tr end by SIGPIPE: not an error here)
  set +o pipefail
  case $1 in
    a) head -c "$2" /dev/zero | tr '\0' a ;;
    ff) head -c "$2" /dev/zero | tr '\0' '\377' ;;
    acomma) yes 'a,' | tr -d '\n' | head -c "$2" ;;
    json) yes '{"id":12345,"name":"x","ok":true},' | tr -d '\n' | head -c "$2" ;;
  esac
  set -o pipefail
}
MB=$((1 << 20))
for spec in "a 1" "a 8" "ff 8" "acomma 8" "json 64"; do
  read -r shape mb <<<"$spec"
  f=$W/$shape-$mb
  gen "$shape" $((mb * MB)) >"$f"
  case $shape in
    a) label="$mb MB of 'a'" ;;
    ff) label="$mb MB of 0xFF" ;;
    acomma) label="$mb MB of \"a,\" (no cut point)" ;;
    json) label="$mb MB minified JSON (no cut point)" ;;
  esac
  row "$label" $((mb * MB)) "$TKM" -e "$ENC" "$f"
  if [[ $shape == a ]]; then
    # shellcheck disable=SC2016
    row "  through a pipe" $((mb * MB)) sh -c 'cat "$1" | "$2" -e "$3"' sh "$f" "$TKM" "$ENC"
    row "  --ids" $((mb * MB)) "$TKM" -e "$ENC" --ids "$f"
  fi
  rm -f "$f"
done
