#!/usr/bin/env bash
# The one release build the test suites share: the broker, the CLI, the Rust examples, the C ABI and
# the Node addon, in a single cargo invocation. Every suite calls this same command, so only the first pays for it;
# selecting the broker alone would resolve odradek-protocol without its client half and rebuild it
# (and everything above it) a second time.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
cd "$root"
exec cargo build --release --locked -p odradek-broker -p odradek-cli -p odradek-examples -p odradek-ffi \
    -p odradek-node
