"""Finding 8: SIGTERM with many partitions and a client that does not read its responses ends
in a bounded time, flushes every log, and loses no acknowledged record."""

from __future__ import annotations

import re
import signal
import subprocess
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import wire
from conftest import MiB, report
from test_connections import _fill

PARTITIONS = 1000
PER_PARTITION = 5


def test_sigterm_with_many_partitions_and_a_stuck_client(start_broker):
    b = start_broker({"log.flush.interval.ms": 600000, "log.flush.scheduler.interval.ms": 600000})
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic("wide", PARTITIONS, 1)])["wide"].result(120)
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 20, "acks": "all"})
    acked = []
    for part in range(PARTITIONS):
        for i in range(PER_PARTITION):
            p.produce("wide", f"{part}:{i}".encode(), partition=part,
                      on_delivery=lambda err, msg: acked.append(err is None))
        p.poll(0)
    assert p.flush(120) == 0 and all(acked) and len(acked) == PARTITIONS * PER_PARTITION
    del p  # no reconnect noise while the broker restarts
    _fill(b.bootstrap, "big", 8 * MiB)
    # A consumer that never reads: its responses can never be written.
    stuck = wire.connect(b.bootstrap, rcvbuf=4096)
    stuck.sendall(b"".join(wire.fetch("big", 0, 0, 16 * MiB, i) for i in range(8)))
    time.sleep(1)

    started = time.monotonic()
    b.proc.send_signal(signal.SIGTERM)
    try:
        rc = b.proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"SIGTERM did not stop the broker:\n{b.log_tail()}") from None
    flush = re.search(r"elapsed_ms=(\d+)", b.log_tail(20))
    report("SIGTERM", partitions=PARTITIONS, seconds=round(time.monotonic() - started, 2), rc=rc,
           flush_ms=flush.group(1) if flush else "?")
    assert rc == 0, b.log_tail()
    stuck.close()

    b.restart()
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "count", "enable.auto.commit": False})
    total = 0
    for part in range(PARTITIONS):
        low, high = c.get_watermark_offsets(TopicPartition("wide", part), timeout=30)
        total += high - low
    c.close()
    assert total == PARTITIONS * PER_PARTITION, f"{PARTITIONS * PER_PARTITION - total} acknowledged records lost"
