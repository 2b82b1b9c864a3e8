#!/usr/bin/env bash
# Sets up everything and runs mcn's main job on the embedded default: replays the bundled capture
# of an office morning and prints the notifications its example subscribers get, on the console.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target mcn >/dev/null
exec build/release/mcn replay pcaps/office_morning.pcap --config deploy/office.toml \
  --subscribers deploy/subscribers.toml "$@"
