#!/usr/bin/env bash
# Profiles our Rust client's bench peer (odradek-peer) against Apache Kafka with perf (software
# cpu-clock event: hardware counters are not available on these VMs) and prints the top
# self-cost symbols of each scenario. Usage: bench/profile.sh [OUT_DIR]  (after make bench built
# the release binaries).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
target="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
peer="$target/release/odradek-peer"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
[ -x "$peer" ] || { echo "profile.sh: no $peer; run make bench (or cargo build --release -p odradek-bench)" >&2; exit 2; }
kdir="$(mktemp -d)"
trap '"$root/scripts/apache-kafka.sh" stop "$kdir"; rm -rf "$kdir"' EXIT
bootstrap="$("$root/scripts/apache-kafka.sh" start "$kdir")"
profile() {  # name, then the peer's arguments
    local name="$1"; shift
    perf record -q -e cpu-clock -F 4000 -g -o "$out/$name.data" "$peer" "$@" --bootstrap "$bootstrap" >/dev/null
    echo "### $name: top self cost (all threads of the client process)"
    perf report -i "$out/$name.data" --no-children --sort sym --percent-limit 2 --stdio 2>/dev/null \
        | grep -E '^ +[0-9.]+%' | head -15
    echo
}
profile produce-100B-none produce --topic prof-a --count 1000000 --size 100 --acks 1 --compression none --linger-ms 5 --batch-size 65536
profile produce-1KiB-lz4 produce --topic prof-b --count 200000 --size 1024 --acks 1 --compression lz4 --linger-ms 5 --batch-size 65536
profile consume-100B-none consume --topic prof-a --count 1000000
profile consume-1KiB-lz4 consume --topic prof-b --count 200000
