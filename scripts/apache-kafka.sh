#!/usr/bin/env bash
# Starts and stops a single-node Apache Kafka 4.3.1 (KRaft, combined broker+controller) on
# ephemeral loopback ports, for tests and benchmarks. Jars come from scripts/setup.d/20-kafka-jars.sh.
#
#   scripts/apache-kafka.sh start DIR   # prints the bootstrap address (127.0.0.1:PORT) once ready
#   scripts/apache-kafka.sh stop DIR
#
# DIR holds server.properties, data/, kafka.log, pid and bootstrap. Extra broker properties can be
# passed as KAFKA_EXTRA_PROPS="key=value key2=value2".
#
# The same single node with secure listeners beside PLAINTEXT, for the security tests
# (certificates from scripts/test-certs.sh in DIR/certs):
#
#   scripts/apache-kafka.sh secure-start DIR   # prints NAME=127.0.0.1:PORT lines once ready
#
#   SASL_SSL        SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN; user alice / alice-secret
#   SSL             mutual TLS (ssl.client.auth=required)
#   SASL_PLAINTEXT  OAUTHBEARER with unsecured JWTs
# DIR/listeners holds the same lines. KAFKA_REAUTH_MS sets connections.max.reauth.ms (KIP-368).
#
# A 3-node cluster of combined broker+controller nodes (static quorum of the three; replication
# factor 3, min.insync.replicas=2; 384 MiB heaps), for fail-over tests:
#
#   scripts/apache-kafka.sh cluster-start DIR      # prints the bootstrap list once all three serve
#   scripts/apache-kafka.sh node-start DIR N       # (re)starts node N (1..3) from its own files
#   scripts/apache-kafka.sh cluster-stop DIR
#
# Node N lives in DIR/node-N (server.properties, data/, kafka.log, pid, address); DIR/bootstrap
# lists the three broker addresses.
set -euo pipefail
cmd="${1:?usage: apache-kafka.sh start|stop DIR}"
dir="${2:?usage: apache-kafka.sh start|stop DIR}"
ODRADEK_CACHE="${ODRADEK_CACHE:-$HOME/.cache/odradek}"
libs="$ODRADEK_CACHE/kafka-4.3.1/libs"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Formats DIR's data dir from DIR/server.properties (extra StorageTool arguments after PORT),
# starts the node and waits until its PLAINTEXT listener on PORT answers Metadata.
format_and_run() {
    local dir="$1" port="$2"; shift 2
    java_opts=(-Xmx512m -Xms128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)
    cluster_id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
    java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format --standalone \
        -t "$cluster_id" -c "$dir/server.properties" "$@" > "$dir/format.log" 2>&1 \
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
            return 0
        fi
        sleep 0.2
    done
    echo "apache-kafka.sh: Kafka did not start within 120 s; see $dir/kafka.log" >&2
    exit 1
}

case "$cmd" in
secure-start)
    [ -d "$libs" ] || { echo "apache-kafka.sh: no Kafka jars in $libs; run scripts/setup.sh" >&2; exit 2; }
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    "$(dirname "$0")/test-certs.sh" "$dir/certs"
    c="$dir/certs"
    port=$(free_port); cport=$(free_port); sasl_ssl=$(free_port); ssl=$(free_port); sasl_plain=$(free_port)
    cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SASL_SSL://127.0.0.1:$sasl_ssl,SSL://127.0.0.1:$ssl,SASL_PLAINTEXT://127.0.0.1:$sasl_plain
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_SSL://127.0.0.1:$sasl_ssl,SSL://127.0.0.1:$ssl,SASL_PLAINTEXT://127.0.0.1:$sasl_plain
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
ssl.keystore.type=PEM
ssl.keystore.location=$c/server-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$c/ca.pem
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN,OAUTHBEARER
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";
listener.name.sasl_plaintext.sasl.enabled.mechanisms=OAUTHBEARER
listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="admin";
PROPS
    [ -n "${KAFKA_REAUTH_MS:-}" ] && echo "connections.max.reauth.ms=$KAFKA_REAUTH_MS" >> "$dir/server.properties"
    format_and_run "$dir" "$port" \
        --add-scram 'SCRAM-SHA-512=[name=alice,password=alice-secret]' \
        --add-scram 'SCRAM-SHA-256=[name=alice,password=alice-secret]'
    printf 'PLAINTEXT=127.0.0.1:%s\nSASL_SSL=127.0.0.1:%s\nSSL=127.0.0.1:%s\nSASL_PLAINTEXT=127.0.0.1:%s\n' \
        "$port" "$sasl_ssl" "$ssl" "$sasl_plain" | tee "$dir/listeners"
    ;;
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
    format_and_run "$dir" "$port"
    echo "127.0.0.1:$port"
    ;;
stop)
    [ -e "$dir/pid" ] || exit 0
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
    ;;
cluster-start)
    [ -d "$libs" ] || { echo "apache-kafka.sh: no Kafka jars in $libs; run scripts/setup.sh" >&2; exit 2; }
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    ports=(); cports=(); voters=""
    for n in 1 2 3; do
        ports[$n]=$(free_port); cports[$n]=$(free_port)
        voters="$voters${voters:+,}$n@127.0.0.1:${cports[$n]}"
    done
    cluster_id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
    for n in 1 2 3; do
        node="$dir/node-$n"; mkdir -p "$node"
        cat > "$node/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${ports[$n]},CONTROLLER://127.0.0.1:${cports[$n]}
advertised.listeners=PLAINTEXT://127.0.0.1:${ports[$n]}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$node/data
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
broker.session.timeout.ms=6000
broker.heartbeat.interval.ms=1000
PROPS
        for kv in ${KAFKA_EXTRA_PROPS:-}; do echo "$kv" >> "$node/server.properties"; done
        echo "127.0.0.1:${ports[$n]}" > "$node/address"
        java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$libs/*" kafka.tools.StorageTool \
            format -t "$cluster_id" -c "$node/server.properties" > "$node/format.log" 2>&1 \
            || { cat "$node/format.log" >&2; exit 1; }
    done
    echo "127.0.0.1:${ports[1]},127.0.0.1:${ports[2]},127.0.0.1:${ports[3]}" > "$dir/bootstrap"
    for n in 1 2 3; do "$0" node-start "$dir" "$n" --no-wait; done
    for n in 1 2 3; do "$0" node-wait "$dir" "$n"; done
    cat "$dir/bootstrap"
    ;;
node-start)
    n="${3:?usage: apache-kafka.sh node-start DIR N}"
    node="$dir/node-$n"
    java_opts=(-Xmx384m -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)
    nohup java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$node/server.properties" \
        >> "$node/kafka.log" 2>&1 &
    echo $! > "$node/pid"
    [ "${4:-}" = --no-wait ] || "$0" node-wait "$dir" "$n"
    ;;
node-wait)
    # Ready when the node answers Metadata listing all three brokers (it has joined the cluster).
    n="${3:?usage: apache-kafka.sh node-wait DIR N}"
    node="$dir/node-$n"
    for _ in $(seq 1 900); do
        if ! kill -0 "$(cat "$node/pid")" 2>/dev/null; then
            echo "apache-kafka.sh: node $n exited during start-up; tail of $node/kafka.log:" >&2
            tail -n 40 "$node/kafka.log" >&2; exit 1
        fi
        if python3 "$(dirname "$0")/kafka-ready.py" "$(cat "$node/address")" 3; then exit 0; fi
        sleep 0.2
    done
    echo "apache-kafka.sh: node $n did not start within 180 s; see $node/kafka.log" >&2
    exit 1
    ;;
cluster-stop)
    for node in "$dir"/node-*; do
        [ -e "$node/pid" ] || continue
        pid=$(cat "$node/pid")
        kill -CONT "$pid" 2>/dev/null || true
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$node/pid"
    done
    ;;
*) echo "usage: apache-kafka.sh start|secure-start|stop|cluster-start|cluster-stop|node-start DIR" >&2; exit 2 ;;
esac
