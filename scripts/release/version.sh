#!/usr/bin/env bash
# Prints the project's one version: `version` of [workspace.package] in the workspace Cargo.toml.
# Every package (wheel, npm, Go module, NuGet, CMake, the CLI) takes its version from here, so
# nothing else states it by hand. Needs only python3 (tomllib), not cargo.
#   scripts/release/version.sh          0.1.0
#   scripts/release/version.sh --go     v0.1.0 (a Go module version)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
version="$(python3 - "$root/Cargo.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print(tomllib.load(f)["workspace"]["package"]["version"])
PY
)"
case "${1:-}" in
"") echo "$version" ;;
--go) echo "v$version" ;;
*) echo "usage: version.sh [--go]" >&2; exit 2 ;;
esac
