#!/usr/bin/env bash
# Build altgate's Debian package from this repository.
#
#   scripts/build-deb.sh [--binary PATH] [--out DIR]
#
# Without --binary it builds the release binary with Windows integrated sign-in
# (`cargo build --release --locked --features kerberos`, which needs libkrb5-dev, libclang-dev
# and pkg-config). The package holds:
#
#   /usr/bin/altgate                         the binary
#   /lib/systemd/system/altgate.service      the hardened unit (packaging/altgate.service)
#   /etc/altgate/altgate.yaml                the production template (config/production.yaml), a conffile
#   /etc/altgate/tls/                        for the server certificate and key
#   /usr/share/doc/altgate/                  README, example configuration, dashboards and alert rules
#
# Depends: the Debian packages of the shared libraries the binary links (found with
# dpkg-shlibdeps), and adduser for the service account. Writes DIR/altgate_<version>_<arch>.deb
# (DIR defaults to target/debian) and prints its path.
set -euo pipefail

REPO_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
binary=""
out="$REPO_ROOT/target/debian"
while [[ $# -gt 0 ]]; do
    case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "build-deb.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

cd "$REPO_ROOT"
if [[ -z "$binary" ]]; then
    cargo build --release --locked --features kerberos
    binary="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/altgate"
fi
[[ -x "$binary" ]] || { echo "build-deb.sh: no executable at $binary" >&2; exit 1; }

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
arch="$(dpkg --print-architecture)"
work="$(mktemp -d)"
trap 'rm -rf -- "$work"' EXIT
root="$work/root"

install -D -m 0755 "$binary" "$root/usr/bin/altgate"
strip --strip-debug "$root/usr/bin/altgate" 2>/dev/null || true
install -D -m 0644 packaging/altgate.service "$root/lib/systemd/system/altgate.service"
install -D -m 0640 config/production.yaml "$root/etc/altgate/altgate.yaml"
install -d -m 0750 "$root/etc/altgate/tls"
doc="$root/usr/share/doc/altgate"
install -d -m 0755 "$doc" "$doc/examples" "$doc/dashboards"
gzip -9n -c README.md >"$doc/README.md.gz"
install -m 0644 config/example-two-forests.yaml "$doc/examples/"
install -m 0644 dashboards/altgate.json dashboards/alerts.yml "$doc/dashboards/"
install -m 0644 docs/alerts.md docs/metrics.md "$doc/"
install -d -m 0755 "$root/DEBIAN"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
echo "/etc/altgate/altgate.yaml" >"$root/DEBIAN/conffiles"

# Run-time libraries, as Debian names them (dpkg-shlibdeps reads the binary's NEEDED entries).
mkdir -p "$work/debian"
touch "$work/debian/control"
shlibs="$(cd "$work" && dpkg-shlibdeps -O "$root/usr/bin/altgate" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
[[ -n "$shlibs" ]] || { echo "build-deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
installed_size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"

cat >"$root/DEBIAN/control" <<CONTROL
Package: altgate
Version: $version
Architecture: $arch
Maintainer: altgate maintainers <altgate@localhost>
Section: net
Priority: optional
Installed-Size: $installed_size
Depends: $shlibs, adduser
Recommends: krb5-config
Homepage: https://github.com/altgate/altgate
Description: AD FS-compatible federation service for alternate login IDs
 altgate signs Microsoft 365 and other relying parties' users in the way AD FS
 does (WS-Trust, WS-Federation, SAML 2.0, OpenID Connect and Windows
 integrated sign-in), resolving the e-mail address users type across several
 Active Directory forests.
CONTROL

mkdir -p "$out"
deb="$out/altgate_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
