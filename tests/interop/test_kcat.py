"""kcat (Debian's, on librdkafka 2.0.2) produces 100k keyed records with each codec and consumes
them back: every record in the partition librdkafka's default partitioner picked (CRC32 of the
key), in the order it was sent."""

from __future__ import annotations

import random
import string
import subprocess
import zlib

import pytest

from conftest import create_topics
from harness import CODEC_IDS, Record, assert_same_per_partition, batch_codecs

RECORDS = 100_000
PARTITIONS = 2
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
ALPHABET = (string.ascii_letters + string.digits + " .,;:!?-_/=+").encode()


def keyed_records(topic: str, seed: int) -> list[Record]:
    """Text keys and values (kcat's -K and -f work on text: no tab or newline inside)."""
    rng = random.Random(seed)
    out = []
    for i in range(RECORDS):
        key = b"key-%06d" % i
        value = b"value-%06d-" % i + bytes(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 120)))
        # librdkafka's default partitioner (consistent_random) is CRC32 of the key modulo partitions.
        out.append(Record(topic, zlib.crc32(key) % PARTITIONS, key, value))
    return out


def run(args: list[str], stdin: bytes | None = None) -> bytes:
    out = subprocess.run(["kcat", *args], input=stdin, capture_output=True, timeout=300)
    assert out.returncode == 0, f"kcat {' '.join(args)} exited {out.returncode}: {out.stderr.decode()[-3000:]}"
    return out.stdout


@pytest.mark.parametrize("codec", CODECS)
def test_kcat_round_trip(broker, codec):
    topic = f"kcat-{codec}"
    create_topics(broker.bootstrap, {topic: PARTITIONS})
    records = keyed_records(topic, seed=CODECS.index(codec))
    run(["-P", "-b", broker.bootstrap, "-t", topic, "-K", "\t", "-z", codec,
         "-X", "acks=all", "-X", "linger.ms=20"],
        stdin=b"".join(r.key + b"\t" + r.value + b"\n" for r in records))
    out = run(["-C", "-b", broker.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
               "-f", "%p\t%o\t%k\t%s\n"])
    read = []
    for line in out.split(b"\n")[:-1]:
        p, o, k, v = line.split(b"\t")
        read.append((Record(topic, int(p), k, v), int(o)))
    assert_same_per_partition(records, read, f"kcat {codec}")
    # kcat really compressed, and the broker stored the batches as received.
    codecs = set(batch_codecs(broker.bootstrap, topic, 0))
    assert codecs == {CODEC_IDS[codec]}, f"kcat -z {codec}: stored batches carry codecs {codecs}"
