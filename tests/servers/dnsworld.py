"""A small Internet for setup's tests, inside a network namespace of their own.

Entity domains, each showing setup one way of finding its server (see :data:`RECORDS`
and :data:`FILES`), an authoritative DNS server for them (:class:`tests.servers.dnsns.DNS`),
their autoconfig web servers (:class:`tests.servers.autoconfig.AutoconfigServer`) and a
real Dovecot whose certificate names their IMAP servers, reached inside the namespace on
993 and 143 (and on 127.0.0.2:10993 for ``correo.hospital.gov.co``, a server on a port
nobody could guess). Commands run inside with :meth:`World.command`; the test CA is the
system's (``SSL_CERT_FILE``), as an entity's public certificate would be.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.autoconfig import AutoconfigServer, client_config, issue_certs
from tests.servers.dnsns import DNS, Forward, NetNS

HOSPITAL_IP = "127.0.0.2"
HOSPITAL_PORT = 10993
OUTLOOK_MX = "ministerio-gov-co.mail.protection.outlook.com"

# Every name on 127.0.0.1 (the namespace's loopback), but the hospital's server.
RECORDS: dict[str, dict[str, list[Any]]] = {
    # autoconfig.<domain>, https: the commonest case
    "alcaldia.gov.co": {"A": ["127.0.0.1"]},
    "autoconfig.alcaldia.gov.co": {"A": ["127.0.0.1"]},
    "imap.alcaldia.gov.co": {"A": ["127.0.0.1"]},
    # only <domain>/.well-known/autoconfig/…, STARTTLS on 143
    "gobernacion.gov.co": {"A": ["127.0.0.1"]},
    "imap.gobernacion.gov.co": {"A": ["127.0.0.1"]},
    # plain http autoconfig naming the domain's own server: taken
    "concejo.gov.co": {"A": ["127.0.0.1"]},
    "autoconfig.concejo.gov.co": {"A": ["127.0.0.1"]},
    "imap.concejo.gov.co": {"A": ["127.0.0.1"]},
    # plain http autoconfig naming someone else's server: refused
    "personeria.gov.co": {"A": ["127.0.0.1"]},
    "autoconfig.personeria.gov.co": {"A": ["127.0.0.1"]},
    "imap.servidor-ajeno.com": {"A": ["127.0.0.1"]},
    # MX at Microsoft 365 / Google
    "ministerio.gov.co": {"MX": [(10, OUTLOOK_MX)]},
    "colegio.edu.co": {"MX": [(1, "aspmx.l.google.com"), (5, "alt1.aspmx.l.google.com")]},
    # nothing published, but mail.<domain> answers on 993: found by guessing
    "contraloria.gov.co": {"A": ["127.0.0.1"]},
    "mail.contraloria.gov.co": {"A": ["127.0.0.1"]},
    # nothing to find: the user is asked (the server is on an unusual port)
    "hospital.gov.co": {"A": ["127.0.0.1"]},
    "correo.hospital.gov.co": {"A": [HOSPITAL_IP]},
}
IMAP_NAMES = [
    "imap.alcaldia.gov.co",
    "imap.gobernacion.gov.co",
    "imap.concejo.gov.co",
    "imap.servidor-ajeno.com",
    "mail.contraloria.gov.co",
    "correo.hospital.gov.co",
]
WEB_NAMES = [
    "autoconfig.alcaldia.gov.co",
    "gobernacion.gov.co",
    "autoconfig.concejo.gov.co",
    "autoconfig.personeria.gov.co",
]
FILES = {
    "https://autoconfig.alcaldia.gov.co/mail/config-v1.1.xml": client_config(
        "imap.%EMAILDOMAIN%",
        993,
        "SSL",
        "%EMAILLOCALPART%",
        domain="alcaldia.gov.co",
        before='<incomingServer type="pop3"><hostname>pop.alcaldia.gov.co</hostname>'
        "<port>995</port><socketType>SSL</socketType></incomingServer>",
    ),
    "https://gobernacion.gov.co/.well-known/autoconfig/mail/config-v1.1.xml": client_config(
        "imap.gobernacion.gov.co", 143, "STARTTLS", "%EMAILLOCALPART%", domain="gobernacion.gov.co"
    ),
    "http://autoconfig.concejo.gov.co/mail/config-v1.1.xml": client_config(
        "imap.concejo.gov.co", 993, "SSL", "%EMAILLOCALPART%", domain="concejo.gov.co"
    ),
    "http://autoconfig.personeria.gov.co/mail/config-v1.1.xml": client_config(
        "imap.servidor-ajeno.com", 993, "SSL", "%EMAILLOCALPART%", domain="personeria.gov.co"
    ),
}


@dataclass
class World:
    ns: NetNS
    dns: DNS
    web: AutoconfigServer
    imap: Any  # tests.servers.dovecot.Dovecot
    ca: Path

    def command(self, *argv: str) -> list[str]:
        return self.ns.command(*argv)


def require_netns() -> None:
    from tests.conftest import missing_requirement

    if os.geteuid() != 0 or shutil.which("ip") is None:
        missing_requirement("setup's discovery tests need root and `ip` (apt-get install iproute2)")


@pytest.fixture
def world(
    dovecot_factory: Callable[..., Any],
    certs: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    require_netns()
    named = issue_certs(certs, tmp_path / "world-certs", IMAP_NAMES + WEB_NAMES)
    imap = dovecot_factory(certs=named)
    ns = NetNS().create()
    started: list[Any] = []
    try:
        for forward in (
            Forward(ns, 993, imap.port_ssl),
            Forward(ns, 143, imap.port_starttls),
            Forward(ns, HOSPITAL_PORT, imap.port_ssl, HOSPITAL_IP),
        ):
            forward.start()
            started.append(forward)
        dns = DNS(ns, RECORDS).start()
        started.append(dns)
        web = AutoconfigServer(ns, named, FILES).start()
        started.append(web)
        monkeypatch.setenv("SSL_CERT_FILE", str(named.ca))
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        yield World(ns, dns, web, imap, named.ca)
    finally:
        for server in reversed(started):
            server.stop()
        ns.delete()
