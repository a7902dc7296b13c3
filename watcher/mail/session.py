"""A logged-in, read-only IMAP session: the folders, EXAMINE, and IDLE with a liveness check.

Folders are opened with EXAMINE only; messages are read with ``BODY.PEEK``
(:mod:`watcher.mail.scanning`). A broken connection is dropped, not politely
logged out of (which would wait for the same dead server again).

A connection can die without a word (a NAT mapping dropped, a Wi-Fi change):
nothing is closed and nothing gets through. While IDLE waits, a server that
has said nothing for :data:`LIVENESS_SECONDS` is asked to end the IDLE, and
must answer within :data:`PROBE_SECONDS`; otherwise the connection counts as
dropped, and the caller reconnects.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from watcher import parts
from watcher.config import ImapConfig
from watcher.folders import ListEntry
from watcher.mail import adapter, answers, login, scanning
from watcher.mail.answers import FolderScan, Part, RawMessage
from watcher.mail.errors import translate_errors
from watcher.mail.learned import NO_UIDNEXT, NOTES, ServerNotes
from watcher.mail.pipeline import Answer, Pipeline

log = logging.getLogger(__name__)

LIVENESS_SECONDS = 75.0  # silence during IDLE after which the server must prove it is there
PROBE_SECONDS = 20.0  # how long it has to answer DONE (capped by timeout_seconds)


class ImapSession:
    """A logged-in, read-only IMAP connection."""

    def __init__(
        self,
        client: IMAPClient,
        imap: ImapConfig,
        listing: list[ListEntry] | None = None,
        notes: ServerNotes = NOTES,
    ) -> None:
        self.client = client
        self.config = imap
        self.notes = notes  # what this server was seen to do wrong (watcher.mail.learned)
        self._interrupted = False
        self._listing = listing  # LIST's answer, read along with LOGIN's
        self.selected: str | None = None
        self._validity: dict[str, int] = {}  # UIDVALIDITY of each folder examined
        self.idling = False  # IDLE reported a change and was left running (see idle_wait)
        # How often the selected folder was seen to grow, in any answer: the server
        # announces a new mail once (EXISTS), on whichever command happens to be running
        # when it arrives. Compared, not reset: see FolderIdler.
        self.arrivals = 0
        self._exists: int | None = None  # the folder's message count as last announced
        self.probes = 0  # liveness checks during IDLE (for tests and the idle-cost benchmark)

    @classmethod
    def open(cls, imap: ImapConfig, password: str, notes: ServerNotes = NOTES) -> ImapSession:
        """Connect, log in and list the folders (LOGIN and LIST in one write where the
        server allows it)."""
        return cls._open(imap, lambda client: login.login(client, imap, password, notes), notes)

    @classmethod
    def open_oauth(cls, imap: ImapConfig, token: str) -> ImapSession:
        """Connect and sign in with an OAuth2 access token (OAUTHBEARER or XOAUTH2)."""
        return cls._open(imap, lambda client: login.authenticate(client, imap, token))

    @classmethod
    def _open(
        cls,
        imap: ImapConfig,
        sign_in: Callable[[IMAPClient], list[ListEntry]],
        notes: ServerNotes = NOTES,
    ) -> ImapSession:
        with translate_errors(imap):
            client = login.connect(imap)
            try:
                listing = sign_in(client)
            except LoginError:
                login.close_quietly(client)  # a clear NO: the connection itself is fine
                raise
            except BaseException:
                login.drop(client)
                raise
        log.info("logged in to %s:%s as %s", imap.host, imap.port, imap.username)
        return cls(client, imap, listing, notes)

    @contextmanager
    def guard(self) -> Iterator[None]:
        """:func:`translate_errors` for this session's server."""
        with translate_errors(self.config):
            yield

    def __enter__(self) -> ImapSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Hang up: close the TCP connection, which ends the IMAP session (RFC 3501 §3.4).

        No LOGOUT: its answer would never be read (waiting for it costs a
        round trip; not waiting left the server talking to a closed socket).
        After an error there is nothing else to do either: a stalled or
        confused server must not be waited for again.
        """
        login.drop(self.client)

    def capabilities(self) -> set[str]:
        """As stated after LOGIN (cached: no traffic), so also safe while IDLE runs."""
        with self.guard():
            return {answers.text(c).upper() for c in self.client.capabilities()}

    def supports_idle(self) -> bool:
        return "IDLE" in self.capabilities()

    def listing(self) -> list[ListEntry]:
        """The server's LIST answer: (flags, delimiter, decoded name) per folder.

        The first call returns what was listed at login (no round trip).
        """
        if self._listing is not None:
            listing, self._listing = self._listing, None
            return listing
        with self.guard():
            self.leave_idle()
            return answers.listing(self.client.list_folders())

    def examine(self, folder: str) -> dict[bytes, Any]:
        """Open ``folder`` read-only (EXAMINE), with its UIDNEXT even where EXAMINE lacks it.

        On a server known to leave it out (:data:`~watcher.mail.learned.NO_UIDNEXT`),
        STATUS goes first in the same write: its UIDNEXT is a lower bound. The first
        time, STATUS follows (one round trip more, once per server) and a mail that
        arrived in between is allowed for by the message count.
        """
        name = adapter.normalise_folder(self.client, folder)
        status_first = self.notes.knows(self.config, NO_UIDNEXT)
        with self.guard():
            self.leave_idle()
            pipe = self.pipeline()
            if status_first:
                pipe.add("STATUS", name, "(UIDNEXT)")
            pipe.add("EXAMINE", name)
            pending = pipe.run()
            before = answers.status_uidnext(next(pending)) if status_first else 0
            info = self.examined(folder, next(pending))
        self._exists = answers.number(info, b"EXISTS")  # the base: only growth from here is news
        if not answers.number(info, b"UIDNEXT"):
            info[b"UIDNEXT"] = before if status_first else self._uidnext_after(folder, name)
        return info

    def _uidnext_after(self, folder: str, name: str | bytes) -> int:
        """UIDNEXT by STATUS after an EXAMINE that lacked it; noted for next time.

        Mail that arrived between the two has UIDs below STATUS's UIDNEXT: one
        UID per message more than EXAMINE counted is taken off (a lower bound
        unless such a mail was also deleted within that moment).
        """
        self.notes.note(self.config, NO_UIDNEXT)
        log.info("%s: EXAMINE gave no UIDNEXT; asking with STATUS from now on", folder)
        pipe = self.pipeline()
        pipe.add("STATUS", name, "(UIDNEXT MESSAGES)")
        with self.guard():
            answer = next(pipe.run())
        uidnext = answers.status_uidnext(answer)
        arrived = max(0, answers.status_number(answer, b"MESSAGES") - (self._exists or 0))
        return max(0, uidnext - arrived) if uidnext else 0

    def reopen(self, folder: str) -> None:
        """EXAMINE ``folder`` unless it is the selected one already."""
        if self.selected != folder:
            self.examine(folder)

    def validity(self, folder: str) -> int:
        return self._validity.get(folder, 0)

    def examined(self, folder: str, answer: Answer) -> dict[bytes, Any]:
        """EXAMINE's answer, from a pipeline."""
        adapter.check_ok(self.client, "examine", answer.typ, answer.data)
        self.selected = folder
        info = adapter.select_info(self.client, answer.untagged)
        self._validity[folder] = answers.number(info, b"UIDVALIDITY")
        return info

    def pipeline(self) -> Pipeline:
        """A pipeline on this connection; if IDLE is still running, its DONE goes first,
        in the same write (a round trip saved on every push)."""
        imap = adapter.imap_of(self.client)
        sequential = not self.config.pipelining
        if not self.idling:
            return Pipeline(imap, on_answer=self._note_answer, sequential=sequential)
        self.idling = False

        def done() -> None:
            self._note(adapter.end_idle_lines(self.client))

        return Pipeline(
            imap,
            prefix=b"DONE\r\n",
            before=done,
            on_answer=self._note_answer,
            sequential=sequential,
        )

    def _note(self, responses: Iterable[Any]) -> None:
        """Note EXISTS and EXPUNGE among imapclient-parsed untagged responses."""
        for r in responses:
            if isinstance(r, tuple) and len(r) >= 2 and r[1] == b"EXISTS":
                self._note_exists(r[0])
            elif isinstance(r, tuple) and len(r) >= 2 and r[1] == b"EXPUNGE":
                self._note_expunged(1)

    def _note_answer(self, answer: Answer) -> None:
        self._note_expunged(len(answer.untagged.get("EXPUNGE", [])))
        for count in answer.untagged.get("EXISTS", []):
            self._note_exists(count, examined=answer.name == "EXAMINE")

    def _note_expunged(self, count: int) -> None:
        """Another client deleted mail: the count is lower now, so the next EXISTS above
        it is an arrival (without this, it would equal the old count and go unnoticed)."""
        if count and self._exists is not None:
            self._exists = max(0, self._exists - count)

    def _note_exists(self, count: object, *, examined: bool = False) -> None:
        """A new count: more than before is an arrival; EXAMINE's count only sets the base.

        Servers may repeat EXISTS (say on every NOOP) or lower it after an expunge:
        neither is news, and counting them would make the IDLE thread look again
        and again.
        """
        try:
            n = int(count)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return
        if not examined and self._exists is not None and n > self._exists:
            self.arrivals += 1
        self._exists = n

    def note_leftovers(self) -> None:
        """EXISTS that imapclient left among imaplib's untagged responses (after a command
        sent outside a pipeline): noted now, before a pipeline clears them."""
        untagged = adapter.imap_of(self.client).untagged_responses
        self._note_expunged(len(untagged.pop("EXPUNGE", [])))
        for count in untagged.pop("EXISTS", []):
            self._note_exists(count)

    def leave_idle(self) -> None:
        """End an IDLE left running by :meth:`idle_wait` before any other command."""
        if self.idling:
            self.idling = False
            self._note(self.client.idle_done()[1])

    def idle_wait(self, timeout: float, *, stay: bool = False) -> bool:
        """IDLE for up to ``timeout`` s; True when the folder changed.

        The server's keep-alives (``* OK Still here``) do not end the IDLE;
        they count as signs of life. After :data:`LIVENESS_SECONDS` without a
        word, DONE must be answered within :data:`PROBE_SECONDS`, then IDLE
        starts again. With ``stay``, a change leaves IDLE running: the next
        command of this session sends DONE in the same write as itself (see
        :meth:`pipeline`).

        Raises :class:`ConnectionFailed` when the server said BYE, the
        connection died (imapclient's ``idle_check`` returns an empty list on
        EOF: the early return is followed by the same liveness check) or the
        server did not answer the liveness check in time.
        """
        deadline = time.monotonic() + timeout
        with self.guard():
            self.leave_idle()
            while True:
                changed = self._idle_until_news(deadline)
                if changed and stay:
                    self.idling = True
                    return True
                # Not in a ``finally``: after a failed check the connection is dropped, and
                # DONE would only wait for the same broken server a second time.
                if self._interrupted:
                    return changed
                seen = self.arrivals
                self._done_within(min(PROBE_SECONDS, self.config.timeout_seconds))
                # DONE's answer may announce a mail (one that arrived while DONE was on its
                # way, or a server that reports new mail only when IDLE ends: Courier polls).
                changed = changed or self.arrivals != seen
                if changed or time.monotonic() >= deadline:
                    return changed

    def _idle_until_news(self, deadline: float) -> bool:
        """One IDLE: until a change, the deadline, or LIVENESS_SECONDS of silence."""
        self.client.idle()
        heard = time.monotonic()
        while (now := time.monotonic()) < deadline:
            quiet = heard + LIVENESS_SECONDS - now
            if quiet <= 0:
                self.probes += 1
                return False
            asked = min(deadline - now, quiet)
            responses = self.client.idle_check(timeout=asked)
            if any(r[:1] == (b"BYE",) for r in responses if isinstance(r, tuple)):
                raise imaplib.IMAP4.abort("server said BYE")
            if not responses:
                if time.monotonic() - now < asked * 0.9:
                    return False  # back early with nothing: the connection may have ended
                continue
            heard = time.monotonic()
            self._note(responses)
            if any(answers.is_change(r) for r in responses):
                return True
        return False

    def _done_within(self, seconds: float) -> None:
        """End IDLE; its answer must come within ``seconds`` (else ``TimeoutError``)."""
        sock = self.client.socket()
        previous = sock.gettimeout()
        sock.settimeout(seconds)
        try:
            self._note(self.client.idle_done()[1])
        finally:
            sock.settimeout(previous)

    def noop(self) -> None:
        with self.guard():
            self.leave_idle()
            self._note(self.client.noop()[1])

    def interrupt(self) -> None:
        """From another thread: end a blocking IDLE now (shutdown, resume, reconnect)."""
        self._interrupted = True
        try:
            self.client.socket().shutdown(socket.SHUT_RDWR)
        except OSError:
            log.debug("socket already closed")

    # --- reading mail: watcher.mail.scanning --------------------------------------

    def scan(
        self,
        folders: Sequence[str],
        sender: str,
        since: date,
        min_uids: Mapping[str, int | None] | None = None,
        *,
        examine: bool = True,
    ) -> list[FolderScan]:
        """See :func:`watcher.mail.scanning.scan`."""
        return scanning.scan(self, folders, sender, since, min_uids, examine=examine)

    def fetch(self, uids: Sequence[int]) -> Iterator[RawMessage]:
        """See :func:`watcher.mail.scanning.fetch`."""
        return scanning.fetch(self, uids)

    def fetch_parts_in(
        self, wanted: Mapping[str, Sequence[tuple[int, parts.Leaf]]]
    ) -> dict[str, dict[int, list[Part]]]:
        """See :func:`watcher.mail.scanning.fetch_parts_in`."""
        return scanning.fetch_parts_in(self, wanted)
