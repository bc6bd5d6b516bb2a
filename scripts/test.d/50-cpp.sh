#!/usr/bin/env bash
# C++ binding suite (cpp/): CMake + Ninja build of the bridge crate and the C++ wrapper, then
# ctest runs the GoogleTest suites — the API tests, the conformance runner over every
# tests/conformance/scenarios/*.json, interop with librdkafka++ both ways — and finally the
# installed package is used by examples/cpp through find_package(odradek) and run.
# Set-up: scripts/setup.d/50-cpp.sh. Build dirs are cached under $ODRADEK_CACHE/cpp (or
# $ODRADEK_CPP_BUILD, e.g. a per-worktree dir, so two checkouts never share a CMake cache).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
# Debug: the dev profile that `cargo test --workspace` has already built most of.
build="${ODRADEK_CPP_BUILD:-$ODRADEK_CACHE/cpp}/build-debug"
install="${ODRADEK_CPP_BUILD:-$ODRADEK_CACHE/cpp}/install-debug"
examples="${ODRADEK_CPP_BUILD:-$ODRADEK_CACHE/cpp}/examples-debug"

run() { echo "+ $*" >&2; "$@"; }

# A CMake build dir belongs to one source dir; CI clones into new folders, so start afresh when
# the cached one was made for another checkout (cargo's artifacts stay in CARGO_TARGET_DIR).
fresh_for() {
    local dir="$1" src="$2"
    if [ -f "$dir/CMakeCache.txt" ] && ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$src" "$dir/CMakeCache.txt"; then
        echo "50-cpp.sh: $dir was configured for another checkout; removing it" >&2
        rm -rf "$dir"
    fi
}
fresh_for "$build" "$root/cpp"
fresh_for "$examples" "$root/examples/cpp"

run cmake -S "$root/cpp" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DODRADEK_CARGO_TARGET_DIR="$CARGO_TARGET_DIR"
run cmake --build "$build"
# Two tests at a time: each is its own process with its own embedded broker (or cluster), and
# most of their time is spent waiting on rebalances and fencing.
(cd "$build" && run ctest --output-on-failure --timeout 180 -j 2)

# The installed package, used the way a user's project would.
rm -rf "$install"
run cmake --install "$build" --prefix "$install"
run cmake -S "$root/examples/cpp" -B "$examples" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_PREFIX_PATH="$install"
run cmake --build "$examples"
out="$("$examples/quickstart")"
echo "$out"
grep -qx "read 10 records" <<<"$out" || { echo "50-cpp.sh: examples/cpp/quickstart did not read its 10 records" >&2; exit 1; }
out="$("$examples/transactions")"
echo "$out"
grep -qx "transformed 4 records exactly once" <<<"$out" \
    || { echo "50-cpp.sh: examples/cpp/transactions did not transform its 4 records" >&2; exit 1; }
