"""A fault-injecting IMAP proxy: a hostile or broken server on demand.

The watcher only ever talks TLS, so the proxy terminates TLS: it listens on a
free loopback port with the test server certificate (signed by the test CA,
so a client with ``ca_file`` trusts it) and talks plain IMAP to Dovecot's
``port_plain`` (Dovecot allows plaintext LOGIN from loopback). It therefore
sees every command and can break the conversation at a precise stage::

    with FaultProxy(dovecot.port_plain, certs, "fetch", "huge_literal", times=1) as proxy:
        ...  # point the client at 127.0.0.1:proxy.port
    proxy.connections, proxy.faults  # what happened

Stages: ``greeting`` (before Dovecot's greeting reaches the client), or the
first command of a connection that is ``LOGIN``, ``LIST``, ``EXAMINE``,
``[UID] SEARCH``, ``[UID] FETCH`` or ``IDLE`` (anything else, e.g. CAPABILITY,
ID or NOOP, is always forwarded). Faults, once the stage is reached:

- ``drop``: close the connection (for ``greeting``: instead of greeting);
- ``stall``: forward nothing more, in either direction, keep the socket open;
- ``garbage``: answer with binary noise (echoing the command) and non-IMAP
  lines, then stall;
- ``huge_literal``: answer ``* 1 FETCH (BODY[] {2000000000}`` and stream
  bytes continuously (``chunk`` bytes every ``interval`` s) until the client
  hangs up;
- ``malformed``: answer with an IMAP-shaped but broken untagged response for
  that command (unbalanced quote, non-numeric UIDVALIDITY, two SEARCH
  answers, a number instead of a message body) and a tagged ``OK`` instead of
  forwarding it; the conversation goes on (a client that shrugs it off
  continues normally);
- ``refuse`` / ``refuse_temporary``: answer the command with a tagged ``NO
  [AUTHENTICATIONFAILED]`` / ``NO [UNAVAILABLE]`` (RFC 5530) instead of
  forwarding it; the conversation goes on;
- ``none``: a transparent proxy.

``times=N`` breaks only the first N connections that reach the stage (later
ones pass untouched: a service can reconnect successfully); ``None`` breaks
all. Every injected fault is counted in :attr:`faults` and in
:data:`tests.faultcount.FAULTS_INJECTED`.

Freeze on demand (a dead NAT mapping, a Wi-Fi change): :meth:`freeze` makes
every connection open at that moment stop forwarding, in both directions,
without closing anything; connections made after it pass normally::

    proxy.freeze()   # → how many connections it froze
    ...              # the client's writes still succeed; nothing reaches either side
    proxy.thaw()     # optional: what was held back is delivered, in order

A frozen connection keeps reading both sides (so the client's writes never
block, and its hang-up is seen) and holds what it reads, as TCP would keep
retransmitting across a dead path; :meth:`thaw` delivers it in order. When the
client gives up and closes a frozen connection, the proxy closes Dovecot's side
too (Dovecot would drop it later anyway; this keeps its per-user connection
count low). Counted: :attr:`frozen` (connections frozen so far),
:attr:`frozen_now` (still frozen and open).

Every connection is also recorded in :attr:`conns` (:class:`Conn`: client
port, the folder it examined, each client command's verb with its time,
plaintext bytes each way), for tests that count what a client sends at rest.

It runs an asyncio loop in a daemon thread; :meth:`stop` closes the listener
and every connection, both sides, and joins the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from tests.faultcount import FAULTS_INJECTED
from tests.servers.certs import Certs

# Faults that answer the command with a tagged NO instead of forwarding it (the
# conversation goes on): what a server says when it will not take the password.
REFUSALS = {
    "refuse": b"NO [AUTHENTICATIONFAILED] Authentication failed.",
    "refuse_temporary": b"NO [UNAVAILABLE] Temporary authentication failure.",
}
STAGES = ("greeting", "login", "list", "examine", "search", "fetch", "idle")
FAULTS = ("none", "drop", "stall", "garbage", "huge_literal", "malformed", *REFUSALS)
COMMAND_STAGES = {
    b"LOGIN": "login",
    b"LIST": "list",
    b"EXAMINE": "examine",
    b"SEARCH": "search",
    b"FETCH": "fetch",
    b"IDLE": "idle",
}
HUGE_LITERAL_SIZE = 2_000_000_000
HOLD_LIMIT = 16 * 1024 * 1024  # bytes a frozen connection holds per direction; the rest is lost
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n\Z")


def garbage(stage: str, echo: bytes = b"") -> bytes:
    """Noise that no IMAP parser can take for a response (deterministic per stage).

    The first line echoes ``echo`` (the client's command, LOGIN's password
    included), as a confused server might: nothing of it may reach the user's
    screen beyond a short snippet, and never the password.
    """
    rng = random.Random(f"garbage:{stage}")
    noise = bytes(rng.randrange(256) for _ in range(400)).replace(b"\n", b"?").replace(b"\r", b"?")
    return (
        b"\x16"
        + echo.rstrip(b"\r\n")
        + b" \x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
        + noise
        + b"\r\nHTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n\r\n<h1>oops</h1>\r\n"
    )


def malformed(stage: str, tag: bytes) -> bytes:
    """An IMAP-shaped but broken answer to ``stage``'s command, completed with a tagged OK."""
    body = {
        "list": b'* LIST (\\HasNoChildren) "/" "INBOX\r\n',
        "examine": b"* FLAGS (\\Seen)\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY x1] UIDs valid\r\n",
        "search": b"* SEARCH 1\r\n* SEARCH 2\r\n",
        "fetch": b"* 1 FETCH (UID 1 RFC822.SIZE 10 BODY[]<0> 2000000000)\r\n",
        "idle": b"+ idling\r\n* ((( EXISTS\r\n",
    }.get(stage, b"* OK [CAPABILITY ((( ]\r\n")
    return body + tag + b" OK done.\r\n"


def _rewritten(line: bytes, rewrites: dict[bytes, bytes]) -> bytes:
    """``line``, or the proxy's own answer when it is the tagged answer to a stand-in NOOP."""
    tag = line.split(b" ", 1)[0]
    if tag in rewrites and line.startswith(tag + b" "):
        return rewrites.pop(tag)
    return line


@dataclass
class Conn:
    """One accepted connection, as the proxy saw it (never a secret: verbs only)."""

    number: int  # 1, 2, … in the order accepted
    client_port: int  # the client's source port (its socket's local port)
    opened: float  # time.monotonic()
    closed: float | None = None
    folder: str | None = None  # the last EXAMINE/SELECT argument, as sent
    # (time.monotonic(), verb): b"IDLE", b"NOOP", b"UID FETCH", b"DONE", …
    commands: list[tuple[float, bytes]] = field(default_factory=list)
    bytes_up: int = 0  # client → Dovecot, plaintext IMAP (held bytes included)
    bytes_down: int = 0  # Dovecot → client
    frozen: bool = False
    held_up: bytearray = field(default_factory=bytearray, repr=False)
    held_down: bytearray = field(default_factory=bytearray, repr=False)
    lost: int = 0  # bytes beyond HOLD_LIMIT while frozen

    @property
    def open(self) -> bool:
        return self.closed is None


def _verb(words: list[bytes]) -> bytes | None:
    """A command line's verb (``UID FETCH`` counts as one), ``DONE``; None otherwise (a
    SASL continuation line is one word: it is not recorded)."""
    if len(words) == 1 and words[0].upper() == b"DONE":
        return b"DONE"
    if len(words) < 2:
        return None
    verb = words[1].upper()
    if verb == b"UID" and len(words) > 2:
        return b"UID " + words[2].upper()
    return verb


def _stage_of(line: bytes) -> str | None:
    parts = line.split(None, 3)
    if len(parts) < 2:
        return None
    command = parts[1].upper()
    if command == b"UID" and len(parts) > 2:
        command = parts[2].upper()
    return COMMAND_STAGES.get(command)


class FaultProxy:
    """TLS-terminating IMAP proxy in front of ``upstream_host:upstream_port`` (plain)."""

    def __init__(
        self,
        upstream_port: int,
        certs: Certs,
        stage: str = "none",
        fault: str = "none",
        *,
        times: int | None = None,
        upstream_host: str = "127.0.0.1",
        host: str = "127.0.0.1",
        chunk: int = 64 * 1024,
        interval: float = 0.01,
        greeting_without: bytes = b"",
    ) -> None:
        """``greeting_without``: text taken out of the server's greeting, e.g. ``b" SASL-IR"``
        to make a client take the path of servers that do not offer it."""
        if stage not in (*STAGES, "none"):
            raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.port = 0
        self.stage = stage
        self.fault = fault
        self.chunk = chunk
        self.interval = interval
        self.greeting_without = greeting_without
        # Each client line cut to its first two words (tag, command) plus a word count:
        # enough to see how a client talks, never a secret it sent.
        self.client_lines: list[tuple[bytes, ...]] = []
        self.connections = 0  # accepted (after the TLS handshake)
        self.faults: list[str] = []  # "stage/fault", one per broken connection
        self.streamed = 0  # bytes of huge literal sent
        self.conns: list[Conn] = []  # every accepted connection, in order
        self.frozen = 0  # connections frozen so far (by freeze())
        self._remaining = times
        self._cert, self._key = certs.server("good")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._thawed: asyncio.Event  # set (and replaced) by thaw(); made on the loop

    @property
    def faults_injected(self) -> int:
        return len(self.faults)

    @property
    def frozen_now(self) -> int:
        """Connections frozen and still open."""
        return sum(c.frozen and c.open for c in list(self.conns))

    # ------------------------------------------------------------------ freeze
    def freeze(self) -> int:
        """Freeze every connection open now (see the module's docstring); how many."""
        return self._on_loop(self._set_frozen, True)

    def thaw(self) -> int:
        """Deliver what the frozen connections held, in order, and forward again; how many."""
        return self._on_loop(self._set_frozen, False)

    def _on_loop(self, fn: Any, *args: Any) -> int:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the proxy is not running")

        async def call() -> int:
            result: int = fn(*args)
            return result

        return asyncio.run_coroutine_threadsafe(call(), loop).result(10)

    def _set_frozen(self, frozen: bool) -> int:
        """On the loop: between two reads of any connection, never inside one."""
        changed = 0
        for conn in self.conns:
            if conn.open and conn.frozen != frozen:
                conn.frozen = frozen
                changed += 1
        if frozen:
            self.frozen += changed
        else:
            self._thawed.set()
            self._thawed = asyncio.Event()
        return changed

    async def _send(self, conn: Conn, up: bool, writer: asyncio.StreamWriter, data: bytes) -> None:
        """Forward ``data`` (client → Dovecot when ``up``), or hold it while frozen."""
        if up:
            conn.bytes_up += len(data)
        else:
            conn.bytes_down += len(data)
        held = conn.held_up if up else conn.held_down
        if conn.frozen:
            room = max(0, HOLD_LIMIT - len(held))
            held += data[:room]
            conn.lost += len(data) - len(data[:room])
            return
        if held:  # thawed: what was held goes first
            writer.write(bytes(held))
            held.clear()
        writer.write(data)
        await writer.drain()

    async def _flush_on_thaw(
        self, conn: Conn, uwriter: asyncio.StreamWriter, cwriter: asyncio.StreamWriter
    ) -> None:
        """Deliver held bytes when thawed, even if neither side sends anything more."""
        with contextlib.suppress(OSError):
            while conn.open:
                await self._thawed.wait()
                if conn.frozen:
                    continue
                for held, writer in ((conn.held_up, uwriter), (conn.held_down, cwriter)):
                    if held:
                        writer.write(bytes(held))
                        held.clear()
                        await writer.drain()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FaultProxy:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(lambda _loop, _context: None)  # peers hang up rudely
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), loop).result(10)
        return self

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _listen(self) -> None:
        self._thawed = asyncio.Event()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self._cert), str(self._key))
        self._server = await asyncio.start_server(
            self._handle, self.host, 0, ssl=context, ssl_handshake_timeout=10
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ connections
    def _take(self, stage: str) -> bool:
        """Whether this connection, reaching ``stage``, gets the fault (counts it)."""
        if self.fault == "none" or stage != self.stage:
            return False
        if self._remaining is not None:
            if self._remaining <= 0:
                return False
            self._remaining -= 1
        name = f"{stage}/{self.fault}"
        self.faults.append(name)
        FAULTS_INJECTED.append(name)
        return True

    async def _handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        peer = cwriter.get_extra_info("peername")
        conn = Conn(len(self.conns) + 1, int(peer[1]) if peer else 0, time.monotonic())
        self.conns.append(conn)
        uwriter: asyncio.StreamWriter | None = None
        pump: asyncio.Task[None] | None = None
        flusher: asyncio.Task[None] | None = None
        try:
            ureader, uwriter = await asyncio.open_connection(*self.upstream)
            greeting = await ureader.readline()
            if self._take("greeting"):
                await self._inject("greeting", b"", creader, cwriter)
                return
            if self.greeting_without:
                greeting = greeting.replace(self.greeting_without, b"")
            await self._send(conn, False, cwriter, greeting)
            rewrites: dict[bytes, bytes] = {}
            pump = asyncio.create_task(self._pump(ureader, cwriter, rewrites, conn))
            flusher = asyncio.create_task(self._flush_on_thaw(conn, uwriter, cwriter))
            await self._commands(creader, uwriter, cwriter, rewrites, conn)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass  # a peer hung up (or sent an absurdly long line)
        finally:
            conn.closed = time.monotonic()
            for helper in (pump, flusher):
                if helper is not None:
                    helper.cancel()
            for writer in (cwriter, uwriter):
                if writer is not None:
                    writer.transport.abort()
            self._tasks.discard(task)

    async def _pump(
        self,
        ureader: asyncio.StreamReader,
        cwriter: asyncio.StreamWriter,
        rewrites: dict[bytes, bytes],
        conn: Conn,
    ) -> None:
        """Dovecot → client, until Dovecot hangs up (then the client is hung up on).

        A command answered by the proxy itself was forwarded as a NOOP with the
        same tag; the NOOP's tagged answer is replaced here by the proxy's
        answer, so that it reaches the client in order, after the answers to
        the commands sent before it (a pipelining client reads them in order).
        """
        held = b""
        with contextlib.suppress(OSError):
            while data := await ureader.read(65536):
                if rewrites or held:
                    lines = (held + data).splitlines(keepends=True)
                    held = lines.pop() if not lines[-1].endswith(b"\n") else b""
                    data = b"".join(_rewritten(line, rewrites) for line in lines)
                await self._send(conn, False, cwriter, data)
        if not conn.frozen:  # a dead path carries no hang-up either
            cwriter.transport.abort()

    async def _commands(
        self,
        creader: asyncio.StreamReader,
        uwriter: asyncio.StreamWriter,
        cwriter: asyncio.StreamWriter,
        rewrites: dict[bytes, bytes],
        conn: Conn,
    ) -> None:
        """Client → Dovecot, command by command (literals forwarded as they are)."""
        while line := await creader.readline():
            words = line.split()
            self.client_lines.append((*words[1:3], str(len(words)).encode()))
            verb = _verb(words)
            if verb is not None:
                conn.commands.append((time.monotonic(), verb))
                if verb in (b"EXAMINE", b"SELECT") and len(words) > 2:
                    conn.folder = words[2].decode("utf-8", "replace")
            if conn.frozen:  # held, as the rest of this line's literals: no fault either
                await self._send(conn, True, uwriter, line)
                while match := _LITERAL.search(line):
                    await self._send(
                        conn, True, uwriter, await creader.readexactly(int(match.group(1)))
                    )
                    line = await creader.readline()
                    await self._send(conn, True, uwriter, line)
                continue
            stage = _stage_of(line)
            if stage is not None and self._take(stage):
                tag = line.split(None, 1)[0]
                if self.fault not in REFUSALS and self.fault != "malformed":
                    await self._inject(stage, line, creader, cwriter)
                    return
                if self.fault in REFUSALS:
                    rewrites[tag] = tag + b" " + REFUSALS[self.fault] + b"\r\n"
                else:
                    rewrites[tag] = malformed(stage, tag)
                uwriter.write(tag + b" NOOP\r\n")  # answered in its turn, see _pump
                await uwriter.drain()
                continue
            await self._send(conn, True, uwriter, line)
            while match := _LITERAL.search(line):
                await self._send(
                    conn, True, uwriter, await creader.readexactly(int(match.group(1)))
                )
                line = await creader.readline()
                await self._send(conn, True, uwriter, line)

    async def _inject(
        self,
        stage: str,
        line: bytes,
        creader: asyncio.StreamReader,
        cwriter: asyncio.StreamWriter,
    ) -> None:
        """Break the conversation at ``line`` (the command); return to close the connection."""
        if self.fault == "drop":
            return
        streamer: asyncio.Task[None] | None = None
        if self.fault == "garbage":
            cwriter.write(garbage(stage, line))
        elif self.fault == "huge_literal":
            cwriter.write(b"* 1 FETCH (BODY[] {%d}\r\n" % HUGE_LITERAL_SIZE)
            streamer = asyncio.create_task(self._stream(cwriter))
        with contextlib.suppress(OSError):
            await cwriter.drain()
            while await creader.read(65536):  # stalled: read and ignore until the client leaves
                pass
        if streamer is not None:
            streamer.cancel()

    async def _stream(self, cwriter: asyncio.StreamWriter) -> None:
        block = b"x" * self.chunk
        with contextlib.suppress(OSError):
            while self.streamed < HUGE_LITERAL_SIZE:
                cwriter.write(block)
                await cwriter.drain()
                self.streamed += len(block)
                await asyncio.sleep(self.interval)
