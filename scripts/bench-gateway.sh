#!/usr/bin/env bash
# sp-gateway benchmark (issue 6), in one run on one machine, loopback only, bounded durations:
#   1. single certificate-status checks vs /healthz: requests/s ratio (target >= 50%) and p99 (target <= 5 ms);
#   2. one 100,000-item bulk status check: latency (target <= 200 ms);
#   3. KYC verifications/s (each with its Redis write and audit record) vs the single-core RSA-2048
#      verify/s that `openssl speed -seconds 3 rsa2048` prints (target >= 40%), at CONNS connections like
#      the other saturating runs (16 left about a tenth of the two cores idle), with the CPU each request
#      took in the gateway, redis-server and wrk.
# Needs wrk (Debian: apt-get install -y wrk), redis-server, openssl and curl.
# Environment: DURATION (seconds per wrk run, default 10), CONNS (default 32), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-gateway-lib.sh
source scripts/bench-gateway-lib.sh
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

for tool in wrk redis-server openssl curl; do
  if ! command -v "$tool" >/dev/null; then
    if [ "$tool" = wrk ] && [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else
      echo "bench-gateway: $tool is missing" >&2; exit 1; fi
  fi
done

cargo build --release --locked -p sp-gateway --example bench_gateway >&2
work=$(mktemp -d)
exec 3> >("$CARGO_TARGET_DIR/release/examples/bench_gateway" "$work" >/dev/null)
cleanup() { exec 3>&-; sleep 1; rm -rf "$work"; }
trap cleanup EXIT
wait_ready "$work" || { echo "bench-gateway: the gateway did not start" >&2; exit 1; }

# wrk --latency output -> "rps p99_ms"
parse_wrk() {
  python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", t)
v, u = float(m.group(1)), m.group(2)
p99 = v / 1000 if u == "us" else (v * 1000 if u == "s" else v)
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(f"{rps:.0f} {p99:.2f} {bad.group(1) if bad else 0}")'
}
run_wrk() { # $1 url, $2 lua or "", $3 conns
  local args=(-t1 -c"$3" -d"${DURATION:-10}s" --latency)
  [ -n "$2" ] && args+=(-s "$2")
  wrk "${args[@]}" "$1" | parse_wrk
}

post_lua "$work/status.json" "$work/status.lua"
post_lua "$work/kyc.json" "$work/kyc.lua"

# Warm up.
wrk -t1 -c8 -d2s "$base/healthz" >/dev/null
wrk -t1 -c8 -d2s -s "$work/status.lua" "$base/v1/certificate-status" >/dev/null

read -r h_rps h_p99 _ < <(run_wrk "$base/healthz" "" "$CONNS")
read -r s_rps s_p99 s_bad < <(run_wrk "$base/v1/certificate-status" "$work/status.lua" "$CONNS")
# p99 when the gateway is not saturated: 16 connections, each pausing 1 ms between requests (about
# a quarter of the saturated rate). wrk is closed-loop, so with 2 shared cores any saturating run
# measures the scheduler: at 8 unpaced connections even /healthz has a p99 of several ms (printed
# for comparison).
# Three runs, the median p99 checked (the machine is shared: one run can land on a noisy moment),
# and the gateway's own latency histogram over them, which excludes time spent outside the process.
{ cat "$work/status.lua"; echo 'function delay() return 1 end'; } > "$work/status-paced.lua"
hist() { curl -s "$base/metrics" | python3 -c '
import re, sys
b = {m.group(1): int(float(m.group(2))) for m in re.finditer(r"duration_seconds_bucket\{route=\"/v1/certificate-status\",le=\"([^\"]+)\"\} (\S+)", sys.stdin.read())}
print(b.get("0.001", 0), b.get("+Inf", 0))'; }
read -r h1_le1 h1_all < <(hist)
paced=()
for _ in 1 2 3; do
  read -r p_rps p_p99 _ < <(DURATION=5 run_wrk "$base/v1/certificate-status" "$work/status-paced.lua" 16)
  paced+=("$p_p99")
done
read -r h2_le1 h2_all < <(hist)
p_p99=$(printf '%s\n' "${paced[@]}" | sort -n | sed -n 2p)
# /healthz paced the same way: the floor this machine puts under any p99.
echo 'function delay() return 1 end' > "$work/healthz-paced.lua"
hpaced=()
for _ in 1 2 3; do
  read -r _ hp_p99 _ < <(DURATION=5 run_wrk "$base/healthz" "$work/healthz-paced.lua" 16)
  hpaced+=("$hp_p99")
done
hp_p99=$(printf '%s\n' "${hpaced[@]}" | sort -n | sed -n 2p)
p_server=$(python3 -c "print(round(100 * ($h2_le1 - $h1_le1) / max(1, $h2_all - $h1_all), 2))")
read -r s8_rps s8_p99 _ < <(run_wrk "$base/v1/certificate-status" "$work/status.lua" 8)
read -r h8_rps h8_p99 _ < <(run_wrk "$base/healthz" "" 8)

bulk_ms=()
for _ in 1 2 3 4 5; do
  t=$(curl -s -o "$work/bulk.out" -w '%{http_code} %{time_total}' -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' --data-binary @"$work/bulk.json" "$base/v1/certificate-status")
  [ "${t%% *}" = 200 ] || { echo "bench-gateway: bulk answered ${t%% *}" >&2; exit 1; }
  bulk_ms+=("$(python3 -c "print(round(float('${t#* }')*1000,1))")")
done
bulk_best=$(printf '%s\n' "${bulk_ms[@]}" | sort -n | head -1)
bulk_median=$(printf '%s\n' "${bulk_ms[@]}" | sort -n | sed -n 3p)
bulk_count=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["count"])' "$work/bulk.out")

ossl=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $(NF)}')
# Where the machine's CPU goes during the KYC run, per request: the gateway, redis-server (with
# its AOF-rewrite children) and wrk, from /proc (user + system time). The two cores are shared by
# all three, so this is the budget the 40% target has to fit in.
gw_pid=$(pgrep -f "examples/bench_gateway $work" | head -1)
redis_pid=$(pgrep -P "$gw_pid" redis-server | head -1)
gw_t0=$(ticks "$gw_pid"); redis_t0=$(ticks "$redis_pid")
TIMEFORMAT='%U %S'
{ time run_wrk "$base/v1/verifications" "$work/kyc.lua" "$CONNS" > "$work/kyc.out"; } 2> "$work/kyc.time"
read -r k_rps k_p99 k_bad < "$work/kyc.out"
read -r wrk_user wrk_sys < <(tail -1 "$work/kyc.time")
kyc_cpu="$(( $(ticks "$gw_pid") - gw_t0 )) $(( $(ticks "$redis_pid") - redis_t0 )) $wrk_user $wrk_sys $(getconf CLK_TCK)"

python3 - "$h_rps" "$h_p99" "$s_rps" "$s_p99" "$s_bad" "$s8_p99" "$bulk_best" "$bulk_median" "$bulk_count" "$ossl" "$k_rps" "$k_p99" "$k_bad" "$DURATION" "$CONNS" "$p_rps" "$p_p99" "$h8_p99" "${paced[*]}" "$p_server" "$hp_p99" "$kyc_cpu" <<'EOF'
import sys
(h_rps, h_p99, s_rps, s_p99, s_bad, s8_p99, b_best, b_med, b_n, ossl, k_rps, k_p99, k_bad, dur, conns, p_rps, p_p99, h8_p99, paced, p_server, hp_p99, kyc_cpu) = sys.argv[1:]
h_rps, s_rps, k_rps, ossl = float(h_rps), float(s_rps), float(k_rps), float(ossl)
def mark(ok): return "PASS" if ok else "MISS"
print(f"sp-gateway bench (wrk -t1, {dur}s per run, {conns} connections unless noted; loopback; 2 gateway workers)")
print(f"  /healthz                       {h_rps:>10.0f} req/s   p99 {float(h_p99):.2f} ms")
print(f"  single status check (by id)    {s_rps:>10.0f} req/s   p99 {float(s_p99):.2f} ms   non-2xx {s_bad}")
print(f"    ratio status/healthz         {s_rps / h_rps * 100:>9.1f} %    (target >= 50%)  {mark(s_rps >= 0.5 * h_rps)}")
print(f"    p99, paced ({float(p_rps):.0f} req/s)    {float(p_p99):>9.2f} ms   (target <= 5 ms) {mark(float(p_p99) <= 5)}   median of runs: {paced} ms")
print(f"      inside the gateway (its histogram): {p_server}% of those requests took <= 1 ms; /healthz paced the same way: p99 {float(hp_p99):.2f} ms (median of 3)")
print(f"    p99, 8 unpaced connections   {float(s8_p99):>9.2f} ms   (information; /healthz the same way: {float(h8_p99):.2f} ms)")
print(f"  bulk status, {b_n} ids        best {float(b_best):.1f} ms, median of 5 {float(b_med):.1f} ms   (target <= 200 ms) {mark(float(b_med) <= 200)}")
print(f"  openssl speed rsa2048 verify   {ossl:>10.0f} /s (one core)")
print(f"  KYC verifications ({conns} conns)   {k_rps:>10.0f} /s      p99 {float(k_p99):.2f} ms   non-2xx {k_bad}")
print(f"    ratio KYC/openssl verify     {k_rps / ossl * 100:>9.1f} %    (target >= 40%)  {mark(k_rps >= 0.4 * ossl)}")
gw_t, redis_t, wrk_u, wrk_s, hz = kyc_cpu.split()
n = k_rps * float(dur)
us = lambda secs: secs / n * 1e6
gw_us, redis_us, wrk_us = us(int(gw_t) / int(hz)), us(int(redis_t) / int(hz)), us(float(wrk_u) + float(wrk_s))
print(f"    CPU per KYC request: gateway {gw_us:.1f} us, redis-server {redis_us:.1f} us, wrk {wrk_us:.1f} us; "
      f"sum {gw_us + redis_us + wrk_us:.1f} us (one RSA verify: {1e6 / ossl:.1f} us; "
      f"40% on these 2 shared cores allows at most {2e6 / (0.4 * ossl):.1f} us for all of them)")
EOF
