#!/usr/bin/env python3
"""Captures librdkafka's Produce request frames for every codec.

confluent-kafka (librdkafka 2.16) produces the logical records of logical-records.json, once per
codec, through a recording TCP proxy in front of a real Apache Kafka 4.3.1 (scripts/apache-kafka.sh).
Kafka advertises the proxy's address, so every connection librdkafka opens passes through it; the
proxy copies each Produce request frame (size prefix included) to OUT_DIR/produce-<codec>.bin.

    python golden_librdkafka.py logical-records.json OUT_DIR

Run through tools/golden/regenerate.sh, which also writes the JSON sidecars.
"""
import asyncio
import base64
import json
import os
import pathlib
import socket
import struct
import subprocess
import sys
import tempfile
import threading

import confluent_kafka
from confluent_kafka.admin import AdminClient, NewTopic

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PRODUCE_API_KEY = 0
ROOT = pathlib.Path(__file__).resolve().parents[2]


class RecordingProxy:
    """Relays bytes both ways and keeps a copy of every client-to-broker Produce frame."""

    def __init__(self):
        self.upstream = None  # (host, port), known once Kafka is up
        self.produce_frames = []
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.sock = sock
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._client, sock=self.sock))
        self.loop.run_until_complete(server.serve_forever())

    async def _client(self, client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            self._requests(client_reader, up_writer),
            self._pipe(up_reader, client_writer),
            return_exceptions=True,
        )

    async def _requests(self, reader, writer):
        try:
            while True:
                prefix = await reader.readexactly(4)
                (size,) = struct.unpack(">i", prefix)
                body = await reader.readexactly(size)
                (api_key,) = struct.unpack(">h", body[:2])
                if api_key == PRODUCE_API_KEY:
                    with self.lock:
                        self.produce_frames.append(prefix + body)
                writer.write(prefix + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def take_frames(self):
        with self.lock:
            frames, self.produce_frames = self.produce_frames, []
        return frames


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


def produce_all(bootstrap, codec, records):
    topic = f"golden-{codec}"
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
            topic,
            key=r["key"],
            value=r["value"],
            partition=0,
            timestamp=r["timestamp"],
            headers=r["headers"],
            on_delivery=delivered,
        )
    left = producer.flush(30)
    if left or errors:
        raise SystemExit(f"librdkafka {codec}: {left} undelivered, errors {errors}")


def main():
    records_path, out_dir = sys.argv[1], pathlib.Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    records = logical_records(records_path)
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
        admin = AdminClient({"bootstrap.servers": bootstrap})
        futures = admin.create_topics([NewTopic(f"golden-{c}", 1, 1) for c in CODECS])
        for f in futures.values():
            f.result(30)
        proxy.take_frames()
        for codec in CODECS:
            produce_all(bootstrap, codec, records)
            frames = proxy.take_frames()
            if len(frames) != 1:
                raise SystemExit(f"librdkafka {codec}: expected one Produce request, captured {len(frames)}")
            (out_dir / f"produce-{codec}.bin").write_bytes(frames[0])
            print(f"librdkafka {confluent_kafka.libversion()[0]} {codec}: {len(frames[0])} bytes")
    finally:
        subprocess.run([str(ROOT / "scripts/apache-kafka.sh"), "stop", kafka_dir], check=False)


if __name__ == "__main__":
    main()
