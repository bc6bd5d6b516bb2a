"""Fixtures of the Python binding's suite.

``kafka`` runs a test against each broker kind: the embedded Rust broker (``odradek.testing``)
and, unless ``--no-apache`` is given, Apache Kafka 4.3.1 started once per session by
scripts/apache-kafka.sh (jars from scripts/setup.sh).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

import odradek
from odradek.testing import Broker

REPO = Path(__file__).resolve().parents[2]


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--no-apache", action="store_true", help="only the embedded broker")


class Kafka:
    """A broker under test: its kind, bootstrap address and a topic factory."""

    def __init__(self, kind: str, bootstrap: str) -> None:
        self.kind = kind
        self.bootstrap = bootstrap

    def config(self, **extra: Any) -> Dict[str, Any]:
        out: Dict[str, Any] = {"bootstrap.servers": self.bootstrap}
        out.update(extra)
        return out

    def topic(self, partitions: int = 1, config: Dict[str, str] | None = None) -> str:
        name = f"t-{uuid.uuid4().hex[:12]}"
        odradek.AdminClient(self.config()).create_topics(
            [odradek.NewTopic(name, partitions, 1, config or {})])
        return name


@pytest.fixture(scope="session")
def embedded() -> Iterator[Kafka]:
    with Broker() as b:
        yield Kafka("embedded", b.bootstrap_servers)


@pytest.fixture(scope="session")
def apache() -> Iterator[Kafka]:
    workdir = Path(tempfile.mkdtemp(prefix="odradek-py-kafka-"))
    out = subprocess.run([str(REPO / "scripts" / "apache-kafka.sh"), "start", str(workdir)],
                         capture_output=True, text=True, timeout=180)
    if out.returncode != 0:
        pytest.fail(f"Apache Kafka did not start:\n{out.stderr}", pytrace=False)
    try:
        yield Kafka("apache", out.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run([str(REPO / "scripts" / "apache-kafka.sh"), "stop", str(workdir)], check=False)
        shutil.rmtree(workdir, ignore_errors=True)


def pytest_generate_tests(metafunc: Any) -> None:
    if "kafka" in metafunc.fixturenames:
        kinds: List[str] = ["embedded"]
        if not metafunc.config.getoption("--no-apache"):
            kinds.append("apache")
        metafunc.parametrize("kafka", kinds, indirect=True)


def pytest_collection_modifyitems(items: List[Any]) -> None:
    # Under pytest-xdist (35-python.sh runs `-n 2 --dist loadgroup`) every test on Apache Kafka
    # goes to one worker, so one JVM starts rather than one per worker.
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_apache = callspec is not None and callspec.params.get("kafka") == "apache"
        if on_apache or "apache" in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group("apache"))


@pytest.fixture
def kafka(request: Any) -> Kafka:
    k: Kafka = request.getfixturevalue(request.param)
    return k


@pytest.fixture
def topic(kafka: Kafka) -> Callable[..., str]:
    return kafka.topic
