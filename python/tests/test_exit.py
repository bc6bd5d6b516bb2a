"""The interpreter exits cleanly while the binding is still handing results to Python.

CPython ends any thread that takes the GIL once finalization has begun; the binding's
dispatcher thread doing so crashed the process (SIGSEGV after a clean run, about one exit in
two for the asyncio example). These runs exit while deliveries are still arriving.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from conftest import Kafka

# Each flavour leaves deliveries in flight at exit: asyncio futures resolved through
# call_soon_threadsafe on a loop that is closing, and sync callbacks of an unflushed producer.
SCRIPTS = {
    "asyncio": """
        import asyncio, sys, odradek.aio
        async def main():
            async with odradek.aio.Producer({"bootstrap.servers": sys.argv[1]}) as p:
                await p.send(sys.argv[2], b"first")
                for i in range(5000):
                    p.send_nowait(sys.argv[2], b"x")
        asyncio.run(main())
        print("done")
    """,
    "sync-callbacks": """
        import sys, odradek
        p = odradek.Producer({"bootstrap.servers": sys.argv[1], "linger.ms": 1})
        p.produce(sys.argv[2], b"first").result(10)
        seen = []
        for i in range(20000):
            p.produce(sys.argv[2], b"y", on_delivery=lambda err, report: seen.append(err))
        print("done")
    """,
}


@pytest.mark.parametrize("flavour", sorted(SCRIPTS))
def test_exit_while_results_are_delivered(embedded: Kafka, flavour: str) -> None:
    topic = embedded.topic()
    script = textwrap.dedent(SCRIPTS[flavour])
    for attempt in range(6):
        out = subprocess.run([sys.executable, "-X", "faulthandler", "-c", script, embedded.bootstrap, topic],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout.strip() == "done", \
            f"run {attempt} exited {out.returncode}: {out.stdout[-500:]}{out.stderr[-3000:]}"
