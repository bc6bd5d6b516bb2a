"""Transactions (confluent-kafka's API): commits are read by read_committed consumers, aborts
never; a fenced producer raises FatalError; the exactly-once example runs. Against the embedded
broker and Apache Kafka 4.3.1."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable, List

import pytest

import odradek
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
