"""Crash durability: an idempotent acks=all producer (confluent-kafka) keeps writing while the broker,
started with `--fsync always`, is killed with SIGKILL several times and restarted on the same data
directory and port. After each restart every acknowledged record is in the log exactly once, at
the offset it was acknowledged with, and in the order it was sent."""

from __future__ import annotations

import time

from clients import ConfluentKafka
from conftest import create_topics
from harness import Record

TOPIC = "crash"
PARTITIONS = 3
KILLS = 8
ACKS_PER_ROUND = 4000
IN_FLIGHT = 1000  # records produced but not yet acknowledged when the broker is killed
PROGRESS_GUARD_S = 120  # a hang guard: fail if the producer stops making progress, never a timing assertion


def value_of(seq: int) -> bytes:
    return b"seq-%08d-" % seq + b"x" * (seq % 200)


class Writer:
    """Keeps producing numbered records and remembers which ones were acknowledged, and where."""

    def __init__(self, bootstrap: str):
        from confluent_kafka import Producer

        self.producer = Producer({
            "bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
            "linger.ms": 2, "message.timeout.ms": 300000, "request.timeout.ms": 10000,
            "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200, "retry.backoff.ms": 20,
            "retry.backoff.max.ms": 200, "topic.metadata.refresh.interval.ms": 1000,
        })
        self.sent = 0
        self.acked: dict[int, tuple[int, int]] = {}  # seq -> (partition, offset)
        self.failed: dict[int, str] = {}
        self.fatal = None

    def _delivered(self, err, msg):
        seq = int(msg.value()[4:12])
        if err is None:
            self.acked[seq] = (msg.partition(), msg.offset())
        else:
            self.failed[seq] = str(err)
            if err.fatal():
                self.fatal = err

    def send_some(self, n: int) -> None:
        for _ in range(n):
            seq = self.sent
            try:
                self.producer.produce(TOPIC, key=b"k%d" % seq, value=value_of(seq), partition=seq % PARTITIONS,
                                      on_delivery=self._delivered)
            except BufferError:
                self.producer.poll(0.05)
                continue
            self.sent += 1
        self.producer.poll(0)

    def run_until_acked(self, target: int) -> None:
        """Produce until `target` records are acknowledged, keeping IN_FLIGHT unacknowledged."""
        last_progress, last_count = time.monotonic(), len(self.acked)
        while len(self.acked) < target:
            assert self.fatal is None, f"producer fatal error: {self.fatal}"
            outstanding = self.sent - len(self.acked) - len(self.failed)
            if outstanding < IN_FLIGHT:
                self.send_some(IN_FLIGHT - outstanding)
            self.producer.poll(0.002)
            if len(self.acked) != last_count:
                last_progress, last_count = time.monotonic(), len(self.acked)
            assert time.monotonic() - last_progress < PROGRESS_GUARD_S, (
                f"no acknowledgement for {PROGRESS_GUARD_S} s ({len(self.acked)} acked, {len(self.failed)} failed: "
                f"{list(self.failed.values())[:3]})")

    def drain(self) -> None:
        left = self.producer.flush(PROGRESS_GUARD_S)
        assert left == 0, f"{left} records still unacknowledged after the broker came back"
        assert self.fatal is None, f"producer fatal error: {self.fatal}"


def check_log(bootstrap: str, acked: dict[int, tuple[int, int]], round_no: int) -> int:
    """Every acknowledged record is present exactly once at its acknowledged offset, in send order."""
    read = ConfluentKafka().consume(bootstrap, {TOPIC: PARTITIONS})
    seen: dict[int, tuple[int, int]] = {}
    last: dict[int, int] = {}
    for rec, offset in read:
        assert isinstance(rec, Record) and rec.value is not None
        seq = int(rec.value[4:12])
        assert rec.value == value_of(seq), f"round {round_no}: record at {rec.partition}@{offset} is corrupt"
        assert seq not in seen, f"round {round_no}: seq {seq} twice: at {seen[seq]} and {(rec.partition, offset)}"
        seen[seq] = (rec.partition, offset)
        assert seq > last.get(rec.partition, -1), (
            f"round {round_no}: partition {rec.partition} out of order: seq {seq} after {last[rec.partition]}")
        last[rec.partition] = seq
    lost = sorted(s for s in acked if s not in seen)
    assert not lost, f"round {round_no}: {len(lost)} acknowledged records missing after the crash, first {lost[:10]}"
    moved = [(s, acked[s], seen[s]) for s in acked if seen[s] != acked[s]]
    assert not moved, f"round {round_no}: records not at their acknowledged (partition, offset): {moved[:5]}"
    return len(seen)


def test_sigkill_while_producing(broker_factory):
    b = broker_factory("crash", fsync="always")
    create_topics(b.bootstrap, {TOPIC: PARTITIONS})
    w = Writer(b.bootstrap)
    for round_no in range(1, KILLS + 1):
        w.run_until_acked(round_no * ACKS_PER_ROUND)
        w.send_some(IN_FLIGHT)  # so the kill lands with requests on the wire, not between them
        w.producer.poll(0.005)
        unacked = set(range(w.sent)) - set(w.acked) - set(w.failed)
        b.kill()
        w.send_some(200)  # queued while the broker is down
        b.restart()
        acked_before = dict(w.acked)
        present = check_log(b.bootstrap, acked_before, round_no)
        stored_unacked = present - len(acked_before)
        print(f"round {round_no}: killed with {len(unacked)} unacknowledged; {len(acked_before)} acked, "
              f"{present} in the log (so {stored_unacked} stored without an ack yet)")
    w.drain()
    assert not w.failed, f"{len(w.failed)} records failed: {list(w.failed.items())[:5]}"
    assert len(w.acked) == w.sent
    check_log(b.bootstrap, dict(w.acked), KILLS + 1)
