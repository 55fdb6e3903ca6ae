#!/usr/bin/env bash
# Run altgate's test suite against two real Samba AD forests.
#
#   scripts/test.sh [cargo test args...]
#
# Installs the Debian packages the forests need (only if missing), brings the forests up with
# scripts/ad-forests.sh (provisioning them on first use), then runs `cargo test --locked` from the
# repository root with any extra arguments. Works from any directory. Needs root.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd)"

PACKAGES=(samba samba-ad-dc samba-ad-provision redis-server ldb-tools ldap-utils openssl iproute2 xmlsec1 python3-venv prometheus)

missing=()
for pkg in "${PACKAGES[@]}"; do
    # `dpkg -s` also succeeds for removed-but-not-purged packages, so check the Status line
    status="$(dpkg -s "$pkg" 2>/dev/null || true)"
    if ! grep -qx 'Status: install ok installed' <<<"$status"; then
        missing+=("$pkg")
    fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "test.sh: installing missing packages: ${missing[*]}" >&2
    SUDO=()
    [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

"$SCRIPT_DIR/ad-forests.sh" up
# Microsoft's MSAL for Python: the third-party WS-Trust client the interoperability tests use.
"$SCRIPT_DIR/setup-python-clients.sh" >/dev/null
# Debian's Chromium, chromedriver and certutil for the real-browser sign-in test.
"$SCRIPT_DIR/setup-browser.sh"

cd "$REPO_ROOT"
# Test secrets (service-account password files, signing keys, configs) go to a private temporary
# directory (mode 0700) that is removed when the run ends, whatever its outcome.
TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/altgate-test.XXXXXX")"
export TMPDIR
# The processes the tests start (redis-server, altgate nodes) stop by themselves within a second
# of the test binary's exit; their pid files are here too, so nothing outlives the run.
cleanup() {
    local f pid
    for f in "$TMPDIR"/altgate-it-*/*/*.pid; do
        [[ -f "$f" ]] || continue
        pid="$(tr -dc '0-9' <"$f")"
        [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    done
    rm -rf -- "$TMPDIR"
}
trap cleanup EXIT
cargo test --locked "$@"
