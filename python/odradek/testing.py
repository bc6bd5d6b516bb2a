"""Test helpers: :class:`Broker`, the Rust broker in-process for your own tests.

>>> from odradek.testing import Broker
>>> with Broker() as broker:  # doctest: +SKIP
...     p = Producer({"bootstrap.servers": broker.bootstrap_servers})

No Docker, no JVM: it listens on 127.0.0.1 on an ephemeral port and keeps its data in a
temporary directory that ``stop()`` removes. :meth:`Broker.sasl_ssl` starts one that only speaks
SASL_SSL (TLS with its own CA, SCRAM-SHA-256/512), and :meth:`Broker.config` gives the client
settings that reach it.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from . import _odradek
from ._client import AdminClient, NewTopic, _config_pairs

__all__ = ["Broker", "config_setting"]


class Broker:
    """A Kafka-compatible broker running inside this process.

    ``properties`` are Kafka broker properties (``num.partitions``, ``auto.create.topics.enable``,
    ...). Use it as a context manager, or call :meth:`stop`.
    """

    def __init__(self, properties: Optional[Mapping[str, Any]] = None,
                 _native: Optional[_odradek.NativeBroker] = None) -> None:
        self._native: Optional[_odradek.NativeBroker] = (
            _native or _odradek.NativeBroker(_config_pairs(properties or {})))
        self.bootstrap_servers: str = self._native.bootstrap_servers
        """``host:port`` for ``bootstrap.servers``."""
        self.ca_pem: Optional[str] = self._native.ca_pem
        """The CA certificate (PEM) of a :meth:`sasl_ssl` broker, for ``ssl.ca.pem``; else None."""
        self._credentials: Optional[Tuple[str, str]] = None

    @classmethod
    def sasl_ssl(cls, username: str, password: str,
                 properties: Optional[Mapping[str, Any]] = None) -> "Broker":
        """A broker whose one listener is SASL_SSL: TLS with a certificate for 127.0.0.1 /
        localhost signed by a CA made now (:attr:`ca_pem`), SCRAM-SHA-256 and SCRAM-SHA-512 with
        the user ``username``. ``properties`` are added (``sasl.enabled.mechanisms`` with
        ``OAUTHBEARER`` also accepts unsecured JWTs, for token-callback tests).

        >>> with Broker.sasl_ssl("alice", "alice-secret") as broker:  # doctest: +SKIP
        ...     p = Producer(broker.config())  # SASL_SSL, SCRAM-SHA-512, the CA, alice
        """
        native = _odradek.NativeBroker.sasl_ssl(username, password, _config_pairs(properties or {}))
        broker = cls(_native=native)
        broker._credentials = (username, password)
        return broker

    def config(self, **extra: Any) -> Dict[str, Any]:
        """A client config for this broker, with ``extra`` properties (dots as underscores are
        not translated: pass a dict to clients for dotted names). For a :meth:`sasl_ssl` broker
        it has ``security.protocol``, ``sasl.mechanism`` (SCRAM-SHA-512), the user and password
        and ``ssl.ca.pem``."""
        out: Dict[str, Any] = {"bootstrap.servers": self.bootstrap_servers}
        if self._credentials is not None and self.ca_pem is not None:
            out.update({"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                        "sasl.username": self._credentials[0],
                        "sasl.password": self._credentials[1], "ssl.ca.pem": self.ca_pem})
        out.update(extra)
        return out

    def create_topic(self, name: str, partitions: int = 1, config: Optional[Mapping[str, str]] = None) -> None:
        """Creates a topic (replication factor 1)."""
        self.create_topics([NewTopic(name, partitions, 1, dict(config or {}))])

    def create_topics(self, topics: Sequence[NewTopic]) -> None:
        """Creates topics."""
        admin = AdminClient(self.config())
        try:
            admin.create_topics(topics)
        finally:
            admin.close()

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


def config_setting(key: str, value: Any) -> Optional[str]:
    """The property string the core makes of ``value`` for ``key`` (``None``: the key is not
    set), or the :class:`odradek.ConfigError` it raises: the coercion every client config goes
    through, the same in every binding."""
    return _odradek.config_setting(key, value)
