"""Transactions with real clients: librdkafka (confluent-kafka) and the Java client write
interleaved committed and aborted transactions over two partitions, compressed and not;
read_committed consumers of both read back exactly the committed records (no aborted record, no
control record), also after the broker is SIGKILLed and restarted; read_uncommitted readers see
the aborted ones too (so they really were written). Zombie fencing and the transaction timeout
with librdkafka's producer. Runs against our broker and, to validate the harness, Apache Kafka.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from clients import CACHE, ClientError
from conftest import create_topics
from harness import Record, assert_same_per_partition, dataset, from_line, to_line

PARTITIONS = 2
TXNS = 6  # alternately committed and aborted
PER_TXN = 120
DEADLINE_S = 120


def java(*args: str, stdin: str | None = None, isolation: str | None = None) -> str:
    libs = CACHE / "kafka-4.3.1" / "libs"
    classes = CACHE / "interop" / "java"
    cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
           "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"]
    if isolation:
        cmd.append(f"-Disolation.level={isolation}")
    cmd += ["-cp", f"{classes}:{libs}/*", *args]
    out = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=DEADLINE_S + 60)
    if out.returncode != 0:
        raise ClientError(f"java {args[0]} {args[1]} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return out.stdout


def transactions(topic: str, seed: int) -> list[tuple[bool, list[Record]]]:
    """(commit?, records) per transaction, records spread over the partitions."""
    records = dataset(topic, PARTITIONS, TXNS * PER_TXN, seed)
    return [(i % 2 == 0, records[i * PER_TXN:(i + 1) * PER_TXN]) for i in range(TXNS)]


def committed(txns) -> list[Record]:
    return [r for commit, recs in txns if commit for r in recs]


def produce_librdkafka(bootstrap: str, txns, codec: str) -> None:
    """Two transactional producers take turns, so aborted and committed batches interleave in
    each partition: producer A runs the even transactions, B the odd ones, with A's transaction
    still open while B writes."""
    from confluent_kafka import Producer

    def producer(name: str):
        p = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"lrk-{name}-{codec}",
                      "compression.type": codec, "linger.ms": 5})
        p.init_transactions(30)
        return p

    a, b = producer("a"), producer("b")
    for i in range(0, len(txns), 2):
        pairs = [(a, txns[i])] + ([(b, txns[i + 1])] if i + 1 < len(txns) else [])
        for p, _ in pairs:
            p.begin_transaction()
        half = PER_TXN // 2
        for part in (slice(0, half), slice(half, None)):
            for p, (_, recs) in pairs:
                for r in recs[part]:
                    p.produce(r.topic, value=r.value, key=r.key, partition=r.partition,
                              headers=list(r.headers) or None)
                p.flush(30)
        for p, (commit, _) in reversed(pairs):
            if commit:
                p.commit_transaction(30)
            else:
                p.abort_transaction(30)
    for p in (a, b):
        p.flush(10)


def produce_java(bootstrap: str, txns, codec: str) -> None:
    script = "".join("".join(to_line(r) for r in recs) + ("COMMIT\n" if commit else "ABORT\n")
                     for commit, recs in txns)
    out = java("Txn", "produce", bootstrap, f"java-{codec}", codec, stdin=script)
    # Transaction version 2 (KIP-890; Apache Kafka 4.3.1 and our broker finalize it): the
    # coordinator bumped the new producer's epoch (0) at every commit and abort.
    assert f"epoch {len(txns)}" in out.splitlines(), f"the Java producer ended with {out!r}"


def watermark(consumer, tp) -> int:
    """The high watermark (the last stable offset for read_committed), asking again while a
    topic created a moment ago is not in the consumer's metadata yet."""
    from confluent_kafka import KafkaException

    deadline = time.monotonic() + 30
    while True:
        try:
            return consumer.get_watermark_offsets(tp, timeout=10)[1]
        except KafkaException as e:
            if e.args[0].code() != -190 or time.monotonic() > deadline:  # _UNKNOWN_PARTITION
                raise
            time.sleep(0.2)


def consume_librdkafka(bootstrap: str, topic: str, isolation: str, partitions: int = PARTITIONS) -> list[tuple[Record, int]]:
    """Reads every partition from the start to its end as the consumer sees it (the last stable
    offset for read_committed), by position: the last offsets may be markers."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "odradek-interop-assign-only",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "isolation.level": isolation})
    try:
        ends = {}
        for p in range(partitions):
            high = watermark(c, TopicPartition(topic, p))
            if high > 0:
                ends[p] = high
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        out = []
        deadline = time.monotonic() + DEADLINE_S
        while ends:
            if time.monotonic() > deadline:
                raise ClientError(f"confluent-kafka {isolation}: not read to the end: {ends}")
            for m in c.consume(num_messages=1000, timeout=0.3):
                if m.error():
                    if m.error().code() == -191:  # _PARTITION_EOF
                        continue
                    raise ClientError(f"confluent-kafka consume: {m.error()}")
                if m.offset() < ends.get(m.partition(), -1):
                    out.append((Record(m.topic(), m.partition(), m.key(), m.value(), tuple(m.headers() or ())),
                                m.offset()))
            for tp in c.position([TopicPartition(topic, p) for p in list(ends)]):
                if tp.offset >= ends[tp.partition]:
                    del ends[tp.partition]
        return out
    finally:
        c.close()


def consume_java(bootstrap: str, topic: str, isolation: str) -> list[tuple[Record, int]]:
    out = java("Interop", "consume", bootstrap, f"{topic}:{PARTITIONS}", isolation=isolation)
    return [from_line(line) for line in out.splitlines()]


PRODUCERS = {"librdkafka": (produce_librdkafka, ["lz4", "none"]), "java": (produce_java, ["zstd", "none"])}
CONSUMERS = {"librdkafka": consume_librdkafka, "java": consume_java}
CASES = [(p, codec) for p, (_, codecs) in PRODUCERS.items() for codec in codecs]


@pytest.fixture(scope="module")
def written(broker):
    """Every producer's transactions, each in its own topic; errors kept for the tests."""
    topics = {f"txn-{p}-{codec}": PARTITIONS for p, codec in CASES}
    create_topics(broker.bootstrap, topics)
    out = {}
    for i, (p, codec) in enumerate(CASES):
        topic = f"txn-{p}-{codec}"
        txns = transactions(topic, seed=100 + i)
        try:
            PRODUCERS[p][0](broker.bootstrap, txns, codec)
            out[(p, codec)] = (topic, txns)
        except Exception as e:  # noqa: BLE001 — re-raised by each test that needs it
            out[(p, codec)] = e
    return out


def _get(written, producer, codec):
    got = written[(producer, codec)]
    if isinstance(got, Exception):
        raise AssertionError(f"{producer} ({codec}) could not produce its transactions: {got}")
    return got


@pytest.mark.parametrize("consumer", list(CONSUMERS))
@pytest.mark.parametrize(("producer", "codec"), CASES, ids=[f"{p}-{c}" for p, c in CASES])
def test_read_committed(broker, written, producer, codec, consumer):
    topic, txns = _get(written, producer, codec)
    read = CONSUMERS[consumer](broker.bootstrap, topic, "read_committed")
    assert_same_per_partition(committed(txns), read, f"{producer} ({codec}) -> {consumer} read_committed")


@pytest.mark.parametrize(("producer", "codec"), CASES, ids=[f"{p}-{c}" for p, c in CASES])
def test_read_uncommitted_sees_the_aborted_records_too(broker, written, producer, codec):
    topic, txns = _get(written, producer, codec)
    read = consume_librdkafka(broker.bootstrap, topic, "read_uncommitted")
    want = sorted(to_line(r) for _, recs in txns for r in recs)
    assert sorted(to_line(r) for r, _ in read) == want


def test_read_committed_after_a_broker_kill(broker, written):
    """SIGKILL, restart on the same data dir: the aborted index and the markers come back."""
    if broker.kind != "odradek":
        pytest.skip("the restart check runs against our broker (Apache Kafka's recovery is not under test)")
    broker.kill()
    broker.restart()
    for producer, codec in CASES:
        topic, txns = _get(written, producer, codec)
        for consumer, read in CONSUMERS.items():
            got = read(broker.bootstrap, topic, "read_committed")
            assert_same_per_partition(committed(txns), got, f"{producer} ({codec}) -> {consumer} after restart")


def test_zombie_is_fenced(broker):
    """A second producer with the same transactional id fences the first: the first's open
    transaction is aborted, its commit fails with a fatal error, none of its records is read."""
    from confluent_kafka import KafkaException, Producer

    topic = "txn-zombie"
    create_topics(broker.bootstrap, {topic: 1})
    conf = {"bootstrap.servers": broker.bootstrap, "transactional.id": "zombie-app", "linger.ms": 0}
    old = Producer(conf)
    old.init_transactions(30)
    old.begin_transaction()
    old.produce(topic, value=b"zombie-1", partition=0)
    old.flush(30)
    new = Producer(conf)
    new.init_transactions(30)
    new.begin_transaction()
    new.produce(topic, value=b"fresh", partition=0)
    new.commit_transaction(30)
    old.produce(topic, value=b"zombie-2", partition=0)
    with pytest.raises(KafkaException) as fenced:
        old.flush(10)
        old.commit_transaction(10)
    assert fenced.value.args[0].fatal(), f"not fatal: {fenced.value}"
    read = consume_librdkafka(broker.bootstrap, topic, "read_committed", partitions=1)
    assert [r.value for r, _ in read] == [b"fresh"]


def test_abandoned_transaction_times_out(broker_factory):
    """A producer that stops mid-transaction: the coordinator aborts it after
    transaction.timeout.ms, readers move past it, and the producer is fenced."""
    from confluent_kafka import KafkaException, Producer

    b = broker_factory("txn-timeout", config={"transaction.abort.timed.out.transaction.cleanup.interval.ms": "200"})
    topic = "txn-timeout"
    create_topics(b.bootstrap, {topic: 1})
    slow = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "slow-app",
                     "transaction.timeout.ms": 2000, "linger.ms": 0})
    slow.init_transactions(30)
    slow.begin_transaction()
    slow.produce(topic, value=b"abandoned", partition=0)
    slow.flush(30)
    other = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "other-app", "linger.ms": 0})
    other.init_transactions(30)
    other.begin_transaction()
    other.produce(topic, value=b"after", partition=0)
    other.commit_transaction(30)
    deadline = time.monotonic() + 60
    while True:
        read = consume_librdkafka(b.bootstrap, topic, "read_committed", partitions=1)
        if read:
            break
        assert time.monotonic() < deadline, "the abandoned transaction never timed out"
        time.sleep(0.5)
    assert [r.value for r, _ in read] == [b"after"]
    with pytest.raises(KafkaException):
        slow.commit_transaction(10)
