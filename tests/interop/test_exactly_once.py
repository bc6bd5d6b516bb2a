"""Exactly-once under crashes: our consume-transform-produce processor
(examples/rust/src/bin/eos_processor.rs) turns every input record into one output record and
commits the input offsets in the same transaction. It is SIGKILLed at random points several
times and started again with the same transactional id; on our broker the broker is SIGKILLed
mid-run too. Afterwards a read_committed reader (librdkafka) sees each input's output exactly
once, with no gaps.

    ODRADEK_EOS_PROCESSOR_BIN   the processor (default $CARGO_TARGET_DIR/release/eos_processor)
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import create_topics
from harness import CACHE
from test_transactions import consume_librdkafka

INPUTS = 3000
PARTITIONS = 3
KILLS = 4
SEED = 21


def processor_bin() -> Path:
    default = Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target")) / "release" / "eos_processor"
    path = Path(os.environ.get("ODRADEK_EOS_PROCESSOR_BIN", default))
    if not path.exists():
        pytest.fail(f"no eos_processor at {path}; cargo build --release -p odradek-examples", pytrace=False)
    return path


def produce_inputs(bootstrap: str, topic: str) -> list[bytes]:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    values = [b"in-%05d" % i for i in range(INPUTS)]
    for i, v in enumerate(values):
        p.produce(topic, key=b"k%d" % i, value=v, partition=i % PARTITIONS)
        if i % 500 == 0:
            p.poll(0)
    assert p.flush(60) == 0
    return values


def test_each_input_is_output_exactly_once(broker, tmp_path):
    binary = processor_bin()
    rng = random.Random(SEED)
    src, dst = "eos-in", "eos-out"
    create_topics(broker.bootstrap, {src: PARTITIONS, dst: PARTITIONS})
    values = produce_inputs(broker.bootstrap, src)
    args = [str(binary), broker.bootstrap, src, dst, "eos-group", "eos-app"]
    log = open(tmp_path / "processor.log", "ab")
    started = time.monotonic()
    log_path = tmp_path / "processor.log"
    for round in range(KILLS):
        # Small transactions that stay open 40 ms after their records are sent, so most kills
        # hit an open transaction. Each run is killed a random moment after its first commit.
        commits_before = log_path.read_text().count("committed ")
        proc = subprocess.Popen(args + ["2000", "25", "40"], stdout=log, stderr=log)
        deadline = time.monotonic() + 90
        while log_path.read_text().count("committed ") == commits_before:
            assert proc.poll() is None, f"run {round} ended by itself:\n{log_path.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "the processor committed nothing in 90 s"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))
        if round == 1 and broker.kind == "odradek":
            # The broker dies mid-transaction; the processor dies with its requests in flight.
            broker.kill()
            proc.kill()
            proc.wait()
            broker.restart()
            continue
        proc.kill()
        proc.wait()
    # The last run goes to the end (it exits once the input is idle).
    final = subprocess.run(args + ["3000"], stdout=log, stderr=log, timeout=180)
    log.close()
    output = log_path.read_text(errors="replace")
    assert final.returncode == 0, f"the last run failed:\n{output[-3000:]}"
    runs = output.count("eos_processor: idle")
    print(f"exactly-once run with {KILLS} kills took {time.monotonic() - started:.1f} s; "
          f"{output.count('committed ')} transactions committed; the last run: {output.splitlines()[-1]}")
    assert runs == 1, "the kills came after the input was done; nothing was tested"
    last = int(output.splitlines()[-1].split("; ")[1].split()[0])
    assert 0 < last < INPUTS, f"the last run processed {last} of {INPUTS}: the kills did not interrupt the work"

    read = consume_librdkafka(broker.bootstrap, dst, "read_committed", partitions=PARTITIONS)
    seen = Counter(r.value for r, _ in read)
    want = Counter(b"out:" + v for v in values)
    dupes = {v: n for v, n in seen.items() if n > 1}
    missing = want - seen
    extra = seen - want
    assert not dupes, f"{len(dupes)} outputs seen more than once, e.g. {list(dupes.items())[:5]}"
    assert not missing, f"{sum(missing.values())} inputs without output, e.g. {list(missing)[:5]}"
    assert not extra, f"unexpected outputs: {list(extra)[:5]}"
