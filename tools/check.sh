#!/usr/bin/env bash
# tools/check.sh - README command 2: install test dependencies, build everything, run every test.
# .ci/run calls exactly this. The corpus is read from ../shared/corpus (tests that need it say
# so and skip when it is absent).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh build test
BUILD=${TKM_CHECK_BUILD_DIR:-build-check}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTKM_WERROR=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)"

# Sanitizers: ASan+UBSan and TSan builds running a fast subset of the tests, valgrind memcheck of
# the CLI (tools/check-sanitizers.sh; 4-7 min on 2 cores). TKM_CHECK_SANITIZERS=0 skips it.
if [[ ${TKM_CHECK_SANITIZERS:-1} != 0 ]]; then
  tools/check-sanitizers.sh
fi

# aarch64 (Graviton): cross-compile everything and run the `qemu` test subset under qemu-aarch64
# (docs/HACKING.md), whenever the cross packages can be installed. TKM_CHECK_ARM=0 skips it.
if [[ ${TKM_CHECK_ARM:-1} != 0 ]]; then
  if tools/deps.sh cross && tools/arm64-sysroot.sh; then
    ARM=${TKM_CHECK_ARM_BUILD_DIR:-$BUILD-arm}
    cmake -S . -B "$ARM" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
      -DTKM_WERROR=ON >/dev/null
    cmake --build "$ARM" -j"$(nproc)"
    ctest --test-dir "$ARM" -L qemu --output-on-failure -j"$(nproc)"
  else
    echo "check.sh: aarch64 cross build skipped: cross packages or arm64 libraries unavailable" >&2
  fi
fi
