"""Benchmark peer on confluent-kafka (Python, bundled librdkafka): produce, consume, latency.

Same command line and JSON output as the other peers (see bench/README.md). CPU and RSS are
measured by the runner from outside the process.
"""

import argparse
import json
import random
import struct
import sys
import threading
import time

import confluent_kafka
from confluent_kafka import Consumer, Producer, TopicPartition

POOL = 1 << 20


def payload_pool(n):
    rng = random.Random(0x9E3779B9)
    return bytes(rng.randrange(26) + 65 for _ in range(n))


def client():
    return "confluent-kafka-python %s (librdkafka %s)" % (
        confluent_kafka.__version__,
        confluent_kafka.libversion()[0],
    )


def producer(o):
    return Producer(
        {
            "bootstrap.servers": o.bootstrap,
            "acks": "-1" if o.acks == "all" else o.acks,
            "compression.codec": o.compression,
            "linger.ms": o.linger_ms,
            "batch.size": o.batch_size,
            "batch.num.messages": 1000000,
            "enable.idempotence": False,
            "max.in.flight.requests.per.connection": 5,
            "queue.buffering.max.messages": 1000000,
            "queue.buffering.max.kbytes": 1048576,
        }
    )


def consumer(o):
    c = Consumer(
        {
            "bootstrap.servers": o.bootstrap,
            "group.id": "odradek-bench",
            "enable.auto.commit": False,
            "fetch.min.bytes": 1,
            "max.partition.fetch.bytes": 1048576,
            "fetch.max.bytes": 52428800,
        }
    )
    # Offset 0 (the topics are fresh): no ListOffsets round trip before the first fetch.
    c.assign([TopicPartition(o.topic, 0, 0)])
    return c


def emit(**kv):
    kv["client"] = client()
    print(json.dumps(kv), flush=True)


def run_produce(o):
    pool = payload_pool(POOL)
    values = [pool[off : off + o.size] for off in range(0, POOL - o.size, 4099)]
    p = producer(o)
    state = {"ok": 0, "failed": 0, "first": None}

    def done(err, _msg):
        if err is None:
            state["ok"] += 1
        else:
            state["failed"] += 1
            state["first"] = state["first"] or err

    nvals = len(values)
    t0 = time.perf_counter()
    for i in range(o.count):
        while True:
            try:
                p.produce(o.topic, values[i % nvals], on_delivery=done)
                break
            except BufferError:
                p.poll(0.001)
        if i & 1023 == 0:
            p.poll(0)
    while state["ok"] + state["failed"] < o.count:
        p.poll(0.01)
    elapsed = time.perf_counter() - t0
    if state["failed"]:
        sys.exit("confluent-kafka peer: delivery failed: %s" % state["first"])
    emit(records=o.count, bytes=o.count * o.size, seconds=elapsed)


def run_consume(o):
    c = consumer(o)
    n = nbytes = 0
    # Steady-state rate: the clock starts at the first record (not at assign/connect).
    t0 = None
    deadline = time.perf_counter() + 300
    while n < o.count:
        if time.perf_counter() > deadline:
            sys.exit("confluent-kafka peer: consume timed out after 300 s")
        for m in c.consume(num_messages=min(10000, o.count - n), timeout=0.1):
            if m.error():
                if m.error().code() == confluent_kafka.KafkaError._PARTITION_EOF:
                    continue
                sys.exit("confluent-kafka peer: consume: %s" % m.error())
            if n == 0:
                t0 = time.perf_counter()
            n += 1
            nbytes += len(m.value())
    elapsed = time.perf_counter() - t0
    c.close()
    emit(records=n, bytes=nbytes, seconds=elapsed)


def run_latency(o):
    if o.size < 8:
        sys.exit("confluent-kafka peer: --size must be at least 8")
    total = int(o.rate * o.seconds)
    p = producer(o)
    c = consumer(o)
    lat = []
    warm = threading.Event()
    stop = threading.Event()

    def consume_loop():
        while len(lat) < total and not stop.is_set():
            # poll() returns as soon as one record is there; consume(n) would wait to fill n.
            m = c.poll(0.05)
            now = time.perf_counter_ns()
            if m is not None and not m.error():
                (intended,) = struct.unpack_from("<q", m.value())
                if intended == 0:
                    warm.set()
                else:
                    lat.append(now - intended)

    th = threading.Thread(target=consume_loop)
    th.start()
    filler = payload_pool(o.size)[8:]
    deadline = time.monotonic() + 60
    while not warm.is_set():
        if time.monotonic() > deadline:
            stop.set()
            sys.exit("confluent-kafka peer: consumer saw no warm-up record in 60 s")
        p.produce(o.topic, struct.pack("<q", 0) + filler)
        p.poll(0.1)
    interval = 1_000_000_000 // o.rate
    start = time.perf_counter_ns() + 10_000_000
    for i in range(total):
        intended = start + i * interval
        while True:
            left = intended - time.perf_counter_ns()
            if left <= 0:
                break
            p.poll(0)
            if left > 200_000:
                time.sleep((left - 100_000) / 1e9)
        p.produce(o.topic, struct.pack("<q", intended) + filler)
    p.flush(60)
    th.join(30)
    stop.set()
    if len(lat) < total:
        sys.exit("confluent-kafka peer: not every record arrived within 30 s")
    c.close()
    lat.sort()

    def pct(q):
        return lat[int(q * (len(lat) - 1))] / 1000

    emit(
        records=len(lat),
        p50_us=pct(0.5),
        p99_us=pct(0.99),
        p999_us=pct(0.999),
        max_us=lat[-1] / 1000,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["produce", "consume", "latency"])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--acks", default="1")
    ap.add_argument("--compression", default="none")
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--linger-ms", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=65536)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=5)
    o = ap.parse_args()
    {"produce": run_produce, "consume": run_consume, "latency": run_latency}[o.mode](o)


if __name__ == "__main__":
    main()
