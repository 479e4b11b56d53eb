#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a short, bounded time (FUZZ_SECONDS each, default 30).
# Uses cargo-fuzz when installed; otherwise builds the libFuzzer binaries directly with
# SanitizerCoverage instrumentation (works on stable: no sanitizer, coverage-guided only).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-30}
targets=$(sed -n 's/^name = "\(.*\)"/\1/p' fuzz/Cargo.toml | grep -v '^jpki-pf-fuzz$')
if command -v cargo-fuzz >/dev/null 2>&1 && rustup toolchain list 2>/dev/null | grep -q nightly; then
  for t in $targets; do
    echo "==> fuzz $t for ${secs}s (cargo fuzz)"
    (cd fuzz && cargo +nightly fuzz run "$t" -- -max_total_time="$secs")
  done
  exit 0
fi
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR=fuzz/target
# --target keeps RUSTFLAGS off build scripts and proc macros.
triple=$(rustc -vV | sed -n "s/^host: //p")
cargo build --release --manifest-path fuzz/Cargo.toml --bins --target "$triple"
for t in $targets; do
  mkdir -p "fuzz/corpus/$t" fuzz/artifacts
  echo "==> fuzz $t for ${secs}s"
  "fuzz/target/$triple/release/$t" -max_total_time="$secs" -artifact_prefix=fuzz/artifacts/ "fuzz/corpus/$t"
done
