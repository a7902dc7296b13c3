"""Logging: stderr plus a rotating file in the user log dir, with links redacted.

Reset links carry one-time tokens. Every record passes through
:class:`RedactLinks`, which keeps only ``scheme://host/…`` of any URL unless
``--show-links`` was given. imapclient's protocol log (which would contain
whole messages) is kept at WARNING whatever the verbosity, and so are the
OAuth2 libraries (:data:`QUIET`), whose DEBUG and INFO lines carry tokens,
authorization codes and the client secret.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
from pathlib import Path

from watcher import paths

URL = re.compile(r"(?i)\b((?:https?|ftp)://[^/\s<>\"'?#]+)[^\s<>\"']*")
LOG_FILE = "secop-watcher.log"


def redact(text: str) -> str:
    """``https://host/path?token=x`` → ``https://host/…``."""
    return URL.sub(lambda m: m.group(1) + "/…", text)


class RedactLinks(logging.Filter):
    def __init__(self, enabled: bool = True) -> None:
        super().__init__()
        self.enabled = enabled

    def filter(self, record: logging.LogRecord) -> bool:
        if self.enabled:
            record.msg = redact(record.getMessage())
            record.args = None
        return True


class ShortFormatter(logging.Formatter):
    """For the terminal: never a traceback (those go to the log file)."""

    def format(self, record: logging.LogRecord) -> str:
        plain = logging.makeLogRecord(record.__dict__)
        plain.exc_info = None
        plain.exc_text = None
        plain.stack_info = None
        return super().format(plain)


def configure(verbosity: int, *, show_links: bool = False, to_file: bool = True) -> Path | None:
    """Set up handlers; return the log file path (or None when it cannot be opened)."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    if verbosity < -1:
        level = logging.CRITICAL
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.DEBUG)
    redactor = RedactLinks(enabled=not show_links)
    stderr = logging.StreamHandler()
    stderr.setLevel(level)
    stderr.setFormatter(ShortFormatter("secop-watcher: %(levelname)s: %(message)s"))
    stderr.addFilter(redactor)
    root.addHandler(stderr)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    # APScheduler says "Running job …" / "… executed successfully" at INFO for every
    # poll tick: two lines a minute in the service's log, all day, telling nothing.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return _add_file_handler(root, redactor) if to_file else None


# requests-oauthlib logs token requests and answers at DEBUG; google-auth-oauthlib's
# loopback server logs the redirect (with the authorization code) at INFO; urllib3
# logs request lines; msal and google-auth are quiet today, and kept so.
QUIET = (
    "imapclient",
    "requests_oauthlib",
    "oauthlib",
    "google_auth_oauthlib",
    "google",
    "msal",
    "urllib3",
)


def _add_file_handler(root: logging.Logger, redactor: logging.Filter) -> Path | None:
    try:
        folder = paths.ensure_private_dir(paths.log_dir())
        path = folder / LOG_FILE
        if not path.exists():
            path.touch(mode=0o600)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        return None
    if os.name == "posix":
        path.chmod(0o600)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root.addHandler(handler)
    return path
