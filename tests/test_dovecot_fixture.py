"""The throwaway Dovecot server behaves like the real thing the tests rely on."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests.servers.dovecot import NON_ASCII_FOLDER, Dovecot, _alive, _descendants

pytestmark = pytest.mark.dovecot

SPECIAL_USE = {
    b"\\all",
    b"\\archive",
    b"\\drafts",
    b"\\flagged",
    b"\\junk",
    b"\\sent",
    b"\\trash",
    b"\\important",
}


def _mail(subject: str, body: str = "hola") -> bytes:
    return (
        f"From: Registro SECOP II <registro@secop.gov.co>\r\n"
        f"To: jperez@example.org\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@test>\r\n"
        f"\r\n{body}\r\n"
    ).encode()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _aware(value: datetime) -> datetime:
    """imapclient normalises INTERNALDATE to naive local time."""
    return value if value.tzinfo else value.astimezone()


def _greeting(host: str, port: int) -> bytes:
    with socket.create_connection((host, port), timeout=5) as s:
        return s.recv(4096)


def _flags_by_name(server: Dovecot, user: str = "jperez") -> dict[str, set[bytes]]:
    return {name: {f.lower() for f in flags} for flags, name in server.list_folders(user)}


# ------------------------------------------------------------------- layouts
def test_special_use_layout_marks_spam_as_junk(dovecot: Dovecot) -> None:
    folders = _flags_by_name(dovecot)
    assert set(folders) == {"INBOX", "Spam", "Sent", "Trash"}
    assert b"\\junk" in folders["Spam"]
    assert b"\\sent" in folders["Sent"]
    assert b"\\trash" in folders["Trash"]
    junk = [name for name, flags in folders.items() if b"\\junk" in flags]
    assert junk == ["Spam"]
    assert not folders["INBOX"] & SPECIAL_USE


def test_names_layout_has_no_special_use_at_all(dovecot_names: Dovecot) -> None:
    folders = _flags_by_name(dovecot_names)
    assert {"INBOX", "Correo no deseado", "[Gmail]/Spam", "Archivo", NON_ASCII_FOLDER} <= set(
        folders
    )
    for name, flags in folders.items():
        assert not flags & SPECIAL_USE, (name, flags)


def test_non_ascii_folder_round_trips_as_modified_utf7(dovecot_names: Dovecot) -> None:
    with dovecot_names.connect("jperez") as c:
        c.folder_encode = False  # see the names exactly as they travel
        raw_names = {name for _flags, _sep, name in c.list_folders()}
        assert b"Informaci&APM-n" in raw_names
        assert b"Correo no deseado" in raw_names
        c.folder_encode = True
        c.create_folder("Señales/Contraseñas")
        c.folder_encode = False
        assert b"Se&APE-ales/Contrase&APE-as" in {n for _f, _s, n in c.list_folders()}
    uid = dovecot_names.append("jperez", NON_ASCII_FOLDER, _mail("utf7"))
    snap = dovecot_names.snapshot("jperez")
    assert snap[NON_ASCII_FOLDER] == [(uid, (), _sha(_mail("utf7")))]
    assert snap["Señales/Contraseñas"] == []
    # On disk (LAYOUT=fs) the folder directory carries the mUTF-7 name too.
    assert dovecot_names.folder_path("jperez", NON_ASCII_FOLDER).name == "Informaci&APM-n"


def test_extra_folders(dovecot_factory: Callable[..., Dovecot]) -> None:
    server = dovecot_factory(spam_layout="names", extra_folders=["Correo electrónico no deseado"])
    folders = _flags_by_name(server)
    assert "Correo electrónico no deseado" in folders
    assert not folders["Correo electrónico no deseado"] & SPECIAL_USE


# --------------------------------------------------------------- append/snap
def test_append_then_snapshot(dovecot: Dovecot) -> None:
    raw = _mail("Restablecer contraseña")
    date = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    uid = dovecot.append("jperez", "Spam", raw, flags=[b"\\Seen", b"\\Flagged"], date=date)
    uid2 = dovecot.append("jperez", "Spam", _mail("second"))
    assert uid2 == uid + 1
    snap = dovecot.snapshot("jperez")
    assert snap == {
        "INBOX": [],
        "Spam": [(uid, (b"\\Flagged", b"\\Seen"), _sha(raw)), (uid2, (), _sha(_mail("second")))],
        "Sent": [],
        "Trash": [],
    }
    assert dovecot.snapshot("other") == {"INBOX": [], "Spam": [], "Sent": [], "Trash": []}
    with dovecot.connect("jperez") as c:
        c.select_folder("Spam", readonly=True)
        internal = c.fetch([uid], ["INTERNALDATE"])[uid][b"INTERNALDATE"]
    assert _aware(internal) == date


def test_snapshots_change_nothing(dovecot: Dovecot) -> None:
    # Unflagged APPEND lands in new/, so a read-write SELECT would move it to cur/.
    dovecot.append("jperez", "INBOX", _mail("unseen"))
    dovecot.append("jperez", "Spam", _mail("seen"), flags=[b"\\Seen"])
    files = dovecot.maildir_snapshot("jperez")
    assert len(files) == 2
    assert any(k.startswith("new/") for k in files)
    assert any(k.startswith("Spam/cur/") and k.endswith(":2,S") for k in files)
    first = dovecot.snapshot("jperez")
    assert dovecot.snapshot("jperez") == first
    assert dovecot.maildir_snapshot("jperez") == files
    # \Recent is never part of a snapshot.
    assert all(b"\\Recent" not in flags for rows in first.values() for _u, flags, _h in rows)


def test_maildir_snapshot_sees_flag_changes(dovecot: Dovecot) -> None:
    uid = dovecot.append("jperez", "INBOX", _mail("flag me"))
    before = dovecot.maildir_snapshot("jperez")
    with dovecot.connect("jperez") as c:
        c.select_folder("INBOX")
        c.add_flags([uid], [b"\\Seen"])
    after = dovecot.maildir_snapshot("jperez")
    assert before != after
    assert sorted(before.values()) == sorted(after.values())  # same contents, new name
    assert dovecot.snapshot("jperez")["INBOX"] == [(uid, (b"\\Seen",), _sha(_mail("flag me")))]


# ----------------------------------------------------------------------- TLS
def test_tls_port_certificate_verifies_only_with_the_test_ca(dovecot: Dovecot) -> None:
    assert dovecot.port_ssl is not None
    good = ssl.create_default_context(cafile=str(dovecot.ca_file))
    for name in ("127.0.0.1", "localhost"):
        with (
            socket.create_connection((dovecot.host, dovecot.port_ssl), timeout=5) as raw,
            good.wrap_socket(raw, server_hostname=name) as tls,
        ):
            assert tls.recv(4096).startswith(b"* OK")
            assert ("DNS", "localhost") in tls.getpeercert()["subjectAltName"]
    system_only = ssl.create_default_context()
    with (
        socket.create_connection((dovecot.host, dovecot.port_ssl), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        system_only.wrap_socket(raw, server_hostname="127.0.0.1")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("selfsigned", "self-signed certificate"),
        ("wronghost", "IP address mismatch"),
        ("expired", "certificate has expired"),
    ],
)
def test_bad_certificates_fail_verification(
    dovecot_factory: Callable[..., Dovecot], kind: str, reason: str
) -> None:
    server = dovecot_factory(cert=kind)
    assert server.port_ssl is not None
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    with (
        socket.create_connection((server.host, server.port_ssl), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError, match=reason),
    ):
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    # The helpers still work (they do not verify bad kinds).
    assert server.append("jperez", "INBOX", _mail("x")) == 1


def test_starttls_port_requires_starttls_before_login(dovecot: Dovecot) -> None:
    greeting = _greeting(dovecot.host, dovecot.port_starttls)
    assert b"STARTTLS" in greeting
    assert b"LOGINDISABLED" in greeting
    with socket.create_connection((dovecot.host, dovecot.port_starttls), timeout=5) as s:
        s.recv(4096)
        s.sendall(b"a1 LOGIN jperez " + dovecot.password("jperez").encode() + b"\r\n")
        time.sleep(0.2)
        reply = s.recv(4096)
    assert b"a1 NO" in reply
    assert b"a1 OK" not in reply

    c = IMAPClient(dovecot.host, dovecot.port_starttls, ssl=False, timeout=10)
    try:
        caps = c.capabilities()
        assert b"STARTTLS" in caps
        assert b"LOGINDISABLED" in caps
        with pytest.raises(LoginError):
            c.login("jperez", dovecot.password("jperez"))
        c.starttls(ssl.create_default_context(cafile=str(dovecot.ca_file)))
        c.login("jperez", dovecot.password("jperez"))
        assert c.select_folder("INBOX")[b"EXISTS"] == 0
        c.logout()
    finally:
        with contextlib.suppress(OSError):
            c.shutdown()


def test_no_tls_server_does_not_offer_starttls(dovecot_factory: Callable[..., Dovecot]) -> None:
    server = dovecot_factory(no_tls=True)
    assert server.port_ssl is None
    assert server.port_starttls == server.port_plain
    greeting = _greeting(server.host, server.port_starttls)
    assert greeting.startswith(b"* OK")
    assert b"STARTTLS" not in greeting
    assert b"LOGINDISABLED" not in greeting
    uid = server.append("jperez", "INBOX", _mail("plain"))
    assert server.snapshot("jperez")["INBOX"] == [(uid, (), _sha(_mail("plain")))]


# ---------------------------------------------------------------------- IDLE
def test_idle_is_advertised_by_default(dovecot: Dovecot) -> None:
    assert b" IDLE " in _greeting(dovecot.host, dovecot.port_starttls)
    with dovecot.connect("jperez") as c:
        assert b"IDLE" in c.capabilities()


def test_idle_can_be_removed_from_capability(dovecot_factory: Callable[..., Dovecot]) -> None:
    server = dovecot_factory(idle=False)
    assert b"IDLE" not in _greeting(server.host, server.port_starttls).split()
    with server.connect("jperez") as c:
        caps = c.capabilities()
        assert b"IDLE" not in caps
        assert {b"UIDPLUS", b"SPECIAL-USE", b"MOVE"} <= set(caps)
    assert server.append("jperez", "INBOX", _mail("x")) == 1


# ----------------------------------------------------------------- lifecycle
def test_stop_and_start_keep_ports_and_mail(dovecot: Dovecot) -> None:
    uid = dovecot.append("jperez", "Spam", _mail("keep me"), flags=[b"\\Seen"])
    before = dovecot.snapshot("jperez")
    files = dovecot.maildir_snapshot("jperez")
    ports = (dovecot.port_ssl, dovecot.port_starttls, dovecot.port_plain)

    with dovecot.connect("jperez") as idler:
        idler.select_folder("INBOX")
        idler.idle()
        dovecot.stop()
        assert not dovecot.running
        for port in ports:
            assert port is not None
            with pytest.raises(OSError):
                socket.create_connection((dovecot.host, port), timeout=2).close()
        # The idling client notices: BYE or a closed connection.
        try:
            responses = idler.idle_check(timeout=5)
        except Exception:
            responses = None
        assert responses is None or responses == [] or responses[0][0] == b"BYE"

        dovecot.start()
    assert (dovecot.port_ssl, dovecot.port_starttls, dovecot.port_plain) == ports
    assert dovecot.snapshot("jperez") == before
    assert before["Spam"][0][0] == uid
    assert dovecot.maildir_snapshot("jperez") == files
    assert dovecot.append("jperez", "Spam", _mail("after restart")) == uid + 1


def test_stop_leaves_no_process_behind(dovecot_factory: Callable[..., Dovecot]) -> None:
    server = dovecot_factory()
    with server.connect("jperez") as c:
        c.select_folder("INBOX")
        pid = server._pid
        assert pid is not None
        procs = {pid, *_descendants(pid)}
        assert len(procs) > 3  # master, log, config, anvil, auth, imap-login, imap...
        server.stop()
    assert not [p for p in procs if _alive(p)]


def test_start_failure_reports_the_log(
    tmp_path: Path, dovecot_factory: Callable[..., Dovecot]
) -> None:
    server = dovecot_factory(start=False)
    server.conf_path.write_text(server.conf_path.read_text() + "\nno_such_setting = 1\n")
    with pytest.raises(RuntimeError, match="Unknown setting: no_such_setting"):
        server.start()
    assert not server.running


# ------------------------------------------------------------------- maildir
def test_fill_maildir_two_thousand_messages_visible_to_search(dovecot: Dovecot) -> None:
    start = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
    messages = [
        (_mail(f"bulk {i}", f"cuerpo {i}"), start + timedelta(minutes=i)) for i in range(2000)
    ]
    t0 = time.monotonic()
    assert dovecot.fill_maildir("jperez", "INBOX", messages) == 2000
    assert time.monotonic() - t0 < 30
    assert dovecot.count("jperez", "INBOX") == 2000
    with dovecot.connect("jperez") as c:
        c.select_folder("INBOX", readonly=True)
        assert len(c.search(["ALL"])) == 2000
        assert len(c.search(["UNSEEN"])) == 2000
        assert len(c.search(["SUBJECT", "bulk 1999"])) == 1
        first = min(c.search(["ALL"]))
        data = c.fetch([first], ["INTERNALDATE", "BODY.PEEK[]"])[first]
    assert data[b"BODY[]"] == messages[0][0]
    assert _aware(data[b"INTERNALDATE"]) == start
    files = dovecot.maildir_snapshot("jperez")
    assert len(files) == 2000
    assert all(k.startswith("cur/") for k in files)


def test_fill_maildir_flags_and_non_ascii_folder(dovecot_names: Dovecot) -> None:
    when = datetime(2024, 5, 2, 9, 15, tzinfo=UTC)
    msgs = [(_mail(f"spam {i}"), when) for i in range(5)]
    assert dovecot_names.fill_maildir("jperez", NON_ASCII_FOLDER, msgs, flags=[b"\\Seen"]) == 5
    assert dovecot_names.fill_maildir("jperez", "[Gmail]/Spam", msgs[:2]) == 2
    snap = dovecot_names.snapshot("jperez")
    assert [flags for _u, flags, _h in snap[NON_ASCII_FOLDER]] == [(b"\\Seen",)] * 5
    assert [h for _u, _f, h in snap["[Gmail]/Spam"]] == [_sha(m) for m, _d in msgs[:2]]
