#!/usr/bin/env bash
# Regenerates core/tests/fixtures/murmur2_partitions.json from the real Java client
# (kafka-clients 4.3.1 jars installed by scripts/setup.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
libs="${ODRADEK_CACHE:-$HOME/.cache/odradek}/kafka-4.3.1/libs"
[ -d "$libs" ] || { echo "no Kafka jars in $libs; run scripts/setup.sh" >&2; exit 2; }
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
javac -d "$build" -cp "$libs/*" "$here/Murmur2Partitions.java"
java -cp "$build:$libs/*" Murmur2Partitions > "$root/core/tests/fixtures/murmur2_partitions.json"
echo "wrote core/tests/fixtures/murmur2_partitions.json"
