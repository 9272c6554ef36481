#!/usr/bin/env bash
# tools/deps.sh - make sure the Debian packages tokmeter needs are installed.
#
# Usage: tools/deps.sh build|test|bench|cross|fuzz|sanitize ...
# Installs what is missing with apt-get when running as root or with passwordless sudo;
# otherwise prints the apt-get command to run and exits 1.
set -euo pipefail

declare -A GROUP=(
  [build]="cmake make gcc libc6-dev libxxhash-dev libsimde-dev libjson-c-dev"
  [test]="libcriterion-dev libpcre2-dev unicode-data libjansson-dev"
  [bench]="g++ libbenchmark-dev"
  [cross]="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user" # + tools/arm64-sysroot.sh
  [fuzz]="clang-14 libclang-rt-14-dev"
  [sanitize]="clang-14 libclang-rt-14-dev valgrind"
)

want=()
for g in "$@"; do
  [[ -n "${GROUP[$g]:-}" ]] || { echo "deps.sh: unknown group '$g' (build test bench cross fuzz sanitize)" >&2; exit 2; }
  for p in ${GROUP[$g]}; do want+=("$p"); done
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "tokmeter needs these Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >&2
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
