"""Raw RFC 822 bytes -> :class:`~watcher.model.Verdict`.

Pure functions: no I/O, no network, no logging (links carry one-time
tokens). :func:`parse_message` never raises: whatever the bytes, the worst
outcome is ``Kind.OTHER``.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.errors import MessageError
from email.header import Header, decode_header
from email.message import Message
from email.utils import parsedate_to_datetime

from bs4.exceptions import ParserRejectedMarkup

from watcher import encoding
from watcher.authresults import (
    DEFAULT_TRUSTED_AUTHSERV_IDS,
    REASON_AUTH_FAILED,
    REASON_AUTH_UNREADABLE,
    REASON_DMARC_OTHER_FROM,
    Assessment,
    assess,
)
from watcher.bodies import Candidate, candidates, text_parts
from watcher.links import check_link, unwrap
from watcher.model import Kind, Verdict
from watcher.phrase import PHRASE, collapse, fold
from watcher.senders import from_addresses, split_fields

__all__ = [
    "PHRASE",
    "REASON_AUTH_FAILED",
    "REASON_AUTH_UNREADABLE",
    "REASON_DMARC_OTHER_FROM",
    "decode_text",
    "fold",
    "parse_message",
    "received_at",
]

REASON_SENDER_MISMATCH = "sender_mismatch"
REASON_MULTIPLE_SENDERS = "multiple_senders"
REASON_NO_LINK = "no_link"
REASON_MALFORMED_LINK = "malformed_link"  # same code as watcher.links uses
REASON_HIDDEN_LINK = "hidden_link"  # a reset anchor the reader cannot see
REASON_LINKS_DISAGREE = "links_disagree"  # two places of the mail offer different links
REASON_SEVERAL_USERS = "several_users"  # reset links for more than one SECOP user
REASON_LINK_WRAPPED = "link_wrapped"  # a bare URL a hard wrap may have cut

_MAX_DATE_SKEW = timedelta(hours=24)
_MIN_YEAR = 2000

# Errors the stdlib ``email`` package, the header decoders and the HTML parser can
# raise on hostile or broken input. Caught once, at the parse_message boundary.
_RECOVERABLE = (
    MessageError,
    ParserRejectedMarkup,
    LookupError,
    UnicodeError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    RecursionError,
)


def decode_text(payload: bytes, declared: str | None) -> str:
    """Text as its writer meant it (:func:`watcher.encoding.for_reading`), for headers."""
    return encoding.for_reading(payload, declared)


# --------------------------------------------------------------------------- MIME


def _header_text(value: str | Header | None) -> str | None:
    if value is None:
        return None
    pieces: list[str] = []
    for chunk, charset in decode_header(value):
        pieces.append(decode_text(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return collapse("".join(pieces)) or None


def _header(msg: Message, name: str) -> str | None:
    try:
        return _header_text(msg.get(name))
    except (MessageError, LookupError, UnicodeError, ValueError):
        return None


# --------------------------------------------------------------------------- sender


def _sender(raw: bytes, expected: str) -> tuple[str | None, list[str]]:
    """The From address (never the display name) and sender reasons.

    Every From field counts as the IMAP server lists it (:mod:`watcher.senders`):
    ``From :`` and lines Python's parser drops or takes for an mbox line too.
    """
    addresses = from_addresses(raw)
    if not addresses:
        return None, [REASON_SENDER_MISMATCH]
    first = addresses[0] or None
    if len(addresses) > 1:
        return first, [REASON_MULTIPLE_SENDERS]
    if addresses[0] != expected.strip().lower():
        return first, [REASON_SENDER_MISMATCH]
    return first, []


# --------------------------------------------------------------------------- dates


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def received_at(date_header: str | None, internaldate: datetime | None) -> datetime | None:
    """When the mail arrived: the Date header unless it is missing or absurd.

    Absurd means before 2000 or more than 24 h away from the server's
    INTERNALDATE, which then wins (senders' clocks and spoofers lie).
    """
    internal = _aware(internaldate)
    if not date_header:
        return internal
    try:
        parsed = _aware(parsedate_to_datetime(date_header))
    except (TypeError, ValueError, OverflowError, IndexError):
        return internal
    if parsed is None or parsed.year < _MIN_YEAR:
        return internal
    if internal is not None and abs(parsed - internal) > _MAX_DATE_SKEW:
        return internal
    return parsed


# --------------------------------------------------------------------------- link


def _find_resets(msg: Message) -> list[Candidate]:
    """Every offer of the reset link: HTML anchors first, then plain text, then HTML text."""
    found: list[Candidate] = []
    for part in text_parts(msg):
        found += candidates(part)
    order = {"html": 0, "text": 1, "html-text": 2}
    return sorted(found, key=lambda c: order[c.source])


def _destination(candidate: Candidate) -> str | None:
    """Where the link finally leads, wrappers undone; None when it cannot be known."""
    if candidate.url is None or candidate.truncated or candidate.wrapped:
        return None
    return unwrap(candidate.url)[0]


def _disagreements(found: list[Candidate]) -> list[str]:
    """Reasons the offers of one mail do not tell the same story."""
    reasons = []
    if any(c.hidden for c in found):
        reasons.append(REASON_HIDDEN_LINK)
    users = {c.username.casefold() for c in found if c.username}
    if len(users) > 1:
        reasons.append(REASON_SEVERAL_USERS)
    places = {d for c in found if (d := _destination(c)) is not None}
    if len(places) > 1:
        reasons.append(REASON_LINKS_DISAGREE)
    return reasons


# --------------------------------------------------------------------------- authentication


def _domain(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rsplit("@", 1)[1].strip().lower() or None


def _verified(
    raw: bytes, sender: str, address: str | None, trusted: Sequence[str], fallback: str
) -> Assessment:
    """The provider's DMARC/DKIM verdict on the configured sender's domain.

    The header fields are split as the IMAP server splits them
    (:func:`watcher.senders.split_fields`), not as Python's ``email`` does.
    """
    return assess(
        split_fields(raw),
        domain=_domain(sender) or fallback,
        trusted=trusted,
        from_domain=_domain(address),
    )


# --------------------------------------------------------------------------- verdict


def _dedupe(reasons: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(reasons))


def _verdict(
    raw: bytes,
    msg: Message,
    sender: str,
    internaldate: datetime | None,
    allowed_domain: str,
    trusted: Sequence[str],
) -> Verdict:
    address, reasons = _sender(raw, sender)
    assessment = _verified(raw, sender, address, trusted, allowed_domain)
    reasons += assessment.reasons
    verified = assessment.verified
    base = Verdict(
        Kind.OTHER,
        received=received_at(_header(msg, "Date"), internaldate),
        message_id=_header(msg, "Message-ID"),
        sender=address,
        subject=_header(msg, "Subject"),
        verified=verified,
    )
    found = _find_resets(msg)
    if not found:
        return base
    first = next((c for c in found if not c.hidden), found[0])
    username = first.username or next((c.username for c in found if c.username), None)
    reasons += _disagreements(found)
    checked: str | None = None
    if first.href is None:
        reasons.append(REASON_NO_LINK)
    elif first.url is None:
        reasons.append(REASON_MALFORMED_LINK)
    else:
        inner, undone = unwrap(first.href)
        # A wrapper's inner link comes back in a redirect: its query is UTF-8.
        query = encoding.UTF8 if undone else first.query_encoding
        checked, link_reasons = check_link(inner, allowed_domain, query)
        reasons += link_reasons
        if first.truncated:
            reasons.append(REASON_MALFORMED_LINK)
        if first.wrapped:
            reasons.append(REASON_LINK_WRAPPED)
    if reasons or checked is None:
        return replace(
            base,
            kind=Kind.SUSPICIOUS,
            username=username,
            url=first.href,
            reasons=_dedupe(reasons),
        )
    return replace(base, kind=Kind.RESET, username=username, url=checked)


def parse_message(
    raw: bytes,
    *,
    sender: str = "registro@secop.gov.co",
    internaldate: datetime | None = None,
    allowed_domain: str = "secop.gov.co",
    trusted_authserv_ids: Sequence[str] = DEFAULT_TRUSTED_AUTHSERV_IDS,
) -> Verdict:
    """Classify one raw message. Never raises: broken input gives ``Kind.OTHER``.

    ``trusted_authserv_ids``: whose ``Authentication-Results`` to believe (see
    :mod:`watcher.authresults`). An explicit DMARC/DKIM failure for the
    sender's domain makes a reset mail ``SUSPICIOUS`` (``auth_failed``).
    """
    try:
        data = bytes(raw)
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        return _verdict(data, msg, sender, internaldate, allowed_domain, trusted_authserv_ids)
    except _RECOVERABLE:
        return Verdict(Kind.OTHER, received=_aware(internaldate))
