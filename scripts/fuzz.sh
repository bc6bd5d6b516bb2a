#!/usr/bin/env bash
# Runs the cargo-fuzz targets of protocol/fuzz (frame_decoder, record_batches), each for
# FUZZ_SECONDS (default 60). Not part of `make test`.
#
# cargo-fuzz needs nightly compiler flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them. Corpora and crash artifacts stay in protocol/fuzz/{corpus,artifacts}
# (git-ignored); the build goes to the shared cargo cache.
#
#   scripts/fuzz.sh                 # both targets, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh record_batches
set -euo pipefail
cd "$(dirname "$0")/../protocol"

ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frame_decoder record_batches)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

for target in "${targets[@]}"; do
    echo "== fuzzing $target for ${seconds}s"
    cargo fuzz run --fuzz-dir fuzz --target-dir "$ODRADEK_CACHE/target/fuzz" -O "$target" \
        -- -max_total_time="$seconds"
done
