#!/usr/bin/env bash
# Benchmark peers' build inputs: Debian's librdkafka headers (C peer), a C compiler, javac, and the
# franz-go module (Go peer). The plotting venv is slower and only `make bench` needs it, so
# scripts/bench.sh installs that.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
stamp="$ODRADEK_CACHE/bench/.setup-$(cat "$root/bench/peers/franz/go.sum" "$0" | sha256sum | cut -c1-16)"
[ -e "$stamp" ] && exit 0
# The interop set-up (40-debian.sh) may install librdkafka-dev too: install only if missing.
if ! pkg-config --exists rdkafka 2>/dev/null || ! command -v cc >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librdkafka-dev pkg-config gcc >/dev/null
fi
command -v javac >/dev/null || { echo "70-bench: javac (JDK 17) is required" >&2; exit 1; }
command -v go >/dev/null || { echo "70-bench: go is required" >&2; exit 1; }
(cd "$root/bench/peers/franz" && go mod download)
mkdir -p "$(dirname "$stamp")"
touch "$stamp"
