"""The reset link in plain text, as a mail client shows it and links it.

- ``format=flowed`` (RFC 3676) is undone first: a line ending in a space
  continues on the next line (``DelSp=yes``: that space is not text), quote
  marks and space-stuffing are removed, and ``-- `` stays a signature line.
- A URL in angle brackets may be wrapped across lines; the whitespace inside
  ``<…>`` is not part of it (RFC 3986, appendix C).
- A bare URL that reaches the end of a long line and seems to go on at the
  start of the next may have been cut by a hard wrap: which link was meant
  cannot be known, so it is reported as wrapped, never handed over.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from watcher.phrase import after_phrase, clean_word

__all__ = ["TextReset", "find_reset", "unflow"]

_TEXT_RESET = re.compile(
    r"\s*(?:de\s+usuario\b[ \t:]*(?P<user>(?!https?://)[^\s<>]+)?)?"
    r"[\s:;,.\-–—(\[]*(?P<open><)?(?P<url>https?://[^\s<>\"']+)?",
    re.IGNORECASE,
)
_BRACKETED = re.compile(r"<\s*(https?://[^<>]*?)\s*>", re.IGNORECASE | re.DOTALL)
_URL_TRAILING_PUNCT = ".,:;!?)]}"
_WRAP_COLUMNS = 60  # a line this long may have been hard-wrapped (RFC 5322 suggests 78)
_URL_RUN = re.compile(r"[A-Za-z0-9\-._~%!$&'*+,;=:@/?#]+")
_OPEN_ENDED = tuple("=&?/%-_+")  # a URL rarely ends with these; a cut one often does
_SIGNATURE = "-- "


@dataclass(frozen=True)
class TextReset:
    """The reset phrase was seen in the text; what came with it."""

    url: str | None
    username: str | None
    truncated: bool = False  # the text ends inside the URL, or its ``<`` is never closed
    wrapped: bool = False  # a bare URL that a hard wrap may have cut


def unflow(text: str, *, delsp: bool = False) -> str:
    """``format=flowed`` text back to its paragraphs (RFC 3676, section 4)."""
    out: list[str] = []
    pending: str | None = None  # a flowed line waiting for its continuation
    pending_depth = 0
    for raw in text.splitlines():
        depth = len(raw) - len(raw.lstrip(">"))
        line = raw[depth:]
        if line.startswith(" "):  # space-stuffed
            line = line[1:]
        if pending is not None and depth != pending_depth:
            out.append(pending)  # a quote-depth change ends a paragraph
            pending = None
        if pending is not None:
            line = pending + line
            pending = None
        if line.endswith(" ") and line != _SIGNATURE:
            pending, pending_depth = (line[:-1] if delsp else line), depth
            continue
        out.append(line)
    if pending is not None:
        out.append(pending)
    ending = "\n" if text.endswith(("\n", "\r")) else ""  # a link on the last line ends there
    return "\n".join(out) + ending


def _join_bracketed(text: str) -> str:
    return _BRACKETED.sub(lambda m: "<" + "".join(m.group(1).split()) + ">", text)


def _maybe_wrapped(rest: str, url: str, end: int) -> bool:
    """The URL ends a long line and the next line may go on with it.

    It may when the next line starts with URL characters and either the URL
    ends open (``=``, ``&``, ``/`` …) or that run is not a plain word (it has a
    digit or a URL sign: ``W6kRy1``, ``Index?token=…``). A URL ending in a full
    stop, or followed by a word such as "Gracias", is taken as complete.
    """
    if rest[end : end + 1] not in ("\r", "\n") or url[-1:] in _URL_TRAILING_PUNCT:
        return False
    line_start = rest.rfind("\n", 0, end) + 1
    if end - line_start < _WRAP_COLUMNS:
        return False
    after = rest[end:].lstrip("\r")
    run = _URL_RUN.match(after[1:] if after.startswith("\n") else "")
    if run is None:
        return False
    return url.endswith(_OPEN_ENDED) or not run.group().isalpha()


def find_reset(text: str) -> TextReset | None:
    """The phrase, the name after "de usuario" and the URL right after them.

    The URL must come right after the phrase and the name (next line or in
    ``<...>`` is fine): taking *any* later URL would pick up the login-page
    link of a mail whose reset link is missing.
    """
    rest = after_phrase(_join_bracketed(text))
    if rest is None:
        return None
    match = _TEXT_RESET.match(rest)
    if match is None:  # pragma: no cover - every group of the pattern is optional
        return TextReset(None, None)
    username = clean_word(match.group("user") or "")
    if match.group("url") is None:
        return TextReset(None, username)
    end = match.end("url")
    bracketed = match.group("open") is not None
    unterminated = end == len(rest) or (bracketed and rest[end : end + 1] != ">")
    url = match.group("url")
    wrapped = not bracketed and _maybe_wrapped(rest, url, end)
    if not bracketed:
        url = url.rstrip(_URL_TRAILING_PUNCT)
    return TextReset(url, username, truncated=unterminated, wrapped=wrapped)
