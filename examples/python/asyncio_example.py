"""Native asyncio: send records and read them back with a group consumer (also on uvloop).

    python examples/python/asyncio_example.py       # BOOTSTRAP, TOPIC from env
"""

from __future__ import annotations

import asyncio
import os
import uuid

import odradek
import odradek.aio

BOOTSTRAP = os.environ.get("BOOTSTRAP", "127.0.0.1:9092")
TOPIC = os.environ.get("TOPIC", "greetings-async")


async def main() -> None:
    async with odradek.aio.Producer({"bootstrap.servers": BOOTSTRAP}) as producer:
        report = await producer.send(TOPIC, b"hello from asyncio", key=b"async")
        print(f"delivered at {report.topic}[{report.partition}]@{report.offset}")
        pending = [producer.send_nowait(TOPIC, f"n={i}".encode()) for i in range(9)]
        for r in await asyncio.gather(*pending):
            print(f"delivered at offset {r.offset}")

    config = {
        "bootstrap.servers": BOOTSTRAP,
        "group.id": f"async-example-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest",
    }
    async with odradek.aio.Consumer(config) as consumer:
        consumer.subscribe([TOPIC])
        count = 0
        while count < 10:
            batch = await consumer.getmany(timeout_ms=10_000)
            if not batch:
                break
            for tp, messages in batch.items():
                for m in messages:
                    print(f"{tp.topic}[{tp.partition}]@{m.offset}: {m.value!r}")
                    count += 1
        await consumer.commit()
    print(f"read {count} records")


if __name__ == "__main__":
    asyncio.run(main())
