"""Native asyncio clients (aiokafka's shape). Results are resolved by the Rust side on the
running event loop (``loop.call_soon_threadsafe``); no thread pool, no blocking call on the loop.
Works with any asyncio loop, uvloop included.

>>> async def main() -> None:
...     async with Producer({"bootstrap.servers": "127.0.0.1:9092"}) as p:
...         report = await p.send("events", b"hello")
...     async with Consumer({"bootstrap.servers": "127.0.0.1:9092", "group.id": "g"}) as c:
...         c.subscribe(["events"])
...         async for message in c:
...             print(message.value)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from contextlib import asynccontextmanager
from typing import (
    Any, AsyncIterator, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union,
)

from . import _odradek
from ._client import (
    OFFSET_INVALID,
    OFFSET_STORED,
    Bytesish,
    Config,
    ConsumerGroupMetadata,
    Headers,
    PartitionLike,
    TopicPartition,
    _config_pairs,
    _error_cb,
    _group_metadata,
    _oauth_cb,
    _tp,
)
from ._odradek import DeliveryReport, Message, ShareMessage
from ._share import AcknowledgeType

#: How long a login waits for an async ``oauth_cb`` to finish on the event loop.
_OAUTH_CB_TIMEOUT = 60.0


def _aio_oauth_cb(config: Config,
                  loop: asyncio.AbstractEventLoop) -> Optional[Callable[[str], Any]]:
    """``oauth_cb`` for the asyncio clients: a plain function as in the blocking API, or an
    ``async def`` (any callable returning an awaitable), awaited on the client's event loop.
    The client calls it from its own thread (never the loop's), which waits for the result."""
    cb = _oauth_cb(config)
    if cb is None:
        return None

    async def await_it(awaitable: Any) -> Any:
        return await awaitable

    def call(oauthbearer_config: str) -> Any:
        out = cb(oauthbearer_config)
        if not inspect.isawaitable(out):
            return out
        future = asyncio.run_coroutine_threadsafe(await_it(out), loop)
        try:
            return future.result(_OAUTH_CB_TIMEOUT)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the async oauth_cb did not finish within {_OAUTH_CB_TIMEOUT:.0f} s "
                               "(is the event loop running?)") from None

    return call
from .errors import KafkaError

__all__ = ["Producer", "Consumer", "ShareConsumer"]


def _resolve_on_loop(items: List[Tuple["asyncio.Future[Any]", Any]]) -> None:
    """Runs on the event loop (scheduled by the native side) with finished deliveries."""
    for fut, res in items:
        if fut.cancelled():
            continue
        if isinstance(res, BaseException):
            fut.set_exception(res)
        else:
            fut.set_result(res)


def _settle(fut: "asyncio.Future[None]", res: Optional[BaseException]) -> None:
    if fut.cancelled():
        return
    if res is None:
        fut.set_result(None)
    else:
        fut.set_exception(res)


class Producer:
    """An asyncio producer. Create it inside a coroutine (it binds to the running loop).

    ``await send(...)`` returns the :class:`DeliveryReport` once the broker acknowledged the
    record; ``send_nowait(...)`` returns the ``asyncio.Future`` of it at once.
    """

    def __init__(self, config: Config) -> None:
        self._loop = asyncio.get_running_loop()
        self._native = _odradek.NativeProducer(_config_pairs(config), _resolve_on_loop, self._loop,
                                               oauth_cb=_aio_oauth_cb(config, self._loop))
        self._native.set_error_callback(_error_cb(config), self._loop)
        self._transactions_ready = False

    async def start(self) -> None:
        """Nothing to do (the producer connects on first use); kept for aiokafka users."""

    def send_nowait(
        self,
        topic: str,
        value: Optional[Bytesish] = None,
        key: Optional[Bytesish] = None,
        *,
        partition: Optional[int] = None,
        timestamp_ms: Optional[int] = None,
        headers: Optional[Headers] = None,
    ) -> "asyncio.Future[DeliveryReport]":
        """Appends the record now; the future resolves with its report (or KafkaError)."""
        fut: asyncio.Future[DeliveryReport] = self._loop.create_future()
        self._native.send(topic, value, key, headers, partition, timestamp_ms, fut)
        return fut

    async def send(
        self,
        topic: str,
        value: Optional[Bytesish] = None,
        key: Optional[Bytesish] = None,
        *,
        partition: Optional[int] = None,
        timestamp_ms: Optional[int] = None,
        headers: Optional[Headers] = None,
    ) -> DeliveryReport:
        """Sends one record and waits until it is acknowledged."""
        return await self.send_nowait(
            topic, value, key, partition=partition, timestamp_ms=timestamp_ms, headers=headers
        )

    async def send_batch(
        self,
        topic: str,
        values: Sequence[Optional[Bytesish]],
        keys: Optional[Sequence[Optional[Bytesish]]] = None,
        *,
        partition: Optional[int] = None,
    ) -> List[DeliveryReport]:
        """Sends many records of one topic in one native call; their reports, in order."""
        fut: asyncio.Future[List[DeliveryReport]] = self._loop.create_future()
        self._native.send_batch(topic, values, keys, partition, fut)
        return await fut

    async def flush(self) -> None:
        """Waits until everything sent so far is delivered or failed."""
        await self._flush(close=False)

    async def close(self) -> None:
        """Flushes and stops the producer."""
        await self._flush(close=True)

    stop = close

    async def _flush(self, close: bool) -> None:
        fut: asyncio.Future[None] = self._loop.create_future()
        self._native.flush_async(close, lambda res: _settle(fut, res), self._loop)
        await fut

    # Transactions (``transactional.id``): aiokafka's names. An AbortableError (a record failed)
    # means abort_transaction, then go on; a FatalError (PRODUCER_FENCED) ends the producer.

    async def init_transactions(self) -> None:
        """Registers ``transactional.id``: an earlier producer with the same id is fenced and its
        open transaction aborted. Once, before the first transaction (``transaction()`` does it)."""
        fut: asyncio.Future[None] = self._loop.create_future()
        self._native.init_transactions_async(lambda res: _settle(fut, res), self._loop)
        await fut
        self._transactions_ready = True

    async def begin_transaction(self) -> None:
        """Opens a transaction: records sent until commit or abort belong to it."""
        if not self._transactions_ready:
            await self.init_transactions()
        self._native.begin_transaction()

    async def send_offsets_to_transaction(
        self,
        offsets: Dict[TopicPartition, int],
        group: Union[ConsumerGroupMetadata, str],
    ) -> None:
        """Adds ``{partition: next offset}`` to the open transaction: committed for the group if,
        and only if, the transaction commits. ``group`` is ``consumer.consumer_group_metadata()``
        (a bare group id, as aiokafka takes, is not checked against the member's generation)."""
        g = ConsumerGroupMetadata(group) if isinstance(group, str) else group
        triples = [(tp.topic, tp.partition, o) for tp, o in offsets.items()]
        fut: asyncio.Future[None] = self._loop.create_future()
        self._native.send_offsets_to_transaction_async(
            triples, (g.group_id, g.generation_id, g.member_id, g.group_instance_id),
            lambda res: _settle(fut, res), self._loop,
        )
        await fut

    async def commit_transaction(self) -> None:
        """Delivers every record of the transaction, then commits it."""
        await self._end_transaction(True)

    async def abort_transaction(self) -> None:
        """Aborts the open transaction: read_committed consumers never see what it wrote."""
        await self._end_transaction(False)

    async def _end_transaction(self, commit: bool) -> None:
        fut: asyncio.Future[None] = self._loop.create_future()
        self._native.end_transaction_async(commit, lambda res: _settle(fut, res), self._loop)
        await fut

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """``async with producer.transaction():`` begins a transaction, commits it when the block
        ends, aborts it when the block raises (then re-raises)."""
        await self.begin_transaction()
        try:
            yield
        except BaseException:
            await self.abort_transaction()
            raise
        await self.commit_transaction()

    async def __aenter__(self) -> "Producer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


RebalanceCallback = Callable[[List[TopicPartition]], Any]


class Consumer:
    """An asyncio consumer: ``async for message in consumer``, ``await getone()``,
    ``await getmany(timeout_ms=...)``, ``await commit()``. Create it inside a coroutine.

    A cancelled ``getone`` / ``getmany`` loses nothing: it waits without taking records, and
    takes them from the native consumer only on the loop's thread, just before it returns them.
    """

    def __init__(self, config: Config, topics: Optional[Sequence[str]] = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._native = _odradek.NativeConsumer(_config_pairs(config),
                                               oauth_cb=_aio_oauth_cb(config, self._loop))
        self._native.set_error_callback(_error_cb(config), self._loop)
        self._on_assign: Optional[RebalanceCallback] = None
        self._on_revoke: Optional[RebalanceCallback] = None
        self._firing = asyncio.Lock()
        if topics:
            self.subscribe(topics)

    async def start(self) -> None:
        """Nothing to do (the consumer connects on first use); kept for aiokafka users."""

    def subscribe(
        self,
        topics: Sequence[str],
        on_assign: Optional[RebalanceCallback] = None,
        on_revoke: Optional[RebalanceCallback] = None,
    ) -> None:
        """Joins the group for ``topics``; the callbacks (plain or async) run on the event loop
        when partitions change hands, and the rebalance waits for them (an async one is
        awaited; up to ``max.poll.interval.ms``), so ``await commit()`` in ``on_revoke`` lands
        before another member gets the partitions. ``close()`` runs ``on_revoke`` first."""
        self._on_assign, self._on_revoke = on_assign, on_revoke
        self._native.wake_on_events(self._events_queued, self._loop)
        self._native.subscribe(list(topics))

    def _events_queued(self, _: Any) -> None:
        task = self._loop.create_task(self._fire())

        def report(t: "asyncio.Task[None]") -> None:
            if not t.cancelled() and t.exception() is not None:
                self._loop.call_exception_handler(
                    {"message": "odradek: a rebalance callback raised", "exception": t.exception()}
                )

        task.add_done_callback(report)

    def assign(self, partitions: Iterable[PartitionLike]) -> None:
        """Reads exactly these partitions (offsets as in :meth:`odradek.Consumer.assign`).
        ``OFFSET_STORED`` needs a request to the group: use it from a thread, or pass offsets."""
        tps = [_tp(p) for p in partitions]
        self._native.assign(
            [(t.topic, t.partition, OFFSET_STORED if t.offset == OFFSET_INVALID else t.offset) for t in tps]
        )

    def assignment(self) -> List[TopicPartition]:
        """The partitions read now."""
        return [TopicPartition(t, p) for t, p in self._native.assignment()]

    def seek(self, partition: PartitionLike, offset: int) -> None:
        """The next record of ``partition`` will be the one at ``offset``."""
        tp = _tp(partition)
        self._native.seek(tp.topic, tp.partition, offset)

    def pause(self, partitions: Sequence[PartitionLike]) -> None:
        """Stops handing out and fetching these partitions until :meth:`resume`: records
        already fetched are held, and the position does not move."""
        self._native.pause([(t.topic, t.partition) for t in map(_tp, partitions)])

    def resume(self, partitions: Sequence[PartitionLike]) -> None:
        """Hands out and fetches these partitions again (the held records first)."""
        self._native.resume([(t.topic, t.partition) for t in map(_tp, partitions)])

    def position(self, partition: PartitionLike) -> Optional[int]:
        """Offset of the next record returned for ``partition`` (``None`` until known)."""
        tp = _tp(partition)
        return self._native.position(tp.topic, tp.partition)

    async def _read(self, max_records: int, timeout_ms: Optional[int]) -> List[Message]:
        """Up to ``max_records`` taken from the native consumer on the loop's thread; the wait
        for them runs in the background and takes nothing, so a cancelled read loses nothing."""
        deadline = None if timeout_ms is None else self._loop.time() + timeout_ms / 1000
        while True:
            await self._fire()
            records: List[Message] = self._native.consume(max_records, 0, False)
            if records:
                return records
            left = None if deadline is None else max(0, int((deadline - self._loop.time()) * 1000))
            if left == 0:
                return []
            fut: asyncio.Future[Any] = self._loop.create_future()

            def arrived(res: Any, fut: "asyncio.Future[Any]" = fut) -> None:
                if fut.done():
                    return
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)

            self._native.wait_async(left, arrived, self._loop)
            if not await fut and deadline is not None:
                return []

    async def _fire(self) -> None:
        async with self._firing:
            try:
                for kind, parts in self._native.take_events():
                    tps = [TopicPartition(t, p) for t, p in parts]
                    cb = self._on_assign if kind == "assign" else self._on_revoke
                    if cb is not None:
                        res = cb(tps)
                        if inspect.isawaitable(res):
                            await res
            finally:
                # The group waits for this: the rebalance goes on.
                self._native.events_done()

    async def getone(self) -> Message:
        """The next record (waits for one)."""
        while True:
            got = await self._read(1, None)
            if got:
                return got[0]

    async def getmany(
        self, timeout_ms: int = 0, max_records: Optional[int] = None
    ) -> Dict[TopicPartition, List[Message]]:
        """Records by partition: what is there now, else what arrives within ``timeout_ms``
        (``{}`` if nothing does)."""
        records = await self._read(max_records or 10000, timeout_ms)
        out: Dict[TopicPartition, List[Message]] = {}
        for m in records:
            out.setdefault(TopicPartition(m.topic, m.partition), []).append(m)
        return out

    def __aiter__(self) -> "Consumer":
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.getone()
        except KafkaError as e:
            if e.name == "_DESTROY":
                raise StopAsyncIteration from None
            raise

    async def commit(self, offsets: Optional[Dict[TopicPartition, int]] = None) -> None:
        """Commits ``{partition: next offset}``, or the position of every assigned partition."""
        triples: Optional[List[Tuple[str, int, int]]]
        if offsets is not None:
            triples = [(tp.topic, tp.partition, o) for tp, o in offsets.items()]
        else:
            triples = None
        fut: asyncio.Future[None] = self._loop.create_future()
        self._native.commit_async(triples, lambda res: _settle(fut, res), self._loop)
        await fut

    def consumer_group_metadata(self) -> ConsumerGroupMetadata:
        """The group, generation and member for ``Producer.send_offsets_to_transaction``."""
        return _group_metadata(self._native)

    async def committed(self, partition: PartitionLike) -> Optional[int]:
        """The group's committed offset of ``partition`` (``None`` if nothing is committed)."""
        tp = _tp(partition)
        fut: asyncio.Future[Any] = self._loop.create_future()

        def arrived(res: Any) -> None:
            if not fut.cancelled():
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)

        self._native.committed_async([(tp.topic, tp.partition)], arrived, self._loop)
        got: List[Optional[int]] = await fut
        return got[0]

    async def close(self) -> None:
        """Leaves the group and stops."""
        fut: asyncio.Future[None] = self._loop.create_future()
        self._native.close_async(lambda res: _settle(fut, res), self._loop)
        await fut

    stop = close

    async def __aenter__(self) -> "Consumer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class ShareConsumer:
    """An asyncio share consumer (KIP-932; ``group.id`` required): ``await poll()``,
    ``acknowledge(message, type)``, ``await commit_sync()``. Create it inside a coroutine.

    A cancelled ``poll`` releases what its fetch received (those records are delivered again,
    their ``delivery_count`` one higher), so nothing stays locked.
    """

    def __init__(self, config: Config) -> None:
        self._loop = asyncio.get_running_loop()
        self._native = _odradek.NativeShareConsumer(_config_pairs(config),
                                                    oauth_cb=_aio_oauth_cb(config, self._loop))
        # The native poll in flight, done once its records are handed out or (cancelled)
        # released: the next poll or commit waits for it, so an implicit acceptance never
        # covers records the application did not get.
        self._inflight: Optional["asyncio.Future[None]"] = None

    async def _settled(self) -> None:
        while self._inflight is not None and not self._inflight.done():
            await asyncio.shield(self._inflight)

    def subscribe(self, topics: Sequence[str]) -> None:
        """Subscribes to ``topics`` (replacing the previous subscription)."""
        self._native.subscribe(list(topics))

    def assignment(self) -> List[TopicPartition]:
        """The partitions the coordinator assigned to this member now."""
        return [TopicPartition(t, p) for t, p in self._native.assignment()]

    async def poll(self, timeout_ms: int = 1000) -> List[ShareMessage]:
        """Records that arrive within ``timeout_ms`` (empty after it); the acknowledgements of
        the records handed out before travel with this fetch."""
        await self._settled()
        fut: asyncio.Future[List[ShareMessage]] = self._loop.create_future()
        finished: asyncio.Future[None] = self._loop.create_future()
        self._inflight = finished

        def done(res: Any) -> None:
            try:
                if not fut.cancelled():
                    if isinstance(res, BaseException):
                        fut.set_exception(res)
                    else:
                        fut.set_result(res)
                elif isinstance(res, list):
                    for m in res:
                        try:
                            self._native.acknowledge(m.topic, m.partition, m.offset, int(AcknowledgeType.RELEASE))
                        except KafkaError:
                            pass  # closed meanwhile: close releases them
            finally:
                finished.set_result(None)

        self._native.poll_async(max(0, timeout_ms) / 1000, done, self._loop)
        try:
            return await fut
        except asyncio.CancelledError:
            # Cancelled after the records arrived but before this task resumed: release them.
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                for m in fut.result():
                    self._native.acknowledge(m.topic, m.partition, m.offset, int(AcknowledgeType.RELEASE))
            raise

    def acknowledge(self, message: ShareMessage, type: AcknowledgeType = AcknowledgeType.ACCEPT) -> None:
        """Settles a record this consumer handed out; sent with the next poll or commit."""
        self._native.acknowledge(message.topic, message.partition, message.offset, int(type))

    async def commit_sync(self) -> None:
        """Sends the pending acknowledgements and waits for the answers."""
        await self._settled()
        fut: asyncio.Future[None] = self._loop.create_future()
        self._native.commit_sync_async(lambda res: _settle(fut, res), self._loop)
        await fut

    def commit_async(self) -> None:
        """Sends the pending acknowledgements in the background (a failure is logged)."""
        self._native.commit_async()

    async def close(self) -> None:
        """Leaves the share group; records not acknowledged are released. Idempotent."""
        await self._settled()
        fut: asyncio.Future[None] = self._loop.create_future()
        self._native.close_async(lambda res: _settle(fut, res), self._loop)
        await fut

    async def __aenter__(self) -> "ShareConsumer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
