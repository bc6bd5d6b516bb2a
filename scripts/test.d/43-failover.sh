#!/usr/bin/env bash
# Fail-over suite (tests/failover): a 3-node Apache Kafka 4.3.1 cluster (scripts/apache-kafka.sh
# cluster-start) under SIGKILL of the busiest leader, SIGSTOP of a leader, a rolling restart, a
# consumer group losing its coordinator and bootstrap with a hung first host; our Rust client
# (the odradek CLI), our Python binding and confluent-kafka (librdkafka) side by side. The SIGKILL
# scenario runs on a 3-node odradek cluster too (three odradek-broker processes in cluster mode),
# also with the Java client (kafka-clients 4.3.1 from $ODRADEK_CACHE/kafka-4.3.1, run from source),
# and so do group consumers of our Rust client, librdkafka and the Java client (Kafka's
# ConsoleConsumer) through a SIGKILL and a SIGSTOP of their coordinator and a rolling restart;
# Kafka's own admin tools (kafka-reassign-partitions, kafka-leader-election, kafka-configs,
# kafka-topics --describe) run against that cluster first (test_admin_tools.py, about 10 s).
# Asserts integrity; prints stalls and failure counts of each client (FAILOVER_RESULTS=FILE saves
# them). Extra arguments go to pytest (e.g. -k odradek_cluster).
#
# The Python binding is the wheel scripts/test.d/35-python.sh built ($ODRADEK_PY_DIST, default
# $ODRADEK_CACHE/python-dist); it is installed into a temp dir, not rebuilt.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
python="$ODRADEK_CACHE/venv/bin/python"
[ -x "$python" ] || { echo "43-failover.sh: no venv at $ODRADEK_CACHE/venv; run scripts/setup.sh" >&2; exit 1; }
dist="${ODRADEK_PY_DIST:-$ODRADEK_CACHE/python-dist}"
wheel=$(ls "$dist"/odradek-*.whl 2>/dev/null | head -n1 || true)
[ -n "$wheel" ] || { echo "43-failover.sh: no odradek wheel in $dist; run scripts/test.d/35-python.sh first" >&2; exit 1; }

"$root/scripts/build-release.sh"
export ODRADEK_CLI_BIN="$CARGO_TARGET_DIR/release/odradek"
export ODRADEK_BROKER_BIN="$CARGO_TARGET_DIR/release/odradek-broker"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m pip install -q --disable-pip-version-check --no-deps --no-index --target "$work/pylib" "$wheel"
export PYTHONPATH="$work/pylib${PYTHONPATH:+:$PYTHONPATH}"

cd "$root/tests/failover"
exec "$python" -m pytest -q -rA -s "$@"
