#!/usr/bin/env python3
"""TLS throughput: Odradek's Rust client and librdkafka (C), produce and consume, over Apache
Kafka 4.3.1's PLAINTEXT and SSL (mutual TLS) listeners of one node
(scripts/apache-kafka.sh secure-start), the clients alternating, the order rotated per rep.

    bench/tls.py [--records N] [--reps R]

Builds what it needs first: the release `odradek-peer` (cargo build --release -p
odradek-bench) and `rdk-peer` (bench/peers/librdkafka/peer.c against the system librdkafka,
into $ODRADEK_CACHE/bench/bin, as bench/run.py builds it). Both peers take the security settings from
BENCH_CLIENT_CONFIG, so they run with the same TLS settings. Prints a Markdown table of median
records/s, ours ÷ librdkafka, and TLS ÷ plaintext per client.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CACHE = os.environ.get("ODRADEK_CACHE", os.path.expanduser("~/.cache/odradek"))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(CACHE, "target"))
PEERS = {
    "odradek": [os.path.join(TARGET, "release", "odradek-peer")],
    "librdkafka": [os.path.join(CACHE, "bench", "bin", "rdk-peer")],
}


def run(peer, op, bootstrap, topic, count, extra):
    argv = PEERS[peer] + [op, "--bootstrap", bootstrap, "--topic", topic, "--count", str(count)]
    if op == "produce":
        argv += ["--size", "100", "--acks", "1", "--compression", "none", "--linger-ms", "5",
                 "--batch-size", "65536"]
    env = dict(os.environ, BENCH_CLIENT_CONFIG=extra)
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"{peer} {op} failed: {out.stderr.strip()[-500:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["records"] / result["seconds"]


def build_peers():
    """The release odradek-peer (a no-op when fresh) and, when missing, rdk-peer."""
    subprocess.run(["cargo", "build", "--release", "-p", "odradek-bench"], cwd=ROOT, check=True)
    rdk = PEERS["librdkafka"][0]
    if not os.path.exists(rdk):
        os.makedirs(os.path.dirname(rdk), exist_ok=True)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"], check=True,
                               capture_output=True, text=True).stdout.split()
        subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", rdk,
                        os.path.join(HERE, "peers", "librdkafka", "peer.c")] + flags + ["-lpthread"],
                       check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rdk-peer", help="the librdkafka peer binary (default: bench/run.py's)")
    args = ap.parse_args()
    if args.rdk_peer:
        PEERS["librdkafka"] = [args.rdk_peer]
    build_peers()
    for argv in PEERS.values():
        if not os.path.exists(argv[0]):
            raise SystemExit(f"missing {argv[0]}")
    work = tempfile.mkdtemp(prefix="odradek-tls-bench-")
    script = os.path.join(ROOT, "scripts", "apache-kafka.sh")
    out = subprocess.run([script, "secure-start", work], capture_output=True, text=True, check=True)
    listeners = dict(l.split("=", 1) for l in out.stdout.splitlines() if "=" in l)
    certs = os.path.join(work, "certs")
    transports = {
        "plaintext": (listeners["PLAINTEXT"], ""),
        "TLS": (listeners["SSL"], " ".join([
            "security.protocol=SSL",
            f"ssl.ca.location={certs}/ca.pem",
            f"ssl.certificate.location={certs}/client.pem",
            f"ssl.key.location={certs}/client.key",
        ])),
    }
    results = {}  # (peer, transport, op) -> [records/s]
    try:
        clients = list(PEERS)
        for rep in range(args.reps):
            order = clients[rep % 2:] + clients[:rep % 2]
            for transport, (bootstrap, extra) in transports.items():
                for peer in order:
                    topic = f"tls-bench-{uuid.uuid4().hex[:10]}"
                    for op in ("produce", "consume"):
                        rate = run(peer, op, bootstrap, topic, args.records, extra)
                        results.setdefault((peer, transport, op), []).append(rate)
                        print(f"rep {rep} {transport:9} {peer:10} {op:7} {rate:,.0f} records/s",
                              flush=True)
    finally:
        subprocess.run([script, "stop", work], check=False)
        shutil.rmtree(work, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in results.items()}
    print()
    print("| op | transport | Odradek (Rust) | librdkafka (C) | ours ÷ librdkafka |")
    print("|---|---|---|---|---|")
    for op in ("produce", "consume"):
        for transport in transports:
            ours, theirs = med[("odradek", transport, op)], med[("librdkafka", transport, op)]
            print(f"| {op} | {transport} | {ours/1000:,.0f}k/s | {theirs/1000:,.0f}k/s "
                  f"| {ours/theirs:.2f}× |")
    print()
    print("| op | Odradek TLS ÷ plaintext | librdkafka TLS ÷ plaintext |")
    print("|---|---|---|")
    for op in ("produce", "consume"):
        cells = [med[(p, "TLS", op)] / med[(p, "plaintext", op)] for p in ("odradek", "librdkafka")]
        print(f"| {op} | {cells[0]:.2f}× | {cells[1]:.2f}× |")


if __name__ == "__main__":
    main()
