#!/usr/bin/env bash
# The franz-go (v1.22.3) program of the interop suite, built from tests/interop/go (go.mod and
# go.sum committed) into $ODRADEK_CACHE/interop/franz. Modules and build cache live there too.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
src="$root/tests/interop/go"
out="$ODRADEK_CACHE/interop"
stamp="$out/.franz-$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)"
[ -e "$stamp" ] && [ -x "$out/franz" ] && exit 0
command -v go >/dev/null || { echo "62-go.sh: go not found (Go >= 1.26 is needed)" >&2; exit 1; }
mkdir -p "$out"
export GOMODCACHE="$ODRADEK_CACHE/go/mod" GOCACHE="$ODRADEK_CACHE/go/build" GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"
(cd "$src" && go build -o "$out/franz.tmp" .)
mv "$out/franz.tmp" "$out/franz"
rm -f "$out"/.franz-*
touch "$stamp"
