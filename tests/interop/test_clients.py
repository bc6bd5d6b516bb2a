"""Every client writes a data set (3 partitions, binary keys and values, null and empty ones,
headers) with its own codec; every client reads every data set back. Each pair is one test: the
diagonal is a client's own round trip, the rest is cross-client interop.

A pair exists only when the consumer can decode the producer's codec: kafkajs 2.2.4 has gzip but
no snappy, lz4 or zstd, so it does not read the confluent (zstd), Java (lz4) and franz-go (snappy)
data sets; those codecs are read back by every other client and by kcat (test_kcat.py)."""

from __future__ import annotations

import pytest

from clients import all_clients, kafkajs
from conftest import create_topics
from harness import CODEC_IDS, assert_same_per_partition, batch_codecs, dataset

PARTITIONS = 3
RECORDS = 3000
CLIENTS = {c.name: c for c in all_clients()}


class Runs:
    """Produces each client's data set once and consumes all of them once per client, lazily."""

    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap
        self.sent: dict[str, list | Exception] = {}
        self.read: dict[str, list | Exception] = {}

    def topic(self, producer: str) -> str:
        return f"from-{producer}"

    def produced(self, producer: str):
        if producer not in self.sent:
            records = dataset(self.topic(producer), PARTITIONS, RECORDS, seed=hash(producer) & 0xFFFF)
            try:
                CLIENTS[producer].produce(self.bootstrap, records)
                self.sent[producer] = records
            except Exception as e:  # noqa: BLE001 — re-raised by every test that needs it
                self.sent[producer] = e
        return self.sent[producer]

    def consumed(self, consumer: str):
        if consumer not in self.read:
            for p in CLIENTS:
                self.produced(p)
            topics = {self.topic(p): PARTITIONS for p, s in self.sent.items()
                      if not isinstance(s, Exception) and CLIENTS[p].codec in CLIENTS[consumer].decodes}
            try:
                self.read[consumer] = CLIENTS[consumer].consume(self.bootstrap, topics)
            except Exception as e:  # noqa: BLE001
                self.read[consumer] = e
        return self.read[consumer]


@pytest.fixture(scope="module")
def runs(broker):
    create_topics(broker.bootstrap, {f"from-{name}": PARTITIONS for name in CLIENTS})
    return Runs(broker.bootstrap)


PAIRS = [(p, c) for c in CLIENTS for p in CLIENTS if CLIENTS[p].codec in CLIENTS[c].decodes]


@pytest.mark.parametrize(("producer", "consumer"), PAIRS, ids=[f"{p}-to-{c}" for p, c in PAIRS])
def test_read_back(runs, producer, consumer):
    sent = runs.produced(producer)
    if isinstance(sent, Exception):
        raise AssertionError(f"{producer} could not produce: {sent}")
    read = runs.consumed(consumer)
    if isinstance(read, Exception):
        raise AssertionError(f"{consumer} could not consume: {read}")
    topic = runs.topic(producer)
    mine = [(r, o) for r, o in read if r.topic == topic]
    assert_same_per_partition(sent, mine, f"{producer} -> {consumer} ({CLIENTS[producer].codec})")


@pytest.mark.parametrize("producer", list(CLIENTS))
def test_batches_keep_the_producers_codec(runs, producer):
    sent = runs.produced(producer)
    if isinstance(sent, Exception):
        raise AssertionError(f"{producer} could not produce: {sent}")
    codec = CLIENTS[producer].codec
    for p in range(PARTITIONS):
        codecs = set(batch_codecs(runs.bootstrap, runs.topic(producer), p))
        assert codecs == {CODEC_IDS[codec]}, f"{producer} ({codec}): partition {p} batches carry codecs {codecs}"


KAFKAJS = kafkajs()
GROUP_READABLE = [p for p in CLIENTS if CLIENTS[p].codec in KAFKAJS.decodes]


@pytest.fixture(scope="module")
def kafkajs_group_read(runs):
    """kafkajs's ordinary consumer (group membership, subscribe, commits) reads what it can decode."""
    for p in GROUP_READABLE:
        runs.produced(p)
    topics = {runs.topic(p): PARTITIONS for p in GROUP_READABLE if not isinstance(runs.sent[p], Exception)}
    return KAFKAJS.consume_group(runs.bootstrap, "interop-kafkajs", topics)


@pytest.mark.parametrize("producer", GROUP_READABLE)
def test_kafkajs_group_consumer_reads_back(runs, kafkajs_group_read, producer):
    sent = runs.produced(producer)
    if isinstance(sent, Exception):
        raise AssertionError(f"{producer} could not produce: {sent}")
    topic = runs.topic(producer)
    mine = [(r, o) for r, o in kafkajs_group_read if r.topic == topic]
    assert_same_per_partition(sent, mine, f"{producer} -> kafkajs group consumer")
