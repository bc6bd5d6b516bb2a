#!/usr/bin/env bash
# franz-go's kgo integration suite (scripts/test.d/65-kgo.sh): downloads the modules pinned by
# tests/kgo (go.mod and go.sum committed) and compiles the suite once, so the test run only links.
# Modules and the build cache live in $ODRADEK_CACHE/go, as in 62-go.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
src="$root/tests/kgo"
out="$ODRADEK_CACHE/kgo"
stamp="$out/.kgo-$(cat "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-16)"
[ -e "$stamp" ] && exit 0
command -v go >/dev/null || { echo "64-kgo.sh: go not found (Go >= 1.26 is needed)" >&2; exit 1; }
mkdir -p "$out"
export GOMODCACHE="$ODRADEK_CACHE/go/mod" GOCACHE="$ODRADEK_CACHE/go/build" GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"
(cd "$src" && go mod download && go test -c -o /dev/null github.com/twmb/franz-go/pkg/kgo)
rm -f "$out"/.kgo-*
touch "$stamp"
