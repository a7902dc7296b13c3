"""Every text part of a mail, read for the reset link as a mail client shows it.

Each text part the reader can see (``text/html`` and ``text/plain``, not an
attachment, not inside an attached mail) gives its *candidates*: each reset
anchor of an HTML part, or the reset phrase with the URL after it in the
text. :func:`watcher.parsing.parse_message` then asks them to agree. Pure
functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from bs4.element import NavigableString, Tag

from watcher import encoding, htmlbody, plaintext, urls
from watcher.phrase import after_phrase, clean_word, collapse, starts_with_phrase

__all__ = ["Candidate", "candidates", "text_parts"]

_AFTER_ANCHOR_STRINGS = 20  # how far past an anchor ending in "de usuario" to look
_USER_AFTER = re.compile(r"\s*de\s+usuario\b[\s:]*(?P<rest>.*)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Candidate:
    """One place in the mail that offers the reset link."""

    source: str  # "html" (an anchor), "html-text" (visible text) or "text"
    href: str | None  # as written (None: the phrase came without a link)
    url: str | None  # where a browser goes: ``href`` resolved (None: not a URL)
    username: str | None
    hidden: bool = False  # an anchor the reader cannot see
    truncated: bool = False  # the part ends inside the URL
    wrapped: bool = False  # a bare URL a hard wrap may have cut
    query_encoding: str = encoding.UTF8  # the document's, for the query of ``href``


@dataclass(frozen=True)
class TextPart:
    subtype: str  # "html" or "plain"
    text: str  # as a browser decodes it: where the links come from
    reading: str  # as its writer meant it: where words and names come from
    encoding: str  # the Encoding Standard's name ``text`` was decoded with
    flowed: bool = False
    delsp: bool = False


def _leaves(part: Message) -> Iterator[Message]:
    """Non-multipart parts, depth first; an attached mail (``message/*``) is not entered."""
    if part.get_content_maintype() == "message":
        return
    if part.is_multipart():
        payload = part.get_payload()
        for child in payload if isinstance(payload, list) else ():
            if isinstance(child, Message):
                yield from _leaves(child)
        return
    yield part


def text_parts(msg: Message) -> Iterator[TextPart]:
    """The decoded ``text/html`` and ``text/plain`` parts a reader sees, in order."""
    for part in _leaves(msg):
        subtype = part.get_content_subtype()
        if part.get_content_maintype() != "text" or subtype not in ("html", "plain"):
            continue
        if part.get_content_disposition() == "attachment":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        html = subtype == "html"
        declared = part.get_content_charset()
        text, name = encoding.decode(payload, declared, html=html)
        reading = encoding.for_reading(payload, declared, html=html)
        flowed = str(part.get_param("format") or "").lower() == "flowed"
        delsp = str(part.get_param("delsp") or "").lower() == "yes"
        yield TextPart(subtype, text, reading, name, flowed and not html, delsp)


# --------------------------------------------------------------------------- HTML


def _following_text(anchor: Tag) -> str:
    """Text right after ``anchor`` (not inside it), whitespace collapsed."""
    pieces: list[str] = []
    for element in anchor.next_elements:
        if len(pieces) >= _AFTER_ANCHOR_STRINGS:
            break
        if type(element) is NavigableString and anchor not in element.parents:
            pieces.append(str(element))
    return collapse(" ".join(pieces))


def _anchor_username(anchor: htmlbody.Anchor, text: str) -> str | None:
    match = _USER_AFTER.match(after_phrase(text) or "")
    if match and match.group("rest").strip():
        return clean_word(collapse(match.group("rest")))
    following = _following_text(anchor.element)
    if match:  # the anchor ends at "de usuario": the name follows it
        words = following.split()
        return clean_word(words[0]) if words else None
    match = _USER_AFTER.match(following)
    if match and match.group("rest").split():
        return clean_word(match.group("rest").split()[0])
    return None


def _html_candidates(part: TextPart) -> list[Candidate]:
    """Links from the tree of the browser's decoding, words from the writer's.

    Both decodings are ASCII-compatible, so their trees have the same anchors
    in the same order; only the text inside differs.
    """
    document = htmlbody.read(part.text)
    reading = document if part.reading == part.text else htmlbody.read(part.reading)
    if len(reading.anchors) != len(document.anchors):  # pragma: no cover - see above
        reading = document
    query = encoding.query_encoding(part.encoding)
    found = []
    for anchor, read in zip(document.anchors, reading.anchors, strict=True):
        text = collapse(read.text)
        if not starts_with_phrase(text):
            continue
        href = anchor.href if anchor.href is not None and urls.strip_controls(anchor.href) else None
        url = urls.resolve(href, query) if href is not None else None
        username = _anchor_username(read, text)
        found.append(Candidate("html", href, url, username, anchor.hidden, query_encoding=query))
    if found:
        return found
    # A document that ends mid-text may be cut short: its last URL is then unterminated
    # (the line breaks the parser adds when it closes the open blocks do not end it).
    visible = reading.visible_text()
    if part.reading.rstrip().endswith(">"):
        visible += "\n"
    else:
        visible = visible.rstrip()
    return _text_candidates(visible, "html-text")


# --------------------------------------------------------------------------- text


def _text_candidates(text: str, source: str) -> list[Candidate]:
    found = plaintext.find_reset(text)
    if found is None:
        return []
    url = urls.resolve(found.url) if found.url is not None else None
    return [
        Candidate(
            source,
            found.url,
            url,
            found.username,
            truncated=found.truncated,
            wrapped=found.wrapped,
        )
    ]


def candidates(part: TextPart) -> list[Candidate]:
    """Every offer of the reset link in one text part, in document order."""
    if part.subtype == "html":
        return _html_candidates(part)
    text = plaintext.unflow(part.reading, delsp=part.delsp) if part.flowed else part.reading
    return _text_candidates(text, "text")
