"""odradek.testing.Cluster beyond the leader_failover conformance scenario: the README's
fail-over snippet as written, and the errors a test gets for a bad node id or a stopped cluster."""

from __future__ import annotations

import pytest

from odradek import Producer
from odradek.testing import Cluster


def test_the_readme_failover_snippet() -> None:
    with Cluster(nodes=3) as cluster:
        assert cluster.node_ids() == [1, 2, 3]
        cluster.create_topic("orders")
        p = Producer(cluster.config(**{"acks": "all"}))
        try:
            p.produce("orders", b"before").result(30)
            leader = cluster.leader("orders", 0)
            assert leader in (1, 2, 3)
            before = cluster.bootstrap_servers
            cluster.kill(leader)
            assert len(cluster.bootstrap_servers.split(",")) == 2
            p.produce("orders", b"after").result(60)
            cluster.restart(leader)
            assert cluster.bootstrap_servers == before, "a restarted node keeps its port"
        finally:
            p.close()


def test_bad_ids_and_a_stopped_cluster_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="1 to 9 nodes"):
        Cluster(nodes=0)
    cluster = Cluster(nodes=1)
    with pytest.raises(ValueError, match="no node 7"):
        cluster.kill(7)
    cluster.kill(1)
    with pytest.raises(ValueError, match="not running"):
        cluster.isolate(1)
    cluster.stop()
    cluster.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        cluster.restart(1)
