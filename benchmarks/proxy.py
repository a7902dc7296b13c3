"""A latency-injecting TCP proxy on loopback that counts what a slow link charges for.

Each direction is delayed by half the round trip (``rtt_ms / 2``); the first
client bytes are also held back one round trip after the connection is
accepted, like a real TCP handshake would. TLS passes through untouched: the
proxy only copies bytes, and counts

- ``connections``: accepted TCP connections;
- ``turns``: turns of the conversation, i.e. a client→server burst followed by
  a server→client burst (the server's greeting alone is not a turn);
- ``round_trips`` = ``turns + connections`` (each TCP handshake costs one);
- ``bytes_up`` (client→server) and ``bytes_down`` (server→client, "received").

It runs its own asyncio loop in a daemon thread, so blocking clients (the
benchmark itself, imapclient, subprocesses) can use it from anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import asdict, dataclass
from typing import Any

_CHUNK = 65536


@dataclass
class Stats:
    connections: int = 0
    turns: int = 0
    bytes_up: int = 0
    bytes_down: int = 0

    @property
    def round_trips(self) -> int:
        return self.turns + self.connections

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "round_trips": self.round_trips}

    def __sub__(self, other: Stats) -> Stats:
        return Stats(
            self.connections - other.connections,
            self.turns - other.turns,
            self.bytes_up - other.bytes_up,
            self.bytes_down - other.bytes_down,
        )


class LatencyProxy:
    """Forward ``127.0.0.1:<port>`` to ``target_host:target_port`` with ``rtt_ms`` of delay."""

    def __init__(
        self, target_host: str, target_port: int, rtt_ms: float = 0.0, host: str = "127.0.0.1"
    ) -> None:
        self.target = (target_host, target_port)
        self.rtt = rtt_ms / 1000.0
        self.host = host
        self.port = 0
        self._stats = Stats()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ control
    def start(self) -> LatencyProxy:
        self._thread = threading.Thread(target=self._run, name="latency-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the latency proxy did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        with contextlib.suppress(Exception):
            fut.result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self) -> Stats:
        with self._lock:
            return Stats(**asdict(self._stats))

    # ------------------------------------------------------------------ internals
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(
            asyncio.start_server(self._handle, self.host, 0, reuse_address=True)
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        try:
            sreader, swriter = await asyncio.open_connection(*self.target)
        except OSError:
            cwriter.close()
            return
        with self._lock:
            self._stats.connections += 1
        last = ["down"]  # the greeting comes first and is no turn
        up = self._pipe(creader, swriter, "up", last, not_before=accepted + self.rtt)
        down = self._pipe(sreader, cwriter, "down", last, not_before=0.0)
        try:
            await asyncio.gather(up, down)
        except (asyncio.CancelledError, OSError):
            pass
        finally:
            for w in (cwriter, swriter):
                with contextlib.suppress(Exception):
                    w.close()
            if task is not None:
                self._tasks.discard(task)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        direction: str,
        last: list[str],
        *,
        not_before: float,
    ) -> None:
        loop = asyncio.get_running_loop()
        half = self.rtt / 2
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                when, data = await queue.get()
                delay = when - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if not data:
                    with contextlib.suppress(OSError, RuntimeError):
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(deliver())
        self._tasks.add(sender)
        sender.add_done_callback(self._tasks.discard)
        try:
            while True:
                try:
                    data = await reader.read(_CHUNK)
                except (ConnectionError, OSError):
                    data = b""
                now = loop.time()
                with self._lock:
                    if data:
                        if direction == "up":
                            self._stats.bytes_up += len(data)
                        else:
                            self._stats.bytes_down += len(data)
                            if last[0] == "up":
                                self._stats.turns += 1
                        last[0] = direction
                if self.rtt:
                    queue.put_nowait((max(now, not_before) + half, data))
                else:
                    queue.put_nowait((0.0, data))
                if not data:
                    break
            await sender
        except (ConnectionError, OSError):
            sender.cancel()
