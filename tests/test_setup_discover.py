"""watcher.discover: how setup finds an address's server (Thunderbird's ways).

The look-ups run in the installed environment inside the tests' network namespace, against
the tests' own DNS and web servers (tests/servers/dnsworld.py); the file format and the MX
table are checked directly."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.servers.autoconfig import client_config
from tests.servers.dnsworld import World, world
from watcher import discover, providers

__all__ = ["world"]

FIND = (
    "import json, sys, dataclasses, watcher.discover as d\n"
    "found = d.discover(sys.argv[1])\n"
    "print(json.dumps(found and {k: v for k, v in dataclasses.asdict(found).items()"
    " if k != 'provider'}))\n"
)


def find(w: World, address: str) -> dict[str, object] | None:
    done = subprocess.run(
        w.command(sys.executable, "-c", FIND, address),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] | None = json.loads(done.stdout)
    return result


@pytest.mark.dovecot
def test_plain_http_autoconfig_is_taken_only_for_the_domains_own_server(world: World) -> None:
    """http://autoconfig.<domain> is tried last; an answer naming a server outside the
    domain could have been altered on the way and is not used."""
    concejo = find(world, "jperez@concejo.gov.co")
    assert concejo is not None
    assert (concejo["host"], concejo["source"]) == ("imap.concejo.gov.co", "autoconfig")
    assert str(concejo["where"]).startswith("http://autoconfig.concejo.gov.co/")
    assert find(world, "jperez@personeria.gov.co") is None
    asked = [(r["scheme"], r["host"]) for r in world.web.requests]
    assert ("http", "autoconfig.personeria.gov.co") in asked  # it was asked, then refused


@pytest.mark.dovecot
def test_a_server_is_guessed_by_trying_it_without_signing_in(world: World) -> None:
    found = find(world, "jperez@contraloria.gov.co")
    assert found is not None
    assert (found["host"], found["port"], found["security"], found["source"]) == (
        "mail.contraloria.gov.co",
        993,
        "ssl",
        "guess",
    )
    assert ("imap.contraloria.gov.co", "A") in world.dns.asked  # imap.<domain> first


@pytest.mark.dovecot
def test_nothing_found_answers_none_quickly(world: World) -> None:
    import time

    started = time.monotonic()
    assert find(world, "jperez@hospital.gov.co") is None
    assert time.monotonic() - started < 15
    assert ("hospital.gov.co", "MX") in world.dns.asked


def test_the_first_imap_server_with_tls_is_taken_and_placeholders_expanded() -> None:
    plain = (
        '<incomingServer type="imap"><hostname>plano.x.co</hostname><port>143</port>'
        "<socketType>plain</socketType></incomingServer>"
        '<incomingServer type="pop3"><hostname>pop.x.co</hostname><port>995</port>'
        "<socketType>SSL</socketType></incomingServer>"
    )
    body = client_config("imap.%EMAILDOMAIN%", 993, "SSL", "%EMAILLOCALPART%", before=plain)
    found = discover.parse_config(body.encode(), "ana@x.co", where="u")
    assert found == discover.Found("imap.x.co", 993, "ssl", "autoconfig", "u", None, "ana")
    starttls = client_config("imap.x.co", 143, "STARTTLS", "%EMAILADDRESS%").encode()
    found = discover.parse_config(starttls, "ana@x.co")
    assert found is not None and (found.security, found.port, found.username) == (
        "starttls",
        143,
        "ana@x.co",
    )


@pytest.mark.parametrize(
    "body",
    [
        client_config("imap.x.co", 993, "plain").encode(),  # never without TLS
        client_config("imap.x.co", 0, "SSL").encode(),
        client_config("imap.x.co", 99999, "SSL").encode(),
        client_config("not a host", 993, "SSL").encode(),
        b"<html>not found</html>",
        b"<clientConfig",
        # Usable but for an entity (expanded by expat: a "billion laughs" is the same form)
        # or the size: refused before parsing.
        b'<!DOCTYPE clientConfig [<!ENTITY h "imap.x.co">]>'
        + client_config("&h;", 993, "SSL").split("?>", 1)[1].encode(),
        client_config("imap.x.co", 993, "SSL").encode() + b" " * discover.MAX_XML_BYTES,
    ],
)
def test_unusable_files_are_ignored(body: bytes) -> None:
    assert discover.parse_config(body, "ana@x.co") is None


def test_a_known_providers_server_in_a_file_keeps_its_sign_in_rules() -> None:
    body = client_config("outlook.office365.com", 993, "SSL").encode()
    found = discover.parse_config(body, "ana@x.co")
    assert found is not None and found.provider is providers.MICROSOFT


@pytest.mark.parametrize(
    ("mx", "provider"),
    [
        ("entidad-gov-co.mail.protection.outlook.com", providers.MICROSOFT),
        ("entidad-gov-co.mail.protection.outlook.com.", providers.MICROSOFT),
        ("aspmx.l.google.com", providers.GMAIL),
        ("ALT2.ASPMX.L.GOOGLE.COM", providers.GMAIL),
        ("aspmx3.googlemail.com", providers.GMAIL),
        ("smtp.google.com", providers.GMAIL),
        ("mta5.am0.yahoodns.net", providers.YAHOO),
        ("mail.protection.outlook.com.evil.co", None),
        ("evilaspmx.l.google.com", None),
        ("mx.entidad.gov.co", None),
    ],
)
def test_mx_hosts_of_the_big_providers(mx: str, provider: providers.Provider | None) -> None:
    assert discover.provider_of_mx(mx) is provider


def test_the_urls_thunderbird_reads_in_its_order() -> None:
    assert discover.autoconfig_urls("ana@x.co", "x.co") == [
        "https://autoconfig.x.co/mail/config-v1.1.xml?emailaddress=ana%40x.co",
        "https://x.co/.well-known/autoconfig/mail/config-v1.1.xml",
        "http://autoconfig.x.co/mail/config-v1.1.xml",
    ]
