"""Logging: stderr plus a rotating file in the user log dir, with links redacted.

The login service writes its own file (``secop-watcher-service.log``, chosen by
:func:`use_service_log`), the commands ``secop-watcher.log``: on Windows a file
another process holds open cannot be renamed, so a shared file could never be
rotated. :class:`SharedRotatingFileHandler` keeps writing when the rename fails
all the same (two commands at once, a ``run`` started by hand). Without a
console (``pythonw``) ``sys.stdout``/``sys.stderr`` are None: the service
points them at the log (:func:`windowless_streams`).

Reset links carry one-time tokens. Every record passes through
:class:`RedactLinks`, which keeps only ``scheme://host/…`` of any URL unless
``--show-links`` was given. The OAuth2 libraries (:data:`QUIET`), whose
DEBUG and INFO lines carry tokens, authorization codes and the client
secret, are kept at WARNING whatever the verbosity.

``-vvv`` adds the IMAP protocol trace (:data:`PROTOCOL`, imapclient's
imaplib log): every command and answer line, to stderr and the log file, so
a help desk can see where a session stopped. Message bodies are literals and
never logged (only their size); LOGIN's and AUTHENTICATE's arguments are
replaced (:class:`RedactProtocol`, on top of imapclient's own redaction), and
links are cut even with ``--show-links``.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import re
import sys
import threading
import time
from pathlib import Path

from watcher import paths

URL = re.compile(r"(?i)\b((?:https?|ftp)://[^/\s<>\"'?#]+)[^\s<>\"']*")
LOG_FILE = "secop-watcher.log"
SERVICE_LOG_FILE = "secop-watcher-service.log"
MAX_BYTES = 1_000_000
RETRY_SECONDS = 300.0  # after a failed rotation, write on and try again this much later
_log_file = LOG_FILE


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


PROTOCOL = "imapclient.imaplib"  # imapclient's adapter around imaplib's own debug lines
TRACE_VERBOSITY = 3


class RedactProtocol(logging.Filter):
    """Only the lines sent and received, with no secret: LOGIN/AUTHENTICATE arguments
    and links cut. imaplib's other debug lines are dropped: ``untagged_responses …``
    would quote literals, i.e. whole message headers and bodies."""

    SECRET = re.compile(r"\b(LOGIN|AUTHENTICATE)\b.*", re.IGNORECASE | re.DOTALL)
    KEPT = ("> ", "< ", "read literal size", "write literal size")

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if not text.startswith(self.KEPT):
            return False
        # What we sent may carry the password or a token as arguments, and a server may echo
        # a command it refused (BAD): cut after the command's name both ways.
        text = self.SECRET.sub(lambda m: m.group(1) + " **REDACTED**", text)
        record.msg = redact(text)
        record.args = None
        return True


def configure(verbosity: int, *, show_links: bool = False, to_file: bool = True) -> Path | None:
    """Set up handlers; return the log file path (or None when it cannot be opened)."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    if verbosity < -1:
        level = logging.CRITICAL
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.DEBUG)
    redactor = RedactLinks(enabled=not show_links)
    if sys.stderr is not None and not isinstance(sys.stderr, LogStream):  # else: no console
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
    trace = verbosity >= TRACE_VERBOSITY
    protocol = logging.getLogger(PROTOCOL)
    for old in [f for f in protocol.filters if isinstance(f, RedactProtocol)]:
        protocol.removeFilter(old)
    protocol.setLevel(logging.DEBUG if trace else logging.WARNING)
    if trace:
        protocol.addFilter(RedactProtocol())
    if not to_file:
        return None
    return _add_file_handler(root, redactor, logging.DEBUG if trace else logging.INFO)


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


def _add_file_handler(root: logging.Logger, redactor: logging.Filter, level: int) -> Path | None:
    try:
        folder = paths.ensure_private_dir(paths.log_dir())
        path = folder / _log_file
        if not path.exists():
            path.touch(mode=0o600)
        handler = SharedRotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=3, encoding="utf-8"
        )
    except OSError:
        return None
    if os.name == "posix":
        path.chmod(0o600)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root.addHandler(handler)
    return path


def use_service_log() -> None:
    """From now on :func:`configure` writes the service's file, not the commands' one."""
    global _log_file
    _log_file = SERVICE_LOG_FILE


class SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Rotates like its parent; when the rename fails (Windows: ``PermissionError``,
    WinError 32, while another process has the file open) it reopens the same file,
    writes on and tries again :data:`RETRY_SECONDS` later. No line is lost, no
    traceback printed, nothing raised."""

    clock = staticmethod(time.monotonic)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.retry_at = 0.0
        self.failures = 0

    def shouldRollover(self, record: logging.LogRecord) -> int:
        if self.clock() < self.retry_at:
            return 0
        return int(super().shouldRollover(record))

    def doRollover(self) -> None:
        # Try the rename that fails on Windows first, with our own handle closed: the
        # parent shifts .1 -> .2 -> .3 before it, so each failed attempt would lose the
        # oldest backup.
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        probe = f"{self.baseFilename}.rotating"
        try:
            # os.rename, as the parent's rotate() uses: it fails the same way on Windows
            if os.path.exists(self.baseFilename):  # noqa: PTH110
                os.rename(self.baseFilename, probe)  # noqa: PTH104
                os.rename(probe, self.baseFilename)  # noqa: PTH104
            super().doRollover()
        except OSError:
            self.failures += 1
            self.retry_at = self.clock() + RETRY_SECONDS
            if self.stream is None:  # closed before the rename: reopen, append
                self.stream = self._open()


class LogStream(io.TextIOBase):
    """A stand-in for a missing ``sys.stdout``/``sys.stderr`` (``pythonw``): each line
    written becomes a log record of ``watcher.output``, so a message or traceback
    printed there ends up in the log file instead of nowhere (or a crash)."""

    def __init__(self, name: str, level: int) -> None:
        super().__init__()
        self.logger = logging.getLogger(f"watcher.output.{name}")
        self.level = level
        self._buffer = ""
        self._busy = threading.local()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if getattr(self._busy, "on", False):  # logging's own complaint about itself
            return len(text)
        self._busy.on = True
        try:
            self._buffer += text
            *lines, self._buffer = self._buffer.split("\n")
            for line in lines:
                if line.strip():
                    self.logger.log(self.level, "%s", line.rstrip())
        finally:
            self._busy.on = False
        return len(text)

    def flush(self) -> None:
        if self._buffer.strip():
            self.write("\n")


def windowless_streams() -> None:
    """Replace a None ``sys.stdout``/``sys.stderr`` (no console) by :class:`LogStream`."""
    if sys.stdout is None:
        sys.stdout = LogStream("stdout", logging.INFO)
    if sys.stderr is None:
        sys.stderr = LogStream("stderr", logging.WARNING)
