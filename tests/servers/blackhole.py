"""A real kernel blackhole between a client and a loopback server (needs root, ``ip``, ``nft``).

Two network namespaces made for the purpose, joined by a veth pair::

    client netns  10.213.0.1/30 ──veth── 10.213.0.2/30  server netns
      (the client's threads)               relay listener ──▶ 127.0.0.1:<target> (host)

The relay runs in this process: its listening socket is created inside the
server namespace (a socket stays in the namespace it was made in), and it
forwards every connection, byte for byte (TLS passes through), to
``target_host:target_port`` on the host's loopback. The client runs in the
client namespace: :meth:`Blackhole.thread` starts a thread there, and every
thread it starts inherits that namespace (Linux copies the creating thread's
namespaces), so a whole in-process service can live behind the link. It
connects to :attr:`Blackhole.host`:\\ :attr:`Blackhole.port`.

:meth:`Blackhole.drop` blackholes the connections open at that moment, in the
kernel: an nftables table of our own in the server namespace drops every packet
of those flows (by the client's source port, a named set), both directions,
ACKs and TCP keepalive probes included. Nothing is closed and no RST is sent:
the client's writes succeed into its send buffer and are retransmitted into the
void, as across a NAT box that forgot the mapping. New connections (other
source ports) pass. :meth:`restore` empties the set.

Everything is removed on :meth:`stop` (the namespaces, and with them the veth
pair and the table), also after a failure; namespaces left by a process that
died (their names carry its pid) are removed by the next :meth:`start`.

A certificate for :attr:`Blackhole.host` is needed for TLS: :func:`certs_for`
issues one from the test CA (a :class:`~tests.servers.certs.Certs` for the server).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.servers.certs import Certs

NETNS_DIR = Path("/run/netns")
PREFIX = "secop-bh-"
CLIENT_IP = "10.213.0.1"
SERVER_IP = "10.213.0.2"
PREFIX_LEN = 30
TABLE = "secop_blackhole"
CLONE_NEWNET = 0x40000000
_CHUNK = 65536


class BlackholeError(RuntimeError):
    pass


def missing() -> str | None:
    """Why a blackhole cannot be made here (None when it can)."""
    if os.geteuid() != 0:
        return "network namespaces and nftables need root"
    for tool in ("ip", "nft"):
        if shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
            return (
                f"{tool} is missing (apt-get install {'iproute2' if tool == 'ip' else 'nftables'})"
            )
    return None


def enter_netns(name: str) -> None:
    """Move the calling thread (only it) into network namespace ``name``."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(NETNS_DIR / name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def in_netns(name: str, fn: Callable[[], Any]) -> Any:
    """``fn()`` run in a short-lived thread inside ``name``; its result (or exception)."""
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            enter_netns(name)
            out["value"] = fn()
        except BaseException as e:  # handed to the caller
            out["error"] = e

    t = threading.Thread(target=work, name=f"netns:{name}", daemon=True)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise BlackholeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def _nft(netns: str, script: str) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", netns, "nft", "-f", "-"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BlackholeError(f"nft in {netns}: {done.stderr.strip()}\n{script}")
    return done.stdout


def reap_stale() -> list[str]:
    """Delete our namespaces whose creating process is gone; their names."""
    gone = []
    with contextlib.suppress(FileNotFoundError):
        for entry in NETNS_DIR.iterdir():
            m = re.match(re.escape(PREFIX) + r"(\d+)-", entry.name)
            if not m:
                continue
            pid = int(m.group(1))
            try:
                os.kill(pid, 0)
                continue  # alive: someone's
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            _ip("netns", "del", entry.name, check=False)
            gone.append(entry.name)
    return gone


def certs_for(certs: Certs, ip: str, directory: Path) -> Certs:
    """A copy of ``certs`` whose ``"good"`` server certificate also names ``ip``
    (besides localhost and 127.0.0.1), signed by the same test CA."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.servers import certs as certs_mod

    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    ca_cert = x509.load_pem_x509_certificate(certs.ca.read_bytes())
    ca_key = serialization.load_pem_private_key(certs.ca_key.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    now = dt.datetime.now(dt.UTC)
    names = [*certs_mod._GOOD_NAMES, x509.IPAddress(ipaddress.ip_address(ip))]
    cert, key = certs_mod._make_leaf(
        cn="localhost",
        names=names,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=30),
        issuer=(ca_cert, ca_key),
    )
    certs_mod._write_cert(directory / "server.pem", cert)
    certs_mod._write_key(directory / "server.key", key)
    return Certs(directory=directory, ca=certs.ca, ca_key=certs.ca_key)


class Blackhole:
    """Client netns ⇄ server netns (relay to ``target_host:target_port``), and a DROP on demand."""

    def __init__(
        self, target_port: int, target_host: str = "127.0.0.1", *, port: int = 993
    ) -> None:
        token = secrets.token_hex(3)
        self.name = f"{PREFIX}{os.getpid()}-{token}"
        self.client_ns = self.name + "-c"
        self.server_ns = self.name + "-s"
        self._veth = (f"bh{token}c", f"bh{token}s")  # interface names: 15 characters at most
        self.target = (target_host, target_port)
        self.host = SERVER_IP  # where the client connects
        self.port = port
        self.connections = 0  # accepted by the relay
        self.dropped_ports: list[int] = []  # client source ports blackholed so far
        self._open: dict[int, tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._made: list[str] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Blackhole:
        why = missing()
        if why:
            raise BlackholeError(why)
        reap_stale()
        try:
            self._make_link()
            self._make_table()
            self._start_relay()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            loop.close()
        for ns in reversed(self._made):
            _ip("netns", "del", ns, check=False)
        self._made.clear()

    def __enter__(self) -> Blackhole:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _make_link(self) -> None:
        vc, vs = self._veth
        for ns in (self.client_ns, self.server_ns):
            _ip("netns", "add", ns)
            self._made.append(ns)
        _ip("link", "add", vc, "netns", self.client_ns, "type", "veth", "peer", "name", vs,
            "netns", self.server_ns)  # fmt: skip
        for ns, dev, ip in ((self.client_ns, vc, CLIENT_IP), (self.server_ns, vs, SERVER_IP)):
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "addr", "add", f"{ip}/{PREFIX_LEN}", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")

    def _make_table(self) -> None:
        p = self.port
        _nft(
            self.server_ns,
            f"""
table inet {TABLE} {{
    set held {{ type inet_service; }}
    chain input {{
        type filter hook input priority -10; policy accept;
        tcp dport {p} tcp sport @held counter drop
    }}
    chain output {{
        type filter hook output priority -10; policy accept;
        tcp sport {p} tcp dport @held counter drop
    }}
}}
""",
        )

    def _start_relay(self) -> None:
        def listen() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((SERVER_IP, self.port))
            sock.listen(64)
            sock.setblocking(False)
            return sock

        listener: socket.socket = in_netns(self.server_ns, listen)
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(lambda _loop, _context: None)
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="blackhole-relay", daemon=True
        )
        self._thread.start()

        async def serve() -> None:
            self._server = await asyncio.start_server(self._handle, sock=listener)

        asyncio.run_coroutine_threadsafe(serve(), loop).result(10)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ the relay
    async def _handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        port = int(cwriter.get_extra_info("peername")[1])
        uwriter: asyncio.StreamWriter | None = None
        try:
            ureader, uwriter = await asyncio.open_connection(*self.target)
            self._open[port] = (cwriter, uwriter)
            await asyncio.gather(self._pipe(creader, uwriter), self._pipe(ureader, cwriter))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._open.pop(port, None)
            for w in (cwriter, uwriter):
                if w is not None:
                    w.transport.abort()
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()
            # The peer hung up: pass it on (a blackholed flow never gets here, no FIN arrives).
            with contextlib.suppress(OSError, RuntimeError):
                writer.write_eof()

    # ------------------------------------------------------------------ faults
    def open_ports(self) -> list[int]:
        """The client source ports of the connections the relay holds open now."""
        return sorted(self._open)

    def drop(self) -> list[int]:
        """Blackhole every connection open now (new ones still pass); their client ports."""
        ports = self.open_ports()
        if ports:
            _nft(
                self.server_ns,
                f"add element inet {TABLE} held {{ {', '.join(map(str, ports))} }}\n",
            )
            self.dropped_ports += ports
        return ports

    def restore(self) -> None:
        """Let the blackholed connections through again."""
        _nft(self.server_ns, f"flush set inet {TABLE} held\n")

    def dropped_packets(self) -> dict[str, int]:
        """Packets the DROP rules ate so far: ``{"input": n, "output": n}``."""
        done = subprocess.run(
            ["ip", "netns", "exec", self.server_ns, "nft", "list", "table", "inet", TABLE],
            capture_output=True,
            text=True,
            check=False,
        )
        counts = [int(n) for n in re.findall(r"counter packets (\d+)", done.stdout)]
        return dict(zip(("input", "output"), counts, strict=False))

    # ------------------------------------------------------------------ the client side
    def thread(
        self, target: Callable[..., Any], *args: Any, name: str = "blackhole-client"
    ) -> threading.Thread:
        """A daemon thread (not started) that runs ``target(*args)`` in the client namespace;
        every thread it starts is there too."""

        def run() -> None:
            enter_netns(self.client_ns)
            target(*args)

        return threading.Thread(target=run, name=name, daemon=True)

    def connect(self, timeout: float = 5.0) -> socket.socket:
        """A TCP connection from the client namespace to the relay (for self-tests)."""
        result: socket.socket = in_netns(
            self.client_ns, lambda: socket.create_connection((self.host, self.port), timeout)
        )
        return result
