"""Fail-over on a 3-node Apache Kafka 4.3.1 cluster (RF 3, min.insync.replicas=2): our Rust client
(the `odradek` CLI), our Python binding and confluent-kafka (librdkafka) run the same scenario side
by side. Asserted: what users rely on — no acknowledged record lost or duplicated, order per key,
every record reported failed (and not "possibly written") really absent, nothing skipped by a
consumer group. Stalls and failure counts are printed side by side, never asserted."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient

from harness import CliProducer, GroupConsumers, ScriptProducer, offsets_partition, verify

RATE = 400  # records/s per client
OURS = ("odradek (Rust)", "odradek (Python)")


def start_producers(cluster, cli, prefix: str, seconds: float, python: bool = True,
                    delivery_timeout: int = 8000):
    names = {"rs": f"{prefix}-rs", "rd": f"{prefix}-rd"}
    if python:
        names["py"] = f"{prefix}-py"
    for t in names.values():
        cluster.create_topic(t)
    b = cluster.bootstrap
    producers = [CliProducer(cli, b, names["rs"], RATE, seconds, delivery_timeout),
                 ScriptProducer("rdkafka", b, names["rd"], RATE, seconds, delivery_timeout)]
    if python:
        producers.append(ScriptProducer("odradek", b, names["py"], RATE, seconds, delivery_timeout))
    return producers


def busiest_leader(cluster, producers) -> tuple[int, dict]:
    leaders = {p.run.topic: cluster.leaders(p.run.topic) for p in producers}
    count = Counter(l for ls in leaders.values() for l in ls.values())
    return count.most_common(1)[0][0], leaders


def sigkill_busiest_leader(cluster, producers, warmup: float, down: float):
    """After `warmup` s of producing, SIGKILLs the node leading most partitions and starts it
    again `down` s later (not waiting for it); returns the node, the leaders before the kill and
    the kill's monotonic time."""
    time.sleep(warmup)
    node, leaders = busiest_leader(cluster, producers)
    fault_at = time.monotonic()
    cluster.kill(node)
    time.sleep(down)
    cluster.start(node, wait=False)
    return node, leaders, fault_at


def check_and_record(cluster, producers, scenario, fault_at, node, leaders, results, end_at,
                     assert_rdkafka: bool = False):
    """Verifies each producer's run; our clients' integrity is asserted, librdkafka's only with
    `assert_rdkafka` (on Apache Kafka its idempotent producer may reorder or duplicate after a
    fault, which is not ours to fix; on our broker it must not)."""
    problems = []
    for p in producers:
        run = p.wait()
        dead = {part for part, l in leaders[run.topic].items() if l == node}
        v = verify(cluster.bootstrap, run, fault_at, dead, end_at)
        results.append({
            "scenario": scenario, "broker": cluster.label, "client": v.client, "acked": v.acked, "failed": v.failed,
            "of them possibly written": v.unknown_failed,
            "stall, faulted leader's partitions": round(v.stall_dead, 2),
            "stall, other partitions": round(v.stall_healthy, 2),
        })
        print(f"{scenario}: {v}")
        logs = os.environ.get("FAILOVER_LOGS")
        if logs:
            Path(logs).mkdir(parents=True, exist_ok=True)
            (Path(logs) / f"{run.topic}.stderr").write_text(run.stderr)
        if v.client in OURS or assert_rdkafka:
            if v.lost or v.duplicated or v.out_of_order or v.phantom:
                problems.append(f"{v.client}: {v}")
            if v.acked == 0:
                problems.append(f"{v.client}: nothing acknowledged; stderr: {run.stderr[-2000:]}")
        elif v.lost or v.duplicated or v.out_of_order:
            print(f"NOTE: librdkafka integrity problem (not asserted): {v}")
    assert not problems, "; ".join(problems)


# 4 s is below the ~6 s the surviving leaders wait for the dead follower to leave the ISR, so
# every run measures records failed when the stall outlasts delivery.timeout.ms; at 8 s it
# depends on the run.
@pytest.mark.parametrize("delivery_timeout", [8000, 4000])
def test_sigkill_of_the_busiest_leader(cluster, cli, results, delivery_timeout):
    producers = start_producers(cluster, cli, f"kill{delivery_timeout}", seconds=20,
                                python=delivery_timeout == 8000, delivery_timeout=delivery_timeout)
    node, leaders, fault_at = sigkill_busiest_leader(cluster, producers, warmup=5, down=8)
    end_at = fault_at + 15
    scenario = "SIGKILL busiest leader" + ("" if delivery_timeout == 8000
                                           else f", delivery.timeout.ms={delivery_timeout}")
    check_and_record(cluster, producers, scenario, fault_at, node, leaders, results, end_at)
    cluster.wait(node)


def test_sigkill_of_the_busiest_leader_odradek_cluster(odradek_cluster, cli, results):
    """The SIGKILL scenario on three `odradek-broker` processes (our replication, our metadata
    quorum): the same verdicts, librdkafka's asserted as well."""
    cluster = odradek_cluster
    producers = start_producers(cluster, cli, "okill", seconds=15)
    node, leaders, fault_at = sigkill_busiest_leader(cluster, producers, warmup=4, down=7)
    end_at = fault_at + 11
    try:
        check_and_record(cluster, producers, "SIGKILL busiest leader", fault_at, node, leaders,
                         results, end_at, assert_rdkafka=True)
    except AssertionError:
        print(f"tail of the killed node's log:\n{cluster.log_tail(node)}")
        raise
    cluster.wait(node)


def test_sigstop_of_a_leader(cluster, cli, results):
    producers = start_producers(cluster, cli, "stop", seconds=22)
    time.sleep(5)
    node, leaders = busiest_leader(cluster, producers)
    fault_at = time.monotonic()
    cluster.signal(node, signal.SIGSTOP)
    try:
        time.sleep(12)
    finally:
        cluster.signal(node, signal.SIGCONT)
    end_at = fault_at + 17
    check_and_record(cluster, producers, "SIGSTOP leader 12 s", fault_at, node, leaders,
                     results, end_at)
    cluster.wait(node)


def test_rolling_restart(cluster, cli, results):
    # 70 s bounds the restart; the producers stop 3 s after it ends.
    producers = start_producers(cluster, cli, "roll", seconds=70, python=False)
    time.sleep(3)
    _, leaders = busiest_leader(cluster, producers)
    fault_at = time.monotonic()
    for n in (1, 2, 3):
        cluster.stop(n)
        cluster.start(n)
    end_at = min(time.monotonic(), fault_at + 67)
    print(f"rolling restart took {time.monotonic() - fault_at:.1f} s")
    time.sleep(3)
    for p in producers:
        p.end_early()
    # Every partition's leader moved at least once: all count as the faulted ones.
    everything = {t: {p: -1 for p in ls} for t, ls in leaders.items()}
    check_and_record(cluster, producers, "rolling restart", fault_at, -1, everything, results,
                     end_at)


def _same_partition(prefix: str, of: str) -> str:
    """A group id starting with `prefix` on the same __consumer_offsets partition as `of`."""
    n = 0
    while offsets_partition(f"{prefix}-{n}") != offsets_partition(of):
        n += 1
    return f"{prefix}-{n}"


def _group_ids() -> tuple[str, str]:
    """Two group ids with the same coordinator (the same __consumer_offsets partition)."""
    ours = "fo-group-rs"
    return ours, _same_partition("fo-group-rd", ours)


def test_consumer_group_survives_sigkill_of_its_coordinator(cluster, cli, results):
    topic = "group-topic"
    cluster.create_topic(topic)
    g_ours, g_rd = _group_ids()
    feeder = ScriptProducer("rdkafka", cluster.bootstrap, topic, 300, 18)
    seen: dict[str, list] = {"ours": [], "rdkafka": []}
    ours = subprocess.Popen([cli, "consume", "-b", cluster.bootstrap, "-t", topic, "-g", g_ours,
                             "--format", "json", "-X", "auto.offset.reset=earliest"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, RUST_LOG="odradek=info"))

    def read_ours():
        for line in ours.stdout:
            seen["ours"].append((time.monotonic(), json.loads(line)["value"]))

    stop = threading.Event()

    def read_rdkafka():
        c = confluent_kafka.Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": g_rd,
                                      "auto.offset.reset": "earliest"})
        c.subscribe([topic])
        while not stop.is_set():
            for m in c.consume(500, 0.2):
                if not m.error():
                    seen["rdkafka"].append((time.monotonic(), m.value().decode()))
        c.close()

    threads = [threading.Thread(target=read_ours, daemon=True),
               threading.Thread(target=read_rdkafka, daemon=True)]
    for t in threads:
        t.start()
    time.sleep(6)
    coordinator = cluster.admin.describe_consumer_groups([g_ours])[g_ours].result(30).coordinator.id
    fault_at = time.monotonic()
    cluster.kill(coordinator)
    run = feeder.wait()
    acked = {r["value"] for r in run.reports if "error" not in r}
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and not all(
            acked <= {v for _, v in seen[k]} for k in seen):
        time.sleep(0.5)
    stop.set()
    ours.terminate()
    ours_err = ours.communicate(timeout=30)[1]
    for t in threads:
        t.join(timeout=30)
    cluster.start(coordinator, wait=False)
    for key, label in (("ours", "odradek (Rust)"), ("rdkafka", "librdkafka (confluent-kafka)")):
        times = sorted(t for t, _ in seen[key] if t >= fault_at - 5)
        gaps = [b - a for a, b in zip(times, times[1:]) if b >= fault_at]
        missing = len(acked - {v for _, v in seen[key]})
        results.append({"scenario": "group, SIGKILL coordinator", "broker": cluster.label,
                        "client": label,
                        "acked": len(acked), "failed": f"{missing} not consumed",
                        "stall, faulted leader's partitions": round(max(gaps, default=0), 2)})
        if key == "ours":
            assert missing == 0, f"our consumer group skipped {missing} records; stderr: {ours_err[-3000:]}"
    cluster.wait(coordinator)


def test_bootstrap_with_a_hung_first_host(cluster, cli, results):
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)  # accepts TCP (the kernel completes handshakes) but never answers
    bootstrap = f"127.0.0.1:{hung.getsockname()[1]},{cluster.address(1)}"
    ours, theirs = [], []
    try:
        for _ in range(3):
            t0 = time.monotonic()
            out = subprocess.run([cli, "topics", "list", "-b", bootstrap], capture_output=True,
                                 text=True, timeout=120)
            ours.append(time.monotonic() - t0)
            assert out.returncode == 0 and "group-topic" in out.stdout, out.stderr
            t0 = time.monotonic()
            md = confluent_kafka.admin.AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=60)
            theirs.append(time.monotonic() - t0)
            assert "group-topic" in md.topics
    finally:
        hung.close()
    for label, times in (("odradek (Rust)", ours), ("librdkafka (confluent-kafka)", theirs)):
        results.append({"scenario": "bootstrap, hung first host", "broker": cluster.label,
                        "client": label,
                        "bootstrap": f"max {max(times):.2f} (runs: {', '.join(f'{t:.2f}' for t in times)})"})


def test_consumer_groups_through_faults_odradek_cluster(odradek_cluster, cli, results):
    """Groups on our cluster's replicated `__consumer_offsets`: consumers of our Rust client,
    librdkafka and the Java client, each in a group (the three groups share a coordinator), read
    a topic fed by an acks=all producer through a SIGKILL of the coordinator, a SIGSTOP then
    SIGCONT of the next coordinator and a rolling restart of the three nodes. Asserted: every
    acknowledged record in the log exactly once and in order, and every consumer received every
    one of them (none skipped)."""
    cluster = odradek_cluster
    topic = "ogroups"
    cluster.create_topic(topic)
    groups = {"ours": "og-rs"}
    groups["rdkafka"] = _same_partition("og-rd", groups["ours"])
    groups["java"] = _same_partition("og-java", groups["ours"])
    feeder = ScriptProducer("rdkafka", cluster.bootstrap, topic, 300, 90)
    consumers = GroupConsumers(cli, cluster.bootstrap, topic, groups)

    def coordinator() -> int:
        """The groups' coordinator (retried while it moves or loads)."""
        g = groups["ours"]
        deadline = time.monotonic() + 30
        while True:
            try:
                # A new admin client each time: librdkafka's caches a coordinator for a while.
                admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
                return admin.describe_consumer_groups([g])[g].result(10).coordinator.id
            except confluent_kafka.KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    try:
        time.sleep(6)
        fault_at = time.monotonic()
        node = coordinator()
        cluster.kill(node)
        time.sleep(3)
        cluster.start(node)
        node = coordinator()
        cluster.signal(node, signal.SIGSTOP)
        try:
            time.sleep(8)
        finally:
            cluster.signal(node, signal.SIGCONT)
        cluster.wait(node)
        for n in (1, 2, 3):
            cluster.stop(n)
            cluster.start(n)
        print(f"group faults took {time.monotonic() - fault_at:.1f} s")
        time.sleep(2)
        feeder.end_early()
        run = feeder.wait()
        acked = {r["value"] for r in run.reports if "error" not in r}
        missing = consumers.wait_for(acked, 45)
    finally:
        consumers.close()
    v = verify(cluster.bootstrap, run, fault_at, set(), time.monotonic())
    print(f"group feeder: {v}")
    problems = []
    if v.lost or v.duplicated or v.out_of_order or v.acked == 0:
        problems.append(f"feeder: {v}")
    for key, label in GroupConsumers.LABELS.items():
        times = sorted(t for t, _ in consumers.seen[key] if t >= fault_at - 5)
        gaps = [b - a for a, b in zip(times, times[1:]) if b >= fault_at]
        results.append({"scenario": "groups: SIGKILL, SIGSTOP coordinator, rolling restart",
                        "broker": cluster.label, "client": label, "acked": len(acked),
                        "failed": f"{missing[key]} not consumed",
                        "stall, faulted leader's partitions": round(max(gaps, default=0), 2)})
        if missing[key]:
            problems.append(f"{label} skipped {missing[key]} of {len(acked)} records; stderr: "
                            f"{consumers.errors.get(key, '')[-2000:]}")
    assert not problems, "; ".join(problems)
