"""Records written by odradek are read back byte for byte by confluent-kafka and kafka-python,
and the reverse, on each broker under test."""

from __future__ import annotations

import os
from typing import List, Optional, Tuple

import confluent_kafka
import kafka as kafka_python

import odradek
from conftest import Kafka

Record = Tuple[Optional[bytes], Optional[bytes], List[Tuple[str, Optional[bytes]]]]


def dataset() -> List[Record]:
    rnd = os.urandom(4096)
    return [
        (b"key-0", b"hello", [("trace", b"abc"), ("trace", b"def")]),
        (None, b"no key", []),
        (b"", b"", [("empty", b"")]),
        (bytes(range(256)), rnd, [("bin", bytes([0, 255, 128]))]),
        (b"tombstone", None, []),
        (b"big", rnd * 64, []),
    ]


def produce_odradek(k: Kafka, topic: str, data: List[Record]) -> None:
    p = odradek.Producer(k.config())
    for key, value, headers in data:
        p.produce(topic, value, key, headers=headers, partition=0)
    assert p.flush(30) == 0
    p.close()


def read_odradek(k: Kafka, topic: str, n: int) -> List[Record]:
    c = odradek.Consumer(k.config())
    c.assign([(topic, 0, odradek.OFFSET_BEGINNING)])
    out: List[Record] = []
    while len(out) < n:
        got = c.consume(n - len(out), 30)
        assert got
        out.extend((m.key, m.value, m.headers) for m in got)
    c.close()
    return out


def read_confluent(k: Kafka, topic: str, n: int) -> List[Record]:
    c = confluent_kafka.Consumer({"bootstrap.servers": k.bootstrap, "group.id": f"cf-{topic}",
                                  "enable.auto.commit": False})
    c.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
    out: List[Record] = []
    while len(out) < n:
        m = c.poll(30)
        assert m is not None and m.error() is None, m and m.error()
        out.append((m.key(), m.value(), [(h, v) for h, v in (m.headers() or [])]))
    c.close()
    return out


def read_kafka_python(k: Kafka, topic: str, n: int) -> List[Record]:
    c = kafka_python.KafkaConsumer(bootstrap_servers=k.bootstrap, enable_auto_commit=False,
                                   consumer_timeout_ms=30000)
    tp = kafka_python.TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    out: List[Record] = []
    for m in c:
        out.append((m.key, m.value, list(m.headers)))
        if len(out) == n:
            break
    c.close()
    return out


def produce_confluent(k: Kafka, topic: str, data: List[Record]) -> None:
    p = confluent_kafka.Producer({"bootstrap.servers": k.bootstrap})
    for key, value, headers in data:
        p.produce(topic, value, key, partition=0, headers=headers or None)
    assert p.flush(30) == 0


def produce_kafka_python(k: Kafka, topic: str, data: List[Record]) -> None:
    p = kafka_python.KafkaProducer(bootstrap_servers=k.bootstrap, max_request_size=1 << 21)
    for key, value, headers in data:
        p.send(topic, value=value, key=key, partition=0, headers=headers)
    p.flush(30)
    p.close()


def test_odradek_to_confluent_kafka_and_kafka_python(kafka: Kafka) -> None:
    topic = kafka.topic()
    data = dataset()
    produce_odradek(kafka, topic, data)
    assert read_confluent(kafka, topic, len(data)) == data
    assert read_kafka_python(kafka, topic, len(data)) == data


def test_confluent_kafka_to_odradek(kafka: Kafka) -> None:
    topic = kafka.topic()
    data = dataset()
    produce_confluent(kafka, topic, data)
    assert read_odradek(kafka, topic, len(data)) == data


def test_kafka_python_to_odradek(kafka: Kafka) -> None:
    topic = kafka.topic()
    data = dataset()
    produce_kafka_python(kafka, topic, data)
    assert read_odradek(kafka, topic, len(data)) == data
