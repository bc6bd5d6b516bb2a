"""Apache Kafka 4.3.1's own admin tools against our 3-node cluster (issue #22): a partition is
moved with kafka-reassign-partitions (--execute, --verify until done, --list), its new preferred
replica is elected with kafka-leader-election, a topic config is set with kafka-configs, and
kafka-topics --describe shows the leader, replicas, ISR and config. Each tool is one JVM start
(about 1–2 s), so the scenario runs them in sequence once, on the session's odradek cluster,
leaving it whole for the fail-over tests.

Run by scripts/test.d/43-failover.sh (`-k admin_tools` alone).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

from confluent_kafka.admin import NewTopic

CACHE = Path(os.environ.get("ODRADEK_CACHE", Path.home() / ".cache" / "odradek"))
KAFKA_LIBS = CACHE / "kafka-4.3.1" / "libs"
TOOL_DEADLINE_S = 60  # hang guard for one tool run, not a timing assertion

TOPICS = "org.apache.kafka.tools.TopicCommand"
REASSIGN = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand"
ELECTION = "org.apache.kafka.tools.LeaderElectionCommand"
CONFIGS = "kafka.admin.ConfigCommand"


def tool(main: str, *args: str) -> str:
    cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
           "-cp", f"{KAFKA_LIBS}/*", main, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_DEADLINE_S)
    assert out.returncode == 0, f"{main} {args}: exit {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out.stdout


def described(out: str) -> dict[int, dict[str, str]]:
    """kafka-topics --describe's partition lines: {partition: {Leader, Replicas, Isr, ...}}."""
    parts = {}
    for line in out.splitlines():
        fields = dict(re.findall(r"(\w+): (\S*)", line))
        if "Partition" in fields and "Leader" in fields:
            parts[int(fields["Partition"])] = fields
    return parts


def test_kafka_admin_tools_move_elect_configure_and_describe(odradek_cluster, tmp_path):
    c = odradek_cluster
    boot = ["--bootstrap-server", c.bootstrap]
    name = "admin-tools"
    fs = c.admin.create_topics([NewTopic(name, num_partitions=2, replica_assignment=[[1, 2], [2, 3]])])
    fs[name].result(60)
    deadline = time.monotonic() + 60
    while c.leaders(name) != {0: 1, 1: 2}:
        assert time.monotonic() < deadline, f"leaders of {name}: {c.leaders(name)}"
        time.sleep(0.2)

    # Partition 0 moves from [1, 2] to [3, 1]: 3 is added, 2 removed, 1 keeps leading.
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": name, "partition": 0, "replicas": [3, 1]}]}))
    out = tool(REASSIGN, *boot, "--reassignment-json-file", str(plan), "--execute")
    assert "Successfully started partition reassignment" in out, out
    deadline = time.monotonic() + 60
    while True:
        out = tool(REASSIGN, *boot, "--reassignment-json-file", str(plan), "--verify")
        if f"Reassignment of partition {name}-0 is completed" in out:
            break
        assert "is still in progress" in out, out
        assert time.monotonic() < deadline, out
        time.sleep(0.5)
    out = tool(REASSIGN, *boot, "--list")
    assert "No partition reassignments found" in out, out

    # 3 is now the preferred replica of partition 0: a PREFERRED election makes it lead.
    out = tool(ELECTION, *boot, "--election-type", "PREFERRED", "--topic", name,
               "--partition", "0")
    assert f"Successfully completed leader election (PREFERRED) for partitions {name}-0" in out, out

    out = tool(CONFIGS, *boot, "--alter", "--entity-type", "topics", "--entity-name", name,
               "--add-config", "max.message.bytes=2000")
    assert f"Completed updating config for topic {name}" in out, out

    out = tool(TOPICS, *boot, "--describe", "--topic", name)
    assert "max.message.bytes=2000" in out, out
    parts = described(out)
    assert (parts[0]["Leader"], parts[0]["Replicas"]) == ("3", "3,1"), out
    assert sorted(parts[0]["Isr"].split(",")) == ["1", "3"], out
    assert (parts[1]["Leader"], parts[1]["Replicas"]) == ("2", "2,3"), out
    assert sorted(parts[1]["Isr"].split(",")) == ["2", "3"], out
