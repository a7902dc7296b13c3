"""Which links to notify, each exactly once across restarts, and which to withdraw.

:class:`Announcer` decides, from what a check found and what the state
remembers. Pure apart from the notifier it calls. A link's notification is
withdrawn when a newer link for the same SECOP user comes, and when the link
expires (Windows and macOS ignore the expire timeout; so do some Linux servers).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from watcher.model import Link, Report, Suspicious
from watcher.notify import Notifier
from watcher.state import Announced, State, link_key


class _AccountLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"[{self.extra['account'] if self.extra else ''}] {msg}", kwargs


Logger = logging.Logger | logging.LoggerAdapter  # type: ignore[type-arg]


def account_log(logger: logging.Logger, account: str) -> Logger:
    """``logger``, its lines prefixed with ``[NAME]`` for the account ``[accounts.NAME]``
    (several services share one log)."""
    return _AccountLog(logger, {"account": account}) if account else logger


@dataclass
class Announcer:
    """Turns what a check found into notifications, exactly once per link."""

    notifier: Notifier
    lang: str
    max_age: timedelta
    handles: dict[str, str] = field(default_factory=dict)  # user → on-screen notification
    log: Logger = field(default=logging.getLogger(__name__))  # per account: see account_log
    expiries: dict[str, datetime] = field(default_factory=dict)  # handle → its link's expiry
    # The checker, an IDLE thread and the scheduler (expiries) touch handles and expiries.
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def apply(self, report: Report, state: State, now: datetime) -> list[Link]:
        announced = [self._announce(link, state, now) for link in report.current]
        for s in report.suspicious:
            self._warn(s, state, now)
        return [link for link in announced if link is not None]

    def _announce(self, link: Link, state: State, now: datetime) -> Link | None:
        if link.url is None:  # pragma: no cover - choose() never makes such a link current
            return None
        key = link_key(link.url)
        user = (link.username or "").casefold()
        if key in state.announced or self._newer_known(user, link, state):
            return None
        with self._lock:
            old = self.handles.pop(user, None)
            if old is not None:
                self.expiries.pop(old, None)
        if old is not None:
            self.notifier.withdraw(old)  # the older link is dead: never leave it on screen
        expires_at = link.received + self.max_age
        handle = self.notifier.announce(link, lang=self.lang, expires_at=expires_at)
        if handle is not None:
            with self._lock:
                self.handles[user] = handle
                self.expiries[handle] = expires_at
        state.announced[key] = _record(
            link.username, link.received, link.folder, link.message_id, now
        )
        self.log.info("announced a new link for %s (%s)", link.username, link.folder)
        return link

    def withdraw_expired(self, now: datetime) -> datetime | None:
        """Withdraw every notification whose link has expired by ``now`` (on Windows and
        macOS nothing else would: they ignore the timeout); the next expiry, if any."""
        with self._lock:
            dead = [h for h, end in self.expiries.items() if end <= now]
            for handle in dead:
                del self.expiries[handle]
            for user in [u for u, h in self.handles.items() if h in dead]:
                del self.handles[user]
            following = min(self.expiries.values(), default=None)
        for handle in dead:
            self.notifier.withdraw(handle)
            self.log.info("the link's notification was withdrawn: the link expired")
        return following

    def next_expiry(self) -> datetime | None:
        with self._lock:
            return min(self.expiries.values(), default=None)

    @staticmethod
    def _newer_known(user: str, link: Link, state: State) -> bool:
        """A rescan may find a link older than one already announced for that user.

        Compared as moments, never as text: mail dates carry their sender's offset.
        """
        received = link.received.astimezone(UTC).replace(microsecond=0)
        return any(
            (a.username or "").casefold() == user and _moment(a.received) > received
            for key, a in state.announced.items()
            if not key.startswith("suspicious:")
        )

    def _warn(self, s: Suspicious, state: State, now: datetime) -> None:
        ident = s.message_id or f"{s.folder}|{s.received}|{s.sender}"
        key = "suspicious:" + hashlib.sha256(ident.encode()).hexdigest()[:32]
        if key in state.announced:
            return
        self.notifier.warn(s, lang=self.lang)
        state.announced[key] = _record(None, s.received or now, s.folder, s.message_id, now)
        self.log.warning(
            "suspicious mail in %s from %s: %s", s.folder, s.sender, ", ".join(s.reasons)
        )


def _moment(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _record(
    user: str | None, received: datetime, folder: str, mid: str | None, now: datetime
) -> Announced:
    return Announced(
        username=user,
        received=received.astimezone(UTC).isoformat(timespec="seconds"),
        folder=folder,
        message_id=mid,
        announced_at=now.isoformat(timespec="seconds"),
    )
