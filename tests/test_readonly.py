"""The watcher only reads: every command it sends to a real server is recorded and checked."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests import mailfactory as mf
from tests.cliutil import write_config
from tests.servers.dovecot import Dovecot
from watcher import config as config_mod
from watcher.check import run_check
from watcher.mail import ImapSession

WRITE_COMMANDS = {
    "SELECT",
    "STORE",
    "COPY",
    "MOVE",
    "EXPUNGE",
    "APPEND",
    "DELETE",
    "CREATE",
    "RENAME",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "SETMETADATA",
}


def test_only_examine_and_body_peek_are_sent(dovecot: Dovecot, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    for i, folder in enumerate(["INBOX", "Spam"]):
        raw = mf.reset_mail(f"user{i}", mf.reset_url(f"t{i}"), date=now - timedelta(minutes=i))
        dovecot.append("jperez", folder, raw, date=now - timedelta(minutes=i))
    config = config_mod.load(write_config(tmp_path / "c.toml", dovecot))
    sent: list[bytes] = []

    def connect() -> ImapSession:
        session = ImapSession.open(config.imap, dovecot.password("jperez"))
        imap = session.client._imap
        original = imap.send

        def recording_send(data: bytes) -> None:
            sent.append(bytes(data))
            original(data)

        imap.send = recording_send
        return session

    report = run_check(config, connect, now=now)
    assert len(report.current) == 2
    commands = [line.split(b" ")[1:3] for line in b"".join(sent).split(b"\r\n") if line]
    verbs = [(c[1] if c[0].upper() == b"UID" else c[0]).decode().upper() for c in commands if c]
    examined = {
        c[2]
        for c in (line.split(b" ", 2) for line in b"".join(sent).split(b"\r\n"))
        if len(c) == 3 and c[1].upper() == b"EXAMINE"
    }
    assert examined == {b'"INBOX"', b'"Spam"'}  # both folders, and only read-only
    assert not WRITE_COMMANDS & set(verbs), verbs
    fetches = [line for line in b"".join(sent).split(b"\r\n") if b" FETCH " in line.upper()]
    assert fetches
    for line in fetches:
        assert re.search(rb"BODY\.PEEK\[", line), line
        assert not re.search(rb"BODY\[|RFC822[ )]|RFC822\.TEXT", line), line
