"""``-vvv``: the IMAP protocol trace, with no secret in it (issue 12).

Every command and answer line goes to stderr and the log file; LOGIN's password is
never there, and links are cut even with ``--show-links``.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import mailfactory as mf
from tests.cliutil import run, write_config
from tests.servers.dovecot import Dovecot
from watcher import logsetup, paths

pytestmark = pytest.mark.dovecot

COMMANDS = ("LOGIN", "CAPABILITY", "LIST", "EXAMINE", "UID SEARCH", "UID FETCH")


def trace_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.search(r"DEBUG.*[<>] ", line)]


def test_vvv_traces_every_command_and_answer_without_the_password(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    token = "Tk7Secret-one-time-0123456789"
    dovecot.append(
        "jperez",
        "INBOX",
        mf.reset_mail("ana", mf.reset_url(token), date=datetime.now(UTC) - timedelta(minutes=3)),
    )
    password = dovecot.password("jperez")
    config = write_config(tmp_path / "c.toml", dovecot)
    done = run(
        "-vvv", "--config", str(config), "check-now",
        env={"SECOP_WATCHER_PASSWORD": password},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert token in done.stdout  # the link itself is printed for the user, on stdout only
    log_text = (paths.log_dir() / logsetup.LOG_FILE).read_text(encoding="utf-8")
    for where in (done.stderr, log_text):
        lines = trace_lines(where)
        sent = [line for line in lines if "> " in line]
        for command in COMMANDS:
            assert any(command in line for line in sent), (command, sent)
        assert any("< " in line and " OK " in line for line in lines)
        assert password not in where
        assert token not in where
        login = [line for line in sent if "LOGIN" in line]
        assert login and all("**REDACTED**" in line for line in login)
        assert "jperez" not in " ".join(login)


def test_without_vvv_there_is_no_protocol_line(dovecot: Dovecot, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", dovecot)
    done = run(
        "-vv", "--config", str(config), "check-now",
        env={"SECOP_WATCHER_PASSWORD": dovecot.password("jperez")},
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    assert trace_lines(done.stderr) == []
    assert "DEBUG" in done.stderr  # -vv is debug, only without the protocol


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('> b\'AB01 LOGIN "ana" "s3cr3t"\'', "> b'AB01 LOGIN **REDACTED**"),
        ("> b'AB02 AUTHENTICATE XOAUTH2 dXNlcj1h'", "> b'AB02 AUTHENTICATE **REDACTED**"),
        ('> b\'AB03 login "ana" "pw"\'', "> b'AB03 login **REDACTED**"),
        (
            "< b'* 1 FETCH (BODY[1] \"https://community.secop.gov.co/x?token=abc\")'",
            "< b'* 1 FETCH (BODY[1] \"https://community.secop.gov.co/…",
        ),
        # A server may echo what it refused: cut there too (and "OK LOGIN" loses nothing).
        ('< b\'AB04 BAD LOGIN "ana" "s3cr3t" not now\'', "< b'AB04 BAD LOGIN **REDACTED**"),
        ("< b'AB01 OK LOGIN completed'", "< b'AB01 OK LOGIN **REDACTED**"),
    ],
)
def test_the_protocol_filter_cuts_secrets(line: str, expected: str) -> None:
    record = logging.LogRecord(logsetup.PROTOCOL, logging.DEBUG, __file__, 1, line, None, None)
    assert logsetup.RedactProtocol().filter(record)
    assert record.getMessage().startswith(expected)
    assert "s3cr3t" not in record.getMessage() and "token=abc" not in record.getMessage()


@pytest.mark.parametrize(
    "line",
    [
        "untagged_responses[FETCH] 0 += [\"(b'1 (BODY[1] {40}', b'https://x.example/?t=a')\"]",
        "\tmatched b'(?P<tag>AB\\d+) (?P<type>[A-Z]+) (?P<data>.*)'",
    ],
)
def test_other_imaplib_debug_lines_are_dropped(line: str) -> None:
    """They would quote literals: whole headers and bodies."""
    record = logging.LogRecord(logsetup.PROTOCOL, logging.DEBUG, __file__, 1, line, None, None)
    assert not logsetup.RedactProtocol().filter(record)
