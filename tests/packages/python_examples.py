"""Runs examples/python (copied next to this file's caller) with the installed wheel, as a user
would: producer.py, then consumer_group.py reading what it wrote, then asyncio_example.py.

    python python_examples.py EXAMPLES_DIR [BOOTSTRAP] [TOPIC_PREFIX]

Without BOOTSTRAP the wheel's own embedded broker (odradek.testing.Broker) serves them.
Exits non-zero when an example fails or does not print the line that shows it did its job.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import odradek
import odradek.testing

EXPECT = {
    "producer.py": "batch of 1000 delivered",
    "consumer_group.py": "read 10 records",
    "asyncio_example.py": "read 10 records",
}


def run_all(examples: Path, bootstrap: str, prefix: str) -> None:
    env = dict(os.environ, BOOTSTRAP=bootstrap, TOPIC=f"{prefix}-greetings", GROUP=f"{prefix}-greeters",
               MAX="10")
    for name in ("producer.py", "consumer_group.py", "asyncio_example.py"):
        if name == "asyncio_example.py":
            env["TOPIC"] = f"{prefix}-async"
        out = subprocess.run([sys.executable, "-X", "faulthandler", str(examples / name)], env=env,
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0 or EXPECT[name] not in out.stdout:
            sys.exit(f"python_examples.py: {name} against {bootstrap} failed (exit {out.returncode}):\n"
                     f"{out.stdout}{out.stderr}")
        print(f"python_examples.py: {name} against {bootstrap}: {EXPECT[name]}")


def main() -> None:
    examples = Path(sys.argv[1])
    prefix = sys.argv[3] if len(sys.argv) > 3 else "pkg"
    print(f"python_examples.py: odradek {odradek.__version__} from {Path(odradek.__file__).parent}")
    if len(sys.argv) > 2:
        run_all(examples, sys.argv[2], prefix)
        return
    with odradek.testing.Broker({"num.partitions": 3}) as broker:
        run_all(examples, broker.bootstrap_servers, prefix)


if __name__ == "__main__":
    main()
