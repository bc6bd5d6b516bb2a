"""Test helpers: :class:`Broker`, the Rust broker in-process for your own tests.

>>> from odradek.testing import Broker
>>> with Broker() as broker:  # doctest: +SKIP
...     p = Producer({"bootstrap.servers": broker.bootstrap_servers})

No Docker, no JVM: it listens on 127.0.0.1 on an ephemeral port and keeps its data in a
temporary directory that ``stop()`` removes.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

from . import _odradek
from ._client import AdminClient, NewTopic, _config_pairs

__all__ = ["Broker"]


class Broker:
    """A Kafka-compatible broker running inside this process.

    ``properties`` are Kafka broker properties (``num.partitions``, ``auto.create.topics.enable``,
    ...). Use it as a context manager, or call :meth:`stop`.
    """

    def __init__(self, properties: Optional[Mapping[str, Any]] = None) -> None:
        self._native: Optional[_odradek.NativeBroker] = _odradek.NativeBroker(_config_pairs(properties or {}))
        self.bootstrap_servers: str = self._native.bootstrap_servers
        """``host:port`` for ``bootstrap.servers``."""

    def config(self, **extra: Any) -> Dict[str, Any]:
        """A client config for this broker, with ``extra`` properties (dots as underscores are
        not translated: pass a dict to clients for dotted names)."""
        out: Dict[str, Any] = {"bootstrap.servers": self.bootstrap_servers}
        out.update(extra)
        return out

    def create_topic(self, name: str, partitions: int = 1, config: Optional[Mapping[str, str]] = None) -> None:
        """Creates a topic (replication factor 1)."""
        self.create_topics([NewTopic(name, partitions, 1, dict(config or {}))])

    def create_topics(self, topics: Sequence[NewTopic]) -> None:
        """Creates topics."""
        AdminClient({"bootstrap.servers": self.bootstrap_servers}).create_topics(topics)

    def stop(self) -> None:
        """Stops the broker and removes its data. Idempotent."""
        if self._native is not None:
            self._native.stop()
            self._native = None

    def __enter__(self) -> "Broker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:
        try:
            self.stop()
        except Exception:
            pass
