"""Benchmark peer on the odradek Python binding: produce and consume, same command line and JSON
line as bench/peers/confluent_python/peer.py (see bench/README.md).

Produce uses the binding's throughput path, produce_batch (one call into Rust per 10,000
records); ODRADEK_PEER_PRODUCE=single uses one produce() per record with a delivery future each,
as an application sending records one by one would. Consume uses consume(n, timeout), the call
confluent-kafka's peer makes (consume(num_messages=n, timeout=0.1)): both return when n records
arrived or the timeout ran out, so both clocks start at the same point (after the first full
call), in the same measurement window. ODRADEK_PEER_CONSUME=batch uses consume_batch (returns
as soon as anything arrived; its clock starts after the first fetch, not the first 10,000
records).
"""

import argparse
import json
import os
import random
import sys
import time

import odradek

POOL = 1 << 20
CHUNK = 10000


def payload_pool(n):
    rng = random.Random(0x9E3779B9)
    return bytes(rng.randrange(26) + 65 for _ in range(n))


def client():
    return "odradek-python %s" % odradek.__version__


def emit(**kv):
    kv["client"] = client()
    print(json.dumps(kv), flush=True)


def run_produce(o):
    pool = payload_pool(POOL)
    values = [pool[off : off + o.size] for off in range(0, POOL - o.size, 4099)]
    nvals = len(values)
    p = odradek.Producer(
        {
            "bootstrap.servers": o.bootstrap,
            "acks": "-1" if o.acks == "all" else o.acks,
            "compression.type": o.compression,
            "linger.ms": o.linger_ms,
            "batch.size": o.batch_size,
            "batch.num.messages": 1000000,
            "enable.idempotence": False,
            "max.in.flight.requests.per.connection": 5,
            "queue.buffering.max.messages": 1000000,
            "queue.buffering.max.kbytes": 1048576,
        }
    )
    single = os.environ.get("ODRADEK_PEER_PRODUCE") == "single"
    t0 = time.perf_counter()
    futures = []
    if single:
        for i in range(o.count):
            futures.append(p.produce(o.topic, values[i % nvals]))
    else:
        for start in range(0, o.count, CHUNK):
            n = min(CHUNK, o.count - start)
            futures.append(p.produce_batch(o.topic, [values[(start + j) % nvals] for j in range(n)]))
    failed = [f.exception() for f in futures if f.exception() is not None]
    elapsed = time.perf_counter() - t0
    p.close()
    if failed:
        sys.exit("odradek-python peer: delivery failed: %r" % failed[0])
    emit(records=o.count, bytes=o.count * o.size, seconds=elapsed)


def run_consume(o):
    c = odradek.Consumer(
        {
            "bootstrap.servers": o.bootstrap,
            "fetch.min.bytes": 1,
            "max.partition.fetch.bytes": 1048576,
            "fetch.max.bytes": 52428800,
        }
    )
    c.assign([odradek.TopicPartition(o.topic, 0, 0)])
    read = c.consume_batch if os.environ.get("ODRADEK_PEER_CONSUME") == "batch" else c.consume
    n = nbytes = 0
    t0 = None
    deadline = time.perf_counter() + 300
    while n < o.count:
        if time.perf_counter() > deadline:
            sys.exit("odradek-python peer: consume timed out after 300 s")
        for m in read(min(10000, o.count - n), 0.1):
            if n == 0:
                t0 = time.perf_counter()
            n += 1
            nbytes += len(m.value)
    elapsed = time.perf_counter() - t0
    c.close()
    emit(records=n, bytes=nbytes, seconds=elapsed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["produce", "consume"])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--acks", default="1")
    ap.add_argument("--compression", default="none")
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--linger-ms", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=65536)
    o = ap.parse_args()
    {"produce": run_produce, "consume": run_consume}[o.mode](o)


if __name__ == "__main__":
    main()
