"""The throwaway Cyrus and Courier servers behave like the real things the tests rely on."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests.conftest import random_users, require_chroot_servers
from tests.servers import chroot as chroot_mod
from tests.servers.certs import Certs
from tests.servers.chroot import ChrootServer, ChrootSpec, cache_key
from tests.servers.dovecot import _alive

pytestmark = pytest.mark.imapserver

# server fixture → (spam folder, its special-use attribute or None)
LAYOUTS = {"cyrus": ("INBOX.Spam", b"\\junk"), "courier": ("INBOX.Spam", None)}
SPECIAL_USE = {b"\\all", b"\\archive", b"\\drafts", b"\\flagged", b"\\junk", b"\\sent", b"\\trash"}


@pytest.fixture(params=sorted(LAYOUTS))
def server(request: pytest.FixtureRequest) -> ChrootServer:
    value: ChrootServer = request.getfixturevalue(str(request.param))
    return value


def _mail(subject: str) -> bytes:
    return (
        "From: Registro SECOP II <registro@secop.gov.co>\r\n"
        "To: jperez@example.org\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@test>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Estimado (a) usuario (a). Haga clic aquí:\r\n"
        "https://community.secop.gov.co/STS/Users/ChangePassword?token=abc\r\n"
    ).encode()


def _greeting(server: ChrootServer) -> bytes:
    with socket.create_connection((server.host, server.port_starttls), timeout=5) as s:
        return s.recv(4096)


def _name(server: ChrootServer) -> str:
    return type(server).__name__.lower()


def test_implicit_tls_login_verifies_the_test_ca(server: ChrootServer) -> None:
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    with socket.create_connection((server.host, server.port_ssl), timeout=5) as raw:  # noqa: SIM117
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.getpeercert() is not None
            assert tls.recv(4096).startswith(b"* OK")
    c = IMAPClient(server.host, server.port_ssl, ssl=True, ssl_context=ctx, timeout=10)
    try:
        c.login("jperez", server.password("jperez"))
        assert c.select_folder("INBOX")[b"EXISTS"] == 0
        c.logout()
    finally:
        with contextlib.suppress(OSError):
            c.shutdown()


def test_implicit_tls_rejects_an_untrusted_ca(server: ChrootServer) -> None:
    ctx = ssl.create_default_context()  # the system CAs, not the test CA
    with (
        socket.create_connection((server.host, server.port_ssl), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def test_starttls_is_required_before_login(server: ChrootServer) -> None:
    greeting = _greeting(server)
    assert greeting.startswith(b"* OK")
    assert b"STARTTLS" in greeting
    assert b"LOGINDISABLED" in greeting
    c = IMAPClient(server.host, server.port_starttls, ssl=False, timeout=10)
    try:
        with pytest.raises(LoginError):
            c.login("jperez", server.password("jperez"))
        c.starttls(ssl.create_default_context(cafile=str(server.ca_file)))
        c.login("jperez", server.password("jperez"))
        assert c.select_folder("INBOX")[b"EXISTS"] == 0
        c.logout()
    finally:
        with contextlib.suppress(OSError):
            c.shutdown()


def test_list_shows_inbox_and_spam_with_the_expected_attributes(server: ChrootServer) -> None:
    spam, special = LAYOUTS[_name(server)]
    folders = {
        name: (sep, {f.lower() for f in flags})
        for flags, sep, name in server.list_folders("jperez")
    }
    assert set(folders) == {"INBOX", spam}
    assert {sep for sep, _flags in folders.values()} == {b"."}
    assert not folders["INBOX"][1] & SPECIAL_USE
    if special is None:
        assert not folders[spam][1] & SPECIAL_USE
    else:
        assert folders[spam][1] & SPECIAL_USE == {special}


def test_append_then_fetch_gives_the_mail_back_byte_for_byte(server: ChrootServer) -> None:
    spam, _special = LAYOUTS[_name(server)]
    raw = _mail("Restablecer contraseña")
    when = datetime(2024, 5, 2, 9, 15, tzinfo=UTC)
    first = server.append("jperez", "INBOX", raw, date=when)
    second = server.append("jperez", "INBOX", _mail("otro"), flags=[b"\\Seen"])
    in_spam = server.append("jperez", spam, raw)
    assert second > first >= 1
    assert in_spam >= 1
    with server.connect("jperez") as c:
        c.select_folder("INBOX", readonly=True)
        data = c.fetch([first, second], ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"])
        assert data[first][b"BODY[]"] == raw
        assert b"\\Seen" not in data[first][b"FLAGS"]
        assert b"\\Seen" in data[second][b"FLAGS"]
        got = data[first][b"INTERNALDATE"]
        assert (got if got.tzinfo else got.astimezone()) == when
        c.select_folder(spam, readonly=True)
        assert c.fetch([in_spam], ["BODY.PEEK[]"])[in_spam][b"BODY[]"] == raw
    # The other user sees none of it.
    with server.connect("other") as c:
        assert c.select_folder("INBOX", readonly=True)[b"EXISTS"] == 0


def test_examine_is_read_only(server: ChrootServer) -> None:
    """EXAMINE: FETCH BODY[] sets no \\Seen and \\Deleted is refused, on both servers.

    But Courier, unlike Cyrus, *accepts and keeps* ``STORE +FLAGS (\\Flagged)``
    (or \\Seen) in a folder opened with EXAMINE: only \\Deleted is refused
    ("Current box is selected READ-ONLY"). A read-only client must never STORE.
    """
    uid = server.append("jperez", "INBOX", _mail("no leer"))
    with server.connect("jperez") as c:
        info = c.select_folder("INBOX", readonly=True)
        assert b"READ-ONLY" in info
        c.fetch([uid], ["BODY[]"])  # not PEEK: would set \Seen if the folder were writable
        with pytest.raises(IMAPClient.Error, match=r"(?i)read.?only|permission|denied"):
            c.add_flags([uid], [b"\\Deleted"])
        try:
            c.add_flags([uid], [b"\\Flagged"])
            stored = True
        except IMAPClient.Error:
            stored = False
    assert stored == (_name(server) == "courier")
    with server.connect("jperez") as c:
        c.select_folder("INBOX", readonly=True)
        flags = set(c.fetch([uid], ["FLAGS"])[uid][b"FLAGS"])
    assert b"\\Seen" not in flags
    assert b"\\Deleted" not in flags
    assert (b"\\Flagged" in flags) == stored


def test_wrong_password_is_refused(server: ChrootServer) -> None:
    c = server.client(timeout=20)
    try:
        with pytest.raises(LoginError):
            c.login("jperez", server.password("jperez") + "x")
    finally:
        with contextlib.suppress(OSError):
            c.shutdown()
    c = server.client(timeout=20)
    try:
        with pytest.raises(LoginError):
            c.login("nobody", server.password("jperez"))
    finally:
        with contextlib.suppress(OSError):
            c.shutdown()


def test_idle_hears_of_a_new_mail(server: ChrootServer) -> None:
    """Cyrus (idled) pushes at once; Courier without enhanced IDLE polls within 60 s."""
    with server.connect("jperez") as idler:
        assert b"IDLE" in idler.capabilities()
        idler.select_folder("INBOX", readonly=True)
        idler.idle()
        started = time.monotonic()
        server.append("jperez", "INBOX", _mail("llega"))
        seen: list[object] = []
        limit = 5 if _name(server) == "cyrus" else 75
        while not any(b"EXISTS" in r for r in seen if isinstance(r, tuple)):
            assert time.monotonic() - started < limit, seen
            seen += idler.idle_check(timeout=1)
        idler.idle_done()


def test_stop_leaves_no_process_behind(server: ChrootServer) -> None:
    with server.connect("jperez") as c:
        c.select_folder("INBOX")
        pids = server._tracked()
        assert len(pids) >= 3
        server.stop()
    assert not [p for p in pids if _alive(p)]
    assert not server.running
    for port in (server.port_ssl, server.port_starttls):
        with pytest.raises(OSError):
            socket.create_connection((server.host, port), timeout=2).close()


def test_courier_enhanced_idle_pushes_at_once(certs: Certs) -> None:
    """``IMAP_ENHANCEDIDLE=1`` (FAM/gamin) turns Courier's 60 s IDLE poll into a push."""
    require_chroot_servers()
    from tests.servers import courier

    server = courier.Courier(courier.build(), random_users(), certs=certs, enhanced_idle=True)
    with server as s, s.connect("jperez") as idler:
        idler.select_folder("INBOX", readonly=True)
        idler.idle()
        started = time.monotonic()
        s.append("jperez", "INBOX", _mail("ya"))
        seen: list[object] = []
        while not any(b"EXISTS" in r for r in seen if isinstance(r, tuple)):
            assert time.monotonic() - started < 5, seen
            seen += idler.idle_check(timeout=1)
        idler.idle_done()


# --------------------------------------------------------------- the chroot cache
def _fake_build(calls: list[Path]) -> Callable[..., None]:
    def build(binary: str, spec: ChrootSpec, sources: object, target: Path, *rest: object) -> None:
        calls.append(target)
        (target / "etc").mkdir(parents=True)
        (target / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")

    return build


def test_cache_key_follows_the_inputs(tmp_path: Path) -> None:
    src = tmp_path / "debian.sources"
    src.write_text("Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n")
    spec = ChrootSpec("x", ("a", "b"))
    key = cache_key(spec, [src])
    assert key == cache_key(ChrootSpec("x", ("b", "a")), [src])  # order does not matter
    assert key != cache_key(ChrootSpec("x", ("a", "b", "c")), [src])
    assert key != cache_key(ChrootSpec("x", ("a", "b"), recipe="2"), [src])
    assert key != cache_key(ChrootSpec("x", ("a", "b"), suite="trixie"), [src])
    src.write_text(src.read_text() + "Components: main\n")
    assert key != cache_key(spec, [src])


def test_build_is_atomic_locked_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        pytest.skip("chroot.ensure needs root")
    calls: list[Path] = []
    monkeypatch.setattr(chroot_mod, "_build", _fake_build(calls))
    monkeypatch.setattr(chroot_mod, "mmdebstrap_binary", lambda: "/bin/true")
    spec = ChrootSpec("fake", ("pkg",), setup=(("true",),))
    monkeypatch.setattr(chroot_mod.Chroot, "run", lambda self, argv, **kw: None)
    first = chroot_mod.ensure(spec, cache=tmp_path)
    assert first.built_seconds is not None
    assert (first.root / chroot_mod.MARKER).is_file()
    assert calls[0].name.startswith(f".{first.root.name}.partial-")
    again = chroot_mod.ensure(spec, cache=tmp_path)
    assert (again.root, again.built_seconds, len(calls)) == (first.root, None, 1)

    # An interrupted build (partial dir, or a final dir without the marker) is never reused.
    (first.root / chroot_mod.MARKER).unlink()
    stale = tmp_path / f".{first.root.name}.partial-999999"
    stale.mkdir()
    rebuilt = chroot_mod.ensure(spec, cache=tmp_path)
    assert len(calls) == 2
    assert (rebuilt.root / chroot_mod.MARKER).is_file()
    assert not stale.exists()
    assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name] == []

    # A failing build leaves nothing behind and says why.
    def broken(*args: object) -> None:
        _fake_build(calls)(*args)
        raise chroot_mod.ChrootError("mmdebstrap failed (1): no network")

    monkeypatch.setattr(chroot_mod, "_build", broken)
    with pytest.raises(chroot_mod.ChrootError, match="no network"):
        chroot_mod.ensure(ChrootSpec("fake", ("other",)), cache=tmp_path)
    assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name] == []


def test_chroot_run_takes_argv_lists_only(cyrus: ChrootServer) -> None:
    with pytest.raises(TypeError):
        cyrus.chroot.run("echo hi")
    out = cyrus.chroot.run(["sh", "-c", 'echo "$0"', "a b;c"]).stdout
    assert out == b"a b;c\n"
    with pytest.raises(chroot_mod.ChrootError, match="exited with 3"):
        cyrus.chroot.run(["sh", "-c", "exit 3"])


def _pipelined_login(server: ChrootServer) -> bytes:
    """LOGIN, CAPABILITY and LIST in one write over TLS; what comes back within 3 s."""
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    password = server.password("jperez").encode()
    with (
        socket.create_connection((server.host, server.port_ssl), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.recv(4096)
        tls.sendall(b"a1 LOGIN jperez " + password + b'\r\na2 CAPABILITY\r\na3 LIST "" "*"\r\n')
        tls.settimeout(3)
        got = b""
        with contextlib.suppress(TimeoutError):
            while b"a3 " not in got and (data := tls.recv(65536)):
                got += data
    return got


def test_courier_loses_commands_pipelined_after_login(server: ChrootServer) -> None:
    """Courier's imaplogin hands the socket to imapd after LOGIN: bytes already sent
    after the LOGIN line are lost (no answer to a2/a3, ever). Cyrus answers all three."""
    got = _pipelined_login(server)
    assert b"a1 OK" in got
    if _name(server) == "courier":
        assert b"a2 " not in got
        assert b"a3 " not in got
    else:
        assert b"a2 OK" in got
        assert b"a3 OK" in got
