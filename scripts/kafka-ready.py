#!/usr/bin/env python3
"""Exits 0 once a Kafka broker at HOST:PORT answers a Metadata request listing at least N brokers
(argument 2, default 1).

Speaks Metadata v0 over a plain socket so it needs nothing but the standard library.
"""
import socket
import struct
import sys


def brokers_registered(host: str, port: int, want: int = 1) -> bool:
    client_id = b"kafka-ready"
    body = struct.pack(">hhih", 3, 0, 1, len(client_id)) + client_id + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=2) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        resp = s.recv(size, socket.MSG_WAITALL)
    # correlation id (4 bytes), then the brokers array length.
    return struct.unpack(">i", resp[4:8])[0] >= want


if __name__ == "__main__":
    host, port = sys.argv[1].rsplit(":", 1)
    try:
        want = int(sys.argv[2]) if len(sys.argv) > 2 else 1
        sys.exit(0 if brokers_registered(host, int(port), want) else 1)
    except (OSError, struct.error):
        sys.exit(1)
