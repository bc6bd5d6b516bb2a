"""Producer: delivery futures and callbacks, batches, value types, headers, errors."""

from __future__ import annotations

import array
import concurrent.futures
import threading
from typing import Any, List, Optional

import pytest

import odradek
from conftest import Kafka


def read_all(kafka: Kafka, topic: str, n: int, partitions: int = 1) -> List[odradek.Message]:
    c = odradek.Consumer(kafka.config())
    c.assign([odradek.TopicPartition(topic, p, odradek.OFFSET_BEGINNING) for p in range(partitions)])
    out: List[odradek.Message] = []
    while len(out) < n:
        got = c.consume(n - len(out), timeout=20)
        assert got, f"only {len(out)} of {n} records arrived"
        out.extend(got)
    c.close()
    return sorted(out, key=lambda m: (m.partition, m.offset))


def test_produce_returns_a_concurrent_future_resolved_once(kafka: Kafka) -> None:
    topic = kafka.topic(3)
    p = odradek.Producer(kafka.config(**{"linger.ms": 5}))
    calls: List[Any] = []
    threads = []

    def on_delivery(err: Optional[odradek.KafkaError], report: Optional[odradek.DeliveryReport]) -> None:
        calls.append((err, report))
        threads.append(threading.current_thread())

    fut = p.produce(topic, b"v", key=b"user-1", on_delivery=on_delivery)
    assert isinstance(fut, concurrent.futures.Future)
    assert isinstance(fut, odradek.DeliveryFuture)
    report = fut.result(timeout=30)
    assert report.topic == topic and 0 <= report.partition < 3 and report.offset == 0
    assert report.timestamp > 0
    assert p.flush(30) == 0
    assert calls == [(None, report)]
    assert threads[0] is not threading.main_thread()  # resolved in the background, no poll()
    # The same key goes to the same partition (murmur2, as the Java client).
    again = p.produce(topic, b"w", key=b"user-1").result(30)
    assert (again.partition, again.offset) == (report.partition, 1)
    p.close()


def test_buffer_protocol_values_and_headers_round_trip(kafka: Kafka) -> None:
    topic = kafka.topic()
    values: List[Any] = [
        b"bytes",
        bytearray(b"bytearray"),
        memoryview(b"..memoryview..")[2:-2],
        array.array("B", [0, 1, 2, 255]),
        "unicode ✓",
        b"",
        None,
    ]
    p = odradek.Producer(kafka.config())
    for v in values:
        p.produce(topic, v, key=b"k", headers=[("a", b"1"), ("a", None), ("b", bytearray(b"\x00"))])
    p.produce(topic, b"dict-headers", headers={"x": b"y"})
    assert p.flush(30) == 0
    got = read_all(kafka, topic, len(values) + 1)
    expected = [b"bytes", b"bytearray", b"memoryview", bytes([0, 1, 2, 255]), "unicode ✓".encode(), b"", None]
    assert [m.value for m in got[:-1]] == expected
    assert all(m.key == b"k" for m in got[:-1])
    assert got[0].headers == [("a", b"1"), ("a", None), ("b", b"\x00")]
    assert got[-1].headers == [("x", b"y")]
    p.close()


def test_non_buffer_value_is_a_type_error(embedded: Kafka) -> None:
    p = odradek.Producer(embedded.config())
    with pytest.raises(TypeError):
        p.produce("x", 12345)  # type: ignore[arg-type]
    p.close()


def test_produce_batch_reports_in_order(kafka: Kafka) -> None:
    topic = kafka.topic()
    p = odradek.Producer(kafka.config())
    values = [f"v-{i}".encode() for i in range(1000)]
    keys = [f"k-{i}".encode() for i in range(1000)]
    reports = p.produce_batch(topic, values, keys, partition=0).result(30)
    assert [r.offset for r in reports] == list(range(1000))
    got = read_all(kafka, topic, 1000)
    assert [(m.key, m.value) for m in got] == list(zip(keys, values))
    p.close()


def test_errors_carry_code_name_and_class(kafka: Kafka) -> None:
    topic = kafka.topic(config={"max.message.bytes": "1024"})
    p = odradek.Producer(kafka.config(**{"linger.ms": 0}))
    fut = p.produce(topic, b"x" * 4096)
    err = fut.exception(30)
    assert isinstance(err, odradek.PermanentError)
    assert (err.code, err.name, err.retriable, err.fatal) == (10, "MESSAGE_TOO_LARGE", False, False)
    with pytest.raises(odradek.KafkaError) as info:
        fut.result()
    assert info.value is err
    p.close()
    with pytest.raises(odradek.FatalError) as closed:
        p.produce(topic, b"late")
    assert closed.value.name == "_DESTROY"


def test_config_errors() -> None:
    with pytest.raises(odradek.ConfigError) as info:
        odradek.Producer({"bootstrap.servers": "127.0.0.1:1", "linger.msec": 5})
    assert info.value.name == "_INVALID_CONFIG" and not info.value.retriable
    assert isinstance(info.value, ValueError)
    with pytest.raises(odradek.ConfigError):
        odradek.Consumer({"bootstrap.servers": "127.0.0.1:1", "auto.offset.reset": "sometimes"})


def test_flush_honours_its_timeout() -> None:
    # Nothing listens on port 1: the record cannot be delivered, flush gives up on time.
    p = odradek.Producer({"bootstrap.servers": "127.0.0.1:1", "delivery.timeout.ms": 60000})
    fut = p.produce("t", b"v")
    import time

    t0 = time.monotonic()
    left = p.flush(0.5)
    took = time.monotonic() - t0
    assert left >= 1 and 0.45 <= took < 3, (left, took)
    assert not fut.done()
