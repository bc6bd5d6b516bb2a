"""A TCP proxy that relays Kafka traffic both ways and records every request/response exchange.

Used by capture_kafka.py: Apache Kafka advertises the proxy's address, so every connection a
client makes passes through it. Frames are parsed only as far as the header's first fields (API
key, version, correlation id); the bytes are kept whole, size prefix included.
"""
import asyncio
import itertools
import socket
import struct
import threading


class RecordingProxy:
    def __init__(self):
        self.upstream = None  # (host, port), set once Kafka is up
        self.session = None  # label stamped on exchanges started from now on
        self.exchanges = []
        self.lock = threading.Lock()
        self.connections = itertools.count()
        self.loop = asyncio.new_event_loop()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
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
        connection = next(self.connections)
        pending = {}  # correlation id -> exchange awaiting its response
        await asyncio.gather(
            self._requests(connection, pending, client_reader, up_writer),
            self._responses(pending, up_reader, client_writer),
            return_exceptions=True,
        )

    @staticmethod
    async def _frame(reader):
        prefix = await reader.readexactly(4)
        (size,) = struct.unpack(">i", prefix)
        return prefix + await reader.readexactly(size)

    async def _requests(self, connection, pending, reader, writer):
        try:
            while True:
                frame = await self._frame(reader)
                api_key, api_version, correlation_id = struct.unpack(">hhi", frame[4:12])
                # Every request header from v1 on has the client id next (a nullable string).
                (id_len,) = struct.unpack(">h", frame[12:14]) if len(frame) >= 14 else (-1,)
                client_id = frame[14:14 + id_len].decode("utf-8", "replace") if id_len >= 0 else None
                exchange = {
                    "session": self.session,
                    "connection": connection,
                    "api_key": api_key,
                    "api_version": api_version,
                    "correlation_id": correlation_id,
                    "client_id": client_id,
                    "request": frame,
                    "response": None,
                }
                with self.lock:
                    self.exchanges.append(exchange)
                pending[correlation_id] = exchange
                writer.write(frame)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _responses(self, pending, reader, writer):
        try:
            while True:
                frame = await self._frame(reader)
                (correlation_id,) = struct.unpack(">i", frame[4:8])
                exchange = pending.pop(correlation_id, None)
                if exchange is not None:
                    exchange["response"] = frame
                writer.write(frame)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def take(self, session, client_id_prefix=""):
        """The exchanges stamped with `session` whose client id starts with `client_id_prefix`,
        in request order; everything stamped with `session` leaves the log."""
        with self.lock:
            mine = [e for e in self.exchanges if e["session"] == session]
            self.exchanges = [e for e in self.exchanges if e["session"] != session]
        return [e for e in mine if (e["client_id"] or "").startswith(client_id_prefix)]
