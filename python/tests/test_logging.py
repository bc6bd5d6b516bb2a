"""The log bridge: the client's log records reach ``logging.getLogger("odradek")``."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any, Callable, List

import odradek
from conftest import Kafka


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _wait_for(caplog: Any, found: Callable[[logging.LogRecord], bool],
              poll: Callable[[], Any]) -> List[logging.LogRecord]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        hits = [r for r in caplog.records if r.name == "odradek" and found(r)]
        if hits:
            return hits
        poll()
    return []


def test_an_unreachable_broker_is_a_warning_by_default(caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="odradek")
    address = f"127.0.0.1:{_closed_port()}"
    p = odradek.Producer({"bootstrap.servers": address, "message.timeout.ms": "3000"})
    p.produce("logged", b"v")
    hits = _wait_for(caplog, lambda r: "cannot connect" in r.getMessage(),
                     lambda: time.sleep(0.1))
    assert hits, f"no 'cannot connect' record; got {[r.getMessage() for r in caplog.records]}"
    record = hits[0]
    assert record.levelno == logging.WARNING
    assert address in record.getMessage()
    assert record.odradek_target.startswith("odradek")
    p.flush(5)


def test_debug_records_flow_only_after_set_log_level(caplog: Any, embedded: Kafka) -> None:
    caplog.set_level(logging.DEBUG, logger="odradek")
    topic = embedded.topic()

    def produce_one() -> None:
        p = odradek.Producer(embedded.config())
        p.produce(topic, b"v")
        assert p.flush(10) == 0

    produce_one()
    assert not [r for r in caplog.records if r.name == "odradek" and r.levelno < logging.WARNING]
    odradek.set_log_level(logging.DEBUG)
    try:
        hits = _wait_for(caplog, lambda r: r.levelno == logging.DEBUG, produce_one)
        assert hits, "no DEBUG record after set_log_level(logging.DEBUG)"
    finally:
        odradek.set_log_level()  # back to the logger's effective level


def test_a_level_above_error_stops_forwarding(caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="odradek")
    odradek.set_log_level(logging.CRITICAL)
    try:
        address = f"127.0.0.1:{_closed_port()}"
        p = odradek.Producer({"bootstrap.servers": address, "message.timeout.ms": "1000"})
        p.produce("silent", b"v")
        p.flush(3)
        assert not [r for r in caplog.records if address in r.getMessage()]
    finally:
        odradek.set_log_level(logging.WARNING)
