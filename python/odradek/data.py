"""Reading a topic range into a ``pyarrow.Table`` or a pandas ``DataFrame``.

Needs the optional extras: ``pip install odradek[arrow]`` (or ``[pandas]``). The records are
read with a manually assigned consumer (no group, nothing committed).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence

from . import _odradek
from ._client import OFFSET_BEGINNING, Consumer, TopicPartition
from .errors import KafkaTimeoutError

if TYPE_CHECKING:  # pragma: no cover
    import pandas  # type: ignore[import-untyped,unused-ignore]
    import pyarrow  # type: ignore[import-untyped,unused-ignore]

__all__ = ["read_topic_range", "read_topic_dataframe"]


def read_topic_range(
    config: Mapping[str, Any],
    topic: str,
    partitions: Optional[Sequence[int]] = None,
    start: int = OFFSET_BEGINNING,
    end: Optional[int] = None,
    timeout: float = 60.0,
) -> "pyarrow.Table":
    """Records of ``topic`` with offsets in [``start``, ``end``) as a ``pyarrow.Table``.

    ``partitions`` defaults to every partition; ``start`` is an offset or ``OFFSET_BEGINNING``;
    ``end`` defaults to each partition's high watermark when the call starts. Columns:
    ``partition`` (int32), ``offset`` (int64), ``timestamp`` (timestamp[ms, UTC]), ``key`` and
    ``value`` (binary, null for null), ``headers`` (list of struct<name: string, value: binary>).
    """
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

    cfg = {k: v for k, v in config.items() if k not in ("group.id", "enable.auto.commit")}
    consumer = Consumer(cfg)
    try:
        if partitions is None:
            from ._client import AdminClient

            count = AdminClient(cfg).list_topics(timeout).get(topic)
            if count is None:
                raise ValueError(f"topic {topic!r} does not exist")
            partitions = list(range(count))
        ends: Dict[int, int] = {}
        starts: Dict[int, int] = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout)
            first = low if start == OFFSET_BEGINNING else max(start, low)
            last = high if end is None else min(end, high)
            if first < last:
                starts[p], ends[p] = first, last
        cols: Dict[str, List[Any]] = {k: [] for k in ("partition", "offset", "timestamp", "key", "value", "headers")}
        if starts:
            consumer.assign([TopicPartition(topic, p, o) for p, o in starts.items()])
            remaining = {p: ends[p] - starts[p] for p in starts}
            deadline = time.monotonic() + timeout
            while any(n > 0 for n in remaining.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise KafkaTimeoutError(
                        f"read_topic_range: {sum(remaining.values())} records still missing after {timeout} s",
                        code=_odradek.LOCAL_ERRORS["_TIMED_OUT"], name="_TIMED_OUT", retriable=True)
                for m in consumer.consume_batch(10000, min(left, 1.0)):
                    p = m.partition
                    if p not in ends or m.offset >= ends[p]:
                        continue
                    remaining[p] -= 1
                    cols["partition"].append(p)
                    cols["offset"].append(m.offset)
                    cols["timestamp"].append(m.timestamp)
                    cols["key"].append(m.key)
                    cols["value"].append(m.value)
                    cols["headers"].append([{"name": n, "value": v} for n, v in m.headers])
        schema = pa.schema([
            ("partition", pa.int32()),
            ("offset", pa.int64()),
            ("timestamp", pa.timestamp("ms", tz="UTC")),
            ("key", pa.binary()),
            ("value", pa.binary()),
            ("headers", pa.list_(pa.struct([("name", pa.string()), ("value", pa.binary())]))),
        ])
        table = pa.Table.from_pydict(cols, schema=schema)
        return table.sort_by([("partition", "ascending"), ("offset", "ascending")])
    finally:
        consumer.close()


def read_topic_dataframe(
    config: Mapping[str, Any],
    topic: str,
    partitions: Optional[Sequence[int]] = None,
    start: int = OFFSET_BEGINNING,
    end: Optional[int] = None,
    timeout: float = 60.0,
) -> "pandas.DataFrame":
    """:func:`read_topic_range` as a pandas ``DataFrame`` (needs pandas and pyarrow)."""
    return read_topic_range(config, topic, partitions, start, end, timeout).to_pandas()
