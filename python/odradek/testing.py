"""Test helpers: :class:`Broker`, the Rust broker in-process for your own tests, and
:class:`Cluster`, an N-node cluster whose nodes your tests kill, restart and isolate.

>>> from odradek.testing import Broker
>>> with Broker() as broker:  # doctest: +SKIP
...     p = Producer({"bootstrap.servers": broker.bootstrap_servers})

No Docker, no JVM: it listens on 127.0.0.1 on an ephemeral port and keeps its data in a
temporary directory that ``stop()`` removes. :meth:`Broker.sasl_ssl` starts one that only speaks
SASL_SSL (TLS with its own CA, SCRAM-SHA-256/512), and :meth:`Broker.config` gives the client
settings that reach it.

>>> from odradek.testing import Cluster
>>> with Cluster(nodes=3) as cluster:  # doctest: +SKIP
...     cluster.create_topic("orders", partitions=1)  # replication factor 3
...     p = Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all"})
...     cluster.kill(cluster.leader("orders", 0))  # the producer fails over by itself
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from . import _odradek
from ._client import AdminClient, NewTopic, _config_pairs

__all__ = ["Broker", "Cluster", "config_setting"]


class _InProcess:
    """What :class:`Broker` and :class:`Cluster` share: a native handle stopped once, by
    :meth:`stop`, the end of a ``with`` block, or garbage collection."""

    _native: Any = None

    def stop(self) -> None:
        """Stops the broker (every node of a cluster, abruptly) and removes its data.
        Idempotent."""
        if self._native is not None:
            self._native.stop()
            self._native = None

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:
        try:
            self.stop()
        except Exception:
            pass


class Broker(_InProcess):
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
        _create_topics(self.config(), topics)

    def __enter__(self) -> "Broker":
        return self


class Cluster(_InProcess):
    """A cluster of ``nodes`` brokers (ids ``1..nodes``) running inside this process, each a
    controller of the metadata quorum, for tests of fail-over handling: :meth:`kill`,
    :meth:`restart`, :meth:`isolate` and :meth:`heal` a node by id, :meth:`leader` to find
    whom to hit.

    Timings are fast for tests: a node that stops heartbeating is fenced after 2 s
    (``broker.session.timeout.ms=2000``, ``broker.heartbeat.interval.ms=200``,
    ``replica.lag.time.max.ms=2000``) and its leaderships move; ``default.replication.factor``
    is ``min(nodes, 3)``. ``properties`` (Kafka broker properties) override them. The
    constructor returns once every node is registered. Use it as a context manager, or call
    :meth:`stop`, which also removes the data.
    """

    def __init__(self, nodes: int = 3, properties: Optional[Mapping[str, Any]] = None) -> None:
        self._native: Optional[_odradek.NativeCluster] = _odradek.NativeCluster(
            nodes, _config_pairs(properties or {}))
        self._nodes = nodes

    def _cluster(self) -> _odradek.NativeCluster:
        if self._native is None:
            raise RuntimeError("the cluster was stopped")
        return self._native

    @property
    def bootstrap_servers(self) -> str:
        """``host:port,...`` of every running node. A restarted node keeps its port when it
        is free, so a list taken earlier stays valid."""
        return self._cluster().bootstrap_servers()

    def node_ids(self) -> List[int]:
        """Every node id, running or not."""
        return self._cluster().node_ids()

    def kill(self, node_id: int) -> None:
        """Stops the node abruptly (no flush; its connections drop). Its data stays."""
        self._cluster().kill(node_id)

    def restart(self, node_id: int) -> None:
        """Starts the node again on its data and port (a running node is killed first);
        returns once it is registered again. It catches up as a follower."""
        self._cluster().restart(node_id)

    def isolate(self, node_id: int) -> None:
        """A network partition: the node keeps running, its connections close, and no
        client, peer or controller traffic reaches it or leaves it until :meth:`heal`."""
        self._cluster().isolate(node_id)

    def heal(self, node_id: int) -> None:
        """Reconnects an isolated node."""
        self._cluster().heal(node_id)

    def leader(self, topic: str, partition: int) -> Optional[int]:
        """The partition's leader in the newest metadata a connected node has (``None``: no
        leader now, or no such partition). It names a killed leader until its lease lapses."""
        return self._cluster().leader(topic, partition)

    def config(self, **extra: Any) -> Dict[str, Any]:
        """A client config for this cluster, with ``extra`` properties."""
        return {"bootstrap.servers": self.bootstrap_servers, **extra}

    def create_topic(self, name: str, partitions: int = 1,
                     config: Optional[Mapping[str, str]] = None,
                     replication_factor: Optional[int] = None) -> None:
        """Creates a topic, by default replicated on ``min(nodes, 3)`` nodes."""
        factor = replication_factor or min(self._nodes, 3)
        _create_topics(self.config(), [NewTopic(name, partitions, factor, dict(config or {}))])

    def __enter__(self) -> "Cluster":
        return self


def _create_topics(config: Dict[str, Any], topics: Sequence[NewTopic]) -> None:
    admin = AdminClient(config)
    try:
        admin.create_topics(topics)
    finally:
        admin.close()


def config_setting(key: str, value: Any) -> Optional[str]:
    """The property string the core makes of ``value`` for ``key`` (``None``: the key is not
    set), or the :class:`odradek.ConfigError` it raises: the coercion every client config goes
    through, the same in every binding."""
    return _odradek.config_setting(key, value)
