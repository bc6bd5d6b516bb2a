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


@pytest.fixture(scope="module")
def kcat_topic(broker):
    """Produces each codec's topic with kcat once; both tests below look at it."""
    done: dict[str, list[Record]] = {}

    def produce(codec: str) -> tuple[str, list[Record]]:
        topic = f"kcat-{codec}"
        if codec not in done:
            create_topics(broker.bootstrap, {topic: PARTITIONS})
            records = keyed_records(topic, seed=CODECS.index(codec))
            run(["-P", "-b", broker.bootstrap, "-t", topic, "-K", "\t", "-z", codec,
                 "-X", "acks=all", "-X", "linger.ms=20"],
                stdin=b"".join(r.key + b"\t" + r.value + b"\n" for r in records))
            done[codec] = records
        return topic, done[codec]

    return produce


@pytest.mark.parametrize("codec", CODECS)
def test_kcat_round_trip(broker, kcat_topic, codec):
    topic, records = kcat_topic(codec)
    out = run(["-C", "-b", broker.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
               "-f", "%p\t%o\t%k\t%s\n"])
    read = []
    for line in out.split(b"\n")[:-1]:
        p, o, k, v = line.split(b"\t")
        read.append((Record(topic, int(p), k, v), int(o)))
    assert_same_per_partition(records, read, f"kcat {codec}")


@pytest.mark.parametrize("codec", CODECS)
def test_kcat_batches_compressed(broker, kcat_topic, codec):
    """kcat really used the codec, and the broker stored the batches as received. librdkafka
    sends gzip/snappy only if the broker lists Produce v0, lz4 only if it lists FindCoordinator."""
    topic, _ = kcat_topic(codec)
    for p in range(PARTITIONS):
        codecs = set(batch_codecs(broker.bootstrap, topic, p))
        assert codecs == {CODEC_IDS[codec]}, f"kcat -z {codec}: partition {p} batches carry codecs {codecs}"
