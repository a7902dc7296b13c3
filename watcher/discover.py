"""Find an address's mail server by itself, the way Thunderbird's account setup does.

In order, the first that answers wins:

1. the address's domain among the providers we know (:mod:`watcher.providers`; no network);
2. the domain's own autoconfig file, in Thunderbird's format (``clientConfig`` 1.1), at
   ``https://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=<address>``, then
   ``https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml``, then
   ``http://autoconfig.<domain>/mail/config-v1.1.xml`` (without the address). Plain http can
   be altered on the way, so its answer is taken only when the server it names is the domain
   itself or under it: the server's certificate, checked at login, then proves the server is
   the domain's. Thunderbird's central database (ISPDB) is not asked: no third party learns
   the domain; our own list plays its part;
3. the domain's MX records: Microsoft 365 (``*.mail.protection.outlook.com``), Google
   (``aspmx.l.google.com``, ``*.googlemail.com``, ``smtp.google.com``) and Yahoo
   (``*.yahoodns.net``) host many entities' mail under the entity's own domain;
4. a guess, ``imap.<domain>`` then ``mail.<domain>``, each tried on 993 (TLS) and 143
   (STARTTLS) without signing in (:func:`probe`).

Nothing here sends a password: only the address, to the domain's own https server. Every
step has a bounded time (the DNS and the web look-ups run side by side in threads that are
left behind when they take too long).
"""

from __future__ import annotations

import functools
import re
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from watcher import providers
from watcher.providers import Provider

DNS_SECONDS = 4.0
HTTP_SECONDS = 5.0
PROBE_SECONDS = 4.0
MAX_XML_BYTES = 64 * 1024
SSL, STARTTLS = "ssl", "starttls"
_HOST = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")

T = TypeVar("T")


@dataclass(frozen=True)
class Found:
    """Where the mailbox is: ``source`` is how it was found ("domain", "autoconfig", "mx",
    "guess"), ``where`` what said so (a URL, an MX host), ``provider`` a known provider
    (its sign-in rules), ``username`` the autoconfig's user name (None: the address)."""

    host: str
    port: int
    security: str
    source: str
    where: str = ""
    provider: Provider | None = None
    username: str | None = None


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def is_host_name(text: str) -> bool:
    return bool(_HOST.match(text.strip().rstrip(".")))


def discover(address: str) -> Found | None:
    """The server for ``address``, or None when nothing answered (then ask the user)."""
    domain = domain_of(address)
    known = providers.by_email(address)
    if known is not None:
        return Found(known.host, known.port, known.security, "domain", domain, known)
    if not is_host_name(domain):
        return None
    # The web look-ups and the MX look-up at the same time: the slowest bounds the wait.
    configs = [
        _in_thread(functools.partial(_fetch_config, url, address, domain), HTTP_SECONDS + 1)
        for url in autoconfig_urls(address, domain)
    ]
    mx = _in_thread(lambda: mx_hosts(domain), DNS_SECONDS + 1)
    for result in configs:
        found = result()
        if found is not None:
            return found
    found = by_mx(mx() or [])
    return found if found is not None else guess(domain)


def autoconfig_urls(address: str, domain: str) -> list[str]:
    query = urllib.parse.urlencode({"emailaddress": address})
    return [
        f"https://autoconfig.{domain}/mail/config-v1.1.xml?{query}",
        f"https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
        f"http://autoconfig.{domain}/mail/config-v1.1.xml",
    ]


# --------------------------------------------------------------------------- MX
MX_PROVIDERS: list[tuple[str, Provider]] = [
    (".mail.protection.outlook.com", providers.MICROSOFT),  # Microsoft 365 (Exchange Online)
    (".olc.protection.outlook.com", providers.MICROSOFT),  # Outlook.com for a domain
    ("aspmx.l.google.com", providers.GMAIL),  # Google Workspace, and alt1…alt4
    (".googlemail.com", providers.GMAIL),  # aspmx2.googlemail.com…
    ("smtp.google.com", providers.GMAIL),  # Google Workspace's single MX (since 2023)
    (".yahoodns.net", providers.YAHOO),  # Yahoo, also for small businesses' domains
]


def mx_hosts(domain: str) -> list[str]:
    """The domain's MX hosts, most preferred first; [] when there are none or DNS fails."""
    import dns.exception
    import dns.resolver

    try:
        resolver = dns.resolver.Resolver()
        answer = resolver.resolve(domain, "MX", lifetime=DNS_SECONDS)
    except (dns.exception.DNSException, OSError):
        return []
    records = sorted(answer, key=lambda r: r.preference)
    return [str(r.exchange).rstrip(".").lower() for r in records]


def provider_of_mx(host: str) -> Provider | None:
    host = host.rstrip(".").lower()
    for suffix, provider in MX_PROVIDERS:
        if host == suffix.lstrip(".") or host.endswith("." + suffix.lstrip(".")):
            return provider
    return None


def by_mx(hosts: list[str]) -> Found | None:
    for host in hosts:
        provider = provider_of_mx(host)
        if provider is not None:
            return Found(provider.host, provider.port, provider.security, "mx", host, provider)
    return None


# -------------------------------------------------------------------- autoconfig
def _fetch_config(url: str, address: str, domain: str) -> Found | None:
    body, chain = fetch(url)
    if body is None:
        return None
    found = parse_config(body, address, where=chain[-1])
    if found is None:
        return None
    # Plain http anywhere in the chain (a redirect from http, or to it) could have been
    # altered, even when the last hop is https on some other site: only the domain's own
    # servers are taken then.
    secure = all(urllib.parse.urlsplit(hop).scheme == "https" for hop in chain)
    if not secure and not under(found.host, domain):
        return None
    return found


def fetch(url: str) -> tuple[bytes | None, list[str]]:
    """``(body, every URL of the redirect chain)``; body None on any failure. At most
    MAX_XML_BYTES are read."""
    import http.client
    import urllib.error
    import urllib.request

    chain = [url]

    class Hops(urllib.request.HTTPRedirectHandler):
        def redirect_request(
            self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
        ) -> Any:
            chain.append(newurl)
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    opener = urllib.request.build_opener(
        Hops(), urllib.request.HTTPSHandler(context=ssl.create_default_context())
    )
    request = urllib.request.Request(  # noqa: S310 - only https:// and http:// URLs built here
        url, headers={"User-Agent": "secop-watcher", "Accept": "application/xml, text/xml"}
    )
    try:
        with opener.open(request, timeout=HTTP_SECONDS) as response:
            chain.append(response.geturl())
            if response.status != 200:
                return None, chain
            return response.read(MAX_XML_BYTES + 1)[: MAX_XML_BYTES + 1], chain
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError):
        return None, chain


def parse_config(body: bytes, address: str, *, where: str = "") -> Found | None:
    """The first IMAP server with TLS in a ``clientConfig`` file (plain ones are never used)."""
    from xml.etree import ElementTree

    start = body.removeprefix(b"\xef\xbb\xbf").lstrip()
    if len(body) > MAX_XML_BYTES or b"<!ENTITY" in body or not start.startswith(b"<"):
        return None  # no entity tricks, no huge files, UTF-8 only (UTF-16 would hide an ENTITY)
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - bounded, no entities (above)
    except (ElementTree.ParseError, LookupError, ValueError):  # also an unknown encoding
        return None
    if root.tag != "clientConfig":
        return None
    for server in root.iter("incomingServer"):
        if server.get("type") != "imap":
            continue
        host = expand(_text(server, "hostname"), address)
        security = {"SSL": SSL, "TLS": SSL, "STARTTLS": STARTTLS}.get(
            _text(server, "socketType").upper()
        )
        port = _text(server, "port")
        if security is None or not is_host_name(host) or not (port.isascii() and port.isdigit()):
            continue
        if not 0 < int(port) < 65536:
            continue
        username = expand(_text(server, "username"), address) or None
        host = host.rstrip(".").lower()
        provider = providers.by_host(host)
        return Found(host, int(port), security, "autoconfig", where, provider, username)
    return None


def _text(element: object, tag: str) -> str:
    child = element.find(tag)  # type: ignore[attr-defined]
    return (child.text or "").strip() if child is not None else ""


def expand(text: str, address: str) -> str:
    local, _, domain = address.partition("@")
    return (
        text.replace("%EMAILADDRESS%", address)
        .replace("%EMAILLOCALPART%", local)
        .replace("%EMAILDOMAIN%", domain)
    )


def under(host: str, domain: str) -> bool:
    host = host.rstrip(".").lower()
    return host == domain or host.endswith("." + domain)


# ------------------------------------------------------------------------ guess
def guess(domain: str) -> Found | None:
    for name in (f"imap.{domain}", f"mail.{domain}"):
        found = probe(name)
        if found is not None:
            security, port = found
            return Found(name, port, security, "guess", name)
    return None


def probe(host: str) -> tuple[str, int] | None:
    """``(security, port)`` where ``host`` answers IMAP with TLS: 993, else STARTTLS on 143.
    Never signs in. A certificate that does not verify still counts: the server is there,
    and the login says what to do about the certificate."""
    for security, port in ((SSL, 993), (STARTTLS, 143)):
        if _in_thread(functools.partial(_greets, host, port, security), PROBE_SECONDS * 2)():
            return security, port
    return None


def _greets(host: str, port: int, security: str) -> bool:
    context = ssl.create_default_context()
    try:
        with socket.create_connection((host, port), timeout=PROBE_SECONDS) as raw:
            if security == SSL:
                try:
                    with context.wrap_socket(raw, server_hostname=host) as tls:
                        return _line(tls).startswith((b"* OK", b"* PREAUTH"))
                except ssl.SSLCertVerificationError:
                    return True
            if not _line(raw).startswith(b"* OK"):
                return False
            raw.sendall(b"a1 STARTTLS\r\n")
            while (line := _line(raw)).startswith(b"* "):
                pass
            return line.startswith(b"a1 OK")
    except (OSError, ValueError):
        return False


def _line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n") and len(data) < 4096:
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def _in_thread(work: Callable[[], T], seconds: float) -> Callable[[], T | None]:
    """Start ``work`` now; the returned call waits for it at most ``seconds`` from now
    (None past that: the thread is a daemon and is left behind)."""
    import time

    box: list[T] = []
    thread = threading.Thread(target=lambda: box.append(work()), daemon=True)
    deadline = time.monotonic() + seconds
    thread.start()

    def result() -> T | None:
        thread.join(max(0.0, deadline - time.monotonic()))
        return box[0] if box else None

    return result
