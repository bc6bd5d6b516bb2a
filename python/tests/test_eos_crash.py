"""Exactly-once under crashes, with the Python processor (examples/python/eos_processor.py; the
Rust one runs in tests/interop/test_exactly_once.py, where the broker is killed too): the
processor turns every input record into one output record and commits the input offsets in
the same transaction. It is SIGKILLed at random moments after a commit, KILLS times, and
started again with the same transactional id; afterwards a read_committed reader sees each
input's output exactly once, with no gaps. Against the embedded broker."""

from __future__ import annotations

import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import odradek
from conftest import Kafka
from test_transactions import read_committed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"
INPUTS = 1000
PARTITIONS = 3
KILLS = 3
SEED = 21


def test_python_processor_outputs_each_input_once_across_kills(embedded: Kafka, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    src, dst = embedded.topic(PARTITIONS), embedded.topic(PARTITIONS)
    p = odradek.Producer(embedded.config(**{"linger.ms": 5}))
    values = [b"in-%05d" % i for i in range(INPUTS)]
    for i, v in enumerate(values):
        p.produce(src, v, key=b"k%d" % i, partition=i % PARTITIONS)
    assert p.flush(60) == 0
    p.close()
    app = uuid.uuid4().hex[:8]
    args = [sys.executable, str(EXAMPLES / "eos_processor.py"), embedded.bootstrap, src, dst,
            f"eos-g-{app}", f"eos-{app}"]
    log_path = tmp_path / "processor.log"
    started = time.monotonic()
    with open(log_path, "ab") as log:
        for round in range(KILLS):
            # Transactions of 25 records held open 40 ms after their records are sent, so most
            # kills hit an open transaction. Each run is killed a random moment after its first
            # commit.
            commits_before = log_path.read_text().count("committed ")
            proc = subprocess.Popen(args + ["2000", "25", "40"], stdout=log, stderr=log)
            deadline = time.monotonic() + 60
            while log_path.read_text().count("committed ") == commits_before:
                assert proc.poll() is None, f"run {round} ended by itself:\n{log_path.read_text()[-2000:]}"
                assert time.monotonic() < deadline, "the processor committed nothing in 60 s"
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.3))
            proc.kill()
            proc.wait()
        # The last run goes to the end (it exits once the input is idle for a second).
        final = subprocess.run(args + ["1000"], stdout=log, stderr=log, timeout=120)
    output = log_path.read_text(errors="replace")
    assert final.returncode == 0, f"the last run failed:\n{output[-3000:]}"
    print(f"python exactly-once run with {KILLS} kills took {time.monotonic() - started:.1f} s; "
          f"{output.count('committed ')} transactions committed; the last run: {output.splitlines()[-1]}")
    last = int(output.splitlines()[-1].split("; ")[1].split()[0])
    assert 0 < last < INPUTS, f"the last run processed {last} of {INPUTS}: the kills did not interrupt the work"

    read = read_committed(embedded, dst, PARTITIONS, INPUTS)
    seen = Counter(read)
    want = Counter(b"out:" + v for v in values)
    dupes = {v: n for v, n in seen.items() if n > 1}
    assert not dupes, f"{len(dupes)} outputs seen more than once, e.g. {list(dupes.items())[:5]}"
    assert seen == want, f"missing {list(want - seen)[:5]}, unexpected {list(seen - want)[:5]}"
    # Nothing beyond the INPUTS outputs (a duplicate would be one more record).
    c = odradek.Consumer(embedded.config(**{"isolation.level": "read_committed", "group.id": "assign-only"}))
    try:
        c.assign([odradek.TopicPartition(dst, q, odradek.OFFSET_BEGINNING) for q in range(PARTITIONS)])
        total = 0
        for _ in range(30):
            total += len(c.consume(num_messages=INPUTS + 10, timeout=0.1))
        assert total == INPUTS, f"{total} outputs for {INPUTS} inputs"
    finally:
        c.close()
