"""A topic range as a pyarrow Table and a pandas DataFrame."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

import odradek
from odradek.data import read_topic_dataframe, read_topic_range
from conftest import Kafka


def test_read_topic_range(kafka: Kafka) -> None:
    topic = kafka.topic(2)
    p = odradek.Producer(kafka.config())
    for i in range(50):
        p.produce(topic, f"v-{i}".encode(), f"k-{i}".encode(), headers=[("n", str(i).encode())],
                  partition=i % 2, timestamp_ms=1_700_000_000_000 + i)
    p.produce(topic, None, b"tombstone", partition=0)
    assert p.flush(30) == 0
    p.close()

    table = read_topic_range(kafka.config(), topic)
    assert isinstance(table, pa.Table)
    assert table.num_rows == 51
    assert table.column_names == ["partition", "offset", "timestamp", "key", "value", "headers"]
    rows = table.to_pylist()
    assert rows[0]["partition"] == 0 and rows[0]["offset"] == 0 and rows[0]["key"] == b"k-0"
    assert rows[0]["headers"] == [{"name": "n", "value": b"0"}]
    assert rows[25]["value"] is None and rows[25]["key"] == b"tombstone"
    assert rows[26]["partition"] == 1 and rows[26]["value"] == b"v-1"

    part = read_topic_range(kafka.config(), topic, partitions=[1], start=5, end=10)
    assert part.column("offset").to_pylist() == [5, 6, 7, 8, 9]
    assert part.column("value").to_pylist() == [f"v-{i}".encode() for i in range(11, 21, 2)]

    df = read_topic_dataframe(kafka.config(), topic, partitions=[0], end=3)
    assert isinstance(df, pd.DataFrame)
    assert list(df["key"]) == [b"k-0", b"k-2", b"k-4"]
    assert str(df["timestamp"].iloc[1]) == "2023-11-14 22:13:20.002000+00:00"
