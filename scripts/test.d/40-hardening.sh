#!/usr/bin/env bash
# Hardening suite (tests/hardening, issue 16): the release broker against hostile clients and
# foreign data — foreign folders in the data dir across restarts, a Fetch client that never
# reads, 1,000 connections announcing 100 MiB frames under an address-space limit, slow partial
# frames, idle connections, max.connections(.per.ip), the descriptor limit, SIGTERM with a stuck
# client. Checks survival, RSS under the configured bound, a confluent-kafka bystander served,
# and the hostile client refused or closed. Numbers are printed, never asserted against time.
#
#   extra arguments are passed to pytest (e.g. -k idle)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
python="$ODRADEK_CACHE/venv/bin/python"
[ -x "$python" ] || { echo "40-hardening.sh: no venv at $ODRADEK_CACHE/venv; run scripts/setup.sh" >&2; exit 1; }
"$root/scripts/build-release.sh"
export ODRADEK_BROKER_BIN="$CARGO_TARGET_DIR/release/odradek-broker"
cd "$root/tests/hardening"
exec "$python" -m pytest -q -s "$@"
