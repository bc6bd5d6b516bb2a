#!/usr/bin/env bash
# Small Java programs the tests run (tools/java/*.java), compiled against the Kafka 4.3.1 jars
# into $ODRADEK_CACHE/java-tools. Recompiled only when a source file or the jar set changes.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
libs="$ODRADEK_CACHE/kafka-4.3.1/libs"
out="$ODRADEK_CACHE/java-tools"
[ -e "$libs/kafka-clients-4.3.1.jar" ] || { echo "25-java-tools: no Kafka jars in $libs (20-kafka-jars.sh runs first)" >&2; exit 1; }
sources=("$root"/tools/java/*.java)
digest=$( { cat "$0" "${sources[@]}"; ls "$libs"; } | sha256sum | cut -c1-16)
stamp="$out/.complete-$digest"
[ -e "$stamp" ] && exit 0
rm -rf "$out"
mkdir -p "$out"
javac -nowarn -d "$out" -cp "$libs/*" "${sources[@]}"
# The sources compiled, so a test can tell stale classes from current ones.
mkdir -p "$out/src"
cp "${sources[@]}" "$out/src/"
touch "$stamp"
