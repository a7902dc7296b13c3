"""A network namespace of the tests' own, with an authoritative DNS server inside it.

Why a namespace: the installed ``secop-watcher`` must look names up the way it does on a
user's machine, through the system's resolver configuration (dnspython and getaddrinfo
both read /etc/resolv.conf), with no knob of the product's own. ``ip netns exec NAME``
bind-mounts ``/etc/netns/NAME/resolv.conf`` over /etc/resolv.conf, so a command run
that way asks our DNS server and nothing else; the namespace has only its own loopback,
so nothing it does reaches the real network.

The servers are threads of the test process: a socket belongs to the namespace of the
thread that created it, so :meth:`NetNS.entered` moves the calling thread into the
namespace (``setns(2)``), the listening sockets are made there, and the thread moves back.
Threads started afterwards serve those sockets from the root namespace; a
:class:`Forward` accepts inside and connects outside, so a Dovecot listening on the host's
127.0.0.1 answers inside the namespace (on 993 and 143, as real servers do).

The DNS server is dnslib's (``dnslib.server.DNSServer``, UDP and TCP on 127.0.0.1:53 inside
the namespace): authoritative (AA), NXDOMAIN for names it does not hold. dnslib over a
Debian package such as nsd or knot: no zone files or daemon to manage, the records are a
dict the tests write, and it starts in milliseconds. Requires root (``ip netns``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dnslib import AAAA, MX, QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

from tests.servers.dovecot import _Relay

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


class NetNS:
    """``ip netns add`` on :meth:`create`, deleted (with its resolv.conf) on :meth:`delete`."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"secop-{secrets.token_hex(4)}"
        self.etc = Path("/etc/netns") / self.name

    def create(self) -> NetNS:
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
        self.etc.mkdir(parents=True, exist_ok=True)
        # One quick try: a test that expects no answer should not wait glibc's 5 s x 2.
        (self.etc / "resolv.conf").write_text(
            "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n"
        )
        return self

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "delete", self.name], check=False)
        shutil.rmtree(self.etc, ignore_errors=True)

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the namespace (with its resolv.conf)."""
        return ["ip", "netns", "exec", self.name, *argv]

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """The calling thread inside the namespace (sockets made now belong to it)."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(own)
            os.close(target)

    def listener(
        self, port: int, kind: int = socket.SOCK_STREAM, address: str = "127.0.0.1"
    ) -> socket.socket:
        """A socket bound to ``address``:``port`` inside the namespace (any 127.x.y.z)."""
        with self.entered():
            sock = socket.socket(socket.AF_INET, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            if kind == socket.SOCK_STREAM:
                sock.listen(64)
        return sock


class Forward(_Relay):
    """``address``:``port`` inside the namespace → 127.0.0.1:``target`` outside (bytes only)."""

    def __init__(self, ns: NetNS, port: int, target: int, address: str = "127.0.0.1") -> None:
        super().__init__("127.0.0.1", port, target, "127.0.0.1")
        self.ns = ns
        self.address = address

    def start(self) -> None:
        listener = self.ns.listener(self.listen_port, address=self.address)
        listener.settimeout(0.1)
        self._listener = listener
        self._stopping.clear()
        t = threading.Thread(target=self._accept_loop, name="netns-forward", daemon=True)
        t.start()
        self._threads = [t]


Records = Mapping[str, Mapping[str, list[Any]]]  # name → {"A": ["127.0.0.1"], "MX": [(10, h)]}


class _Zone(BaseResolver):  # type: ignore[misc]
    def __init__(self, records: Records) -> None:
        self.records = {k.rstrip(".").lower(): v for k, v in records.items()}
        self.asked: list[tuple[str, str]] = []

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()  # aa=1: we are the authority for every name we hold
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.asked.append((qname, qtype))
        held = self.records.get(qname)
        if held is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for value in held.get(qtype, []):
            if qtype == "A":
                rdata: Any = A(value)
            elif qtype == "AAAA":
                rdata = AAAA(value)
            elif qtype == "MX":
                rdata = MX(value[1], value[0])
            else:
                continue
            reply.add_answer(RR(request.q.qname, request.q.qtype, rdata=rdata, ttl=60))
        return reply


class DNS:
    """Authoritative DNS on 127.0.0.1:53 (UDP and TCP) inside ``ns``; ``asked`` lists the
    questions in order (name, type)."""

    def __init__(self, ns: NetNS, records: Records) -> None:
        self.ns = ns
        self.zone = _Zone(records)
        self._servers: list[DNSServer] = []

    @property
    def asked(self) -> list[tuple[str, str]]:
        return self.zone.asked

    def start(self) -> DNS:
        quiet = DNSLogger(log="-request,-reply,-truncated")
        with self.ns.entered():  # bound here, in the namespace
            for tcp in (False, True):
                self._servers.append(DNSServer(self.zone, "127.0.0.1", 53, tcp, quiet))
        for server in self._servers:  # serving threads out here
            server.start_thread()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()
