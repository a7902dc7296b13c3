"""What the notifications say (Spanish first, English), never the reset URL."""

from __future__ import annotations

import math
from datetime import datetime

from watcher.i18n import clock, day, t
from watcher.model import Link, Suspicious
from watcher.render import reasons_text

# The notification spec carries the timeout as int32 milliseconds.
MAX_TIMEOUT_SECONDS = (2**31 - 1) // 1000


def _at(dt: datetime, lang: str) -> str:
    """As Colombia writes it in Spanish (``2:07 p. m. del 5/03/2024``), as the commands do."""
    return t("notify.at", lang, time=clock(dt, lang), date=day(dt, lang))


def _until(received: datetime, expires_at: datetime, lang: str) -> str:
    if expires_at.astimezone().date() == received.astimezone().date():
        return clock(expires_at, lang)
    return _at(expires_at, lang)


def link_title(link: Link, lang: str) -> str:
    return t("notify.link.title", lang, user=link.username or t("user.unknown", lang))


def link_body(link: Link, lang: str, expires_at: datetime) -> str:
    """What the notification says: who, where, when (and if unverified). Never the URL."""
    body = t(
        "notify.link.body",
        lang,
        when=_at(link.received, lang),
        folder=link.folder,
        until=_until(link.received, expires_at, lang),
    )
    if link.verified is None:
        body += " " + t("notify.unverified", lang)
    return body


def warn_body(suspicious: Suspicious, lang: str, sender: str) -> str:
    when = _at(suspicious.received, lang) if suspicious.received else None
    return t(
        "notify.warn.body",
        lang,
        folder=suspicious.folder,
        when=when or t("notify.when_unknown", lang),
        sender=suspicious.sender or t("sender.unknown", lang),
        reasons=reasons_text(suspicious.reasons, lang, sender),
    )


def timeout_seconds(expires_at: datetime, now: datetime | None = None) -> int:
    """Whole seconds until ``expires_at`` (rounded up), at least 1."""
    now = now or datetime.now(tz=expires_at.tzinfo)
    left = math.ceil((expires_at - now).total_seconds())
    return min(max(1, left), MAX_TIMEOUT_SECONDS)
