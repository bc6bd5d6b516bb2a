"""One consumer-group member for the group tests (driven by broker/tests and core/tests).

    member.py KIND BOOTSTRAP TOPIC GROUP STRATEGY PROTOCOL
      KIND      confluent (librdkafka) | kafka-python
      STRATEGY  range | roundrobin | cooperative-sticky (not kafka-python) (classic);
                uniform | range: the server-side assignor (group.remote.assignor) for consumer
      PROTOCOL  classic | consumer (KIP-848; confluent only)

Prints one line per event on stdout:
    ASSIGNED p,p,...            the member's whole assignment after each change
    RECORD partition offset     each record processed (processing = printing it)
    COMMITTED partition=offset,...   after each successful commit
    CLOSED                      after a clean close
Commits synchronously after each processed batch and on revocation (at-least-once). Stops
cleanly (commit, leave) when stdin closes or reads "quit". MEMBER_BATCH_DELAY_MS (env) makes
processing slower: a pause after each batch (the churn test needs consumption to take a while).
"""

import os
import sys
import threading
import time

kind, bootstrap, topic, group, strategy, protocol = sys.argv[1:7]
batch_delay = int(os.environ.get("MEMBER_BATCH_DELAY_MS", "0")) / 1000.0
stop = threading.Event()
out_lock = threading.Lock()


def emit(line: str) -> None:
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def watch_stdin() -> None:
    for line in sys.stdin:
        if line.strip() == "quit":
            break
    stop.set()


threading.Thread(target=watch_stdin, daemon=True).start()


def run_confluent() -> None:
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    conf = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "group.protocol": protocol}
    if protocol == "classic":
        conf.update({"partition.assignment.strategy": strategy, "session.timeout.ms": 6000,
                     "heartbeat.interval.ms": 500})
    else:
        conf["group.remote.assignor"] = strategy
    c = Consumer(conf)
    owned: set[int] = set()
    position: dict[int, int] = {}

    def commit(parts) -> None:
        offs = [TopicPartition(topic, p, position[p]) for p in parts if p in position]
        if offs:
            try:
                c.commit(offsets=offs, asynchronous=False)
                emit("COMMITTED " + ",".join(f"{o.partition}={o.offset}" for o in offs))
            except KafkaException as e:
                emit(f"# commit failed: {e}")

    def on_assign(_c, parts):
        nonlocal owned
        ps = {p.partition for p in parts}
        # Eager protocols revoke everything first, so a union fits them and cooperative ones.
        owned = owned | ps
        emit("ASSIGNED " + ",".join(map(str, sorted(owned))))

    def on_revoke(_c, parts):
        nonlocal owned
        ps = {p.partition for p in parts}
        commit(ps & owned)
        owned = owned - ps
        for p in ps:
            position.pop(p, None)
        emit("ASSIGNED " + ",".join(map(str, sorted(owned))))

    def on_lost(_c, parts):
        nonlocal owned
        owned = owned - {p.partition for p in parts}
        emit("ASSIGNED " + ",".join(map(str, sorted(owned))))

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    while not stop.is_set():
        msgs = c.consume(500, 0.1)
        if msgs and batch_delay:
            time.sleep(batch_delay)
        done = set()
        for m in msgs:
            if m.error():
                emit(f"# error: {m.error()}")
                continue
            emit(f"RECORD {m.partition()} {m.offset()}")
            position[m.partition()] = m.offset() + 1
            done.add(m.partition())
        commit(done & owned)
    commit(owned)
    c.close()


def run_kafka_python() -> None:
    from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
    from kafka.consumer.subscription_state import ConsumerRebalanceListener

    import kafka.coordinator.assignors.range as r
    import kafka.coordinator.assignors.roundrobin as rr

    # kafka-python has no cooperative assignor.
    classes = {"range": r.RangePartitionAssignor, "roundrobin": rr.RoundRobinPartitionAssignor}
    if strategy not in classes:
        sys.exit(f"kafka-python does not support {strategy}")
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                      enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=500,
                      partition_assignment_strategy=[classes[strategy]])
    position: dict[int, int] = {}

    def commit(parts) -> None:
        offs = {TopicPartition(topic, p): OffsetAndMetadata(position[p], "", -1) for p in parts if p in position}
        if offs:
            try:
                c.commit(offs)
                emit("COMMITTED " + ",".join(f"{tp.partition}={o.offset}" for tp, o in offs.items()))
            except Exception as e:  # noqa: BLE001 - report and go on, as an application would
                emit(f"# commit failed: {e}")

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            commit({tp.partition for tp in revoked})
            for tp in revoked:
                position.pop(tp.partition, None)
            emit("ASSIGNED ")

        def on_partitions_assigned(self, assigned):
            emit("ASSIGNED " + ",".join(str(tp.partition) for tp in sorted(assigned)))

    c.subscribe([topic], listener=Listener())
    while not stop.is_set():
        done = set()
        for tp, msgs in c.poll(100, max_records=500).items():
            for m in msgs:
                emit(f"RECORD {m.partition} {m.offset}")
                position[m.partition] = m.offset + 1
                done.add(m.partition)
        commit(done)
    commit(set(position))
    c.close()


{"confluent": run_confluent, "kafka-python": run_kafka_python}[kind]()
emit("CLOSED")
