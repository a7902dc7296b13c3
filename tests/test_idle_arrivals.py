"""IDLE arrivals must be reported however the server announces them: in the answer to the
liveness check's DONE (Courier polls and reports new mail when IDLE ends), or after another
client expunged a message (the count went down first)."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.cliutil import write_config
from tests.servers.dovecot import Dovecot
from tests.test_incremental import put
from watcher import config as config_mod
from watcher.idle import FolderIdler
from watcher.mail import ImapSession
from watcher.mail import session as session_mod


class SilentThenExistsOnDone:
    """A fake IMAPClient: IDLE is silent; the DONE of the first liveness probe is answered
    with ``* 6 EXISTS`` (mail that arrived while the probe was on its way, or that a server
    such as Dovecot without inotify only reports when IDLE ends)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.dones = 0

    def socket(self) -> socket.socket:
        return self.sock

    def capabilities(self) -> tuple[bytes, ...]:
        return (b"IDLE",)

    def idle(self) -> None:
        pass

    def idle_check(self, timeout: float | None = None) -> list[Any]:
        time.sleep(timeout or 0)
        return []

    def idle_done(self) -> tuple[bytes, list[Any]]:
        self.dones += 1
        return b"Idle completed", ([(6, b"EXISTS")] if self.dones == 1 else [])


def test_an_arrival_reported_in_the_answer_to_a_liveness_done_ends_the_wait(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(session_mod, "LIVENESS_SECONDS", 0.2)
    fake = SilentThenExistsOnDone()
    session = ImapSession(fake, config_mod.ImapConfig(host="h", username="u"))  # type: ignore[arg-type]
    session._exists = 5
    started = time.monotonic()
    changed = session.idle_wait(3.0, stay=True)  # FolderIdler passes RENEW_SECONDS (540 s)
    took = time.monotonic() - started
    assert session.arrivals == 1  # noted at the first probe (~0.2 s) …
    assert took < 1.0 and changed, (took, changed, fake.dones)  # … and reported at once


def test_a_mail_arriving_after_another_was_expunged_is_pushed(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    """The user deletes (or moves away) a mail on the phone, then the reset mail comes:
    ``* 1 EXPUNGE`` lowers the count without an EXISTS, so the next ``* 2 EXISTS`` is
    not above the count last announced (2) and is not taken for an arrival."""
    config = config_mod.load(write_config(tmp_path / "c.toml", dovecot))
    password = dovecot.password("jperez")
    put(dovecot, "u1", "t1")
    put(dovecot, "u2", "t2")
    pushes: list[bool] = []
    pushed = threading.Event()

    def on_change(folder: str, session: ImapSession | None) -> None:
        pushes.append(session is not None)
        if session is not None:
            pushed.set()

    idler = FolderIdler(
        "INBOX", lambda: ImapSession.open(config.imap, password), on_change, lambda e: None
    )
    idler.start()
    try:
        assert idler.connected.wait(10)
        time.sleep(0.5)  # IDLE running
        with dovecot.connect("jperez") as c:  # another client deletes UID 1
            c.select_folder("INBOX")
            c.delete_messages([1])
            c.expunge()
        time.sleep(1.0)
        put(dovecot, "u3", "t3")
        assert pushed.wait(10), pushes
    finally:
        idler.stop()
        idler.join(5)


def test_courier_reports_a_mail_in_the_answer_to_the_liveness_done(
    courier: Any, monkeypatch: Any
) -> None:
    """Courier as Debian ships it polls the mailbox every 60 s during IDLE and says nothing
    meanwhile, so our 75 s liveness DONE comes first: a mail that arrived since its last
    poll is announced in DONE's answer. (Liveness shortened to 5 s to keep the test short.)"""
    from tests import mailfactory as mf
    from tests.test_mail_layer import imap_config

    monkeypatch.setattr(session_mod, "LIVENESS_SECONDS", 5.0)
    imap = imap_config(courier, courier.port_ssl)
    session = ImapSession.open(imap, courier.password("jperez"))
    try:
        session.examine("INBOX")
        timer = threading.Timer(
            1.0,
            courier.append,
            args=(
                "jperez",
                "INBOX",
                mf.reset_mail("u1", mf.reset_url("t1"), date=datetime.now(UTC)),
            ),
        )
        timer.start()
        started = time.monotonic()
        changed = session.idle_wait(40.0, stay=True)
        took = time.monotonic() - started
        timer.join()
    finally:
        session.close()
    assert session.arrivals == 1
    assert changed and took < 15, (changed, took, session.probes)
