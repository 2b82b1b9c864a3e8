#!/usr/bin/env bash
# Sets up everything and runs every test: the Debian packages; a release build with all unit,
# golden and CLI tests; a bounded libFuzzer run of each fuzz target (MCN_FUZZ_SECONDS each,
# default 30, seeded from the fixtures); then the whole suite again under AddressSanitizer +
# UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh

jobs=$(nproc)
start=$SECONDS
suite() {
  echo "== $1: configure and build" >&2
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1" -j "$jobs"
  echo "== $1: test" >&2
  ctest --preset "$1" -j "$jobs" --timeout 600
}

suite release
echo "== fuzz: ${MCN_FUZZ_SECONDS:-30} s per target" >&2
tools/fuzz.sh "${MCN_FUZZ_SECONDS:-30}"
suite asan
echo "== all tests passed in $((SECONDS - start)) s" >&2
