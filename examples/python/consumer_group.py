"""A consumer-group member: reads a topic, commits what it processed, prints rebalances.
Start it twice to watch the group share the partitions. Ctrl+C stops it (leaving the group).

    python examples/python/consumer_group.py        # BOOTSTRAP, TOPIC, GROUP, MAX from env
"""

from __future__ import annotations

import os
from typing import List

import odradek

BOOTSTRAP = os.environ.get("BOOTSTRAP", "127.0.0.1:9092")
TOPIC = os.environ.get("TOPIC", "greetings")
GROUP = os.environ.get("GROUP", "greeters")
MAX = int(os.environ.get("MAX", "0"))  # stop after this many records (0: run until Ctrl+C)


def on_assign(consumer: odradek.Consumer, partitions: List[odradek.TopicPartition]) -> None:
    print("assigned:", sorted(tp.partition for tp in partitions))


def on_revoke(consumer: odradek.Consumer, partitions: List[odradek.TopicPartition]) -> None:
    print("revoked:", sorted(tp.partition for tp in partitions))


def main() -> None:
    consumer = odradek.Consumer({
        "bootstrap.servers": BOOTSTRAP,
        "group.id": GROUP,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([TOPIC], on_assign=on_assign, on_revoke=on_revoke)
    seen = 0
    try:
        for message in consumer:
            key = message.key.decode() if message.key is not None else None
            value = message.value.decode(errors="replace") if message.value is not None else None
            print(f"{message.topic}[{message.partition}]@{message.offset} {key}: {value}")
            seen += 1
            if seen % 100 == 0:
                consumer.commit(message=message)
            if MAX and seen >= MAX:
                break
        consumer.commit()
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    print(f"read {seen} records")


if __name__ == "__main__":
    main()
