#!/usr/bin/env bash
# The Java-client program of the interop suite (tests/interop/java), compiled with javac against
# the Kafka 4.3.1 jars from 20-kafka-jars.sh into $ODRADEK_CACHE/interop/java.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
src="$root/tests/interop/java"
libs="$ODRADEK_CACHE/kafka-4.3.1/libs"
out="$ODRADEK_CACHE/interop/java"
stamp="$out/.complete-$(cat "$src"/*.java | sha256sum | cut -c1-16)"
[ -e "$stamp" ] && exit 0
[ -d "$libs" ] || { echo "65-java-interop.sh: no Kafka jars in $libs (20-kafka-jars.sh runs first)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
javac -nowarn -encoding UTF-8 -cp "$libs/*" -d "$out" "$src"/*.java
touch "$stamp"
