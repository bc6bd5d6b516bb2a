"""The exception hierarchy: every error of the client is a :class:`KafkaError`.

``KafkaError`` carries ``code`` (Kafka's error code for broker errors, librdkafka's negative code
for local ones), ``name`` (``"UNKNOWN_TOPIC_OR_PARTITION"``, ``"_TIMED_OUT"``, ...), ``retriable``
and ``fatal``, and the ``topic`` / ``partition`` it is about and the ``broker`` it came from when
known. Its subclass says what a
caller can do about it:

- :class:`RetriableError`: transient; the same call may succeed later.
- :class:`PermanentError`: this request can never succeed as sent; the client stays usable.
  :class:`ConfigError` (also a ``ValueError``) is one: an unknown key or a bad value.
- :class:`AbortableError`: the current producer epoch must be aborted; the client stays usable.
- :class:`FatalError`: the client cannot continue (fenced, closed).

:class:`KafkaTimeoutError` (a ``RetriableError`` and a ``TimeoutError``) is raised when a call
runs out of time.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "KafkaError",
    "RetriableError",
    "PermanentError",
    "AbortableError",
    "FatalError",
    "ConfigError",
    "KafkaTimeoutError",
]


class KafkaError(Exception):
    """An error of the Kafka client, with Kafka's code and name."""

    code: int
    """Kafka's error code (broker errors) or librdkafka's negative code (local errors)."""
    name: str
    """Kafka's name for the code, or librdkafka's ``_NAME`` for a local error."""
    retriable: bool
    """Whether the same call may succeed if tried again."""
    fatal: bool
    """Whether the client that raised it can no longer be used."""
    topic: Optional[str]
    """The topic the error is about, when known."""
    partition: Optional[int]
    """The partition the error is about, when known."""
    broker: Optional[str]
    """The broker it came from (``"host:port"`` or ``"broker N"``), when known."""

    def __init__(
        self,
        message: str,
        *,
        code: int = -1,
        name: str = "UNKNOWN",
        retriable: bool = False,
        fatal: bool = False,
        topic: Optional[str] = None,
        partition: Optional[int] = None,
        broker: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.name = name
        self.retriable = retriable
        self.fatal = fatal
        self.topic = topic
        self.partition = partition
        self.broker = broker

    @property
    def message(self) -> str:
        """The human-readable message."""
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, code={self.code}, {self.message!r})"


class RetriableError(KafkaError):
    """Transient: the same call may succeed later (leader moved, timeout, connection lost)."""


class PermanentError(KafkaError):
    """This request can never succeed as sent (record too large, topic exists, bad config)."""


class AbortableError(KafkaError):
    """The current producer epoch or transaction must be aborted; the client stays usable."""


class FatalError(KafkaError):
    """The client cannot continue (fenced producer, authorization, closed client)."""


class ConfigError(PermanentError, ValueError):
    """A configuration key is unknown or its value is invalid (``_INVALID_CONFIG``)."""


class KafkaTimeoutError(RetriableError, TimeoutError):
    """A call did not finish within its timeout (``_TIMED_OUT``)."""


_BY_CLASS = {
    "retriable": RetriableError,
    "permanent": PermanentError,
    "abortable": AbortableError,
    "fatal": FatalError,
}


def _from_native(
    code: int,
    name: str,
    klass: str,
    message: str,
    topic: Optional[str],
    partition: Optional[int],
    broker: Optional[str],
) -> KafkaError:
    """Builds the exception for an error of the Rust core (called by the native module)."""
    cls: type[KafkaError]
    if name == "_INVALID_CONFIG":
        cls = ConfigError
    elif name == "_TIMED_OUT":
        cls = KafkaTimeoutError
    else:
        cls = _BY_CLASS.get(klass, PermanentError)
    return cls(
        message,
        code=code,
        name=name,
        retriable=klass == "retriable",
        fatal=klass == "fatal",
        topic=topic,
        partition=partition,
        broker=broker,
    )
