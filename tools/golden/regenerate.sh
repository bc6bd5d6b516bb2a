#!/usr/bin/env bash
# Regenerates the golden fixtures in protocol/tests/fixtures/{java,librdkafka,conversations} and the
# JSON sidecars.
# Not part of `make test`: the fixtures are checked in. Needs Java 17, network access for the first
# scripts/setup.sh, and about a minute (it starts Apache Kafka 4.3.1 once).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
"$root/scripts/setup.sh"   # Kafka jars, the Python venv, tools/java compiled into java-tools
libs="$ODRADEK_CACHE/kafka-4.3.1/libs"
python="$ODRADEK_CACHE/venv/bin/python"
golden="$root/tools/golden"
fixtures="$root/protocol/tests/fixtures"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

rm -rf "$fixtures/java" "$fixtures/librdkafka" "$fixtures/conversations"
javac -nowarn -d "$work/classes" -cp "$libs/*" "$golden/GoldenJava.java"
java -cp "$work/classes:$libs/*" GoldenJava fixtures "$golden/logical-records.json" "$fixtures/java"
"$python" "$golden/capture_kafka.py" "$golden/logical-records.json" "$fixtures" "$work/classes:$libs/*"

rdkafka="$("$python" -c 'import confluent_kafka as c; print(f"librdkafka {c.libversion()[0]} (confluent-kafka {c.__version__})")')"
"$python" "$golden/make_sidecars.py" "$fixtures" \
    "kafka-clients 4.3.1 MemoryRecordsBuilder / ProduceRequest via tools/golden/GoldenJava.java" \
    "$rdkafka producing through the recording proxy of tools/golden/capture_kafka.py to Apache Kafka 4.3.1"
