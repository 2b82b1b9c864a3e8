#!/usr/bin/env bash
# Sets up everything and runs every test: the Debian packages, a release build with all unit,
# golden and CLI tests, then the same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh

jobs=$(nproc)
start=$SECONDS
for preset in release asan; do
  echo "== ${preset}: configure and build" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "== ${preset}: test" >&2
  ctest --preset "$preset" -j "$jobs" --timeout 600
done
echo "== all tests passed in $((SECONDS - start)) s" >&2
