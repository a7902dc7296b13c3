"""Old mail from the sender, glanced at: its SECOP user, in a fraction of the bytes.

Mail from the configured sender that arrived longer ago than a link lives
(``max_link_age_hours`` + 1 h, by the server's arrival date) holds a dead link,
and it can never change which link is current. Only the newest
:data:`GLANCE_MAX` such mails of a check are read, and of each only the first
:data:`GLANCE_BYTES` of its smallest text part, so that an expired or
superseded link still names its user. What a glance tells is never more than
what it read:

- a link cut by the glance is no link at all (``url`` None);
- a user name is kept only when something follows it in what was read (else
  it may be cut itself: ``pedro.g`` for ``pedro.gomez``);
- only the reasons a cut causes (``malformed_link``, ``no_link``,
  ``link_wrapped``) are forgiven; any other (a foreign host, a second sender,
  a failed DMARC) keeps the mail suspicious;
- a glanced mail is never current, and it counts as received no later than
  it arrived, so it can never supersede a link read whole.

Pure functions, no I/O.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from watcher import parts
from watcher.bodies import text_parts
from watcher.model import Found, Kind, Verdict

__all__ = ["GLANCE_BYTES", "GLANCE_MAX", "judged", "leaves", "newest"]

GLANCE_BYTES = 512
GLANCE_MAX = 12
CUT_REASONS = frozenset({"malformed_link", "no_link", "link_wrapped"})
_AFTER_NAME = r"(?=[\s<>()\[\]\"'.,;:!?«»])"


def newest(old: Iterable[tuple[datetime | None, str, int]]) -> set[tuple[str, int]]:
    """``(folder, uid)`` of the :data:`GLANCE_MAX` newest of ``(arrival, folder, uid)``."""
    ordered = sorted(old, key=lambda item: (item[0] is not None, item[0] or 0, item[2]))
    return {(folder, uid) for _, folder, uid in ordered[-GLANCE_MAX:]}


def leaves(structure: Any) -> list[parts.Leaf]:
    """The first :data:`GLANCE_BYTES` of the smallest text part (none: nothing to read)."""
    found = parts.text_parts(structure)
    if not found:
        return []
    return [replace(min(found, key=lambda leaf: leaf.size), limit=GLANCE_BYTES)]


def _name_is_whole(raw: bytes, username: str) -> bool:
    """``username`` is followed by something in the text read (so it was not cut)."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    pattern = re.compile(re.escape(username) + _AFTER_NAME)
    return any(pattern.search(part.reading) for part in text_parts(message))


def _received(verdict: Verdict, arrived: datetime | None) -> datetime | None:
    if verdict.received is None or arrived is None:
        return verdict.received or arrived
    return min(verdict.received, arrived)


def judged(item: Found, raw: bytes, cut: bool, arrived: datetime | None) -> Found:
    """What a glance at an old mail may say (see the module's rules); never current."""
    verdict = replace(item.verdict, received=_received(item.verdict, arrived))
    unread = Verdict(Kind.OLD, received=arrived)
    if cut and verdict.kind is Kind.OTHER:
        verdict = unread
    elif cut and verdict.kind in (Kind.RESET, Kind.SUSPICIOUS):
        forgiven = verdict.kind is Kind.RESET or set(verdict.reasons) <= CUT_REASONS
        if not forgiven:
            pass  # a reason of its own: stays suspicious
        elif verdict.username and _name_is_whole(raw, verdict.username):
            url = verdict.url if verdict.kind is Kind.RESET else None
            verdict = replace(verdict, kind=Kind.RESET, url=url, reasons=())
        else:
            verdict = unread
    return replace(item, verdict=verdict, whole=False)
