"""Transactions (confluent-kafka's API): commits are read by read_committed consumers, aborts
never; a fenced producer raises FatalError; the exactly-once example runs. Against the embedded
broker and Apache Kafka 4.3.1."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable, List

import pytest

import odradek
import odradek.aio
from conftest import Kafka

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def read_committed(kafka: Kafka, topic: str, partitions: int, count: int) -> List[bytes]:
    """Exactly `count` records, read_committed (an aborted record would be among them: the last
    transaction of every test is a committed one)."""
    c = odradek.Consumer(kafka.config(**{"isolation.level": "read_committed", "group.id": "assign-only"}))
    try:
        c.assign([odradek.TopicPartition(topic, p, odradek.OFFSET_BEGINNING) for p in range(partitions)])
        out: List[bytes] = []
        for _ in range(600):
            out += [m.value or b"" for m in c.consume(num_messages=count - len(out), timeout=0.1)]
            if len(out) >= count:
                return out
        raise AssertionError(f"only {len(out)} of {count} records: {out}")
    finally:
        c.close()


def test_commit_and_abort(kafka: Kafka, topic: Callable[..., str]) -> None:
    t = topic(2)
    p = odradek.Producer(kafka.config(**{"transactional.id": f"py-{uuid.uuid4().hex[:8]}"}))
    with pytest.raises(odradek.KafkaError):
        p.produce(t, b"outside").result(timeout=10)
    p.init_transactions(timeout=30)
    want = []
    for n, commit in [(10, True), (5, False), (3, True)]:
        p.begin_transaction()
        for i in range(n):
            v = b"%d-%d" % (n, i)
            p.produce(t, v, partition=i % 2)
            if commit:
                want.append(v)
        if commit:
            p.commit_transaction(timeout=30)
        else:
            p.abort_transaction(timeout=30)
    p.close()
    assert sorted(read_committed(kafka, t, 2, len(want))) == sorted(want)


def test_a_fenced_producer_gets_a_fatal_error(kafka: Kafka, topic: Callable[..., str]) -> None:
    t = topic()
    conf = kafka.config(**{"transactional.id": f"py-zombie-{uuid.uuid4().hex[:8]}"})
    old = odradek.Producer(conf)
    old.init_transactions(timeout=30)
    old.begin_transaction()
    old.produce(t, b"zombie").result(timeout=30)
    new = odradek.Producer(conf)
    new.init_transactions(timeout=30)
    with pytest.raises(odradek.FatalError):
        old.commit_transaction(timeout=30)
    new.begin_transaction()
    new.produce(t, b"fresh")
    new.commit_transaction(timeout=30)
    assert read_committed(kafka, t, 1, 1) == [b"fresh"]
    new.close()
    old.close()


def test_the_exactly_once_example_runs(embedded: Kafka) -> None:
    src, dst = embedded.topic(2), embedded.topic(2)
    p = odradek.Producer(embedded.config())
    for i in range(20):
        p.produce(src, b"hello %d" % i, partition=i % 2)
    p.close()
    env = dict(os.environ, BOOTSTRAP=embedded.bootstrap, TOPIC=src, OUTPUT=dst, GROUP=f"g-{src}",
               TXN_ID=f"tx-{src}", MAX="20")
    out = subprocess.run([sys.executable, str(EXAMPLES / "transactions.py")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "transformed 20 records exactly once" in out.stdout, out.stdout
    got = read_committed(embedded, dst, 2, 20)
    assert sorted(got) == sorted(b"HELLO %d" % i for i in range(20))


def test_asyncio_transactions(embedded: Kafka) -> None:
    """odradek.aio: ``async with producer.transaction()`` commits, or aborts on an exception;
    offsets go with the transaction; an abortable record failure needs an abort."""
    src, dst = embedded.topic(1), embedded.topic(1)
    small = embedded.topic(1, {"max.message.bytes": "1024"})
    group = f"aio-eos-{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        p = odradek.aio.Producer(embedded.config(**{"transactional.id": f"py-aio-{uuid.uuid4().hex[:8]}"}))
        c = odradek.aio.Consumer(embedded.config(**{"group.id": group}))
        async with p.transaction():
            await p.send(dst, b"committed")
            await p.send_offsets_to_transaction({odradek.TopicPartition(src, 0): 7}, c.consumer_group_metadata())
        assert await c.committed(odradek.TopicPartition(src, 0)) == 7
        with pytest.raises(RuntimeError):
            async with p.transaction():
                await p.send(dst, b"aborted")
                await p.send_offsets_to_transaction({odradek.TopicPartition(src, 0): 9}, group)
                raise RuntimeError("abort")
        assert await c.committed(odradek.TopicPartition(src, 0)) == 7
        await p.begin_transaction()
        with pytest.raises(odradek.KafkaError):
            await p.send(small, b"x" * 4096)
        with pytest.raises(odradek.AbortableError):
            await p.commit_transaction()
        await p.abort_transaction()
        async with p.transaction():
            await p.send(dst, b"after the abort")
        await p.close()
        await c.close()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 60))
    finally:
        loop.close()
    assert sorted(read_committed(embedded, dst, 1, 2)) == [b"after the abort", b"committed"]
