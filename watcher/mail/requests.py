"""What to ask the server: search criteria and FETCH items. Pure: text in, text out.

Only atoms and quoted strings (no 8-bit, so no literal and no continuation
is ever needed); every body part with ``BODY.PEEK``, so nothing is marked read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta

from watcher import parts
from watcher.mail.answers import Batch
from watcher.mail.transport import MAX_MESSAGE_BYTES, RESPONSE_BUDGET_BYTES

FETCH_BATCH = 4  # messages per FETCH: at most ~4 capped bodies in memory at once
ENVELOPE_BUDGET = 64 * 1024  # header fields and structure of one message, generously
# SEARCH + FETCH $ of one folder, the count unknown ahead: with the usual budget, 4 × in all
ENVELOPE_PIPELINE_BUDGET = 3 * RESPONSE_BUDGET_BYTES


MAX_UID = 4294967295  # RFC 3501: a UID is a 32-bit unsigned number


def criteria(sender: str, since: date, min_uid: int | None) -> list[str]:
    """The search, as IMAP atoms and quoted strings (no 8-bit: no literals needed).

    Mail from ``sender`` or from anything claiming "secop": the broad term also
    catches look-alike senders, so they are reported as suspicious instead of
    silently ignored. ``min_uid`` limits it to new mail.

    By the ``Date:`` header (SENTSINCE, a day early for clocks and slow
    relays) rather than by arrival (SINCE): servers keep the sent date in
    their index, while SINCE made Dovecot read the arrival time of every
    file, 259 ms against 76 ms in a 100,000-message Maildir. A mail with no
    ``Date:`` or an unreadable one counts as sent in 1970 for the server,
    hence ``SENTBEFORE 2-Jan-1970``: it is still found. A mail whose
    ``Date:`` lies more than ``lookback_days`` + 1 in the past is not: its
    link, if real, expired long ago.
    """
    sent = (since - timedelta(days=1)).strftime("%d-%b-%Y")
    terms = ["OR", "SENTSINCE", sent, "SENTBEFORE", "2-Jan-1970"]
    terms += ["OR", "FROM", quoted(sender), "FROM", "secop"]
    if min_uid is not None:
        # Not ``n:*``: with n above the last UID that means "the last one" (RFC 3501 §9).
        terms = ["UID", f"{min_uid}:{MAX_UID}", *terms]
    return terms


def quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'.encode("ascii", "replace").decode("ascii")


def uid_set(uids: Iterable[int]) -> str:
    return ",".join(str(u) for u in sorted(uids))


def header_fields_item() -> str:
    return f"BODY.PEEK[HEADER.FIELDS ({' '.join(parts.HEADER_FIELDS)})]"


def envelope_items(*, whole: bool = False) -> str:
    """Step 1's items; ``whole`` adds the message itself, up to :data:`PUSH_BODY_BYTES`."""
    body = f" BODY.PEEK[]<0.{PUSH_BODY_BYTES}>" if whole else ""
    return f"(INTERNALDATE RFC822.SIZE BODYSTRUCTURE {header_fields_item()}{body})"


# After an IDLE push the new mail is usually one message of a few KB: fetched whole with
# its envelope, it needs no second round trip for its text part. Larger ones take that trip.
PUSH_BODY_BYTES = 64 * 1024


Shape = tuple[tuple[str, int | None], ...]  # (section, byte limit) of each part asked for


def batches(wanted: Sequence[tuple[int, parts.Leaf]]) -> Iterator[tuple[Shape, Batch]]:
    """Messages asked for the same parts (sections and limits), in batches whose answers
    fit the budget."""
    by_uid: dict[int, list[parts.Leaf]] = {}
    for uid, leaf in wanted:
        by_uid.setdefault(uid, []).append(leaf)
    by_shape: dict[Shape, Batch] = {}
    for uid, found in sorted(by_uid.items()):
        leaves = tuple(sorted(found, key=lambda leaf: parts.section_key(leaf.section)))
        shape = tuple((leaf.section, leaf.limit) for leaf in leaves)
        by_shape.setdefault(shape, {})[uid] = leaves
    for shape, items in sorted(by_shape.items(), key=lambda kv: str(kv[0])):
        batch: Batch = {}
        total = 0
        for uid, leaves in items.items():
            size = sum(leaf.fetched_bytes(MAX_MESSAGE_BYTES) for leaf in leaves)
            if batch and total + size > RESPONSE_BUDGET_BYTES:
                yield shape, batch
                batch, total = {}, 0
            batch[uid] = leaves
            total += size
        if batch:
            yield shape, batch


def part_items(shape: Shape) -> str:
    items = []
    for section, limit in shape:
        if section != parts.WHOLE_BODY:
            items.append(f"BODY.PEEK[{section}.MIME]")
        items.append(
            f"BODY.PEEK[{section}]<0.{min(limit or MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES)}>"
        )
    return f"({' '.join(items)})"
