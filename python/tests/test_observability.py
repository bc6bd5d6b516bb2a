"""``error_cb`` (failures no call returns) and the statistics of ``metrics()``."""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
import time
from typing import List

import odradek
import odradek.aio
from conftest import Kafka


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _names_until(errors: "queue.Queue[odradek.KafkaError]", wanted: str) -> List[odradek.KafkaError]:
    seen: List[odradek.KafkaError] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and wanted not in [e.name for e in seen]:
        try:
            seen.append(errors.get(timeout=0.2))
        except queue.Empty:
            pass
    return seen


def test_an_unreachable_cluster_reaches_error_cb_without_any_call_failing() -> None:
    address = f"127.0.0.1:{_closed_port()}"
    errors: "queue.Queue[odradek.KafkaError]" = queue.Queue()
    p = odradek.Producer({"bootstrap.servers": address, "message.timeout.ms": "5000",
                          "error_cb": errors.put})
    p.produce("observed", b"v")
    seen = _names_until(errors, "_ALL_BROKERS_DOWN")
    names = [e.name for e in seen]
    assert "_ALL_BROKERS_DOWN" in names, names
    transport = [e for e in seen if e.name == "_TRANSPORT"]
    assert transport and address in str(transport[0]) and transport[0].retriable, names
    assert all(isinstance(e, odradek.KafkaError) for e in seen)
    stats = p.metrics()
    (row,) = [b for b in stats["brokers"] if b["address"] == address]
    assert row["connect_failures"] >= 1 and row["state"] != "up", row
    p.close(timeout=0)


def test_error_cb_must_be_callable() -> None:
    try:
        odradek.Consumer({"bootstrap.servers": "127.0.0.1:9", "error_cb": "log it"})
    except TypeError as e:
        assert "error_cb" in str(e)
    else:
        raise AssertionError("a non-callable error_cb was accepted")


def test_statistics_count_records_and_show_lag(kafka: Kafka) -> None:
    topic = kafka.topic()
    p = odradek.Producer(kafka.config())
    p.produce_batch(topic, [f"value-{i:02}".encode() for i in range(20)], partition=0).result(30)
    sent = p.metrics()
    assert sent["records_delivered"] == 20
    assert any(b["state"] == "up" and b["requests"] >= 2 for b in sent["brokers"]), sent
    p.close()

    c = odradek.Consumer(kafka.config())
    c.assign([odradek.TopicPartition(topic, 0, odradek.OFFSET_BEGINNING)])
    got = []
    deadline = time.monotonic() + 20
    while len(got) < 15 and time.monotonic() < deadline:
        got += c.consume(15 - len(got), timeout=1)
    read = c.metrics()
    c.close()
    assert read["records_consumed"] == 15
    assert read["bytes_consumed"] == 15 * len("value-00")
    assert read["fetch_requests"] >= 1
    (part,) = read["partitions"]
    assert (part["topic"], part["partition"], part["position"], part["high_watermark"],
            part["lag"]) == (topic, 0, 15, 20, 5)


def test_asyncio_error_cb_runs_on_the_event_loop() -> None:
    async def main() -> List[str]:
        loop_thread = threading.get_ident()
        done = asyncio.get_running_loop().create_future()
        names: List[str] = []

        def on_error(e: odradek.KafkaError) -> None:
            assert threading.get_ident() == loop_thread
            names.append(e.name)
            if e.name == "_ALL_BROKERS_DOWN" and not done.done():
                done.set_result(None)

        p = odradek.aio.Producer({"bootstrap.servers": f"127.0.0.1:{_closed_port()}",
                                  "message.timeout.ms": "2000", "error_cb": on_error})
        p.send_nowait("observed", b"v")
        await asyncio.wait_for(done, 15)
        await p.close()
        return names

    assert "_ALL_BROKERS_DOWN" in asyncio.run(main())
