#!/usr/bin/env bash
# tools/arm64-sysroot.sh [DIR] - the arm64 (Graviton) headers and libraries tokmeter's build and
# tests need, from Debian's own arm64 packages, unpacked into DIR (default: build-sysroot-arm64
# at the repository root, where cmake/aarch64-linux-gnu.cmake looks for it). Nothing is installed.
#
# Why unpacked, not installed with multiarch (apt-get install libcriterion-dev:arm64 ...):
# libcriterion3:arm64 needs libnanomsg5:arm64, which is not "Multi-Arch: same" and so cannot be
# installed next to the host's Criterion (apt would remove the host's test dependencies), and the
# arm64 libc6/libc6-dev that the -dev packages pull in would upgrade host packages to match their
# versions. The C library itself comes with the cross compiler (gcc-aarch64-linux-gnu installs
# libc6-dev-arm64-cross in /usr/aarch64-linux-gnu), so only the libraries below are needed.
#
# apt must know the arm64 architecture (dpkg --add-architecture arm64; apt-get update); as root
# this script does that once. The .debs are kept in DIR/debs; a stamp makes re-runs free.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-build-sysroot-arm64}

# Build: xxhash and SIMDe headers, json-c. Tests: Criterion and its run-time closure (it links
# libgit2 and nanomsg), PCRE2, jansson. libc6, libgcc-s1 and gcc-12-base are the cross compiler's.
PKGS=(
  libxxhash-dev libsimde-dev libjson-c-dev libjson-c5
  libcriterion-dev libcriterion3 libnanomsg5 libgit2-1.5 libffi8 libhttp-parser2.9
  libmbedtls14 libmbedx509-1 libmbedcrypto7 libssh2-1 zlib1g libssl3
  libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1
  libpcre2-dev libpcre2-8-0 libjansson-dev libjansson4
)
STAMP="$DIR/.stamp"
want="${PKGS[*]}"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then exit 0; fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "arm64-sysroot: apt does not know arm64; run: sudo dpkg --add-architecture arm64 && sudo apt-get update" >&2
    exit 1
  fi
  dpkg --add-architecture arm64
  apt-get update -qq >&2
fi

mkdir -p "$DIR/debs"
rm -f "$STAMP"
names=()
for p in "${PKGS[@]}"; do
  [[ $p == libsimde-dev ]] && names+=("$p") || names+=("$p:arm64") # SIMDe is Architecture: all
done
# (as root, apt's _apt sandbox user may not write here: download as the caller instead)
sandbox=(); [[ $(id -u) -eq 0 ]] && sandbox=(-o APT::Sandbox::User=root)
(cd "$DIR/debs" && apt-get "${sandbox[@]}" download -qq "${names[@]}") || {
  echo "arm64-sysroot: apt-get download failed (no arm64 package lists? run apt-get update)" >&2
  exit 1
}
for deb in "$DIR"/debs/*.deb; do dpkg-deb -x "$deb" "$DIR"; done
# -dev symlinks that point at absolute paths (/lib/...) would escape DIR: make them relative
find "$DIR" -type l -lname '/*' | while read -r l; do
  t=$(readlink "$l")
  ln -sfr "$DIR$t" "$l"
done
echo "$want" > "$STAMP"
echo "arm64-sysroot: ${#PKGS[@]} Debian arm64 packages unpacked in $DIR" >&2
