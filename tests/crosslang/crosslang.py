#!/usr/bin/env python3
"""Cross-language byte-identity test (issue 9): records produced by one binding are read back,
byte for byte, by the others.

Each peer is a program with two commands (see README.md here):
  produce BOOTSTRAP TOPIC RECORDS_JSON   sends records.json's records, in order, to partition 0
  consume BOOTSTRAP TOPIC COUNT          prints one JSON line per record:
                                         {"offset":N,"key":HEX|null,"value":HEX|null,"headers":[[NAME,HEX|null],...]}
The Rust side is the `odradek` CLI (`odradek consume --format json`), adapted here.

Usage: crosslang.py --odradek PATH --peer NAME=COMMAND... --pair PRODUCER:CONSUMER,CONSUMER...
Every pair given runs; a peer that is named but missing fails the test (nothing is skipped).
Stdlib only.
"""
import argparse
import base64
import json
import os
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


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


def hexof(b):
    return None if b is None else b.hex()


def expected(records_path):
    with open(records_path, encoding="utf-8") as f:
        doc = json.load(f)
    out = []
    for i, r in enumerate(doc["records"]):
        out.append({
            "offset": i,
            "key": hexof(spec_bytes(r.get("key"))),
            "value": hexof(spec_bytes(r.get("value"))),
            "headers": [[h[0], hexof(spec_bytes(h[1]))] for h in r.get("headers", [])],
        })
    return out


def run(cmd, timeout=120):
    print("+ " + " ".join(shlex.quote(c) for c in cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
    return p.stdout.decode("utf-8")


def rust_consume(odradek, bootstrap, topic, count):
    out = run([odradek, "consume", "-b", bootstrap, "-t", topic, "-p", "0", "-o", "beginning",
               "-c", str(count), "--format", "json"])
    lines = []
    for line in out.splitlines():
        r = json.loads(line)

        def field(obj, name):
            if obj.get(name + "_base64") is not None:
                return base64.b64decode(obj[name + "_base64"]).hex()
            return None if obj.get(name) is None else obj[name].encode("utf-8").hex()

        lines.append({
            "offset": r["offset"],
            "key": field(r, "key"),
            "value": field(r, "value"),
            "headers": [[h["key"], field(h, "value")] for h in r["headers"]],
        })
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--odradek", required=True, help="the odradek CLI (broker, topics, Rust consumer)")
    ap.add_argument("--peer", action="append", default=[], help="NAME=COMMAND (split like a shell)")
    ap.add_argument("--pair", action="append", default=[], help="PRODUCER:CONSUMER[,CONSUMER...]")
    args = ap.parse_args()
    peers = {}
    for p in args.peer:
        name, _, cmd = p.partition("=")
        peers[name] = shlex.split(cmd)
    records = os.path.join(HERE, "records.json")
    want = expected(records)

    data = tempfile.mkdtemp(prefix="odradek-crosslang-")
    broker = subprocess.Popen([args.odradek, "broker", "--listen", "127.0.0.1:0", "--data-dir", data],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    failures = 0
    try:
        bootstrap = broker.stdout.readline().decode().strip().split()[-1]
        print(f"broker at {bootstrap}", file=sys.stderr)
        for n, pair in enumerate(args.pair):
            producer, _, consumers = pair.partition(":")
            topic = f"crosslang-{n}-{producer}"
            run([args.odradek, "topics", "create", "-b", bootstrap, "-t", topic, "-p", "1"])
            if producer not in peers:
                raise RuntimeError(f"no peer named {producer}")
            run(peers[producer] + ["produce", bootstrap, topic, records])
            for consumer in consumers.split(","):
                if consumer == "rust":
                    got = rust_consume(args.odradek, bootstrap, topic, len(want))
                elif consumer in peers:
                    got = [json.loads(l) for l in run(peers[consumer] + ["consume", bootstrap, topic, str(len(want))]).splitlines()]
                else:
                    raise RuntimeError(f"no peer named {consumer}")
                if got == want:
                    print(f"ok: {producer} -> {consumer}: {len(got)} records byte-identical", file=sys.stderr)
                else:
                    failures += 1
                    print(f"FAIL: {producer} -> {consumer}", file=sys.stderr)
                    for i, (g, w) in enumerate(zip(got, want)):
                        if g != w:
                            print(f"  record {i}: got {json.dumps(g)[:300]}\n  want {json.dumps(w)[:300]}", file=sys.stderr)
                    if len(got) != len(want):
                        print(f"  got {len(got)} records, want {len(want)}", file=sys.stderr)
    finally:
        broker.terminate()
        broker.wait(timeout=30)
        subprocess.run(["rm", "-rf", data])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
