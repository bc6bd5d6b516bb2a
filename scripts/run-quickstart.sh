#!/usr/bin/env bash
# The quickstart (`make run`): start the embedded broker with `odradek broker`, create a topic,
# produce a few keyed records from stdin, consume them back as JSON, describe the topic, stop
# the broker. Needs `cargo build --release -p odradek-cli` first (make run does it).
#
# ODRADEK_BIN      the odradek binary (default: $CARGO_TARGET_DIR/release/odradek)
# QUICKSTART_DIR   data directory to use and keep (default: a temp dir, removed at the end)
# QUICKSTART_LISTEN  address to listen on (default 127.0.0.1:0, a free port)
set -euo pipefail

target_dir="${CARGO_TARGET_DIR:-${ODRADEK_CACHE:-$HOME/.cache/odradek}/target}"
bin="${ODRADEK_BIN:-$target_dir/release/odradek}"
if [[ ! -x "$bin" ]]; then
  # A plain `cargo build --release` without the cache variables puts it here.
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  bin="$here/target/release/odradek"
fi
if [[ ! -x "$bin" ]]; then
  echo "run-quickstart: no odradek binary; run: cargo build --release -p odradek-cli" >&2
  exit 2
fi

if [[ -n "${QUICKSTART_DIR:-}" ]]; then
  data="$QUICKSTART_DIR"
  keep=1
else
  data="$(mktemp -d "${TMPDIR:-/tmp}/odradek-quickstart.XXXXXX")"
  keep=0
fi
listen="${QUICKSTART_LISTEN:-127.0.0.1:0}"
broker_pid=""

cleanup() {
  if [[ -n "$broker_pid" ]] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -TERM "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  if [[ "$keep" == 0 ]]; then rm -rf "$data"; fi
}
trap cleanup EXIT

if [[ -t 1 ]]; then
  step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
else
  step() { printf '\n==> %s\n' "$*"; }
fi

step "odradek broker --listen $listen --data-dir $data/data"
mkdir -p "$data"
"$bin" broker --listen "$listen" --data-dir "$data/data" >"$data/broker.out" 2>"$data/broker.log" &
broker_pid=$!
# The broker prints its bound address as the first stdout line once it is listening.
addr=""
for _ in $(seq 1 300); do
  addr="$(head -n1 "$data/broker.out" 2>/dev/null || true)"
  [[ -n "$addr" ]] && break
  if ! kill -0 "$broker_pid" 2>/dev/null; then
    echo "run-quickstart: the broker exited; its log:" >&2
    cat "$data/broker.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$addr" ]]; then
  echo "run-quickstart: the broker printed no address within 30 s; its log:" >&2
  cat "$data/broker.log" >&2
  exit 1
fi
echo "broker listening on $addr"

step "odradek topics create -b $addr -t greetings -p 3"
"$bin" topics create -b "$addr" -t greetings -p 3

step "odradek produce -b $addr -t greetings -k :   (keyed records from stdin)"
records=("alice:hello from alice" "bob:hello from bob" "carol:hello from carol" "alice:alice again")
printf '  stdin: %s\n' "${records[@]}"
printf '%s\n' "${records[@]}" | "$bin" produce -b "$addr" -t greetings -k :

step "odradek consume -b $addr -t greetings -e --format json"
"$bin" consume -b "$addr" -t greetings -e --format json

step "odradek consume -b $addr -t greetings -e -k ' => '   (text, key => value)"
"$bin" consume -b "$addr" -t greetings -e -k ' => ' -q

step "odradek topics describe -b $addr -t greetings"
"$bin" topics describe -b "$addr" -t greetings

step "odradek perf produce -b $addr -t perf -n 20000 -s 100"
"$bin" perf produce -b "$addr" -t perf -n 20000 -s 100

step "stopping the broker (SIGTERM)"
kill -TERM "$broker_pid"
wait "$broker_pid"
broker_pid=""
echo "broker stopped cleanly"
if [[ "$keep" == 1 ]]; then echo "data kept in $data/data"; fi
echo
echo "quickstart ok: records with the same key landed on the same partition, and came back."
