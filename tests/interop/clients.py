"""The third-party clients of the interop suite behind one interface.

Each client can `produce(bootstrap, records)` (explicit partitions, acks=all, its own codec) and
`consume(bootstrap, {topic: partitions})`, which reads every partition from the start up to the end
offset seen when it began, without a consumer group, and returns `(Record, offset)` pairs.
confluent-kafka and kafka-python run in-process; franz-go, the Java client and kafkajs are the
small programs next to this file (built by scripts/setup.d), spoken to in the line format of
harness.py.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from harness import CACHE, Record, from_line, to_line

HERE = Path(__file__).resolve().parent
DEADLINE_S = 120  # a hang guard for one produce or consume run, not a timing assertion


ALL_CODECS = frozenset({"none", "gzip", "snappy", "lz4", "zstd"})


class ClientError(AssertionError):
    pass


class ConfluentKafka:
    """confluent-kafka (librdkafka 2.16), idempotent producer."""

    name = "confluent"
    decodes = ALL_CODECS

    def __init__(self, codec: str = "zstd"):
        self.codec = codec

    def produce(self, bootstrap: str, records: list[Record]) -> list[tuple[int, int]]:
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                      "compression.type": self.codec, "linger.ms": 5})
        errors: list[str] = []
        acks: list[tuple[int, int]] = [(-1, -1)] * len(records)

        def delivered(i):
            def cb(err, msg):
                if err is not None:
                    errors.append(f"record #{i}: {err}")
                else:
                    acks[i] = (msg.partition(), msg.offset())
            return cb

        for i, r in enumerate(records):
            while True:
                try:
                    p.produce(r.topic, value=r.value, key=r.key, partition=r.partition,
                              headers=list(r.headers) or None, on_delivery=delivered(i))
                    break
                except BufferError:
                    p.poll(0.1)
            p.poll(0)
        left = p.flush(DEADLINE_S)
        if left or errors:
            raise ClientError(f"confluent-kafka: {left} undelivered, errors: {errors[:5]}")
        return acks

    def consume(self, bootstrap: str, topics: dict[str, int]) -> list[tuple[Record, int]]:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        # librdkafka insists on a group.id even with manual assignment; nothing is committed.
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "odradek-interop-assign-only",
                      "enable.auto.commit": False, "enable.auto.offset.store": False,
                      "auto.offset.reset": "earliest"})
        try:
            ends = {}
            for t, n in topics.items():
                for p in range(n):
                    _, high = c.get_watermark_offsets(TopicPartition(t, p), timeout=30)
                    if high > 0:
                        ends[(t, p)] = high
            c.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in ends])
            out = []
            deadline = time.monotonic() + DEADLINE_S
            while ends:
                if time.monotonic() > deadline:
                    raise ClientError(f"confluent-kafka: not read to the end: {ends}")
                for m in c.consume(num_messages=1000, timeout=0.5):
                    if m.error():
                        raise ClientError(f"confluent-kafka consume: {m.error()}")
                    tp = (m.topic(), m.partition())
                    end = ends.get(tp)
                    if end is None or m.offset() >= end:
                        continue
                    out.append((Record(m.topic(), m.partition(), m.key(), m.value(), tuple(m.headers() or ())),
                                m.offset()))
                    if m.offset() + 1 >= end:
                        del ends[tp]
            return out
        finally:
            c.close()


class KafkaPython:
    """kafka-python 3.0 (pure Python), idempotent producer."""

    name = "kafka-python"
    decodes = ALL_CODECS  # with python-snappy, lz4 and zstandard from tests/requirements.txt

    def __init__(self, codec: str = "none"):
        self.codec = codec

    def produce(self, bootstrap: str, records: list[Record]) -> list[tuple[int, int]]:
        from kafka import KafkaProducer

        p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
                          compression_type=None if self.codec == "none" else self.codec)
        try:
            futures = [p.send(r.topic, value=r.value, key=r.key, partition=r.partition, headers=list(r.headers))
                       for r in records]
            p.flush(timeout=DEADLINE_S)
            acks = []
            for i, f in enumerate(futures):
                try:
                    md = f.get(timeout=DEADLINE_S)
                except Exception as e:  # noqa: BLE001 — report which record failed and why
                    raise ClientError(f"kafka-python: record #{i} not delivered: {e!r}") from e
                acks.append((md.partition, md.offset))
            return acks
        finally:
            p.close(timeout=10)

    def consume(self, bootstrap: str, topics: dict[str, int]) -> list[tuple[Record, int]]:
        from kafka import KafkaConsumer, TopicPartition

        c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                          auto_offset_reset="earliest")
        try:
            tps = [TopicPartition(t, p) for t, n in topics.items() for p in range(n)]
            ends = {(tp.topic, tp.partition): end for tp, end in c.end_offsets(tps).items() if end > 0}
            c.assign([TopicPartition(t, p) for t, p in ends])
            c.seek_to_beginning()
            out = []
            deadline = time.monotonic() + DEADLINE_S
            while ends:
                if time.monotonic() > deadline:
                    raise ClientError(f"kafka-python: not read to the end: {ends}")
                for tp, msgs in c.poll(timeout_ms=500, max_records=5000).items():
                    for m in msgs:
                        key = (m.topic, m.partition)
                        end = ends.get(key)
                        if end is None or m.offset >= end:
                            continue
                        out.append((Record(m.topic, m.partition, m.key, m.value, tuple(m.headers or ())), m.offset))
                        if m.offset + 1 >= end:
                            del ends[key]
            return out
        finally:
            c.close()


class Program:
    """A client program that reads record lines on stdin (`produce`) or writes them (`consume`)."""

    def __init__(self, name: str, command: list[str], codec: str, env: dict | None = None,
                 decodes: frozenset[str] = ALL_CODECS):
        self.name = name
        self.command = command
        self.codec = codec
        self.decodes = decodes
        self.env = dict(os.environ, **(env or {}))

    def _run(self, args: list[str], stdin: str | None) -> str:
        try:
            out = subprocess.run(self.command + args, input=stdin, capture_output=True, text=True,
                                 env=self.env, timeout=DEADLINE_S + 30)
        except subprocess.TimeoutExpired as e:
            raise ClientError(f"{self.name} {args[0]}: did not finish; stderr:\n{e.stderr}") from e
        if out.returncode != 0:
            raise ClientError(f"{self.name} {args[0]} exited {out.returncode}; stderr:\n{out.stderr[-4000:]}")
        return out.stdout

    def produce(self, bootstrap: str, records: list[Record]) -> None:
        self._run(["produce", bootstrap, self.codec], "".join(to_line(r) for r in records))

    def consume(self, bootstrap: str, topics: dict[str, int]) -> list[tuple[Record, int]]:
        out = self._run(["consume", bootstrap] + [f"{t}:{n}" for t, n in topics.items()], None)
        return [from_line(line) for line in out.splitlines()]

    def consume_group(self, bootstrap: str, group: str, topics: dict[str, int]) -> list[tuple[Record, int]]:
        """As consume(), but as a member of consumer group `group` (programs that have it: kafkajs)."""
        out = self._run(["consume-group", bootstrap, group] + [f"{t}:{n}" for t, n in topics.items()], None)
        return [from_line(line) for line in out.splitlines()]


def franz_go(codec: str = "snappy") -> Program:
    return Program("franz-go", [str(CACHE / "interop" / "franz")], codec)


def java_client(codec: str = "lz4") -> Program:
    libs = CACHE / "kafka-4.3.1" / "libs"
    classes = CACHE / "interop" / "java"
    return Program("java", ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                            "-cp", f"{classes}:{libs}/*", "Interop"], codec)


def kafkajs(codec: str = "gzip") -> Program:
    # kafkajs 2.2.4 implements only gzip itself; snappy, lz4 and zstd need third-party plugins.
    return Program("kafkajs", ["node", str(HERE / "node" / "interop.js")], codec,
                   env={"NODE_PATH": str(CACHE / "node-interop" / "node_modules")},
                   decodes=frozenset({"none", "gzip"}))


def all_clients():
    return [ConfluentKafka(), KafkaPython(), kafkajs(), java_client(), franz_go()]


def missing_tools() -> list[str]:
    """What scripts/setup.sh should have installed but is not there."""
    missing = []
    for path, what in [(CACHE / "interop" / "franz", "franz-go program (setup.d/62-go.sh)"),
                       (CACHE / "interop" / "java" / "Interop.class", "Java program (setup.d/65-java-interop.sh)"),
                       (CACHE / "node-interop" / "node_modules" / "kafkajs", "kafkajs (setup.d/48-node.sh)")]:
        if not path.exists():
            missing.append(what)
    return missing
