#!/usr/bin/env bash
# Installs the Debian packages that `make demo`, `make test` and `make bench` need, when missing.
# As root it runs apt-get; otherwise it prints the exact command to run and fails.
set -euo pipefail

want=(pkg-config libssl-dev openssl redis-server jq curl)
if [ "${1:-}" = "--bench" ]; then want+=(wrk hyperfine); fi

have_cmd() { command -v "$1" >/dev/null 2>&1; }
missing=()
for p in "${want[@]}"; do
  case "$p" in
    pkg-config|openssl|wrk|hyperfine|jq|curl) have_cmd "$p" || missing+=("$p") ;;
    redis-server) have_cmd redis-server || missing+=("$p") ;;
    libssl-dev) pkg-config --exists openssl 2>/dev/null || missing+=("$p") ;;
  esac
done

if ! have_cmd cargo; then
  echo "error: cargo not found; install the Rust toolchain (https://rustup.rs) first" >&2
  exit 1
fi

# Python's `cryptography`: an independent reader of our OCSP responses in the tests.
if ! python3 -c 'import cryptography.x509.ocsp' >/dev/null 2>&1; then
  echo "==> installing Python's cryptography (pip)" >&2
  python3 -m pip install -q cryptography >&2 || { echo "error: python3 -m pip install cryptography failed" >&2; exit 1; }
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && have_cmd apt-get; then
  echo "==> installing missing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || apt-get update
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's package starts a system redis on 6379; our tests start their own on free ports.
  exit 0
fi

echo "error: missing packages: ${missing[*]}" >&2
echo "run:   sudo apt-get install -y ${missing[*]}" >&2
exit 1
