#!/usr/bin/env bash
# Install the third-party Python clients used by altgate's interoperability tests.
#
#   scripts/setup-python-clients.sh
#
# Creates a venv at ${ALTGATE_PYENV:-/var/tmp/altgate-pyenv} (if missing or broken) and installs,
# each pinned to the version the scripts were tested with:
#   - Microsoft's MSAL for Python (WS-Trust client, scripts/wstrust_client.py);
#   - pysaml2 (SAML 2.0 service provider, scripts/saml_sp.py; shells out to Debian's xmlsec1);
#   - selenium (drives Debian's headless chromium, scripts/browser_signin.py; the browser itself
#     comes from scripts/setup-browser.sh);
#   - tree-sitter with its PowerShell grammar (scripts/ps_parse.py parses the script
#     `altgate m365 federation-settings --format powershell` prints; no PowerShell runtime is
#     offered by Debian or the registries this machine reaches);
#   - gssapi and requests-gssapi (Kerberos/SPNEGO client for the Windows integrated
#     authentication tests: `Authorization: Negotiate` with a ticket from kinit);
#   - authlib (OAuth 2.0 / OpenID Connect client: code flow with PKCE, refresh, client_credentials,
#     revocation, introspection) and joserfc (JOSE: verifies every JWT against the JWKS with an
#     RS256-only allow-list), both for scripts/oidc_client.py (which also uses msal and selenium).
# PyPI has no Linux wheel of gssapi: pip builds it from source against MIT krb5, which needs
# Debian's libkrb5-dev (krb5-config, the GSSAPI headers), a C compiler (gcc) and the interpreter's
# Python.h (python3-dev for Debian's python3); the script installs whichever of these is missing.
# Idempotent: does nothing when the venv already has those versions. Installs Debian's python3-venv
# only if `python3 -m venv` cannot create a venv with pip. Prints the venv's python path on stdout.
# Exits non-zero on any failure.
set -euo pipefail

MSAL_VERSION=1.39.0
PYSAML2_VERSION=7.5.5
# selenium 4.52.0 requires a certifi newer than any published on PyPI when this was pinned.
SELENIUM_VERSION=4.51.0
TREE_SITTER_VERSION=0.26.1
TREE_SITTER_POWERSHELL_VERSION=0.26.4
GSSAPI_VERSION=1.12.0
REQUESTS_GSSAPI_VERSION=1.4.0
AUTHLIB_VERSION=1.9.10
JOSERFC_VERSION=1.8.0
PYENV="${ALTGATE_PYENV:-/var/tmp/altgate-pyenv}"
PY="$PYENV/bin/python"

log() { printf 'setup-python-clients: %s\n' "$*" >&2; }
die() { printf 'setup-python-clients: ERROR: %s\n' "$*" >&2; exit 1; }

have_clients() {
    [[ -x "$PY" ]] && "$PY" - "$MSAL_VERSION" "$PYSAML2_VERSION" "$SELENIUM_VERSION" \
        "$TREE_SITTER_VERSION" "$TREE_SITTER_POWERSHELL_VERSION" \
        "$GSSAPI_VERSION" "$REQUESTS_GSSAPI_VERSION" "$AUTHLIB_VERSION" "$JOSERFC_VERSION" <<'EOF' >/dev/null 2>&1
import sys, importlib.metadata as md
import msal, requests, saml2, saml2.client, selenium, selenium.webdriver
import tree_sitter, tree_sitter_powershell
import gssapi, requests_gssapi
import authlib.integrations.requests_client, joserfc.jwt, joserfc.jwk
names = ("msal", "pysaml2", "selenium", "tree-sitter", "tree-sitter-powershell",
         "gssapi", "requests-gssapi", "authlib", "joserfc")
want = dict(zip(names, sys.argv[1:10]))
sys.exit(0 if all(md.version(name) == ver for name, ver in want.items()) else 1)
EOF
}

if have_clients; then
    log "msal $MSAL_VERSION, pysaml2 $PYSAML2_VERSION, selenium $SELENIUM_VERSION, tree-sitter-powershell $TREE_SITTER_POWERSHELL_VERSION, gssapi $GSSAPI_VERSION, requests-gssapi $REQUESTS_GSSAPI_VERSION, authlib $AUTHLIB_VERSION, joserfc $JOSERFC_VERSION already installed in $PYENV"
    printf '%s\n' "$PY"
    exit 0
fi

command -v python3 >/dev/null || die "python3 not found"

SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
APT_UPDATED=0
apt_install() {
    if [[ $APT_UPDATED -eq 0 ]]; then
        "${SUDO[@]}" apt-get update
        APT_UPDATED=1
    fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

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
    apt_install python3-venv
    venv_works || die "python3 -m venv still does not work after installing python3-venv"
fi

if [[ ! -x "$PYENV/bin/pip" ]] || ! "$PY" -c 'import sys' >/dev/null 2>&1; then
    log "creating venv $PYENV"
    rm -rf -- "$PYENV"
    python3 -m venv "$PYENV"
fi

# What building gssapi from source needs (see above).
build_deps=()
command -v krb5-config >/dev/null || build_deps+=(libkrb5-dev)
command -v cc >/dev/null || build_deps+=(gcc)
if [[ ! -f "$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]]; then
    # Debian's python3 (prefix /usr): its headers are python3-dev; another interpreter brings its own
    [[ "$("$PY" -c 'import sys; print(sys.base_prefix)')" == /usr ]] ||
        die "the interpreter behind $PY has no Python.h; gssapi cannot be built"
    build_deps+=(python3-dev)
fi
if [[ ${#build_deps[@]} -gt 0 ]]; then
    log "installing what building gssapi needs: ${build_deps[*]}"
    apt_install "${build_deps[@]}"
fi

log "installing msal==$MSAL_VERSION pysaml2==$PYSAML2_VERSION selenium==$SELENIUM_VERSION tree-sitter==$TREE_SITTER_VERSION tree-sitter-powershell==$TREE_SITTER_POWERSHELL_VERSION gssapi==$GSSAPI_VERSION requests-gssapi==$REQUESTS_GSSAPI_VERSION authlib==$AUTHLIB_VERSION joserfc==$JOSERFC_VERSION into $PYENV"
"$PYENV/bin/pip" install --disable-pip-version-check --quiet \
    "msal==$MSAL_VERSION" "pysaml2==$PYSAML2_VERSION" "selenium==$SELENIUM_VERSION" \
    "tree-sitter==$TREE_SITTER_VERSION" "tree-sitter-powershell==$TREE_SITTER_POWERSHELL_VERSION" \
    "gssapi==$GSSAPI_VERSION" "requests-gssapi==$REQUESTS_GSSAPI_VERSION" \
    "authlib==$AUTHLIB_VERSION" "joserfc==$JOSERFC_VERSION"
have_clients || die "msal $MSAL_VERSION / pysaml2 $PYSAML2_VERSION / selenium $SELENIUM_VERSION / tree-sitter $TREE_SITTER_VERSION / tree-sitter-powershell $TREE_SITTER_POWERSHELL_VERSION / gssapi $GSSAPI_VERSION / requests-gssapi $REQUESTS_GSSAPI_VERSION / authlib $AUTHLIB_VERSION / joserfc $JOSERFC_VERSION not importable from $PY after install"
command -v xmlsec1 >/dev/null || log "warning: xmlsec1 not on PATH; pysaml2 needs it (Debian package xmlsec1)"
log "ok: $("$PY" -c 'import importlib.metadata as m; print(", ".join(n + " " + m.version(n) for n in ("msal", "pysaml2", "selenium", "tree-sitter", "tree-sitter-powershell", "gssapi", "requests-gssapi", "authlib", "joserfc")))')"
printf '%s\n' "$PY"
