"""Fetch only the part of a message that matters (issue 5: bytes, not whole mails).

From a BODYSTRUCTURE, pick the one text part the parser reads (HTML first,
else plain text), and rebuild a small message from the header fields plus
that part, so :func:`watcher.parsing.parse_message` sees what it would see
in the whole mail. Pure functions, no I/O.
"""

from __future__ import annotations

import email
import email.utils
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

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


def text_part(structure: Any) -> Leaf | None:
    """The HTML part, else the plain-text part; ``None`` when there is neither."""
    found = list(leaves(structure))
    for wanted in ("text/html", "text/plain"):
        for leaf in found:
            if leaf.mime == wanted and not leaf.attachment:
                return leaf
    return None


def _is_attachment(structure: Sequence[Any]) -> bool:
    """The body disposition (RFC 3501 body-ext-1part), wherever this part's fields put it."""
    return any(
        isinstance(field, tuple) and field and _text(field[0]).lower() == "attachment"
        for field in structure[7:]
    )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value) if value is not None else ""


def sender_address(header_fields: bytes) -> str | None:
    """The single From address, lower-cased; ``None`` when absent or not exactly one."""
    message = email.message_from_bytes(header_fields)
    values = message.get_all("From") or []
    addresses = [addr for _name, addr in email.utils.getaddresses([str(v) for v in values])]
    if len(addresses) != 1 or "@" not in addresses[0]:
        return None
    return addresses[0].strip().lower()


_CONTENT_HEADER = re.compile(
    rb"^(content-type|content-transfer-encoding|mime-version)\s*:", re.IGNORECASE
)


def assemble(header_fields: bytes, part_mime: bytes | None, body: bytes) -> bytes:
    """A message made of the fetched header fields and one part.

    For a multipart mail the top-level ``Content-Type: multipart/...`` is
    replaced by the part's own MIME header (``BODY[n.MIME]``); a single-part
    mail keeps its header as it is.
    """
    head = header_fields.rstrip(b"\r\n").split(b"\r\n") if header_fields.strip() else []
    if part_mime is not None:
        head = _without_content_headers(head)
        head += [b"MIME-Version: 1.0", *part_mime.rstrip(b"\r\n").split(b"\r\n")]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


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
