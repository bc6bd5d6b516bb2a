#!/usr/bin/env bash
# Starts and stops a single-node Apache Kafka 4.3.1 (KRaft, combined broker+controller) on
# ephemeral loopback ports, for tests and benchmarks. Jars come from scripts/setup.d/20-kafka-jars.sh.
#
#   scripts/apache-kafka.sh start DIR   # prints the bootstrap address (127.0.0.1:PORT) once ready
#   scripts/apache-kafka.sh stop DIR
#
# DIR holds server.properties, data/, kafka.log, pid and bootstrap. Extra broker properties can be
# passed as KAFKA_EXTRA_PROPS="key=value key2=value2".
set -euo pipefail
cmd="${1:?usage: apache-kafka.sh start|stop DIR}"
dir="${2:?usage: apache-kafka.sh start|stop DIR}"
ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
libs="$ODRADEK_CACHE/kafka-4.3.1/libs"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

case "$cmd" in
start)
    [ -d "$libs" ] || { echo "apache-kafka.sh: no Kafka jars in $libs; run scripts/setup.sh" >&2; exit 2; }
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    port=$(free_port); cport=$(free_port)
    cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
    for kv in ${KAFKA_EXTRA_PROPS:-}; do echo "$kv" >> "$dir/server.properties"; done
    java_opts=(-Xmx512m -Xms128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)
    cluster_id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
    java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format --standalone \
        -t "$cluster_id" -c "$dir/server.properties" > "$dir/format.log" 2>&1 \
        || { cat "$dir/format.log" >&2; exit 1; }
    nohup java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$dir/server.properties" \
        > "$dir/kafka.log" 2>&1 &
    echo $! > "$dir/pid"
    # Ready when the broker answers on its port and has registered (a Metadata request succeeds).
    for _ in $(seq 1 600); do
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
            echo "apache-kafka.sh: Kafka exited during start-up; tail of $dir/kafka.log:" >&2
            tail -n 40 "$dir/kafka.log" >&2; exit 1
        fi
        if python3 "$(dirname "$0")/kafka-ready.py" "127.0.0.1:$port"; then
            echo "127.0.0.1:$port" > "$dir/bootstrap"
            echo "127.0.0.1:$port"
            exit 0
        fi
        sleep 0.2
    done
    echo "apache-kafka.sh: Kafka did not start within 120 s; see $dir/kafka.log" >&2
    exit 1
    ;;
stop)
    [ -e "$dir/pid" ] || exit 0
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
    ;;
*) echo "usage: apache-kafka.sh start|stop DIR" >&2; exit 2 ;;
esac
