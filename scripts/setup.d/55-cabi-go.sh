#!/usr/bin/env bash
# What the C ABI and Go suite (scripts/test.d/55-cabi-go.sh) needs beyond Rust and Go: a C
# compiler and valgrind, from Debian, and the Go modules. cbindgen is a cargo dev-dependency.
# `apt-get update` runs only when something is missing.
set -euo pipefail
pkgs=(gcc libc6-dev valgrind)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Go modules of go/ and of its interop tests (franz-go, go/interop), into the shared cache.
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export GOMODCACHE="$ODRADEK_CACHE/go/mod" GOCACHE="$ODRADEK_CACHE/go/build" GOTOOLCHAIN=local
command -v go >/dev/null || { echo "55-cabi-go.sh: go not found (Go >= 1.26 is needed)" >&2; exit 1; }
(cd "$root/go" && go mod download)
(cd "$root/go/interop" && go mod download)
