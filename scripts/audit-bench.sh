#!/usr/bin/env bash
# Benchmark `altgate audit` over a large directory, with the domain controller on this machine.
#
#   scripts/ad-forests.sh seed-bulk 100000   # once: the benchmark forest with 100,000 users
#   scripts/audit-bench.sh [ALTGATE_BINARY]  # default: a release build (cargo build --release)
#   scripts/ad-forests.sh bench-down         # afterwards: remove the benchmark forest
#
# Runs one audit of the benchmark forest (northwind.com, OU=AuditBulk) and prints: users read,
# wall time, users per second, altgate's peak RSS and CPU time, the domain controller's CPU time
# over the run (every samba process of the forest, from /proc), the share of CPU spent in the DC
# vs in altgate, and altgate's own split between reading and analysing. The JSON report is kept
# in the benchmark forest's directory (audit-bench.json). Needs root (reads samba's /proc).
set -euo pipefail

STATE="${ALTGATE_AD_DIR:-/var/tmp/altgate-ad}"
DIR="$STATE/northwind"
REPO="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"

die() { printf 'audit-bench: ERROR: %s\n' "$*" >&2; exit 1; }

[[ -f "$DIR/audit-bench.yaml" ]] || die "no benchmark forest: run scripts/ad-forests.sh seed-bulk 100000"
pid="$(tr -dc '0-9' <"$DIR/samba.pid" 2>/dev/null || true)"
[[ -n "$pid" && -d "/proc/$pid" ]] || die "the benchmark forest is not running (scripts/ad-forests.sh seed-bulk N)"

BIN="${1:-}"
if [[ -z "$BIN" ]]; then
    (cd "$REPO" && cargo build --release --quiet)
    BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/altgate"
fi
[[ -x "$BIN" ]] || die "$BIN is not executable"

# CPU seconds (user + system) of every live process in samba's process group.
ticks="$(getconf CLK_TCK)"
dc_cpu() {
    local f line fields total=0
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue
        read -r -a fields <<<"${line##*) }"
        # after the command name: state ppid pgrp ...; utime stime cutime cstime are fields
        # 14-17 (1-based): the exited children a process reaped count too
        [[ "${fields[2]}" == "$pid" ]] || continue
        total=$(( total + fields[11] + fields[12] + fields[13] + fields[14] ))
    done
    printf '%s\n' "$total"
}

out="$DIR/audit-bench.json"
times="$(mktemp)"
trap 'rm -f "$times"' EXIT
before="$(dc_cpu)"
start="$(date +%s%N)"
set +e
/usr/bin/time -f '%M %U %S' -o "$times" "$BIN" audit --config "$DIR/audit-bench.yaml" \
    --format json --output "$out"
rc=$?
set -e
end="$(date +%s%N)"
after="$(dc_cpu)"
[[ $rc -le 1 ]] || die "altgate audit failed (exit $rc)"

read -r rss_kb user sys < <(tail -n 1 "$times")
python3 - "$out" "$rss_kb" "$user" "$sys" "$(( end - start ))" "$(( after - before ))" "$ticks" <<'EOF'
import json, sys
report, rss_kb, user, sys_s, wall_ns, dc_ticks, hz = sys.argv[1:]
s = json.load(open(report))["summary"]
wall = int(wall_ns) / 1e9
ag = float(user) + float(sys_s)
dc = int(dc_ticks) / int(hz)
n = s["objects_read"]
print(f"users read            {n:,}")
print(f"findings              {s['findings']:,} ({s['errors']:,} errors, {s['warnings']:,} warnings, {s['infos']:,} infos)")
print(f"wall time             {wall:.1f} s  ({n / wall:,.0f} users/s)")
print(f"altgate peak RSS      {int(rss_kb) / 1024:.0f} MB")
print(f"altgate CPU           {ag:.1f} s (reading {s['seconds_reading']:.1f} s wall, analysing {s['seconds_analysing']:.1f} s wall)")
print(f"domain controller CPU {dc:.1f} s")
print(f"CPU share             DC {100 * dc / (dc + ag):.0f} %, altgate {100 * ag / (dc + ag):.0f} %")
EOF
