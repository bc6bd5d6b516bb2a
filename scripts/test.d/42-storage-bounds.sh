#!/usr/bin/env bash
# Storage bounds (tests/storage): the release broker under prlimit — 1,010 partitions under a
# 1,024 descriptor limit, and compaction of more keys than its key map holds with a bounded RSS.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
python="$ODRADEK_CACHE/venv/bin/python"
[ -x "$python" ] || { echo "42-storage-bounds.sh: no venv at $ODRADEK_CACHE/venv; run scripts/setup.sh" >&2; exit 1; }
command -v prlimit >/dev/null || { echo "42-storage-bounds.sh: prlimit (util-linux) is missing" >&2; exit 1; }
"$root/scripts/build-release.sh"
export ODRADEK_BROKER_BIN="$CARGO_TARGET_DIR/release/odradek-broker"
cd "$root/tests/storage"
exec "$python" -m pytest -q -p no:cacheprovider -s "$@"
