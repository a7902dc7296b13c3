"""Reading mail on a session: search and envelopes, text parts, whole messages.

Everything is pipelined where IMAP allows it, and every body is fetched with
``BODY.PEEK`` (never sets ``\\Seen``). Answers are capped to what was asked
for (:func:`watcher.mail.transport.budget`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

from watcher import parts
from watcher.mail import adapter, answers, requests
from watcher.mail.answers import Batch, Envelope, FolderScan, Part, RawMessage
from watcher.mail.learned import NO_UIDNEXT
from watcher.mail.pipeline import Answer, Pipeline
from watcher.mail.transport import MAX_LITERAL_BYTES, MAX_MESSAGE_BYTES, budget

if TYPE_CHECKING:
    from watcher.mail.session import ImapSession


def scan(
    session: ImapSession,
    folders: Sequence[str],
    sender: str,
    since: date,
    min_uids: Mapping[str, int | None] | None = None,
    *,
    examine: bool = True,
) -> list[FolderScan]:
    """EXAMINE, search and fetch the envelopes of several folders, pipelined.

    With SEARCHRES (RFC 5182) every folder's ``EXAMINE``, ``UID SEARCH
    RETURN (SAVE)`` and ``UID FETCH $`` go out in one write: one round
    trip for all folders. Without it, the searches go out together, then
    the fetches: two. ``examine=False`` searches the selected folder as it
    is (an IDLE connection that just saw mail arrive: examining it again
    would make the server re-read a big folder for nothing); its UIDNEXT
    is then unknown (0). On a server whose EXAMINE gives no UIDNEXT
    (Courier; learned the first time, :data:`~watcher.mail.learned.NO_UIDNEXT`)
    STATUS goes before each EXAMINE in the same write: a lower bound, taken
    before the search. The first time it stays unknown (0), which is safe:
    the cursor then comes from the candidates' UIDs.
    """
    if not examine and list(folders) != [session.selected]:
        raise ValueError(f"examine=False needs the selected folder, not {folders}")
    min_uids = min_uids or {}
    searchres = "SEARCHRES" in session.capabilities()
    client = session.client
    status_first = examine and session.notes.knows(session.config, NO_UIDNEXT)
    pipe = session.pipeline()
    for folder in folders:
        if status_first:
            pipe.add("STATUS", adapter.normalise_folder(client, folder), "(UIDNEXT)")
        if examine:
            pipe.add("EXAMINE", adapter.normalise_folder(client, folder))
        terms = requests.criteria(sender, since, min_uids.get(folder))
        if searchres:
            pipe.add("UID", "SEARCH", "RETURN", "(SAVE)", *terms)
            pipe.add("UID", "FETCH", "$", requests.envelope_items(whole=not examine))
        else:
            pipe.add("UID", "SEARCH", *terms)
    scans: list[FolderScan] = []
    found: dict[str, list[int]] = {}
    with session.guard(), budget(client, len(folders) * requests.ENVELOPE_PIPELINE_BUDGET):
        pending = pipe.run()
        for folder in folders:
            before = answers.status_uidnext(next(pending)) if status_first else 0
            if examine:
                info = session.examined(folder, next(pending))
                if not answers.number(info, b"UIDNEXT"):
                    info[b"UIDNEXT"] = before
                    session.notes.note(session.config, NO_UIDNEXT)
            else:
                info = {b"UIDVALIDITY": session.validity(folder)}
            envelopes: list[Envelope] = []
            if searchres:
                answers.saved_search(client, next(pending))
                envelopes = answers.fetched_envelopes(client, next(pending), None)
            else:
                found[folder] = answers.hits(client, next(pending), min_uids.get(folder))
            low = min_uids.get(folder)
            kept = [e for e in envelopes if low is None or e.uid >= low]
            uidvalidity = answers.number(info, b"UIDVALIDITY")
            scans.append(FolderScan(folder, uidvalidity, answers.number(info, b"UIDNEXT"), kept))
    if not searchres:
        _fetch_envelopes_of(session, scans, found)
    return scans


def _fetch_envelopes_of(
    session: ImapSession, scans: list[FolderScan], found: dict[str, list[int]]
) -> None:
    """Without SEARCHRES: every folder's envelope FETCH in one write, the folder
    examined last first (no second EXAMINE for it)."""
    order = [s for s in reversed(scans) if found.get(s.folder)]
    if not order:
        return
    pipe = session.pipeline()
    examine = _Examiner(session, pipe)
    for s in order:
        examine.queue(s.folder)
        pipe.add("UID", "FETCH", requests.uid_set(found[s.folder]), requests.envelope_items())
    asked = sum(len(found[s.folder]) for s in order)
    with session.guard(), budget(session.client, asked * requests.ENVELOPE_BUDGET):
        pending = pipe.run()
        for s in order:
            examine.read(s.folder, pending)
            wanted = set(found[s.folder])
            s.envelopes.extend(answers.fetched_envelopes(session.client, next(pending), wanted))


def fetch(session: ImapSession, uids: Sequence[int]) -> Iterator[RawMessage]:
    """Whole messages (capped at ``MAX_MESSAGE_BYTES``) with BODY.PEEK: never sets \\Seen.

    A few at a time (:data:`~watcher.mail.requests.FETCH_BATCH`), so that however
    many candidates there are, only one batch of bodies is in memory.
    """
    body = f"BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>"
    for start in range(0, len(uids), requests.FETCH_BATCH):
        batch = list(uids[start : start + requests.FETCH_BATCH])
        with session.guard():
            session.leave_idle()
            with budget(session.client, len(batch) * MAX_LITERAL_BYTES):
                response = session.client.fetch(batch, ["INTERNALDATE", "RFC822.SIZE", body])
            session.note_leftovers()
            messages = [answers.raw_message(uid, item) for uid, item in sorted(response.items())]
        yield from messages


def fetch_parts_in(
    session: ImapSession, wanted: Mapping[str, Sequence[tuple[int, parts.Leaf]]]
) -> dict[str, dict[int, list[Part]]]:
    """The text parts of each message, in several folders, in one write.

    The selected folder goes first (no EXAMINE for it). Within a folder,
    messages are grouped by their text parts' section numbers (mails from
    one sender share a structure, so usually one FETCH for all their
    parts) and by size, so that one answer stays within the response
    budget plus what was asked for. Each message's parts come back in the
    message's order.
    """
    folders = sorted((f for f in wanted if wanted[f]), key=lambda f: f != session.selected)
    if not folders:
        return {}
    pipe = session.pipeline()
    examine = _Examiner(session, pipe)
    plan: list[tuple[str, list[Batch]]] = []
    asked = 0
    for folder in folders:
        examine.queue(folder)
        batches = []
        for shape, batch in requests.batches(wanted[folder]):
            pipe.add("UID", "FETCH", requests.uid_set(batch), requests.part_items(shape))
            batches.append(batch)
            asked += sum(
                leaf.fetched_bytes(MAX_MESSAGE_BYTES) + requests.ENVELOPE_BUDGET
                for leaves in batch.values()
                for leaf in leaves
            )
        plan.append((folder, batches))
    out: dict[str, dict[int, list[Part]]] = {f: {} for f in folders}
    with session.guard(), budget(session.client, asked):
        pending = pipe.run()
        for folder, batches in plan:
            examine.read(folder, pending)
            got = [next(pending) for _ in batches]
            asked_for = {uid: leaves for batch in batches for uid, leaves in batch.items()}
            out[folder] = answers.parts_from(session.client, got, asked_for)
    return out


class _Examiner:
    """EXAMINE in a pipeline only where the folder is not already the selected one.

    :meth:`queue` is called while building the pipeline and :meth:`read`
    with the answers, in the same order of folders.
    """

    def __init__(self, session: ImapSession, pipe: Pipeline) -> None:
        self._session = session
        self._pipe = pipe
        self._current = session.selected
        self._queued: list[bool] = []

    def queue(self, folder: str) -> None:
        needed = folder != self._current
        if needed:
            self._pipe.add("EXAMINE", adapter.normalise_folder(self._session.client, folder))
            self._current = folder
        self._queued.append(needed)

    def read(self, folder: str, pending: Iterator[Answer]) -> None:
        if self._queued.pop(0):
            self._session.examined(folder, next(pending))
