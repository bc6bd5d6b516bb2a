#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, idempotently.
# Each piece lives in scripts/setup.d/NN-name.sh and caches under $ODRADEK_CACHE.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
mkdir -p "$ODRADEK_CACHE"
for step in "$here"/setup.d/*.sh; do
    [ -e "$step" ] || continue
    echo "setup: $(basename "$step")" >&2
    bash "$step"
done
