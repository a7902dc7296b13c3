"""What the server answered, decoded: envelopes, parts, whole messages, searches.

Pure functions over imapclient's parsed answers (no socket): a broken answer
raises ``ValueError`` (a :class:`~watcher.errors.ProtocolError` for the user),
an unsolicited one (another client changing flags) is skipped.
"""

from __future__ import annotations

import imaplib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from imapclient import IMAPClient

from watcher import parts
from watcher.folders import ListEntry
from watcher.mail import adapter
from watcher.mail.pipeline import Answer

Batch = dict[int, tuple[parts.Leaf, ...]]  # UID → the parts asked for, in the message's order


@dataclass(frozen=True)
class RawMessage:
    uid: int
    internaldate: datetime | None
    size: int
    data: bytes
    truncated: bool


@dataclass(frozen=True)
class Envelope:
    uid: int
    internaldate: datetime | None
    size: int
    headers: bytes
    structure: Any
    raw: bytes | None = None  # the whole message, when it was asked for and came complete

    @cached_property
    def sender(self) -> str | None:
        """The From address (parsed once: a check asks several times per message)."""
        return parts.sender_address(self.headers)


@dataclass(frozen=True)
class Part:
    section: str  # "1.2", or parts.WHOLE_BODY
    mime: bytes | None  # the part's own MIME header; None for a single-part mail
    body: bytes
    truncated: bool


@dataclass
class FolderScan:
    """One folder's part of a check: its UID state and the candidates' envelopes."""

    folder: str
    uidvalidity: int
    uidnext: int
    envelopes: list[Envelope]


def saved_search(client: IMAPClient, answer: Answer) -> None:
    adapter.check_ok(client, "search", answer.typ, answer.data)
    if answer.untagged.get("SEARCH"):
        # RFC 5182: with RETURN (SAVE) alone the server MUST NOT answer SEARCH.
        raise imaplib.IMAP4.error("SEARCH results where none were asked for")


def hits(client: IMAPClient, answer: Answer, min_uid: int | None) -> list[int]:
    """UIDs of a plain UID SEARCH, none below ``min_uid`` (whatever the server answered)."""
    adapter.check_ok(client, "search", answer.typ, answer.data)
    uids = sorted(int(u) for u in adapter.parse_message_list(answer.untagged.get("SEARCH", [])))
    return [u for u in uids if min_uid is None or u >= min_uid]


def fetched_envelopes(client: IMAPClient, answer: Answer, asked: set[int] | None) -> list[Envelope]:
    adapter.check_ok(client, "fetch", answer.typ, answer.data)
    data = answer.untagged.get("FETCH", [])
    found = read_envelopes(adapter.parse_fetch_response(data, client.normalise_times, True))
    return [e for e in found if asked is None or e.uid in asked]


def parts_from(
    client: IMAPClient, answers: Sequence[Answer], asked: Batch
) -> dict[int, list[Part]]:
    """The parts of one folder's FETCH commands, taken by UID from all their answers.

    Servers may run pipelined FETCHes of one folder at once (Dovecot does): an
    untagged answer can arrive before the tagged end of an earlier command.
    Every UID is asked for by one command only, so the UID tells whose it is.
    """
    data: list[Any] = []
    for answer in answers:
        adapter.check_ok(client, "fetch", answer.typ, answer.data)
        data += answer.untagged.get("FETCH", [])
    response = adapter.parse_fetch_response(data, client.normalise_times, True)
    return {
        int(uid): [_part(int(uid), leaf.section, item, leaf.size) for leaf in asked[int(uid)]]
        for uid, item in response.items()
        if int(uid) in asked  # not an unsolicited FETCH (flags changed by another client)
    }


def number(info: Mapping[bytes, Any], key: bytes) -> int:
    value = info.get(key, 0)
    return value if isinstance(value, int) else 0


def listing(folders: Iterable[tuple[Any, Any, Any]]) -> list[ListEntry]:
    """LIST's answer as (flags, delimiter, decoded name); a name listed twice counts once."""
    out: dict[str, ListEntry] = {}
    for flags, d, n in folders:
        entry = (tuple(as_bytes(f) for f in flags), d if isinstance(d, bytes) else None, str(n))
        out.setdefault(entry[2], entry)
    return list(out.values())


def _item(item: dict[bytes, Any], prefix: bytes) -> Any:
    """A FETCH item by the start of its name (servers echo names in their own spelling)."""
    for key, value in item.items():
        if isinstance(key, bytes) and key.upper().startswith(prefix):
            return value
    return None


def _bytes_item(uid: int, value: Any, what: str) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, bytes):  # e.g. a number: never ``bytes(n)``
        raise ValueError(f"{what} of UID {uid} is a {type(value).__name__}")
    return value


def read_envelopes(response: dict[int, dict[bytes, Any]]) -> list[Envelope]:
    """The answers to what was asked. An unsolicited ``* n FETCH (FLAGS ...)`` (another
    client marking mail read) is skipped; any other answer without the structure asked
    for is a broken server."""
    envelopes = []
    for uid, item in sorted(response.items()):
        if b"BODYSTRUCTURE" in item:
            envelopes.append(_envelope(uid, item))
        elif set(item) - _UNSOLICITED:
            raise ValueError(f"FETCH answer for {uid} without the structure asked for")
    return envelopes


_UNSOLICITED = {b"SEQ", b"FLAGS", b"MODSEQ"}


def _size_and_date(uid: int, item: dict[bytes, Any]) -> tuple[int | None, datetime | None]:
    """RFC822.SIZE (a number, or absent) and INTERNALDATE (None unless a date) of one answer."""
    size = item.get(b"RFC822.SIZE")
    if size is not None and not isinstance(size, int):
        raise ValueError(f"RFC822.SIZE of UID {uid} is not a number")
    internal = item.get(b"INTERNALDATE")
    return size, internal if isinstance(internal, datetime) else None


def _envelope(uid: int, item: dict[bytes, Any]) -> Envelope:
    size, internal = _size_and_date(uid, item)
    whole = _item(item, b"BODY[]")
    complete = isinstance(whole, bytes) and size is not None and len(whole) >= size
    return Envelope(
        uid=int(uid),
        internaldate=internal,
        size=size or 0,
        headers=_bytes_item(uid, _item(item, b"BODY[HEADER.FIELDS"), "header"),
        structure=item.get(b"BODYSTRUCTURE"),
        raw=whole if complete else None,
    )


def _part(uid: int, section: str, item: dict[bytes, Any], size: int) -> Part:
    body = _bytes_item(uid, _item(item, f"BODY[{section}]".encode()), "part")
    mime = None
    if section != parts.WHOLE_BODY:
        mime = _bytes_item(uid, _item(item, f"BODY[{section}.MIME]".encode()), "part header")
    return Part(section=section, mime=mime, body=body, truncated=size > len(body))


def is_change(response: object) -> bool:
    """EXISTS (new mail) or RECENT in an IDLE response."""
    return (
        isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")
    )


def raw_message(uid: int, item: dict[bytes, Any]) -> RawMessage:
    data = item.get(b"BODY[]<0>", item.get(b"BODY[]")) or b""
    if not isinstance(data, bytes):  # e.g. a number: ``bytes(2000000000)`` would be 2 GB
        raise ValueError(f"message body of UID {uid} is a {type(data).__name__}")
    size, internal = _size_and_date(uid, item)
    return RawMessage(
        uid=int(uid),
        internaldate=internal,
        size=len(data) if size is None else size,
        data=data,
        truncated=size is not None and size > len(data),
    )


def as_bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")


def text(value: object) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def status_uidnext(answer: Answer) -> int:
    """UIDNEXT from a STATUS answer; 0 when refused or absent."""
    return status_number(answer, b"UIDNEXT")


def status_number(answer: Answer, item: bytes) -> int:
    """One number from a STATUS answer (``UIDNEXT``, ``MESSAGES``); 0 when refused or absent."""
    if not answer.ok:
        return 0
    pattern = re.compile(rb"\b" + re.escape(item) + rb"\s+(\d+)", re.IGNORECASE)
    for line in answer.untagged.get("STATUS", []):
        data = line if isinstance(line, bytes) else b""
        if isinstance(line, tuple):  # a literal folder name: (b'* STATUS {5}', b'INBOX'), b' (…)'
            data = b" ".join(p for p in line if isinstance(p, bytes))
        if match := pattern.search(data):
            return int(match.group(1))
    return 0
