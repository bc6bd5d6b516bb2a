#!/usr/bin/env bash
# Broker security seen from real clients (tests/security/test_broker_peers.py): the Java Admin
# client (Kafka 4.3.1's ConfigCommand / AclCommand / TopicCommand) manages SCRAM users, topics
# and ACLs on our broker; librdkafka (confluent-kafka), the Java client and franz-go log in with
# SASL_SSL SCRAM-SHA-512, SASL_SSL PLAIN and mutual TLS, and meet the ACLs. Certificates are made
# by scripts/test-certs.sh. Peers come from scripts/setup.sh (setup.d/20, 30, 62).
#
#   ODRADEK_BROKER_BIN   broker binary (default: the release build made here)
#   extra arguments      passed to pytest (e.g. -k franz)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
python="$ODRADEK_CACHE/venv/bin/python"
[ -x "$python" ] || { echo "47-security-broker.sh: no venv at $ODRADEK_CACHE/venv; run scripts/setup.sh" >&2; exit 1; }
[ -x "$ODRADEK_CACHE/interop/franz" ] || { echo "47-security-broker.sh: no franz-go program; run scripts/setup.sh (setup.d/62-go.sh)" >&2; exit 1; }
[ -d "$ODRADEK_CACHE/kafka-4.3.1/libs" ] || { echo "47-security-broker.sh: no Kafka jars; run scripts/setup.sh (setup.d/20-kafka-jars.sh)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "47-security-broker.sh: openssl not found (scripts/test-certs.sh needs it)" >&2; exit 1; }

if [ -z "${ODRADEK_BROKER_BIN:-}" ]; then
    "$root/scripts/build-release.sh"
    export ODRADEK_BROKER_BIN="$CARGO_TARGET_DIR/release/odradek-broker"
fi
cd "$root/tests/security"
exec "$python" -m pytest -q -p no:cacheprovider -ra "$@"
