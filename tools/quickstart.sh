#!/usr/bin/env bash
# tools/quickstart.sh - README command 1: install build dependencies, build, count a sample.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTKM_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target tokmeter_cli
echo "--- tokmeter -e o200k_base README.md tests/data/sample.txt"
build/tokmeter -e o200k_base README.md tests/data/sample.txt
echo "--- echo 'Hello, world!' | tokmeter -m gpt-4"
echo 'Hello, world!' | build/tokmeter -m gpt-4
