"""Blocking calls release the GIL, honour their timeouts and are interrupted by Ctrl+C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import odradek
from conftest import Kafka


def test_poll_honours_its_timeout(embedded: Kafka) -> None:
    topic = embedded.topic()
    c = odradek.Consumer(embedded.config())
    c.assign([(topic, 0, odradek.OFFSET_BEGINNING)])
    for timeout in (0.0, 0.3, 1.0):
        t0 = time.monotonic()
        assert c.poll(timeout) is None
        took = time.monotonic() - t0
        assert timeout <= took < timeout + 0.5, (timeout, took)
    t0 = time.monotonic()
    assert c.consume(10, timeout=0.4) == []
    assert 0.4 <= time.monotonic() - t0 < 1.0
    c.close()


def test_the_gil_is_released_while_waiting(embedded: Kafka) -> None:
    topic = embedded.topic()
    c = odradek.Consumer(embedded.config())
    c.assign([(topic, 0, odradek.OFFSET_BEGINNING)])
    counter = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            counter[0] += 1

    th = threading.Thread(target=spin)
    th.start()
    try:
        time.sleep(0.05)
        before = counter[0]
        c.poll(1.0)
        during = counter[0] - before
    finally:
        stop.set()
        th.join()
    # With the GIL held for the second, the spinning thread would advance only at the
    # interpreter's switch points around the call (a handful of increments).
    assert during > 100_000, during
    c.close()


CHILD = textwrap.dedent(
    """
    import signal, sys, time, odradek
    # A process started with SIGINT ignored (a background job of a non-interactive shell, as a
    # CI runner may be) keeps it ignored, and Python then installs no handler: put Python's own
    # back, so the test measures the client and not how it was launched.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    what, bootstrap, topic = sys.argv[1:4]
    if what == "poll":
        c = odradek.Consumer({"bootstrap.servers": bootstrap})
        c.assign([(topic, 0, odradek.OFFSET_END)])
        call = lambda: c.poll()            # no timeout: waits forever
    elif what == "iterate":
        c = odradek.Consumer({"bootstrap.servers": bootstrap})
        c.assign([(topic, 0, odradek.OFFSET_END)])
        call = lambda: next(iter(c))
    else:
        p = odradek.Producer({"bootstrap.servers": "127.0.0.1:1"})
        p.produce("t", b"never delivered")
        call = lambda: p.flush()           # no timeout: waits forever
    print("ready", flush=True)
    try:
        call()
    except KeyboardInterrupt:
        print("interrupted", time.monotonic(), flush=True)
        sys.exit(42)
    sys.exit(1)
    """
)


@pytest.mark.parametrize("what", ["poll", "iterate", "flush"])
def test_ctrl_c_interrupts_a_blocking_call(embedded: Kafka, what: str) -> None:
    topic = embedded.topic()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, what, embedded.bootstrap, topic],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # well inside the blocking call
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        line = proc.stdout.readline().split()
        assert proc.wait(10) == 42
        assert line[0] == "interrupted"
        latency = float(line[1]) - sent  # CLOCK_MONOTONIC is system-wide on Linux
        print(f"{what}: KeyboardInterrupt {latency * 1000:.0f} ms after SIGINT")
        assert latency < 0.25, latency  # the wait slices are 50 ms
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
