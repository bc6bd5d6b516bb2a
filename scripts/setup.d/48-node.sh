#!/usr/bin/env bash
# kafkajs 2.2.4 for the interop suite, installed with `npm ci` from the committed lock file into
# $ODRADEK_CACHE/node-interop (outside the clone); tests run node with NODE_PATH pointing there.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
src="$root/tests/interop/node"
dest="$ODRADEK_CACHE/node-interop"
stamp="$dest/.complete-$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)"
[ -e "$stamp" ] && exit 0
command -v npm >/dev/null || { echo "48-node.sh: npm not found (Node.js >= 14 is needed)" >&2; exit 1; }
rm -rf "$dest"
mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
touch "$stamp"
