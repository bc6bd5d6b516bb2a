#!/usr/bin/env python3
"""Writes the JSON sidecar of every golden fixture: what the Java client (tools/java/RecordDump)
reads from it, after checking that the records it reads are the logical records the producer was
given (logical-records.json).

    python make_sidecars.py FIXTURES_DIR MADE_BY_JAVA MADE_BY_LIBRDKAFKA

Every *.bin under FIXTURES_DIR/java and FIXTURES_DIR/librdkafka gets a *.json beside it.
"""
import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
LOGICAL = json.loads((HERE / "logical-records.json").read_text())["records"]
DECODED_BY = "kafka-clients 4.3.1 (MemoryRecords.readableRecords, RequestHeader/ProduceRequest.parse) via tools/java/RecordDump.java"


def dump(paths):
    cache = pathlib.Path(os.environ.get("ODRADEK_CACHE", pathlib.Path.home() / ".cache/odradek"))
    classpath = f"{cache / 'java-tools'}:{cache / 'kafka-4.3.1/libs'}/*"
    args = [f"{'produce' if p.name.startswith('produce-') else 'batches'}:{p}" for p in paths]
    out = subprocess.run(["java", "-cp", classpath, "RecordDump", *args], check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def group(lines):
    """Turns RecordDump's line stream into one document per file."""
    docs, doc, batches = [], None, None
    for line in lines:
        kind = line.pop("type")
        if kind == "file":
            doc = {"path": line["path"], "kind": line["kind"]}
            docs.append(doc)
            if line["kind"] == "batches":
                batches = doc.setdefault("batches", [])
        elif kind == "request":
            doc["request"] = line
            doc["partitions"] = []
        elif kind == "partition":
            line["batches"] = batches = []
            doc["partitions"].append(line)
        elif kind == "batch":
            line["records"] = []
            batches.append(line)
        elif kind == "record":
            batches[-1]["records"].append(line)
    return docs


def check_logical(batch, where):
    """A data batch must hold a contiguous run of the logical records, unchanged."""
    if batch["is_control"]:
        return
    records = batch["records"]
    starts = [i for i, r in enumerate(LOGICAL) if records and r["key"] == records[0]["key"] and r["value"] == records[0]["value"]]
    if not starts or starts[0] + len(records) > len(LOGICAL):
        raise SystemExit(f"{where}: batch at offset {batch['base_offset']} does not hold the logical records")
    for n, (got, want) in enumerate(zip(records, LOGICAL[starts[0]:])):
        want_ts = batch["max_timestamp"] if batch["timestamp_type"] == "LogAppendTime" else want["timestamp"]
        expected = {"key": want["key"], "value": want["value"], "headers": want["headers"], "timestamp": want_ts,
                    "offset": batch["base_offset"] + n}
        actual = {k: got[k] for k in expected}
        if actual != expected:
            raise SystemExit(f"{where}: record {n} of batch {batch['base_offset']} is {actual}, expected {expected}")


def main():
    fixtures = pathlib.Path(sys.argv[1]).resolve()
    made_by = {"java": sys.argv[2], "librdkafka": sys.argv[3]}
    paths = sorted(fixtures.glob("java/*.bin")) + sorted(fixtures.glob("librdkafka/*.bin"))
    for doc in group(dump(paths)):
        path = pathlib.Path(doc.pop("path"))
        rel = path.relative_to(fixtures).as_posix()
        batches = doc.get("batches") or [b for p in doc["partitions"] for b in p["batches"]]
        for b in batches:
            check_logical(b, rel)
        sidecar = {"fixture": rel, "made_by": made_by[path.parent.name], "decoded_by": DECODED_BY, **doc}
        path.with_suffix(".json").write_text(json.dumps(sidecar, indent=1) + "\n")
        print(f"{rel}: {len(batches)} batches, {sum(len(b['records']) for b in batches)} records")


if __name__ == "__main__":
    main()
