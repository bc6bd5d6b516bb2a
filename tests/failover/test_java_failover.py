"""The Java client (kafka-clients 4.3.1) through a SIGKILL of the busiest leader of the 3-node
odradek cluster: its idempotent acks=all producer and a consumer, both running across the kill in
one JVM (JavaFailover.java) and never restarted. Asserted: every record delivered (the Java
client retries until delivery.timeout.ms, 120 s by default), and the consumer's view of the log
holds each acknowledged record exactly once, at its acknowledged offset, in order per key."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import HERE, PARTITIONS, Run, ScriptProducer, verify
from test_failover import RATE, sigkill_busiest_leader

LIBS = Path(os.environ.get("ODRADEK_CACHE", Path.home() / ".cache" / "odradek")) / "kafka-4.3.1" / "libs"
CLIENT = "Java (kafka-clients 4.3.1)"


class JavaClient(ScriptProducer):
    """JavaFailover.java run from source (no build step); its delivery reports go to `run`, the
    records its consumer read to `consumed`."""

    def __init__(self, bootstrap: str, topic: str, rate: int, seconds: float) -> None:
        self.run = Run(CLIENT, topic)
        self.consumed: list[tuple[int, int, str, str]] = []
        self.seconds = seconds
        self.proc = subprocess.Popen(
            ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", f"{LIBS}/*",
             str(HERE / "JavaFailover.java"), bootstrap, topic, str(PARTITIONS), str(rate), str(seconds)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.threads = [threading.Thread(target=self._read, daemon=True),
                        threading.Thread(target=self._errors, daemon=True)]
        for t in self.threads:
            t.start()

    def _line(self, r: dict) -> None:
        if "consumed" in r:
            self.consumed.append(tuple(r["consumed"]))
        else:
            super()._line(r)


def test_java_client_through_sigkill_of_the_busiest_leader_odradek_cluster(odradek_cluster, results):
    if not LIBS.is_dir():
        pytest.fail(f"no Kafka 4.3.1 jars in {LIBS} (scripts/setup.d/20-kafka-jars.sh)", pytrace=False)
    cluster = odradek_cluster
    topic = "jkill"
    cluster.create_topic(topic)
    java = JavaClient(cluster.bootstrap, topic, RATE, seconds=14)
    # The JVM compiles the source and the producer fetches metadata first: the kill must hit
    # acknowledgements in flow, so the warm-up counts from the first one.
    deadline = time.monotonic() + 60
    while not java.run.reports and time.monotonic() < deadline and java.proc.poll() is None:
        time.sleep(0.05)
    assert java.run.reports, f"no delivery report within 60 s (exit {java.proc.poll()}): {java.run.stderr[-2000:]}"
    node, leaders, fault_at = sigkill_busiest_leader(cluster, [java], warmup=2, down=7)
    run = java.wait()
    dead = {p for p, l in leaders[topic].items() if l == node}
    acked_dead = [r["t"] for r in run.reports if r["partition"] in dead and "error" not in r]
    assert any(t < fault_at for t in acked_dead) and any(t > fault_at for t in acked_dead), \
        f"the killed leader's partitions {dead} were not written both before and after the kill"
    v = verify(cluster.bootstrap, run, fault_at, dead, fault_at + 8, log=java.consumed)
    results.append({
        "scenario": "SIGKILL busiest leader", "broker": cluster.label, "client": v.client,
        "acked": v.acked, "failed": v.failed, "of them possibly written": v.unknown_failed,
        "stall, faulted leader's partitions": round(v.stall_dead, 2),
        "stall, other partitions": round(v.stall_healthy, 2),
    })
    print(f"SIGKILL busiest leader (Java, consumer's view): {v}")
    try:
        assert v.acked > 0 and v.failed == 0, \
            f"{v.failed} records failed, {v.acked} acknowledged: {run.stderr[-2000:]}"
        assert not (v.lost or v.duplicated or v.out_of_order or v.phantom), str(v)
        at = {(p, o): value for (p, o, _, value) in java.consumed}
        moved = [r for r in run.reports if at.get((r["partition"], r["offset"])) != r["value"]]
        assert not moved, f"{len(moved)} acknowledged records not at their offsets, e.g. {moved[0]}"
    except AssertionError:
        print(f"tail of the killed node's log:\n{cluster.log_tail(node)}")
        raise
    cluster.wait(node)
