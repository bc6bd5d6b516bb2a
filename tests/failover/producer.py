"""A rate-limited idempotent acks=all producer for the fail-over suite, with either confluent-kafka
(librdkafka) or our Python binding. Prints one JSON line per record once its delivery is known:
key, value, monotonic time `t`, and partition/offset or the error name.

    producer.py --client rdkafka|odradek --bootstrap B --topic T --rate R --seconds S

SIGTERM ends the sending early (then flushes and reports as at the end of S seconds).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

KEYS = 12


def config(bootstrap: str, delivery_timeout: int) -> dict:
    return {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "delivery.timeout.ms": delivery_timeout,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", choices=["rdkafka", "odradek"], required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--delivery-timeout", type=int, default=8000)
    args = ap.parse_args()
    out_lock = threading.Lock()

    def emit(obj: dict) -> None:
        line = json.dumps(obj)
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    if args.client == "rdkafka":
        import confluent_kafka

        producer = confluent_kafka.Producer(config(args.bootstrap, args.delivery_timeout))

        def send(key: str, value: str) -> None:
            def done(err, msg) -> None:
                report = {"key": key, "value": value, "t": time.monotonic()}
                if err is None:
                    report.update(partition=msg.partition(), offset=msg.offset())
                else:
                    # confluent-kafka does not expose librdkafka's persistence status.
                    report.update(partition=msg.partition(), error=err.name(), possibly_persisted=None)
                emit(report)

            while True:
                try:
                    producer.produce(args.topic, value.encode(), key=key.encode(), on_delivery=done)
                    return
                except BufferError:
                    producer.poll(0.01)

        def pump(timeout: float) -> None:
            producer.poll(timeout)

        def finish() -> None:
            producer.flush(60)
    else:
        import odradek

        producer = odradek.Producer(config(args.bootstrap, args.delivery_timeout))

        def send(key: str, value: str) -> None:
            def done(err, report) -> None:
                line = {"key": key, "value": value, "t": time.monotonic()}
                if err is None:
                    line.update(partition=report.partition, offset=report.offset)
                else:
                    line.update(partition=err.partition, error=err.name,
                                possibly_persisted="may have been written" in str(err))
                emit(line)

            producer.produce(args.topic, value.encode(), key=key.encode(), on_delivery=done)

        def pump(timeout: float) -> None:
            time.sleep(timeout)

        def finish() -> None:
            producer.flush(60)
            producer.close()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    emit({"started": time.monotonic()})
    start = time.monotonic()
    sent = 0
    seq = [0] * KEYS
    while True:
        now = time.monotonic()
        if now - start >= args.seconds or stop.is_set():
            break
        due = int((now - start) * args.rate)
        while sent < due:
            k = sent % KEYS
            send(f"k{k}", f"k{k}:{seq[k]}")
            seq[k] += 1
            sent += 1
        pump(0.005)
    finish()
    emit({"finished": time.monotonic(), "sent": sent})
    return 0


if __name__ == "__main__":
    sys.exit(main())
