#!/usr/bin/env bash
# Install the headless browser used by altgate's SAML browser sign-in tests.
#
#   scripts/setup-browser.sh
#
# Installs Debian's chromium, chromium-driver (chromedriver) and libnss3-tools (certutil, used to
# make Chromium trust altgate's self-signed HTTPS certificate) with apt, only the ones missing.
# Idempotent: does nothing when all are installed. Prints the chromium and chromedriver versions
# on stderr. Exits non-zero on any failure.
set -euo pipefail

PACKAGES=(chromium chromium-driver libnss3-tools)

log() { printf 'setup-browser: %s\n' "$*" >&2; }
die() { printf 'setup-browser: ERROR: %s\n' "$*" >&2; exit 1; }

missing=()
for pkg in "${PACKAGES[@]}"; do
    # `dpkg -s` also succeeds for removed-but-not-purged packages, so check the Status line
    status="$(dpkg -s "$pkg" 2>/dev/null || true)"
    if ! grep -qx 'Status: install ok installed' <<<"$status"; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing missing packages: ${missing[*]}"
    SUDO=()
    [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
    "${SUDO[@]}" apt-get update || die "apt-get update failed"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
        || die "apt-get install ${missing[*]} failed"
else
    log "chromium, chromium-driver and libnss3-tools already installed"
fi

for bin in /usr/bin/chromium /usr/bin/chromedriver /usr/bin/certutil; do
    [[ -x "$bin" ]] || die "$bin missing after install"
done
log "ok: $(/usr/bin/chromium --version 2>/dev/null | head -n1); $(/usr/bin/chromedriver --version 2>/dev/null | head -n1)"
