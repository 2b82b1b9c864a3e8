#!/usr/bin/env bash
# deploy/Containerfile names the packages the binary needs (no container is built here: that
# would download a base image). Checked against what the build really links and what
# deploy/install-deps.sh installs, so the Containerfile cannot fall behind a new dependency
# again (it lacked SQLite's when the call history store came):
#   - runtime stage: the Debian package of every library the mcn binary links directly
#     (objdump NEEDED -> the file's path -> dpkg -S), except those every Debian image has;
#   - build stage: every library -dev package of install-deps.sh, except the tests' own.
#   tests/package/containerfile-test.sh MCN_BINARY
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
mcn=${1:?usage: containerfile-test.sh MCN_BINARY}
cf="$here/deploy/Containerfile"
fail() { echo "containerfile-test: FAIL: $*" >&2; exit 1; }

# The two stages' apt-get install lines (the RUN blocks after each FROM).
build_stage=$(awk '/^FROM /{n++} n==1' "$cf")
run_stage=$(awk '/^FROM /{n++} n==2' "$cf")
[[ -n $build_stage && -n $run_stage ]] || fail "expected two stages (FROM ... AS build, FROM runtime) in $cf"
has() { grep -Eq "(^|[[:space:]])$2([[:space:]]|\\\\|\$)" <<<"$1"; }

# Runtime: the package of each directly linked library.
essential=" libc6 libgcc-s1 libstdc++6 zlib1g "  # in every debian:12(-slim) image
checked=0
while read -r lib; do
  # (awk reads to the end: an early exit would kill the writer with SIGPIPE under pipefail)
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && p == "" { p = $NF } END { print p }')
  [[ -n $path ]] || fail "cannot find $lib (linked by $mcn) with ldconfig -p"
  # dpkg knows each file by the path its package ships it under: /lib or /usr/lib (merged /usr)
  pkg=""
  real=$(readlink -f "$path")
  for f in "$path" "$real" "${path#/usr}" "${real#/usr}" "/usr${path#/usr}" "/usr${real#/usr}"; do
    pkg=$( (dpkg -S "$f" 2>/dev/null || true) | awk -F: 'NR == 1 { print $1 }')
    [[ -n $pkg ]] && break
  done
  [[ -n $pkg ]] || fail "no Debian package owns $path"
  checked=$((checked + 1))
  [[ $essential == *" $pkg "* ]] && continue
  has "$run_stage" "$pkg" || fail "the runtime stage of deploy/Containerfile lacks $pkg (for $lib)"
done < <(objdump -p "$mcn" | awk '$1 == "NEEDED" { print $2 }')
((checked >= 10)) || fail "only $checked linked libraries found in $mcn"

# Build: the library -dev packages install-deps.sh installs (the tests' and tools' excepted).
devs=$(sed -n '/^PKGS=(/,/^)/p' "$here/deploy/install-deps.sh" | sed 's/#.*//' | tr ' ' '\n' |
  grep -E -- '-dev$' | grep -vE '^(libgtest-dev|libgmock-dev|libbenchmark-dev|libclang-rt-dev|dpkg-dev)$')
[[ -n $devs ]] || fail "no -dev packages read from deploy/install-deps.sh"
for d in $devs; do
  has "$build_stage" "$d" || fail "the build stage of deploy/Containerfile lacks $d (deploy/install-deps.sh has it)"
done
echo "containerfile-test: runtime stage names the packages of $checked linked libraries;" \
  "build stage has the $(wc -w <<<"$devs") -dev packages of install-deps.sh"
