#!/usr/bin/env bash
# Mono 6.8 (the `mcs` C# compiler and the runtime), NUnit 2.6.4's console runner and its
# framework assembly, from Debian, for the .NET binding's suite (scripts/test.d/60-dotnet.sh).
# No .NET SDK is needed. `apt-get update` runs only when something is missing.
set -euo pipefail
pkgs=(mono-complete nunit-console libnunit-cil-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "60-dotnet.sh: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
