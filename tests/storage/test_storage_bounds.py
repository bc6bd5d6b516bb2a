"""Process-level bounds of the broker's storage (issue 16, findings 3 and 7), against the release
`odradek-broker` run under `prlimit`, with clients from the venv (confluent-kafka):

- 1,010 partitions work under a 1,024 descriptor limit, and topics can still be created after
  them: segment files are opened on demand, not pinned one per partition.
- Compacting a log with far more keys than `log.cleaner.dedupe.buffer.size` holds finishes (in
  several passes) with the broker's peak RSS bounded, and leaves the latest value of every key.

No assertion is on time; waits are bounded by a deadline and say what they waited for.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))

from harness import CACHE, OdradekBroker  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402

BROKER_BIN = Path(os.environ.get("ODRADEK_BROKER_BIN") or
                  Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target")) / "release" / "odradek-broker")


def limited(tmp: Path, *limits: str) -> Path:
    """A launcher that runs the broker under `prlimit LIMITS` (same pid: both exec)."""
    wrapper = tmp / "limited-broker.sh"
    wrapper.write_text(f"#!/bin/sh\nexec prlimit {' '.join(limits)} -- {BROKER_BIN} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


def status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (KiB) and the open descriptor count of a process."""
    text = Path(f"/proc/{pid}/status").read_text()
    out = {k: int(v) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M)}
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


@pytest.fixture
def start_broker(tmp_path):
    if not BROKER_BIN.exists():
        pytest.fail(f"no odradek-broker at {BROKER_BIN}; cargo build --release -p odradek-broker", pytrace=False)
    started = []

    def start(limits: list[str], config: dict | None = None) -> OdradekBroker:
        b = OdradekBroker(limited(tmp_path, *limits), tmp_path / f"b{len(started)}", config=config)
        started.append(b)
        return b.start()

    yield start
    for b in started:
        died = b.proc.poll() is not None and not b.killed_on_purpose
        b.stop()
        assert not died, f"the broker exited by itself:\n{b.log_tail()}"
        assert b.proc.returncode == 0, f"unclean exit {b.proc.returncode}:\n{b.log_tail()}"


def create(admin: AdminClient, name: str, partitions: int, config: dict | None = None) -> None:
    fs = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
                             operation_timeout=60)
    fs[name].result(timeout=120)


def produce_all(bootstrap: str, records, **conf) -> None:
    """Produces (topic, partition, key, value) tuples; every one must be delivered."""
    failed = []
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all", **conf})

    def report(err, msg):
        if err is not None:
            failed.append((msg.topic(), msg.partition(), err.str()))

    n = 0
    for topic, partition, key, value in records:
        while True:
            try:
                p.produce(topic, value=value, key=key, partition=partition, on_delivery=report)
                break
            except BufferError:
                p.poll(0.05)
        n += 1
        if n % 10000 == 0:
            p.poll(0)
    left = p.flush(120)
    assert left == 0, f"{left} records still undelivered"
    assert not failed, f"{len(failed)} deliveries failed, e.g. {failed[:3]}"


def test_a_thousand_partitions_under_a_1024_descriptor_limit(start_broker):
    b = start_broker(["--nofile=1024:1024"])
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    create(admin, "wide", 1010)
    produce_all(b.bootstrap, (("wide", p, None, b"x" * 10) for p in range(1010)), **{"batch.num.messages": 1})
    st = status(b.proc.pid)
    print(f"after 1,010 partitions: {st['fds']} descriptors open, RSS {st['VmRSS'] // 1024} MiB")
    assert st["fds"] < 1024 - 64, f"{st['fds']} descriptors open: partitions pin files"
    # A topic created after them works too (with one file per partition it failed here).
    create(admin, "after", 10)
    produce_all(b.bootstrap, (("after", p, None, b"y") for p in range(10)))
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "fd-check", "enable.auto.commit": False})
    c.assign([TopicPartition("wide", p, 0) for p in (0, 505, 1009)] + [TopicPartition("after", 9, 0)])
    seen = set()
    deadline = time.monotonic() + 60
    while len(seen) < 4 and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            seen.add((m.topic(), m.partition()))
    c.close()
    assert seen == {("wide", 0), ("wide", 505), ("wide", 1009), ("after", 9)}, seen


KEYS = 200_000
FILLERS = 20_000  # keys written once after the rest, so the last updates leave the active segment
MAP_BYTES = 1 << 20  # about 29,000 keys a pass
RSS_BOUND_MIB = 48


def test_compaction_of_more_keys_than_the_map_holds_has_bounded_memory(start_broker):
    b = start_broker(["--nofile=4096:4096"], config={
        "log.cleaner.dedupe.buffer.size": MAP_BYTES,
        "log.cleaner.backoff.ms": 500,
    })
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    create(admin, "many-keys", 1, {"cleanup.policy": "compact", "segment.bytes": str(1 << 20),
                                   "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "0"})
    value = b"v" * 100
    rounds = [(("many-keys", 0, b"key-%07d" % k, b"%d:" % r + value) for k in range(KEYS)) for r in range(2)]
    rounds.append(("many-keys", 0, b"filler-%07d" % k, value) for k in range(FILLERS))
    for r in rounds:
        produce_all(b.bootstrap, r, **{"batch.size": 1 << 20, "linger.ms": 50})
    # Wait until compaction (running since the first segment was sealed) leaves one record per
    # key; compaction logs its passes.
    deadline = time.monotonic() + 240
    while True:
        latest, records = read_all(b.bootstrap, "many-keys")
        if records <= KEYS + FILLERS or time.monotonic() > deadline:
            break
        time.sleep(2)
    st = status(b.proc.pid)
    log = (b.workdir / "broker.log").read_text(errors="replace")
    passes = [int(p) for p in re.findall(r"compacted.*passes=(\d+)", log)]
    print(f"{records} records left of {2 * KEYS + FILLERS}; passes per run {passes}; "
          f"peak RSS {st['VmHWM'] // 1024} MiB, RSS now {st['VmRSS'] // 1024} MiB")
    assert records == KEYS + FILLERS, \
        f"compaction did not finish: {records} records for {KEYS + FILLERS} keys\n{b.log_tail()}"
    assert len(latest) == KEYS + FILLERS, f"{KEYS + FILLERS - len(latest)} keys lost"
    assert all(v.startswith(b"1:") for k, v in latest.items() if k.startswith(b"key-")), \
        "a key lost its latest value"
    assert st["VmHWM"] // 1024 <= RSS_BOUND_MIB, \
        f"peak RSS {st['VmHWM'] // 1024} MiB over the bound of {RSS_BOUND_MIB} MiB"
    assert passes and max(passes) > 1, f"the map should have filled and taken several passes: {passes}"


def read_all(bootstrap: str, topic: str) -> tuple[dict[bytes, bytes], int]:
    """The latest value of every key in partition 0, and how many records were read."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compaction-check", "enable.auto.commit": False,
                  "fetch.max.bytes": 8 << 20})
    _, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.assign([TopicPartition(topic, 0, 0)])
    latest: dict[bytes, bytes] = {}
    records = 0
    last_offset = -1
    deadline = time.monotonic() + 120
    while last_offset < high - 1 and time.monotonic() < deadline:
        for m in c.consume(10000, 1.0):
            if m.error() is None:
                latest[m.key()] = m.value()
                records += 1
                last_offset = m.offset()
    c.close()
    assert last_offset == high - 1, f"read up to {last_offset} of {high}"
    return latest, records
