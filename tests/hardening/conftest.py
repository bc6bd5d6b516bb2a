"""Hardening suite (issue 16): hostile clients and foreign data against the release broker.

Each test starts its own `odradek-broker` (ODRADEK_BROKER_BIN) through the interop harness, with
limits from a properties file, attacks it, and checks that it survives, that its memory stays
under the configured bound (/proc/PID/status), that another client (confluent-kafka) is served,
and that the hostile client gets an error or a closed connection. Numbers are printed (-s) and
never asserted against time.
"""

from __future__ import annotations

import os
import resource
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))
from harness import OdradekBroker  # noqa: E402

MiB = 1 << 20


def broker_bin() -> Path:
    b = os.environ.get("ODRADEK_BROKER_BIN")
    if not b or not Path(b).is_file():
        pytest.fail("ODRADEK_BROKER_BIN must name the release odradek-broker (scripts/test.d/40-hardening.sh sets it)")
    return Path(b)


@pytest.fixture
def start_broker(tmp_path):
    """start_broker(config=None, name="b") -> a started OdradekBroker; all are killed at the end."""
    started: list[OdradekBroker] = []

    def start(config: dict | None = None, name: str = "b") -> OdradekBroker:
        b = OdradekBroker(broker_bin(), tmp_path / name, config=config).start()
        started.append(b)
        return b

    yield start
    for b in started:
        b.kill()


@pytest.fixture(autouse=True, scope="session")
def many_descriptors():
    """Hostile tests open ~1,000 sockets; the broker inherits the raised soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS), VmSize in bytes, from /proc/PID/status."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "VmSize"):
            out[key] = int(rest.split()[0]) * 1024
    return out


def alive(b: OdradekBroker) -> bool:
    return b.proc is not None and b.proc.poll() is None


def limit_address_space(pid: int, headroom: int) -> int:
    """Caps the broker's address space at its current size plus `headroom` (prlimit --as)."""
    limit = proc_status(pid)["VmSize"] + headroom
    resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))
    return limit


def roundtrip(bootstrap: str, topic: str | None = None) -> None:
    """Another client is served: confluent-kafka produces one record and reads it back."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    topic = topic or "bystander"
    value = uuid.uuid4().bytes
    delivered = []
    p = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 30000,
                  "socket.timeout.ms": 10000, "allow.auto.create.topics": True})
    p.produce(topic, value, partition=0, on_delivery=lambda err, msg: delivered.append((err, msg.offset())))
    assert p.flush(45) == 0, "bystander produce not delivered"
    err, offset = delivered[0]
    assert err is None, f"bystander produce failed: {err}"
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bystander-{uuid.uuid4()}",
                  "enable.auto.commit": False, "socket.timeout.ms": 10000})
    try:
        c.assign([TopicPartition(topic, 0, offset)])
        for _ in range(60):
            m = c.poll(1.0)
            if m is not None and m.error() is None and m.value() == value:
                return
        pytest.fail(f"bystander did not read back its record at offset {offset}")
    finally:
        c.close()


def report(name: str, **numbers) -> None:
    parts = []
    for k, v in numbers.items():
        parts.append(f"{k}={v / MiB:.1f}MiB" if isinstance(v, int) and v > MiB else f"{k}={v}")
    print(f"[hardening] {name}: " + " ".join(parts), flush=True)
