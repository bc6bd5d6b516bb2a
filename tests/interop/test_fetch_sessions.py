"""The Java consumer uses fetch sessions (KIP-227) by default: it reads a 64-partition topic
through one session per broker, pausing each partition once it is read to the end (which the
session sees as forgotten partitions), and gets every record exactly once.

On our broker the broker's debug log shows the session was created and no incremental fetch was
refused; with --broker apache (the harness check) only the records are compared."""

from __future__ import annotations

import pytest

from clients import java_client
from conftest import create_topics
from harness import assert_same_per_partition, dataset

PARTITIONS = 64
RECORDS = 3000


def test_java_consumer_reads_many_partitions_through_a_fetch_session(broker_factory, request, monkeypatch):
    monkeypatch.setenv("RUST_LOG", "info,odradek_broker::fetch_session=debug")
    broker = broker_factory("fetch-sessions")
    topic = "fetch-sessions"
    create_topics(broker.bootstrap, {topic: PARTITIONS})
    java = java_client()
    sent = dataset(topic, PARTITIONS, RECORDS, seed=227)
    assert len({r.partition for r in sent}) == PARTITIONS, "every partition has records"
    java.produce(broker.bootstrap, sent)
    read = java.consume(broker.bootstrap, {topic: PARTITIONS})
    assert_same_per_partition(sent, read, "java -> java through fetch sessions")
    if request.config.getoption("--broker") != "odradek":
        return
    log = (broker.workdir / "broker.log").read_text(errors="replace")
    assert "fetch session created" in log, "the Java consumer opened no fetch session:\n" + broker.log_tail()
    assert "incremental fetch refused" not in log, broker.log_tail(80)
