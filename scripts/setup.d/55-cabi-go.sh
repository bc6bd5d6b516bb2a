#!/usr/bin/env bash
# What the C ABI and Go suite (scripts/test.d/55-cabi-go.sh) needs beyond Rust and Go: a C
# compiler and valgrind, from Debian. cbindgen is a cargo dev-dependency (no install).
# `apt-get update` runs only when something is missing.
set -euo pipefail
pkgs=(gcc libc6-dev valgrind)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
