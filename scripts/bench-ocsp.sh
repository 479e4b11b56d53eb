#!/usr/bin/env bash
# ocsp-proxy against OpenSSL's responder (`openssl ocsp -index ... -multi 2`), the same CA, the same
# serials and the same responder key type, under the same load generator (wrk, one thread), one
# after the other in one run:
#   1. repeated checks of a set of 10,000 certificates (the SP re-check pattern: one CertID, no
#      nonce), RSA-2048 responder key on both sides: target >= 20x OpenSSL's responses per second,
#      p99 <= 5 ms at a paced load;
#   2. every request for a different certificate with a nonce (no cache can help), ECDSA P-256
#      responder key on both sides: target >= 5x.
# Prints both figures, the ratios, the machine and the commands. Needs wrk, openssl, python3, curl.
# Environment: DURATION (seconds per wrk run, default 10), CONNS (default 32), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=$CARGO_TARGET_DIR/release
CONNS=${CONNS:-32}
N=10000
for tool in wrk openssl python3 curl; do
  command -v "$tool" >/dev/null || {
    if [ "$tool" = wrk ] && [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else
      echo "bench-ocsp: $tool is needed" >&2; exit 1; fi
  }
done
cargo build --release --locked -p ocsp-proxy -p jlis-sim --bins >&2
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do pkill -KILL -P "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# The CA, its 10,000 certificates' serials (a tenth revoked), a snapshot and an OpenSSL index of them.
"$BIN/jlis-sim" init --dir "$work/sim" --at 2026-11-01T00:00:00Z >/dev/null
CA="$work/sim/ca/sign-2023/root.pem"
python3 - "$work" "$N" <<'PY'
import os, sys, time
work, n = sys.argv[1], int(sys.argv[2])
exp = time.strftime("%y%m%d%H%M%SZ", time.gmtime(time.time() + 365 * 86400))
rev = time.strftime("%y%m%d%H%M%SZ", time.gmtime(time.time() - 86400))
with open(os.path.join(work, "index.txt"), "w") as idx, open(os.path.join(work, "serials.txt"), "w") as ser:
    for i in range(n):
        s = 0x10000000 + i
        ser.write(f"{s:08X}\n")
        if i % 10 == 0:
            idx.write(f"R\t{exp}\t{rev},keyCompromise\t{s:08X}\tunknown\t/CN=holder {i}\n")
        else:
            idx.write(f"V\t{exp}\t\t{s:08X}\tunknown\t/CN=holder {i}\n")
PY
KEY_ID=$(openssl x509 -in "$CA" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :\n')
cargo run -q --release --locked -p revocation --example bench_snapshot -- "$KEY_ID" "$work/serials.txt" "$work/snap" >&2

# Responder certificates issued by the CA (delegated, id-kp-OCSPSigning): RSA-2048 and P-256.
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n' >"$work/ext.cnf"
for kind in rsa p256; do
  if [ "$kind" = rsa ]; then newkey=(-newkey rsa:2048); else newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); fi
  openssl req -new "${newkey[@]}" -nodes -keyout "$work/$kind.key" -out "$work/$kind.csr" -subj "/CN=PF OCSP $kind" 2>/dev/null
  openssl x509 -req -in "$work/$kind.csr" -CA "$CA" -CAkey "$work/sim/ca/sign-2023/root.key.pem" -set_serial 0x77 \
    -days 30 -extfile "$work/ext.cnf" -out "$work/$kind.pem" 2>/dev/null
done

# Request bodies: OpenSSL builds one, the serial is patched in for the others (same length).
openssl ocsp -issuer "$CA" -serial 0x10000000 -no_nonce -reqout "$work/plain.der" >/dev/null
openssl ocsp -issuer "$CA" -serial 0x10000000 -nonce -reqout "$work/nonce.der" >/dev/null
python3 - "$work" "$N" <<'PY'
import os, sys
work, n = sys.argv[1], int(sys.argv[2])
def lua(template, name, nonce):
    t = open(os.path.join(work, template), "rb").read()
    at = t.index(bytes([0x02, 0x04, 0x10, 0x00, 0x00, 0x00])) + 2
    out = ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/ocsp-request"', "bodies = {"]
    for i in range(n):
        b = bytearray(t)
        b[at:at + 4] = (0x10000000 + i).to_bytes(4, "big")
        if nonce:  # a different nonce per body: the last 16 octets are the nonce value
            b[-16:] = os.urandom(16)
        out.append('"' + "".join(f"\\{x}" for x in b) + '",')
    out.append("}")
    out.append("i = 0")
    out.append("request = function() i = i % #bodies + 1; return wrk.format(nil, nil, nil, bodies[i]) end")
    open(os.path.join(work, name), "w").write("\n".join(out) + "\n")
lua("plain.der", "plain.lua", False)
lua("nonce.der", "nonce.lua", True)
# OpenSSL's responder answers one request per connection and closes it; wrk's scripted `request`
# function gets no answer from it, so its load repeats one body (a static `wrk.body`). Its cost per
# request does not depend on the serial (no cache), so this does not flatter it.
for template, name in (("plain.der", "openssl-plain.lua"), ("nonce.der", "openssl-nonce.lua")):
    open(os.path.join(work, name), "w").write(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/ocsp-request"\n'
        f'wrk.body = io.open("{os.path.join(work, template)}", "rb"):read("*a")\n')
PY

parse_wrk() {
  python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", t)
v, u = float(m.group(1)), m.group(2)
p99 = v / 1000 if u == "us" else (v * 1000 if u == "s" else v)
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
err = re.search(r"Socket errors: (.*)", t)
print(f"{rps:.0f} {p99:.2f} {bad.group(1) if bad else 0} {1 if err else 0}")'
}
run_wrk() { # url lua conns [duration]
  wrk -t1 -c"$3" -d"${4:-${DURATION:-10}}s" --latency -s "$2" "$1" | parse_wrk
}

start_openssl() { # key kind -> sets url
  local port; port=$(free_port)
  openssl ocsp -index "$work/index.txt" -port "$port" -rsigner "$work/$1.pem" -rkey "$work/$1.key" -CA "$CA" \
    -multi 2 -nmin 60 -ignore_err >"$work/openssl-$1.log" 2>&1 &
  pids+=($!)
  # No probe: a connection closed without a whole request (a port probe, or the connections wrk
  # drops when a run ends) leaves an `openssl ocsp -multi` worker stuck for good (seen with OpenSSL
  # 3.0), which would starve the next run. Its start takes well under a second.
  sleep 2
  url="http://127.0.0.1:$port/"
}
start_ours() { # key kind -> sets url
  local port; port=$(free_port)
  cat >"$work/ocsp-$1.toml" <<EOF
listen = "127.0.0.1:$port"
workers = 2
snapshot_dir = "$work/snap"
ca_certs = ["$CA"]
[responder]
cert = "$work/$1.pem"
key = "$work/$1.key"
EOF
  RUST_LOG=warn "$BIN/ocsp-proxy" serve --config "$work/ocsp-$1.toml" >"$work/ours-$1.log" 2>&1 &
  pids+=($!)
  wait_port "$port" || { echo "bench-ocsp: ocsp-proxy did not start" >&2; cat "$work/ours-$1.log" >&2; exit 1; }
  url="http://127.0.0.1:$port/"
}
stop_last() { # the last server, and its worker processes (openssl ocsp -multi forks)
  local p=${pids[-1]}
  pkill -TERM -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; sleep 0.5
  pkill -KILL -P "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true
  unset 'pids[-1]'
}

# Both answer the same request the same way.
# No warm-up run for OpenSSL's responder: the connections wrk drops when a run ends leave its
# workers stuck (see start_openssl), so each measured run gets a fresh responder.
start_openssl rsa
read -r o1_rps o1_p99 o1_bad o1_err < <(run_wrk "$url" "$work/openssl-plain.lua" "$CONNS")

stop_last
start_ours rsa
openssl ocsp -issuer "$CA" -serial 0x1000000A -url "$url" -VAfile "$work/rsa.pem" -no_nonce 2>&1 | grep -q 'revoked' \
  || { echo "bench-ocsp: ocsp-proxy does not answer revoked" >&2; exit 1; }
run_wrk "$url" "$work/plain.lua" 8 2 >/dev/null
read -r u1_rps u1_p99 u1_bad u1_err < <(run_wrk "$url" "$work/plain.lua" "$CONNS")
# p99 at a paced load (each connection waits 1 ms between requests), median of three runs.
{ cat "$work/plain.lua"; echo 'function delay() return 1 end'; } >"$work/plain-paced.lua"
paced=()
for _ in 1 2 3; do read -r _ p _ _ < <(run_wrk "$url" "$work/plain-paced.lua" 8 5); paced+=("$p"); done
u1_paced=$(printf '%s\n' "${paced[@]}" | sort -n | sed -n 2p)
stop_last

start_openssl p256
read -r o2_rps o2_p99 o2_bad o2_err < <(run_wrk "$url" "$work/openssl-nonce.lua" "$CONNS")
stop_last
start_ours p256
run_wrk "$url" "$work/nonce.lua" 8 2 >/dev/null
read -r u2_rps u2_p99 u2_bad u2_err < <(run_wrk "$url" "$work/nonce.lua" "$CONNS")
stop_last

# A peer that answered nothing makes every ratio meaningless: refuse to report one.
for v in "$o1_rps" "$o2_rps"; do
  if [ "${v:-0}" = 0 ]; then
    echo "bench-ocsp: openssl ocsp answered no request under wrk; no ratio can be reported" >&2
    echo "ours: repeated checks $u1_rps/s (paced p99 $u1_paced ms), distinct with nonce $u2_rps/s" >&2
    exit 1
  fi
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.1f", a / b }'; }
r1=$(ratio "$u1_rps" "$o1_rps"); r2=$(ratio "$u2_rps" "$o2_rps")
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); $(openssl version)"
echo "load: wrk -t1 -c$CONNS -d${DURATION:-10}s, POST application/ocsp-request, $N distinct bodies cycled"
printf '1. repeated checks, no nonce, RSA-2048 responder: ocsp-proxy %s/s (p99 %s ms saturated, %s ms paced), openssl ocsp -multi 2 %s/s (p99 %s ms): ratio %sx (errors: ours %s/%s, openssl %s/%s)\n' \
  "$u1_rps" "$u1_p99" "$u1_paced" "$o1_rps" "$o1_p99" "$r1" "$u1_bad" "$u1_err" "$o1_bad" "$o1_err"
printf '2. every request different, nonce, P-256 responder: ocsp-proxy %s/s (p99 %s ms), openssl ocsp -multi 2 %s/s (p99 %s ms): ratio %sx (errors: ours %s/%s, openssl %s/%s)\n' \
  "$u2_rps" "$u2_p99" "$o2_rps" "$o2_p99" "$r2" "$u2_bad" "$u2_err" "$o2_bad" "$o2_err"
missed=0
ok() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { exit !((op == "<=") ? v <= l : v >= l) }'; }
for c in "repeated-checks-ratio $r1 >= 20" "repeated-checks-paced-p99-ms $u1_paced <= 5" "distinct-certificates-ratio $r2 >= 5"; do
  set -- $c
  if ok "$2" "$3" "$4"; then echo "   $1 $2 $3 $4 ok"; else echo "   $1 $2 $3 $4 MISSED"; missed=$((missed + 1)); fi
done
[ "$missed" -eq 0 ]
