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
    start=$SECONDS
    bash "$suite" || { echo "=== suite FAILED: $(basename "$suite")" >&2; status=1; }
    # Wall time per suite, so the budget of `make test` (under 30 minutes on 2 cores) can be kept.
    echo "=== suite $(basename "$suite") took $((SECONDS - start)) s" >&2
done
exit $status
