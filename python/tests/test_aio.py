"""odradek.aio: futures resolved from Rust on the running loop, under asyncio and uvloop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable, List

import pytest
import uvloop

import odradek
import odradek.aio
from conftest import Kafka


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: Any) -> Callable[[Awaitable[Any]], Any]:
    def runner(coro: Awaitable[Any]) -> Any:
        if request.param == "uvloop":
            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        else:
            loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(asyncio.wait_for(coro, 60))
        finally:
            loop.close()
    return runner


def test_send_and_consume_on_the_loop(kafka: Kafka, run: Callable[[Awaitable[Any]], Any]) -> None:
    topic = kafka.topic()
    group = f"g-{topic}"

    async def main() -> None:
        loop_thread = threading.get_ident()
        resolved_on: List[int] = []
        async with odradek.aio.Producer(kafka.config(**{"linger.ms": 2})) as p:
            report = await p.send(topic, b"first", key=b"k")
            assert (report.partition, report.offset) == (0, 0)
            fut = p.send_nowait(topic, b"second", headers=[("h", b"1")])
            assert isinstance(fut, asyncio.Future)
            fut.add_done_callback(lambda _f: resolved_on.append(threading.get_ident()))
            assert (await fut).offset == 1
            reports = await p.send_batch(topic, [f"b-{i}".encode() for i in range(98)])
            assert [r.offset for r in reports] == list(range(2, 100))
            await p.flush()
        assert resolved_on == [loop_thread]  # resolved on the loop's own thread
        # No thread pool behind the API.
        assert not [t for t in threading.enumerate() if t.name.startswith(("asyncio_", "ThreadPoolExecutor"))]

        async with odradek.aio.Consumer(kafka.config(**{"group.id": group, "auto.offset.reset": "earliest",
                                                        "enable.auto.commit": False})) as c:
            assigned: List[int] = []

            async def on_assign(parts: List[odradek.TopicPartition]) -> None:
                assigned.extend(tp.partition for tp in parts)

            c.subscribe([topic], on_assign=on_assign)
            first = await c.getone()
            assert (first.offset, first.key, first.value) == (0, b"k", b"first")
            # on_assign runs on the loop beside the first fetch (the group waits for it).
            for _ in range(400):
                if assigned:
                    break
                await asyncio.sleep(0.05)
            assert assigned == [0]
            second = await c.getone()
            assert second.headers == [("h", b"1")]
            got = [first, second]
            while len(got) < 100:
                batch = await c.getmany(timeout_ms=5000)
                assert batch, "getmany returned nothing within 5 s"
                for tp, msgs in batch.items():
                    assert tp == odradek.TopicPartition(topic, 0)
                    got.extend(msgs)
            assert [m.offset for m in got] == list(range(100))
            assert await c.getmany(timeout_ms=100) == {}
            await c.commit()
            assert await c.committed((topic, 0)) == 100

    run(main())


def test_cancelled_getone_loses_nothing(embedded: Kafka, run: Callable[[Awaitable[Any]], Any]) -> None:
    topic = embedded.topic()

    async def main() -> None:
        c = odradek.aio.Consumer(embedded.config())
        c.assign([(topic, 0, odradek.OFFSET_BEGINNING)])
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.getone(), 0.2)  # nothing there yet: cancelled
        async with odradek.aio.Producer(embedded.config()) as p:
            await p.send_batch(topic, [b"a", b"b", b"c"])
        seen = []
        async for m in c:
            seen.append(m.value)
            if len(seen) == 3:
                break
        assert seen == [b"a", b"b", b"c"]
        await c.close()

    run(main())


def test_async_errors_are_kafka_errors(embedded: Kafka, run: Callable[[Awaitable[Any]], Any]) -> None:
    topic = embedded.topic(config={"max.message.bytes": "1024"})

    async def main() -> None:
        async with odradek.aio.Producer(embedded.config(**{"linger.ms": 0})) as p:
            with pytest.raises(odradek.PermanentError) as info:
                await p.send(topic, b"x" * 4096)
            assert info.value.name == "MESSAGE_TOO_LARGE" and info.value.code == 10

    run(main())


def test_the_loop_stays_responsive_while_waiting(embedded: Kafka, run: Callable[[Awaitable[Any]], Any]) -> None:
    topic = embedded.topic()

    async def main() -> None:
        c = odradek.aio.Consumer(embedded.config())
        c.assign([(topic, 0, odradek.OFFSET_END)])
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        t = asyncio.ensure_future(ticker())
        assert await c.getmany(timeout_ms=500) == {}
        t.cancel()
        assert ticks >= 20, ticks
        await c.close()

    run(main())
