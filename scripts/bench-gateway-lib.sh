# shellcheck shell=bash
# Shared by scripts/bench-gateway.sh and scripts/kyc-ab.sh (sourced, not run): waiting for the bench
# example, wrk scripts for its POST bodies, and a process's CPU ticks.

# wait_ready WORKDIR: waits (at most 60 s) for the bench example's ready.json in WORKDIR, then sets
# `base` (the gateway's URL) and `key` (the bench SP's API key). Returns 1 if it never appears.
wait_ready() {
  for _ in $(seq 1 600); do [ -s "$1/ready.json" ] && break; sleep 0.1; done
  [ -s "$1/ready.json" ] || return 1
  base=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["base"])' "$1/ready.json")
  key=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["key"])' "$1/ready.json")
}

# post_lua BODY_FILE LUA_FILE: a wrk script POSTing the JSON body with the bench SP's key (`key`).
post_lua() {
  python3 - "$1" "$key" > "$2" <<'PY'
import json, sys
body = open(sys.argv[1]).read()
print('wrk.method = "POST"')
print('wrk.body = ' + json.dumps(body))
print('wrk.headers["Content-Type"] = "application/json"')
print('wrk.headers["Authorization"] = "Bearer ' + sys.argv[2] + '"')
PY
}

# ticks PID: user + system CPU ticks of PID and its reaped children (0 if it is gone).
ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0; }
