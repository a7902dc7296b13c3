"""Decide which link is the one to use. Pure: a function of its inputs and ``now``.

Per SECOP user name, the newest genuine reset is ``current`` (or ``expired``
once older than ``max_age``); every older one is ``superseded``, because SECOP
invalidates earlier links when a new one is requested. Suspicious mail never
takes part in the race: it can neither be current nor supersede a real link.
Mail too old to hold a working link is read only in part (watcher.check): it
keeps its user but is never current (``Found.whole`` False, or no link read);
with nothing of a reset in that part (``Kind.OLD``) it is only counted, newest
first, in ``Report.unopened``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from watcher.model import Found, Kind, Link, Report, Status, Suspicious, Unopened

# Aware from the start: a naive epoch's astimezone() calls the C localtime with a
# negative time west of UTC, which Windows refuses (OSError 22) at import.
EPOCH = datetime.fromtimestamp(0, UTC)


def choose(found: Iterable[Found], *, now: datetime, max_age: timedelta) -> Report:
    report = Report(checked_at=now)
    seen_ids: set[str] = set()
    resets: list[Found] = []
    for item in _newest_first(found):
        mid = item.verdict.message_id
        if mid:
            if mid in seen_ids:  # the same mail in two folders (e.g. a Gmail label)
                continue
            seen_ids.add(mid)
        if item.verdict.kind is Kind.RESET:
            resets.append(item)
        elif item.verdict.kind is Kind.SUSPICIOUS:
            report.suspicious.append(_suspicious(item))
        elif item.verdict.kind is Kind.OLD:
            report.unopened.append(Unopened(item.verdict.received, item.folder))
    newest_seen: set[str | None] = set()
    for item in resets:
        user = _user_key(item.verdict.username)
        if user in newest_seen:
            report.superseded.append(_link(item, Status.SUPERSEDED))
            continue
        newest_seen.add(user)
        received = item.verdict.received or EPOCH
        if now - received > max_age or not item.whole or not item.verdict.url:
            report.expired.append(_link(item, Status.EXPIRED))
        else:
            report.current.append(_link(item, Status.CURRENT))
    return report


def _newest_first(found: Iterable[Found]) -> list[Found]:
    return sorted(found, key=lambda f: (f.verdict.received or EPOCH, f.uid), reverse=True)


def _user_key(username: str | None) -> str | None:
    """SECOP user names are matched case-insensitively."""
    return username.casefold() if username else None


def _link(item: Found, status: Status) -> Link:
    v = item.verdict
    return Link(
        username=v.username,
        url=v.url,  # None only for an old mail read in part (then never current)
        received=v.received or EPOCH,
        folder=item.folder,
        message_id=v.message_id,
        status=status,
        verified=v.verified,
    )


def _suspicious(item: Found) -> Suspicious:
    v = item.verdict
    return Suspicious(
        received=v.received,
        folder=item.folder,
        message_id=v.message_id,
        sender=v.sender,
        subject=v.subject,
        url=v.url,
        reasons=v.reasons,
    )
