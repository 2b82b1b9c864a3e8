#!/usr/bin/env bash
# The long fuzzing campaign (issue 17): runs libFuzzer targets for a chosen time each, starting
# from the persistent corpus tests/fuzz/corpus/<target>/ (kept in the repository), the fixture
# seeds (tools/fuzz-seeds.sh) and tests/fuzz/regressions/<target>/, and at the end minimises what
# it found back into tests/fuzz/corpus/<target>/ with -set_cover_merge=1 (a greedy set cover:
# about 5x fewer files than -merge=1 for the same features). Only inputs that add coverage beyond
# the seeds are kept there (the seeds are remade from pcaps/ on every run), and inputs longer
# than MAX_KEEP bytes (default 65536) are not kept, so the corpus stays small.
#   tools/fuzz-long.sh TARGET[,TARGET...]|all SECONDS [JOBS]   (SECONDS 0: only minimise the corpus)
# JOBS targets run at once (default 1; each is one process at nice 19). A crash, leak or timeout
# stops that target: the input is kept as build/fuzz-long/<target>-crash-* (or leak-, timeout-)
# and the script exits 1 after the others; fix it and add the input to
# tests/fuzz/regressions/<target>/ (tools/fuzz.sh and this script replay those first).
# FUZZ_NO_BUILD=1 skips the build of the fuzz preset.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 2 ]] || { echo "usage: tools/fuzz-long.sh TARGET[,TARGET...]|all SECONDS [JOBS]" >&2; exit 2; }
want=$1
secs=$2
jobs=${3:-1}
max_keep=${MAX_KEEP:-65536}

if [[ -z "${FUZZ_NO_BUILD:-}" ]]; then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$(nproc)"
fi

targets=()
for t in build/fuzz/fuzz/fuzz_*; do
  n=$(basename "$t")
  [[ "$want" == all || ",$want," == *",$n,"* ]] && targets+=("$n")
done
((${#targets[@]})) || { echo "fuzz-long: no target named $want in build/fuzz/fuzz/" >&2; exit 2; }

top=$PWD/build/fuzz-long
seeds=$top/seeds
rm -rf "$seeds"
for t in build/fuzz/fuzz/fuzz_*; do mkdir -p "$seeds/$(basename "$t")"; done
tools/fuzz-seeds.sh "$seeds"

run_one() {
  local t=$1 work=$top/$1 rc=0
  rm -rf "$work" && mkdir -p "$work/corpus"
  local dirs=("$work/corpus" "$seeds/$t")
  [[ -d tests/fuzz/regressions/$t ]] && dirs+=("tests/fuzz/regressions/$t")
  [[ -d tests/fuzz/corpus/$t ]] && dirs+=("tests/fuzz/corpus/$t")
  echo "== fuzz-long: $t for ${secs}s (corpus $(find tests/fuzz/corpus/$t -type f 2>/dev/null | wc -l), seeds $(ls "$seeds/$t" | wc -l))" >&2
  if ((secs > 0)); then
    nice -n 19 build/fuzz/fuzz/"$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$top/$t-" "${dirs[@]}" >"$work/fuzz.log" 2>&1 || rc=$?
  else
    : >"$work/fuzz.log"
  fi
  # Minimise: the seeds go in first, so what merge adds is only what goes beyond them.
  mkdir -p "$work/merged"
  cp "$seeds/$t/"* "$work/merged/" 2>/dev/null || true
  local keep=("$work/corpus")
  [[ -d tests/fuzz/corpus/$t ]] && keep+=("tests/fuzz/corpus/$t")
  nice -n 19 build/fuzz/fuzz/"$t" -set_cover_merge=1 -timeout=10 -rss_limit_mb=2048 \
    "$work/merged" "${keep[@]}" >"$work/merge.log" 2>&1 || echo "fuzz-long: $t merge failed (see $work/merge.log)" >&2
  for s in "$seeds/$t/"*; do [[ -f "$s" ]] && rm -f "$work/merged/$(basename "$s")"; done
  # libFuzzer names corpus files by the SHA-1 of their content: drop copies of a seed.
  declare -A seedsum=()
  for s in "$seeds/$t/"*; do [[ -f "$s" ]] && seedsum[$(sha1sum <"$s" | cut -c1-40)]=1; done
  for f in "$work/merged/"*; do
    [[ -f "$f" ]] || continue
    [[ -n "${seedsum[$(basename "$f")]:-}" ]] && rm -f "$f"
  done
  find "$work/merged" -type f -size +"${max_keep}"c -delete
  if [[ -n "$(ls -A "$work/merged")" ]]; then
    rm -rf "tests/fuzz/corpus/$t" && mkdir -p "tests/fuzz/corpus/$t"
    cp "$work/merged/"* "tests/fuzz/corpus/$t/"
  fi
  local stats
  stats=$(grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/fuzz.log" | awk '{print $1 $2}' | tr '\n' ' ')
  echo "== fuzz-long: $t rc=$rc $stats; corpus now $(ls tests/fuzz/corpus/$t 2>/dev/null | wc -l) files, $(du -sk tests/fuzz/corpus/$t 2>/dev/null | cut -f1) KB" >&2
  if ((rc != 0)); then
    echo "fuzz-long: $t FAILED; input saved as $top/$t-*; log $work/fuzz.log" >&2
    tail -40 "$work/fuzz.log" >&2
    return 1
  fi
}

status=0
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  while (($(jobs -rp | wc -l) >= jobs)); do sleep 1; done
done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || status=1; done
exit $status
