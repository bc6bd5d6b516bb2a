"""Type stubs accepted by mypy --strict (examples and the package itself), docstrings on every
public name, and the examples run against a broker."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import odradek
import odradek.aio
import odradek.data
import odradek.errors
import odradek.testing
from conftest import Kafka

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def test_mypy_strict_accepts_the_examples_and_the_package() -> None:
    for target in (["--strict", str(EXAMPLES)], ["--strict", "-p", "odradek"]):
        out = subprocess.run([sys.executable, "-m", "mypy", *target], capture_output=True, text=True,
                             cwd=EXAMPLES)
        assert out.returncode == 0, out.stdout + out.stderr


def public_names() -> list[tuple[str, Any]]:
    out = []
    for mod in (odradek, odradek.aio, odradek.testing, odradek.data, odradek.errors):
        assert mod.__doc__, mod.__name__
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                out.append((f"{mod.__name__}.{name}", obj))
                if inspect.isclass(obj):
                    for attr, member in vars(obj).items():
                        if attr.startswith("_") or not (callable(member) or isinstance(member, property)
                                                        or type(member).__name__ == "getset_descriptor"):
                            continue
                        out.append((f"{mod.__name__}.{name}.{attr}", member))
    return out


def test_every_public_name_has_a_docstring() -> None:
    missing = [name for name, obj in public_names() if not (getattr(obj, "__doc__", None) or "").strip()]
    assert not missing, missing


@pytest.mark.parametrize("example", ["producer.py", "consumer_group.py", "asyncio_example.py"])
def test_example_runs(embedded: Kafka, example: str) -> None:
    env = dict(os.environ, BOOTSTRAP=embedded.bootstrap, TOPIC=f"ex-{example[:-3]}", GROUP=f"g-{example}",
               MAX="10")
    if example == "consumer_group.py":
        subprocess.run([sys.executable, str(EXAMPLES / "producer.py")], env=env, check=True,
                       capture_output=True, timeout=60)
    out = subprocess.run([sys.executable, str(EXAMPLES / example)], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert {"producer.py": "batch of 1000 delivered", "consumer_group.py": "read 10 records",
            "asyncio_example.py": "read 10 records"}[example] in out.stdout, out.stdout
