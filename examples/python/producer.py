"""Sends a few keyed records and waits for each delivery report.

    odradek broker &                      # or any Kafka: BOOTSTRAP=host:port
    python examples/python/producer.py
"""

from __future__ import annotations

import os
from typing import Optional

import odradek

BOOTSTRAP = os.environ.get("BOOTSTRAP", "127.0.0.1:9092")
TOPIC = os.environ.get("TOPIC", "greetings")


def on_delivery(err: Optional[odradek.KafkaError], report: Optional[odradek.DeliveryReport]) -> None:
    if err is not None:
        print(f"failed: {err.name}: {err}")


def main() -> None:
    producer = odradek.Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 5})
    futures = [
        producer.produce(TOPIC, f"hello #{i}".encode(), key=f"user-{i % 3}".encode(),
                         headers=[("source", b"example")], on_delivery=on_delivery)
        for i in range(10)
    ]
    for fut in futures:
        report = fut.result(timeout=30)
        print(f"delivered to {report.topic}[{report.partition}] at offset {report.offset}")
    # The throughput path: one call for many values of one topic.
    reports = producer.produce_batch(TOPIC, [b"bulk-%d" % i for i in range(1000)]).result(timeout=30)
    print(f"batch of {len(reports)} delivered")
    producer.close()


if __name__ == "__main__":
    main()
