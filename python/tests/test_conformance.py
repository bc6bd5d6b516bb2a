"""The cross-language conformance scenarios (tests/conformance/scenarios/*.json, format in
tests/conformance/README.md), run through the Python API against a fresh embedded broker each.

Mirrors the Rust runner (core/tests/conformance.rs): same steps, same checks. An unknown step
`op` fails the scenario.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import pytest

import odradek
from odradek.testing import Broker, Cluster

SCENARIOS = Path(__file__).resolve().parents[2] / "tests" / "conformance" / "scenarios"
FILES = sorted(SCENARIOS.glob("*.json"))

OFFSETS = {"earliest": odradek.OFFSET_BEGINNING, "latest": odradek.OFFSET_END,
           "committed": odradek.OFFSET_STORED}

# The keys each op may have (besides op, comment, expect_error).
KEYS = {
    "create_topic": {"topic", "partitions", "config", "replication_factor"},
    "producer": {"client", "config"},
    "produce": {"client", "topic", "records", "generate", "expect"},
    "flush": {"client"},
    "consumer": {"client", "config", "on_revoke"},
    "assign": {"client", "partitions"},
    "subscribe": {"client", "topics"},
    "consume": {"client", "count", "timeout_ms", "expect", "generate"},
    "consume_none": {"client", "timeout_ms"},
    "iterate": {"client", "count", "timeout_ms", "expect"},
    "seek": {"client", "topic", "partition", "offset"},
    "position": {"client", "topic", "partition", "expect"},
    "pause": {"client", "partitions"},
    "resume": {"client", "partitions"},
    "commit": {"client", "offsets"},
    "committed": {"client", "partitions", "expect"},
    "wait_assignment": {"clients", "topic", "partitions", "timeout_ms"},
    "close": {"client"},
    "init_transactions": {"client"},
    "begin_transaction": {"client"},
    "commit_transaction": {"client"},
    "abort_transaction": {"client"},
    "send_offsets_to_transaction": {"client", "consumer", "offsets"},
    "watermarks": {"client", "topic", "partition", "expect"},
    "offsets_for_times": {"client", "partitions", "expect"},
    "describe_cluster": {"brokers"},
    "describe_group": {"group", "state", "members"},
    "group_lag": {"group", "expect"},
    "alter_group_offsets": {"group", "offsets"},
    "delete_group": {"group"},
    "alter_config": {"topic", "set"},
    "describe_config": {"topic", "expect"},
    "delete_records": {"topic", "partition", "offset", "expect"},
    "share_consumer": {"client", "config"},
    "share_subscribe": {"client", "topics", "timeout_ms"},
    "share_poll": {"client", "count", "timeout_ms", "expect"},
    "acknowledge": {"client", "topic", "partition", "offsets", "type"},
    "share_commit": {"client"},
    "stop_broker": set(),
    "expect_error_event": {"client", "names", "retriable", "timeout_ms"},
    "expect_log": {"level", "timeout_ms"},
    "leader": {"topic", "partition", "name", "not", "timeout_ms"},
    "kill_node": {"node"},
    "restart_node": {"node"},
    "isolate_node": {"node"},
    "heal_node": {"node"},
}

ACKNOWLEDGE_TYPES = {"accept": odradek.AcknowledgeType.ACCEPT, "release": odradek.AcknowledgeType.RELEASE,
                     "reject": odradek.AcknowledgeType.REJECT}


def to_bytes(b: Any) -> Optional[bytes]:
    if b is None:
        return None
    if isinstance(b, str):
        return b.encode()
    if "hex" in b:
        return bytes.fromhex(b["hex"])
    if "repeat" in b:
        return (b["repeat"] * b["count"]).encode()
    raise ValueError(f"not a bytes value: {b!r}")


def generated(g: Dict[str, Any]) -> List[Tuple[Optional[bytes], Optional[bytes]]]:
    def fill(t: Optional[str], i: int) -> Optional[bytes]:
        return None if t is None else t.replace("{i}", str(i)).encode()
    return [(fill(g.get("key"), i), fill(g.get("value"), i)) for i in range(g["count"])]


class StepFailed(AssertionError):
    pass


class ConsumerState:
    def __init__(self, consumer: odradek.Consumer, on_revoke: Optional[str]) -> None:
        self.consumer = consumer
        self.pending: List[odradek.Message] = []
        if on_revoke not in (None, "commit"):
            raise StepFailed(f"unknown on_revoke {on_revoke!r}")
        self.commit_on_revoke = on_revoke == "commit"

    def on_revoke(self, consumer: odradek.Consumer, partitions: List[odradek.TopicPartition]) -> None:
        # A failure raises out of the poll/consume/close that ran the callback: the step fails.
        consumer.commit()


class ShareState:
    def __init__(self, consumer: odradek.ShareConsumer) -> None:
        self.consumer = consumer
        # Every record share_poll handed out, for acknowledge to find by offset.
        self.received: List[odradek.ShareMessage] = []


# The SCRAM user of the embedded broker in a "security": "sasl_ssl" scenario.
SASL_USER, SASL_PASSWORD = "conformance", "conformance-secret"


def start_broker(scenario: Dict[str, Any]) -> Union[Broker, Cluster]:
    props = {k: str(v) for k, v in scenario.get("broker_config", {}).items()}
    if "cluster" in scenario:
        return Cluster(nodes=scenario["cluster"]["nodes"], properties=props)
    security = scenario.get("security")
    if security is None:
        return Broker(props)
    if security == "sasl_ssl":
        return Broker.sasl_ssl(SASL_USER, SASL_PASSWORD, props)
    raise StepFailed(f"unknown security {security!r}")


class LogCapture(logging.Handler):
    """The records of the ``odradek`` logger (WARNING and above), from stop_broker on."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Runner:
    def __init__(self, base_config: Dict[str, str], broker: Optional[Broker] = None,
                 cluster: Optional[Cluster] = None) -> None:
        # bootstrap.servers and, for a sasl_ssl scenario, the security keys; a step's own
        # config keys replace these.
        self.base_config = base_config
        self.admin = odradek.AdminClient(base_config)
        self.clients: Dict[str, Any] = {}
        self.broker = broker
        # The cluster of a "cluster" scenario, and node ids by the names `leader` bound.
        self.cluster = cluster
        self.nodes: Dict[str, int] = {}
        # Every background error each client's error_cb received, by client name.
        self.errors: Dict[str, List[odradek.KafkaError]] = {}
        self.errors_lock = threading.Lock()
        self.logs: Optional[LogCapture] = None

    def config(self, step: Dict[str, Any]) -> Dict[str, str]:
        cfg = dict(self.base_config)
        cfg.update({k: str(v) for k, v in step.get("config", {}).items()})
        return cfg

    def consumer(self, name: str) -> ConsumerState:
        c = self.clients.get(name)
        if not isinstance(c, ConsumerState):
            raise StepFailed(f"no consumer named {name}")
        return c

    def producer(self, name: str) -> odradek.Producer:
        p = self.clients.get(name)
        if not isinstance(p, odradek.Producer):
            raise StepFailed(f"no producer named {name}")
        return p

    def run(self, step: Dict[str, Any]) -> None:
        op = step["op"]
        if op not in KEYS:
            raise StepFailed(f"unknown op {op!r}")
        extra = set(step) - KEYS[op] - {"op", "comment", "expect_error"}
        if extra:
            raise StepFailed(f"keys {sorted(extra)} are not allowed in {op}")
        expect_error = step.get("expect_error")
        try:
            getattr(self, "op_" + op)(step)
        except odradek.KafkaError as e:
            if expect_error is None:
                raise StepFailed(f"unexpected error {e.name}: {e}") from e
            if e.name != expect_error["name"]:
                raise StepFailed(f"expected error {expect_error['name']}, got {e.name}: {e}") from e
            if "retriable" in expect_error and e.retriable != expect_error["retriable"]:
                raise StepFailed(f"{e.name}: retriable is {e.retriable}, expected {expect_error['retriable']}") from e
            if "fatal" in expect_error and e.fatal != expect_error["fatal"]:
                raise StepFailed(f"{e.name}: fatal is {e.fatal}, expected {expect_error['fatal']}") from e
            for field in ("topic", "partition"):
                if field in expect_error and getattr(e, field) != expect_error[field]:
                    raise StepFailed(f"{e.name}: {field} is {getattr(e, field)!r}, expected {expect_error[field]!r}") from e
            return
        if expect_error is not None:
            raise StepFailed(f"expected error {expect_error['name']}, the step succeeded")

    def op_create_topic(self, step: Dict[str, Any]) -> None:
        self.admin.create_topics([odradek.NewTopic(step["topic"], step["partitions"],
                                                   step.get("replication_factor", 1),
                                                   {k: str(v) for k, v in step.get("config", {}).items()})])

    def op_producer(self, step: Dict[str, Any]) -> None:
        self.clients[step["client"]] = odradek.Producer(self.watched_config(step))

    def op_produce(self, step: Dict[str, Any]) -> None:
        p = self.producer(step["client"])
        futures = []
        for r in step.get("records", []):
            futures.append(p.produce(
                step["topic"], to_bytes(r.get("value")), to_bytes(r.get("key")),
                headers=[(h[0], to_bytes(h[1])) for h in r.get("headers", [])],
                partition=r.get("partition"), timestamp_ms=r.get("timestamp")))
        if "generate" in step:
            for k, v in generated(step["generate"]):
                futures.append(p.produce(step["topic"], v, k))
        if "expect_error" in step:
            first: Optional[odradek.KafkaError] = None
            for f in futures:
                err = f.exception(60)
                if err is None:
                    raise StepFailed("a delivery succeeded, expected an error")
                assert isinstance(err, odradek.KafkaError)
                if first is None:
                    first = err
                if err.name != step["expect_error"]["name"]:
                    raise err
            if first is not None:
                raise first
            return
        reports = [f.result(60) for f in futures]
        for i, (want, got) in enumerate(zip(step.get("expect", []), reports)):
            for field in ("partition", "offset"):
                if field in want and getattr(got, field) != want[field]:
                    raise StepFailed(f"record {i}: {field} {getattr(got, field)}, expected {want[field]}")

    def op_flush(self, step: Dict[str, Any]) -> None:
        if self.producer(step["client"]).flush(60) != 0:
            raise StepFailed("flush timed out")

    def op_consumer(self, step: Dict[str, Any]) -> None:
        self.clients[step["client"]] = ConsumerState(odradek.Consumer(self.watched_config(step)),
                                                     step.get("on_revoke"))

    def op_assign(self, step: Dict[str, Any]) -> None:
        c = self.consumer(step["client"])
        parts = []
        for p in step["partitions"]:
            o = p["offset"]
            parts.append(odradek.TopicPartition(p["topic"], p["partition"], OFFSETS[o] if isinstance(o, str) else o))
        c.consumer.assign(parts)

    def op_subscribe(self, step: Dict[str, Any]) -> None:
        c = self.consumer(step["client"])
        c.consumer.subscribe(step["topics"], on_revoke=c.on_revoke if c.commit_on_revoke else None)

    def op_consume(self, step: Dict[str, Any]) -> None:
        c = self.consumer(step["client"])
        count = step["count"]
        got = c.pending[:count]
        c.pending = c.pending[count:]
        deadline = time.monotonic() + step["timeout_ms"] / 1000
        while len(got) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StepFailed(f"received {len(got)} of {count} records within {step['timeout_ms']} ms")
            got.extend(c.consumer.consume(count - len(got), min(left, 0.5)))
        got.sort(key=lambda m: (m.topic, m.partition, m.offset))
        self.check_records(step, got)

    def op_iterate(self, step: Dict[str, Any]) -> None:
        c = self.consumer(step["client"])
        if c.pending:
            raise StepFailed(f"{len(c.pending)} records were already waiting")
        got = []
        for m in c.consumer:  # the suite's timeout bounds a loop that never ends
            got.append(m)
            if len(got) == step["count"]:
                break
        self.check_records(step, got)

    def check_records(self, step: Dict[str, Any], got: List[Any]) -> None:
        for i, want in enumerate(step.get("expect", [])):
            m = got[i]
            for field in ("topic", "partition", "offset"):
                if field in want and getattr(m, field) != want[field]:
                    raise StepFailed(f"record {i}: {field} {getattr(m, field)!r}, expected {want[field]!r}")
            for field in ("key", "value"):
                if field in want and getattr(m, field) != to_bytes(want[field]):
                    raise StepFailed(f"record {i}: {field} {getattr(m, field)!r}, expected {want[field]!r}")
            if "headers" in want:
                expected = [(h[0], to_bytes(h[1])) for h in want["headers"]]
                if m.headers != expected:
                    raise StepFailed(f"record {i}: headers {m.headers!r}, expected {expected!r}")
        if "generate" in step:
            expected_set = sorted(generated(step["generate"]), key=repr)
            seen = sorted(((m.key, m.value) for m in got), key=repr)
            if seen != expected_set:
                raise StepFailed("the received (key, value) pairs differ from the generated ones")

    def op_consume_none(self, step: Dict[str, Any]) -> None:
        c = self.consumer(step["client"])
        if c.pending:
            raise StepFailed(f"{len(c.pending)} records were already waiting")
        m = c.consumer.poll(step["timeout_ms"] / 1000)
        if m is not None:
            raise StepFailed(f"a record arrived: {m!r}")

    def op_seek(self, step: Dict[str, Any]) -> None:
        c = self.consumer(step["client"])
        c.pending = [m for m in c.pending if (m.topic, m.partition) != (step["topic"], step["partition"])]
        c.consumer.seek(odradek.TopicPartition(step["topic"], step["partition"], step["offset"]))

    def op_position(self, step: Dict[str, Any]) -> None:
        c = self.consumer(step["client"])
        pending = [m.offset for m in c.pending if (m.topic, m.partition) == (step["topic"], step["partition"])]
        pos = min(pending) if pending else c.consumer.position([(step["topic"], step["partition"])])[0].offset
        if pos != step["expect"]:
            raise StepFailed(f"position {pos}, expected {step['expect']}")

    def op_pause(self, step: Dict[str, Any]) -> None:
        self.consumer(step["client"]).consumer.pause(
            [odradek.TopicPartition(p["topic"], p["partition"]) for p in step["partitions"]])

    def op_resume(self, step: Dict[str, Any]) -> None:
        self.consumer(step["client"]).consumer.resume(
            [odradek.TopicPartition(p["topic"], p["partition"]) for p in step["partitions"]])

    def op_commit(self, step: Dict[str, Any]) -> None:
        c = self.consumer(step["client"])
        if "offsets" in step:
            c.consumer.commit([odradek.TopicPartition(o["topic"], o["partition"], o["offset"])
                               for o in step["offsets"]])
        else:
            c.consumer.commit()

    def op_init_transactions(self, step: Dict[str, Any]) -> None:
        self.producer(step["client"]).init_transactions(timeout=30)

    def op_begin_transaction(self, step: Dict[str, Any]) -> None:
        self.producer(step["client"]).begin_transaction()

    def op_commit_transaction(self, step: Dict[str, Any]) -> None:
        self.producer(step["client"]).commit_transaction(timeout=30)

    def op_abort_transaction(self, step: Dict[str, Any]) -> None:
        self.producer(step["client"]).abort_transaction(timeout=30)

    def op_send_offsets_to_transaction(self, step: Dict[str, Any]) -> None:
        group = self.consumer(step["consumer"]).consumer.consumer_group_metadata()
        offsets = [odradek.TopicPartition(o["topic"], o["partition"], o["offset"]) for o in step["offsets"]]
        self.producer(step["client"]).send_offsets_to_transaction(offsets, group, timeout=30)

    def op_committed(self, step: Dict[str, Any]) -> None:
        c = self.consumer(step["client"])
        got = c.consumer.committed([(p["topic"], p["partition"]) for p in step["partitions"]], timeout=30)
        offsets = [-1 if t.offset == odradek.OFFSET_INVALID else t.offset for t in got]
        if offsets != step["expect"]:
            raise StepFailed(f"committed {offsets}, expected {step['expect']}")

    def op_wait_assignment(self, step: Dict[str, Any]) -> None:
        names = step["clients"]
        n = step["partitions"]
        deadline = time.monotonic() + step["timeout_ms"] / 1000
        while True:
            owners: Dict[int, List[str]] = {}
            each_owns = True
            for name in names:
                c = self.consumer(name)
                c.pending.extend(c.consumer.consume_batch(1000, 0.05))
                mine = [tp.partition for tp in c.consumer.assignment() if tp.topic == step["topic"]]
                each_owns &= bool(mine) or n < len(names)
                for p in mine:
                    owners.setdefault(p, []).append(name)
            if each_owns and all(len(owners.get(p, [])) == 1 for p in range(n)) and set(owners) <= set(range(n)):
                return
            if time.monotonic() > deadline:
                raise StepFailed(f"assignment did not settle; owners: {owners}")

    def op_watermarks(self, step: Dict[str, Any]) -> None:
        c = self.consumer(step["client"])
        got = list(c.consumer.get_watermark_offsets((step["topic"], step["partition"]), timeout=30))
        if got != step["expect"]:
            raise StepFailed(f"watermarks {got}, expected {step['expect']}")

    def op_offsets_for_times(self, step: Dict[str, Any]) -> None:
        c = self.consumer(step["client"])
        asked = [odradek.TopicPartition(p["topic"], p["partition"], p["timestamp"]) for p in step["partitions"]]
        got = [tp.offset for tp in c.consumer.offsets_for_times(asked, timeout=30)]
        if got != step["expect"]:
            raise StepFailed(f"offsets_for_times {got}, expected {step['expect']}")

    def op_describe_cluster(self, step: Dict[str, Any]) -> None:
        cluster = self.admin.describe_cluster()
        if len(cluster.nodes) != step["brokers"]:
            raise StepFailed(f"brokers {cluster.nodes}, expected {step['brokers']}")
        if cluster.controller_id not in [n.id for n in cluster.nodes]:
            raise StepFailed(f"controller {cluster.controller_id} is not a listed broker")

    def op_describe_group(self, step: Dict[str, Any]) -> None:
        g = self.admin.describe_consumer_groups([step["group"]])[step["group"]]
        if (g.state, len(g.members)) != (step["state"], step["members"]):
            raise StepFailed(f"group {g.state} with {len(g.members)} members, "
                             f"expected {step['state']} with {step['members']}")

    def op_group_lag(self, step: Dict[str, Any]) -> None:
        lags = sorted(self.admin.list_consumer_group_lag(step["group"]), key=lambda l: (l.topic, l.partition))
        if len(lags) != len(step["expect"]):
            raise StepFailed(f"lag {lags}, expected {len(step['expect'])} partitions")
        for want, lag in zip(step["expect"], lags):
            seen = lag._replace(committed=-1 if lag.committed is None else lag.committed)._asdict()
            for field, value in want.items():
                if seen[field] != value:
                    raise StepFailed(f"lag {lag}: {field} is not {value}")

    def op_alter_group_offsets(self, step: Dict[str, Any]) -> None:
        self.admin.alter_consumer_group_offsets(
            step["group"], [odradek.TopicPartition(o["topic"], o["partition"], o["offset"]) for o in step["offsets"]])

    def op_delete_group(self, step: Dict[str, Any]) -> None:
        self.admin.delete_consumer_groups([step["group"]])

    def op_alter_config(self, step: Dict[str, Any]) -> None:
        self.admin.alter_configs(odradek.ConfigResource("topic", step["topic"]),
                                 {k: str(v) for k, v in step["set"].items()})

    def op_describe_config(self, step: Dict[str, Any]) -> None:
        entries = self.admin.describe_configs(odradek.ConfigResource("topic", step["topic"]))
        for name, value in step["expect"].items():
            got = entries[name].value if name in entries else None
            if got != str(value):
                raise StepFailed(f"config {name} is {got!r}, expected {value!r}")

    def op_delete_records(self, step: Dict[str, Any]) -> None:
        [low] = self.admin.delete_records([odradek.TopicPartition(step["topic"], step["partition"], step["offset"])])
        if "expect" in step and low.offset != step["expect"]:
            raise StepFailed(f"low watermark {low.offset}, expected {step['expect']}")
    def share(self, name: str) -> ShareState:
        c = self.clients.get(name)
        if not isinstance(c, ShareState):
            raise StepFailed(f"no share consumer named {name}")
        return c

    def op_share_consumer(self, step: Dict[str, Any]) -> None:
        self.clients[step["client"]] = ShareState(odradek.ShareConsumer(self.config(step)))

    def op_share_subscribe(self, step: Dict[str, Any]) -> None:
        # Polls until assigned, then once more: the share-partition starts at the log's end
        # when first fetched.
        s = self.share(step["client"])
        s.consumer.subscribe(step["topics"])
        deadline = time.monotonic() + step["timeout_ms"] / 1000
        while True:
            assigned = bool(s.consumer.assignment())
            got = s.consumer.poll(0.1)
            if got:
                raise StepFailed(f"a record arrived before any was produced: {got[0]!r}")
            if assigned:
                return
            if time.monotonic() > deadline:
                raise StepFailed("no share assignment in time")

    def op_share_poll(self, step: Dict[str, Any]) -> None:
        s = self.share(step["client"])
        count = step["count"]
        deadline = time.monotonic() + step["timeout_ms"] / 1000
        got: List[odradek.ShareMessage] = []
        while True:
            got.extend(s.consumer.poll(max(0.0, min(deadline - time.monotonic(), 0.2))))
            done = bool(got) if count == 0 else len(got) >= count
            if done or time.monotonic() >= deadline:
                break
        s.received.extend(got)
        if len(got) != count:
            raise StepFailed(f"received {len(got)} records, expected {count}")
        got.sort(key=lambda m: (m.topic, m.partition, m.offset))
        self.check_records(step, got)
        for i, want in enumerate(step.get("expect", [])):
            if "delivery_count" in want and got[i].delivery_count != want["delivery_count"]:
                raise StepFailed(f"record {i}: delivery_count {got[i].delivery_count}, expected {want['delivery_count']}")

    def op_acknowledge(self, step: Dict[str, Any]) -> None:
        s = self.share(step["client"])
        kind = ACKNOWLEDGE_TYPES.get(step["type"])
        if kind is None:
            raise StepFailed(f"unknown acknowledge type {step['type']!r}")
        for offset in step["offsets"]:
            found = [m for m in s.received
                     if (m.topic, m.partition, m.offset) == (step["topic"], step["partition"], offset)]
            if not found:
                raise StepFailed(f"no record {step['topic']}-{step['partition']}@{offset} was received")
            s.consumer.acknowledge(found[-1], kind)

    def op_share_commit(self, step: Dict[str, Any]) -> None:
        self.share(step["client"]).consumer.commit_sync(30)

    def op_close(self, step: Dict[str, Any]) -> None:
        c = self.clients.pop(step["client"], None)
        if c is None:
            raise StepFailed(f"no client named {step['client']}")
        if isinstance(c, (ConsumerState, ShareState)):
            c.consumer.close()
        else:
            c.close()

    def close_all(self) -> None:
        for c in self.clients.values():
            try:
                (c.consumer if isinstance(c, (ConsumerState, ShareState)) else c).close(5)
            except Exception:
                pass
        if self.logs is not None:
            logging.getLogger("odradek").removeHandler(self.logs)

    # Background failures: stop_broker, expect_error_event, expect_log.

    def watched_config(self, step: Dict[str, Any]) -> Dict[str, Any]:
        """The client's config with an error_cb that records its errors."""
        seen: List[odradek.KafkaError] = []
        self.errors[step["client"]] = seen

        def on_error(e: odradek.KafkaError) -> None:
            with self.errors_lock:
                seen.append(e)

        cfg: Dict[str, Any] = dict(self.config(step))
        cfg["error_cb"] = on_error
        return cfg

    def op_stop_broker(self, step: Dict[str, Any]) -> None:
        if self.broker is None:
            raise StepFailed("this runner has no broker to stop")
        if self.logs is None:
            self.logs = LogCapture()
            logging.getLogger("odradek").addHandler(self.logs)
            odradek.set_log_level(logging.WARNING)
        self.broker.stop()

    def the_cluster(self) -> Cluster:
        if self.cluster is None:
            raise StepFailed('a cluster op in a scenario without "cluster"')
        return self.cluster

    def node(self, name: str) -> int:
        if name not in self.nodes:
            raise StepFailed(f"no node named {name!r} (bind it with a leader step)")
        return self.nodes[name]

    def op_leader(self, step: Dict[str, Any]) -> None:
        cluster = self.the_cluster()
        excluded = {self.node(n) for n in step.get("not", [])}
        deadline = time.monotonic() + step["timeout_ms"] / 1000
        while True:
            leader = cluster.leader(step["topic"], step["partition"])
            if leader is not None and leader not in excluded:
                self.nodes[step["name"]] = leader
                return
            if time.monotonic() > deadline:
                raise StepFailed(f"no leader of {step['topic']}-{step['partition']} other than "
                                 f"{sorted(excluded)} within {step['timeout_ms']} ms (last seen: {leader})")
            time.sleep(0.05)

    def op_kill_node(self, step: Dict[str, Any]) -> None:
        self.the_cluster().kill(self.node(step["node"]))

    def op_restart_node(self, step: Dict[str, Any]) -> None:
        self.the_cluster().restart(self.node(step["node"]))

    def op_isolate_node(self, step: Dict[str, Any]) -> None:
        self.the_cluster().isolate(self.node(step["node"]))

    def op_heal_node(self, step: Dict[str, Any]) -> None:
        self.the_cluster().heal(self.node(step["node"]))

    def op_expect_error_event(self, step: Dict[str, Any]) -> None:
        seen = self.errors.get(step["client"])
        if seen is None:
            raise StepFailed(f"no client named {step['client']}")
        deadline = time.monotonic() + step["timeout_ms"] / 1000
        while True:
            with self.errors_lock:
                hit = next((e for e in seen if e.name in step["names"]), None)
                received = [f"{e.name} ({e})" for e in seen]
            if hit is not None:
                if "retriable" in step and hit.retriable != step["retriable"]:
                    raise StepFailed(f"error event {hit.name}: retriable is {hit.retriable}, "
                                     f"expected {step['retriable']}")
                return
            if time.monotonic() > deadline:
                raise StepFailed(f"no error event named {step['names']} within {step['timeout_ms']} ms; "
                                 f"received {received}")
            time.sleep(0.05)

    def op_expect_log(self, step: Dict[str, Any]) -> None:
        least = {"warn": logging.WARNING, "error": logging.ERROR}.get(step["level"])
        if least is None:
            raise StepFailed(f"level {step['level']!r} is not warn or error")
        if self.logs is None:
            raise StepFailed("expect_log before stop_broker: no log capture")
        deadline = time.monotonic() + step["timeout_ms"] / 1000
        while not any(r.levelno >= least for r in list(self.logs.records)):
            if time.monotonic() > deadline:
                captured = [r.getMessage() for r in self.logs.records]
                raise StepFailed(f"no log record at {step['level']} or above within {step['timeout_ms']} ms; "
                                 f"captured {captured}")
            time.sleep(0.05)


def test_scenarios_exist() -> None:
    assert len(FILES) >= 7, f"expected the conformance scenarios in {SCENARIOS}"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario(path: Path) -> None:
    scenario = json.loads(path.read_text())
    with start_broker(scenario) as broker:
        if isinstance(broker, Cluster):
            runner = Runner(broker.config(), cluster=broker)
        else:
            runner = Runner(broker.config(), broker)
        try:
            for i, step in enumerate(scenario["steps"]):
                try:
                    runner.run(step)
                except Exception as e:
                    raise StepFailed(f"{scenario['name']} step {i} ({step['op']}): {e}") from e
        finally:
            runner.close_all()


def test_unknown_op_fails() -> None:
    runner = Runner({"bootstrap.servers": "127.0.0.1:1"})
    with pytest.raises(StepFailed, match="unknown op"):
        runner.run({"op": "teleport", "client": "x"})
