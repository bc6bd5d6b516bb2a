"""pytest fixtures of the interop suite: the broker under test and topic creation.

    --broker odradek|apache   (or ODRADEK_INTEROP_BROKER; default odradek)
    --broker-bin PATH         (or ODRADEK_BROKER_BIN; default $CARGO_TARGET_DIR/release/odradek-broker)
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients import missing_tools  # noqa: E402
from harness import CACHE, ApacheKafka, OdradekBroker  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--broker", default=os.environ.get("ODRADEK_INTEROP_BROKER", "odradek"),
                     choices=["odradek", "apache"], help="broker under test")
    default_bin = os.environ.get("ODRADEK_BROKER_BIN") or str(
        Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target")) / "release" / "odradek-broker")
    parser.addoption("--broker-bin", default=default_bin, help="odradek-broker binary")


def pytest_report_header(config):
    return f"interop broker: {config.getoption('--broker')}"


@pytest.fixture(scope="session", autouse=True)
def _tools_installed():
    missing = missing_tools()
    if missing or not shutil.which("kcat"):
        pytest.fail(f"interop peers missing ({', '.join(missing + ([] if shutil.which('kcat') else ['kcat']))}); "
                    "run scripts/setup.sh", pytrace=False)


STARTED: list = []  # every broker of the session, for the failure reports below


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows the tail of each broker's log and says if a broker died by itself."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for b in STARTED:
            died = b.proc is not None and b.proc.poll() is not None and not b.killed_on_purpose
            state = f" (EXITED BY ITSELF, status {b.proc.returncode})" if died else ""
            report.sections.append((f"{b.kind} broker {b.workdir.name}{state}", b.log_tail()))


@pytest.fixture(scope="session")
def broker_factory(request, tmp_path_factory):
    """Starts brokers of the selected kind; every one is stopped at the end of the session."""
    kind = request.config.getoption("--broker")
    started = STARTED

    def start(name: str, fsync: str | None = None, config: dict | None = None):
        """`config`: broker properties (the same keys on both brokers)."""
        workdir = tmp_path_factory.mktemp(name)
        if kind == "odradek":
            binary = Path(request.config.getoption("--broker-bin"))
            if not binary.exists():
                pytest.fail(f"no odradek-broker at {binary}; build it with cargo build --release -p odradek-broker",
                            pytrace=False)
            b = OdradekBroker(binary, workdir, fsync=fsync, config=config)
        else:
            # Apache Kafka writes through the page cache, which survives a SIGKILL of the process.
            b = ApacheKafka(workdir, extra_props=config)
        started.append(b)
        return b.start()

    yield start
    died = [b for b in started if b.proc is not None and b.proc.poll() is not None and not b.killed_on_purpose]
    for b in started:
        b.stop()
    # The contract: SIGTERM shuts odradek-broker down cleanly (flushes, exits 0).
    unclean = [f"{b.workdir.name}: exit status {b.proc.returncode}" for b in started
               if b.kind == "odradek" and b not in died and b.proc.returncode != 0]
    assert not unclean, f"odradek-broker did not exit cleanly on SIGTERM: {unclean}"
    assert not died, "broker exited by itself during the session:\n" + "\n".join(b.log_tail() for b in died)


@pytest.fixture(scope="session")
def broker(broker_factory):
    return broker_factory("broker")


def create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    """CreateTopics through the admin API, then wait until metadata lists a leader for every partition."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(t, num_partitions=n, replication_factor=1) for t, n in topics.items()],
                                  operation_timeout=30)
    for t, f in futures.items():
        f.result(timeout=60)
    deadline = time.monotonic() + 60
    while True:
        md = admin.list_topics(timeout=10)
        ready = all(t in md.topics and md.topics[t].error is None and len(md.topics[t].partitions) == n
                    and all(p.leader >= 0 for p in md.topics[t].partitions.values()) for t, n in topics.items())
        if ready:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"topics {list(topics)} have no leaders in metadata after creation")
        time.sleep(0.1)
