#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for a bounded time, seeded from
# the fixtures in pcaps/ (tools/fuzz-seeds.sh), from tests/fuzz/regressions/<target>/ (inputs
# that once crashed, kept forever) and from tests/fuzz/corpus/<target>/ (the minimised corpus of
# the long campaign, tools/fuzz-long.sh). Usage: tools/fuzz.sh [SECONDS_PER_TARGET]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

work=build/fuzz/corpus
rm -rf "$work"
targets=()
for t in build/fuzz/fuzz/fuzz_*; do targets+=("$(basename "$t")"); done
for t in "${targets[@]}"; do mkdir -p "$work/$t"; done

tools/fuzz-seeds.sh "$work"

status=0
for target in "${targets[@]}"; do
  dirs=("$work/$target")
  [[ -d tests/fuzz/regressions/$target ]] && dirs+=("tests/fuzz/regressions/$target")
  # The long campaign's minimised corpus (tools/fuzz-long.sh): read, never written here.
  [[ -d tests/fuzz/corpus/$target ]] && dirs+=("tests/fuzz/corpus/$target")
  echo "== fuzz: $target for ${secs}s (seeds: $(ls "$work/$target" | wc -l))" >&2
  if ! build/fuzz/fuzz/$target -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="build/fuzz/$target-" "${dirs[@]}" \
      >"build/fuzz/$target.log" 2>&1; then
    echo "fuzz: $target FAILED; input saved as build/fuzz/$target-*; log build/fuzz/$target.log" >&2
    tail -40 "build/fuzz/$target.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|Done " "build/fuzz/$target.log" | tail -1 >&2 || true
  fi
done
exit $status
