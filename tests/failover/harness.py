"""The fail-over suite's harness: a 3-node Apache Kafka cluster (scripts/apache-kafka.sh
cluster-start) or three `odradek-broker` processes in cluster mode, producers and group consumers
of the clients run side by side, log verification and stall figures."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "apache-kafka.sh"
READY = ROOT / "scripts" / "kafka-ready.py"
HERE = Path(__file__).resolve().parent
PARTITIONS = 6


class _Topics:
    """Topic helpers over `self.admin` shared by both clusters (node id n is broker id n)."""

    admin: AdminClient

    def create_topic(self, name: str, partitions: int = PARTITIONS) -> None:
        fs = self.admin.create_topics([NewTopic(name, partitions, 3)])
        fs[name].result(60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            md = self.admin.list_topics(name, timeout=10).topics.get(name)
            if md and md.error is None and len(md.partitions) == partitions and all(
                    p.leader >= 0 for p in md.partitions.values()):
                return
            time.sleep(0.2)
        raise RuntimeError(f"topic {name} has no leaders after 60 s")

    def leaders(self, topic: str) -> dict[int, int]:
        md = self.admin.list_topics(topic, timeout=10).topics[topic]
        return {p.id: p.leader for p in md.partitions.values()}


class Cluster(_Topics):
    """Three combined KRaft nodes on ephemeral ports in a temp dir; stopped by `close`."""

    label = "Apache Kafka 4.3.1"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="odradek-failover-"))
        out = subprocess.run(["bash", str(SCRIPT), "cluster-start", str(self.dir)],
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"3-node Kafka did not start: {out.stderr[-3000:]}")
        self.bootstrap = out.stdout.strip().splitlines()[-1]
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap})

    def node(self, n: int) -> Path:
        return self.dir / f"node-{n}"

    def address(self, n: int) -> str:
        return (self.node(n) / "address").read_text().strip()

    def pid(self, n: int) -> int:
        return int((self.node(n) / "pid").read_text())

    def signal(self, n: int, sig: int) -> None:
        os.kill(self.pid(n), sig)

    def kill(self, n: int) -> None:
        self.signal(n, signal.SIGKILL)
        try:
            os.waitpid(self.pid(n), 0)
        except ChildProcessError:
            pass
        for _ in range(100):
            if not Path(f"/proc/{self.pid(n)}").exists():
                return
            time.sleep(0.05)

    def stop(self, n: int) -> None:
        """SIGTERM (controlled shutdown) and wait for the process to end."""
        self.signal(n, signal.SIGTERM)
        for _ in range(600):
            if not Path(f"/proc/{self.pid(n)}").exists():
                return
            time.sleep(0.1)
        self.kill(n)

    def start(self, n: int, wait: bool = True) -> None:
        args = ["bash", str(SCRIPT), "node-start", str(self.dir), str(n)]
        if not wait:
            args.append("--no-wait")
        subprocess.run(args, check=True, timeout=300)

    def wait(self, n: int) -> None:
        subprocess.run(["bash", str(SCRIPT), "node-wait", str(self.dir), str(n)], check=True,
                       timeout=300)

    def close(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "cluster-stop", str(self.dir)], timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)

    def all_alive(self) -> None:
        for n in (1, 2, 3):
            if not Path(f"/proc/{self.pid(n)}").exists():
                self.start(n)


class OdradekCluster(_Topics):
    """Three `odradek-broker` processes (ODRADEK_BROKER_BIN) in cluster mode, each a combined
    controller + broker, on ports picked once so a restarted node keeps its address; settings as
    the Apache cluster's (RF 3, min.insync.replicas=2, 6 s broker session). Node n logs to
    DIR/node-n.log; `close` kills them all."""

    label = "odradek cluster"
    PROPS = ("default.replication.factor=3\nmin.insync.replicas=2\n"
             "broker.session.timeout.ms=6000\nbroker.heartbeat.interval.ms=1000\n"
             "offsets.topic.num.partitions=3\n")

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="odradek-cluster-"))
        (self.dir / "server.properties").write_text(self.PROPS)
        held = [socket.create_server(("127.0.0.1", 0)) for _ in range(6)]
        ports = [s.getsockname()[1] for s in held]
        for s in held:
            s.close()
        self.ports = {n: ports[n - 1] for n in (1, 2, 3)}
        self.quorum = ",".join(f"{n}@127.0.0.1:{ports[n + 2]}" for n in (1, 2, 3))
        self.procs: dict[int, subprocess.Popen] = {}
        self.bootstrap = ",".join(self.address(n) for n in (1, 2, 3))
        try:
            for n in (1, 2, 3):
                self.start(n, wait=False)
            for n in (1, 2, 3):
                self.wait(n)
        except BaseException:
            self.close()
            raise
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap})

    def address(self, n: int) -> str:
        return f"127.0.0.1:{self.ports[n]}"

    def pid(self, n: int) -> int:
        return self.procs[n].pid

    def signal(self, n: int, sig: int) -> None:
        self.procs[n].send_signal(sig)

    def kill(self, n: int) -> None:
        self.procs[n].kill()
        self.procs[n].wait()

    def stop(self, n: int) -> None:
        """SIGTERM (the broker flushes and exits) and wait; SIGKILL after 30 s."""
        self.procs[n].terminate()
        try:
            self.procs[n].wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill(n)

    def start(self, n: int, wait: bool = True) -> None:
        log = open(self.dir / f"node-{n}.log", "ab")
        self.procs[n] = subprocess.Popen(
            [self.binary, "--listen", self.address(n), "--data-dir", str(self.dir / f"node-{n}"),
             "--config", str(self.dir / "server.properties"), "--node-id", str(n),
             "--controller-quorum", self.quorum],
            stdout=subprocess.DEVNULL, stderr=log,
            env=dict(os.environ, RUST_LOG="warn,odradek_broker::cluster_mode=info"))
        log.close()
        if wait:
            self.wait(n)

    def wait(self, n: int) -> None:
        """Until node n answers Metadata listing all three brokers (it has joined)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.procs[n].poll() is not None:
                raise RuntimeError(f"odradek node {n} exited {self.procs[n].returncode}: "
                                   f"{self.log_tail(n)}")
            if subprocess.run([sys.executable, str(READY), self.address(n), "3"]).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"odradek node {n} did not join within 60 s: {self.log_tail(n)}")

    def log_tail(self, n: int) -> str:
        return (self.dir / f"node-{n}.log").read_text(errors="replace")[-3000:]

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Run:
    """One producer's run: its delivery reports (with monotonic times)."""

    client: str
    topic: str
    reports: list = field(default_factory=list)
    started: float = 0.0
    stderr: str = ""


class _Process:
    """A producer process whose reports a reader thread collects; `wait` joins it."""

    run: Run
    proc: subprocess.Popen
    seconds: float
    threads: list
    ok_codes: tuple = (0,)

    def _errors(self) -> None:
        self.run.stderr = self.proc.stderr.read()

    def end_early(self) -> None:
        """Stops sending now (the process then flushes and reports as at the end of `seconds`)."""
        self.proc.send_signal(signal.SIGTERM)

    def wait(self) -> Run:
        self.proc.wait(timeout=self.seconds + 120)
        for t in self.threads:
            t.join(timeout=10)
        assert self.proc.returncode in self.ok_codes, \
            f"{self.run.client} exited {self.proc.returncode}: {self.run.stderr[-2000:]}"
        return self.run


class CliProducer(_Process):
    """Our Rust client: `odradek produce --report-json`, fed from stdin at a fixed rate."""

    ok_codes = (0, 1)  # 1: some record failed (each is in the reports)

    def __init__(self, cli: str, bootstrap: str, topic: str, rate: int, seconds: float,
                 delivery_timeout: int = 8000) -> None:
        self.run = Run("odradek (Rust)", topic)
        args = [cli, "produce", "-b", bootstrap, "-t", topic, "-k", ":", "--report-json", "-q",
                "-X", "enable.idempotence=true", "-X", "acks=all", "-X", "linger.ms=5",
                "-X", f"delivery.timeout.ms={delivery_timeout}"]
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "odradek=info"))
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.rate, self.seconds = rate, seconds
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._feed, daemon=True),
                        threading.Thread(target=self._read, daemon=True),
                        threading.Thread(target=self._errors, daemon=True)]
        for t in self.threads:
            t.start()

    def _feed(self) -> None:
        start = self.run.started = time.monotonic()
        sent, seq = 0, [0] * 12
        while time.monotonic() - start < self.seconds and not self.stop.is_set():
            due = int((time.monotonic() - start) * self.rate)
            lines = []
            while sent < due:
                k = sent % 12
                lines.append(f"k{k}:k{k}:{seq[k]}\n")
                seq[k] += 1
                sent += 1
            if lines:
                self.proc.stdin.write("".join(lines))
                self.proc.stdin.flush()
            time.sleep(0.005)
        self.proc.stdin.close()

    def end_early(self) -> None:
        """Stops feeding records: closing stdin ends the CLI, which flushes what it holds."""
        self.stop.set()

    def _read(self) -> None:
        for line in self.proc.stdout:
            r = json.loads(line)
            r["t"] = time.monotonic()
            self.run.reports.append(r)


class ScriptProducer(_Process):
    """confluent-kafka or our Python binding running tests/failover/producer.py."""

    def __init__(self, client: str, bootstrap: str, topic: str, rate: int, seconds: float,
                 delivery_timeout: int = 8000) -> None:
        label = {"rdkafka": "librdkafka (confluent-kafka)", "odradek": "odradek (Python)"}[client]
        self.run = Run(label, topic)
        args = [sys.executable, "-X", "faulthandler", str(HERE / "producer.py"), "--client", client, "--bootstrap",
                bootstrap, "--topic", topic, "--rate", str(rate), "--seconds", str(seconds),
                "--delivery-timeout", str(delivery_timeout)]
        self.seconds = seconds
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.threads = [threading.Thread(target=self._read, daemon=True),
                        threading.Thread(target=self._errors, daemon=True)]
        for t in self.threads:
            t.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._line(json.loads(line))

    def _line(self, r: dict) -> None:
        if "started" in r:
            self.run.started = r["started"]
        elif "value" in r:
            self.run.reports.append(r)



def read_topic(bootstrap: str, topic: str, partitions: int = PARTITIONS) -> list[tuple[int, int, str, str]]:
    """Every record of `topic` as (partition, offset, key, value), read to the high watermarks."""
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": f"verify-{topic}",
                                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                                  "isolation.level": "read_uncommitted"})
    tps = [confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
           for p in range(partitions)]
    ends = {p: c.get_watermark_offsets(confluent_kafka.TopicPartition(topic, p), timeout=30)[1]
            for p in range(partitions)}
    c.assign(tps)
    out: list = []
    done = {p for p, e in ends.items() if e == 0}
    deadline = time.monotonic() + 60
    while len(done) < partitions and time.monotonic() < deadline:
        for m in c.consume(1000, 1.0):
            if m.error():
                continue
            out.append((m.partition(), m.offset(), m.key().decode(), m.value().decode()))
            if m.offset() + 1 >= ends[m.partition()]:
                done.add(m.partition())
    c.close()
    assert len(done) == partitions, f"could not read {topic} to its end"
    return out


@dataclass
class Verdict:
    client: str
    acked: int
    failed: int
    unknown_failed: int
    lost: int
    duplicated: int
    out_of_order: int
    phantom: int
    stall_dead: float
    stall_healthy: float
    first_fault_failed: int = 0


def verify(bootstrap: str, run: Run, fault_at: float, dead: set[int], end_at: float,
           log: list | None = None) -> Verdict:
    """Checks a run against the log (read here unless `log` gives it, as (partition, offset, key,
    value) in any order); computes the stalls of the faulted leader's partitions and of the
    others after `fault_at`."""
    if log is None:
        log = read_topic(bootstrap, run.topic)
    values = [v for (_, _, _, v) in log]
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    acked = [r for r in run.reports if "error" not in r]
    failed = [r for r in run.reports if "error" in r]
    lost = sum(1 for r in acked if r["value"] not in counts)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    sure_absent = [r for r in failed if r.get("possibly_persisted") is False]
    phantom = sum(1 for r in sure_absent if r["value"] in counts)
    unknown = len(failed) - len(sure_absent)
    out_of_order = 0
    last: dict[str, int] = {}
    for (_, _, key, value) in sorted(log):
        seq = int(value.rsplit(":", 1)[1])
        if key in last and seq <= last[key]:
            out_of_order += 1
        last[key] = seq
    stalls = stall_by_partition([r for r in acked], fault_at, end_at)
    dead_stall = max((s for p, s in stalls.items() if p in dead), default=0.0)
    healthy_stall = max((s for p, s in stalls.items() if p not in dead), default=0.0)
    return Verdict(run.client, len(acked), len(failed), unknown, lost, duplicated, out_of_order,
                   phantom, dead_stall, healthy_stall)


def stall_by_partition(acked: list[dict], fault_at: float, end_at: float) -> dict[int, float]:
    """Per partition: the longest time without an acknowledgement from `fault_at` on (a gap that
    spans `fault_at` counts from the last ack before it)."""
    times: dict[int, list[float]] = {}
    for r in acked:
        times.setdefault(r["partition"], []).append(r["t"])
    out = {}
    for p, ts in times.items():
        ts.sort()
        worst = 0.0
        prev = None
        for t in ts:
            if prev is not None and t >= fault_at:
                worst = max(worst, t - prev)
            prev = t
        if prev is not None and prev < end_at:
            worst = max(worst, end_at - max(prev, fault_at))
        out[p] = worst
    return out


def java_hash(s: str) -> int:
    h = 0
    for ch in s:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def offsets_partition(group: str, partitions: int = 3) -> int:
    """The __consumer_offsets partition (hence the coordinator) of a group, as Kafka computes it."""
    h = java_hash(group)
    return 0 if h == -(1 << 31) else abs(h) % partitions


class GroupConsumers:
    """Three consumers, each in its own group on `topic` (the groups share an offsets partition,
    hence a coordinator): our Rust client (`odradek consume -g`), librdkafka (confluent-kafka)
    and the Java client (Kafka's ConsoleConsumer from the 4.3.1 jars). Each records the values it
    receives with their monotonic time; `close` stops them."""

    LABELS = {"ours": "odradek (Rust)", "rdkafka": "librdkafka (confluent-kafka)",
              "java": "Java client"}

    def __init__(self, cli: str, bootstrap: str, topic: str, groups: dict[str, str]) -> None:
        self.seen: dict[str, list] = {k: [] for k in self.LABELS}
        self.stop_event = threading.Event()
        libs = Path(os.environ.get("ODRADEK_CACHE", Path.home() / ".cache" / "odradek")) \
            / "kafka-4.3.1" / "libs"
        self.procs = {
            "ours": subprocess.Popen(
                [cli, "consume", "-b", bootstrap, "-t", topic, "-g", groups["ours"], "--format",
                 "json", "-X", "auto.offset.reset=earliest"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env=dict(os.environ, RUST_LOG="odradek=info")),
            "java": subprocess.Popen(
                ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
                 f"{libs}/*", "org.apache.kafka.tools.consumer.ConsoleConsumer",
                 "--bootstrap-server", bootstrap, "--topic", topic, "--group", groups["java"],
                 "--from-beginning"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        }
        self.errors: dict[str, str] = {}
        self.threads = [
            threading.Thread(target=self._read, args=("ours", True), daemon=True),
            threading.Thread(target=self._read, args=("java", False), daemon=True),
            threading.Thread(target=self._rdkafka, args=(bootstrap, topic, groups["rdkafka"]),
                             daemon=True),
        ] + [threading.Thread(target=self._errors, args=(k,), daemon=True) for k in self.procs]
        for t in self.threads:
            t.start()

    def _read(self, key: str, json_lines: bool) -> None:
        for line in self.procs[key].stdout:
            value = json.loads(line)["value"] if json_lines else line.rstrip("\n")
            self.seen[key].append((time.monotonic(), value))

    def _errors(self, key: str) -> None:
        self.errors[key] = self.procs[key].stderr.read()

    def _rdkafka(self, bootstrap: str, topic: str, group: str) -> None:
        c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                      "auto.offset.reset": "earliest"})
        c.subscribe([topic])
        while not self.stop_event.is_set():
            for m in c.consume(500, 0.2):
                if not m.error():
                    self.seen["rdkafka"].append((time.monotonic(), m.value().decode()))
        c.close()

    def missing(self, acked: set[str]) -> dict[str, int]:
        return {k: len(acked - {v for _, v in seen}) for k, seen in self.seen.items()}

    def wait_for(self, acked: set[str], seconds: float) -> dict[str, int]:
        """Until every consumer has seen every acknowledged value, at most `seconds`; returns
        how many each one misses."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(self.missing(acked).values()):
            time.sleep(0.5)
        return self.missing(acked)

    def close(self) -> None:
        self.stop_event.set()
        for p in self.procs.values():
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for t in self.threads:
            t.join(timeout=30)
