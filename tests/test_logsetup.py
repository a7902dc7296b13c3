"""Links are redacted in logs; imapclient's protocol log stays quiet."""

from __future__ import annotations

import logging
from pathlib import Path

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
