#!/usr/bin/env python3
"""Turns bench results (results.jsonl + environment.json from run.py) into BENCHMARKS.md
tables and PNG plots.

    report.py --results DIR --markdown BENCHMARKS.md --plots bench/results [--no-plots]

Only the text between <!-- bench:start --> and <!-- bench:end --> in the markdown file is
replaced; other sections (e.g. the record batch micro-benchmark) are kept as they are.
"""

import argparse
import json
import os
import statistics
from collections import defaultdict

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
# Ours first once it exists; then the peers. The reference of the ratios is the first present.
ORDER = ["odradek", "librdkafka", "franz-go", "java", "confluent-python", "confluent-rust"]
LABEL = {
    "odradek": "Odradek (Rust)",
    "librdkafka": "librdkafka (C)",
    "franz-go": "franz-go",
    "java": "Java client",
    "confluent-python": "confluent-kafka (Python)",
    "confluent-rust": "confluent-kafka (Rust crate)",
}
# The peers that judge the broker targets (ours is shown too, but does not count towards them).
BROKER_PEERS = ("librdkafka", "franz-go")
BROKER_CLIENTS = ("librdkafka", "franz-go", "odradek")
BROKER_LABEL = {"odradek": "Odradek broker", "apache-kafka": "Apache Kafka 4.3.1"}


def load(results_dir):
    rows = []
    with open(os.path.join(results_dir, "results.jsonl")) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    with open(os.path.join(results_dir, "environment.json")) as f:
        env = json.load(f)
    return rows, env


def med(xs):
    return statistics.median(xs) if xs else None


def group(rows, **match):
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def clients_in(rows):
    present = {r["client"] for r in rows if "client" in r}
    return [c for c in ORDER if c in present] + sorted(present - set(ORDER))


def size_label(size):
    return "1 KiB" if size == 1024 else "%d B" % size


def fmt_rate(x):
    if x is None:
        return "–"
    if x >= 1e6:
        return "%.2fM" % (x / 1e6)
    if x >= 1e3:
        return "%.0fk" % (x / 1e3)
    return "%.0f" % x


def fmt_ratio(x):
    return "–" if x is None else "%.2f×" % x


class Stats:
    """Medians over repetitions for one broker section."""

    def __init__(self, rows, section, broker):
        self.rows = [r for r in rows if r.get("broker") == broker]
        self.section = section
        self.idle_cpu = {
            (c, op): med([r["cpu_s"] for r in group(self.rows, section=section + "-idle",
                                                       client=c, op=op)])
            for c in clients_in(self.rows) for op in ("produce", "consume")
        }

    def cell(self, client, op, **match):
        rs = group(self.rows, section=self.section, client=client, op=op, **match)
        if not rs:
            return None
        out = {"n": len(rs)}
        if op == "latency":
            done = [r for r in rs if not r.get("fell_behind")]
            if len(done) * 2 < len(rs):
                # Most repetitions could not sustain the rate: no percentile to show.
                return {"n": len(rs), "fell_behind": True}
            for k in ("p50_us", "p99_us", "p999_us", "ack_p50_us", "ack_p99_us", "ack_p999_us"):
                if all(k in r for r in done):
                    out[k] = med([r[k] for r in done])
            return out
        rps = [r["rps"] for r in rs]
        out.update(
            rps=med(rps), rps_min=min(rps), rps_max=max(rps),
            mibps=med([r["mibps"] for r in rs]), rss=med([r["rss_mb"] for r in rs]),
            cpu_m=med([r["cpu_s_per_m"] for r in rs]),
            broker_cpu_m=med([r["broker_cpu_s"] / r["records"] * 1e6 for r in rs]),
        )
        idle = self.idle_cpu.get((client, op)) or 0.0
        # CPU per million records net of the process's own start-up (JVM, interpreter, connect).
        out["cpu_net_m"] = med([max(r["cpu_s"] - idle, 0.0) / r["records"] * 1e6 for r in rs])
        return out


def pivot(stats, clients, op, cells, keys, fmt, title_cols):
    head = "| " + " | ".join(title_cols + [LABEL.get(c, c) for c in clients]) + " |"
    sep = "|" + "---|" * (len(title_cols) + len(clients))
    lines = [head, sep]
    for cell in cells:
        match = dict(zip(keys, cell))
        vals = [stats.cell(c, op, **match) for c in clients]
        label = [size_label(v) if k == "size" else str(v) for k, v in match.items()]
        lines.append("| " + " | ".join(label + [fmt(v) if v else "–" for v in vals]) + " |")
    return lines


def ratio_of(stats, a, b, op, cells, keys, field):
    """Median over cells of a[field]/b[field]."""
    rs = []
    for cell in cells:
        m = dict(zip(keys, cell))
        x, y = stats.cell(a, op, **m), stats.cell(b, op, **m)
        if x and y and x.get(field) and y.get(field):
            rs.append(x[field] / y[field])
    return med(rs)


def cells_of(rows, section, op, keys):
    seen = []
    for r in group(rows, section=section, op=op):
        c = tuple(r[k] for k in keys)
        if c not in seen:
            seen.append(c)
    return seen


def markdown(rows, env, plots_rel, notes):
    out = [START, ""]
    e = env["env"]
    out += [
        "Generated by `make bench` (`bench/run.py` then `bench/report.py`) on %s at commit `%s`, "
        "mode `%s`. **These are medians of %d repetitions on a noisy 2-core virtual machine** on "
        "which the broker and the client share the cores: read the ratios, not the absolute "
        "numbers. min–max across repetitions is shown in brackets." % (
            e["date"], e["commit"], env["mode"], env["config"]["reps"]),
        "",
        "- Machine: %s" % e["machine"],
        "- Peers: librdkafka %s (Debian, C API), %s, %s, Python %s; Java: %s" % (
            e["librdkafka (Debian)"], _version(rows, "franz-go"), _version(rows, "java"),
            e["python"], e["java"]),
        "- Producer settings, identical for every client (set explicitly): " + ", ".join(
            "%s=%s" % kv for kv in env["settings"].items() if kv[0] not in ("consumer", "values")),
        "- Consumer: " + env["settings"]["consumer"] + "; the clock starts at the first record.",
        "- Data: " + env["settings"]["values"] + "; %s records of 100 B, %s of 1 KiB per run." % (
            env["config"]["count"]["100"], env["config"]["count"]["1024"]),
        "- CPU = user+sys of the client process alone (wait4), per million records; *net* "
        "subtracts the same client's start-up run (connect, metadata, one record), which is "
        "about a second of CPU for the JVM. RSS = the client process's peak.",
        "- Latency: fixed rate, %d B values, acks=%s, linger.ms=%d, producer and consumer in one "
        "process; each record carries its *intended* send time, so a client that falls behind "
        "is charged for it (no coordinated omission)." % (
            env["latency"]["size"], env["latency"]["acks"], env["latency"]["linger_ms"]),
        "",
    ]
    st = Stats(rows, "clients", "apache-kafka")
    clients = clients_in(group(rows, section="clients"))
    ref = clients[0] if clients else None
    pc = cells_of(rows, "clients", "produce", ("size", "acks", "compression"))
    cc = cells_of(rows, "clients", "consume", ("size", "compression"))

    out += targets(rows, st, pc, cc)
    if clients:
        out += ["## Clients against Apache Kafka 4.3.1", ""]
        kp, kc = ("size", "acks", "compression"), ("size", "compression")
        if "odradek" in clients:
            out += ["### Headline: Odradek's Rust client ÷ each peer (median over the matrix cells)",
                    "", "records/s: above 1 means we are faster; CPU per record: below 1 means we "
                    "use less.", ""]
            pairs = [("odradek", c) for c in clients if c != "odradek"]
            first = "peer"
        else:
            out += ["### Headline: each client ÷ %s (median over the matrix cells)" %
                    LABEL.get(ref, ref), ""]
            pairs = [(c, ref) for c in clients]
            first = "client"
        out += ["| %s | produce records/s | produce CPU/record (net) | consume records/s | "
                "consume CPU/record (net) |" % first, "|---|---|---|---|---|"]
        for a, b in pairs:
            out.append("| %s | %s | %s | %s | %s |" % (
                LABEL.get(b if a == "odradek" else a),
                fmt_ratio(ratio_of(st, a, b, "produce", pc, kp, "rps")),
                fmt_ratio(ratio_of(st, a, b, "produce", pc, kp, "cpu_net_m")),
                fmt_ratio(ratio_of(st, a, b, "consume", cc, kc, "rps")),
                fmt_ratio(ratio_of(st, a, b, "consume", cc, kc, "cpu_net_m")),
            ))
        out += ["", "### Produce: records/s, median [min–max]", ""]
        out += pivot(st, clients, "produce", pc, ("size", "acks", "compression"),
                     lambda v: "%s [%s–%s] · %.0f MiB/s" % (
                         fmt_rate(v["rps"]), fmt_rate(v["rps_min"]), fmt_rate(v["rps_max"]),
                         v["mibps"]),
                     ["value", "acks", "compression"])
        out += ["", "### Produce: client CPU seconds per million records, net of start-up "
                "(total in brackets) · peak RSS", ""]
        out += pivot(st, clients, "produce", pc, ("size", "acks", "compression"),
                     lambda v: "%.2f (%.2f) · %.0f MiB" % (v["cpu_net_m"], v["cpu_m"], v["rss"]),
                     ["value", "acks", "compression"])
        out += ["", "![produce throughput](%s/produce.png)" % plots_rel, ""]
        out += ["### Consume from offset 0: records/s, median [min–max]", ""]
        out += pivot(st, clients, "consume", cc, ("size", "compression"),
                     lambda v: "%s [%s–%s] · %.0f MiB/s" % (
                         fmt_rate(v["rps"]), fmt_rate(v["rps_min"]), fmt_rate(v["rps_max"]),
                         v["mibps"]),
                     ["value", "compression"])
        out += ["", "### Consume: client CPU seconds per million records, net (total) · peak RSS", ""]
        out += pivot(st, clients, "consume", cc, ("size", "compression"),
                     lambda v: "%.2f (%.2f) · %.0f MiB" % (v["cpu_net_m"], v["cpu_m"], v["rss"]),
                     ["value", "compression"])
        out += ["", "![consume throughput](%s/consume.png)" % plots_rel, ""]
        rates = sorted({r["rate"] for r in group(rows, section="clients", op="latency")})
        out += ["### End-to-end latency at a fixed rate: p50 / p99 / p99.9 in ms", ""]
        out += pivot(st, clients, "latency", [(r,) for r in rates], ("rate",),
                     _lat, ["records/s"])
        out += ["", "![latency](%s/latency.png)" % plots_rel, ""]
    out += brokers(rows, plots_rel)
    out += bindings(rows)
    out += transactions(rows)
    out += replication(rows)
    out += sessions(rows)
    if notes:
        out += [notes.strip(), ""]
    out += ["Raw measurements: `bench/results/results.jsonl`; settings and versions: "
            "`bench/results/environment.json`.", "", END]
    return "\n".join(out)


def _version(rows, client):
    for r in rows:
        if r.get("client") == client and r.get("client_version"):
            return r["client_version"]
    return client


def broker_stats(rows):
    return {b: Stats(rows, "brokers", b) for b in ("odradek", "apache-kafka")}


def startup_rss(rows):
    su = {b: med([r["startup_s"] for r in group(rows, section="broker-startup", broker=b)])
          for b in ("odradek", "apache-kafka")}
    idle = {b: med([r["idle_rss_mb"] for r in group(rows, section="broker-startup", broker=b)])
            for b in ("odradek", "apache-kafka")}
    peak = {b: med([r["peak_rss_mb"] for r in group(rows, section="broker-rss", broker=b)])
            for b in ("odradek", "apache-kafka")}
    return su, idle, peak


def div(a, b):
    return a / b if a is not None and b else None


def targets(rows, st, pc, cc):
    """The targets of issue 6 with the measured ratio beside each."""
    bs = broker_stats(rows)
    su, _idle, peak = startup_rss(rows)
    keys_p, keys_c = ("size", "acks", "compression"), ("size", "compression")
    has_ours = bool(group(rows, section="clients", client="odradek"))
    cpu_p = ratio_of(st, "odradek", "librdkafka", "produce", pc, keys_p, "cpu_net_m") if has_ours else None
    cpu_c = ratio_of(st, "odradek", "librdkafka", "consume", cc, keys_c, "cpu_net_m") if has_ours else None
    bpc = cells_of(rows, "brokers", "produce", keys_p)
    tput = [ratio_between(bs, c, "produce", bpc, keys_p, "rps") for c in BROKER_PEERS]
    tput = med([t for t in tput if t is not None])
    rates = sorted({r["rate"] for r in group(rows, section="brokers", op="latency")})
    p99 = [ratio_between(bs, c, "latency", [(x,) for x in rates], ("rate",), "ack_p99_us")
           for c in BROKER_PEERS]
    p99 = med([t for t in p99 if t is not None])

    def verdict(x, goal, lower_is_better=True):
        if x is None:
            return "not measured yet"
        ok = x <= goal if lower_is_better else x >= goal
        return "**met**" if ok else "missed"

    return [
        "## Targets (issue 6) and where we stand", "",
        "| target | measured ratio | verdict |", "|---|---|---|",
        "| Rust client CPU per produced record ≤ 0.5× librdkafka's | %s | %s |" % (
            fmt_ratio(cpu_p), verdict(cpu_p, 0.5)),
        "| Rust client CPU per consumed record ≤ 0.5× librdkafka's | %s | %s |" % (
            fmt_ratio(cpu_c), verdict(cpu_c, 0.5)),
        python_target(rows),
        "| Broker produce throughput ≥ Apache Kafka's | %s | %s |" % (
            fmt_ratio(tput), verdict(tput, 1.0, lower_is_better=False)),
        "| Broker p99 produce latency (send → ack) ≤ 1/3 of Kafka's | %s | %s |" % (
            fmt_ratio(p99), verdict(p99, 1 / 3)),
        "| Broker RSS ≤ 1/10 of Kafka's (peak, after the broker runs) | %s | %s |" % (
            fmt_ratio(div(peak["odradek"], peak["apache-kafka"])),
            verdict(div(peak["odradek"], peak["apache-kafka"]), 0.1)),
        "| Broker start-up ≤ 1/20 of Kafka's | %s | %s |" % (
            fmt_ratio(div(su["odradek"], su["apache-kafka"])),
            verdict(div(su["odradek"], su["apache-kafka"]), 0.05)),
        "",
        "Ratios are ours ÷ theirs (median over the matrix cells and, for the broker, over the "
        "two peer clients librdkafka and franz-go). The broker latency ratio uses the p99 produce "
        "latency (intended send time to acknowledgement, acks=all) of the fixed-rate runs at every "
        "rate.",
        "",
    ]


def python_target(rows):
    ratios = binding_ratios(rows, "odradek-python", "confluent-python")
    if ratios is None:
        return ("| Python binding produce/consume throughput ≥ 2× confluent-kafka's | – | not "
                "measured (%s) |" % binding_missing(rows, "odradek-python", "confluent-python"))
    p, c = ratios["produce"], ratios["consume"]
    worst = min(x for x in (p, c) if x is not None) if (p or c) else None
    return ("| Python binding produce/consume throughput ≥ 2× confluent-kafka's | produce %s, "
            "consume %s | %s |" % (fmt_ratio(p), fmt_ratio(c),
                                   "**met**" if worst and worst >= 2 and p and c else
                                   ("missed" if worst else "not measured")))


# --------------------------------------------------------------------------- bindings

BINDING_CELLS = {"produce": ("size", "acks", "compression"), "consume": ("size", "compression")}


def binding_rows(rows, ours, theirs):
    return [r for r in rows if r.get("section") == "bindings" and r.get("pair") == [ours, theirs]]


def binding_missing(rows, ours, theirs):
    for r in rows:
        if (r.get("section") == "bindings-pair" and (r["ours"], r["theirs"]) == (ours, theirs)
                and not r["built"]):
            return "not built: " + r["why"]
    return "not in this run"


def binding_cell(rs, client, op, m):
    xs = [r for r in rs if r["client"] == client and r["op"] == op
          and all(r.get(k) == v for k, v in m.items())]
    if not xs:
        return None
    rps = [r["rps"] for r in xs]
    return {"rps": med(rps), "rps_min": min(rps), "rps_max": max(rps),
            "cpu_m": med([r["cpu_s_per_m"] for r in xs]), "rss": med([r["rss_mb"] for r in xs]),
            "version": xs[0].get("client_version", client)}


def binding_ratios(rows, ours, theirs):
    """Median over cells of ours ÷ theirs records/s, per op; None if the pair did not run."""
    rs = binding_rows(rows, ours, theirs)
    if not rs:
        return None
    out = {}
    for op, keys in BINDING_CELLS.items():
        ratios = []
        for cell in {tuple(r[k] for k in keys) for r in rs if r["op"] == op}:
            m = dict(zip(keys, cell))
            a, b = binding_cell(rs, ours, op, m), binding_cell(rs, theirs, op, m)
            if a and b and b["rps"]:
                ratios.append(a["rps"] / b["rps"])
        out[op] = med(ratios)
    return out


def binding_pairs(rows):
    seen = []
    for r in rows:
        if r.get("section") == "bindings-pair":
            p = (r["ours"], r["theirs"])
            if p not in seen:
                seen.append(p)
    return seen


def bindings(rows):
    pairs = binding_pairs(rows)
    if not pairs:
        return []
    out = ["## Bindings against the field's client in the same language (on Odradek's broker)", "",
           "Each pair runs alternately (order swapped every repetition) against one Odradek "
           "broker with the producer settings above. Ratios are ours ÷ theirs records/s, median "
           "over the cells: above 1 means our binding is faster.", "",
           "| our binding | the field's client | produce records/s | consume records/s |",
           "|---|---|---|---|"]
    for ours, theirs in pairs:
        r = binding_ratios(rows, ours, theirs)
        if r is None:
            out.append("| %s | %s | %s | |" % (ours, theirs, binding_missing(rows, ours, theirs)))
        else:
            out.append("| %s | %s | %s | %s |" % (ours, theirs, fmt_ratio(r["produce"]),
                                                    fmt_ratio(r["consume"])))
    detail = []
    for ours, theirs in pairs:
        rs = binding_rows(rows, ours, theirs)
        for op, keys in BINDING_CELLS.items():
            cells = []
            for r in rs:
                c = tuple(r[k] for k in keys)
                if r["op"] == op and c not in cells:
                    cells.append(c)
            for cell in cells:
                m = dict(zip(keys, cell))
                a, b = binding_cell(rs, ours, op, m), binding_cell(rs, theirs, op, m)
                detail.append("| %s | %s | %s | %s | %s | %s |" % (
                    op, " ".join(size_label(v) if k == "size" else "%s=%s" % (k, v)
                                 for k, v in m.items()),
                    "%s vs %s" % (ours, theirs), _bind(a), _bind(b),
                    fmt_ratio(div(a and a["rps"], b and b["rps"]))))
    if detail:
        out += ["", "records/s median [min–max] · client CPU s per million records · peak RSS:",
                "", "| op | cell | pair | ours | theirs | ratio |", "|---|---|---|---|---|---|"]
        out += detail
    versions = sorted({"%s: %s" % (r["client"], r["client_version"]) for r in rows
                       if r.get("section") == "bindings" and r.get("client_version")})
    if versions:
        out += ["", "Versions: " + "; ".join(versions) + "."]
    return out + [""]


TXN_CLIENTS = ("odradek", "librdkafka", "java")
TXN_LABEL = {"odradek": "Odradek (Rust)", "librdkafka": "librdkafka (C)", "java": "Java client"}


def txn_cell(rows, broker, client, **match):
    """Medians of one transactions cell; CPU also net of the client's start-up run of the same
    operation (produce: init_transactions and a one-record transaction; consume: one record)."""
    # A tiny run (quick mode) can finish within the peer's clock resolution: no rate.
    rs = [r for r in group(rows, section="transactions", broker=broker, client=client, **match)
          if r.get("rps")]
    if not rs:
        return None
    rps = [r["rps"] for r in rs]
    idle = med([r["cpu_s"] for r in group(rows, section="transactions-idle", broker=broker,
                                          client=client, op=match.get("op"))]) or 0.0
    return {"rps": med(rps), "rps_min": min(rps), "rps_max": max(rps),
            "seconds": med([r["seconds"] for r in rs]),
            "cpu_m": med([r["cpu_s_per_m"] for r in rs]),
            "cpu_net_m": med([max(r["cpu_s"] - idle, 0.0) / r["records"] * 1e6 for r in rs])}


def _rate3(x):
    """A rate with three significant figures (transactional rates of a few thousand per second
    would all read "3k" with fmt_rate)."""
    if x >= 1e6:
        return "%.3gM" % (x / 1e6)
    if x >= 1e3:
        return "%.3gk" % (x / 1e3)
    return "%.3g" % x


def transactions(rows):
    """The transactions section (issue 21): records/s and CPU per record of each client on both
    brokers, ours ÷ librdkafka and ours ÷ Java."""
    if not group(rows, section="transactions"):
        return []
    env = {r["when"]: r for r in group(rows, section="transactions-env")}
    start, end = env.get("start", {}), env.get("end", {})
    brokers = [b for b in ("odradek", "apache-kafka")
               if group(rows, section="transactions", broker=b)]
    cells = [("produce, transactions of %s records" % format(per, ","),
              {"op": "txn-produce", "txn_records": per})
             for per in sorted({r["txn_records"] for r in group(rows, section="transactions",
                                                               op="txn-produce")})]
    cells += [("consume, %s" % iso, {"op": "consume", "isolation": iso})
              for iso in ("read_committed", "read_uncommitted")
              if group(rows, section="transactions", isolation=iso)]
    settings = start.get("settings", {})
    out = ["## Transactions (issue 21)", "",
           "Run of %s at commit `%s`: %s per produce run, a topic of %s records to read, "
           "medians of %s repetitions; both brokers ran at once, alternating cell by cell with "
           "the clients' order rotated each repetition. Load average (1/5/15 min) on the shared "
           "2 cores: %s before, %s after." % (
               start.get("date", "?"), start.get("commit", "?"),
               ", ".join("%s records in transactions of %s" % (format(n, ","), format(int(k), ","))
                         for k, n in sorted(start.get("count", {}).items(),
                                            key=lambda kv: int(kv[0]))),
               format(start.get("fill", 0), ","),
               start.get("reps", "?"), "/".join(map(str, start.get("loadavg", []))) or "?",
               "/".join(map(str, end.get("loadavg", []))) or "?"),
           "",
           "- Clients: " + settings.get("clients", "?") + "; the same loop in each: begin, send "
           "K records, commit (the commit flushes).",
           "- Producer: " + settings.get("producer", "?") + ".",
           "- Consumer: " + settings.get("consume", "?") + ".",
           "", "records/s, median [min–max]; ratios of medians (above 1: ours is faster):", "",
           "| broker | cell | %s | ours ÷ librdkafka | ours ÷ Java |" % " | ".join(
               TXN_LABEL[c] for c in TXN_CLIENTS),
           "|---|---|---|---|---|---|---|"]
    for b in brokers:
        for label, m in cells:
            v = {c: txn_cell(rows, b, c, **m) for c in TXN_CLIENTS}
            out.append("| %s | %s | %s | %s | %s |" % (
                BROKER_LABEL[b], label, " | ".join(
                    "%s [%s–%s]" % (_rate3(x["rps"]), _rate3(x["rps_min"]),
                                    _rate3(x["rps_max"])) if x else "–"
                    for x in (v[c] for c in TXN_CLIENTS)),
                fmt_ratio(div(v["odradek"] and v["odradek"]["rps"],
                              v["librdkafka"] and v["librdkafka"]["rps"])),
                fmt_ratio(div(v["odradek"] and v["odradek"]["rps"],
                              v["java"] and v["java"]["rps"]))))
    out += ["", "Client CPU seconds per million records, net of a start-up run of the same "
            "operation (produce: init_transactions and a one-record transaction; consume: one "
            "record), total in brackets; ratios of the net figures, below 1: ours uses less:", "",
            "| broker | cell | %s | ours ÷ librdkafka | ours ÷ Java |" % " | ".join(
                TXN_LABEL[c] for c in TXN_CLIENTS),
            "|---|---|---|---|---|---|---|"]
    for b in brokers:
        for label, m in cells:
            v = {c: txn_cell(rows, b, c, **m) for c in TXN_CLIENTS}
            out.append("| %s | %s | %s | %s | %s |" % (
                BROKER_LABEL[b], label, " | ".join(
                    "%.2f (%.2f)" % (x["cpu_net_m"], x["cpu_m"]) if x else "–"
                    for x in (v[c] for c in TXN_CLIENTS)),
                fmt_ratio(div(v["odradek"] and v["odradek"]["cpu_net_m"],
                              v["librdkafka"] and v["librdkafka"]["cpu_net_m"])),
                fmt_ratio(div(v["odradek"] and v["odradek"]["cpu_net_m"],
                              v["java"] and v["java"]["cpu_net_m"]))))
    # read_committed against read_uncommitted: the time to read the same topic through.
    out += ["", "Cost of read_committed: time to read the topic through, read_committed ÷ "
            "read_uncommitted (median seconds; read_committed drops the aborted tenth):", "",
            "| broker | %s |" % " | ".join(TXN_LABEL[c] for c in TXN_CLIENTS),
            "|---|---|---|---|"]
    for b in brokers:
        ratios = []
        for c in TXN_CLIENTS:
            rc = txn_cell(rows, b, c, op="consume", isolation="read_committed")
            ru = txn_cell(rows, b, c, op="consume", isolation="read_uncommitted")
            ratios.append(fmt_ratio(div(rc and rc["seconds"], ru and ru["seconds"])))
        out.append("| %s | %s |" % (BROKER_LABEL[b], " | ".join(ratios)))
    versions = sorted({"%s: %s" % (TXN_LABEL.get(r["client"], r["client"]), r["client_version"])
                       for r in group(rows, section="transactions") if r.get("client_version")})
    if versions:
        out += ["", "Versions: " + "; ".join(versions) + "."]
    return out + [""]


REPL_CLIENTS = (("odradek", "Odradek (Rust)"), ("librdkafka", "librdkafka (C)"))


def _span(xs, fmt):
    """median [min–max] of xs, or "–"."""
    if not xs:
        return "–"
    if len(xs) == 1:
        return fmt(xs[0])
    return "%s [%s–%s]" % (fmt(med(xs)), fmt(min(xs)), fmt(max(xs)))


def _ms(x):
    return "%.1f" % x


def replication(rows):
    """The replication section (issue 22): RF 3, acks=all on 3-node clusters of both brokers,
    produce throughput, p99 latency at a fixed rate and the stall after a leader's SIGKILL."""
    if not group(rows, section="replication"):
        return []
    env = {r["when"]: r for r in group(rows, section="replication-env")}
    start, end = env.get("start", {}), env.get("end", {})
    settings, fo = start.get("settings", {}), start.get("failover", {})
    out = ["## Replication (issue 22)", "",
           "Run of %s at commit `%s`, %s repetition(s); the two clusters ran one after the other. "
           "Load average (1/5/15 min) on the shared 2 cores: %s before, %s after." % (
               start.get("date", "?"), start.get("commit", "?"), start.get("reps", "?"),
               "/".join(map(str, start.get("loadavg", []))) or "?",
               "/".join(map(str, end.get("loadavg", []))) or "?"),
           "",
           "- Topic: %s." % settings.get("topic", "?"),
           "- Producer: %s; produce: %s records per run." % (
               settings.get("producer", "?"), format(start.get("count", 0), ",")),
           "- Latency: %s records/s; produce p99 = acknowledgement − intended send time, "
           "end-to-end p99 = receipt by a consumer in the same process − intended send time."
           % format(start.get("rate", 0), ","),
           "- Failover: %s records/s for %s s, the leader killed %s s after the producer's "
           "launch; %s." % (fo.get("rate", "?"), fo.get("seconds", "?"),
                            fo.get("kill_after_s", "?"), settings.get("failover", "?")),
           "- Odradek: %s. Apache Kafka: %s." % (settings.get("odradek", "?"),
                                                 settings.get("apache-kafka", "?")),
           "",
           "median [min–max] over the repetitions:", "",
           "| cluster | client | produce records/s | produce p99 ms | end-to-end p99 ms "
           "| failover stall ms | records failed in failover |",
           "|---|---|---|---|---|---|---|"]
    for b in ("odradek", "apache-kafka"):
        for c, label in REPL_CLIENTS:
            m = dict(section="replication", broker=b, client=c)
            prod = [r["rps"] for r in group(rows, op="produce", **m) if r.get("rps")]
            lat = group(rows, op="latency", **m)
            fail = group(rows, op="failover", **m)
            if not (prod or lat or fail):
                continue
            out.append("| %s, 3 nodes | %s | %s | %s | %s | %s | %s |" % (
                BROKER_LABEL[b], label, _span(prod, _rate3),
                _span([r["ack_p99_us"] / 1000 for r in lat if "ack_p99_us" in r], _ms),
                _span([r["p99_us"] / 1000 for r in lat], _ms),
                _span([r["stall_ms"] for r in fail], lambda x: "%.0f" % x),
                ", ".join(str(r["failed"]) for r in fail) or "–"))
    runs = group(rows, section="replication", op="failover")
    if runs:
        out += ["", "Each failover run: the killed leader, when (seconds after the producer's "
                "launch), and when the longest gap began (seconds into the producer's schedule, "
                "which starts a few ms after its launch):", ""]
        out += ["- %s, %s, repetition %d: node %d killed at %.1f s; gap from %.1f s, %.0f ms" % (
            BROKER_LABEL[r["broker"]], r["client"], r["rep"] + 1, r["killed_node"],
            r["killed_at_s"], r["gap_from_s"], r["stall_ms"]) for r in runs]
    behind = group(rows, section="replication", op="latency", fell_behind=True)
    if behind:
        out += ["", "Fell behind the latency rate (no figure): " + ", ".join(
            "%s on %s" % (r["client"], r["broker"]) for r in behind) + "."]
    versions = sorted({"%s: %s" % (r["client"], r["client_version"])
                       for r in group(rows, section="replication") if r.get("client_version")})
    if versions:
        out += ["", "Versions: " + "; ".join(versions) + "."]
    return out + [""]


def _one(x):
    return "%.1f" % x


def sessions(rows):
    """The sessions section (issue 23, KIP-227): one consumer of every partition of a topic of
    many while a fixed-rate producer writes to a few, each broker with fetch sessions on and
    off."""
    runs = group(rows, section="sessions")
    if not runs:
        return []
    r0 = runs[0]
    out = ["## Fetch sessions (KIP-227, issue 23)", "",
           "Our client consumes all %d partitions while a producer writes %s records/s of 100 B "
           "round-robin to %d of them; sessions off = `max.incremental.fetch.session.cache."
           "slots=0` on the broker. Requests = bytes the consumer's connections sent (TCP_INFO). "
           "median [min–max] over the repetitions:" % (
               r0["partitions"], format(r0["rate"], ","), r0["partitions_with_data"]), "",
           "| broker | sessions | fetches | request bytes / record | consumer CPU µs / record "
           "| broker CPU µs / record | broker RSS MB |",
           "|---|---|---|---|---|---|---|"]
    for b in ("odradek", "apache-kafka"):
        for on in (True, False):
            rs = group(runs, broker=b, sessions=on)
            if not rs:
                continue
            out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                BROKER_LABEL[b], "on" if on else "off",
                _span([r["fetches"] for r in rs if r.get("fetches") is not None],
                      lambda x: "%.0f" % x),
                _span([r["request_bytes_per_record"] for r in rs], _one),
                _span([r["cpu_us_per_record"] for r in rs], _one),
                _span([r["broker_cpu_us_per_record"] for r in rs], _one),
                _span([r["broker_rss_mb"] for r in rs], _one)))
    return out + [""]


def _bind(v):
    if not v:
        return "failed"
    return "%s [%s–%s] · %.2f s · %.0f MiB" % (fmt_rate(v["rps"]), fmt_rate(v["rps_min"]),
                                                fmt_rate(v["rps_max"]), v["cpu_m"], v["rss"])


def ratio_between(bs, client, op, cells, keys, field):
    rs = []
    for cell in cells:
        m = dict(zip(keys, cell))
        a, b = bs["odradek"].cell(client, op, **m), bs["apache-kafka"].cell(client, op, **m)
        if a and b and a.get(field) and b.get(field):
            rs.append(a[field] / b[field])
    return med(rs)


def brokers(rows, plots_rel):
    if not group(rows, section="brokers"):
        return ["## Broker: Odradek against Apache Kafka", "",
                "Not measured in this run (section `brokers` not run, or no `odradek-broker` "
                "binary was available).", ""]
    bs = broker_stats(rows)
    su, idle, peak = startup_rss(rows)
    out = ["## Broker: Odradek against Apache Kafka 4.3.1, same clients", ""]
    out += ["| | Odradek broker | Apache Kafka | ratio |", "|---|---|---|---|"]
    out.append("| start-up to first Metadata answer, s | %s | %s | %s |" % (
        _f(su["odradek"], "%.3f"), _f(su["apache-kafka"], "%.2f"),
        fmt_ratio(div(su["odradek"], su["apache-kafka"]))))
    out.append("| RSS idle after start-up, MiB | %s | %s | %s |" % (
        _f(idle["odradek"]), _f(idle["apache-kafka"]), fmt_ratio(div(idle["odradek"], idle["apache-kafka"]))))
    out.append("| peak RSS over the broker runs, MiB | %s | %s | %s |" % (
        _f(peak["odradek"]), _f(peak["apache-kafka"]), fmt_ratio(div(peak["odradek"], peak["apache-kafka"]))))
    out += ["", "Throughput in records/s (median [min–max]) and broker CPU seconds per million "
            "records, per client:", "",
            "| op | value | acks | compression | client | Odradek | Apache Kafka | ratio |",
            "|---|---|---|---|---|---|---|---|"]
    keys_p, keys_c = ("size", "acks", "compression"), ("size", "compression")
    for op, keys in (("produce", keys_p), ("consume", keys_c)):
        for cell in cells_of(rows, "brokers", op, keys):
            m = dict(zip(keys, cell))
            for c in BROKER_CLIENTS:
                a, b = bs["odradek"].cell(c, op, **m), bs["apache-kafka"].cell(c, op, **m)
                if not (a or b):
                    continue
                out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    op, size_label(m["size"]), m.get("acks", ""), m["compression"], LABEL[c],
                    _tp(a), _tp(b), fmt_ratio(div(a and a["rps"], b and b["rps"]))))
    rates = sorted({r["rate"] for r in group(rows, section="brokers", op="latency")})
    out += ["", "Latency at a fixed rate (100 B, acks=all, linger.ms=0), p50 / p99 / p99.9 in ms: "
            "*produce* = intended send time to acknowledgement; *end-to-end* = to receipt by a "
            "consumer in the same process.", "",
            "| records/s | client | produce: Odradek | produce: Apache Kafka | produce p99 ratio "
            "| end-to-end: Odradek | end-to-end: Apache Kafka | end-to-end p99 ratio |",
            "|---|---|---|---|---|---|---|---|"]
    for rate in rates:
        for c in BROKER_CLIENTS:
            a, b = bs["odradek"].cell(c, "latency", rate=rate), bs["apache-kafka"].cell(c, "latency", rate=rate)
            if not (a or b):
                continue
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                fmt_rate(rate), LABEL[c], _lat(a, "ack_"), _lat(b, "ack_"),
                fmt_ratio(div(a and a.get("ack_p99_us"), b and b.get("ack_p99_us"))),
                _lat(a), _lat(b),
                fmt_ratio(div(a and a.get("p99_us"), b and b.get("p99_us")))))
    out += ["", "![broker comparison](%s/brokers.png)" % plots_rel, ""]
    return out


def _f(x, f="%.0f"):
    return "–" if x is None else f % x


def _tp(v):
    if not v:
        return "failed"
    return "%s [%s–%s] · %.2f s CPU/M" % (
        fmt_rate(v["rps"]), fmt_rate(v["rps_min"]), fmt_rate(v["rps_max"]), v["broker_cpu_m"])


def _lat(v, prefix=""):
    if not v:
        return "failed"
    if v.get("fell_behind"):
        return "fell behind (records still missing 30 s after the last send)"
    if prefix + "p99_us" not in v:
        return "–"
    return "%.1f / %.1f / %.1f" % tuple(v[prefix + k] / 1e3 for k in ("p50_us", "p99_us", "p999_us"))


# --------------------------------------------------------------------------- plots


def plots(rows, plot_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(plot_dir, exist_ok=True)
    st = Stats(rows, "clients", "apache-kafka")
    clients = clients_in(group(rows, section="clients"))
    colors = {c: plt.cm.tab10(i) for i, c in enumerate(ORDER)}

    def bars(ax, cells, keys, op, field, lo=None, hi=None, xlabels=None, ylabel=""):
        width = 0.8 / max(1, len(clients))
        for i, c in enumerate(clients):
            xs, ys, err = [], [], [[], []]
            for j, cell in enumerate(cells):
                v = st.cell(c, op, **dict(zip(keys, cell)))
                if not v:
                    continue
                xs.append(j + (i - (len(clients) - 1) / 2) * width)
                ys.append(v[field])
                err[0].append(v[field] - v[lo] if lo else 0)
                err[1].append(v[hi] - v[field] if hi else 0)
            ax.bar(xs, ys, width, label=LABEL.get(c, c), color=colors.get(c),
                   yerr=err if lo else None, capsize=2)
        ax.set_xticks(range(len(cells)))
        ax.set_xticklabels(xlabels or [str(c) for c in cells], fontsize=8)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)

    pc = cells_of(rows, "clients", "produce", ("size", "acks", "compression"))
    if pc:
        fig, axes = plt.subplots(2, 2, figsize=(13, 8))
        for col, size in enumerate((100, 1024)):
            cells = [c for c in pc if c[0] == size]
            labels = ["acks=%s\n%s" % (c[1], c[2]) for c in cells]
            bars(axes[0][col], cells, ("size", "acks", "compression"), "produce", "rps",
                 "rps_min", "rps_max", labels, "records/s")
            axes[0][col].set_title("produce, %s values: records/s (median, min–max)" % size_label(size))
            bars(axes[1][col], cells, ("size", "acks", "compression"), "produce", "cpu_net_m",
                 xlabels=labels, ylabel="CPU s per million records")
            axes[1][col].set_title("produce, %s values: client CPU per 1M records (net)" % size_label(size))
        axes[0][0].legend(fontsize=8)
        fig.suptitle("Clients against Apache Kafka 4.3.1 (2-core VM; medians)")
        fig.tight_layout()
        fig.savefig(os.path.join(plot_dir, "produce.png"), dpi=80)
        plt.close(fig)

    cc = cells_of(rows, "clients", "consume", ("size", "compression"))
    if cc:
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
        labels = ["%s\n%s" % (size_label(c[0]), c[1]) for c in cc]
        bars(axes[0], cc, ("size", "compression"), "consume", "rps", "rps_min", "rps_max",
             labels, "records/s")
        axes[0].set_title("consume from offset 0: records/s (median, min–max)")
        bars(axes[1], cc, ("size", "compression"), "consume", "cpu_net_m", xlabels=labels,
             ylabel="CPU s per million records")
        axes[1].set_title("consume: client CPU per 1M records (net)")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(plot_dir, "consume.png"), dpi=80)
        plt.close(fig)

    rates = sorted({r["rate"] for r in group(rows, section="clients", op="latency")})
    if rates:
        fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True)
        for ax, (key, name) in zip(axes, (("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9"))):
            for c in clients:
                pts = [(r, st.cell(c, "latency", rate=r)) for r in rates]
                pts = [(r, v[key] / 1e3) for r, v in pts if v and key in v]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-",
                            label=LABEL.get(c, c), color=colors.get(c))
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("records/s (fixed rate)")
            ax.set_title("end-to-end latency %s" % name)
            ax.grid(alpha=0.3, which="both")
        axes[0].set_ylabel("ms")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(plot_dir, "latency.png"), dpi=80)
        plt.close(fig)

    if group(rows, section="brokers"):
        broker_plot(rows, plot_dir, plt)


def broker_plot(rows, plot_dir, plt):
    bs = broker_stats(rows)
    su, idle, peak = startup_rss(rows)
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    keys = ("size", "acks", "compression")
    cells = cells_of(rows, "brokers", "produce", keys)
    bcol = {"odradek": "tab:orange", "apache-kafka": "tab:blue"}
    series = [(c, cell) for cell in cells for c in ("librdkafka", "franz-go")]
    for i, b in enumerate(("odradek", "apache-kafka")):
        ys = [(bs[b].cell(c, "produce", **dict(zip(keys, cell))) or {}).get("rps", 0)
              for c, cell in series]
        axes[0].bar([j + (i - 0.5) * 0.4 for j in range(len(series))], ys, 0.4,
                    label=BROKER_LABEL[b], color=bcol[b])
    axes[0].set_xticks(range(len(series)))
    axes[0].set_xticklabels(["%s %s acks=%s %s" % (c[:5], size_label(cell[0]), cell[1], cell[2])
                             for c, cell in series], fontsize=7, rotation=60, ha="right")
    axes[0].set_title("produce records/s")
    axes[0].legend(fontsize=8)
    rates = sorted({r["rate"] for r in group(rows, section="brokers", op="latency")})
    for b in ("odradek", "apache-kafka"):
        for c, style in (("librdkafka", "o-"), ("franz-go", "s--")):
            pts = [(r, bs[b].cell(c, "latency", rate=r)) for r in rates]
            pts = [(r, v["ack_p99_us"] / 1e3) for r, v in pts if v and "ack_p99_us" in v]
            if pts:
                axes[1].plot([p[0] for p in pts], [p[1] for p in pts], style, color=bcol[b],
                             label="%s, %s" % (BROKER_LABEL[b], c))
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_title("p99 produce latency, send → ack (ms)")
    axes[1].set_xlabel("records/s")
    axes[1].legend(fontsize=7)
    names = ["Odradek", "Apache Kafka"]
    axes[2].bar(names, [peak["odradek"] or 0, peak["apache-kafka"] or 0],
                color=[bcol["odradek"], bcol["apache-kafka"]])
    axes[2].set_title("broker peak RSS (MiB)")
    for i, v in enumerate((peak["odradek"], peak["apache-kafka"])):
        axes[2].text(i, (v or 0), "%.0f" % (v or 0), ha="center", va="bottom")
    axes[3].bar(names, [su["odradek"] or 0, su["apache-kafka"] or 0],
                color=[bcol["odradek"], bcol["apache-kafka"]])
    axes[3].set_title("start-up to first Metadata answer (s)")
    for i, v in enumerate((su["odradek"], su["apache-kafka"])):
        axes[3].text(i, (v or 0), "%.3f" % (v or 0), ha="center", va="bottom")
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(plot_dir, "brokers.png"), dpi=80)
    plt.close(fig)


def write_markdown(path, block):
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    else:
        text = "# Benchmarks\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + block + after
    else:
        lines = text.split("\n")
        # After the title line, before any other section (e.g. the record batch micro-benchmark).
        at = 1 if lines and lines[0].startswith("# ") else 0
        text = "\n".join(lines[:at] + ["", block, ""] + lines[at:])
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--plots", required=True, help="directory for the PNGs")
    ap.add_argument("--plots-rel", default="bench/results", help="PNG path as linked from the markdown")
    ap.add_argument("--notes", default="", help="hand-written notes to include (markdown file)")
    ap.add_argument("--no-plots", action="store_true")
    o = ap.parse_args()
    rows, env = load(o.results)
    notes = open(o.notes).read() if o.notes and os.path.exists(o.notes) else ""
    if not o.no_plots:
        plots(rows, o.plots)
    write_markdown(o.markdown, markdown(rows, env, o.plots_rel, notes))


if __name__ == "__main__":
    main()
