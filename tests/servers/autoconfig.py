"""Thunderbird-style autoconfig web servers for the setup tests, and certificates for names.

:class:`AutoconfigServer` answers, inside a :class:`tests.servers.dnsns.NetNS`, on
127.0.0.1:443 (HTTPS, a certificate of the test CA for every name it serves) and
127.0.0.1:80 (plain http): ``files`` maps ``"https://host/path"`` or ``"http://host/path"``
(no query) to the XML to send; anything else is a 404. ``requests`` records every request
(scheme, Host, path, query) in order, so a test can check what was asked and that nothing
but the address was ever sent.

:func:`issue_certs` makes a :class:`tests.servers.certs.Certs` whose ``server("good")``
certificate is signed by the test CA and valid for the names given (plus localhost and
127.0.0.1): Dovecot takes it through ``certs=`` and so proves to the client that it is
``imap.<entity domain>``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import ssl
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.servers.certs import Certs, _make_leaf, _write_cert, _write_key
from tests.servers.dnsns import NetNS


def issue_certs(base: Certs, directory: Path, names: Iterable[str]) -> Certs:
    """A Certs (same CA) whose good server certificate names ``names``, localhost, 127.0.0.1."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    shutil.copy(base.ca, directory / "ca.pem")
    ca_cert = x509.load_pem_x509_certificate(base.ca.read_bytes())
    ca_key = serialization.load_pem_private_key(base.ca_key.read_bytes(), password=None)
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        *(x509.DNSName(n) for n in names),
    ]
    now = dt.datetime.now(dt.UTC)
    cert, key = _make_leaf(
        cn="localhost",
        names=sans,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=30),
        issuer=(ca_cert, ca_key),  # type: ignore[arg-type]
    )
    _write_cert(directory / "server.pem", cert)
    _write_key(directory / "server.key", key)
    return Certs(directory=directory, ca=directory / "ca.pem", ca_key=base.ca_key)


def client_config(
    host: str,
    port: int,
    socket_type: str = "SSL",
    username: str = "%EMAILADDRESS%",
    *,
    domain: str = "",
    before: str = "",
) -> str:
    """A ``clientConfig`` 1.1 file (Thunderbird's format) with one IMAP server; ``before``:
    more ``incomingServer`` elements ahead of it (POP3, plain IMAP…)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{domain}">
    <domain>{domain}</domain>
    <displayName>Correo de la entidad</displayName>
    {before}
    <incomingServer type="imap">
      <hostname>{host}</hostname>
      <port>{port}</port>
      <socketType>{socket_type}</socketType>
      <authentication>password-cleartext</authentication>
      <username>{username}</username>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.{domain}</hostname>
      <port>465</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""


class AutoconfigServer:
    def __init__(self, ns: NetNS, certs: Certs, files: Mapping[str, str]) -> None:
        self.ns = ns
        self.certs = certs
        self.files = dict(files)
        self.requests: list[dict[str, str]] = []
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []

    def _handler(self, scheme: str) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                url = urllib.parse.urlsplit(self.path)
                owner.requests.append(
                    {"scheme": scheme, "host": host, "path": url.path, "query": url.query}
                )
                body = owner.files.get(f"{scheme}://{host}{url.path}")
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> AutoconfigServer:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert, key = self.certs.server("good")
        context.load_cert_chain(cert, key)
        for scheme, port in (("https", 443), ("http", 80)):
            with self.ns.entered():  # the listening socket belongs to the namespace
                server = ThreadingHTTPServer(("127.0.0.1", port), self._handler(scheme))
            if scheme == "https":
                server.socket = context.wrap_socket(server.socket, server_side=True)
            server.daemon_threads = True
            self._servers.append(server)
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(5)
