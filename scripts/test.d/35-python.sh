#!/usr/bin/env bash
# The Python binding (python/): builds the wheel (scripts/release/python-wheel.sh), installs it into a
# test venv (python/requirements-test.txt installed offline from the wheelhouse of
# scripts/setup.d/35-python-binding.sh, kept in the cache per hash of that file; the wheel is
# installed for each run in a directory of its own) and runs python/tests: the client suite against the embedded broker and Apache Kafka 4.3.1, the
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

# The test dependencies (pandas, pyarrow, mypy, ...) take longer to install than most tests take
# to run, so their venv is kept while requirements-test.txt and the interpreter stay the same.
req_key="$( (cat "$root/python/requirements-test.txt"; python3 --version) | sha256sum | cut -c1-12)"
venv="$ODRADEK_CACHE/python-test-venv-$req_key"
if [ ! -e "$venv/.complete" ]; then
    rm -rf "$ODRADEK_CACHE"/python-test-venv-*
    echo "+ test venv $venv: python/requirements-test.txt" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-index --find-links "$wheels" \
        -r "$root/python/requirements-test.txt"
    touch "$venv/.complete"
fi
# The wheel goes into this run's own directory (on PYTHONPATH), so the shared venv never changes.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "+ the wheel into $work/pylib" >&2
"$venv/bin/pip" install -q --disable-pip-version-check --no-index --no-deps --target "$work/pylib" \
    "$dist"/odradek-*.whl
export PYTHONPATH="$work/pylib${PYTHONPATH:+:$PYTHONPATH}"

# Run from python/tests so the package comes from the wheel, not the source tree.
cd "$root/python/tests"
echo "+ pytest python/tests" >&2
# Two workers (pytest-xdist): most tests wait on brokers and rebalances. Tests on Apache Kafka
# share one worker (conftest.py groups them), so one JVM starts.
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning \
    --timeout 300 -n 2 --dist loadgroup "$@"
