#!/usr/bin/env bash
# Node binding suite (node/): builds the napi-rs addon (release) and runs node:test — the API
# against the embedded broker, a child process that must exit on its own, the conformance
# scenarios (tests/conformance) and interop with kafkajs 2.2.4 both ways; and tsc checks that
# index.d.ts types the API as used (test/types.check.ts).
#   extra arguments are test files to run instead of all (e.g. test/conformance.test.mjs)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
command -v node >/dev/null || { echo "45-node.sh: node not found (Node.js >= 20 is needed)" >&2; exit 1; }
bash "$root/scripts/setup.d/45-node-binding.sh"
bash "$root/scripts/setup.d/48-node.sh"
# The addon from the suites' one release build (napi build would build every crate again for an
# explicit --target); index.js loads it as odradek.node. index.d.ts is written by hand.
echo "45-node.sh: node $(node --version); the addon from scripts/build-release.sh" >&2
"$root/scripts/build-release.sh"
cp "$CARGO_TARGET_DIR/release/libodradek_node.so" "$root/node/odradek.node"
cd "$root/node"
bin="$ODRADEK_CACHE/node-binding/node_modules"
echo "45-node.sh: tsc --noEmit --strict test/types.check.ts (index.d.ts)" >&2
"$bin/.bin/tsc" --noEmit --strict --target es2022 --module commonjs --typeRoots "$bin/@types" --types node \
    test/types.check.ts
if [ $# -gt 0 ]; then files=("$@"); else files=(test/*.test.mjs); fi
echo "45-node.sh: node --test ${files[*]}" >&2
exec node --test --test-reporter=spec "${files[@]}"
