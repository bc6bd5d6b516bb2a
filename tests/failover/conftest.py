"""Fixtures of the fail-over suite: one 3-node Apache Kafka cluster and one 3-node odradek cluster
for the session (each started only if a test asks for it), the clients' binaries, and the
side-by-side table printed at the end."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Cluster, OdradekCluster  # noqa: E402

RESULTS: list[dict] = []


@pytest.fixture(scope="session")
def cluster():
    c = Cluster()
    yield c
    c.close()


@pytest.fixture(scope="session")
def odradek_cluster():
    path = os.environ.get("ODRADEK_BROKER_BIN")
    if not path or not Path(path).exists():
        pytest.fail("ODRADEK_BROKER_BIN must name the odradek-broker binary "
                    "(scripts/test.d/43-failover.sh builds it)", pytrace=False)
    c = OdradekCluster(path)
    yield c
    c.close()


@pytest.fixture(scope="session")
def cli() -> str:
    path = os.environ.get("ODRADEK_CLI_BIN")
    if not path or not Path(path).exists():
        pytest.fail("ODRADEK_CLI_BIN must name the odradek binary (scripts/test.d/43-failover.sh "
                    "builds it)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def results():
    return RESULTS


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("fail-over figures (seconds; no assertions on these)")
    cols = ["scenario", "broker", "client", "acked", "failed", "of them possibly written",
            "stall, faulted leader's partitions", "stall, other partitions", "bootstrap"]
    tr.write_line(" | ".join(cols))
    for r in RESULTS:
        tr.write_line(" | ".join(str(r.get(c, "")) for c in cols))
    out = os.environ.get("FAILOVER_RESULTS")
    if out:
        Path(out).write_text(json.dumps(RESULTS, indent=1))
