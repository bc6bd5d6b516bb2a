"""Brokers under test, the record line format shared by every client program, data sets and checks.

The interop suite runs against our broker (`odradek-broker`) or, to validate the harness itself,
against Apache Kafka 4.3.1 (`scripts/apache-kafka.sh`). Both run as plain processes on 127.0.0.1
with an ephemeral port and a temporary data directory, and are killed at the end.
"""

from __future__ import annotations

import base64
import os
import random
import select
import shutil
import signal
import subprocess
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("ODRADEK_CACHE", Path.home() / ".cache" / "odradek"))
START_TIMEOUT_S = 120


# --------------------------------------------------------------------------------------------
# Brokers


class BrokerProcess:
    """A broker process: `bootstrap`, `kill()` (SIGKILL), `restart()` (same data dir and port), `stop()`."""

    kind = "?"

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.bootstrap: str | None = None
        self.proc: subprocess.Popen | None = None
        self.killed_on_purpose = False  # set by kill()/stop(), cleared by start()

    @property
    def port(self) -> int:
        assert self.bootstrap is not None
        return int(self.bootstrap.rsplit(":", 1)[1])

    def kill(self) -> None:
        """SIGKILL, as a crash: no flush, no clean shutdown."""
        self.killed_on_purpose = True
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 30 s."""
        self.killed_on_purpose = True
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        log = self.workdir / "broker.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


class OdradekBroker(BrokerProcess):
    """`odradek-broker --listen 127.0.0.1:PORT --data-dir DIR --fsync MODE`; first stdout line = address."""

    kind = "odradek"

    def __init__(self, binary: Path, workdir: Path, fsync: str | None = None, config: dict | None = None):
        super().__init__(workdir)
        self.binary = binary
        self.fsync = fsync
        self.config = config or {}
        self.data_dir = workdir / "data"

    def start(self, port: int = 0) -> "OdradekBroker":
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [str(self.binary), "--listen", f"127.0.0.1:{port}", "--data-dir", str(self.data_dir)]
        if self.fsync:
            args += ["--fsync", self.fsync]
        if self.config:
            cfg = self.workdir / "broker.properties"
            cfg.write_text("".join(f"{k}={v}\n" for k, v in self.config.items()))
            args += ["--config", str(cfg)]
        log = open(self.workdir / "broker.log", "ab")
        self.killed_on_purpose = False
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        line = self._first_line()
        if not line:
            self.kill()
            raise RuntimeError(f"odradek-broker printed no address (exit {self.proc.returncode}); log:\n{self.log_tail()}")
        self.bootstrap = line
        # Keep draining stdout into the log so the broker never blocks on a full pipe.
        threading.Thread(target=_drain, args=(self.proc.stdout, log), daemon=True).start()
        return self

    def _first_line(self) -> str | None:
        assert self.proc and self.proc.stdout
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + START_TIMEOUT_S
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 1)  # one byte at a time: the rest stays in the pipe for _drain
            if not chunk:
                self.proc.wait()
                return None
            buf += chunk
        return buf.decode().strip()

    def restart(self) -> "OdradekBroker":
        """Start again on the same data dir and the same port, so clients reconnect by themselves."""
        port = self.port
        return self.start(port)


class ApacheKafka(BrokerProcess):
    """Apache Kafka 4.3.1 through scripts/apache-kafka.sh (used to validate the harness itself)."""

    kind = "apache"

    def __init__(self, workdir: Path, extra_props: dict | None = None):
        super().__init__(workdir)
        self.extra_props = extra_props or {}

    def start(self) -> "ApacheKafka":
        env = dict(os.environ, KAFKA_EXTRA_PROPS=" ".join(f"{k}={v}" for k, v in self.extra_props.items()))
        out = subprocess.run([str(REPO / "scripts" / "apache-kafka.sh"), "start", str(self.workdir)],
                             env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30)
        if out.returncode != 0:
            raise RuntimeError(f"apache-kafka.sh start failed:\n{out.stderr}")
        self.bootstrap = out.stdout.strip().splitlines()[-1]
        self._pid = int((self.workdir / "pid").read_text())
        return self

    def kill(self) -> None:
        _kill_pid(self._pid, signal.SIGKILL)

    def restart(self) -> "ApacheKafka":
        """Relaunch the same server.properties (same ports and log dirs) after a kill."""
        libs = CACHE / "kafka-4.3.1" / "libs"
        log = open(self.workdir / "kafka.log", "ab")
        proc = subprocess.Popen(
            ["java", "-Xmx512m", "-Xms128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-Djava.awt.headless=true", "-cp", f"{libs}/*", "kafka.Kafka", str(self.workdir / "server.properties")],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        self._pid = proc.pid
        (self.workdir / "pid").write_text(str(proc.pid))
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"Kafka exited on restart; see {self.workdir}/kafka.log")
            ready = subprocess.run(["python3", str(REPO / "scripts" / "kafka-ready.py"), self.bootstrap])
            if ready.returncode == 0:
                return self
            time.sleep(0.2)
        raise RuntimeError("Kafka did not come back within the start time-out")

    def stop(self) -> None:
        subprocess.run([str(REPO / "scripts" / "apache-kafka.sh"), "stop", str(self.workdir)], check=False)

    def log_tail(self, lines: int = 40) -> str:
        log = self.workdir / "kafka.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def _kill_pid(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    for _ in range(300):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # Reap it if it is our child (restart() launches it directly).
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)


def _drain(pipe, log) -> None:
    try:
        shutil.copyfileobj(pipe, log)
    except (OSError, ValueError):
        pass


# --------------------------------------------------------------------------------------------
# Records and the line format shared by the Go, Java and Node programs
#
#   topic \t partition \t offset \t key \t value \t headers
#
# key/value: base64, or "-" for null; headers: comma-separated b64(key):b64(value); offset "-" on
# the produce side.


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


def _b64(b: bytes | None) -> str:
    return "-" if b is None else base64.b64encode(b).decode()


def _unb64(s: str) -> bytes | None:
    return None if s == "-" else base64.b64decode(s)


def to_line(r: Record, offset: int | None = None) -> str:
    headers = ",".join(f"{_b64(k.encode())}:{_b64(v)}" for k, v in r.headers)
    return f"{r.topic}\t{r.partition}\t{'-' if offset is None else offset}\t{_b64(r.key)}\t{_b64(r.value)}\t{headers}\n"


def from_line(line: str) -> tuple[Record, int]:
    f = line.rstrip("\n").split("\t")
    if len(f) != 6:
        raise ValueError(f"record line has {len(f)} fields, want 6: {line!r}")
    headers = tuple((_unb64(k).decode(), _unb64(v)) for k, v in (h.split(":", 1) for h in f[5].split(",") if h))
    return Record(f[0], int(f[1]), _unb64(f[3]), _unb64(f[4]), headers), int(f[2])


def dataset(topic: str, partitions: int, count: int, seed: int) -> list[Record]:
    """Records with binary keys and values, null and empty keys and values, and headers.

    Header keys are distinct within a record except for one adjacent repeated pair (kafkajs keeps
    headers in an object, so it cannot represent interleaved repeats).
    """
    rng = random.Random(seed)
    out = []
    for i in range(count):
        key = None if i % 17 == 3 else (b"" if i % 101 == 7 else b"k%06d-" % i + rng.randbytes(rng.randrange(0, 24)))
        if i % 23 == 5:
            value = None
        elif i % 97 == 11:
            value = b""
        else:
            # Binary bytes plus compressible text, so that every codec shrinks the batch (franz-go
            # sends a batch uncompressed when compressing does not make it smaller).
            value = b"v%06d:" % i + rng.randbytes(rng.randrange(0, 48)) + b"interop payload " * rng.randrange(0, 24)
        if key is None and value is None:
            value = b""  # kafka-python refuses a record with neither key nor value
        headers: tuple = ()
        if i % 5 == 0:
            headers = (("trace-id", b"%016x" % rng.getrandbits(64)), ("empty", b""))
        if i % 35 == 14:
            headers = (("dup", b"first"), ("dup", b"second"), ("bin", rng.randbytes(8)))
        out.append(Record(topic, rng.randrange(partitions), key, value, headers))
    return out


# --------------------------------------------------------------------------------------------
# Checks


def by_partition(records) -> dict[tuple[str, int], list[Record]]:
    parts: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for r in records:
        parts[(r.topic, r.partition)].append(r)
    return dict(parts)


def assert_same_per_partition(sent: list[Record], read: list[tuple[Record, int]], label: str) -> None:
    """Every partition read back holds exactly the records sent to it, in the order they were sent,
    at strictly increasing offsets."""
    got: dict[tuple[str, int], list[Record]] = defaultdict(list)
    last_offset: dict[tuple[str, int], int] = {}
    for rec, offset in read:
        tp = (rec.topic, rec.partition)
        assert offset > last_offset.get(tp, -1), f"{label}: {tp} offsets not increasing at {offset}"
        last_offset[tp] = offset
        got[tp].append(rec)
    want = by_partition(sent)
    assert set(got) == set(want), f"{label}: partitions read {sorted(got)} != written {sorted(want)}"
    for tp, records in want.items():
        have = got[tp]
        if have != records:
            first = next((i for i, (a, b) in enumerate(zip(records, have)) if a != b), min(len(records), len(have)))
            raise AssertionError(
                f"{label}: {tp}: read {len(have)} records, sent {len(records)}; first difference at #{first}: "
                f"sent {records[first] if first < len(records) else None!r} "
                f"read {have[first] if first < len(have) else None!r}")


# --------------------------------------------------------------------------------------------
# A raw look at stored batches: which codec each record batch carries. A client's codec setting
# could silently fall back to none, and the broker must store batches as received (never
# recompressed): this checks both, below every client library.

CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def batch_codecs(bootstrap: str, topic: str, partition: int, max_bytes: int = 1 << 20) -> list[int]:
    """Codec ids (attributes & 7) of the record batches a Fetch v4 from offset 0 returns."""
    import socket
    import struct

    client_id = b"odradek-interop"
    t = topic.encode()
    body = (struct.pack(">hhih", 1, 4, 7, len(client_id)) + client_id
            + struct.pack(">iiiib", -1, 500, 1, max_bytes, 0)
            + struct.pack(">ih", 1, len(t)) + t
            + struct.pack(">iiqi", 1, partition, 0, max_bytes))
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _recv_exact(s, 4))[0]
        resp = _recv_exact(s, size)
    # correlation id, throttle_time_ms, [topics]: name, [partitions]
    pos = 8
    assert struct.unpack_from(">i", resp, pos)[0] == 1, "Fetch v4 response: expected one topic"
    pos += 4
    name_len = struct.unpack_from(">h", resp, pos)[0]
    pos += 2 + name_len
    assert struct.unpack_from(">i", resp, pos)[0] == 1, "Fetch v4 response: expected one partition"
    pos += 4
    _, error, _hw, _lso = struct.unpack_from(">ihqq", resp, pos)
    assert error == 0, f"Fetch v4 {topic}/{partition}: error code {error}"
    pos += 22
    aborted = struct.unpack_from(">i", resp, pos)[0]
    pos += 4 + max(aborted, 0) * 16
    records_len = struct.unpack_from(">i", resp, pos)[0]
    pos += 4
    records = resp[pos:pos + max(records_len, 0)]
    codecs, at = [], 0
    while at + 61 <= len(records):  # whole batch headers only; Kafka may cut the last batch
        batch_len = struct.unpack_from(">i", records, at + 8)[0]
        if at + 12 + batch_len > len(records):
            break
        magic = records[at + 16]
        assert magic == 2, f"{topic}/{partition}: batch at byte {at} has magic {magic}"
        codecs.append(struct.unpack_from(">h", records, at + 21)[0] & 7)
        at += 12 + batch_len
    return codecs


def _recv_exact(sock, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)
