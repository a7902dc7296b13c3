"""Fetch only the parts of a message that matter (issue 5: bytes, not whole mails).

From a BODYSTRUCTURE, pick the text parts the parser reads (every
``text/html`` and ``text/plain`` part that is not an attachment nor inside an
attached mail, as :func:`watcher.bodies.text_parts` reads them), and rebuild a
small message from the header fields plus those parts, so
:func:`watcher.parsing.parse_message` decides on it exactly as it would on the
whole mail: the parts must agree there. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from watcher.senders import from_addresses

# The header fields the parser and the sender check need, in the message's own order.
HEADER_FIELDS = (
    "FROM",
    "DATE",
    "MESSAGE-ID",
    "SUBJECT",
    "AUTHENTICATION-RESULTS",
    "RECEIVED",
    "MIME-VERSION",
    "CONTENT-TYPE",
    "CONTENT-TRANSFER-ENCODING",
)
WHOLE_BODY = "TEXT"  # a single-part message: its body, described by the top-level header


@dataclass(frozen=True)
class Leaf:
    section: str
    mime: str  # e.g. "text/html"
    size: int
    attachment: bool = False  # Content-Disposition: attachment (the parser skips those too)
    limit: int | None = None  # fetch at most this many bytes of it (None: all, up to the cap)

    def fetched_bytes(self, cap: int) -> int:
        """How much of the part one FETCH brings, at most ``cap`` bytes."""
        return min(self.size, cap, self.limit if self.limit is not None else cap)


def leaves(structure: Any, path: tuple[int, ...] = ()) -> Iterator[Leaf]:
    """Every non-multipart part, depth first, with its IMAP section number."""
    if not isinstance(structure, tuple | list) or not structure:
        return
    if isinstance(structure[0], list):  # multipart: ([children...], subtype, ...)
        for index, child in enumerate(structure[0], start=1):
            yield from leaves(child, (*path, index))
        return
    kind = _text(structure[0]).lower()
    subtype = _text(structure[1]).lower() if len(structure) > 1 else ""
    size = structure[6] if len(structure) > 6 and isinstance(structure[6], int) else 0
    section = ".".join(str(p) for p in path) if path else WHOLE_BODY
    yield Leaf(section, f"{kind}/{subtype}", size, _is_attachment(structure))


TEXT_MIMES = ("text/html", "text/plain")


def text_parts(structure: Any) -> list[Leaf]:
    """Every part the parser reads, in the message's order (empty: none)."""
    return [leaf for leaf in leaves(structure) if leaf.mime in TEXT_MIMES and not leaf.attachment]


def section_key(section: str) -> tuple[int, ...]:
    """``"1.10"`` after ``"1.2"``: sections in the message's order."""
    return tuple(int(p) for p in section.split(".") if p.isdigit())


def _is_attachment(structure: Sequence[Any]) -> bool:
    """The body disposition (RFC 3501 body-ext-1part), wherever this part's fields put it.

    A disposition is ``(type, parameters-or-NIL)``; a language list such as
    ``("attachment", "es")`` (``Content-Language: attachment, es``) is not one.
    """
    return any(
        isinstance(field, tuple)
        and len(field) == 2
        and (field[1] is None or isinstance(field[1], tuple | list))
        and _text(field[0]).lower() == "attachment"
        for field in structure[7:]
    )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value) if value is not None else ""


def sender_address(header_fields: bytes) -> str | None:
    """The single From address, lower-cased; ``None`` when absent or not exactly one.

    Read as the server splits fields (:func:`watcher.senders.from_addresses`):
    a ``From :`` line that Python's ``email`` drops still counts.
    """
    addresses = from_addresses(header_fields)
    if len(addresses) != 1 or "@" not in addresses[0]:
        return None
    return addresses[0]


_CONTENT_HEADER = re.compile(
    rb"^(content-type|content-transfer-encoding|mime-version)\s*:", re.IGNORECASE
)


def assemble(header_fields: bytes, fetched: Sequence[tuple[bytes | None, bytes]]) -> bytes:
    """A message made of the fetched header fields and its text parts.

    ``fetched`` holds ``(BODY[n.MIME], BODY[n])`` per part, in order. A
    single-part mail (``BODY[TEXT]``, no MIME header of its own) keeps its
    header as it is. Otherwise the top-level ``Content-Type`` is replaced: by
    the one part's own MIME header, or by a ``multipart/mixed`` holding them all.
    """
    head = header_fields.rstrip(b"\r\n").split(b"\r\n") if header_fields.strip() else []
    if len(fetched) == 1 and fetched[0][0] is None:
        return b"\r\n".join(head) + b"\r\n\r\n" + fetched[0][1]
    head = [*_without_content_headers(head), b"MIME-Version: 1.0"]
    if len(fetched) == 1:
        mime, body = fetched[0]
        head += (mime or b"").rstrip(b"\r\n").split(b"\r\n")
        return b"\r\n".join(head) + b"\r\n\r\n" + body
    boundary = _boundary([body for _, body in fetched])
    head.append(b'Content-Type: multipart/mixed; boundary="' + boundary + b'"')
    out = [b"\r\n".join(head), b""]
    for mime, body in fetched:
        out += [b"--" + boundary, (mime or b"").rstrip(b"\r\n"), b"", body]
    out.append(b"--" + boundary + b"--")
    return b"\r\n".join(out) + b"\r\n"


def _boundary(bodies: Sequence[bytes]) -> bytes:
    """A boundary that occurs in none of ``bodies`` (RFC 2046, section 5.1.1)."""
    n = 0
    while any(b"secop-watcher-%d" % n in body for body in bodies):
        n += 1
    return b"=_secop-watcher-%d" % n


def _without_content_headers(lines: Sequence[bytes]) -> list[bytes]:
    kept: list[bytes] = []
    skipping = False
    for line in lines:
        if line[:1] in (b" ", b"\t"):  # a folded continuation of the previous field
            if not skipping:
                kept.append(line)
            continue
        skipping = bool(_CONTENT_HEADER.match(line))
        if not skipping:
            kept.append(line)
    return kept
