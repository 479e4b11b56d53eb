#!/usr/bin/env bash
# Enforces deny.toml's "one crypto stack" rule without needing cargo-deny installed:
# fails if any banned crate is in the dependency graph of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
banned=$(sed -n '/^deny = \[/,/^\]/p' deny.toml | grep -o 'crate = "[^"]*"' | cut -d'"' -f2)
tree=$(cargo tree --workspace --locked --prefix none -e normal,build,dev --format '{p}' 2>/dev/null | awk '{print $1}' | sort -u)
bad=0
for c in $banned; do
  if grep -qx "$c" <<<"$tree"; then
    echo "error: banned crate '$c' is in the dependency graph (see deny.toml):" >&2
    cargo tree --workspace --locked -i "$c" -e normal,build,dev >&2 || true
    bad=1
  fi
done
if command -v cargo-deny >/dev/null 2>&1; then cargo deny check bans sources; fi
exit $bad
