#!/usr/bin/env python3
"""Odradek benchmark runner: our client and broker against their peers, in one run.

    run.py --mode quick|full --out DIR [--sections clients,brokers,bindings,transactions,replication,sessions]
           [--clients a,b] [--reps N] [--bindings odradek-python,...]

Each client is a separate program (bench/peers/*, or kafka-tools for the Java client) with one
command line (produce | consume | latency) and one JSON line of output. This runner starts the
brokers, creates and fills topics, runs the clients alternately (rotating their order every
repetition), and measures each client process from outside: CPU = user+sys from wait4(2), peak
RSS = ru_maxrss. Every measurement is one line of DIR/results.jsonl; report.py turns that file
into BENCHMARKS.md tables and plots. Quick mode runs every path once with tiny counts and only
checks that each works (CI); it never judges a number.
"""

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CACHE = os.environ.get("ODRADEK_CACHE", os.path.expanduser("~/.cache/odradek"))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(CACHE, "target"))
KAFKA_LIBS = os.path.join(CACHE, "kafka-4.3.1", "libs")
BIN = os.path.join(CACHE, "bench", "bin")

# One set of producer settings for every client (set explicitly in each peer; see README.md).
SETTINGS = {
    "linger.ms": 5,
    "batch.size": 65536,
    "max.in.flight.requests.per.connection": 5,
    "enable.idempotence": False,
    "compression level": "codec default (lz4 default, zstd 3)",
    "consumer": "assign partition 0 at offset 0 (no ListOffsets), no group (Java ConsumerPerformance: "
    "subscribe, its fetch-phase time), fetch.min.bytes=1, max.partition.fetch.bytes=1 MiB, "
    "fetch.max.bytes=50 MiB",
    "values": "random upper-case letters (as kafka-tools ProducerPerformance), no key, "
    "1 partition, replication 1",
}
LATENCY = {"size": 100, "acks": "all", "compression": "none", "linger_ms": 0}
# The transactions section: every client runs the same loop (its peer's `txn-produce`): begin,
# send K records, commit (the commit flushes), K = each of the section's transaction sizes.
TRANSACTIONS = {
    "producer": "acks=all, enable.idempotence=true, one transactional.id per run, linger.ms=5, "
    "batch.size=65536, compression none, 100 B values; the clock runs from the first "
    "begin_transaction (after init_transactions) to the last commit's answer",
    "consume": "a topic filled by librdkafka in transactions of 500 records, every 10th aborted; "
    "read_committed reads the committed records, read_uncommitted every record (aborted too); "
    "partition 0 from offset 0, no group, the clock starts at the first record",
    "clients": "Odradek (Rust peer), librdkafka (C peer), Java client (bench/peers/java/TxnPeer)",
}
TXN_ABORT_EVERY = 10
TXN_FILL_RECORDS = 500

# The `replication` section (issue 22): a 3-node cluster of each broker, one partition with
# replication factor 3 and min.insync.replicas=2 (scripts/apache-kafka.sh's cluster settings).
REPLICATION = {
    "topic": "1 partition, replication factor 3, min.insync.replicas=2",
    "producer": "acks=all, enable.idempotence=false, linger.ms=5, batch.size=65536, 100 B values "
    "(the brokers section's settings); latency at a fixed rate with linger.ms=0",
    "failover": "a fixed-rate producer (the peers' `steady`: produce only, no consumer); "
    "SIGKILL of the partition leader's process a few seconds in; the stall is the longest time "
    "between two consecutive acknowledgements; the killed node is restarted and back in the ISR "
    "before the next run",
    "apache-kafka": "Apache Kafka 4.3.1, 3 combined KRaft nodes (scripts/apache-kafka.sh "
    "cluster-start: -Xmx384m, SerialGC, broker.session.timeout.ms=6000)",
    "odradek": "three odradek-broker processes in cluster mode (--node-id, --controller-quorum), "
    "broker.session.timeout.ms=6000, broker.heartbeat.interval.ms=1000 (as Kafka's)",
}

# The `bindings` section: each of our language bindings against the field's client in the same
# language, alternately, on Odradek's broker. One entry per pair: (our peer, the field's peer).
# A peer is a built-in client of this runner (confluent-python, franz-go, librdkafka) or a
# directory bench/peers/<name>/ holding an executable `peer` (and optionally an executable
# `build`, run once per bench run); see bench/README.md, "Adding a binding peer". A pair whose
# programs are not there yet is reported as "not built", never as a failure.
BINDING_PEERS = [
    ("odradek-python", "confluent-python"),
    ("odradek-node", "kafkajs"),
    ("odradek-go", "franz-go"),
    ("odradek-go", "confluent-kafka-go"),
    ("odradek-cpp", "librdkafka++"),
    # Confluent.Kafka cannot be restored here (no NuGet feed, no .NET SDK): its shape over
    # librdkafka's C API through P/Invoke stands in (bench/peers/librdkafka-dotnet).
    ("odradek-dotnet", "librdkafka-dotnet"),
]

MODES = {
    "quick": {
        "reps": 1,
        "count": {100: 3000, 1024: 1000},
        "produce_cells": [(100, "1", "none"), (1024, "all", "lz4"), (100, "all", "zstd")],
        "consume_cells": [(100, "none"), (1024, "zstd")],
        "rates": [1000],
        "latency_seconds": 1.0,
        "broker_produce_cells": [(100, "all", "none")],
        "broker_consume_cells": [(100, "none")],
        "broker_rates": [1000],
        "startups": 1,
        "timeout": 60,
        "binding_produce_cells": [(100, "1", "none")],
        "binding_consume_cells": [(100, "none")],
        "binding_count": {100: 1000, 1024: 300},
        # Tiny, and on Odradek's broker only: another Apache Kafka start would add half a
        # minute to CI, and the interop suites cover Kafka's transactions.
        "txn_count": {100: 300},
        "txn_fill": 400,
        "txn_brokers": ["odradek"],
        # Our broker only: another two Apache Kafka starts would add a minute to CI.
        "sessions": {"partitions": 50, "with_data": 5, "rate": 200, "seconds": 1.0,
                     "brokers": ["odradek"]},
        # No replication section in quick mode (two 3-node clusters would add a minute to CI;
        # scripts/test.d/43-failover.sh covers fail-over): see replication_section.
    },
    "full": {
        "reps": 3,
        "count": {100: 200000, 1024: 60000},
        "produce_cells": [
            (size, acks, comp)
            for size in (100, 1024)
            for acks in ("1", "all")
            for comp in ("none", "lz4", "zstd")
        ],
        "consume_cells": [(size, comp) for size in (100, 1024) for comp in ("none", "lz4", "zstd")],
        "rates": [1000, 10000, 50000],
        "latency_seconds": 3.0,
        "broker_produce_cells": [
            (size, acks, "none") for size in (100, 1024) for acks in ("1", "all")
        ]
        + [(1024, "all", "lz4")],
        "broker_consume_cells": [(100, "none"), (1024, "none"), (1024, "lz4")],
        "broker_rates": [1000, 10000, 50000],
        "startups": 3,
        "timeout": 300,
        "warmup": 100000,
        "binding_produce_cells": [(100, "1", "none"), (100, "all", "lz4"), (1024, "1", "none")],
        "binding_consume_cells": [(100, "none"), (1024, "none")],
        "binding_count": {100: 100000, 1024: 30000},
        # Records per run for each transaction size: 300 and 200 transactions (a commit takes
        # 10-25 ms on Apache Kafka on a quiet machine; fewer made runs of ~0.1 s for our client,
        # whose medians then varied by 3x).
        "txn_count": {100: 30000, 1000: 200000},
        "txn_fill": 500000,
        "txn_warmup": 10000,
        "txn_brokers": ["odradek", "apache-kafka"],
        # KIP-227: 1,000 partitions, 50 of them with records.
        "sessions": {"partitions": 1000, "with_data": 50, "rate": 2000, "seconds": 10.0,
                     "brokers": ["odradek", "apache-kafka"]},
        "repl_count": 100000,
        "repl_rate": 1000,
        "repl_latency_seconds": 5.0,
        # Failover: records/s of the steady producer, its length, and the kill after launch.
        "repl_failover": {"rate": 1000, "seconds": 20.0, "kill_after_s": 6.0},
    },
}


def log(*args):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


class RunError(Exception):
    def __init__(self, message, returncode=None):
        super().__init__(message)
        self.returncode = returncode


# A peer's exit status for "this client cannot run this cell" (e.g. a codec it lacks).
UNSUPPORTED = 77


def run_measured(argv, timeout=300, env=None):
    """Runs argv to completion; returns (stdout, stderr, cpu_seconds, peak_rss_bytes, wall).

    CPU (user+sys) and peak RSS are those of the client process alone, from wait4(2) in the
    small `measure` wrapper (bench/peers/measure/measure.c)."""
    fd, usage_file = tempfile.mkstemp(prefix="bench-usage-")
    os.close(fd)
    t0 = time.monotonic()
    try:
        p = subprocess.Popen(
            [os.path.join(BIN, "measure"), usage_file, "--"] + list(argv),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # the wrapper and the client under it
            p.communicate()
            raise
        wall = time.monotonic() - t0
        with open(usage_file) as f:
            cpu, rss_kib, _code = f.read().split()
    except subprocess.TimeoutExpired as e:
        raise RunError("%s timed out after %d s" % (" ".join(argv[:3]), timeout)) from e
    except (OSError, ValueError) as e:
        raise RunError("%s: no usage record (%s)" % (" ".join(argv[:3]), e)) from e
    finally:
        os.unlink(usage_file)
    stdout = out.decode(errors="replace")
    stderr = err.decode(errors="replace")
    if p.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        raise RunError("%s exited %s:\n%s" % (" ".join(argv[:3]), p.returncode, tail),
                       p.returncode)
    return stdout, stderr, float(cpu), int(rss_kib) * 1024, wall


def last_json(stdout):
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RunError("no JSON result line in output:\n" + stdout[-2000:])


def proc_cpu_seconds(pid):
    """user+sys CPU of a running process (the broker), from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def proc_status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def proc_start_monotonic(pid):
    """When a process started, on the CLOCK_BOOTTIME scale of /proc/uptime (seconds)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")


def uptime():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


# --------------------------------------------------------------------------- brokers

_ready_spec = importlib.util.spec_from_file_location(
    "kafka_ready", os.path.join(ROOT, "scripts", "kafka-ready.py")
)
kafka_ready = importlib.util.module_from_spec(_ready_spec)
_ready_spec.loader.exec_module(kafka_ready)


def is_ready(bootstrap):
    host, port = bootstrap.rsplit(":", 1)
    try:
        return kafka_ready.brokers_registered(host, int(port))
    except (OSError, ValueError, Exception):
        return False


class ApacheKafka:
    name = "apache-kafka"

    def __init__(self, workdir, props=None):
        self.dir = os.path.join(workdir, "apache-kafka-%d" % time.monotonic_ns())
        self.version = "Apache Kafka 4.3.1 (KRaft, -Xmx512m, SerialGC)"
        self.props = props or {}

    def start(self):
        env = dict(os.environ)
        if self.props:
            env["KAFKA_EXTRA_PROPS"] = " ".join("%s=%s" % kv for kv in self.props.items())
        out = subprocess.run(
            [os.path.join(ROOT, "scripts", "apache-kafka.sh"), "start", self.dir],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        ready_at = uptime()
        self.bootstrap = out.strip().splitlines()[-1]
        with open(os.path.join(self.dir, "pid")) as f:
            self.pid = int(f.read())
        # From the JVM's exec (after storage format) until a Metadata request answered; the
        # start script polls every 0.2 s, so this is accurate to about 0.25 s.
        self.startup_seconds = ready_at - proc_start_monotonic(self.pid)
        return self

    def stop(self):
        subprocess.run([os.path.join(ROOT, "scripts", "apache-kafka.sh"), "stop", self.dir])
        shutil.rmtree(self.dir, ignore_errors=True)


CARGO_PROFILE = ["release"]


# Copies of our binaries taken at the start of a run: the cargo target dir is shared with other
# builds, which could replace a binary half-way through.
SNAPSHOT = {}


def odradek_broker_bin():
    return SNAPSHOT.get("odradek-broker", os.path.join(TARGET, CARGO_PROFILE[0], "odradek-broker"))


def odradek_peer_bin():
    """Our Rust client's peer program (crate bench/, binary odradek-peer)."""
    return SNAPSHOT.get("odradek-peer", os.path.join(TARGET, CARGO_PROFILE[0], "odradek-peer"))


def snapshot_binaries(workdir):
    for name, path in (("odradek-broker", odradek_broker_bin()), ("odradek-peer", odradek_peer_bin())):
        if os.path.exists(path):
            copy = os.path.join(workdir, name)
            shutil.copy2(path, copy)
            SNAPSHOT[name] = copy


def workspace_has_bench_crate():
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        members = re.search(r"members\s*=\s*\[([^\]]*)\]", f.read())
    return bool(members) and '"bench"' in members.group(1)


class OdradekBroker:
    name = "odradek"

    def __init__(self, workdir, props=None):
        self.dir = os.path.join(workdir, "odradek-%d" % time.monotonic_ns())
        self.version = "odradek-broker %s" % git_describe()
        self.props = props or {}

    def start(self):
        os.makedirs(self.dir)
        self.log = open(os.path.join(self.dir, "broker.log"), "wb")
        args = [odradek_broker_bin(), "--listen", "127.0.0.1:0", "--data-dir", self.dir + "/data"]
        if self.props:
            cfg = os.path.join(self.dir, "broker.properties")
            with open(cfg, "w") as f:
                f.write("".join("%s=%s\n" % kv for kv in self.props.items()))
            args += ["--config", cfg]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
        )
        self.pid = self.proc.pid
        line = self.proc.stdout.readline().decode().strip()
        if not line:
            self.stop()
            raise RunError("odradek-broker printed no address; see %s/broker.log" % self.dir)
        self.bootstrap = line.split()[-1]
        deadline = t0 + 30
        while not is_ready(self.bootstrap):
            if time.monotonic() > deadline:
                self.stop()
                raise RunError("odradek-broker did not answer Metadata within 30 s")
            time.sleep(0.002)
        self.startup_seconds = time.monotonic() - t0
        # Keep draining stdout so the broker never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        return self

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def git_describe():
    r = subprocess.run(
        ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return r.stdout.strip() or "unknown"


# --------------------------------------------------------------------------- topics


class Topics:
    """Creates topics with the Admin API (falls back to auto-creation by one produced record)."""

    def __init__(self, bootstrap, c_peer):
        self.bootstrap = bootstrap
        self.c_peer = c_peer
        try:
            from confluent_kafka.admin import AdminClient

            self.admin = AdminClient({"bootstrap.servers": bootstrap})
        except ImportError:
            self.admin = None

    def create(self, name):
        if self.admin is not None:
            from confluent_kafka.admin import NewTopic

            try:
                self.admin.create_topics([NewTopic(name, 1, 1)])[name].result(30)
                return
            except Exception as e:  # not supported by this broker: auto-create below
                log("CreateTopics failed (%s); auto-creating %s by producing" % (e, name))
        run_measured(self.c_peer.argv("produce", self.bootstrap, name, count=1, size=100))

    def delete(self, name):
        if self.admin is None:
            return
        try:
            self.admin.delete_topics([name])[name].result(30)
        except Exception:
            pass  # a broker without DeleteTopics keeps the topic; the run's data dir is temporary


# --------------------------------------------------------------------------- clients


class Peer:
    """A peer program that follows the common command line (bench/README.md)."""

    def __init__(self, name, argv0, ops=("produce", "consume", "latency"), env=None):
        self.name, self.argv0, self.ops, self.env = name, argv0, ops, env

    def argv(self, op, bootstrap, topic, count=0, size=100, acks="1", compression="none",
             rate=0, seconds=0.0, linger_ms=None, txn_records=None, transactional_id=None,
             abort_every=0, isolation=None):
        a = list(self.argv0) + [op, "--bootstrap", bootstrap, "--topic", topic]
        if op in ("produce", "latency", "txn-produce", "steady"):
            linger = SETTINGS["linger.ms"] if linger_ms is None else linger_ms
            a += ["--size", str(size), "--acks", acks, "--compression", compression,
                  "--linger-ms", str(linger), "--batch-size", str(SETTINGS["batch.size"])]
        if op in ("produce", "consume", "txn-produce"):
            a += ["--count", str(count)]
        if op in ("latency", "steady"):
            a += ["--rate", str(rate), "--seconds", str(seconds)]
        if op == "txn-produce":
            a += ["--txn-records", str(txn_records), "--transactional-id", transactional_id,
                  "--abort-every", str(abort_every)]
        if isolation:
            a += ["--isolation", isolation]
        return a

    def result(self, op, stdout):
        return last_json(stdout)


class JavaClient(Peer):
    """The Java client: kafka-tools ProducerPerformance / ConsumerPerformance for throughput,
    bench/peers/java/LatencyPeer for fixed-rate latency (the tools have no such mode)."""

    def __init__(self, payload_dir):
        super().__init__("java", [])
        self.cp = os.path.join(KAFKA_LIBS, "*")
        self.payload_dir = payload_dir
        self.java = ["java", "-Xmx1g"]

    def payload_file(self, size):
        path = os.path.join(self.payload_dir, "payload-%d.txt" % size)
        if not os.path.exists(path):
            import random

            rng = random.Random(size)
            with open(path, "w") as f:
                f.write("\n".join(
                    "".join(chr(65 + rng.randrange(26)) for _ in range(size)) for _ in range(1000)
                ))
        return path

    def argv(self, op, bootstrap, topic, count=0, size=100, acks="1", compression="none",
             rate=0, seconds=0.0, linger_ms=None):
        linger = SETTINGS["linger.ms"] if linger_ms is None else linger_ms
        if op == "produce":
            return self.java + [
                "-cp", self.cp, "org.apache.kafka.tools.ProducerPerformance",
                "--topic", topic, "--num-records", str(count),
                "--payload-file", self.payload_file(size), "--throughput", "-1",
                "--command-property", "bootstrap.servers=" + bootstrap, "acks=" + acks,
                "compression.type=" + compression, "linger.ms=%d" % linger,
                "batch.size=%d" % SETTINGS["batch.size"], "enable.idempotence=false",
                "max.in.flight.requests.per.connection=5",
            ]
        if op == "consume":
            return self.java + [
                "-cp", self.cp, "org.apache.kafka.tools.ConsumerPerformance",
                "--bootstrap-server", bootstrap, "--topic", topic, "--messages", str(count),
                "--timeout", "60000",
            ]
        return self.java + [
            "-cp", self.cp + ":" + os.path.join(BIN, "java"), "LatencyPeer",
            "--bootstrap", bootstrap, "--topic", topic, "--rate", str(rate),
            "--seconds", str(seconds), "--size", str(size), "--acks", acks,
            "--compression", compression, "--linger-ms", str(linger),
            "--batch-size", str(SETTINGS["batch.size"]),
        ]

    def result(self, op, stdout):
        if op == "produce":
            m = re.search(r"(\d+) records sent, ([\d.]+) records/sec", stdout)
            if not m:
                raise RunError("no ProducerPerformance summary in:\n" + stdout[-2000:])
            n, rps = int(m.group(1)), float(m.group(2))
            return {"records": n, "seconds": n / rps, "client": "java kafka-clients 4.3.1"}
        if op == "consume":
            # start, end, MB, MB/s, nMsg, nMsg/s, rebalance ms, fetch ms, fetch MB/s, fetch nMsg/s
            for line in reversed(stdout.splitlines()):
                f = [x.strip() for x in line.split(",")]
                if len(f) == 10 and f[4].isdigit():
                    return {"records": int(f[4]), "seconds": float(f[7]) / 1000,
                            "client": "java kafka-clients 4.3.1"}
            raise RunError("no ConsumerPerformance summary in:\n" + stdout[-2000:])
        return last_json(stdout)


def build_peers(python):
    """Builds the peer programs into $ODRADEK_CACHE/bench/bin; returns the client table."""
    os.makedirs(BIN, exist_ok=True)
    peers = os.path.join(HERE, "peers")
    log("building peers")
    cflags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "rdkafka"], check=True, capture_output=True, text=True
    ).stdout.split()
    subprocess.run(
        ["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", os.path.join(BIN, "rdk-peer"),
         os.path.join(peers, "librdkafka", "peer.c")] + cflags + ["-lpthread"],
        check=True,
    )
    subprocess.run(
        ["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", os.path.join(BIN, "measure"),
         os.path.join(peers, "measure", "measure.c")],
        check=True,
    )
    subprocess.run(
        ["go", "build", "-o", os.path.join(BIN, "franz-peer"), "."],
        cwd=os.path.join(peers, "franz"),
        check=True,
    )
    os.makedirs(os.path.join(BIN, "java"), exist_ok=True)
    subprocess.run(
        ["javac", "-d", os.path.join(BIN, "java"), "-cp", os.path.join(KAFKA_LIBS, "*"),
         os.path.join(peers, "java", "LatencyPeer.java"),
         os.path.join(peers, "java", "TxnPeer.java")],
        check=True,
    )
    clients = {}
    if workspace_has_bench_crate():
        if not os.path.exists(odradek_peer_bin()):
            raise RunError("no %s: build it with cargo build -p odradek-bench" % odradek_peer_bin())
        clients["odradek"] = Peer("odradek", [odradek_peer_bin()])
    clients.update({
        "librdkafka": Peer("librdkafka", [os.path.join(BIN, "rdk-peer")]),
        "franz-go": Peer("franz-go", [os.path.join(BIN, "franz-peer")]),
        "java": JavaClient(BIN),
        "confluent-python": Peer(
            "confluent-python", [python, os.path.join(peers, "confluent_python", "peer.py")]
        ),
    })
    return clients


# --------------------------------------------------------------------------- the runs


class Recorder:
    def __init__(self, out_dir):
        self.path = os.path.join(out_dir, "results.jsonl")
        self.failures = []

    def write(self, row):
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")


def rotate(items, k):
    k %= max(1, len(items))
    return items[k:] + items[:k]


RUN_TIMEOUT = [300]


OPS = [("produce", "consume", "latency", "txn-produce")]


def measure(rec, broker, client, op, section, rep, topic, pair=None, **params):
    if op not in client.ops or (op not in OPS[0] and not section.endswith("-idle")):
        return None
    argv = client.argv(op, broker.bootstrap, topic, **params)
    cpu_b0 = proc_cpu_seconds(broker.pid)
    try:
        stdout, _stderr, cpu, rss, wall = run_measured(argv, timeout=RUN_TIMEOUT[0],
                                                       env=getattr(client, "env", None))
        res = client.result(op, stdout)
    except (RunError, ValueError, KeyError) as e:
        if getattr(e, "returncode", None) == UNSUPPORTED:
            log("%s %s %s %s %s: unsupported by this client" % (
                section, broker.name, client.name, op, params))
            return None
        if op == "latency" and "not every record arrived" in str(e):
            # A result, not a harness failure: the client could not sustain this rate.
            rec.write({"section": section, "broker": broker.name, "client": client.name,
                       "op": op, "rep": rep, "rate": params.get("rate"), "fell_behind": True})
            log("%s %s %s latency rate=%s: fell behind" % (
                section, broker.name, client.name, params.get("rate")))
            return None
        log("FAILED %s %s %s %s: %s" % (section, broker.name, client.name, op, e))
        rec.failures.append("%s/%s/%s/%s %s" % (section, broker.name, client.name, op, params))
        return None
    row = {
        "section": section, "broker": broker.name, "client": client.name, "op": op, "rep": rep,
        "size": params.get("size"), "acks": params.get("acks"),
        "compression": params.get("compression"), "rate": params.get("rate"),
        "cpu_s": round(cpu, 4), "rss_mb": round(rss / 2**20, 1), "wall_s": round(wall, 3),
        "broker_cpu_s": round(proc_cpu_seconds(broker.pid) - cpu_b0, 3),
        "client_version": res.get("client", client.name),
    }
    if pair:
        row["pair"] = [pair[0].name, pair[1].name]
    for k in ("txn_records", "isolation"):
        if params.get(k):
            row[k] = params[k]
    if "transactions" in res:
        row["transactions"] = res["transactions"]
    if op == "latency":
        row.update({k: res[k] for k in ("records", "p50_us", "p99_us", "p999_us", "max_us")})
        # Produce latency (send -> acknowledgement), where the peer measures it.
        row.update({k: res[k] for k in ("ack_p50_us", "ack_p99_us", "ack_p999_us") if k in res})
    else:
        row.update({"records": res["records"], "seconds": round(res["seconds"], 4)})
        # A one-record start-up run can finish within the peer's clock resolution: no rate.
        secs = res["seconds"]
        row["rps"] = round(res["records"] / secs, 1) if secs > 0 else None
        row["mibps"] = round(res["records"] * params["size"] / secs / 2**20, 2) if secs > 0 else None
        row["cpu_s_per_m"] = round(cpu / res["records"] * 1e6, 3)
    rec.write(row)
    log("%-8s %-12s %-16s %-8s %s -> %s" % (
        section, broker.name, client.name, op,
        " ".join("%s=%s" % kv for kv in params.items() if kv[0] != "count"),
        ("p99 %.0f us" % row["p99_us"]) if op == "latency" else
        ("%.0f rec/s, cpu %.2f s" % (row["rps"] or 0, cpu)),
    ))
    return row


def client_matrix(rec, cfg, brokers, clients, section, filler):
    """Produce, consume and latency for every client against each broker. With several brokers
    (the brokers section) they run at once and alternate cell by cell, order rotated each
    repetition, so a change in the machine's background load hits both alike."""
    topics = {b.name: Topics(b.bootstrap, filler) for b in brokers}
    names = list(clients)
    n_topic = [0]

    def fresh(broker, prefix):
        n_topic[0] += 1
        t = "%s-%s-%d" % (section, prefix, n_topic[0])
        topics[broker.name].create(t)
        return t

    # Warm each broker up first (unmeasured): a JVM broker's first seconds run interpreted code,
    # which would charge whichever client happens to come first.
    for broker in brokers if cfg.get("warmup") else []:
        t = fresh(broker, "warmup")
        for op in ("produce", "consume"):
            run_measured(filler.argv(op, broker.bootstrap, t, count=cfg["warmup"], size=1024,
                                     acks="1", compression="none"))
        topics[broker.name].delete(t)
    # Start-up cost of each client process (connect, metadata, one record produced or consumed),
    # to read CPU net of it.
    for rep in range(cfg["reps"]):
        for broker in rotate(brokers, rep):
            for name in rotate(names, rep):
                t = fresh(broker, "idle")
                measure(rec, broker, clients[name], "produce", section + "-idle", rep, t,
                        count=1, size=100, acks="1", compression="none")
                measure(rec, broker, clients[name], "consume", section + "-idle", rep, t,
                        count=1, size=100, compression="none")
                topics[broker.name].delete(t)
    for size, acks, comp in cfg["produce_cells"] if "produce" in OPS[0] else []:
        for rep in range(cfg["reps"]):
            for broker in rotate(brokers, rep):
                for name in rotate(names, rep):
                    t = fresh(broker, "p")
                    measure(rec, broker, clients[name], "produce", section, rep, t,
                            count=cfg["count"][size], size=size, acks=acks, compression=comp)
                    topics[broker.name].delete(t)
    for size, comp in cfg["consume_cells"] if "consume" in OPS[0] else []:
        filled = {}
        for broker in brokers:
            filled[broker.name] = fresh(broker, "fill-%d-%s" % (size, comp))
            run_measured(filler.argv("produce", broker.bootstrap, filled[broker.name],
                                     count=cfg["count"][size], size=size, acks="1",
                                     compression=comp))
        for rep in range(cfg["reps"]):
            for broker in rotate(brokers, rep):
                for name in rotate(names, rep):
                    measure(rec, broker, clients[name], "consume", section, rep,
                            filled[broker.name], count=cfg["count"][size], size=size,
                            compression=comp)
        for broker in brokers:
            topics[broker.name].delete(filled[broker.name])
    rates = cfg["rates"] if section == "clients" else cfg["broker_rates"]
    for rate in rates if "latency" in OPS[0] else []:
        for rep in range(cfg["reps"]):
            for broker in rotate(brokers, rep):
                for name in rotate(names, rep):
                    t = fresh(broker, "lat")
                    measure(rec, broker, clients[name], "latency", section, rep, t, rate=rate,
                            seconds=cfg["latency_seconds"], size=LATENCY["size"],
                            acks=LATENCY["acks"], compression=LATENCY["compression"],
                            linger_ms=LATENCY["linger_ms"])
                    topics[broker.name].delete(t)


def binding_peer(name, clients, python, built):
    """The Peer for one side of a binding pair, or (None, why) when its program is not there.

    Built-in clients of this runner are used as they are; any other name is the directory
    bench/peers/<name>/ with an executable `peer` and, optionally, an executable `build` that is
    run once (its exit status 77 means "cannot be built on this machine", reported as not built;
    any other failure is a failure)."""
    if name in clients:
        return clients[name], None
    if name in built:
        return built[name]
    d = os.path.join(HERE, "peers", name)
    prog = os.path.join(d, "peer")
    if not os.path.isfile(prog) or not os.access(prog, os.X_OK):
        built[name] = (None, "no bench/peers/%s/peer" % name)
        return built[name]
    env = peer_env(python)
    build = os.path.join(d, "build")
    if os.path.isfile(build) and os.access(build, os.X_OK):
        log("building peer %s (bench/peers/%s/build)" % (name, name))
        r = subprocess.run([build], cwd=d, env=env, capture_output=True, text=True)
        if r.returncode == 77:
            why = (r.stderr.strip().splitlines() or ["build said it cannot build here"])[-1]
            built[name] = (None, why)
            return built[name]
        if r.returncode != 0:
            tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-15:])
            raise RunError("bench/peers/%s/build exited %d:\n%s" % (name, r.returncode, tail))
    built[name] = (Peer(name, [prog], ("produce", "consume"), env=env), None)
    return built[name]


def peer_env(python):
    env = dict(os.environ)
    env.update({
        "ODRADEK_ROOT": ROOT, "ODRADEK_CACHE": CACHE, "CARGO_TARGET_DIR": TARGET,
        "BENCH_CARGO_PROFILE": CARGO_PROFILE[0], "BENCH_PYTHON": python, "BENCH_BIN": BIN,
    })
    return env


def bindings_section(rec, cfg, workdir, clients, python, only):
    """Each (ours, theirs) pair of BINDING_PEERS, alternately, on one Odradek broker."""
    built = {}
    pairs = []
    for ours, theirs in BINDING_PEERS:
        if only and ours not in only and theirs not in only:
            continue
        sides, missing = [], []
        for name in (ours, theirs):
            try:
                peer, why = binding_peer(name, clients, python, built)
            except RunError as e:
                log("FAILED building %s: %s" % (name, e))
                rec.failures.append("bindings/%s build" % name)
                peer, why = None, "build failed"
                built[name] = (None, why)
            sides.append(peer)
            if peer is None:
                missing.append("%s: %s" % (name, why))
        # One row per pair, in table order, built or not (report.py lists the pairs from these).
        rec.write({"section": "bindings-pair", "ours": ours, "theirs": theirs,
                   "built": not missing, "why": "; ".join(missing) or None})
        if missing:
            log("bindings %s vs %s: not built (%s)" % (ours, theirs, "; ".join(missing)))
        else:
            pairs.append(sides)
    if not pairs:
        return
    b = OdradekBroker(workdir).start()
    try:
        topics = Topics(b.bootstrap, clients["librdkafka"])
        n = [0]

        def fresh(prefix):
            n[0] += 1
            t = "bindings-%s-%d" % (prefix, n[0])
            topics.create(t)
            return t

        count = cfg["binding_count"]
        for size, acks, comp in cfg["binding_produce_cells"]:
            for rep in range(cfg["reps"]):
                for ours, theirs in pairs:
                    for peer in rotate([ours, theirs], rep):
                        t = fresh("p")
                        measure(rec, b, peer, "produce", "bindings", rep, t, count=count[size],
                                size=size, acks=acks, compression=comp, pair=(ours, theirs))
                        topics.delete(t)
        for size, comp in cfg["binding_consume_cells"]:
            t = fresh("fill-%d-%s" % (size, comp))
            run_measured(clients["librdkafka"].argv("produce", b.bootstrap, t, count=count[size],
                                                    size=size, acks="1", compression=comp))
            for rep in range(cfg["reps"]):
                for ours, theirs in pairs:
                    for peer in rotate([ours, theirs], rep):
                        measure(rec, b, peer, "consume", "bindings", rep, t, count=count[size],
                                size=size, compression=comp, pair=(ours, theirs))
            topics.delete(t)
    finally:
        b.stop()


def load_average():
    """The 1/5/15-minute load averages: other work on the machine weighs on every number."""
    return [round(x, 2) for x in os.getloadavg()]


def transactions_section(rec, cfg, workdir, clients, filler):
    """Transactional produce (transactions of each size in cfg["txn_count"]) and read_committed
    against read_uncommitted consume, for our client, librdkafka and the Java client, on
    Odradek's broker and Apache Kafka at once, alternating cell by cell (order rotated each
    repetition) like the brokers section."""
    # The Java client runs bench/peers/java/TxnPeer here (the peers' own command line), not
    # kafka-tools, whose ProducerPerformance commits by time rather than every K records.
    ops = ("txn-produce", "consume")
    txn_clients = {n: Peer(n, clients[n].argv0, ops) for n in ("odradek", "librdkafka")
                   if n in clients}
    if "java" in clients:
        txn_clients["java"] = Peer("java", ["java", "-Xmx1g", "-cp", os.path.join(KAFKA_LIBS, "*")
                                            + ":" + os.path.join(BIN, "java"), "TxnPeer"], ops)
    clients = txn_clients
    names = list(clients)
    rec.write({"section": "transactions-env", "when": "start",
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "commit": git_describe(), "loadavg": load_average(), "settings": TRANSACTIONS,
               "count": {str(k): v for k, v in cfg["txn_count"].items()},
               "fill": cfg["txn_fill"], "reps": cfg["reps"], "abort_every": TXN_ABORT_EVERY})
    log("transactions: load average %s" % load_average())
    brokers = []
    n = [0]

    def fresh(broker, prefix):
        n[0] += 1
        t = "transactions-%s-%d" % (prefix, n[0])
        topics[broker.name].create(t)
        return t, "bench-txn-%d" % n[0]

    try:
        for kind in (OdradekBroker, ApacheKafka):
            if kind.name in cfg["txn_brokers"]:
                brokers.append(kind(workdir).start())
        topics = {b.name: Topics(b.bootstrap, filler) for b in brokers}
        # Unmeasured warm-up of each broker's transaction path (a JVM broker's first seconds run
        # interpreted code, which would charge whichever client came first).
        for broker in brokers if cfg.get("txn_warmup") else []:
            t, tid = fresh(broker, "warmup")
            run_measured(filler.argv("txn-produce", broker.bootstrap, t, count=cfg["txn_warmup"],
                                     acks="all", txn_records=100, transactional_id=tid))
            topics[broker.name].delete(t)
        # Start-up cost of each client (init_transactions and one transaction of one record),
        # once per broker, to read CPU per record net of it.
        for broker in brokers:
            for name in names:
                t, tid = fresh(broker, "idle")
                measure(rec, broker, clients[name], "txn-produce", "transactions-idle", 0, t,
                        count=1, size=100, acks="all", txn_records=1, transactional_id=tid)
                topics[broker.name].delete(t)
        for per, count in sorted(cfg["txn_count"].items()):
            for rep in range(cfg["reps"]):
                for broker in rotate(brokers, rep):
                    for name in rotate(names, rep):
                        t, tid = fresh(broker, "p%d" % per)
                        measure(rec, broker, clients[name], "txn-produce", "transactions", rep,
                                t, count=count, size=100, acks="all",
                                txn_records=per, transactional_id=tid)
                        topics[broker.name].delete(t)
        # One topic per broker of committed and aborted transactions, read by every client at
        # both isolation levels.
        filled = {}
        for broker in brokers:
            t, tid = fresh(broker, "fill")
            out, _err, _cpu, _rss, _wall = run_measured(filler.argv(
                "txn-produce", broker.bootstrap, t, count=cfg["txn_fill"], acks="all",
                txn_records=TXN_FILL_RECORDS, transactional_id=tid, abort_every=TXN_ABORT_EVERY))
            res = last_json(out)
            filled[broker.name] = (t, res["records"], res["records"] + res["aborted"])
        # Start-up cost of each consumer (connect, metadata, one record), to read CPU net of it.
        for broker in brokers:
            for name in names:
                measure(rec, broker, clients[name], "consume", "transactions-idle", 0,
                        filled[broker.name][0], count=1, size=100, isolation="read_committed")
        for rep in range(cfg["reps"]):
            for broker in rotate(brokers, rep):
                t, committed, everything = filled[broker.name]
                for name in rotate(names, rep):
                    for isolation, count in rotate([("read_committed", committed),
                                                    ("read_uncommitted", everything)], rep):
                        measure(rec, broker, clients[name], "consume", "transactions", rep, t,
                                count=count, size=100, isolation=isolation)
        for broker in brokers:
            topics[broker.name].delete(filled[broker.name][0])
    finally:
        topics = {}  # the admin clients go first: they would log every reconnect to a stopped broker
        for b in brokers:
            b.stop()
        rec.write({"section": "transactions-env", "when": "end", "loadavg": load_average()})
        log("transactions: load average %s" % load_average())


def free_ports(n):
    """n distinct free 127.0.0.1 ports, picked together and released for the servers to bind."""
    held = [socket.socket() for _ in range(n)]
    try:
        for h in held:
            h.bind(("127.0.0.1", 0))
        return [h.getsockname()[1] for h in held]
    finally:
        for h in held:
            h.close()


class OdradekCluster:
    """Three odradek-broker processes in cluster mode; a node is killed and restarted by id on
    its data dir, client port and quorum address."""

    name = "odradek"

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "odradek-cluster-%d" % time.monotonic_ns())
        self.version = "odradek-broker %s, 3 nodes" % git_describe()
        self.procs, self.logs = {}, {}

    def start(self):
        os.makedirs(self.dir)
        ports = free_ports(6)
        self.ports = {n: ports[n - 1] for n in (1, 2, 3)}
        self.quorum = ",".join("%d@127.0.0.1:%d" % (n, ports[2 + n]) for n in (1, 2, 3))
        self.config = os.path.join(self.dir, "server.properties")
        with open(self.config, "w") as f:
            # The fencing timings scripts/apache-kafka.sh cluster-start gives Kafka's nodes (ours
            # default to Kafka's 9 s / 2 s): a dead leader's stall starts with them.
            f.write("default.replication.factor=3\nmin.insync.replicas=2\n"
                    "broker.session.timeout.ms=6000\nbroker.heartbeat.interval.ms=1000\n")
        for n in (1, 2, 3):
            self.start_node(n, wait=False)
        for n in (1, 2, 3):
            self.wait_node(n)
        # A node answers Metadata before the quorum has registered the others: a topic with
        # replication factor 3 needs all three.
        deadline = time.monotonic() + 60
        while not kafka_ready.brokers_registered("127.0.0.1", self.ports[1], 3):
            if time.monotonic() > deadline:
                raise RunError("the Odradek cluster did not register 3 brokers within 60 s")
            time.sleep(0.1)
        self.bootstrap = ",".join("127.0.0.1:%d" % self.ports[n] for n in (1, 2, 3))
        return self

    def start_node(self, n, wait=True):
        self.logs[n] = open(os.path.join(self.dir, "node-%d.log" % n), "ab")
        proc = subprocess.Popen(
            [odradek_broker_bin(), "--listen", "127.0.0.1:%d" % self.ports[n],
             "--data-dir", os.path.join(self.dir, "node-%d" % n), "--config", self.config,
             "--node-id", str(n), "--controller-quorum", self.quorum],
            stdout=subprocess.PIPE, stderr=self.logs[n], stdin=subprocess.DEVNULL)
        self.procs[n] = proc
        if not proc.stdout.readline():
            raise RunError("odradek-broker node %d printed no address; see %s/node-%d.log"
                           % (n, self.dir, n))
        # Keep draining stdout so the broker never blocks on a full pipe.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        if wait:
            self.wait_node(n)

    def wait_node(self, n):
        deadline = time.monotonic() + 60
        while not is_ready("127.0.0.1:%d" % self.ports[n]):
            if time.monotonic() > deadline:
                raise RunError("odradek-broker node %d did not answer Metadata within 60 s" % n)
            time.sleep(0.05)

    @property
    def pid(self):
        return self.procs[1].pid

    def kill(self, n):
        self.procs[n].kill()
        self.procs[n].wait()
        self.logs[n].close()

    def stop(self):
        for n, proc in self.procs.items():
            if proc.poll() is None:
                proc.terminate()
        for n, proc in self.procs.items():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self.logs[n].close()
        shutil.rmtree(self.dir, ignore_errors=True)


class KafkaCluster:
    """Apache Kafka's three combined KRaft nodes (scripts/apache-kafka.sh cluster-start); node
    n has node.id n."""

    name = "apache-kafka"

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "apache-kafka-cluster-%d" % time.monotonic_ns())
        self.version = "Apache Kafka 4.3.1, 3 KRaft nodes"
        self.script = os.path.join(ROOT, "scripts", "apache-kafka.sh")

    def start(self):
        out = subprocess.run([self.script, "cluster-start", self.dir], check=True,
                             capture_output=True, text=True, timeout=300).stdout
        self.bootstrap = out.strip().splitlines()[-1]
        return self

    def node_pid(self, n):
        with open(os.path.join(self.dir, "node-%d" % n, "pid")) as f:
            return int(f.read())

    @property
    def pid(self):
        return self.node_pid(1)

    def kill(self, n):
        pid = self.node_pid(n)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def start_node(self, n):
        subprocess.run([self.script, "node-start", self.dir, str(n)], check=True, timeout=300)

    def stop(self):
        subprocess.run([self.script, "cluster-stop", self.dir], timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


def replicated_topic(admin, name, timeout=60):
    """Creates `name` (1 partition, replication factor 3) and waits until its leader is known and
    all three replicas are in the ISR; returns the leader's node id."""
    from confluent_kafka.admin import NewTopic

    admin.create_topics([NewTopic(name, 1, 3)])[name].result(timeout)
    return wait_full_isr(admin, name, timeout)


def wait_full_isr(admin, name, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        md = admin.list_topics(name, timeout=10).topics.get(name)
        p = md.partitions.get(0) if md and md.error is None else None
        if p is not None and p.leader >= 0 and len(p.isrs) == 3:
            return p.leader
        time.sleep(0.2)
    raise RunError("topic %s: no leader with 3 in-sync replicas after %d s" % (name, timeout))


def failover_run(rec, cluster, admin, client, topic, rep, fo):
    """One steady producer; SIGKILL of the topic's leader `kill_after_s` after its launch; the
    killed node restarted and back in the ISR afterwards."""
    argv = client.argv("steady", cluster.bootstrap, topic, size=100, acks="all",
                       compression="none", rate=fo["rate"], seconds=fo["seconds"])
    # The leader is looked up before the launch: a Metadata round trip on a loaded machine took
    # over a second, which would have moved the kill by as much.
    leader = admin.list_topics(topic, timeout=10).topics[topic].partitions[0].leader
    launched = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=getattr(client, "env", None))
    time.sleep(fo["kill_after_s"])
    killed_at = time.monotonic() - launched
    cluster.kill(leader)
    try:
        out, err = proc.communicate(timeout=fo["seconds"] + 180)
        if proc.returncode != 0:
            raise RunError("%s steady exited %d: %s" % (client.name, proc.returncode, err[-2000:]))
        res = last_json(out)
        row = {"section": "replication", "op": "failover", "broker": cluster.name,
               "client": client.name, "rep": rep, "rate": fo["rate"], "killed_node": leader,
               "killed_at_s": round(killed_at, 3), "records": res["records"],
               "failed": res["failed"], "stall_ms": round(res["max_gap_us"] / 1000, 1),
               "gap_from_s": res["gap_from_s"], "ack_p99_us": res["ack_p99_us"],
               "ack_max_us": res["ack_max_us"], "client_version": res.get("client", client.name)}
        rec.write(row)
        log("replication %-12s %-12s failover: killed node %d at %.1f s; stall %.0f ms "
            "(from %.1f s), %d failed" % (cluster.name, client.name, leader, killed_at,
                                          row["stall_ms"], res["gap_from_s"], res["failed"]))
    except (RunError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log("FAILED replication %s %s failover: %s" % (cluster.name, client.name, e))
        rec.failures.append("replication/%s/%s/failover" % (cluster.name, client.name))
    finally:
        cluster.start_node(leader)
        wait_full_isr(admin, topic, 120)


REPL_CLUSTERS = [("odradek", "apache-kafka")]


def replication_section(rec, cfg, workdir, clients):
    """Replication factor 3, acks=all, on a 3-node Odradek cluster and a 3-node Apache Kafka
    cluster, with our Rust client and librdkafka: produce throughput, p99 latency at a fixed rate,
    and the failover stall after a SIGKILL of the leader. The clusters run one after the other
    (six brokers at once would not fit this machine's memory next to other work)."""
    if "repl_count" not in cfg:
        log("replication: not run in this mode (full mode only; see MODES)")
        return
    from confluent_kafka.admin import AdminClient

    clients = {n: clients[n] for n in ("odradek", "librdkafka") if n in clients}
    names = list(clients)
    rec.write({"section": "replication-env", "when": "start",
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "commit": git_describe(), "loadavg": load_average(), "settings": REPLICATION,
               "count": cfg["repl_count"], "rate": cfg["repl_rate"],
               "failover": cfg["repl_failover"], "reps": cfg["reps"]})
    log("replication: load average %s" % load_average())
    n = [0]
    for kind in (OdradekCluster, KafkaCluster):
        if kind.name not in REPL_CLUSTERS[0]:
            continue
        cluster = kind(workdir)
        admin = None
        try:
            cluster.start()
            admin = AdminClient({"bootstrap.servers": cluster.bootstrap})

            def fresh(prefix):
                n[0] += 1
                t = "replication-%s-%d" % (prefix, n[0])
                replicated_topic(admin, t)
                return t

            for rep in range(cfg["reps"]):
                for name in rotate(names, rep):
                    measure(rec, cluster, clients[name], "produce", "replication", rep,
                            fresh("p"), count=cfg["repl_count"], size=100, acks="all",
                            compression="none")
                    measure(rec, cluster, clients[name], "latency", "replication", rep,
                            fresh("lat"), rate=cfg["repl_rate"],
                            seconds=cfg["repl_latency_seconds"], size=100, acks="all",
                            compression="none", linger_ms=0)
            for rep in range(cfg["reps"]):
                for name in rotate(names, rep):
                    failover_run(rec, cluster, admin, clients[name], fresh("fo"), rep,
                                 cfg["repl_failover"])
        except (RunError, subprocess.SubprocessError, Exception) as e:
            log("FAILED replication %s: %s" % (cluster.name, e))
            rec.failures.append("replication/%s: %s" % (cluster.name, e))
        finally:
            admin = None  # before the brokers go: it would log every reconnect
            cluster.stop()
    rec.write({"section": "replication-env", "when": "end", "loadavg": load_average()})
    log("replication: load average %s" % load_average())


def record_startup(rec, b, rep):
    rss = proc_status_kb(b.pid, "VmRSS")
    rec.write({"section": "broker-startup", "broker": b.name, "rep": rep,
               "startup_s": round(b.startup_seconds, 3), "idle_rss_mb": round(rss / 1024, 1),
               "broker_version": b.version})
    log("startup %s %.3f s, idle RSS %.0f MiB" % (b.name, b.startup_seconds, rss / 1024))


def broker_section(rec, cfg, workdir, clients, filler):
    """The same clients against Odradek's broker and Apache Kafka, alternating brokers."""
    kinds = [OdradekBroker, ApacheKafka]
    # Extra start-ups (the matrix's own start counts as one more).
    for i in range(1, cfg["startups"]):
        for kind in rotate(kinds, i):
            b = kind(workdir).start()
            record_startup(rec, b, i)
            b.stop()
    sub = dict(cfg)
    sub["produce_cells"] = cfg["broker_produce_cells"]
    sub["consume_cells"] = cfg["broker_consume_cells"]
    # Both brokers run for the whole matrix, each started alone (for its start-up time).
    brokers = []
    try:
        for kind in kinds:
            b = kind(workdir).start()
            brokers.append(b)
            record_startup(rec, b, 0)
        client_matrix(rec, sub, brokers, clients, "brokers", filler)
        for b in brokers:
            rec.write({"section": "broker-rss", "broker": b.name,
                       "peak_rss_mb": round(proc_status_kb(b.pid, "VmHWM") / 1024, 1),
                       "rss_mb": round(proc_status_kb(b.pid, "VmRSS") / 1024, 1),
                       "broker_version": b.version})
    finally:
        for b in brokers:
            b.stop()


def sessions_section(rec, cfg, workdir):
    """KIP-227 fetch sessions: while a fixed-rate producer (the peer's `steady`) writes to a few
    partitions, our client consumes every partition of a topic of many, from each broker with
    sessions on (max.incremental.fetch.session.cache.slots=1000, Kafka's default) and off (=0:
    every Fetch names every partition). Measured: the bytes the consumer's connections sent
    (its requests; TCP_INFO bytes acked, read by the peer), its CPU, and the broker's CPU per
    record and RSS over the consumer's run (the producer's load is the same in both)."""
    s = cfg["sessions"]
    partitions, with_data = s["partitions"], s["with_data"]
    rate, seconds = s["rate"], s["seconds"]
    count = int(rate * seconds)
    peer = [odradek_peer_bin()]
    from confluent_kafka.admin import AdminClient, NewTopic

    for kind in (k for k in (OdradekBroker, ApacheKafka) if k.name in s["brokers"]):
        for slots in (1000, 0):
            b = kind(workdir, props={"max.incremental.fetch.session.cache.slots": slots}).start()
            try:
                admin = AdminClient({"bootstrap.servers": b.bootstrap})
                for rep in range(cfg["reps"]):
                    topic = "sessions-%d-%d" % (slots, rep)
                    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(60)
                    producer = subprocess.Popen(
                        peer + ["steady", "--bootstrap", b.bootstrap, "--topic", topic,
                                "--rate", str(rate), "--seconds", str(seconds), "--size", "100",
                                "--acks", "1", "--linger-ms", "0",
                                "--produce-partitions", str(with_data)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
                    cpu_b0 = proc_cpu_seconds(b.pid)
                    try:
                        stdout, _err, cpu, _rss, wall = run_measured(
                            peer + ["consume", "--bootstrap", b.bootstrap, "--topic", topic,
                                    "--count", str(count), "--partitions", str(partitions)],
                            timeout=RUN_TIMEOUT[0])
                        res = last_json(stdout)
                    except RunError as e:
                        log("FAILED sessions %s slots=%d: %s" % (b.name, slots, e))
                        rec.failures.append("sessions/%s/slots=%d" % (b.name, slots))
                        continue
                    finally:
                        _, perr = producer.communicate(timeout=RUN_TIMEOUT[0])
                    if producer.returncode != 0:
                        log("FAILED sessions producer: %s" % perr.decode(errors="replace")[-500:])
                        rec.failures.append("sessions/%s/slots=%d producer" % (b.name, slots))
                        continue
                    broker_cpu = proc_cpu_seconds(b.pid) - cpu_b0
                    n = res["records"]
                    row = {
                        "section": "sessions", "broker": b.name, "client": "odradek",
                        "op": "consume", "rep": rep, "sessions": slots > 0,
                        "partitions": partitions, "partitions_with_data": with_data,
                        "rate": rate, "size": 100, "records": n,
                        "seconds": round(res["seconds"], 4), "wall_s": round(wall, 3),
                        "request_bytes": res.get("written_bytes"),
                        "request_bytes_per_record": round(res.get("written_bytes", 0) / n, 1),
                        "fetches": res.get("fetches"),
                        "cpu_s": round(cpu, 4), "cpu_us_per_record": round(cpu / n * 1e6, 2),
                        "broker_cpu_s": round(broker_cpu, 3),
                        "broker_cpu_us_per_record": round(broker_cpu / n * 1e6, 2),
                        "broker_rss_mb": round(proc_status_kb(b.pid, "VmRSS") / 1024, 1),
                    }
                    rec.write(row)
                    log("sessions %-12s sessions=%-5s %d partitions (%d with data), %d rec/s: "
                        "%s fetches, requests %d B (%.1f B/record), consumer CPU %.1f us/record, "
                        "broker CPU %.1f us/record" % (
                            b.name, slots > 0, partitions, with_data, rate, row["fetches"],
                            row["request_bytes"], row["request_bytes_per_record"],
                            row["cpu_us_per_record"], row["broker_cpu_us_per_record"]))
            finally:
                b.stop()


def environment(python):
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "n/a"

    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": git_describe(),
        "machine": "%s, %d cores, %s" % (cpu, os.cpu_count(), platform.platform()),
        "librdkafka (Debian)": out(["pkg-config", "--modversion", "rdkafka"]),
        "go": out(["go", "version"]),
        "java": (out(["java", "-version"]) or subprocess.run(
            ["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]),
        "python": out([python, "-c", "import sys, confluent_kafka as c; "
                       "print(sys.version.split()[0], 'confluent-kafka', c.__version__, "
                       "'librdkafka', c.libversion()[0])"]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=MODES, default="quick")
    ap.add_argument("--out", required=True, help="directory for results.jsonl")
    ap.add_argument("--sections", default="clients,brokers")
    ap.add_argument("--clients", default="", help="comma-separated subset of client names")
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--ops", default="produce,consume,latency,txn-produce",
                    help="comma-separated subset of produce,consume,latency,txn-produce to measure "
                    "(targeted re-runs; start-up runs for net CPU always run)")
    ap.add_argument("--bindings", default="",
                    help="comma-separated peer names: only the BINDING_PEERS pairs naming one")
    ap.add_argument("--cargo-profile", default="release",
                    help="cargo profile dir of odradek-broker and odradek-peer (debug in CI)")
    ap.add_argument("--python", default=os.path.join(CACHE, "venv", "bin", "python"))
    ap.add_argument("--confluent-rust", default="",
                    help="path of the confluent-kafka Rust crate's peer binary (built by bench.sh)")
    ap.add_argument("--repl-clusters", default="odradek,apache-kafka",
                    help="the replication section's clusters (targeted re-runs)")
    o = ap.parse_args()
    REPL_CLUSTERS[0] = tuple(o.repl_clusters.split(","))
    cfg = dict(MODES[o.mode])
    OPS[0] = tuple(o.ops.split(","))
    CARGO_PROFILE[0] = o.cargo_profile
    RUN_TIMEOUT[0] = cfg["timeout"]
    if o.reps:
        cfg["reps"] = o.reps
    os.makedirs(o.out, exist_ok=True)
    rec = Recorder(o.out)
    workdir = tempfile.mkdtemp(prefix="odradek-bench-")
    snapshot_binaries(workdir)
    clients = build_peers(o.python)
    if o.confluent_rust:
        clients["confluent-rust"] = Peer("confluent-rust", [o.confluent_rust], ("produce", "consume"))
    all_clients = dict(clients)
    if o.clients:
        clients = {k: v for k, v in clients.items() if k in o.clients.split(",")}
    filler = Peer("librdkafka", [os.path.join(BIN, "rdk-peer")])
    with open(os.path.join(o.out, "environment.json"), "w") as f:
        json.dump({"mode": o.mode, "settings": SETTINGS, "latency": LATENCY, "config": {
            k: v for k, v in cfg.items()}, "env": environment(o.python)}, f, indent=1, default=str)
    t0 = time.monotonic()
    try:
        sections = o.sections.split(",")
        if "clients" in sections:
            kafka = ApacheKafka(workdir).start()
            try:
                client_matrix(rec, cfg, [kafka], clients, "clients", filler)
            finally:
                kafka.stop()
        if "brokers" in sections:
            if os.path.exists(odradek_broker_bin()):
                broker_clients = {k: v for k, v in clients.items()
                                  if k in ("odradek", "librdkafka", "franz-go")}
                broker_section(rec, cfg, workdir, broker_clients, filler)
            else:
                log("no %s: cannot run the broker comparison" % odradek_broker_bin())
                rec.failures.append("brokers: odradek-broker binary missing")
        if "bindings" in sections:
            if os.path.exists(odradek_broker_bin()):
                bindings_section(rec, cfg, workdir, all_clients, o.python,
                                 [x for x in o.bindings.split(",") if x])
            else:
                log("no %s: cannot run the bindings section" % odradek_broker_bin())
                rec.failures.append("bindings: odradek-broker binary missing")
        if "transactions" in sections:
            if os.path.exists(odradek_broker_bin()):
                transactions_section(rec, cfg, workdir, clients, filler)
            else:
                log("no %s: cannot run the transactions section" % odradek_broker_bin())
                rec.failures.append("transactions: odradek-broker binary missing")
        if "sessions" in sections:
            if os.path.exists(odradek_broker_bin()) and os.path.exists(odradek_peer_bin()):
                sessions_section(rec, cfg, workdir)
            else:
                log("no odradek-broker or odradek-peer binary: cannot run the sessions section")
                rec.failures.append("sessions: binaries missing")
        if "replication" in sections:
            if os.path.exists(odradek_broker_bin()):
                replication_section(rec, cfg, workdir, clients)
            else:
                log("no %s: cannot run the replication section" % odradek_broker_bin())
                rec.failures.append("replication: odradek-broker binary missing")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log("done in %.0f s; %d failure(s)" % (time.monotonic() - t0, len(rec.failures)))
    for f in rec.failures:
        log("  failed: " + f)
    sys.exit(1 if rec.failures else 0)


if __name__ == "__main__":
    main()
