# Odradek: the two commands a new machine needs are `make run` and `make test`.
#
# Caches (cargo target dir, Maven jars, the Python venv, npm and Go modules) live outside the
# clone, in $(ODRADEK_CACHE), so a fresh CI clone reuses them; nothing requires them to exist.
ODRADEK_CACHE ?= $(HOME)/.cache/odradek
export ODRADEK_CACHE
export CARGO_TARGET_DIR ?= $(ODRADEK_CACHE)/target
# Two cores: keep every parallel thing bounded.
export CARGO_BUILD_JOBS ?= 2
export RUST_TEST_THREADS ?= 2
# A test run compiles each workspace crate once; incremental state (8 GB of it) only costs disk.
export CARGO_INCREMENTAL ?= 0

.PHONY: run test setup lint test-rust test-suites bench release

## Run the main job on the embedded default broker.
run:
	cargo build --release -p odradek-cli
	scripts/run-quickstart.sh

## Everything CI runs: set-up, lints, every test suite.
test: setup lint test-rust test-suites

setup:
	scripts/setup.sh

lint:
	python3 scripts/release/check_source_versions.py
	python3 scripts/parity_table.py --check
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

## cargo test; the suites' release builds compile in the background meanwhile (scripts/test-rust.sh).
test-rust:
	scripts/test-rust.sh

## Suites beyond cargo test (interop with real clients, Apache Kafka, bindings): scripts/test.d/*.sh
## Their release builds skip cross-crate LTO: cargo, napi and maturin then share one set of
## artifacts (a thin-LTO build compiles each crate again per kind of root), and links are quick.
## `make run`, `make bench` and `make release` keep the release profile's LTO.
test test-rust test-suites: export CARGO_PROFILE_RELEASE_LTO := false
test-suites:
	scripts/test-suites.sh

bench:
	scripts/bench.sh

## Every package users install (wheel + sdist, npm, Go module proxy files, NuGet, C/C++ prefix,
## CLI) into dist/, one version, stripped, with dist/SHA256SUMS. TARGET: a Rust target triple.
release:
	scripts/release/build.sh $(TARGET)
