#!/usr/bin/env bash
# The one-hour soak of `mcn run` (issue 17); not a CTest, not in CI (it takes an hour).
#   tests/soak/soak.sh [soak.py options]   e.g. --duration 3600 --cps 20 --window 60
# Root only (network namespace, veth, capture). Builds mcn and mcn-gen (release preset) if they
# are missing; tests/soak/README.md says what it measures and the checks it makes.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $EUID -eq 0 ]] || { echo "soak.sh: needs root (network namespace, capture)" >&2; exit 2; }
if [[ ! -x build/release/mcn || ! -x build/release/mcn-gen ]]; then
  cmake --preset release >/dev/null
  cmake --build build/release -j "$(nproc)" --target mcn mcn-gen
fi
exec python3 tests/soak/soak.py "$@"
