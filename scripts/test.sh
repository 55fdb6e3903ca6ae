#!/usr/bin/env bash
# Run altgate's whole test suite, the real-component tests included, and report every test
# binary's result.
#
#   scripts/test.sh [cargo test args...] [-- test binary args...]
#
# Installs the Debian packages the tests need (only if missing), brings the two Samba AD test
# forests up with scripts/ad-forests.sh (provisioning them on first use), sets up the Python
# clients and the browser, then runs each test target on its own, from the repository root:
#
#   lib        unit tests (src/)                  cargo test --lib
#   bins       unit tests of src/main.rs          cargo test --bins
#   doc        doc tests                          cargo test --doc
#   hermetic   integration, nothing installed     cargo test --test hermetic
#   parsers    parser property tests              cargo test --test parsers
#   it         integration, real components       cargo test --test it
#
# so that a failing binary never hides the others' results, and ends with a table of every
# binary, its result and its counts. It exits non-zero if a setup step failed or any binary did
# not run, did not build, failed, or was skipped.
#
# Nothing that cannot run counts as passed here: ALTGATE_REAL_COMPONENTS=1 makes a missing
# component fail tests/it instead of skipping it, and every binary runs with --include-ignored
# (the unit tests that need redis-server are #[ignore]d only for a plain `cargo test`).
#
# Every run builds with the `kerberos` feature (Windows integrated sign-in against the forests'
# KDC), so MIT's GSSAPI headers are among the packages installed.
#
# Extra arguments go to every cargo invocation (a test name filter, --release, ...); arguments
# after `--` go to the test binaries (--nocapture, --test-threads=1, ...). Arguments that select
# targets themselves (--lib, --test NAME, --doc, ...) replace the runs above with one
# `cargo test --no-fail-fast` of what they select, still reported binary by binary.
#
# Works from any directory. Needs root.
set -uo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd)"

PACKAGES=(dpkg-dev systemd adduser samba samba-ad-dc samba-ad-provision redis-server redis-sentinel ldb-tools ldap-utils openssl iproute2 xmlsec1 python3-venv prometheus krb5-user libkrb5-dev libclang-dev pkg-config curl)

# Setup steps that failed; the tests still run (the hermetic ones need none of it, and tests/it
# then fails loudly on what is missing), but the run fails.
setup_failed=()

setup() {
    local what="$1"
    shift
    if ! "$@"; then
        echo "test.sh: SETUP FAILED: $what" >&2
        setup_failed+=("$what")
    fi
}

install_missing() {
    local missing=() pkg status
    for pkg in "${PACKAGES[@]}"; do
        # `dpkg -s` also succeeds for removed-but-not-purged packages, so check the Status line
        status="$(dpkg -s "$pkg" 2>/dev/null || true)"
        if ! grep -qx 'Status: install ok installed' <<<"$status"; then
            missing+=("$pkg")
        fi
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    echo "test.sh: installing missing packages: ${missing[*]}" >&2
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

setup "Debian packages (${PACKAGES[*]})" install_missing
setup "scripts/ad-forests.sh up" "$SCRIPT_DIR/ad-forests.sh" up
# Microsoft's MSAL for Python: the third-party WS-Trust client the interoperability tests use.
setup "scripts/setup-python-clients.sh" bash -c '"$1" >/dev/null' _ "$SCRIPT_DIR/setup-python-clients.sh"
# Debian's Chromium, chromedriver and certutil for the real-browser sign-in test.
setup "scripts/setup-browser.sh" "$SCRIPT_DIR/setup-browser.sh"

cd "$REPO_ROOT" || exit 1
# Test secrets (service-account password files, signing keys, configs) go to a private temporary
# directory (mode 0700) that is removed when the run ends, whatever its outcome.
TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/altgate-test.XXXXXX")" || exit 1
export TMPDIR
LOGS="$TMPDIR/logs"
mkdir -p "$LOGS"
# The processes the tests start (redis-server, altgate nodes) stop by themselves within a second
# of the test binary's exit; their pid files are here too, so nothing outlives the run.
cleanup() {
    local f pid
    for f in "$TMPDIR"/altgate-tests-*/*/*.pid; do
        [[ -f "$f" ]] || continue
        pid="$(tr -dc '0-9' <"$f")"
        [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    done
    rm -rf -- "$TMPDIR"
}
trap cleanup EXIT

# A missing real component fails tests/it instead of skipping it.
export ALTGATE_REAL_COMPONENTS=1

# Split the arguments: cargo's, then the test binaries' (after `--`).
cargo_args=()
test_args=()
seen_separator=0
for arg in "$@"; do
    if [[ $seen_separator -eq 0 && "$arg" == "--" ]]; then
        seen_separator=1
    elif [[ $seen_separator -eq 0 ]]; then
        cargo_args+=("$arg")
    else
        test_args+=("$arg")
    fi
done

# Ignored tests need a component scripts/test.sh provides: run them too (unless the caller
# chose what to do about ignored tests).
include_ignored=(--include-ignored)
for arg in "${test_args[@]}"; do
    [[ "$arg" == "--ignored" || "$arg" == "--include-ignored" ]] && include_ignored=()
done

# The targets, in the order they run: label, cargo target selection.
targets=(
    "lib|--lib"
    "bins|--bins"
    "doc|--doc"
    "hermetic|--test hermetic"
    "parsers|--test parsers"
    "it|--test it"
)
for arg in "${cargo_args[@]}"; do
    case "$arg" in
    --lib | --bins | --bin | --bin=* | --doc | --test | --test=* | --tests | --example | --example=* | \
        --examples | --bench | --bench=* | --benches | --all-targets)
        targets=("selected|--no-fail-fast")
        break
        ;;
    esac
done

# Rows of the summary: target|binary|result|passed|failed|ignored|filtered|time
rows=()

# Reads one cargo test log; prints a row per test binary it ran.
summarise() {
    awk -v target="$1" '
        function flush() {
            if (name == "") return
            if (skipped) result = "SKIPPED (not a pass)"
            printf "%s|%s|%s|%s|%s|%s|%s|%s\n", target, name, result, passed, failed, ignored, filtered, took
            name = ""
        }
        /^[[:space:]]+Running / || /^[[:space:]]+Doc-tests / {
            flush()
            line = $0
            sub(/^[[:space:]]+(Running|Doc-tests) /, "", line)
            sub(/ \(.*\)$/, "", line)
            if ($1 == "Doc-tests") line = "doc-tests " line
            name = line; result = "NO RESULT (crashed or killed)"
            passed = failed = ignored = filtered = "-"; took = "-"; skipped = 0
            next
        }
        /SKIPPED, NOT PASSED/ { skipped = 1 }
        /^test result: / && name != "" {
            result = ($3 == "ok.") ? "ok" : "FAILED"
            for (i = 1; i <= NF; i++) {
                v = $(i - 1)
                if ($i ~ /^passed;?$/) passed = v
                else if ($i ~ /^failed;?$/) failed = v
                else if ($i ~ /^ignored;?$/) ignored = v
                else if ($i == "filtered") filtered = v
                else if ($i == "in") took = $(i + 1)
            }
        }
        END { flush() }
    ' "$2"
}

status=0
for entry in "${targets[@]}"; do
    label="${entry%%|*}"
    read -r -a selection <<<"${entry#*|}"
    log="$LOGS/$label.log"
    cmd=(cargo test --locked --features kerberos "${selection[@]}" "${cargo_args[@]}" -- "${include_ignored[@]}" "${test_args[@]}")
    echo
    echo "==== test.sh: $label: ${cmd[*]}"
    "${cmd[@]}" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    found="$(summarise "$label" "$log")"
    if [[ -z "$found" ]]; then
        rows+=("$label|(none)|$([[ $rc -eq 0 ]] && echo 'DID NOT RUN' || echo "BUILD FAILED (cargo exit $rc)")|-|-|-|-|-")
        status=1
        continue
    fi
    all_ok=1
    while IFS= read -r row; do
        rows+=("$row")
        IFS='|' read -r _ _ result _ <<<"$row"
        [[ "$result" == "ok" ]] || all_ok=0
    done <<<"$found"
    if [[ $rc -ne 0 && $all_ok -eq 1 ]]; then
        # Every binary that reported passed, yet cargo failed: a build or a binary that never ran.
        rows+=("$label|(cargo)|cargo exit $rc|-|-|-|-|-")
        all_ok=0
    fi
    [[ $all_ok -eq 1 ]] || status=1
done

echo
echo "==== test.sh: summary"
{
    echo "target|binary|result|passed|failed|ignored|filtered|time"
    printf '%s\n' "${rows[@]}"
} | awk -F'|' '
    { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NF }
    END { for (r = 1; r <= NR; r++) { line = ""; for (i = 1; i <= n; i++) line = line sprintf("%-" w[i] "s  ", cell[r, i]); sub(/ +$/, "", line); print line } }
'
for what in "${setup_failed[@]}"; do
    echo "setup FAILED: $what"
    status=1
done
if [[ $status -eq 0 ]]; then
    echo "test.sh: every test binary ran and passed"
else
    echo "test.sh: FAILED (see the table above; each target's output is above its summary row)"
fi
exit $status
