#!/usr/bin/env bash
# Thread hand-offs of a producer, counted rather than timed (the machine is shared, so wall time
# and CPU swing; counts do not): context switches (perf stat, all threads of the client) and
# futex calls (strace -f -c) per 1,000 records, for our Rust client and librdkafka, against a
# release odradek-broker on 127.0.0.1. Cells: plain produce (100 B and 1 KiB, acks=1) and
# transactions of 100 records of 100 B (acks=all, idempotent); ONLY=regex picks cells by name.
#
#   bench/handoffs.sh [REPS]      # needs release odradek-broker (or BROKER=path) and
#                                 # odradek-peer (or PEER=path), and rdk-peer from a bench run
#                                 # ($ODRADEK_CACHE/bench/bin)
# Prints one line per run: client cell records ctxsw/1k futex/1k task-clock-ms.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${ODRADEK_CACHE:-$HOME/.cache/odradek}
target=${CARGO_TARGET_DIR:-$cache/target}
reps=${1:-3}
broker_bin=${BROKER:-$target/release/odradek-broker}
peers=("odradek:${PEER:-$target/release/odradek-peer}" "librdkafka:$cache/bench/bin/rdk-peer")
for p in "$broker_bin" "${peers[@]#*:}"; do
    [[ -x $p ]] || { echo "missing $p (see the header of $0)" >&2; exit 1; }
done
command -v perf >/dev/null && command -v strace >/dev/null || {
    echo "needs perf and strace" >&2; exit 1; }

work=$(mktemp -d)
"$broker_bin" --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/addr" 2>"$work/broker.log" &
broker=$!
trap 'kill "$broker" 2>/dev/null; wait "$broker" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [[ -s $work/addr ]] && break; sleep 0.1; done
bootstrap=$(awk '{print $NF; exit}' "$work/addr")
[[ -n $bootstrap ]] || { echo "broker printed no address" >&2; exit 1; }

common=(--bootstrap "$bootstrap" --size 100 --compression none --linger-ms 5 --batch-size 65536)
# cell name, record count, peer arguments after the mode
cells=(
    "produce 200000 produce --acks 1"
    "produce1k 60000 produce --acks 1 --size 1024"
    "txn100 10000 txn-produce --acks all --txn-records 100"
)
run=0
echo "client cell records ctxsw/1k futex/1k task-clock-ms"
for rep in $(seq "$reps"); do
    for cell in "${cells[@]}"; do
        read -r name count mode rest <<<"$cell"
        [[ $name =~ ^(${ONLY:-.*})$ ]] || continue
        for peer in "${peers[@]}"; do
            client=${peer%%:*} bin=${peer#*:}
            run=$((run + 1))
            # shellcheck disable=SC2206 # $rest is a list of words
            args=("$mode" "${common[@]}" --count "$count" --topic "ho-$name-$run" $rest)
            [[ $mode == txn-produce ]] && args+=(--transactional-id "ho-$run")
            # Creates the topic (and, for the transactional runs, warms the coordinator) first.
            "$bin" "${args[@]}" >/dev/null
            perf stat -x, -e context-switches,task-clock -o "$work/stat" \
                "$bin" "${args[@]}" >/dev/null
            cs=$(awk -F, '$3=="context-switches"{print $1}' "$work/stat")
            tc=$(awk -F, '$3=="task-clock"{print $1}' "$work/stat")
            strace -f -c -e trace=futex -o "$work/strace" "$bin" "${args[@]}" >/dev/null
            fx=$(awk '$NF=="futex"{print $4}' "$work/strace" | head -1)
            awk -v c="$client" -v n="$name" -v r="$count" -v cs="$cs" -v fx="${fx:-0}" -v tc="$tc" \
                'BEGIN{printf "%s %s %d %.1f %.1f %.0f\n", c, n, r, cs*1000/r, fx*1000/r, tc}'
        done
    done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
