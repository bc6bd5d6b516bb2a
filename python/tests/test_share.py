"""ShareConsumer (KIP-932) against the embedded broker: delivery counts, release, reject,
implicit acceptance, explicit mode, a second member, close."""

from __future__ import annotations

import asyncio
import time
from typing import List

import pytest

import odradek
import odradek.aio
from conftest import Kafka


def wait_assignment(c: odradek.ShareConsumer) -> None:
    """Polls until the member is assigned, then fetches once: the share-partition starts at the
    log's end (share.auto.offset.reset=latest) when first fetched."""
    deadline = time.monotonic() + 20
    while not c.assignment():
        assert c.poll(0.1) == []
        assert time.monotonic() < deadline, "no share assignment within 20 s"
    assert c.poll(0.1) == []


def poll_n(c: odradek.ShareConsumer, n: int) -> List[odradek.ShareMessage]:
    out: List[odradek.ShareMessage] = []
    deadline = time.monotonic() + 20
    while len(out) < n and time.monotonic() < deadline:
        out.extend(c.poll(0.3))
    return out


def test_release_reject_and_implicit_accept(embedded: Kafka) -> None:
    topic = embedded.topic()
    group = f"share-{topic}"
    with pytest.raises(odradek.ConfigError):
        odradek.ShareConsumer(embedded.config())
    with odradek.ShareConsumer(embedded.config(**{"group.id": group})) as c:
        c.subscribe([topic])
        assert c.assignment() in ([], [odradek.TopicPartition(topic, 0)])
        wait_assignment(c)
        p = odradek.Producer(embedded.config())
        p.produce_batch(topic, [b"accept", b"release", b"reject"], partition=0).result(30)
        p.close()

        first = poll_n(c, 3)
        assert [m.value for m in first] == [b"accept", b"release", b"reject"]
        assert [m.delivery_count for m in first] == [1, 1, 1]
        assert isinstance(first[0], odradek.Message) and first[0].topic == topic
        assert "delivery_count=1" in repr(first[0])
        c.acknowledge(first[1], odradek.AcknowledgeType.RELEASE)
        c.acknowledge(first[2], odradek.AcknowledgeType.REJECT)
        with pytest.raises(odradek.KafkaError):
            c.acknowledge(first[2], odradek.AcknowledgeType.ACCEPT)
        # "accept" was not acknowledged: implicit mode accepts it with this poll.
        again = poll_n(c, 1)
        assert [(m.value, m.delivery_count) for m in again] == [(b"release", 2)]
        c.commit_sync(30)
        assert c.poll(0.3) == []
        c.commit_async()

    # A second member finds nothing left; poll after close fails.
    other = odradek.ShareConsumer(embedded.config(**{"group.id": group}))
    other.subscribe([topic])
    assert other.poll(0.5) == []
    other.close()
    other.close()
    with pytest.raises(odradek.KafkaError):
        other.poll(0.1)


def test_explicit_mode_refuses_to_poll_past_unacknowledged(embedded: Kafka) -> None:
    topic = embedded.topic()
    c = odradek.ShareConsumer(embedded.config(**{
        "group.id": f"share-{topic}", "share.acknowledgement.mode": "explicit"}))
    c.subscribe([topic])
    wait_assignment(c)
    p = odradek.Producer(embedded.config())
    p.produce(topic, b"one", partition=0).result(30)
    p.close()
    (m,) = poll_n(c, 1)
    with pytest.raises(odradek.KafkaError, match="explicit"):
        c.poll(0.01)
    with pytest.raises(ValueError):
        c.acknowledge(m, 7)  # type: ignore[arg-type]
    c.acknowledge(m, odradek.AcknowledgeType.ACCEPT)
    assert c.poll(0.3) == []
    c.close()


def test_aio_share_consumer_and_a_cancelled_poll(embedded: Kafka) -> None:
    topic = embedded.topic()

    async def main() -> None:
        async with odradek.aio.ShareConsumer(embedded.config(**{"group.id": f"share-{topic}"})) as c:
            c.subscribe([topic])
            for _ in range(200):
                assigned = bool(c.assignment())
                assert await c.poll(100) == []
                if assigned:
                    break
            assert c.assignment() == [odradek.TopicPartition(topic, 0)]
            # A poll cancelled while it waits: what its fetch gets is released.
            waiting = asyncio.ensure_future(c.poll(2000))
            await asyncio.sleep(0.2)
            p = odradek.Producer(embedded.config())
            p.produce(topic, b"one", partition=0).result(30)
            p.close()
            waiting.cancel()
            got: List[odradek.ShareMessage] = []
            for _ in range(100):
                got.extend(await c.poll(300))
                if got:
                    break
            assert [m.value for m in got] == [b"one"]
            assert got[0].delivery_count in (1, 2)
            c.acknowledge(got[0], odradek.AcknowledgeType.ACCEPT)
            await c.commit_sync()
            assert await c.poll(300) == []

    asyncio.run(asyncio.wait_for(main(), 60))
