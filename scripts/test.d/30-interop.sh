#!/usr/bin/env bash
# Interop suite (tests/interop): real third-party clients — kcat, confluent-kafka, kafka-python,
# kafkajs, the Java client, franz-go — produce and consume against the broker under test, and a
# SIGKILL crash-durability test. Peers come from scripts/setup.sh (setup.d/30, 40, 48, 62, 65).
#
#   ODRADEK_INTEROP_BROKER=odradek|apache   broker under test (default odradek; apache validates
#                                           the harness itself against Apache Kafka 4.3.1)
#   extra arguments are passed to pytest (e.g. -k kcat)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
broker="${ODRADEK_INTEROP_BROKER:-odradek}"
python="$ODRADEK_CACHE/venv/bin/python"
[ -x "$python" ] || { echo "30-interop.sh: no venv at $ODRADEK_CACHE/venv; run scripts/setup.sh" >&2; exit 1; }

args=(--broker "$broker")
if [ "$broker" = odradek ]; then
    "$root/scripts/build-release.sh"
    export ODRADEK_BROKER_BIN="$CARGO_TARGET_DIR/release/odradek-broker"
fi
# Our client, through the odradek CLI (test_our_client.py) and the exactly-once processor
# example (test_exactly_once.py).
"$root/scripts/build-release.sh"
export ODRADEK_CLI_BIN="$CARGO_TARGET_DIR/release/odradek"
export ODRADEK_EOS_PROCESSOR_BIN="$CARGO_TARGET_DIR/release/eos_processor"

cd "$root/tests/interop"
exec "$python" -m pytest -q "${args[@]}" "$@"
