"""The share consumer (KIP-932, share groups): Java's ``KafkaShareConsumer`` in the shape of
the other synchronous clients."""

from __future__ import annotations

import enum
from typing import List, Optional, Sequence

from . import _odradek
from ._client import Config, TopicPartition, _config_pairs, _oauth_cb
from ._odradek import ShareMessage

__all__ = ["AcknowledgeType", "ShareConsumer", "ShareMessage"]


class AcknowledgeType(enum.IntEnum):
    """What became of a record a :class:`ShareConsumer` handed out."""

    ACCEPT = 1
    """Processed: never delivered again."""
    RELEASE = 2
    """Not processed: delivered again (to any member), its ``delivery_count`` one higher."""
    REJECT = 3
    """Cannot be processed: never delivered again."""


class ShareConsumer:
    """A member of a share group (``group.id`` required): members read the same partitions and
    the broker hands each record to one member at a time, which acknowledges it.

    >>> c = ShareConsumer({"bootstrap.servers": "127.0.0.1:9092", "group.id": "workers"})
    >>> c.subscribe(["jobs"])  # doctest: +SKIP
    >>> for message in c.poll(1.0):  # doctest: +SKIP
    ...     if message.value is None:
    ...         c.acknowledge(message, AcknowledgeType.REJECT)

    With ``share.acknowledgement.mode`` ``implicit`` (the default) the records not acknowledged
    are accepted at the next ``poll`` or ``commit_sync``; with ``explicit`` every record must be
    acknowledged before the next ``poll``. Every blocking call releases the GIL.
    """

    def __init__(self, config: Config) -> None:
        self._native = _odradek.NativeShareConsumer(_config_pairs(config), oauth_cb=_oauth_cb(config))

    def subscribe(self, topics: Sequence[str]) -> None:
        """Subscribes to ``topics`` (replacing the previous subscription)."""
        self._native.subscribe(list(topics))

    def assignment(self) -> List[TopicPartition]:
        """The partitions the coordinator assigned to this member now."""
        return [TopicPartition(t, p) for t, p in self._native.assignment()]

    def poll(self, timeout: Optional[float] = None) -> List[ShareMessage]:
        """Records that arrive within ``timeout`` seconds (empty after it; ``None``: waits until
        some arrive). The acknowledgements of the records handed out before travel with it."""
        return self._native.poll(timeout)

    def acknowledge(self, message: ShareMessage, type: AcknowledgeType = AcknowledgeType.ACCEPT) -> None:
        """Settles a record this consumer handed out; sent with the next ``poll`` or commit. A
        record acknowledged already raises :class:`odradek.KafkaError`."""
        self._native.acknowledge(message.topic, message.partition, message.offset, int(type))

    def commit_sync(self, timeout: Optional[float] = None) -> None:
        """Sends the pending acknowledgements now and waits for the answers; raises the first
        partition's error."""
        self._native.commit_sync(timeout)

    def commit_async(self) -> None:
        """Sends the pending acknowledgements in the background (a failure is logged)."""
        self._native.commit_async()

    def close(self, timeout: Optional[float] = None) -> None:
        """Leaves the share group: explicit acknowledgements are sent, records handed out and not
        acknowledged are released. Calling it twice is harmless."""
        self._native.close(timeout)

    def __enter__(self) -> "ShareConsumer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
