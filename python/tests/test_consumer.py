"""Consumer: assign, seek, position, commit and committed, iteration, groups and rebalance
callbacks."""

from __future__ import annotations

import time
from typing import List, Tuple

import odradek
from conftest import Kafka


def fill(kafka: Kafka, topic: str, n: int, partition: int = 0) -> None:
    p = odradek.Producer(kafka.config())
    p.produce_batch(topic, [f"v-{i}".encode() for i in range(n)],
                    [f"k-{i}".encode() for i in range(n)], partition=partition).result(30)
    p.close()


def test_assign_seek_position_commit_committed(kafka: Kafka) -> None:
    topic = kafka.topic()
    fill(kafka, topic, 10)
    group = f"g-{topic}"
    c = odradek.Consumer(kafka.config(**{"group.id": group, "enable.auto.commit": False,
                                         "auto.offset.reset": "earliest"}))
    tp = odradek.TopicPartition(topic, 0)
    assert c.committed([tp], timeout=30)[0].offset == odradek.OFFSET_INVALID
    c.assign([tp])  # OFFSET_INVALID: the committed offset, else auto.offset.reset
    got = c.consume(4, timeout=20)
    assert [m.offset for m in got] == [0, 1, 2, 3]
    assert got[0].key == b"k-0" and got[3].value == b"v-3" and got[0].topic == topic
    assert c.position([tp])[0].offset == 4
    c.commit()
    assert c.committed([tp], timeout=30)[0].offset == 4
    c.seek(odradek.TopicPartition(topic, 0, 8))
    assert [m.offset for m in c.consume(2, timeout=20)] == [8, 9]
    c.seek(tp, 2)
    m = c.poll(20)
    assert m is not None and m.offset == 2
    c.commit(message=m)
    assert c.committed([tp])[0].offset == 3
    c.commit([odradek.TopicPartition(topic, 0, 6)])
    c.close()
    # A new member of the group starts at the committed offset.
    c2 = odradek.Consumer(kafka.config(**{"group.id": group, "enable.auto.commit": False}))
    c2.subscribe([topic])
    got = c2.consume(4, timeout=30)
    assert [m.offset for m in got] == [6, 7, 8, 9]
    assert c2.poll(0.2) is None
    c2.commit()
    assert c2.committed([tp])[0].offset == 10
    c2.close()


def test_pause_stops_a_partition_until_resume(kafka: Kafka) -> None:
    topic = kafka.topic(partitions=2)
    fill(kafka, topic, 3, partition=0)
    fill(kafka, topic, 3, partition=1)
    c = odradek.Consumer(kafka.config())
    c.assign([odradek.TopicPartition(topic, p, odradek.OFFSET_BEGINNING) for p in (0, 1)])
    c.pause([(topic, 1)])
    got = c.consume(6, timeout=2)
    assert sorted((m.partition, m.offset) for m in got) == [(0, 0), (0, 1), (0, 2)]
    c.resume([odradek.TopicPartition(topic, 1)])
    got = c.consume(3, timeout=20)
    assert sorted((m.partition, m.offset) for m in got) == [(1, 0), (1, 1), (1, 2)]
    c.close()


def test_iteration_and_consume_batch(kafka: Kafka) -> None:
    topic = kafka.topic()
    fill(kafka, topic, 300)
    c = odradek.Consumer(kafka.config())
    c.assign([(topic, 0, odradek.OFFSET_BEGINNING)])
    seen: List[int] = []
    for m in c:
        seen.append(m.offset)
        if len(seen) == 100:
            break
    batch: List[odradek.Message] = []
    while len(batch) < 200:
        got = c.consume_batch(1000, timeout=20)
        assert got
        batch.extend(got)
    assert seen + [m.offset for m in batch] == list(range(300))
    assert c.consume_batch(10, timeout=0.1) == []
    lo, hi = c.get_watermark_offsets((topic, 0), timeout=30)
    assert (lo, hi) == (0, 300)
    c.close()


def test_group_members_share_partitions_with_callbacks(kafka: Kafka) -> None:
    topic = kafka.topic(4)
    p = odradek.Producer(kafka.config())
    for i in range(40):
        p.produce(topic, f"v-{i}".encode(), key=f"k-{i}".encode())
    p.flush(30)
    p.close()
    group = f"g-{topic}"
    cfg = kafka.config(**{"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False,
                          "heartbeat.interval.ms": 500, "session.timeout.ms": 10000})
    events: List[Tuple[str, str, List[int]]] = []

    def cb(name: str, kind: str):  # type: ignore[no-untyped-def]
        def f(consumer: odradek.Consumer, parts: List[odradek.TopicPartition]) -> None:
            assert isinstance(consumer, odradek.Consumer)
            events.append((name, kind, sorted(tp.partition for tp in parts)))
        return f

    a = odradek.Consumer(cfg)
    a.subscribe([topic], on_assign=cb("a", "assign"), on_revoke=cb("a", "revoke"))
    b = odradek.Consumer(cfg)
    received = {"a": [], "b": []}  # type: ignore[var-annotated]
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        received["a"].extend(a.consume_batch(100, 0.1))
        if ("a", "assign", [0, 1, 2, 3]) in events and not b.assignment():
            b.subscribe([topic], on_assign=cb("b", "assign"), on_revoke=cb("b", "revoke"))
        if b.assignment() or ("a", "assign", [0, 1, 2, 3]) in events:
            received["b"].extend(b.consume_batch(100, 0.1))
        sa = {tp.partition for tp in a.assignment()}
        sb = {tp.partition for tp in b.assignment()}
        # b's on_assign runs inside b's next poll (the membership waits for it there).
        b_assigned = any(e[0] == "b" and e[1] == "assign" for e in events)
        if sa and sb and not (sa & sb) and (sa | sb) == {0, 1, 2, 3} and b_assigned:
            break
    else:
        raise AssertionError(f"the group did not settle: {events}")
    assert ("a", "assign", [0, 1, 2, 3]) in events
    assert any(e[0] == "b" and e[1] == "assign" for e in events)
    b.close()
    a.close()


def test_closing_an_auto_commit_consumer_commits_only_what_was_handed_out(kafka: Kafka) -> None:
    # Iterating buffers a whole fetched batch on the Python side; leaving the loop early and
    # closing must commit after the last record the application saw, not after the buffer.
    topic = kafka.topic()
    fill(kafka, topic, 100)
    config = kafka.config(**{"group.id": f"g-{topic}", "auto.offset.reset": "earliest",
                             "enable.auto.commit": True})
    a = odradek.Consumer(config)
    a.subscribe([topic])
    seen: List[int] = []
    for m in a:
        seen.append(m.offset)
        if len(seen) == 10:
            break
    a.close()
    b = odradek.Consumer(config)
    assert b.committed([(topic, 0)], timeout=30)[0].offset == seen[-1] + 1
    b.subscribe([topic])
    m = b.poll(30)
    assert m is not None and m.offset == seen[-1] + 1
    b.close()
