"""Our client through the `odradek` CLI, against third-party clients (issue 4).

- `odradek produce` writes keyed records with each codec; confluent-kafka and the Java client read
  them back exactly, each record in the partition the Java client's default partitioner (murmur2
  of the key) picks, in the order it was written.
- confluent-kafka and the Java client write the suite's data set (binary keys and values, nulls,
  headers) with each codec; `odradek consume --format json` reads every record back exactly.
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from clients import DEADLINE_S, ConfluentKafka, java_client
from conftest import create_topics
from harness import CACHE, CODEC_IDS, Record, assert_same_per_partition, batch_codecs, dataset

PARTITIONS = 3
RECORDS = 2000
REVERSE_RECORDS = 1000
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
HEADER = ("written-by", b"odradek")
WORDS = ["alpha", "beta", "gamma", "δέλτα", "epsilon", "żółw", "payload", "kafka", "=", ":", ",", "日本"]


@pytest.fixture(scope="module")
def odradek_bin() -> Path:
    binary = Path(os.environ.get("ODRADEK_CLI_BIN") or
                  Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target")) / "release" / "odradek")
    if not binary.exists():
        pytest.fail(f"no odradek CLI at {binary}; build it with cargo build --release -p odradek-cli", pytrace=False)
    return binary


def odradek(binary: Path, args: list[str], stdin: bytes | None = None) -> bytes:
    out = subprocess.run([str(binary), *args], input=stdin, capture_output=True, timeout=DEADLINE_S)
    assert out.returncode == 0, f"odradek {' '.join(args)} exited {out.returncode}: {out.stderr.decode()[-3000:]}"
    return out.stdout


def java_partition(key: bytes, partitions: int) -> int:
    """The Java client's default partition for a key: (murmur2(key) & 0x7fffffff) % partitions.
    Written out here so the test checks our partitioner against Java's, not against itself."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    h = (0x9747B28C ^ len(key)) & mask
    whole = len(key) - len(key) % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(key[i:i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = key[whole:]
    if tail:
        for i in reversed(range(len(tail))):
            h ^= tail[i] << (8 * i)
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


def text_records(topic: str, seed: int) -> list[Record]:
    """Keyed UTF-8 records (the CLI reads one record per line: no tab or newline inside)."""
    rng = random.Random(seed)
    out = []
    for i in range(RECORDS):
        key = f"key-{i % 700:04d}-{rng.choice(WORDS)}".encode()
        value = f"value-{i:06d} " .encode() + " ".join(rng.choice(WORDS) for _ in range(rng.randrange(0, 40))).encode()
        out.append(Record(topic, java_partition(key, PARTITIONS), key, value, (HEADER,)))
    return out


def _bytes(obj: dict, field: str) -> bytes | None:
    if obj.get(f"{field}_base64") is not None:
        return base64.b64decode(obj[f"{field}_base64"])
    return None if obj[field] is None else obj[field].encode()


def odradek_consume(binary: Path, bootstrap: str, topic: str) -> list[tuple[Record, int]]:
    out = odradek(binary, ["consume", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "--format", "json"])
    read = []
    for line in out.decode().splitlines():
        o = json.loads(line)
        headers = tuple((h["key"], _bytes(h, "value")) for h in o["headers"])
        read.append((Record(o["topic"], o["partition"], _bytes(o, "key"), _bytes(o, "value"), headers), o["offset"]))
    return read


@pytest.fixture(scope="module")
def ours_produced(broker, odradek_bin):
    """`odradek produce` writes one topic per codec."""
    topics = {f"ours-{codec}": PARTITIONS for codec in CODECS}
    create_topics(broker.bootstrap, topics)
    sent = {}
    for codec in CODECS:
        topic = f"ours-{codec}"
        records = text_records(topic, seed=CODECS.index(codec))
        odradek(odradek_bin, ["produce", "-b", broker.bootstrap, "-t", topic, "-k", "\t", "-z", codec, "-q",
                              "-H", f"{HEADER[0]}={HEADER[1].decode()}"],
                stdin=b"".join(r.key + b"\t" + r.value + b"\n" for r in records))
        sent[codec] = records
    return sent


@pytest.fixture(scope="module")
def java_read_ours(broker, ours_produced):
    """The Java client reads every codec's topic in one run (one JVM start)."""
    return java_client().consume(broker.bootstrap, {f"ours-{codec}": PARTITIONS for codec in CODECS})


@pytest.mark.parametrize("codec", CODECS)
def test_confluent_reads_ours(broker, ours_produced, codec):
    topic = f"ours-{codec}"
    read = ConfluentKafka().consume(broker.bootstrap, {topic: PARTITIONS})
    assert_same_per_partition(ours_produced[codec], read, f"odradek produce -z {codec} -> confluent-kafka")


@pytest.mark.parametrize("codec", CODECS)
def test_java_reads_ours(ours_produced, java_read_ours, codec):
    topic = f"ours-{codec}"
    read = [(r, o) for r, o in java_read_ours if r.topic == topic]
    assert_same_per_partition(ours_produced[codec], read, f"odradek produce -z {codec} -> java")


@pytest.mark.parametrize("codec", CODECS)
def test_our_batches_carry_the_codec(broker, ours_produced, codec):
    for p in range(PARTITIONS):
        codecs = set(batch_codecs(broker.bootstrap, f"ours-{codec}", p))
        assert codecs == {CODEC_IDS[codec]}, f"odradek produce -z {codec}: partition {p} batches carry {codecs}"


PRODUCERS = {"confluent": ConfluentKafka, "java": java_client}
REVERSE = [(name, codec) for name in PRODUCERS for codec in CODECS]


@pytest.mark.parametrize(("producer", "codec"), REVERSE, ids=[f"{p}-{c}" for p, c in REVERSE])
def test_ours_reads_theirs(broker, odradek_bin, producer, codec):
    topic = f"to-ours-{producer}-{codec}"
    create_topics(broker.bootstrap, {topic: PARTITIONS})
    records = dataset(topic, PARTITIONS, REVERSE_RECORDS, seed=REVERSE.index((producer, codec)))
    PRODUCERS[producer](codec).produce(broker.bootstrap, records)
    read = odradek_consume(odradek_bin, broker.bootstrap, topic)
    assert_same_per_partition(records, read, f"{producer} -z {codec} -> odradek consume")
