#!/usr/bin/env bash
# Sets up everything and runs every test: the Debian packages; a release build with all unit,
# golden and CLI tests; a bounded libFuzzer run of each fuzz target (MCN_FUZZ_SECONDS each,
# default 30, seeded from the fixtures); the whole suite again under AddressSanitizer +
# UndefinedBehaviorSanitizer; then the threaded tests under ThreadSanitizer (tsan below).
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
  local log="build/$1/ctest.log"
  ctest --preset "$1" -j "$jobs" --timeout 600 | tee "$log"
  # Every prerequisite is installed above and this runs as root: a test that skipped (a missing
  # tool, no root) is a broken set-up, never a pass.
  if grep -q "The following tests did not run" "$log"; then
    sed -n '/The following tests did not run/,$p' "$log" >&2
    echo "== $1: tests were skipped; see above" >&2
    exit 1
  fi
}

suite release
echo "== fuzz: ${MCN_FUZZ_SECONDS:-30} s per target" >&2
tools/fuzz.sh "${MCN_FUZZ_SECONDS:-30}"
suite asan

# ThreadSanitizer: only what starts threads (the daemon's pipeline through the real binary and the
# threaded replay, the delivery engine against loopback servers, the outbox's writers, the Redis
# refresher and Sentinel watch, the history writer, the SIP user agent), to keep CI's time bounded.
tsan() {
  echo "== tsan: configure and build" >&2
  local t0=$SECONDS
  # The binaries run below, and only they, are built (one list, so none can be missing).
  local dir=build/tsan
  local bins=(mcn_app_tests mcn_notifier_tests mcn_subscribers_tests mcn_history_tests
              mcn_sipua_tests mcn_web_tests)
  cmake --preset tsan >/dev/null
  cmake --build "$dir" -j "$jobs" --target mcn "${bins[@]}"
  echo "== tsan: threaded tests" >&2
  export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$PWD/tools/tsan.supp"
  "$dir/tests/mcn_app_tests" --gtest_brief=1
  "$dir/tests/mcn_notifier_tests" --gtest_brief=1 --gtest_filter='Delivery*:ChannelWebhook*:ChannelHttpSms*:Outbox*'
  "$dir/tests/mcn_subscribers_tests" --gtest_brief=1 --gtest_filter='RedisStoreTest*:*Sentinel*'
  "$dir/tests/mcn_history_tests" --gtest_brief=1   # the writer thread and its producers' rings
  "$dir/tests/mcn_sipua_tests" --gtest_brief=1     # the user agent's su_root thread and queue
  "$dir/tests/mcn_web_tests" --gtest_brief=1       # the console: sessions and limits under the HTTP threads
  if [[ $EUID -eq 0 ]]; then # the live daemon: capture, workers, notifier, HTTP and SIGHUP threads
    tests/e2e/reload-e2e.sh "$dir/mcn"
    tests/e2e/redis-fault-e2e.sh "$dir/mcn"
  fi
  unset TSAN_OPTIONS
  echo "== tsan: passed in $((SECONDS - t0)) s" >&2
}
tsan
echo "== all tests passed in $((SECONDS - start)) s" >&2
