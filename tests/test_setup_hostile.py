"""Hostile or broken answers during setup's discovery (issue 14 review).

- A forged plain-http autoconfig answer must not send the password elsewhere, also when it
  is a redirect to an https URL on another site (real local http and https servers with the
  test CA): plain http anywhere in the redirect chain means only the domain's own servers.
- A broken autoconfig file is ignored quietly (it is parsed in a thread, where an exception
  would print an English traceback in the middle of setup); a digit that ``str.isdigit()``
  accepts and ``int()`` does not is asked again, never an internal error.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.servers.autoconfig import client_config
from tests.servers.certs import make_certs
from watcher import discover, setupwizard

EVIL = client_config("imap.attacker.example", 993, "SSL").encode()


def _serve(handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext | None) -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    return server


@pytest.fixture
def servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, int]]:
    certs = make_certs(tmp_path / "certs")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*certs.server("good"))

    class Attacker(BaseHTTPRequestHandler):  # the attacker's own https site, valid cert
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(EVIL)))
            self.end_headers()
            self.wfile.write(EVIL)

        def log_message(self, *a: Any) -> None:
            pass

    https = _serve(Attacker, tls)
    target = f"https://127.0.0.1:{https.server_address[1]}/x.xml"

    class Forged(BaseHTTPRequestHandler):  # the forged plain-http answer: a redirect
        def do_GET(self) -> None:
            if self.path.startswith("/direct"):
                self.send_response(200)
                self.send_header("Content-Length", str(len(EVIL)))
                self.end_headers()
                self.wfile.write(EVIL)
                return
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    http = _serve(Forged, None)
    real = ssl.create_default_context

    def trusting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        context = real(*args, **kwargs)
        context.load_verify_locations(cafile=str(certs.ca))  # the attacker's cert is valid
        return context

    monkeypatch.setattr(discover.ssl, "create_default_context", trusting)
    yield http.server_address[1], https.server_address[1]
    http.shutdown()
    https.shutdown()


def test_a_forged_http_answer_naming_another_server_is_refused(servers: tuple[int, int]) -> None:
    """A direct forged http answer naming another server is refused."""
    url = f"http://127.0.0.1:{servers[0]}/direct/mail/config-v1.1.xml"
    assert discover._fetch_config(url, "jperez@concejo.gov.co", "concejo.gov.co") is None


def test_a_forged_http_redirect_to_https_elsewhere_is_refused(servers: tuple[int, int]) -> None:
    """The same forged file behind an http→https redirect: setup would send the password to
    imap.attacker.example (whose certificate is valid for its own name)."""
    url = f"http://127.0.0.1:{servers[0]}/mail/config-v1.1.xml"
    found = discover._fetch_config(url, "jperez@concejo.gov.co", "concejo.gov.co")
    assert found is None or discover.under(found.host, "concejo.gov.co"), found


SERVER = (
    b'<clientConfig><incomingServer type="imap"><hostname>imap.x.co</hostname>'
    b"<port>%s</port><socketType>SSL</socketType></incomingServer></clientConfig>"
)


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0" encoding="x-nope"?><clientConfig/>',  # LookupError
        b'<?xml version="1.0" encoding="utf-32"?><clientConfig/>',  # ValueError
        SERVER % "¹".encode(),  # str.isdigit() is true, int() fails
    ],
)
def test_garbage_autoconfig_is_ignored(body: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discover, "fetch", lambda url: (body, ["https://autoconfig.x.co/x"]))
    assert discover._fetch_config("https://autoconfig.x.co/x", "a@x.co", "x.co") is None


@pytest.mark.parametrize("typed", ["²", "9⁹3"])
def test_a_superscript_port_is_asked_again(typed: str) -> None:
    assert setupwizard.check_port(typed) == "setup.why.port"
