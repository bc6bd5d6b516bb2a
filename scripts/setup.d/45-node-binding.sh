#!/usr/bin/env bash
# The Node binding's build tool (@napi-rs/cli, pinned by node/package-lock.json), installed with
# `npm ci` into $ODRADEK_CACHE/node-binding (outside the clone); 45-node.sh builds with it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
src="$root/node"
dest="${ODRADEK_CACHE:-$HOME/.cache/odradek}/node-binding"
stamp="$dest/.complete-$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)"
[ -e "$stamp" ] && exit 0
command -v npm >/dev/null || { echo "45-node-binding.sh: npm not found (Node.js >= 20 is needed)" >&2; exit 1; }
rm -rf "$dest"
mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error --ignore-scripts)
touch "$stamp"
