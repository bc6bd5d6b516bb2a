#!/usr/bin/env bash
# The release tools (scripts/release/build.sh) in the shared venv: ziglang, which `maturin build
# --zig` uses as the linker so the wheel targets an old glibc (manylinux2014), and auditwheel,
# which confirms the wheel's platform tag. maturin itself comes from 35-python-binding.sh.
set -euo pipefail
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
venv="$ODRADEK_CACHE/venv"
pins=("ziglang==0.15.1" "auditwheel==6.8.2")
stamp="$venv/.release-$(printf '%s\n' "${pins[@]}" | sha256sum | cut -c1-16)"
[ -e "$stamp" ] && exit 0
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "${pins[@]}"
rm -f "$venv"/.release-*
touch "$stamp"
