#!/usr/bin/env bash
# Installs every Debian package mcn needs to build, test and benchmark.
# Idempotent and non-interactive: safe to run on every CI start.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-dev
  # libraries
  libpcap-dev libsofia-sip-ua-dev libhiredis-dev libcurl4-openssl-dev
  libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libcpp-httplib-dev libreaderwriterqueue-dev libssl-dev tzdata
  libhowardhinnant-date-dev
  # history/: the call history store (SQLite, WAL)
  libsqlite3-dev
  # zlib: HEP compressed payloads (capture/src/hep.cc)
  zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # real peers and ground truth for tests
  redis-server redis-sentinel sip-tester kamailio baresip-core tshark tcpdump tcpreplay iproute2 xxd
  # tests/e2e (mcn run end to end): readiness probes
  curl
  # tools/record-netns (the kernel-fragmented fixture and its root-only CTest)
  python3
  # the Debian package (tools/package.sh) and its test (tests/package): Depends from the
  # linked libraries, lintian, the unit checked offline, the man page, the bash completion
  dpkg-dev lintian systemd man-db bash-completion util-linux
  # deploy/prometheus and deploy/grafana tests (tests/obs): promtool, YAML in Python
  prometheus python3-yaml
  # benchmarks: side-by-side tools and timing
  sngrep time
  # web console browser tests (issue 18): Debian's Chromium driven by selenium, no download
  chromium chromium-driver python3-selenium
  # web console sign-in with a directory account (web/src/ldap_auth.cc: libldap), and the real
  # OpenLDAP server its tests start on loopback (tests/support/slapd.h) with ldapwhoami
  libldap-dev slapd ldap-utils
)
# The browser test's accessibility checker comes from the npm registry (below): the machine's npm,
# or Debian's when it has none.
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  echo "install-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  # wireshark-common asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections || true
  # slapd: no configuration and no database made by the package, so it starts NO system daemon
  # (the tests run their own slapd with a config of their own in a temp dir).
  echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections || true
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The Debian packages enable services we do not want running on a probe or CI host:
  # tests start their own redis-server and kamailio on loopback ports (and only use promtool).
  for svc in redis-server kamailio prometheus slapd; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
      $SUDO systemctl stop "$svc" || true
    fi
  done
else
  echo "install-deps: all packages present" >&2
fi

# axe-core, the browser test's accessibility checker (tests/web/browser/web_browser_test.py), the
# version pinned by tests/web/browser/package-lock.json: npm's only use here, for that test only.
browser=$(cd "$(dirname "$0")/../tests/web/browser" && pwd)
want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packages"]["node_modules/axe-core"]["version"])' \
  "$browser/package-lock.json")
have=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' \
  "$browser/node_modules/axe-core/package.json" 2>/dev/null || true)
if [[ $have != "$want" ]]; then
  echo "install-deps: npm ci in tests/web/browser (axe-core $want)" >&2
  (cd "$browser" && npm ci --no-audit --no-fund --loglevel=error)
fi
