"""Incremental checks against a real Dovecot: only UIDs above the cursor are fetched,
an unchanged folder costs no SEARCH and no FETCH, a UIDVALIDITY change rescans."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests import mailfactory as mf
from tests.cliutil import write_config
from tests.servers.dovecot import Dovecot
from tests.test_announcer import Recorder
from watcher import config as config_mod
from watcher.check import scan_new, scan_new_many
from watcher.config import Config
from watcher.folders import Folder
from watcher.idle import FolderIdler
from watcher.mail import ImapSession
from watcher.service import Service
from watcher.state import Cursor, StateStore


class Spy:
    """A real session whose sent commands are recorded (TLS hides them from a proxy)."""

    def __init__(self, config: Config, password: str) -> None:
        self.session = ImapSession.open(config.imap, password)
        self.sent: list[bytes] = []
        imap = self.session.client._imap
        original = imap.send

        def send(data: bytes) -> None:
            self.sent.append(bytes(data))
            original(data)

        imap.send = send

    def verbs(self) -> list[str]:
        lines = b"".join(self.sent).split(b"\r\n")
        words = [line.split(b" ") for line in lines if line.count(b" ") >= 1]
        return [
            (w[2] if w[1].upper() == b"UID" and len(w) > 2 else w[1]).decode().upper()
            for w in words
        ]


@pytest.fixture
def setup(dovecot: Dovecot, tmp_path: Path) -> Iterator[tuple[Dovecot, Config, Spy]]:
    config = config_mod.load(write_config(tmp_path / "c.toml", dovecot))
    spy = Spy(config, dovecot.password("jperez"))
    yield dovecot, config, spy
    spy.session.close()


def put(server: Dovecot, user: str, token: str, folder: str = "INBOX") -> None:
    now = datetime.now(UTC)
    server.append("jperez", folder, mf.reset_mail(user, mf.reset_url(token), date=now), date=now)


def test_only_new_uids_are_fetched(setup: tuple[Dovecot, Config, Spy]) -> None:
    server, config, spy = setup
    inbox = Folder("INBOX", False, "inbox")
    now = datetime.now(UTC)
    for i in range(3):
        put(server, f"u{i}", f"t{i}")
    found, cursor, _ = scan_new(spy.session, inbox, None, config, now)
    assert len(found) == 3
    assert cursor.highest_uid == 3

    spy.sent.clear()
    found, same, _ = scan_new(spy.session, inbox, cursor, config, now)
    assert found == [] and same == cursor
    # nothing new: one write (EXAMINE, SEARCH from UID 4, FETCH $ of an empty result)
    assert len(spy.sent) == 1 and spy.verbs() == ["EXAMINE", "SEARCH", "FETCH"]

    put(server, "u9", "t9")
    spy.sent.clear()
    found, newer, _ = scan_new(spy.session, inbox, cursor, config, now)
    assert [f.verdict.username for f in found] == ["u9"]
    assert newer.highest_uid == 4
    fetch = [line for line in b"".join(spy.sent).split(b"\r\n") if b"FETCH" in line]
    # Header fields and structure of what the search saved (only UIDs from 4 on),
    # then the HTML part of the new UID only.
    search = [line for line in b"".join(spy.sent).split(b"\r\n") if b"SEARCH" in line]
    assert len(search) == 1 and b"SEARCH RETURN (SAVE) UID 4:4294967295 " in search[0], search
    assert len(fetch) == 2, fetch
    assert b"FETCH $ (" in fetch[0] and b"BODYSTRUCTURE" in fetch[0]
    assert b" FETCH 4 (" in fetch[1] and b"BODY.PEEK[2]" in fetch[1]


def test_uidvalidity_change_rescans(setup: tuple[Dovecot, Config, Spy]) -> None:
    server, config, spy = setup
    inbox = Folder("INBOX", False, "inbox")
    put(server, "u1", "t1")
    put(server, "u2", "t2")
    stale = Cursor(uidvalidity=12345, highest_uid=99)  # from before the folder was rebuilt
    found, cursor, _ = scan_new(spy.session, inbox, stale, config, datetime.now(UTC))
    assert sorted(f.verdict.username or "" for f in found) == ["u1", "u2"]
    assert cursor.uidvalidity != 12345 and cursor.highest_uid == 2


def test_resume_from_suspend_reconnects_idle_and_checks(
    dovecot: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = config_mod.load(write_config(tmp_path / "c.toml", dovecot))
    password = dovecot.password("jperez")
    service = Service(
        config,
        lambda: ImapSession.open(config.imap, password),
        Recorder(),
        lang="es",
        store=StateStore(tmp_path / "state.json"),
    )
    service.check_once()
    idlers: dict[str, Any] = service.idle.idlers
    assert set(idlers) == {"INBOX", "Spam"}
    for idler in idlers.values():
        assert idler.connected.wait(10)
    ready = caplog.text.count("IDLE connection ready")
    # The machine slept for two minutes: the wall clock moved, the monotonic one did not.
    service._last_tick = (time.time() - 120, time.monotonic())
    service._tick()
    assert service._wanted.is_set()
    deadline = time.monotonic() + 10
    while caplog.text.count("IDLE connection ready") < ready + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert caplog.text.count("IDLE connection ready") == ready + 2
    assert "the clock jumped" in caplog.text
    for idler in idlers.values():
        idler.stop()
        idler.join(5)
    assert all(not i.is_alive() for i in idlers.values())


def test_recheck_finds_a_mail_the_first_search_missed(setup: tuple[Dovecot, Config, Spy]) -> None:
    """A lagging search index: the cursor already covers a UID that never matched."""
    server, config, spy = setup
    inbox = Folder("INBOX", False, "inbox")
    now = datetime.now(UTC)
    put(server, "u1", "late")
    validity = int(spy.session.examine("INBOX")[b"UIDVALIDITY"])
    counted = Cursor(uidvalidity=validity, highest_uid=1)  # UID 1 counted, not matched
    found, _, _ = scan_new(spy.session, inbox, counted, config, now)
    assert found == []  # the incremental check alone never looks back
    found, cursor, _ = scan_new(spy.session, inbox, counted, config, now, recheck=20)
    assert [f.verdict.username for f in found] == ["u1"]
    assert cursor.highest_uid == 1


def test_keepalives_do_not_end_idle(dovecot_factory: Any, tmp_path: Path) -> None:
    """A server's ``* OK Still here`` costs one wake-up, not a DONE, NOOP and new IDLE."""
    server = dovecot_factory(idle_notify_seconds=1)
    config = config_mod.load(write_config(tmp_path / "c.toml", server))
    spy = Spy(config, server.password("jperez"))
    spy.session.examine("INBOX")
    imap = spy.session.client._imap
    heard: list[bytes] = []
    get_line = imap._get_line

    def counting_get_line() -> bytes:
        line: bytes = get_line()
        heard.append(line)
        return line

    imap._get_line = counting_get_line
    spy.sent.clear()
    try:
        assert spy.session.idle_wait(3.5) is False
    finally:
        spy.session.close()
    keepalives = [line for line in heard if line.startswith(b"* OK")]
    assert len(keepalives) >= 2, heard  # several reminders while idling …
    assert spy.verbs().count("IDLE") == 1  # … within one IDLE
    assert b"DONE\r\n" in spy.sent and "NOOP" not in spy.verbs()


def test_a_push_is_looked_at_on_the_idle_connection_in_one_write(
    setup: tuple[Dovecot, Config, Spy],
) -> None:
    """IDLE left running after a change: DONE, the search and the new mail go out together,
    with no EXAMINE (the folder is open and current on that connection): one round trip."""
    server, config, spy = setup
    inbox = Folder("INBOX", False, "inbox")
    put(server, "u1", "t1")
    validity = int(spy.session.examine("INBOX")[b"UIDVALIDITY"])
    cursor = Cursor(validity, 1)
    arrival = threading.Timer(0.5, put, args=(server, "u2", "t2"))  # while IDLE runs
    arrival.start()
    assert spy.session.idle_wait(10, stay=True) is True
    arrival.join()
    spy.sent.clear()
    found, moved, _ = scan_new_many(
        spy.session, [inbox], {"INBOX": cursor}, config, datetime.now(UTC), examine=False
    )
    assert [f.verdict.username for f in found] == ["u2"]
    assert moved["INBOX"] == Cursor(validity, 2)
    first_write = spy.sent[0]
    assert first_write.startswith(b"DONE\r\n") and b"UID SEARCH RETURN (SAVE) UID 2:" in first_write
    assert "EXAMINE" not in spy.verbs()
    # The new mail (a few KB) came whole with its envelope: no second round trip for its text.
    assert len(spy.sent) == 1 and b"BODY.PEEK[]<0.65536>" in first_write


def test_mail_arriving_while_a_push_is_looked_at_is_looked_at_too(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    """The server reports a new mail once, on whatever command runs then (here the NOOP
    after the look): the idler must not take that for a mere health check."""
    config = config_mod.load(write_config(tmp_path / "c.toml", dovecot))
    password = dovecot.password("jperez")
    calls: list[bool] = []
    second = threading.Event()

    def on_change(folder: str, session: ImapSession | None) -> None:
        calls.append(session is not None)
        if session is None:
            return
        if len(calls) == 2:  # the first push: another mail comes while we look
            put(dovecot, "u2", "t2")
        else:
            second.set()

    idler = FolderIdler(
        "INBOX", lambda: ImapSession.open(config.imap, password), on_change, lambda e: None
    )
    idler.start()
    try:
        assert idler.connected.wait(10)
        put(dovecot, "u1", "t1")
        assert second.wait(10), calls
    finally:
        idler.stop()
        idler.join(5)
    assert calls[:3] == [False, True, True]  # the look after connecting, then both mails


def test_only_a_growing_message_count_is_an_arrival() -> None:
    """Servers may repeat EXISTS (on every NOOP) or lower it after an expunge: not news.
    Counting those would make the IDLE thread look again and again."""
    session = ImapSession(client=None, imap=config_mod.ImapConfig(host="h", username="u"))
    seen = []
    for count, examined in [(5, True), (6, False), (6, False), (4, False), (5, False), (9, True)]:
        session._note_exists(count, examined=examined)
        seen.append(session.arrivals)
    assert seen == [0, 1, 1, 1, 2, 2]


def test_without_searchres_every_path_still_works(dovecot_factory: Any, tmp_path: Path) -> None:
    """Gmail and Microsoft 365 do not offer SEARCHRES: searches and fetches then go out as
    two writes for all folders (check-now), and a push on the IDLE connection needs no
    EXAMINE either. Dovecot here just does not advertise it."""
    server = dovecot_factory(searchres=False)
    config = config_mod.load(write_config(tmp_path / "c.toml", server))
    put(server, "u1", "t1")
    put(server, "u2", "t2", folder="Spam")
    spy = Spy(config, server.password("jperez"))
    assert "SEARCHRES" not in spy.session.capabilities()
    inbox, spam = Folder("INBOX", False, "inbox"), Folder("Spam", True, "special-use")
    found, cursors, _ = scan_new_many(
        spy.session, [spam, inbox], {"INBOX": None, "Spam": None}, config, datetime.now(UTC)
    )
    assert sorted(f.verdict.username or "" for f in found) == ["u1", "u2"]
    writes = [w for w in spy.sent if b"SEARCH" in w or b"FETCH" in w]
    assert b"RETURN (SAVE)" not in b"".join(spy.sent)
    assert len(writes) == 3, writes  # searches, envelopes, text parts: one write each
    # A push: INBOX is the selected folder (examined last), searched as it is.
    arrival = threading.Timer(0.5, put, args=(server, "u3", "t3"))
    arrival.start()
    assert spy.session.idle_wait(10, stay=True) is True
    arrival.join()
    spy.sent.clear()
    found, _, _ = scan_new_many(
        spy.session, [inbox], {"INBOX": cursors["INBOX"]}, config, datetime.now(UTC), examine=False
    )
    assert [f.verdict.username for f in found] == ["u3"]
    assert spy.sent[0].startswith(b"DONE\r\n") and "EXAMINE" not in spy.verbs()
    spy.session.close()
