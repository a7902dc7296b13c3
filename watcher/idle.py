"""Push on arrival: one IMAP IDLE connection per watched folder, each in its own thread.

IDLE watches one folder per connection, so INBOX and spam each get one; an
arrival in spam is seen as fast as one in the inbox. Each connection re-issues
IDLE at most every :data:`RENEW_SECONDS` (providers and NAT boxes drop idle
connections long before RFC 2177's 29 minutes), and sooner when the server has
been silent for a while (the liveness check of
:meth:`~watcher.mail.session.ImapSession.idle_wait`: a connection that died
without a word is noticed within about 95 s). On any failure it reconnects with
exponential backoff and jitter; ``on_lost`` hears of it (the service then also
drops its other kept connection). After a reconnect it asks for a full check,
so mail that arrived in the gap is not missed. It blocks in ``poll()`` on the
socket: no busy loop.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from watcher.errors import AuthError, CredentialsError, UserError
from watcher.i18n import error_text
from watcher.mail import ImapSession

log = logging.getLogger(__name__)

RENEW_SECONDS = 9 * 60
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 300.0


class Backoff:
    """Exponential backoff with jitter: ~1, 2, 4 … s, capped at ``cap``."""

    def __init__(self, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        base = min(self.cap, self.first * float(2**self.failures))
        self.failures += 1
        return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography

    def reset(self) -> None:
        self.failures = 0


OnChange = Callable[[str, "ImapSession | None"], None]


class FolderIdler(threading.Thread):
    """Keeps one IDLE connection on ``folder`` and calls ``on_change`` when mail arrives.

    ``on_change(folder, session)`` runs in this thread. ``session`` is this
    IDLE connection, the folder still selected and IDLE still running: the
    callback may look at the new mail right here (its first command ends
    IDLE in the same write), which spares the server re-reading the folder
    for another connection. ``session`` is None for the look right after
    (re)connecting, which should be a check like any other.
    """

    def __init__(
        self,
        folder: str,
        open_session: Callable[[], ImapSession],
        on_change: OnChange,
        on_auth_error: Callable[[UserError], None],
        renew_seconds: float = RENEW_SECONDS,
        log: logging.Logger | logging.LoggerAdapter = log,  # type: ignore[type-arg]
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(name=f"idle:{folder}", daemon=True)
        self.folder = folder
        self._open = open_session
        self._on_change = on_change
        self._on_auth_error = on_auth_error
        self._renew = renew_seconds
        self._on_lost = on_lost
        self._stop_event = threading.Event()
        self._session: ImapSession | None = None
        self._lock = threading.Lock()
        self.backoff = Backoff()
        self.connected = threading.Event()
        self._log = log

    def stop(self) -> None:
        self._stop_event.set()
        self.reconnect()

    def reconnect(self) -> None:
        """Drop the current connection (after resume from suspend); a new one follows."""
        with self._lock:
            if self._session is not None:
                self._session.interrupt()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self._serve()
            except (AuthError, CredentialsError) as e:
                self._on_auth_error(e)
                return  # the service restarts the idlers once the password changes
            except UserError as e:
                if self._stop_event.is_set():
                    return
                if self._on_lost is not None:
                    self._on_lost(self.folder)
                delay = self.backoff.next()
                # In words, never the message key: `wait` shows this line on stderr.
                self._log.warning(
                    "%s: connection lost (%s); retrying in %.0f s",
                    self.folder,
                    error_text(e, "en"),
                    delay,
                )
                self._stop_event.wait(delay)

    def _serve(self) -> None:
        session = self._open()
        with self._lock:
            self._session = session
        try:
            session.examine(self.folder)
            self.backoff.reset()
            # Mail may have arrived before IDLE began (or while we were away): look now.
            self._on_change(self.folder, None)
            self._log.info("%s: IDLE connection ready", self.folder)
            self.connected.set()  # after the log line: whoever waits for it may count on it
            looked = session.arrivals
            while not self._stop_event.is_set():
                if session.arrivals == looked:
                    session.idle_wait(self._renew, stay=True)
                if session.arrivals != looked:
                    # Whatever arrives from here on is counted again and looked at next.
                    looked = session.arrivals
                    self._on_change(self.folder, session)
                # Health check; also ends an IDLE the callback left running, and reports
                # mail that arrived while we looked (the server tells that only once).
                session.noop()
        finally:
            self.connected.clear()
            with self._lock:
                self._session = None
            session.close()
