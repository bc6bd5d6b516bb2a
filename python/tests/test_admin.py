"""AdminClient beyond topics: configs, consumer groups (offsets, lag, delete), delete records,
describe cluster, ACLs and SCRAM users; and Consumer.offsets_for_times. Against the embedded
broker and Apache Kafka (the ``kafka`` fixture), ACLs and SCRAM users against an embedded
SASL_SSL broker with an authorizer."""

from __future__ import annotations

import time
import uuid
from typing import Any, Callable, Dict, List, Optional

import pytest

import odradek
from odradek import (
    AclBinding,
    AclBindingFilter,
    ConfigResource,
    TopicPartition,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from odradek.testing import Broker

T0 = 1_000_000_000_000  # a timestamp in 2001: retention.ms=-1 keeps such records


def described(admin: odradek.AdminClient, res: ConfigResource, ready: Callable[[Dict[str, Any]], bool],
              keys: Optional[List[str]] = None) -> Dict[str, Any]:
    """The configs once ``ready`` says so: Apache Kafka's brokers apply an alteration from the
    controller's metadata a moment after it is acknowledged."""
    deadline = time.monotonic() + 15
    while True:
        got = admin.describe_configs(res, keys=keys)
        if ready(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_configs_are_altered_incrementally_and_described(kafka: Any) -> None:
    admin = odradek.AdminClient(kafka.config())
    topic = kafka.topic()
    res = ConfigResource("topic", topic)
    admin.alter_configs(res, {"retention.bytes": "1073741824", "max.message.bytes": "2000000"})
    got = described(admin, res, lambda c: c["retention.bytes"].value == "1073741824")
    assert got["retention.bytes"].value == "1073741824"
    assert not got["retention.bytes"].is_default
    assert got["max.message.bytes"].value == "2000000"
    assert got["cleanup.policy"].is_default
    # None reverts one config to its default; the other stays.
    admin.alter_configs(res, {"retention.bytes": None})
    only = described(admin, res, lambda c: c["retention.bytes"].is_default,
                     keys=["retention.bytes", "max.message.bytes"])
    assert set(only) == {"retention.bytes", "max.message.bytes"}
    assert only["retention.bytes"].is_default
    assert only["max.message.bytes"].value == "2000000"

    with pytest.raises(odradek.KafkaError) as bad_type:
        admin.describe_configs(ConfigResource("planet", "x"))
    assert bad_type.value.name == "_INVALID_ARG" and "planet" in str(bad_type.value)
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(odradek.KafkaError) as unknown:
        admin.describe_configs(ConfigResource("topic", missing))
    assert unknown.value.name == "UNKNOWN_TOPIC_OR_PARTITION"
    assert unknown.value.topic == missing


def test_describe_cluster(kafka: Any) -> None:
    cluster = odradek.AdminClient(kafka.config()).describe_cluster()
    assert cluster.cluster_id
    assert len(cluster.nodes) == 1
    node = cluster.nodes[0]
    assert node.port == int(kafka.bootstrap.rsplit(":", 1)[1])
    assert cluster.controller_id >= 0


def test_group_offsets_lag_and_delete(kafka: Any) -> None:
    admin = odradek.AdminClient(kafka.config())
    topic = kafka.topic(partitions=1)
    group = f"g-{uuid.uuid4().hex[:8]}"
    p = odradek.Producer(kafka.config())
    for i in range(5):
        p.produce(topic, f"v{i}".encode(), partition=0)
    p.flush(30)
    p.close()
    c = odradek.Consumer(kafka.config(**{"group.id": group, "enable.auto.commit": False,
                                         "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got = c.consume(5, 30)
    assert len(got) == 5
    c.commit(message=got[2])  # committed 3

    described = admin.describe_consumer_groups([group])[group]
    assert described.state == "Stable"
    assert [m.assignment for m in described.members] == [[TopicPartition(topic, 0)]]
    assert group in {g.group_id for g in admin.list_consumer_groups()}
    assert admin.list_consumer_group_offsets(group) == [TopicPartition(topic, 0, 3)]
    [lag] = admin.list_consumer_group_lag(group)
    assert (lag.topic, lag.partition, lag.committed, lag.log_end, lag.lag) == (topic, 0, 3, 5, 2)

    with pytest.raises(odradek.KafkaError) as busy:
        admin.delete_consumer_groups([group])
    assert busy.value.name == "NON_EMPTY_GROUP" and not busy.value.retriable
    c.close()

    assert admin.describe_consumer_groups([group])[group].state == "Empty"
    admin.alter_consumer_group_offsets(group, [TopicPartition(topic, 0, 1)])
    assert admin.list_consumer_group_offsets(group) == [TopicPartition(topic, 0, 1)]
    assert admin.list_consumer_group_lag(group)[0].lag == 4
    admin.delete_consumer_group_offsets(group, [(topic, 0)])
    assert admin.list_consumer_group_offsets(group) == []
    # A topic asked for explicitly has lag from its log start when nothing is committed.
    [fresh] = admin.list_consumer_group_lag(group, topics=[topic])
    assert (fresh.committed, fresh.lag) == (None, 5)
    admin.alter_consumer_group_offsets(group, [TopicPartition(topic, 0, 2)])
    admin.delete_consumer_groups([group])
    assert admin.describe_consumer_groups([group])[group].state == "Dead"
    assert admin.list_consumer_group_offsets(group) == []


def test_delete_records_and_offsets_for_times(kafka: Any) -> None:
    admin = odradek.AdminClient(kafka.config())
    topic = kafka.topic(partitions=1, config={"retention.ms": "-1"})
    p = odradek.Producer(kafka.config())
    for i in range(6):
        p.produce(topic, b"v", partition=0, timestamp_ms=T0 + 1000 * i)
    p.flush(30)
    p.close()
    c = odradek.Consumer(kafka.config())
    found = c.offsets_for_times([TopicPartition(topic, 0, T0 + 2000)], timeout=30)
    assert found == [TopicPartition(topic, 0, 2)]
    assert c.offsets_for_times([(topic, 0, T0 + 2500)], timeout=30)[0].offset == 3
    assert c.offsets_for_times([(topic, 0, T0 + 60_000)], timeout=30)[0].offset == -1
    with pytest.raises(odradek.KafkaError) as negative:
        c.offsets_for_times([(topic, 0, -5)], timeout=30)
    assert negative.value.name == "_INVALID_ARG" and negative.value.topic == topic

    assert admin.delete_records([TopicPartition(topic, 0, 4)]) == [TopicPartition(topic, 0, 4)]
    assert c.get_watermark_offsets((topic, 0), timeout=30) == (4, 6)
    with pytest.raises(odradek.KafkaError) as no_partition:
        admin.delete_records([TopicPartition(topic, 7, 1)])
    assert (no_partition.value.topic, no_partition.value.partition) == (topic, 7)
    c.close()


def test_reassignments_and_elections_on_one_broker(kafka: Any) -> None:
    # One broker holds every replica: its own id is the only valid target, nothing is ever in
    # progress, and no election is needed (Kafka's one-broker answers).
    admin = odradek.AdminClient(kafka.config())
    topic = kafka.topic(partitions=2)
    me = admin.describe_cluster().nodes[0].id
    admin.alter_partition_reassignments({(topic, 0): [me]})
    with pytest.raises(odradek.KafkaError) as unknown_broker:
        admin.alter_partition_reassignments({TopicPartition(topic, 1): [me + 1]})
    assert unknown_broker.value.name == "INVALID_REPLICA_ASSIGNMENT"
    assert (unknown_broker.value.topic, unknown_broker.value.partition) == (topic, 1)
    with pytest.raises(odradek.KafkaError) as cancel:
        admin.alter_partition_reassignments({(topic, 0): None})
    assert cancel.value.name == "NO_REASSIGNMENT_IN_PROGRESS"
    assert admin.list_partition_reassignments() == []
    assert admin.list_partition_reassignments([(topic, 0)]) == []

    elected = admin.elect_leaders("preferred", [(topic, 0), (topic, 5)])
    assert set(elected) == {TopicPartition(topic, 0), TopicPartition(topic, 5)}
    not_needed, unknown = elected[TopicPartition(topic, 0)], elected[TopicPartition(topic, 5)]
    assert isinstance(not_needed, odradek.KafkaError) and not_needed.name == "ELECTION_NOT_NEEDED"
    assert isinstance(unknown, odradek.KafkaError) and unknown.name == "UNKNOWN_TOPIC_OR_PARTITION"
    assert admin.elect_leaders() == {}  # every partition asked: none needed one
    with pytest.raises(ValueError):
        admin.elect_leaders("random")


PASSWORD = "admin-secret-8f2c"
BOB_PASSWORD = "bob-secret-77a1"


def test_acls_and_scram_users() -> None:
    props = {"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
             "super.users": "User:admin"}
    with Broker.sasl_ssl("admin", PASSWORD, props) as broker:
        admin = odradek.AdminClient(broker.config())
        broker.create_topic("granted")
        broker.create_topic("other")

        upsert = UserScramCredentialUpsertion("bob", "SCRAM-SHA-512", BOB_PASSWORD, iterations=4096)
        assert BOB_PASSWORD not in repr(upsert)
        admin.alter_user_scram_credentials([upsert])
        users = admin.describe_user_scram_credentials()
        assert [(i.mechanism, i.iterations) for i in users["bob"]] == [("SCRAM-SHA-512", 4096)]

        acl = AclBinding("TOPIC", "granted", "User:bob", "WRITE")
        admin.create_acls([acl])
        [seen] = admin.describe_acls(AclBindingFilter(principal="User:bob"))
        assert (seen.restype, seen.name, seen.operation, seen.permission_type,
                seen.resource_pattern_type, seen.host) == ("Topic", "granted", "Write", "Allow", "Literal", "*")

        bob = odradek.Producer(broker.config(**{"sasl.username": "bob", "sasl.password": BOB_PASSWORD,
                                                "enable.idempotence": False}))
        assert bob.produce("granted", b"ok").result(30).offset == 0
        with pytest.raises(odradek.KafkaError) as denied:
            bob.produce("other", b"no").result(30)
        assert denied.value.name == "TOPIC_AUTHORIZATION_FAILED"
        bob.close(5)

        with pytest.raises(odradek.KafkaError) as bad_name:
            admin.create_acls([AclBinding("TOPIC", "x", "User:bob", "FLY")])
        assert bad_name.value.name == "_INVALID_ARG" and "FLY" in str(bad_name.value)

        assert admin.delete_acls([AclBindingFilter(restype="TOPIC", name="granted")]) == [seen]
        assert admin.describe_acls() == []

        with pytest.raises(odradek.KafkaError) as bad_mechanism:
            admin.alter_user_scram_credentials(
                [UserScramCredentialUpsertion("bob", "SCRAM-SHA-1", BOB_PASSWORD)])
        assert BOB_PASSWORD not in str(bad_mechanism.value)
        admin.alter_user_scram_credentials([UserScramCredentialDeletion("bob", "SCRAM-SHA-512")])
        assert "bob" not in admin.describe_user_scram_credentials()
