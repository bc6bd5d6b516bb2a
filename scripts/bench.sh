#!/usr/bin/env bash
# `make bench`: the full benchmark (bench/run.py --mode full, about 25 minutes on 2 cores), then
# BENCHMARKS.md tables and bench/results/*.png (bench/report.py). BENCH_MODE=quick for a smoke run.
# Extra run.py arguments can be given in BENCH_ARGS (e.g. BENCH_ARGS="--sections brokers").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
scripts/setup.sh

# Plotting venv (matplotlib), only for the benchmark.
venv="$ODRADEK_CACHE/bench-venv"
stamp="$venv/.complete-$(sha256sum bench/requirements.txt | cut -c1-16)"
if [ ! -e "$stamp" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r bench/requirements.txt
    touch "$stamp"
fi

# Release builds of what we measure.
sections="$(bench/sections.sh)"
case "$sections" in *brokers*) cargo build --release --locked -p odradek-broker --bins ;; esac
# Our Rust client's peer (crate bench/), once it is a workspace member.
if grep -q '"bench"' Cargo.toml; then cargo build --release --locked -p odradek-bench; fi

# The confluent-kafka Rust crate's peer: its own cargo project and target dir, one job (about five
# minutes the first time; never built by make test).
crust_target="$ODRADEK_CACHE/bench/confluent-rust-target"
crust_args=()
if (cd bench/peers/confluent_rust && CARGO_TARGET_DIR="$crust_target" CARGO_BUILD_JOBS=1 \
        cargo build --release --locked); then
    crust_args=(--confluent-rust "$crust_target/release/confluent-rust-peer")
else
    echo "bench: the confluent-kafka Rust peer did not build; measuring without it" >&2
fi

out="$ODRADEK_CACHE/bench/runs/$(date -u +%Y%m%d-%H%M%S)"
status=0
"$ODRADEK_CACHE/venv/bin/python" bench/run.py --mode "${BENCH_MODE:-full}" --out "$out" \
    --sections "$sections" "${crust_args[@]}" ${BENCH_ARGS:-} \
    || status=$?
mkdir -p bench/results
cp "$out/results.jsonl" "$out/environment.json" bench/results/
"$venv/bin/python" bench/report.py --results bench/results --markdown BENCHMARKS.md \
    --plots bench/results --notes bench/NOTES.md
echo "bench: results in $out; BENCHMARKS.md and bench/results/*.png updated" >&2
exit $status
