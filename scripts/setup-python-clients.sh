#!/usr/bin/env bash
# Install the third-party Python WS-Trust client used by altgate's interoperability tests.
#
#   scripts/setup-python-clients.sh
#
# Creates a venv at ${ALTGATE_PYENV:-/var/tmp/altgate-pyenv} (if missing or broken) and installs
# Microsoft's MSAL for Python pinned to the version scripts/wstrust_client.py was tested with.
# Idempotent: does nothing when the venv already has that version. Installs Debian's python3-venv
# only if `python3 -m venv` cannot create a venv with pip. Prints the venv's python path on stdout.
# Exits non-zero on any failure.
set -euo pipefail

MSAL_VERSION=1.39.0
PYENV="${ALTGATE_PYENV:-/var/tmp/altgate-pyenv}"
PY="$PYENV/bin/python"

log() { printf 'setup-python-clients: %s\n' "$*" >&2; }
die() { printf 'setup-python-clients: ERROR: %s\n' "$*" >&2; exit 1; }

have_msal() {
    [[ -x "$PY" ]] && "$PY" - "$MSAL_VERSION" <<'EOF' >/dev/null 2>&1
import sys, msal, requests
sys.exit(0 if msal.__version__ == sys.argv[1] else 1)
EOF
}

if have_msal; then
    log "msal $MSAL_VERSION already installed in $PYENV"
    printf '%s\n' "$PY"
    exit 0
fi

command -v python3 >/dev/null || die "python3 not found"

# Can python3 create a venv with pip? (Debian splits ensurepip out into python3-venv.)
venv_works() {
    local probe rc=0
    probe="$(mktemp -d)"
    python3 -m venv "$probe/v" >/dev/null 2>&1 && [[ -x "$probe/v/bin/pip" ]] || rc=1
    rm -rf -- "$probe"
    return "$rc"
}
if ! venv_works; then
    log "python3 -m venv does not work; installing python3-venv"
    SUDO=()
    [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
    venv_works || die "python3 -m venv still does not work after installing python3-venv"
fi

if [[ ! -x "$PYENV/bin/pip" ]] || ! "$PY" -c 'import sys' >/dev/null 2>&1; then
    log "creating venv $PYENV"
    rm -rf -- "$PYENV"
    python3 -m venv "$PYENV"
fi

log "installing msal==$MSAL_VERSION into $PYENV"
"$PYENV/bin/pip" install --disable-pip-version-check --quiet "msal==$MSAL_VERSION"
have_msal || die "msal $MSAL_VERSION not importable from $PY after install"
log "ok: $("$PY" -c 'import msal; print("msal", msal.__version__)')"
printf '%s\n' "$PY"
