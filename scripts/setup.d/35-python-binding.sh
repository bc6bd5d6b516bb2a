#!/usr/bin/env bash
# The Python binding's tools: maturin (builds the wheel) in the shared venv, and a wheelhouse of
# what the binding's suite installs into its fresh venv (python/requirements-test.txt), so each
# run re-creates that venv offline in seconds.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$ODRADEK_CACHE/venv"
wheels="$ODRADEK_CACHE/python-wheels"
maturin_pin="maturin==1.16.0"
stamp="$wheels/.complete-$( (cat "$root/python/requirements-test.txt"; echo "$maturin_pin") | sha256sum | cut -c1-16)"
[ -e "$stamp" ] && exit 0
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "$maturin_pin"
mkdir -p "$wheels"
"$venv/bin/pip" download -q --disable-pip-version-check -d "$wheels" -r "$root/python/requirements-test.txt"
touch "$stamp"
