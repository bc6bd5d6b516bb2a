#!/usr/bin/env bash
# The Python binding (python/): builds the wheel (scripts/release/python-wheel.sh), installs it into a
# fresh venv (re-created each run, offline from the wheelhouse of scripts/setup.d/35-python-binding.sh)
# and runs python/tests: the client suite against the embedded broker and Apache Kafka 4.3.1, the
# conformance scenarios, interop with confluent-kafka and kafka-python, asyncio under uvloop,
# Ctrl+C, pyarrow/pandas, and mypy --strict on examples/python.
#
#   extra arguments are passed to pytest (e.g. -k aio, --no-apache)
#   ODRADEK_PY_BUILD=debug builds an unoptimised wheel (quicker while iterating; CI uses release)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
maturin="$ODRADEK_CACHE/venv/bin/maturin"
wheels="$ODRADEK_CACHE/python-wheels"
if [ ! -x "$maturin" ] || [ ! -d "$wheels" ]; then
    echo "35-python.sh: no maturin or wheelhouse; run scripts/setup.sh" >&2
    exit 1
fi

dist="$ODRADEK_CACHE/python-dist"
rm -rf "$dist"
# The wheel as the release ships it (abi3, manylinux2014 through zig, stripped).
build_mode=""
[ "${ODRADEK_PY_BUILD:-release}" = debug ] && build_mode=debug
"$root/scripts/release/python-wheel.sh" "$dist" $build_mode

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
venv="$work/venv"
echo "+ fresh venv $venv: python/requirements-test.txt + the wheel" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --no-index --find-links "$wheels" \
    -r "$root/python/requirements-test.txt"
"$venv/bin/pip" install -q --disable-pip-version-check --no-index "$dist"/odradek-*.whl

# Run from python/tests so the package comes from the installed wheel, not the source tree.
cd "$root/python/tests"
echo "+ pytest python/tests" >&2
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning \
    --timeout 300 "$@"
