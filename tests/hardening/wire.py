"""Hand-encoded Kafka requests for hostile clients: exactly the bytes an attacker would send,
without a client library's flow control in the way."""

from __future__ import annotations

import socket
import struct
import time


def _string(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def _frame(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    header = struct.pack(">hhi", api_key, version, correlation_id) + _string("hostile")
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def api_versions(correlation_id: int = 1) -> bytes:
    """ApiVersions v0 (empty body)."""
    return _frame(18, 0, correlation_id, b"")


def fetch(topic: str, partition: int, offset: int, max_bytes: int, correlation_id: int) -> bytes:
    """Fetch v4: no wait, one partition, `max_bytes` for the response and the partition."""
    body = struct.pack(">iiiib", -1, 0, 1, max_bytes, 0)
    body += struct.pack(">i", 1) + _string(topic)
    body += struct.pack(">i", 1) + struct.pack(">iqi", partition, offset, max_bytes)
    return _frame(1, 4, correlation_id, body)


def connect(addr: str, source_ip: str | None = None, rcvbuf: int | None = None,
            timeout: float = 10.0) -> socket.socket:
    host, port = addr.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        # Before connect, so the window the broker sees is small from the start.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source_ip is not None:
        s.bind((source_ip, 0))
    s.settimeout(timeout)
    s.connect((host, int(port)))
    return s


def read_response(s: socket.socket) -> bytes | None:
    """One response frame, or None if the broker closed the connection (EOF or reset)."""
    try:
        head = _read_exact(s, 4)
        if head is None:
            return None
        (size,) = struct.unpack(">i", head)
        return _read_exact(s, size)
    except (ConnectionResetError, BrokenPipeError):
        return None


def _read_exact(s: socket.socket, n: int) -> bytes | None:
    out = bytearray()
    while len(out) < n:
        chunk = s.recv(min(n - len(out), 1 << 20))
        if not chunk:
            return None
        out += chunk
    return bytes(out)


def closed_by_peer(s: socket.socket, timeout: float) -> bool:
    """Drains what the broker sent and returns True once it has closed the connection; False
    if it is still open after `timeout` seconds without data."""
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(1 << 20):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (socket.timeout, TimeoutError):
        return False


def count_closed_by_peer(socks: list[socket.socket], within: float) -> int:
    """How many of `socks` the broker closes, waiting at most about `within` seconds in all."""
    deadline = time.monotonic() + within
    closed = 0
    for s in socks:
        if closed_by_peer(s, max(0.05, deadline - time.monotonic())):
            closed += 1
    return closed
