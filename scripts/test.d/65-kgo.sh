#!/usr/bin/env bash
# franz-go's own kgo integration suite (v1.22.3, pinned in tests/kgo) against our release broker
# (its SCRAM and OAUTHBEARER tests against two SASL listeners of the same broker):
# `go test github.com/twmb/franz-go/pkg/kgo` with KGO_SEEDS at a broker started here on an
# ephemeral port, replication factor 1 and KGO_TEST_RECORDS records per ETL test. The tests in
# tests/kgo/skipped.txt are skipped on purpose (each names the issue that removes it). `go test
# -timeout` fails a hung test (with its goroutine dump) instead of blocking the suite.
#
#   KGO_TEST_RECORDS   records per ETL test (default 20000)
#   extra arguments    passed to go test (e.g. -run TestGroupETL)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ODRADEK_CACHE/target}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
command -v go >/dev/null || { echo "65-kgo.sh: go not found (Go >= 1.26 is needed)" >&2; exit 1; }

"$root/scripts/build-release.sh"
bin="$CARGO_TARGET_DIR/release/odradek-broker"
cli="$CARGO_TARGET_DIR/release/odradek"

work="$(mktemp -d)"
broker_pid=""
cleanup() {
    if [ -n "$broker_pid" ]; then
        kill "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Three listeners: PLAINTEXT for the suite, SCRAM and OAUTHBEARER (unsecured JWTs, Kafka's default
# validator) for kgo's TestSCRAMAuth* and TestOAuthAuth; one stdout line each, in this order.
cat > "$work/server.properties" <<'PROPS'
listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,OAUTH://127.0.0.1:0
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,OAUTH:SASL_PLAINTEXT
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.oauth.sasl.enabled.mechanisms=OAUTHBEARER
PROPS
mkfifo "$work/addr"
"$bin" --data-dir "$work/data" --fsync never --config "$work/server.properties" \
    > "$work/addr" 2> "$work/broker.log" &
broker_pid=$!
exec 3< "$work/addr"
read -r -t 30 seeds <&3 && read -r -t 10 scram_seeds <&3 && read -r -t 10 oauth_seeds <&3 \
    || { echo "65-kgo.sh: the broker printed no addresses" >&2; tail -20 "$work/broker.log" >&2; exit 1; }
# Keep the pipe drained so the broker never blocks writing to stdout.
cat <&3 > /dev/null &
exec 3<&-
# The SCRAM user kgo's TestSCRAMAuth logs in as, added through AlterUserScramCredentials.
ODRADEK_USER_PASSWORD=kgo-secret "$cli" users add kgo --mechanism SCRAM-SHA-256 -b "$seeds" >&2

# `|| true`: with nothing left to skip, grep finds no line (status 1, which pipefail would pass on).
skipped="$(grep -v '^#' "$root/tests/kgo/skipped.txt" | awk 'NF {print $1}' | paste -sd'|' || true)"
skip_args=()
[ -z "$skipped" ] || skip_args=(-skip "^($skipped)\$")
export GOMODCACHE="$ODRADEK_CACHE/go/mod" GOCACHE="$ODRADEK_CACHE/go/build" GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"
export KGO_TEST_SCRAM="kgo:kgo-secret" KGO_TEST_SCRAM_SEEDS="$scram_seeds" KGO_TEST_OAUTH_SEEDS="$oauth_seeds"
export KGO_SEEDS="$seeds" KGO_TEST_RF=1 KGO_TEST_RECORDS="${KGO_TEST_RECORDS:-20000}"
echo "+ go test github.com/twmb/franz-go/pkg/kgo against $seeds (skipping: ${skipped:-nothing})" >&2
set +e
# go test -timeout fails a hung test with its goroutine dump; the outer timeout bounds the rest
# (a stuck link or broker) so the suite never blocks `make test`.
(cd "$root/tests/kgo" && timeout --kill-after=10 240 go test -count=1 -v -timeout 200s \
    "${skip_args[@]}" "$@" github.com/twmb/franz-go/pkg/kgo) > "$work/go-test.log" 2>&1
rc=$?
set -e
grep -E '^(--- FAIL|--- SKIP|FAIL|ok|panic)' "$work/go-test.log" >&2 || true
printf 'kgo: %d passed, %d failed, %d skipped by themselves, %d skipped on purpose (tests/kgo/skipped.txt)\n' \
    "$(grep -c '^--- PASS' "$work/go-test.log")" "$(grep -c '^--- FAIL' "$work/go-test.log")" \
    "$(grep -c '^--- SKIP' "$work/go-test.log")" \
    "$(grep -v '^#' "$root/tests/kgo/skipped.txt" | grep -c . || true)" >&2
if [ "$rc" -ne 0 ]; then
    echo "65-kgo.sh: go test failed (rc $rc); the end of its output:" >&2
    tail -200 "$work/go-test.log" >&2
    echo "--- broker log (tail)" >&2
    tail -50 "$work/broker.log" >&2
fi
exit "$rc"
