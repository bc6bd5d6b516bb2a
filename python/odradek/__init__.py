"""Odradek: a Kafka client with a Rust core.

- :class:`Producer`, :class:`Consumer`, :class:`AdminClient`: the synchronous clients, in
  confluent-kafka's shape; every blocking call releases the GIL, honours its timeout and is
  interrupted by Ctrl+C.
- :mod:`odradek.aio`: native asyncio clients, in aiokafka's shape.
- :mod:`odradek.testing`: ``Broker()``, a Kafka-compatible broker in-process for tests.
- :mod:`odradek.data`: a topic range as a ``pyarrow.Table`` or pandas ``DataFrame``.
- :mod:`odradek.errors`: :class:`KafkaError` and its subclasses.

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
from ._odradek import __version__
from .errors import (
    AbortableError,
    ConfigError,
    FatalError,
    KafkaError,
    KafkaTimeoutError,
    PermanentError,
    RetriableError,
)

__all__ = [
    "__version__",
    "Producer",
    "Consumer",
    "AdminClient",
    "NewTopic",
    "TopicPartition",
    "ConsumerGroupMetadata",
    "DeliveryFuture",
    "DeliveryReport",
    "Message",
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
