#!/usr/bin/env bash
# Benchmark harness smoke test: every client and broker path once with tiny counts (bench/run.py
# --mode quick), then the report writer. Checks only that everything runs; never judges a number.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# Debug builds are enough to check the paths work (cargo test has built most of it already).
sections="$(bench/sections.sh)"
# One invocation: the broker alone would resolve odradek-protocol without its client half and
# rebuild it (scripts/build-release.sh says more).
packages=(-p odradek-bench)
case "$sections" in *brokers*) packages+=(-p odradek-broker) ;; esac
cargo build --locked "${packages[@]}"
"$ODRADEK_CACHE/venv/bin/python" bench/run.py --mode quick --out "$out" --cargo-profile debug \
    --sections "$sections"
python3 bench/report.py --results "$out" --markdown "$out/BENCHMARKS.md" --plots "$out" --no-plots
grep -q "bench:end" "$out/BENCHMARKS.md"
runs=$(grep -c . "$out/results.jsonl")
echo "bench-quick: $runs passed, 0 failed"
