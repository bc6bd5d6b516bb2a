#!/usr/bin/env python3
"""Two builds of odradek-broker, side by side, on the produce cells a broker change touches.

    bench/broker_ab.py BEFORE_BIN AFTER_BIN [--reps 4] [--clients librdkafka,franz-go]
                       [--cells 100:lz4,1024:lz4,...] [--acks all]

Both brokers run at once; every cell alternates them (order swapped each repetition), so load
that changes during the run weighs on both alike. Prints one Markdown row per cell and client:
records/s median [min–max] and the broker's CPU seconds per million records (user+sys of the
broker process over the produce, summed over the repetitions), then after ÷ before. The peers
are the harness's (bench/run.py builds them into $ODRADEK_CACHE/bench/bin).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CACHE = os.environ.get("ODRADEK_CACHE", os.path.expanduser("~/.cache/odradek"))
PEERS = {
    "librdkafka": os.path.join(CACHE, "bench", "bin", "rdk-peer"),
    "franz-go": os.path.join(CACHE, "bench", "bin", "franz-peer"),
}
COUNT = {100: 1000000, 1024: 300000}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Broker:
    def __init__(self, name, binary, workdir):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.log = open(os.path.join(self.dir, "broker.log"), "wb")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--data-dir", self.dir + "/data"],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode().strip()
        if not line:
            sys.exit("%s printed no address; see %s/broker.log" % (name, self.dir))
        self.bootstrap = line.split()[-1]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def produce(peer, broker, topic, size, comp, acks):
    cmd = [PEERS[peer], "produce", "--bootstrap", broker.bootstrap, "--topic", topic,
           "--count", str(COUNT[size]), "--size", str(size), "--acks", acks,
           "--compression", comp, "--linger-ms", "5", "--batch-size", "65536"]
    before = cpu_seconds(broker.proc.pid)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    cpu = cpu_seconds(broker.proc.pid) - before
    if out.returncode != 0:
        sys.exit("%s failed on %s: %s" % (peer, broker.name, out.stderr[-2000:]))
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return r["records"] / r["seconds"], cpu


def human(x):
    return "%.2fM" % (x / 1e6) if x >= 1e6 else "%.0fk" % (x / 1e3)


def table(results, cells, clients, acks):
    lines = ["| size | acks | compression | client | before | after | after ÷ before (median) |",
             "|---|---|---|---|---|---|---|"]
    for size, comp in cells:
        for peer in clients:
            row = []
            medians = []
            for name in ("before", "after"):
                runs = results[(size, comp, peer, name)]
                rates = [r for r, _ in runs]
                cpu_per_m = sum(c for _, c in runs) / (len(runs) * COUNT[size]) * 1e6
                medians.append(statistics.median(rates))
                row.append("%s [%s–%s] · %.2f" % (human(medians[-1]), human(min(rates)),
                                                  human(max(rates)), cpu_per_m))
            label = "100 B" if size == 100 else "1 KiB"
            lines.append("| %s | %s | %s | %s | %s | %s | %.2f× |" % (
                label, acks, comp, peer, row[0], row[1], medians[1] / medians[0]))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--reps", type=int, default=4)
    ap.add_argument("--clients", default="librdkafka,franz-go")
    ap.add_argument("--cells", default="100:none,100:lz4,100:zstd,1024:none,1024:lz4,1024:zstd")
    ap.add_argument("--acks", default="all")
    ap.add_argument("--out", help="also rewrite the table into this file after each repetition")
    args = ap.parse_args()
    cells = [(int(s), c) for s, c in (x.split(":") for x in args.cells.split(","))]
    clients = args.clients.split(",")
    work = tempfile.mkdtemp(prefix="broker-ab-")
    brokers = [Broker("before", args.before, work), Broker("after", args.after, work)]
    results = {}
    try:
        for peer in clients:  # warm-up: page cache, allocator, connections
            for b in brokers:
                produce(peer, b, "warmup-%s" % peer, 100, "lz4", args.acks)
        for rep in range(args.reps):
            for size, comp in cells:
                for peer in clients:
                    order = brokers if rep % 2 == 0 else brokers[::-1]
                    for b in order:
                        topic = "ab-%d-%s-%s-%d" % (size, comp, peer, rep)
                        rate, cpu = produce(peer, b, topic, size, comp, args.acks)
                        results.setdefault((size, comp, peer, b.name), []).append((rate, cpu))
            print("rep %d done" % (rep + 1), file=sys.stderr)
            if args.out:
                with open(args.out, "w") as f:
                    f.write(table(results, cells, clients, args.acks) + "\n")
    finally:
        for b in brokers:
            b.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(table(results, cells, clients, args.acks))


if __name__ == "__main__":
    main()
