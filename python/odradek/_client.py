"""The synchronous clients: Producer, Consumer, AdminClient (confluent-kafka's shape)."""

from __future__ import annotations

import concurrent.futures
import json
import time
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _odradek
from ._admin import AdminSurface
from ._odradek import DeliveryReport, Message
from .errors import KafkaError

__all__ = [
    "Producer",
    "Consumer",
    "AdminClient",
    "NewTopic",
    "TopicPartition",
    "DeliveryFuture",
    "DeliveryReport",
    "Message",
    "OFFSET_BEGINNING",
    "OFFSET_END",
    "OFFSET_STORED",
    "OFFSET_INVALID",
]

# The special offsets are the core's (confluent-kafka's numbers), taken from the native module.
OFFSET_BEGINNING: int = _odradek.OFFSET_BEGINNING
"""Start at the log start offset (as in confluent-kafka)."""
OFFSET_END: int = _odradek.OFFSET_END
"""Start at the end: only records produced from now on."""
OFFSET_STORED: int = _odradek.OFFSET_STORED
"""Start at the group's committed offset, else where ``auto.offset.reset`` says."""
OFFSET_INVALID: int = _odradek.OFFSET_INVALID
"""No offset (e.g. nothing committed)."""

#: Bytes-like values accepted for keys, values and header values: ``bytes``, ``bytearray``,
#: ``memoryview`` or any object exporting a contiguous buffer (read without copying), or ``str``
#: (sent as UTF-8).
Bytesish = Union[bytes, bytearray, memoryview, str, Any]
#: Headers: a list of (name, value) pairs (order and duplicates kept) or a dict.
Headers = Union[Sequence[Tuple[str, Optional[Bytesish]]], Mapping[str, Optional[Bytesish]]]
#: A client configuration: librdkafka / Java property names; values are stringified.
Config = Mapping[str, Any]


def _config_pairs(config: Config) -> List[Tuple[str, Any]]:
    """The properties of a config dict, values as given: the core turns each into its property
    string by one rule shared with every binding (``True`` → ``"true"``, ``5.0`` → ``"5"``,
    a ``timedelta`` for a key ending in ``.ms`` → milliseconds, ``None`` → not set; anything
    else raises ``_INVALID_CONFIG`` naming the key)."""
    return [(str(k), v) for k, v in config.items() if k not in _CALLBACK_KEYS]


#: Config keys that carry Python callables, not properties.
_CALLBACK_KEYS = ("oauth_cb", "error_cb")


def _error_cb(config: Config) -> Optional[Callable[[KafkaError], Any]]:
    """``error_cb``: failures no call returns, as in confluent-kafka: ``error_cb(err)`` with a
    :class:`KafkaError` when a broker is unreachable or its connection is lost (``_TRANSPORT``),
    every broker is down (``_ALL_BROKERS_DOWN``), TLS or SASL fails, the producer is fenced, or
    the group refuses the member. ``err.retriable`` says whether the client recovers by itself.
    Called from the library's dispatcher thread (on the event loop for ``odradek.aio``)."""
    cb = config.get("error_cb")
    if cb is not None and not callable(cb):
        raise TypeError("error_cb must be callable")
    return cb


def _oauth_cb(config: Config) -> Optional[Callable[[str], Any]]:
    """``oauth_cb``: OAUTHBEARER tokens from the application, as in confluent-kafka:
    ``oauth_cb(sasl.oauthbearer.config) -> (token, expiry_seconds_since_epoch[, principal[,
    extensions]])``, called at each login and re-authentication."""
    cb = config.get("oauth_cb")
    if cb is not None and not callable(cb):
        raise TypeError("oauth_cb must be callable")
    return cb


class TopicPartition(NamedTuple):
    """A partition of a topic, with an offset where one is meant (``OFFSET_INVALID`` if not)."""

    topic: str
    partition: int
    offset: int = OFFSET_INVALID


PartitionLike = Union[TopicPartition, Tuple[str, int], Tuple[str, int, int]]


def _tp(p: PartitionLike) -> TopicPartition:
    if isinstance(p, TopicPartition):
        return p
    return TopicPartition(*p)


class ConsumerGroupMetadata(NamedTuple):
    """What ``Producer.send_offsets_to_transaction`` needs of a consumer
    (``Consumer.consumer_group_metadata()``): a zombie member's offsets are refused (KIP-447)."""

    group_id: str
    generation_id: int = -1
    member_id: str = ""
    group_instance_id: Optional[str] = None


def _group_metadata(native: Any) -> ConsumerGroupMetadata:
    """A native consumer's group metadata (the sync and asyncio consumers share it)."""
    m = native.group_metadata()
    if m is None:
        raise ValueError("consumer_group_metadata needs a consumer with group.id")
    return ConsumerGroupMetadata(*m)


class NewTopic(NamedTuple):
    """A topic to create: name, partitions (-1: broker default), replication factor, configs."""

    topic: str
    num_partitions: int = -1
    replication_factor: int = -1
    config: Mapping[str, Any] = {}


class DeliveryFuture(concurrent.futures.Future[DeliveryReport]):
    """A ``concurrent.futures.Future`` of one record's :class:`DeliveryReport`.

    It resolves exactly once, from a background thread, when the broker acknowledged the record
    (``result()`` is the report) or it failed (``exception()`` is a :class:`KafkaError`).
    Nothing needs to be polled for it to resolve.
    """

    def result(self, timeout: Optional[float] = None) -> DeliveryReport:
        """The delivery report; raises the record's :class:`KafkaError` if it failed."""
        report: DeliveryReport = super().result(timeout)
        return report


def _resolve_sync(items: List[Tuple[concurrent.futures.Future[Any], Any]]) -> None:
    """Called by the native dispatcher with finished deliveries."""
    for fut, res in items:
        if isinstance(res, BaseException):
            fut.set_exception(res)
        else:
            fut.set_result(res)


DeliveryCallback = Callable[[Optional[KafkaError], Optional[DeliveryReport]], Any]


class Producer:
    """Sends records to Kafka. ``produce`` appends the record to its partition's batch and
    returns at once; batches are sent in the background (no ``poll()`` needed).

    >>> p = Producer({"bootstrap.servers": "127.0.0.1:9092"})
    >>> p.produce("events", b"hello", key=b"user-1").result().offset  # doctest: +SKIP
    0
    >>> p.close()  # doctest: +SKIP

    Config keys are librdkafka / Java property names (``linger.ms``, ``acks``,
    ``compression.type``, ...); an unknown key or bad value raises :class:`ConfigError`.
    """

    def __init__(self, config: Config) -> None:
        self._native = _odradek.NativeProducer(_config_pairs(config), _resolve_sync,
                                               oauth_cb=_oauth_cb(config))
        self._native.set_error_callback(_error_cb(config))

    def produce(
        self,
        topic: str,
        value: Optional[Bytesish] = None,
        key: Optional[Bytesish] = None,
        headers: Optional[Headers] = None,
        partition: Optional[int] = None,
        timestamp_ms: Optional[int] = None,
        on_delivery: Optional[DeliveryCallback] = None,
    ) -> DeliveryFuture:
        """Sends one record; returns the future of its delivery report.

        ``on_delivery(err, report)`` is called once from a background thread when the outcome
        is known (``err`` is ``None`` on success). Values are read without copying when they
        are ``bytes`` or export a buffer; ``None`` is a null key / value.
        """
        fut = DeliveryFuture()
        if on_delivery is not None:
            fut.add_done_callback(_delivery_callback(on_delivery))
        self._native.send(topic, value, key, headers, partition, timestamp_ms, fut)
        return fut

    def produce_batch(
        self,
        topic: str,
        values: Sequence[Optional[Bytesish]],
        keys: Optional[Sequence[Optional[Bytesish]]] = None,
        partition: Optional[int] = None,
    ) -> "concurrent.futures.Future[List[DeliveryReport]]":
        """Sends many records of one topic in one call into the native client.

        Returns one future of the list of reports (in order), or of the first failure.
        """
        fut: concurrent.futures.Future[List[DeliveryReport]] = concurrent.futures.Future()
        self._native.send_batch(topic, values, keys, partition, fut)
        return fut

    def flush(self, timeout: Optional[float] = None) -> int:
        """Waits until every record sent so far is delivered or failed.

        Returns the number of records still waiting (0 unless ``timeout`` seconds ran out).
        The GIL is released while waiting and Ctrl+C interrupts it.
        """
        return self._native.flush(timeout)

    def close(self, timeout: Optional[float] = None) -> None:
        """Flushes, then stops the producer; later ``produce`` calls raise. Idempotent."""
        self._native.close(timeout)

    def metrics(self) -> Dict[str, Any]:
        """Statistics: records and bytes delivered, failures, requests and their round trips,
        what is queued now, and ``brokers``: one dict per broker (address, state, connects,
        connect_failures, disconnects, requests, request_latency_avg_us / _max_us, in_flight)."""
        stats: Dict[str, Any] = json.loads(self._native.metrics_json())
        return stats

    def init_transactions(self, timeout: Optional[float] = None) -> None:
        """Registers ``transactional.id`` with its coordinator: an earlier producer with the same
        id is fenced and its open transaction aborted. Call once, before the first transaction.
        """
        self._native.init_transactions(timeout)

    def begin_transaction(self) -> None:
        """Opens a transaction; records produced until commit or abort belong to it."""
        self._native.begin_transaction()

    def send_offsets_to_transaction(
        self,
        positions: Sequence[TopicPartition],
        group_metadata: ConsumerGroupMetadata,
        timeout: Optional[float] = None,
    ) -> None:
        """Commits the consumer's ``positions`` (the next offsets to read) with the open
        transaction: stored for the group if, and only if, the transaction commits.
        ``group_metadata`` is ``consumer.consumer_group_metadata()``."""
        offsets = [(tp.topic, tp.partition, tp.offset) for tp in positions]
        g = group_metadata
        self._native.send_offsets_to_transaction(
            offsets, (g.group_id, g.generation_id, g.member_id, g.group_instance_id), timeout
        )

    def commit_transaction(self, timeout: Optional[float] = None) -> None:
        """Delivers every record of the transaction, then commits it. Raises
        :class:`AbortableError` when a record failed (call ``abort_transaction``) and
        :class:`FatalError` when the producer was fenced (close it)."""
        self._native.end_transaction(True, timeout)

    def abort_transaction(self, timeout: Optional[float] = None) -> None:
        """Aborts the open transaction: nothing it wrote is seen by read_committed readers."""
        self._native.end_transaction(False, timeout)


    def __len__(self) -> int:
        """Records still waiting for delivery (as confluent-kafka's ``len(producer)``)."""
        return self._native.metrics()["queue_records"]

    def __enter__(self) -> "Producer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _delivery_callback(
    cb: DeliveryCallback,
) -> Callable[["concurrent.futures.Future[DeliveryReport]"], None]:
    def done(fut: "concurrent.futures.Future[DeliveryReport]") -> None:
        err = fut.exception()
        if err is None:
            cb(None, fut.result())
        else:
            cb(err if isinstance(err, KafkaError) else None, None)

    return done


RebalanceCallback = Callable[["Consumer", List[TopicPartition]], Any]


class Consumer:
    """Reads records. Either ``subscribe`` (a group member, needs ``group.id``) or ``assign``
    partitions yourself; ``commit`` / ``committed`` work with either when ``group.id`` is set.

    >>> c = Consumer({"bootstrap.servers": "127.0.0.1:9092", "group.id": "billing"})
    >>> c.subscribe(["events"])  # doctest: +SKIP
    >>> for message in c:  # doctest: +SKIP
    ...     print(message.offset, message.value)

    Every blocking call releases the GIL, honours its timeout (seconds, ``None`` = forever) and
    is interrupted by Ctrl+C. Rebalance callbacks run in the thread that polls.
    """

    def __init__(self, config: Config) -> None:
        self._native = _odradek.NativeConsumer(_config_pairs(config), oauth_cb=_oauth_cb(config))
        self._native.set_error_callback(_error_cb(config))
        self._on_assign: Optional[RebalanceCallback] = None
        self._on_revoke: Optional[RebalanceCallback] = None
        self._on_lost: Optional[RebalanceCallback] = None

    def subscribe(
        self,
        topics: Sequence[str],
        on_assign: Optional[RebalanceCallback] = None,
        on_revoke: Optional[RebalanceCallback] = None,
        on_lost: Optional[RebalanceCallback] = None,
    ) -> None:
        """Joins the group for ``topics``. ``on_assign(consumer, partitions)`` and
        ``on_revoke(consumer, partitions)`` run from ``poll``/``consume``/``close`` when
        partitions change hands (``on_lost`` when they were lost without a rebalance; defaults
        to ``on_revoke``). The rebalance waits for them (up to ``max.poll.interval.ms``), so a
        ``commit()`` in ``on_revoke`` lands before another member gets the partitions."""
        self._on_assign, self._on_revoke, self._on_lost = on_assign, on_revoke, on_lost
        self._native.subscribe(list(topics))

    def assign(self, partitions: Iterable[PartitionLike], timeout: Optional[float] = None) -> None:
        """Reads exactly these partitions, from each one's offset (``OFFSET_BEGINNING``,
        ``OFFSET_END``, ``OFFSET_STORED`` = the committed offset, or a number)."""
        tps = [_tp(p) for p in partitions]
        self._native.assign(
            [(t.topic, t.partition, OFFSET_STORED if t.offset == OFFSET_INVALID else t.offset) for t in tps],
            timeout,
        )

    def unassign(self) -> None:
        """Stops reading every assigned partition."""
        self._native.unassign()

    def metrics(self) -> Dict[str, Any]:
        """Statistics: records and bytes handed out, Fetch round trips, buffered bytes,
        ``partitions`` (topic, partition, position, high_watermark, lag, paused per assigned
        partition) and ``brokers`` (as :meth:`Producer.metrics`)."""
        stats: Dict[str, Any] = json.loads(self._native.metrics_json())
        return stats

    def assignment(self) -> List[TopicPartition]:
        """The partitions read now."""
        return [TopicPartition(t, p) for t, p in self._native.assignment()]

    def seek(self, partition: PartitionLike, offset: Optional[int] = None) -> None:
        """The next record of ``partition`` will be the one at ``offset`` (or ``partition.offset``)."""
        tp = _tp(partition)
        off = tp.offset if offset is None else offset
        self._native.seek(tp.topic, tp.partition, off)

    def position(self, partitions: Sequence[PartitionLike]) -> List[TopicPartition]:
        """Each partition with the offset of the next record this consumer returns
        (``OFFSET_INVALID`` until known)."""
        out = []
        for p in partitions:
            tp = _tp(p)
            pos = self._native.position(tp.topic, tp.partition)
            out.append(TopicPartition(tp.topic, tp.partition, OFFSET_INVALID if pos is None else pos))
        return out

    def committed(
        self, partitions: Sequence[PartitionLike], timeout: Optional[float] = None
    ) -> List[TopicPartition]:
        """The group's committed offsets (``OFFSET_INVALID`` where nothing is committed)."""
        tps = [_tp(p) for p in partitions]
        got = self._native.committed([(t.topic, t.partition) for t in tps], timeout)
        return [
            TopicPartition(t.topic, t.partition, OFFSET_INVALID if o is None else o) for t, o in zip(tps, got)
        ]

    def commit(
        self,
        offsets: Optional[Sequence[PartitionLike]] = None,
        *,
        message: Optional[Message] = None,
        timeout: Optional[float] = None,
    ) -> None:
        """Commits synchronously: ``offsets`` (each the next offset to read), or the offset
        after ``message``, or else the position of every assigned partition."""
        if message is not None:
            triples: Optional[List[Tuple[str, int, int]]] = [(message.topic, message.partition, message.offset + 1)]
        elif offsets is not None:
            triples = [(t.topic, t.partition, t.offset) for t in map(_tp, offsets)]
        else:
            triples = None
        self._native.commit(triples, timeout)

    def pause(self, partitions: Sequence[PartitionLike]) -> None:
        """Stops handing out and fetching these partitions until :meth:`resume`: records
        already fetched are held, and the position does not move."""
        self._native.pause([(t.topic, t.partition) for t in map(_tp, partitions)])

    def resume(self, partitions: Sequence[PartitionLike]) -> None:
        """Hands out and fetches these partitions again (the held records first)."""
        self._native.resume([(t.topic, t.partition) for t in map(_tp, partitions)])

    def consumer_group_metadata(self) -> ConsumerGroupMetadata:
        """The group, generation and member for ``Producer.send_offsets_to_transaction``."""
        return _group_metadata(self._native)

    def get_watermark_offsets(self, partition: PartitionLike, timeout: Optional[float] = None) -> Tuple[int, int]:
        """(low, high) offsets of a partition, asked from its leader."""
        tp = _tp(partition)
        return self._native.watermarks(tp.topic, tp.partition, timeout)

    def offsets_for_times(
        self, partitions: Sequence[PartitionLike], timeout: Optional[float] = None
    ) -> List[TopicPartition]:
        """For each partition, whose ``offset`` is a timestamp (ms since the epoch), the offset
        of the first record with a timestamp at or after it (``-1`` when there is none)."""
        tps = [_tp(p) for p in partitions]
        got = self._native.offsets_for_times([(t.topic, t.partition, t.offset) for t in tps], timeout)
        return [TopicPartition(t.topic, t.partition, offset) for t, (offset, _ts) in zip(tps, got)]

    def _fire(self) -> None:
        try:
            for kind, parts in self._native.take_events():
                tps = [TopicPartition(t, p) for t, p in parts]
                if kind == "assign":
                    cb = self._on_assign
                elif kind == "revoke":
                    cb = self._on_revoke
                else:
                    cb = self._on_lost or self._on_revoke
                if cb is not None:
                    cb(self, tps)
        finally:
            # The group waits for this: the rebalance goes on.
            self._native.events_done()

    def _read(self, count: int, timeout: Optional[float], fill: bool) -> List[Message]:
        """Up to ``count`` records within ``timeout`` (``None``: no limit), running rebalance
        callbacks as their events arrive. The native read returns early when an event is
        queued; the wait goes on after the callback, as confluent-kafka's ``poll`` does, because
        a newly assigned partition hands out nothing until its ``on_assign`` has run."""
        deadline = None if timeout is None else time.monotonic() + timeout
        out: List[Message] = []
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            out.extend(self._native.consume(count - len(out), left, fill))
            self._fire()
            if len(out) >= count or (out and not fill):
                return out
            if deadline is not None and time.monotonic() >= deadline:
                return out

    def poll(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The next record, or ``None`` if none arrived within ``timeout`` seconds."""
        got = self._read(1, timeout, False)
        return got[0] if got else None

    def consume(self, num_messages: int = 1, timeout: Optional[float] = None) -> List[Message]:
        """Up to ``num_messages`` records: returns when that many arrived or ``timeout`` ran out."""
        return self._read(num_messages, timeout, True)

    def consume_batch(self, max_messages: int = 10000, timeout: Optional[float] = None) -> List[Message]:
        """Up to ``max_messages`` records, as soon as at least one is there (or ``[]`` after
        ``timeout``): the throughput path, one call into the native client."""
        return self._read(max_messages, timeout, False)

    def __iter__(self) -> Iterator[Message]:
        """Records forever (Ctrl+C or ``close()`` from another thread ends it). Each step takes
        one record from the native consumer, so leaving the loop leaves nothing taken: position,
        ``commit()`` and the commit on close cover exactly the records the loop yielded."""
        while True:
            try:
                got = self._read(1, None, False)
            except KafkaError as e:
                if e.name == "_DESTROY":
                    return
                raise
            if got:
                yield got[0]

    def close(self, timeout: Optional[float] = None) -> None:
        """Leaves the group (committing processed offsets when auto-commit is on) and stops.
        ``on_revoke`` runs here, before the consumer is closed, so a commit in it succeeds."""
        while not self._native.close(timeout):
            self._fire()
        self._fire()

    def __enter__(self) -> "Consumer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AdminClient(AdminSurface):
    """Administers topics, configs, consumer groups, records, ACLs and SCRAM users
    (confluent-kafka's names; the calls beyond topics are in ``odradek._admin``). Calls block
    (GIL released) up to ``timeout`` seconds and return their results."""

    def __init__(self, config: Config) -> None:
        self._native = _odradek.NativeAdmin(_config_pairs(config), oauth_cb=_oauth_cb(config))

    def create_topics(self, topics: Sequence[Union[NewTopic, str]], timeout: Optional[float] = 30.0) -> None:
        """Creates topics (a name alone takes the broker's defaults)."""
        specs = []
        for t in topics:
            nt = NewTopic(t) if isinstance(t, str) else t
            specs.append((nt.topic, nt.num_partitions, nt.replication_factor, _config_pairs(nt.config)))
        self._native.create_topics(specs, timeout)

    def delete_topics(self, topics: Sequence[str], timeout: Optional[float] = 30.0) -> None:
        """Deletes topics."""
        self._native.delete_topics(list(topics), timeout)

    def create_partitions(self, topic: str, total: int, timeout: Optional[float] = 30.0) -> None:
        """Grows ``topic`` to ``total`` partitions."""
        self._native.create_partitions(topic, total, timeout)

    def list_topics(self, timeout: Optional[float] = 30.0) -> Dict[str, int]:
        """Every topic with its partition count."""
        return dict(self._native.list_topics(timeout))

    def close(self) -> None:
        """Nothing to release (kept for symmetry with the other clients)."""

    def __enter__(self) -> "AdminClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
