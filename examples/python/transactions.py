"""Exactly-once consume-transform-produce: reads TOPIC as a member of GROUP (read_committed),
writes one upper-cased record per input to OUTPUT, and commits the input offsets in the same
transaction. Killed and started again with the same TXN_ID, it fences its previous self and
resumes from the last committed transaction: no output is seen twice by read_committed readers.

    python examples/python/transactions.py     # BOOTSTRAP, TOPIC, OUTPUT, GROUP, TXN_ID, MAX from env
"""

from __future__ import annotations

import os

import odradek

BOOTSTRAP = os.environ.get("BOOTSTRAP", "127.0.0.1:9092")
TOPIC = os.environ.get("TOPIC", "greetings")
OUTPUT = os.environ.get("OUTPUT", TOPIC + "-upper")
GROUP = os.environ.get("GROUP", "upper-casers")
TXN_ID = os.environ.get("TXN_ID", "upper-caser-1")
MAX = int(os.environ.get("MAX", "0"))  # stop after this many records (0: run until idle)


def main() -> None:
    producer = odradek.Producer({"bootstrap.servers": BOOTSTRAP, "transactional.id": TXN_ID})
    producer.init_transactions(timeout=30)
    consumer = odradek.Consumer({
        "bootstrap.servers": BOOTSTRAP,
        "group.id": GROUP,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
    })
    consumer.subscribe([TOPIC])
    done = 0
    try:
        while not MAX or done < MAX:
            batch = consumer.consume(num_messages=100, timeout=5.0)
            if not batch:
                break  # idle
            producer.begin_transaction()
            next_offsets = {}
            for m in batch:
                value = m.value.upper() if m.value is not None else None
                producer.produce(OUTPUT, value, key=m.key)
                next_offsets[(m.topic, m.partition)] = m.offset + 1
            positions = [odradek.TopicPartition(t, p, o) for (t, p), o in next_offsets.items()]
            try:
                producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata())
                producer.commit_transaction()
            except odradek.AbortableError:
                # A record or the offsets failed: nothing of this batch is visible. Start the
                # batch again from the last committed offsets.
                producer.abort_transaction()
                for (t, p), _ in next_offsets.items():
                    committed = consumer.committed([odradek.TopicPartition(t, p)])[0].offset
                    consumer.seek(odradek.TopicPartition(t, p, max(committed, 0)))
                continue
            done += len(batch)
        print(f"transformed {done} records exactly once")
    finally:
        consumer.close()
        producer.close()


if __name__ == "__main__":
    main()
