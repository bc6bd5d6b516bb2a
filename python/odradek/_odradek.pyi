"""Type stubs of the native module (Rust, pyo3). Use the wrappers in ``odradek``; these are
the building blocks they call."""

from typing import Any, Callable, Dict, List, Optional, Tuple

__version__: str
OFFSET_BEGINNING: int
OFFSET_END: int
OFFSET_STORED: int
OFFSET_INVALID: int
LOCAL_ERRORS: Dict[str, int]
ERROR_CLASSES: List[str]

def set_log_level(level: int) -> None: ...

class DeliveryReport:
    """Where a record was written."""

    @property
    def topic(self) -> str:
        """Topic."""
    @property
    def partition(self) -> int:
        """Partition."""
    @property
    def offset(self) -> int:
        """Offset (-1 with acks=0)."""
    @property
    def timestamp(self) -> int:
        """Timestamp in ms since the epoch (create time, or the broker's append time)."""

class Message:
    """A record read from Kafka."""

    @property
    def topic(self) -> str:
        """Topic."""
    @property
    def partition(self) -> int:
        """Partition."""
    @property
    def offset(self) -> int:
        """Offset."""
    @property
    def timestamp(self) -> int:
        """Timestamp in ms since the epoch."""
    @property
    def timestamp_type(self) -> str:
        """``"create"`` or ``"log_append"``."""
    @property
    def key(self) -> Optional[bytes]:
        """Key, ``None`` for a null key."""
    @property
    def value(self) -> Optional[bytes]:
        """Value, ``None`` for a null value."""
    @property
    def headers(self) -> List[Tuple[str, Optional[bytes]]]:
        """Headers in order, duplicates kept."""
    def __len__(self) -> int: ...

class NativeProducer:
    def __init__(
        self,
        config: List[Tuple[str, str]],
        callback: Callable[[Any], Any],
        event_loop: Any = None,
        oauth_cb: Optional[Callable[[str], Any]] = None,
    ) -> None: ...
    def send(
        self,
        topic: str,
        value: Any,
        key: Any,
        headers: Any,
        partition: Optional[int],
        timestamp_ms: Optional[int],
        token: Any,
    ) -> None: ...
    def send_batch(
        self, topic: str, values: Any, keys: Any, partition: Optional[int], token: Any
    ) -> None: ...
    def flush(self, timeout: Optional[float] = None) -> int: ...
    def flush_async(
        self, close: bool, callback: Callable[[Optional[BaseException]], Any], event_loop: Any = None
    ) -> None: ...
    def close(self, timeout: Optional[float] = None) -> int: ...
    def metrics(self) -> Dict[str, int]: ...
    def init_transactions(self, timeout: Optional[float] = None) -> None: ...
    def begin_transaction(self) -> None: ...
    def send_offsets_to_transaction(
        self,
        offsets: List[Tuple[str, int, int]],
        group: Tuple[str, int, str, Optional[str]],
        timeout: Optional[float] = None,
    ) -> None: ...
    def end_transaction(self, commit: bool, timeout: Optional[float] = None) -> None: ...
    def init_transactions_async(
        self, callback: Callable[[Optional[BaseException]], Any], event_loop: Any
    ) -> None: ...
    def send_offsets_to_transaction_async(
        self,
        offsets: List[Tuple[str, int, int]],
        group: Tuple[str, int, str, Optional[str]],
        callback: Callable[[Optional[BaseException]], Any],
        event_loop: Any,
    ) -> None: ...
    def end_transaction_async(
        self, commit: bool, callback: Callable[[Optional[BaseException]], Any], event_loop: Any
    ) -> None: ...

class NativeConsumer:
    def __init__(
        self, config: List[Tuple[str, str]], oauth_cb: Optional[Callable[[str], Any]] = None
    ) -> None: ...
    def subscribe(self, topics: List[str]) -> None: ...
    def assign(self, partitions: List[Tuple[str, int, int]], timeout: Optional[float] = None) -> None: ...
    def unassign(self) -> None: ...
    def assignment(self) -> List[Tuple[str, int]]: ...
    def group_metadata(self) -> Optional[Tuple[str, int, str, Optional[str]]]: ...
    def seek(self, topic: str, partition: int, offset: int) -> None: ...
    def position(self, topic: str, partition: int) -> Optional[int]: ...
    def pause(self, partitions: List[Tuple[str, int]]) -> None: ...
    def resume(self, partitions: List[Tuple[str, int]]) -> None: ...
    def consume(self, max: int, timeout: Optional[float] = None, fill: bool = True) -> List[Message]: ...
    def wait_async(
        self, timeout_ms: Optional[int], callback: Callable[[Any], Any], event_loop: Any
    ) -> None: ...
    def take_events(self) -> List[Tuple[str, List[Tuple[str, int]]]]: ...
    def events_done(self) -> None: ...
    def wake_on_events(self, callback: Callable[[None], Any], event_loop: Any) -> None: ...
    def commit(
        self, offsets: Optional[List[Tuple[str, int, int]]] = None, timeout: Optional[float] = None
    ) -> None: ...
    def commit_async(
        self,
        offsets: Optional[List[Tuple[str, int, int]]],
        callback: Callable[[Optional[BaseException]], Any],
        event_loop: Any,
    ) -> None: ...
    def committed(
        self, partitions: List[Tuple[str, int]], timeout: Optional[float] = None
    ) -> List[Optional[int]]: ...
    def committed_async(
        self, partitions: List[Tuple[str, int]], callback: Callable[[Any], Any], event_loop: Any
    ) -> None: ...
    def watermarks(self, topic: str, partition: int, timeout: Optional[float] = None) -> Tuple[int, int]: ...
    def close(self, timeout: Optional[float] = None) -> bool: ...
    def close_async(self, callback: Callable[[Optional[BaseException]], Any], event_loop: Any) -> None: ...

class ShareMessage(Message):
    """A record handed out by a share consumer."""

    @property
    def delivery_count(self) -> int:
        """1 the first time the record is delivered, 2 after one release or lock timeout, ..."""

class NativeShareConsumer:
    def __init__(
        self, config: List[Tuple[str, str]], oauth_cb: Optional[Callable[[str], Any]] = None
    ) -> None: ...
    def subscribe(self, topics: List[str]) -> None: ...
    def assignment(self) -> List[Tuple[str, int]]: ...
    def poll(self, timeout: Optional[float] = None) -> List[ShareMessage]: ...
    def acknowledge(self, topic: str, partition: int, offset: int, kind: int) -> None: ...
    def commit_sync(self, timeout: Optional[float] = None) -> None: ...
    def commit_async(self) -> None: ...
    def close(self, timeout: Optional[float] = None) -> None: ...

class NativeAdmin:
    def __init__(
        self, config: List[Tuple[str, str]], oauth_cb: Optional[Callable[[str], Any]] = None
    ) -> None: ...
    def create_topics(
        self, topics: List[Tuple[str, int, int, List[Tuple[str, str]]]], timeout: Optional[float] = None
    ) -> None: ...
    def delete_topics(self, topics: List[str], timeout: Optional[float] = None) -> None: ...
    def create_partitions(self, topic: str, total: int, timeout: Optional[float] = None) -> None: ...
    def list_topics(self, timeout: Optional[float] = None) -> List[Tuple[str, int]]: ...

class NativeBroker:
    def __init__(self, properties: List[Tuple[str, str]]) -> None: ...
    @staticmethod
    def sasl_ssl(username: str, password: str, properties: List[Tuple[str, str]]) -> "NativeBroker": ...
    @property
    def bootstrap_servers(self) -> str: ...
    @property
    def ca_pem(self) -> Optional[str]: ...
    def stop(self) -> None: ...
