#!/usr/bin/env bash
# C++ binding (cpp/): CMake + Ninja + a C++17 compiler, GoogleTest (ctest), nlohmann-json (the
# conformance runner reads the scenario files) and librdkafka's C++ API (the interop tests and
# the librdkafka++ bench peer). Debian packages; `apt-get update` runs only when one is missing.
set -euo pipefail
pkgs=(cmake ninja-build g++ pkg-config googletest libgtest-dev nlohmann-json3-dev librdkafka-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "50-cpp.sh: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
