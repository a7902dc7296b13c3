"""Links are redacted in logs; imapclient's protocol log stays quiet."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

import pytest

from watcher import logsetup

LINK = "https://community.secop.gov.co/STS/Users/ResetPassword/Index?token=SEKRIT-TOKEN-123"


def test_redact_keeps_host_only() -> None:
    assert logsetup.redact(f"link {LINK} ok") == "link https://community.secop.gov.co/… ok"


def test_log_file_has_no_token_and_is_private(isolated_env: Path) -> None:
    path = logsetup.configure(2)
    assert path is not None
    logging.getLogger("watcher.test").warning("found %s", LINK)
    logging.getLogger("imapclient.imaplib").debug("> b'FETCH body %s'", LINK)
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text()
    assert "found https://community.secop.gov.co/…" in text
    assert "SEKRIT" not in text
    assert "FETCH" not in text
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_show_links_keeps_them(isolated_env: Path) -> None:
    path = logsetup.configure(1, show_links=True)
    assert path is not None
    logging.getLogger("watcher.test").warning("found %s", LINK)
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "SEKRIT-TOKEN-123" in path.read_text()


# --- Windows: a log file another process holds open cannot be renamed --------------------


def winerror_32(src: object, dst: object) -> None:
    """What ``os.rename`` does on Windows while another process has ``src`` open."""
    raise PermissionError(
        13,
        "The process cannot access the file because it is being used by another process",
        str(src),
        32,
        str(dst),
    )


def file_handler() -> logsetup.SharedRotatingFileHandler:
    found = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    assert len(found) == 1
    assert isinstance(found[0], logsetup.SharedRotatingFileHandler)
    return found[0]


def test_rotation_blocked_by_another_process_loses_nothing(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(logsetup, "MAX_BYTES", 2_000)
    path = logsetup.configure(0)
    assert path is not None
    handler = file_handler()
    now = [1000.0]
    monkeypatch.setattr(handler, "clock", lambda: now[0])
    real_rename = os.rename
    monkeypatch.setattr(os, "rename", winerror_32)
    log = logging.getLogger("watcher.test")
    for i in range(200):  # ~16 kB: eight times the limit
        log.warning("line %03d of the service", i)
    assert handler.failures == 1  # tried once, then writes on until the retry time
    text = path.read_text(encoding="utf-8")
    assert [f"line {i:03d}" in text for i in range(200)] == [True] * 200
    assert not path.with_name(path.name + ".1").exists()
    assert "Logging error" not in capsys.readouterr().err  # no traceback per line
    # The other process closed the file: the next try, later, rotates.
    monkeypatch.setattr(os, "rename", real_rename)
    now[0] += logsetup.RETRY_SECONDS + 1
    log.warning("after the other process let go")
    handler.flush()
    rotated = path.with_name(path.name + ".1").read_text(encoding="utf-8")
    assert "line 199" in rotated
    assert "after the other process let go" in path.read_text(encoding="utf-8")


def test_the_stock_handler_would_lose_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the subclass exists: RotatingFileHandler drops the record that hit the failure."""
    path = tmp_path / "x.log"
    stock = logging.handlers.RotatingFileHandler(path, maxBytes=50, backupCount=1)
    errors: list[logging.LogRecord] = []
    monkeypatch.setattr(stock, "handleError", errors.append)
    monkeypatch.setattr(os, "rename", winerror_32)
    for i in range(5):
        stock.emit(logging.makeLogRecord({"msg": f"record {i} " + "x" * 20}))
    stock.close()
    assert errors  # each rotation attempt lost its record
    assert "record 4" not in path.read_text(encoding="utf-8")


def test_service_and_commands_write_separate_files(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logsetup, "_log_file", logsetup.LOG_FILE)
    commands = logsetup.configure(0)
    logsetup.use_service_log()
    service = logsetup.configure(0)
    assert commands is not None and service is not None
    assert (commands.name, service.name) == ("secop-watcher.log", "secop-watcher-service.log")
    assert commands.parent == service.parent == isolated_env / "logs"


def test_no_console_no_stderr_handler(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pythonw: sys.stderr is None; configure neither crashes nor adds a dead handler, and
    the stand-in stream's lines reach the file (without looping back into itself)."""
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    assert logsetup.configure(0) is not None
    assert [type(h) for h in logging.getLogger().handlers] == [logsetup.SharedRotatingFileHandler]
    logsetup.windowless_streams()
    path = logsetup.configure(0)
    assert path is not None
    assert [type(h) for h in logging.getLogger().handlers] == [logsetup.SharedRotatingFileHandler]
    print("printed to nowhere\nsecond", file=sys.stdout)
    sys.stdout.flush()
    sys.stderr.write(f"Traceback: {LINK}\n")
    logging.lastResort.handle(logging.makeLogRecord({"msg": "last resort"}))  # no recursion
    file_handler().flush()
    text = path.read_text(encoding="utf-8")
    assert "watcher.output.stdout: printed to nowhere" in text
    assert "watcher.output.stdout: second" in text
    assert "Traceback: https://community.secop.gov.co/…" in text
    assert "SEKRIT" not in text


def test_failed_rotations_keep_every_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent shifts .1 -> .2 -> .3 before the rename that fails on Windows: each failed
    attempt would delete the oldest backup. Nothing may be shifted until the rename works."""
    path = tmp_path / "w.log"
    handler = logsetup.SharedRotatingFileHandler(path, maxBytes=10, backupCount=3)
    for n in (1, 2, 3):
        Path(f"{path}.{n}").write_text(f"backup {n}\n")
    monkeypatch.setattr(os, "rename", winerror_32)
    record = logging.LogRecord("w", logging.WARNING, "", 0, "x" * 40, None, None)
    for _ in range(3):
        handler.retry_at = 0.0
        handler.emit(record)
    handler.close()
    assert [Path(f"{path}.{n}").read_text() for n in (1, 2, 3)] == [
        "backup 1\n",
        "backup 2\n",
        "backup 3\n",
    ]
    assert handler.failures == 3
    assert path.read_text().count("x" * 40) == 3  # and no line lost
