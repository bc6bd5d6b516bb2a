#!/usr/bin/env bash
# Debian peers for the interop suite: kcat 1.7.1 (CLI on librdkafka 2.0.2) and librdkafka-dev
# (headers + pkg-config for C/C++ tests), and the openssl CLI that makes the security tests'
# certificates (scripts/test-certs.sh). `apt-get update` runs only when something is missing.
set -euo pipefail
pkgs=(kcat librdkafka-dev openssl)
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
