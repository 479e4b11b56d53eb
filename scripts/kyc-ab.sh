#!/usr/bin/env bash
# A/B runs of the KYC load from scripts/bench-gateway.sh, for comparing two builds of the bench example on
# this shared, noisy machine: the builds alternate (A B A B ...), each run starts its own gateway and
# redis-server, warms up for 2 s, then runs wrk for DURATION seconds and prints KYC/s, the CPU per request
# of the gateway, redis-server (with its AOF-rewrite children) and wrk, and the idle share of the machine.
#
#   scripts/kyc-ab.sh BINARY_A [BINARY_B] [PAIRS]
#
# BINARY_* are builds of `cargo build --release -p sp-gateway --example bench_gateway` (copy one aside
# before rebuilding). Environment: CONNS (default 32), DURATION (default 8), BENCH_WORKERS (passed on).
# Needs wrk, redis-server and python3. Loopback only; every run is bounded by DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-gateway-lib.sh
source scripts/bench-gateway-lib.sh
[ $# -ge 1 ] || { sed -n 2,10p "$0" >&2; exit 2; }
A=$1
B=${2:-}
PAIRS=${3:-3}
CONNS=${CONNS:-32}
DURATION=${DURATION:-8}

idle() { awk '/^cpu /{print $5 + $6}' /proc/stat; }

one() { # $1 binary
  local work pid rpid g0 r0 i0 g1 r1 i1 out
  work=$(mktemp -d)
  exec 3> >("$1" "$work" >/dev/null 2>"$work/gw.err")
  wait_ready "$work" || { echo "kyc-ab: $1 did not start" >&2; exec 3>&-; return 1; }
  post_lua "$work/kyc.json" "$work/kyc.lua"
  pid=$(pgrep -f "$1 $work" | head -1)
  rpid=$(pgrep -P "$pid" redis-server | head -1)
  wrk -t1 -c16 -d2s -s "$work/kyc.lua" "$base/v1/verifications" >/dev/null
  g0=$(ticks "$pid"); r0=$(ticks "$rpid"); i0=$(idle)
  TIMEFORMAT='WRKCPU %U %S'
  out=$( { time wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$work/kyc.lua" "$base/v1/verifications"; } 2>&1)
  sleep 0.2 # let an AOF-rewrite child that ended with the run be reaped into redis-server's figures
  g1=$(ticks "$pid"); r1=$(ticks "$rpid"); i1=$(idle)
  exec 3>&-
  sleep 1
  rm -rf "$work"
  python3 - "$1" "$out" "$((g1 - g0))" "$((r1 - r0))" "$((i1 - i0))" "$(getconf CLK_TCK)" "$DURATION" <<'EOF'
import re, sys
name, out, g, r, idle, hz, dur = sys.argv[1:]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
u, s = map(float, re.search(r"WRKCPU ([\d.]+) ([\d.]+)", out).group(1, 2))
hz, dur = int(hz), float(dur)
n = rps * dur
us = lambda t: t / n * 1e6
print(f"{name}: {rps:8.0f} KYC/s   CPU per request: gateway {us(int(g) / hz):.1f} us, "
      f"redis-server {us(int(r) / hz):.1f} us, wrk {us(u + s):.1f} us   idle {int(idle) / hz / dur:.2f} cores")
EOF
}

for _ in $(seq 1 "$PAIRS"); do
  one "$A"
  if [ -n "$B" ]; then one "$B"; fi
done
