#!/usr/bin/env bash
# Runs every suite in scripts/test.d/ in order; each is a script that exits non-zero on failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
status=0
for suite in "$here"/test.d/*.sh; do
    [ -e "$suite" ] || continue
    echo "=== suite: $(basename "$suite")" >&2
    bash "$suite" || { echo "=== suite FAILED: $(basename "$suite")" >&2; status=1; }
done
exit $status
