#!/usr/bin/env python3
"""The Python peer of the cross-language test (README.md here), on the `odradek` package:

    python_peer.py produce BOOTSTRAP TOPIC RECORDS_JSON
    python_peer.py consume BOOTSTRAP TOPIC COUNT
"""
import json
import sys
import time

import odradek


def spec_bytes(spec):
    if spec is None:
        return None
    if isinstance(spec, str):
        return spec.encode("utf-8")
    if set(spec) == {"hex"}:
        return bytes.fromhex(spec["hex"])
    if set(spec) == {"repeat", "count"}:
        return (spec["repeat"] * spec["count"]).encode("utf-8")
    raise ValueError(f"not a bytes value: {spec!r}")


def produce(bootstrap, topic, path):
    with open(path, encoding="utf-8") as f:
        records = json.load(f)["records"]
    with odradek.Producer({"bootstrap.servers": bootstrap, "linger.ms": "0"}) as p:
        futures = [
            p.produce(topic, spec_bytes(r.get("value")), key=spec_bytes(r.get("key")),
                      headers=[(h[0], spec_bytes(h[1])) for h in r.get("headers", [])], partition=0)
            for r in records
        ]
        for f in futures:
            f.result(timeout=60)


def field(m, name):
    """A Message field, whether the binding exposes it as a method or as a property."""
    v = getattr(m, name)
    return v() if callable(v) else v


def consume(bootstrap, topic, count):
    hexof = lambda b: None if b is None else b.hex()  # noqa: E731
    with odradek.Consumer({"bootstrap.servers": bootstrap}) as c:
        c.assign([odradek.TopicPartition(topic, 0, odradek.OFFSET_BEGINNING)])
        deadline = time.monotonic() + 30
        n = 0
        while n < count:
            if time.monotonic() > deadline:
                sys.exit(f"read {n} of {count} records within 30 s")
            m = c.poll(1.0)
            if m is None:
                continue
            n += 1
            print(json.dumps({"offset": field(m, "offset"), "key": hexof(field(m, "key")),
                              "value": hexof(field(m, "value")),
                              "headers": [[k, hexof(v)] for k, v in field(m, "headers")]}))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "produce":
        produce(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 5 and sys.argv[1] == "consume":
        consume(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("usage: python_peer.py produce BOOTSTRAP TOPIC RECORDS_JSON | consume BOOTSTRAP TOPIC COUNT")
