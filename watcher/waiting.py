"""Waiting for the reset mail that is on its way (the engine of ``secop-watcher wait``).

It remembers where each folder ended when it started (UIDNEXT, or STATUS where
the server's EXAMINE lacks it), listens with IDLE on inbox and spam (polling
every few seconds where the server has no IDLE) and returns the first genuine
reset link that arrived after that. It shares the service's engine
(:mod:`watcher.engine`), so it reconnects the same way after a drop or a
server restart.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from watcher import i18n, render
from watcher.check import scan_new_many
from watcher.choosing import choose
from watcher.config import Config
from watcher.engine import IdleGroup, KeptSession, PushLook
from watcher.errors import AuthError, CredentialsError, UserError
from watcher.folders import Folder
from watcher.idle import Backoff
from watcher.mail import ImapSession
from watcher.model import Found, Link
from watcher.render import suspicious_line
from watcher.state import Cursor

log = logging.getLogger(__name__)

POLL_WITHOUT_IDLE = 5.0
POLL_WITH_IDLE = 30.0
JOIN_SECONDS = 3.0  # for the IDLE threads, once the wait is over


@dataclass
class WaitResult:
    link: Link | None
    folders: list[str]
    started: datetime
    waited_seconds: float
    notes: list[str] = field(default_factory=list)
    account: str = ""  # with several accounts, the one the link came to


@render.render.register
def _(data: WaitResult, *, as_json: bool, lang: str, config: Config | None) -> str:
    if as_json:
        return render.wait_json(data.link, data.folders, data.waited_seconds, data.account)
    return render.wait_text(data.link, data.notes, lang)


class Waiter:
    """One account's wait: the service's engine (:mod:`watcher.engine`) for one link.

    A dropped connection or a server restart (graceful with BYE, or abrupt) is
    retried with backoff until the timeout ends; only a refused sign-in, or a
    server still unreachable when the time is up, ends the wait with an error.
    """

    def __init__(
        self,
        config: Config,
        open_session: Callable[[], ImapSession],
        *,
        since: datetime | None,
        lang: str,
    ) -> None:
        self.config = config
        self._open = open_session
        self.since = since
        self.lang = lang
        self._arrived = threading.Event()
        self._warned: set[str] = set()
        # The main thread and the IDLE threads both look at mail: one at a time.
        self._lock = threading.Lock()
        self._kept = KeptSession(open_session, config.imap.folders)
        self._cursors: dict[str, Cursor | None] = {}
        self._found: Link | None = None  # seen by an IDLE thread
        self._cancelled = False  # another account's waiter found the link
        self.reconnects = 0  # for tests and the log

    def wait(self, timeout: float) -> WaitResult:
        started = datetime.now(UTC)
        deadline = time.monotonic() + timeout
        push = PushLook(lambda: self._kept.folders, self._look_pushed, self._look_here)
        idle = IdleGroup(self._open, push, self._idle_failed, on_lost=self._idle_lost)
        retry = Backoff(first=1.0, cap=POLL_WITH_IDLE)
        try:
            self._cursors = self._start(self._kept.get())
            folders = self._kept.folders
            if self._kept.idle_supported:
                idle.ensure(folders)
            self._progress(folders, deadline, self._kept.idle_supported)
            while True:
                failure: UserError | None = None
                link = None
                try:
                    with self._lock:  # cancelled: another account has the link, no need to look
                        link = self._found or (None if self._cancelled else self._look_kept())
                    retry.reset()
                    if self._kept.idle_supported:
                        idle.ensure(self._kept.folders)  # an IDLE thread that ended, again
                except (AuthError, CredentialsError):
                    raise
                except UserError as e:
                    failure = e
                    self._kept.drop()
                    self.reconnects += 1
                    log.info("the connection failed (%s); reconnecting", e.key)
                remaining = deadline - time.monotonic()
                if link is not None or remaining <= 0 or self._cancelled:
                    if link is None and failure is not None and not self._cancelled:
                        raise failure  # the time is up and the server is still unreachable
                    return WaitResult(
                        link,
                        [f.name for f in folders],
                        started,
                        (datetime.now(UTC) - started).total_seconds(),
                        account=self.config.account,
                    )
                poll = POLL_WITH_IDLE if self._kept.idle_supported else POLL_WITHOUT_IDLE
                pause = retry.next() if failure is not None else poll
                self._arrived.wait(min(pause, remaining))
                self._arrived.clear()
        finally:
            stopped = idle.stop(close=True)
            self._kept.drop()
            # Joined, briefly: a daemon thread still inside an SSL read when the interpreter
            # exits can crash it (seen once: SIGSEGV at the end of ``wait --json --copy``).
            until = time.monotonic() + JOIN_SECONDS
            for idler in stopped:
                idler.join(max(0.0, until - time.monotonic()))

    def _start(self, session: ImapSession) -> dict[str, Cursor | None]:
        """Where each folder ends now: only mail after that counts (UIDNEXT)."""
        return self._start_of(session, self._kept.folders)

    def _start_of(self, session: ImapSession, folders: list[Folder]) -> dict[str, Cursor | None]:
        cursors: dict[str, Cursor | None] = {}
        for folder in folders:
            info = session.examine(folder.name)
            uidnext = int(info.get(b"UIDNEXT", 0) or 0)
            validity = int(info.get(b"UIDVALIDITY", 0) or 0)
            # With --since, older mail counts too: scan everything once.
            cursors[folder.name] = None if self.since else Cursor(validity, max(0, uidnext - 1))
        return cursors

    def cancel(self) -> None:
        """From another thread: stop waiting now (another account got the link)."""
        self._cancelled = True
        self._arrived.set()

    def _look_kept(self) -> Link | None:
        session = self._kept.get()
        folders = self._kept.folders  # listed again after a reconnect: maybe a new folder
        fresh = [f for f in folders if f.name not in self._cursors]
        if fresh and not self.since:  # where it ends now, as for the others at the start
            self._cursors.update(self._start_of(session, fresh))
        return self._look(session, folders)

    def _look_here(self, _folder: str, _why: str) -> None:
        self._arrived.set()  # the main thread looks on its own connection

    def _look_pushed(self, session: ImapSession, folder: Folder) -> None:
        with self._lock:
            link = self._look(session, [folder], examine=False)
            self._found = _newer(self._found, link)
        if link is not None:
            self._arrived.set()

    def _idle_failed(self, _error: UserError) -> None:
        self._arrived.set()  # the next look raises the same error, with its message

    def _idle_lost(self, _folder: str) -> None:
        self._kept.mark_stale()  # the same network path: the next look reconnects
        self._arrived.set()

    def _look(
        self, session: ImapSession, folders: list[Folder], *, examine: bool = True
    ) -> Link | None:
        now = datetime.now(UTC)
        new, moved, _ = scan_new_many(
            session, folders, self._cursors, self.config, now, examine=examine
        )
        self._cursors.update(moved)
        found = [f for f in new if self._in_window(f)]
        report = choose(
            found, now=now, max_age=timedelta(hours=self.config.watch.max_link_age_hours)
        )
        for s in report.suspicious:
            key = s.message_id or str(s.received)
            if key not in self._warned:
                self._warned.add(key)
                print(suspicious_line(s, self.lang, self.config.watch.sender), file=sys.stderr)
        return report.current[0] if report.current else None

    def _in_window(self, found: Found) -> bool:
        received = found.verdict.received
        return self.since is None or (received is not None and received >= self.since)

    def _progress(self, folders: list[Folder], deadline: float, idle: bool) -> None:
        until = i18n.clock(
            datetime.now(UTC) + timedelta(seconds=deadline - time.monotonic()), self.lang
        )
        line = i18n.t(
            "wait.progress", self.lang, folders=", ".join(f.name for f in folders), until=until
        )
        if not idle:
            line += " " + i18n.t("wait.progress_poll", self.lang, seconds=float(POLL_WITHOUT_IDLE))
        print(line, file=sys.stderr, flush=True)


def _newer(kept: Link | None, new: Link | None) -> Link | None:
    """Of two links found by different IDLE threads, the one that arrived last."""
    if kept is None or (new is not None and new.received > kept.received):
        return new
    return kept


def wait_all(
    waiters: Sequence[Waiter], timeout: float
) -> tuple[WaitResult | None, list[UserError]]:
    """Every account's waiter side by side; the first link ends them all.

    Returns the winning (or, without a link, the first) result and the
    errors of the accounts that could not be watched.
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed

    results: list[WaitResult] = []
    errors: list[UserError] = []
    with ThreadPoolExecutor(max_workers=len(waiters), thread_name_prefix="account") as pool:
        futures = [pool.submit(w.wait, timeout) for w in waiters]
        try:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except UserError as e:
                    errors.append(e)
                    continue
                results.append(result)
                if result.link is not None:
                    break
        finally:  # a link, Ctrl-C or a bug: the other accounts stop waiting now
            for waiter in waiters:
                waiter.cancel()
    winner = next((r for r in results if r.link is not None), results[0] if results else None)
    return winner, errors
