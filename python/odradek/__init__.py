"""Odradek: a Kafka client with a Rust core.

- :class:`Producer`, :class:`Consumer`, :class:`AdminClient`: the synchronous clients, in
  confluent-kafka's shape; every blocking call releases the GIL, honours its timeout and is
  interrupted by Ctrl+C.
- :mod:`odradek.aio`: native asyncio clients, in aiokafka's shape.
- :mod:`odradek.testing`: ``Broker()``, a Kafka-compatible broker in-process for tests.
- :mod:`odradek.data`: a topic range as a ``pyarrow.Table`` or pandas ``DataFrame``.
- :mod:`odradek.errors`: :class:`KafkaError` and its subclasses.
- Logs: the client's log records go to ``logging.getLogger("odradek")`` (WARNING and above
  unless :func:`set_log_level` says otherwise).

Config dicts use the librdkafka / Java property names (``bootstrap.servers``, ``linger.ms``,
``group.id``, ...), with the same defaults as every other Odradek binding.
"""

from ._client import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    OFFSET_STORED,
    AdminClient,
    Consumer,
    ConsumerGroupMetadata,
    DeliveryFuture,
    DeliveryReport,
    Message,
    NewTopic,
    Producer,
    TopicPartition,
)
from ._admin import (
    AclBinding,
    AclBindingFilter,
    ClusterDescription,
    ConfigEntry,
    ConfigResource,
    ConsumerGroupDescription,
    ConsumerGroupListing,
    MemberDescription,
    Node,
    PartitionLag,
    PartitionReassignment,
    ScramCredentialInfo,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from ._admin import __all__ as _admin_all
from ._share import AcknowledgeType, ShareConsumer, ShareMessage
import logging as _logging

from ._odradek import __version__
from ._odradek import set_log_level as _native_set_log_level
from .errors import (
    AbortableError,
    ConfigError,
    FatalError,
    KafkaError,
    KafkaTimeoutError,
    PermanentError,
    RetriableError,
)


def set_log_level(level: "int | None" = None) -> None:
    """Forwards the client's log records at ``level`` and above (a :mod:`logging` level:
    ``logging.DEBUG`` for protocol decisions, ``5`` for every request) to the ``odradek``
    logger; the Rust module that logged a record is in its ``odradek_target`` attribute.
    ``None``: the ``odradek`` logger's effective level now. A level above ERROR stops
    forwarding. Records are formatted only at the chosen level and above, so DEBUG costs the
    client time; WARNING, the default, costs nothing until something goes wrong."""
    if level is None:
        level = _logging.getLogger("odradek").getEffectiveLevel()
    _native_set_log_level(level)


try:
    set_log_level()
except Exception as _e:  # another tracing subscriber in this process keeps the records
    import warnings as _warnings

    _warnings.warn(f"odradek: client logs are not forwarded to logging: {_e}", stacklevel=1)

__all__ = [
    "__version__",
    "set_log_level",
    "Producer",
    "Consumer",
    "AdminClient",
    "NewTopic",
    "TopicPartition",
    "ConsumerGroupMetadata",
    "DeliveryFuture",
    "DeliveryReport",
    "Message",
    "ShareConsumer",
    "ShareMessage",
    "AcknowledgeType",
    "OFFSET_BEGINNING",
    "OFFSET_END",
    "OFFSET_STORED",
    "OFFSET_INVALID",
    "KafkaError",
    "RetriableError",
    "PermanentError",
    "AbortableError",
    "FatalError",
    "ConfigError",
    "KafkaTimeoutError",
]
__all__ += _admin_all
