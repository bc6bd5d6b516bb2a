#!/usr/bin/env bash
# `cargo test --workspace`, with the suites' release builds (scripts/build-release.sh, then the
# Python wheel's crates) compiled in the background at low priority while the test binaries run.
# Most of cargo test's run time is spent waiting (brokers, JVM peers, rebalances), so the idle
# core compiles what scripts/test.d/ would otherwise build afterwards, in series.
#
#   ODRADEK_PREBUILD=0   build nothing in the background (cargo test alone)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"

cargo test --workspace --locked --no-run

prebuild_pid=""
if [ "${ODRADEK_PREBUILD:-1}" != 0 ]; then
    log="$(mktemp /tmp/odradek-prebuild.XXXXXX)"
    echo "+ prebuilding the suites' release artifacts in the background (log: $log)" >&2
    # The wheel goes to a scratch dir: only its compiled crates (in the wheel's target dir) are
    # kept; 35-python.sh packages its own.
    (
        nice -n 15 "$root/scripts/build-release.sh" &&
            wheel_out="$(mktemp -d /tmp/odradek-prebuild-wheel.XXXXXX)" &&
            nice -n 15 "$root/scripts/release/python-wheel.sh" "$wheel_out" &&
            rm -rf "$wheel_out"
    ) >"$log" 2>&1 &
    prebuild_pid=$!
fi

status=0
cargo test --workspace --locked || status=$?

if [ -n "$prebuild_pid" ]; then
    # A failed prebuild fails nothing here: the suites run the same builds again and report
    # the error where it belongs.
    if ! wait "$prebuild_pid"; then
        echo "+ background prebuild failed (the suites will build again); its log:" >&2
        tail -n 40 "$log" >&2
    fi
    rm -f "$log"
fi
exit $status
