"""Share groups (KIP-932) with the Java client's KafkaShareConsumer (kafka-clients 4.3.1): it sets
the group's `share.auto.offset.reset` through the admin API, joins with ShareGroupHeartbeat,
reads with ShareFetch, releases the even-numbered records once and accepts them when they come
back with delivery count 2 (acknowledgements with commitSync). Every record is accepted exactly
once. Runs against our broker and, to validate the harness, Apache Kafka.
"""

from __future__ import annotations

import subprocess

from clients import CACHE, ClientError
from conftest import create_topics

COUNT = 60


def share_consume(bootstrap: str, topic: str, group: str, count: int) -> list[tuple[int, int, str]]:
    libs = CACHE / "kafka-4.3.1" / "libs"
    classes = CACHE / "interop" / "java"
    cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
           "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
           "-cp", f"{classes}:{libs}/*", "Share", "consume", bootstrap, topic, group, str(count)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise ClientError(f"java Share consume failed ({out.returncode}):\n{out.stderr[-3000:]}")
    rows = []
    for line in out.stdout.splitlines():
        offset, delivery, value = line.split("\t")
        rows.append((int(offset), int(delivery), value))
    return rows


def test_java_share_consumer_accepts_and_releases(broker):
    from confluent_kafka import Producer

    topic = "share-java"
    create_topics(broker.bootstrap, {topic: 1})
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(COUNT):
        p.produce(topic, str(i).encode())
    assert p.flush(30) == 0

    rows = share_consume(broker.bootstrap, topic, "share-java-group", COUNT)
    values = sorted(int(v) for _, _, v in rows)
    assert values == list(range(COUNT)), "each record accepted exactly once"
    for offset, delivery, value in rows:
        assert offset == int(value)
        # Even records were released once, so they were accepted on their second delivery.
        assert delivery == (2 if int(value) % 2 == 0 else 1), (offset, delivery)
