#!/usr/bin/env bash
# Fuzz every parser of untrusted input with libFuzzer, SECONDS each (default 30).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs a nightly toolchain and cargo-fuzz (`rustup toolchain install nightly`,
# `cargo install cargo-fuzz --locked`); without them it says so and exits 0 (the property tests
# in tests/parsers.rs, part of `cargo test`, cover the same parsers on every run). Each target
# starts from the seeds in fuzz/seeds/<target> and keeps what it finds in fuzz/corpus/<target>
# (not committed); a crash is saved under fuzz/artifacts/<target>/ and reproduced with
# `cargo +nightly fuzz run <target> <file>`. Exits 1 when any target found a crash.
set -euo pipefail

SECONDS_EACH="${1:-30}"
shift || true
REPO_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT/fuzz"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz.sh: no nightly toolchain (rustup toolchain install nightly); nothing fuzzed" >&2
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is not installed (cargo install cargo-fuzz --locked); nothing fuzzed" >&2
    exit 0
fi

if [[ $# -gt 0 ]]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo +nightly fuzz list)
fi

cargo +nightly fuzz build >&2

dict_for() {
    case "$1" in
        xml | wstrust_rst | saml_request) echo "-dict=dicts/xml.dict" ;;
        query) echo "-dict=dicts/query.dict" ;;
    esac
}

failed=()
summary=()
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t" "seeds/$t"
    log="$(mktemp)"
    echo "fuzz.sh: $t for ${SECONDS_EACH}s" >&2
    # shellcheck disable=SC2046 # the dictionary option is one word or none
    if cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECONDS_EACH" -print_final_stats=1 -rss_limit_mb=2048 \
        $(dict_for "$t") >"$log" 2>&1; then
        result=ok
    else
        result=CRASH
        failed+=("$t")
        # The panic or sanitizer report and the saved input, without the stack traces.
        grep -v -E '^ +(#[0-9]+ |[0-9]+: |at )' "$log" | tail -40 >&2
    fi
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    corpus="$(find "corpus/$t" -type f | wc -l)"
    summary+=("$(printf '%-14s %-6s %12s runs %8s/s %6s corpus' "$t" "$result" "$runs" "$rate" "$corpus")")
    rm -f "$log"
done

printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz.sh: crashes in: ${failed[*]} (see fuzz/artifacts/)" >&2
    exit 1
fi
