#!/usr/bin/env python3
"""Captures real Kafka traffic for the golden fixtures, through a recording proxy in front of
Apache Kafka 4.3.1 (started with scripts/apache-kafka.sh; Kafka advertises the proxy's address).

1. librdkafka Produce frames: confluent-kafka (librdkafka 2.16) produces the logical records of
   logical-records.json once per codec (idempotent); the one Produce request each producer sends
   is saved whole as FIXTURES/librdkafka/produce-<codec>.bin.
2. Conversations: every request and response of a whole client session, saved under
   FIXTURES/conversations/<session>/ with an index.json:
   - librdkafka: an idempotent zstd producer, then a classic-protocol consumer group member that
     reads the records back and commits;
   - java: the same with the Java client's KafkaProducer and a KIP-848 (group.protocol=consumer)
     KafkaConsumer (GoldenJava.java's `session` mode);
   - admin: a librdkafka AdminClient creating the topics, listing them, describing the cluster
     and a topic's configs;
   - api-versions: ApiVersions v0, and v9 (unknown to Kafka 4.3.1), from a raw socket.

    python capture_kafka.py logical-records.json FIXTURES GOLDEN_JAVA_CLASSPATH

Run through tools/golden/regenerate.sh, which also writes the sidecars of step 1.
"""
import base64
import json
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

import confluent_kafka
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from recording_proxy import RecordingProxy

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
ROOT = pathlib.Path(__file__).resolve().parents[2]
# Exchanges kept per (API, version) in a conversation: enough to see each shape, without the
# dozens of empty long-poll fetches and heartbeats a session makes.
KEEP_PER_API_VERSION = 3
API_NAMES = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch",
    10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
    15: "DescribeGroups", 16: "ListGroups", 18: "ApiVersions", 19: "CreateTopics", 20: "DeleteTopics",
    22: "InitProducerId", 23: "OffsetForLeaderEpoch", 32: "DescribeConfigs", 36: "SaslAuthenticate",
    60: "DescribeCluster", 68: "ConsumerGroupHeartbeat", 71: "GetTelemetrySubscriptions",
    72: "PushTelemetry", 75: "DescribeTopicPartitions",
}


def logical_records(path):
    def b(x):
        return None if x is None else base64.b64decode(x)

    doc = json.loads(pathlib.Path(path).read_text())
    return [
        {
            "key": b(r["key"]),
            "value": b(r["value"]),
            "timestamp": r["timestamp"],
            "headers": [(b(h["key"]).decode("utf-8"), b(h["value"])) for h in r["headers"]],
        }
        for r in doc["records"]
    ]


def produce(bootstrap, topic, codec, records):
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "client.id": "golden-librdkafka",
            "compression.type": codec,
            "enable.idempotence": True,
            "linger.ms": 500,
            "batch.num.messages": 1000,
        }
    )
    errors = []

    def delivered(err, msg):
        if err is not None:
            errors.append(err)

    for r in records:
        producer.produce(
            topic, key=r["key"], value=r["value"], partition=0, timestamp=r["timestamp"],
            headers=r["headers"], on_delivery=delivered,
        )
    left = producer.flush(30)
    if left or errors:
        raise SystemExit(f"librdkafka {topic}: {left} undelivered, errors {errors}")


def consume(bootstrap, topic, group, expected):
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "client.id": "golden-librdkafka-consumer",
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got, deadline = [], time.monotonic() + 60
    while len(got) < expected and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            got.append(msg)
    if len(got) != expected:
        raise SystemExit(f"librdkafka consumer read {len(got)} of {expected} records")
    consumer.commit(asynchronous=False)
    consumer.close()


def raw_exchange(address, request_body):
    with socket.create_connection(address, timeout=10) as s:
        s.sendall(struct.pack(">i", len(request_body)) + request_body)
        (size,) = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))
        s.recv(size, socket.MSG_WAITALL)


def api_versions_requests(address):
    client_id = b"golden-raw"
    # v0: request header v1, empty body.
    raw_exchange(address, struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id)
    # v9, unknown to Kafka 4.3.1: header v2 and a v3-shaped body (compact strings, no tags).
    body = bytes([len(b"golden") + 1]) + b"golden" + bytes([len(b"1.0") + 1]) + b"1.0" + b"\x00"
    raw_exchange(address, struct.pack(">hhih", 18, 9, 2, len(client_id)) + client_id + b"\x00" + body)


def save_conversation(exchanges, out_dir, made_by):
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    kept, seen, index = [], {}, []
    for e in exchanges:
        shape = (e["api_key"], e["api_version"])
        seen[shape] = seen.get(shape, 0) + 1
        if seen[shape] <= KEEP_PER_API_VERSION:
            kept.append(e)
    for n, e in enumerate(kept):
        api = API_NAMES.get(e["api_key"], f"Api{e['api_key']}")
        stem = f"{n:03}-{api}-v{e['api_version']}"
        entry = {
            "api_key": e["api_key"], "api": api, "api_version": e["api_version"],
            "correlation_id": e["correlation_id"], "client_id": e["client_id"], "connection": e["connection"],
            "request": f"{stem}.request.bin", "response": None,
        }
        (out_dir / entry["request"]).write_bytes(e["request"])
        if e["response"] is not None:
            entry["response"] = f"{stem}.response.bin"
            (out_dir / entry["response"]).write_bytes(e["response"])
        index.append(entry)
    doc = {"made_by": made_by, "broker": "Apache Kafka 4.3.1 (scripts/apache-kafka.sh)", "exchanges": index}
    (out_dir / "index.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{out_dir.name}: kept {len(kept)} of {len(exchanges)} exchanges")


def main():
    records_path, fixtures, golden_java_cp = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
    records = logical_records(records_path)
    rdkafka = f"librdkafka {confluent_kafka.libversion()[0]} (confluent-kafka {confluent_kafka.__version__})"
    proxy = RecordingProxy()
    kafka_dir = tempfile.mkdtemp(prefix="golden-kafka-")
    env = dict(os.environ, KAFKA_EXTRA_PROPS=f"advertised.listeners=PLAINTEXT://127.0.0.1:{proxy.port}")
    started = subprocess.run(
        [str(ROOT / "scripts/apache-kafka.sh"), "start", kafka_dir],
        env=env, check=True, capture_output=True, text=True,
    )
    host, port = started.stdout.strip().splitlines()[-1].rsplit(":", 1)
    proxy.upstream = (host, int(port))
    bootstrap = f"127.0.0.1:{proxy.port}"
    try:
        proxy.session = "admin"
        admin = AdminClient({"bootstrap.servers": bootstrap, "client.id": "golden-admin"})
        topics = [f"golden-{c}" for c in CODECS] + ["golden-conv-librdkafka", "golden-conv-java"]
        for f in admin.create_topics([NewTopic(t, 1, 1) for t in topics]).values():
            f.result(30)
        admin.list_topics(timeout=30)
        admin.describe_cluster().result(30)
        resource = ConfigResource(ConfigResource.Type.TOPIC, "golden-none")
        for f in admin.describe_configs([resource]).values():
            f.result(30)
        save_conversation(proxy.take("admin", "golden-admin"), fixtures / "conversations" / "admin",
                          f"{rdkafka}: AdminClient creating topics, listing them, describing the cluster and a topic's configs (tools/golden/capture_kafka.py)")

        (fixtures / "librdkafka").mkdir(parents=True, exist_ok=True)
        for codec in CODECS:
            proxy.session = f"produce-{codec}"
            produce(bootstrap, f"golden-{codec}", codec, records)
            frames = [e["request"] for e in proxy.take(proxy.session, "golden-librdkafka") if e["api_key"] == 0]
            if len(frames) != 1:
                raise SystemExit(f"librdkafka {codec}: expected one Produce request, captured {len(frames)}")
            (fixtures / "librdkafka" / f"produce-{codec}.bin").write_bytes(frames[0])
            print(f"{rdkafka} {codec}: {len(frames[0])} bytes")

        conversations = fixtures / "conversations"
        proxy.session = "librdkafka"
        produce(bootstrap, "golden-conv-librdkafka", "zstd", records)
        consume(bootstrap, "golden-conv-librdkafka", "golden-librdkafka", len(records))
        save_conversation(proxy.take("librdkafka", "golden-librdkafka"), conversations / "librdkafka",
                          f"{rdkafka}: idempotent zstd producer, then a classic consumer group member (tools/golden/capture_kafka.py)")

        proxy.session = "java"
        subprocess.run(
            ["java", "-cp", golden_java_cp, "GoldenJava", "session", records_path, bootstrap,
             "golden-conv-java", "golden-java"],
            check=True,
        )
        save_conversation(proxy.take("java", "golden-java"), conversations / "java",
                          "kafka-clients 4.3.1: idempotent zstd KafkaProducer, then a KIP-848 KafkaConsumer (GoldenJava.java session)")

        proxy.session = "api-versions"
        api_versions_requests(("127.0.0.1", proxy.port))
        save_conversation(proxy.take("api-versions", "golden-raw"), conversations / "api-versions",
                          "raw socket: ApiVersions v0, and v9 which Kafka 4.3.1 does not know (tools/golden/capture_kafka.py)")
    finally:
        proxy.session = "teardown"
        subprocess.run([str(ROOT / "scripts/apache-kafka.sh"), "stop", kafka_dir], check=False)


if __name__ == "__main__":
    main()
