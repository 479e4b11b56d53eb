# jpki-pf: `make demo` and `make test` are the two commands a newcomer needs.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= auto

.PHONY: deps demo test lint fmt bench fuzz fuzz-check clean

deps:
	@./scripts/ensure-deps.sh

## demo: the end-to-end story against the J-LIS simulator, on embedded defaults
demo: deps
	$(CARGO) build --release --locked --bins
	./scripts/demo.sh

## test: formatting, clippy and rustdoc with -D warnings, every test, and a build check of the fuzz targets
test: deps lint fuzz-check
	$(CARGO) test --workspace --locked --all-targets
	$(CARGO) test --workspace --locked --doc

## fuzz-check: the fuzz targets compile against today's APIs (a build check, not a fuzz run; stable toolchain)
fuzz-check:
	$(CARGO) check --manifest-path fuzz/Cargo.toml --locked --bins

lint:
	$(CARGO) fmt --all -- --check
	./scripts/check-crypto-stack.sh
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --locked

fmt:
	$(CARGO) fmt --all

## bench: speed and memory targets, each printed as a ratio against a peer run in the same process tree
bench:
	@./scripts/ensure-deps.sh --bench
	./scripts/bench.sh

## fuzz: each fuzz target for a short, bounded time (needs cargo-fuzz and a nightly toolchain)
fuzz:
	./scripts/fuzz.sh

clean:
	$(CARGO) clean
	rm -rf demo-out
