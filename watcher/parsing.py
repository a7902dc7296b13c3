"""Raw RFC 822 bytes -> :class:`~watcher.model.Verdict`.

Pure functions: no I/O, no network, no logging (links carry one-time
tokens). :func:`parse_message` never raises: whatever the bytes, the worst
outcome is ``Kind.OTHER``.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.errors import MessageError
from email.header import Header, decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from bs4 import BeautifulSoup
from bs4.element import NavigableString, Tag
from bs4.exceptions import ParserRejectedMarkup

from watcher.authresults import DEFAULT_TRUSTED_AUTHSERV_IDS, sender_verified
from watcher.links import check_link, unwrap
from watcher.model import Kind, Verdict

__all__ = ["PHRASE", "decode_text", "fold", "parse_message", "received_at"]

PHRASE = "haga clic aqui para cambiar la contrasena"
"""The reset anchor's opening words, folded (see :func:`fold`)."""

REASON_SENDER_MISMATCH = "sender_mismatch"
REASON_MULTIPLE_SENDERS = "multiple_senders"
REASON_NO_LINK = "no_link"
REASON_MALFORMED_LINK = "malformed_link"  # same code as watcher.links uses
REASON_AUTH_FAILED = "auth_failed"  # the provider reports DMARC/DKIM failure

_MAX_DATE_SKEW = timedelta(hours=24)
_MIN_YEAR = 2000
_AFTER_ANCHOR_STRINGS = 20  # how far past an anchor ending in "de usuario" to look
_USER_AFTER = re.compile(r"\s*de\s+usuario\b[\s:]*(?P<rest>.*)", re.IGNORECASE | re.DOTALL)
_TEXT_RESET = re.compile(
    r"\s*(?:de\s+usuario\b[ \t:]*(?P<user>(?!https?://)[^\s<>]+)?)?"
    r"[\s:;,.\-–—(\[]*(?P<open><)?(?P<url>https?://[^\s<>\"']+)?",
    re.IGNORECASE,
)
_EDGE_PUNCT = ".,:;!?()[]{}\"'«»<>"
_URL_TRAILING_PUNCT = ".,:;!?)]}"
# Codecs whose code units span several bytes: ASCII text in them is also
# valid UTF-8 (NUL bytes), so the declared name must be tried first.
_WIDE_CODECS = ("utf-16", "utf-32")

# Errors the stdlib ``email`` package, the header decoders and html.parser can
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


# --------------------------------------------------------------------------- text


def _codec(declared: str | None) -> str | None:
    if not declared:
        return None
    try:
        return codecs.lookup(declared.strip().strip('"').lower()).name
    except (LookupError, ValueError, UnicodeError):
        return None


def _try_decode(payload: bytes, codec: str) -> str | None:
    try:
        return payload.decode(codec)
    except (LookupError, UnicodeError, ValueError):
        return None


def decode_text(payload: bytes, declared: str | None) -> str:
    """Decode a body, surviving a wrong or unknown declared charset.

    Non-ASCII bytes that are valid UTF-8 are almost never meant as Latin-1,
    so UTF-8 is tried first even when ISO-8859-1/Windows-1252 is declared;
    bytes that are not UTF-8 fall back to Windows-1252 (and Latin-1, which
    cannot fail).
    """
    codec = _codec(declared)
    order = ["utf-8", "cp1252"]
    if codec is not None and codec not in order:
        order.insert(0 if codec.startswith(_WIDE_CODECS) else 1, codec)
    for name in order:
        text = _try_decode(payload, name)
        if text is not None:
            return text
    return payload.decode("latin-1")


def _fold_with_map(text: str) -> tuple[str, list[int]]:
    """Fold ``text`` and map each folded character to its source index."""
    out: list[str] = []
    src: list[int] = []
    for index, char in enumerate(text):
        for part in unicodedata.normalize("NFKD", char):
            if unicodedata.combining(part):
                continue
            for folded in part.casefold():
                space = folded.isspace()
                if space and out and out[-1] == " ":
                    continue
                out.append(" " if space else folded)
                src.append(index)
    return "".join(out), src


def fold(text: str) -> str:
    """Accents removed (NFKD), case folded, whitespace collapsed."""
    return _fold_with_map(text)[0].strip()


def _may_contain_phrase(text: str) -> bool:
    """Cheap pre-check at C speed (dropping all non-ASCII may over-match, never under)."""
    spaced = " ".join(unicodedata.normalize("NFKD", text).split())
    ascii_only = spaced.encode("ascii", "ignore").decode("ascii")
    return PHRASE in " ".join(ascii_only.casefold().split())


def _after_phrase(text: str) -> str | None:
    """The part of ``text`` after the reset phrase, or None if absent."""
    if not _may_contain_phrase(text):
        return None
    folded, src = _fold_with_map(text)
    pos = folded.find(PHRASE)
    if pos < 0:
        return None
    return text[src[pos + len(PHRASE) - 1] + 1 :]


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _clean_word(text: str) -> str | None:
    word = text.strip().strip(_EDGE_PUNCT)
    return word or None


# --------------------------------------------------------------------------- MIME


def _bodies(msg: Message, subtype: str) -> Iterator[str]:
    """Decoded text/<subtype> parts anywhere in the tree, attachments skipped."""
    for part in msg.walk():
        if part.get_content_type() != f"text/{subtype}":
            continue
        if part.get_content_disposition() == "attachment":
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            yield decode_text(payload, part.get_content_charset())


def _header_text(value: str | Header | None) -> str | None:
    if value is None:
        return None
    pieces: list[str] = []
    for chunk, charset in decode_header(value):
        pieces.append(decode_text(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return _collapse("".join(pieces)) or None


def _header(msg: Message, name: str) -> str | None:
    try:
        return _header_text(msg.get(name))
    except (MessageError, LookupError, UnicodeError, ValueError):
        return None


# --------------------------------------------------------------------------- sender


def _sender(msg: Message, expected: str) -> tuple[str | None, list[str]]:
    """The From address (never the display name) and sender reasons."""
    values = [str(v) for v in (msg.get_all("From") or [])]
    addresses = [addr.strip().lower() for _, addr in getaddresses(values) if addr.strip()]
    if not addresses:
        return None, [REASON_SENDER_MISMATCH]
    if len(addresses) > 1:
        return addresses[0], [REASON_MULTIPLE_SENDERS]
    if addresses[0] != expected.strip().lower():
        return addresses[0], [REASON_SENDER_MISMATCH]
    return addresses[0], []


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


@dataclass(frozen=True)
class _Found:
    """The reset phrase was seen; what came with it."""

    href: str | None
    username: str | None
    truncated: bool = False  # the link may be cut short (the body ends inside it)


def _following_text(anchor: Tag) -> str:
    """Text right after ``anchor`` (not inside it), whitespace collapsed."""
    pieces: list[str] = []
    for element in anchor.next_elements:
        if len(pieces) >= _AFTER_ANCHOR_STRINGS:
            break
        if type(element) is NavigableString and anchor not in element.parents:
            pieces.append(str(element))
    return _collapse(" ".join(pieces))


def _anchor_username(anchor: Tag, rest: str) -> str | None:
    match = _USER_AFTER.match(rest)
    if match and match.group("rest").strip():
        return _clean_word(_collapse(match.group("rest")))
    following = _following_text(anchor)
    if match:  # the anchor ends at "de usuario": the name follows it
        words = following.split()
        return _clean_word(words[0]) if words else None
    match = _USER_AFTER.match(following)
    if match and match.group("rest").split():
        return _clean_word(match.group("rest").split()[0])
    return None


def _from_anchor(anchor: Tag) -> _Found | None:
    text = _collapse(anchor.get_text(" "))
    if not fold(text).startswith(PHRASE):
        return None
    rest = _after_phrase(text) or ""
    href = anchor.get("href")
    link = href.strip() if isinstance(href, str) and href.strip() else None
    return _Found(link, _anchor_username(anchor, rest))


def _from_html(html: str) -> tuple[_Found | None, str]:
    """The reset anchor (if any) and the document's visible text."""
    soup = BeautifulSoup(html, "html.parser")
    for anchor in soup.find_all("a"):
        if isinstance(anchor, Tag):
            found = _from_anchor(anchor)
            if found is not None:
                return found, ""
    # A document that ends mid-text may be cut short: keep its last URL
    # unterminated so the text fallback does not trust it.
    ending = "\n" if html.rstrip().endswith(">") else ""
    return None, soup.get_text(" ") + ending


def _from_text(text: str) -> _Found | None:
    """Plain-text fallback: the phrase, the name after "de usuario", the URL.

    The URL must come right after the phrase and the name (next line or in
    ``<...>`` is fine): taking *any* later URL would pick up the login-page
    link of a mail whose reset link is missing.
    """
    rest = _after_phrase(text)
    if rest is None:
        return None
    match = _TEXT_RESET.match(rest)
    if match is None:  # pragma: no cover - every group of the pattern is optional
        return _Found(None, None)
    username = _clean_word(match.group("user") or "")
    if match.group("url") is None:
        return _Found(None, username)
    end = match.end("url")
    unterminated = end == len(rest) or (
        match.group("open") is not None and rest[end : end + 1] != ">"
    )
    return _Found(match.group("url").rstrip(_URL_TRAILING_PUNCT), username, truncated=unterminated)


def _find_reset(msg: Message) -> _Found | None:
    """HTML anchors first, then text/plain, then the HTML's visible text."""
    html_texts: list[str] = []
    for html in _bodies(msg, "html"):
        found, visible = _from_html(html)
        if found is not None:
            return found
        html_texts.append(visible)
    for text in [*_bodies(msg, "plain"), *html_texts]:
        found = _from_text(text)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- authentication


def _header_pairs(msg: Message) -> list[tuple[str, str]]:
    """Top-level headers in message order; an undecodable value becomes empty."""
    pairs: list[tuple[str, str]] = []
    for name, value in msg.items():
        try:
            text = str(value)
        except (LookupError, UnicodeError, ValueError, TypeError):
            text = ""
        pairs.append((str(name), text))
    return pairs


def _domain(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rsplit("@", 1)[1].strip().lower() or None


def _verified(
    msg: Message, sender: str, address: str | None, trusted: Sequence[str], fallback: str
) -> bool | None:
    """The provider's DMARC/DKIM verdict on the configured sender's domain."""
    return sender_verified(
        _header_pairs(msg),
        domain=_domain(sender) or fallback,
        trusted=trusted,
        from_domain=_domain(address),
    )


# --------------------------------------------------------------------------- verdict


def _dedupe(reasons: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(reasons))


def _verdict(
    msg: Message,
    sender: str,
    internaldate: datetime | None,
    allowed_domain: str,
    trusted: Sequence[str],
) -> Verdict:
    address, reasons = _sender(msg, sender)
    verified = _verified(msg, sender, address, trusted, allowed_domain)
    if verified is False:
        reasons.append(REASON_AUTH_FAILED)
    base = Verdict(
        Kind.OTHER,
        received=received_at(_header(msg, "Date"), internaldate),
        message_id=_header(msg, "Message-ID"),
        sender=address,
        subject=_header(msg, "Subject"),
        verified=verified,
    )
    found = _find_reset(msg)
    if found is None:
        return base
    checked: str | None = None
    if found.href is None:
        reasons.append(REASON_NO_LINK)
    else:
        unwrapped, _ = unwrap(found.href)
        checked, link_reasons = check_link(unwrapped, allowed_domain)
        reasons += link_reasons
        if found.truncated:
            reasons.append(REASON_MALFORMED_LINK)
    if reasons or checked is None:
        return replace(
            base,
            kind=Kind.SUSPICIOUS,
            username=found.username,
            url=found.href,
            reasons=_dedupe(reasons),
        )
    return replace(base, kind=Kind.RESET, username=found.username, url=checked)


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
        msg = email.message_from_bytes(bytes(raw), policy=email.policy.compat32)
        return _verdict(msg, sender, internaldate, allowed_domain, trusted_authserv_ids)
    except _RECOVERABLE:
        return Verdict(Kind.OTHER, received=_aware(internaldate))
