#!/usr/bin/env bash
# Builds the Debian package mcn_<version>_<arch>.deb from a release build:
#   tools/package.sh [BUILD_DIR]        (default build/release; the .deb is written there)
# The version is `mcn --version` (git describe at configure time) made a Debian version
# (0.1.0+g669a99e -> 0.1.0+g669a99e-1, 0.2.0-3-gabc1234 -> 0.2.0+3.gabc1234-1). Depends comes from
# the shared libraries the binary links (dpkg-shlibdeps). Inputs: deploy/mcn.toml,
# deploy/subscribers.toml, deploy/mcn.service and deploy/debian/. Check it with
# `lintian build/release/mcn_*.deb`; tests/package/package-test.sh installs and purges it.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build/release}" && pwd)
mcn="$build/mcn"
if [[ ! -x $mcn ]]; then
  echo "package: $mcn not found: build it first (cmake --preset release && cmake --build build/release --target mcn)" >&2
  exit 2
fi
for tool in dpkg-deb dpkg-shlibdeps strip gzip; do
  command -v "$tool" >/dev/null || { echo "package: $tool not found (deploy/install-deps.sh)" >&2; exit 2; }
done

upstream=$("$mcn" --version | sed -n 's/^mcn //p')
[[ -n $upstream ]] || { echo "package: cannot read the version from $mcn --version" >&2; exit 2; }
# Debian upstream versions have no '-' without a revision: the first becomes '+', the rest '.'.
version="$(sed -e 's/-/+/' -e 's/-/./g' <<<"$upstream")-1"
arch=$(dpkg --print-architecture)
deb="$build/mcn_${version}_${arch}.deb"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
d="$here/deploy/debian"

install -d -m 0755 "$root/usr/bin" "$root/etc/mcn" "$root/lib/systemd/system" \
  "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d" "$root/usr/share/man/man1" \
  "$root/usr/share/bash-completion/completions" "$root/usr/share/doc/mcn" \
  "$root/usr/share/lintian/overrides" "$root/DEBIAN"

install -m 0755 "$mcn" "$root/usr/bin/mcn"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/mcn"

# The documented defaults with installed paths: the subscribers file beside it and the dead
# letters in the state directory. The capture interface is for the operator to set.
sed -e 's|^subscribers = ""  |subscribers = "/etc/mcn/subscribers.toml"|' \
    -e 's|^dead_letter = "mcn-dead-letter.jsonl"|dead_letter = "/var/lib/mcn/dead-letter.jsonl"|' \
    "$here/deploy/mcn.toml" >"$root/etc/mcn/mcn.toml"
grep -q '^subscribers = "/etc/mcn/subscribers.toml"' "$root/etc/mcn/mcn.toml" &&
  grep -q '^dead_letter = "/var/lib/mcn/dead-letter.jsonl"' "$root/etc/mcn/mcn.toml" ||
  { echo "package: deploy/mcn.toml no longer has the subscribers/dead_letter lines to adjust" >&2; exit 2; }
chmod 0644 "$root/etc/mcn/mcn.toml"
install -m 0644 "$here/deploy/subscribers.toml" "$root/etc/mcn/subscribers.toml"
install -m 0644 "$here/deploy/mcn.service" "$root/lib/systemd/system/mcn.service"
install -m 0644 "$d/mcn.sysusers" "$root/usr/lib/sysusers.d/mcn.conf"
install -m 0644 "$d/mcn.tmpfiles" "$root/usr/lib/tmpfiles.d/mcn.conf"
gzip -9nc "$d/mcn.1" >"$root/usr/share/man/man1/mcn.1.gz"
install -m 0644 "$d/mcn.bash-completion" "$root/usr/share/bash-completion/completions/mcn"
install -m 0644 "$d/copyright" "$root/usr/share/doc/mcn/copyright"
install -m 0644 "$d/lintian-overrides" "$root/usr/share/lintian/overrides/mcn"
gzip -9nc "$here/README.md" >"$root/usr/share/doc/mcn/README.md.gz"
describe=$(git -C "$here" describe --tags --always --dirty 2>/dev/null || echo "$upstream")
date=$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || date +%s)}")
sed -e "s|@VERSION@|$version|" -e "s|@DESCRIBE@|$describe|" -e "s|@DATE@|$date|" \
    "$d/changelog.in" | gzip -9n >"$root/usr/share/doc/mcn/changelog.Debian.gz"
find "$root" -type f -exec chmod go-w {} +

# Depends from the shared libraries (dpkg-shlibdeps wants a debian/control to read).
mkdir -p "$work/debian"
printf 'Source: mcn\n\nPackage: mcn\nArchitecture: any\n' >"$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O -e root/usr/bin/mcn 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[[ -n $shlibs ]] || { echo "package: dpkg-shlibdeps found no dependencies" >&2; exit 2; }

install -m 0755 "$d/postinst" "$d/prerm" "$d/postrm" "$root/DEBIAN/"
printf '/etc/mcn/mcn.toml\n/etc/mcn/subscribers.toml\n' >"$root/DEBIAN/conffiles"
size=$(du -k -s --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: mcn
Version: $version
Architecture: $arch
Maintainer: mcn maintainers <mcn@example.invalid>
Installed-Size: $size
Depends: $shlibs, systemd | systemd-standalone-sysusers, systemd | systemd-standalone-tmpfiles
Section: net
Priority: optional
Description: passive missed-call notifier for IMS and enterprise SIP networks
 mcn listens to the SIP signalling a switch mirrors to a SPAN port (or replays
 pcap captures), follows every call, decides which calls the called person
 missed and tells each subscribed person once, by push, IM robot, SMS or
 e-mail. It never sends a packet onto the mirrored network.
 .
 This package installs the daemon (mcn.service, not enabled until the capture
 interface is configured), its configuration in /etc/mcn, a man page and bash
 completion.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
  xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
