"""Exactly-once consume-transform-produce, the Python twin of
examples/rust/src/bin/eos_processor.rs: reads INPUT with read_committed, writes one
``out:<value>`` record per input record to OUTPUT (same key, same partition) and commits the
input offsets in the same transaction. Killed at any point and started again with the same
transactional id, it fences its previous self, starts from the offsets its last committed
transaction stored, and no output is ever seen twice by a read_committed reader. Exits once no
input arrived for IDLE_MS (default 2000). BATCH (default 200) records go in one transaction;
PAUSE_MS (default 0) is waited inside each transaction, after its records are sent, so that a
crash test's kills land mid-transaction.

    python examples/python/eos_processor.py BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID [IDLE_MS [BATCH [PAUSE_MS]]]
"""

from __future__ import annotations

import sys
import time
from typing import Dict, List, Tuple

import odradek


def main(argv: List[str]) -> int:
    if len(argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    bootstrap, source, output, group, txn_id = argv[:5]
    numbers = [int(a) for a in argv[5:8]]
    idle = (numbers[0] if len(numbers) > 0 else 2000) / 1000
    batch_size = max(numbers[1] if len(numbers) > 1 else 200, 1)
    pause = (numbers[2] if len(numbers) > 2 else 0) / 1000

    producer = odradek.Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5})
    # First: fence an earlier instance and settle its open transaction, so the offsets read
    # next are the last committed ones.
    producer.init_transactions(timeout=60)
    consumer = odradek.Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    # Assigned, not subscribed: a restarted instance must not wait for the group to notice
    # that the killed one is gone. Each partition starts at the group's committed offset.
    partitions = odradek.AdminClient({"bootstrap.servers": bootstrap}).list_topics()[source]
    consumer.assign([odradek.TopicPartition(source, p, odradek.OFFSET_STORED) for p in range(partitions)])
    metadata = odradek.ConsumerGroupMetadata(group)

    total = 0
    try:
        while True:
            batch = consumer.consume(num_messages=batch_size, timeout=idle)
            if not batch:
                break  # idle: everything there was is processed
            producer.begin_transaction()
            following: Dict[Tuple[str, int], int] = {}
            for m in batch:
                # Delivery is checked by commit_transaction (it fails if any record failed).
                producer.produce(output, b"out:" + (m.value or b""), key=m.key, partition=m.partition)
                following[(m.topic, m.partition)] = m.offset + 1
            time.sleep(pause)
            positions = [odradek.TopicPartition(t, p, o) for (t, p), o in following.items()]
            producer.send_offsets_to_transaction(positions, metadata, timeout=60)
            # Any error here ends the process: the next start resumes from the committed offsets.
            producer.commit_transaction(timeout=60)
            total += len(batch)
            print(f"committed {total}", flush=True)
    finally:
        consumer.close()
        producer.close()
    print(f"eos_processor: idle for {idle:.1f} s; {total} records processed", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
