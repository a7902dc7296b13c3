"""Plain data passed between parsing, choosing and rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    RESET = "reset"  # a genuine-looking SECOP password-reset mail with a usable link
    OTHER = "other"  # not a reset mail (e.g. "Olvidé el usuario", process notices, garbage)
    SUSPICIOUS = "suspicious"  # claims to be the reset mail but fails a check
    # From the sender, older than a link lives (``max_link_age_hours``) and read
    # only in part, with nothing of a reset mail in that part (see watcher.check).
    OLD = "old"


class Status(StrEnum):
    CURRENT = "current"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Verdict:
    """What the parser concluded about one message.

    ``url`` is set for ``RESET`` (the unwrapped, checked link) and, for
    ``SUSPICIOUS``, holds the offending link as found (never to be shown as
    the link to use). ``reasons`` are stable machine codes (see
    :data:`watcher.i18n.REASONS`), empty for ``RESET``.
    """

    kind: Kind
    username: str | None = None
    url: str | None = None
    received: datetime | None = None  # timezone-aware
    message_id: str | None = None
    sender: str | None = None  # the From address, lower-cased
    subject: str | None = None
    reasons: tuple[str, ...] = ()
    # The receiving provider's verdict on the sender (watcher.authresults):
    # True verified, None unverified (no trusted result), False failed (then
    # ``reasons`` holds ``auth_failed``).
    verified: bool | None = None


@dataclass(frozen=True)
class Found:
    """A parsed message together with where it was found."""

    verdict: Verdict
    folder: str
    uid: int
    # False: only part of the mail was read (an old mail's glance), so it may be
    # listed as expired or superseded but is never the current link.
    whole: bool = True


@dataclass(frozen=True)
class Link:
    username: str | None
    url: str | None  # None: an old mail read in part, whose link did not fit (never current)
    received: datetime
    folder: str
    message_id: str | None
    status: Status
    verified: bool | None = None  # True: DMARC/DKIM pass reported by the provider; None: unverified


@dataclass(frozen=True)
class Suspicious:
    received: datetime | None
    folder: str
    message_id: str | None
    sender: str | None
    subject: str | None
    url: str | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Unopened:
    """A mail from the sender older than a link lives, with no user in the part read."""

    received: datetime | None
    folder: str


@dataclass(frozen=True)
class Notice:
    """A non-fatal remark about a check (folder missing, message cut, ...)."""

    code: str
    detail: str = ""


@dataclass
class Report:
    checked_at: datetime
    folders: list[str] = field(default_factory=list)
    current: list[Link] = field(default_factory=list)
    expired: list[Link] = field(default_factory=list)
    superseded: list[Link] = field(default_factory=list)
    suspicious: list[Suspicious] = field(default_factory=list)
    unopened: list[Unopened] = field(default_factory=list)
    warnings: list[Notice] = field(default_factory=list)
