"""All IMAP traffic goes through this module, and it only ever reads.

Promises kept here:
- TLS is always verified (system CAs plus ``ca_file``); STARTTLS is refused
  rather than falling back to plaintext when the server does not offer it.
- Folders are opened with EXAMINE (``readonly=True``) and messages fetched with
  ``BODY.PEEK``: no flag is set, nothing is moved or deleted.
- Low-level errors become :mod:`watcher.errors` types with a clear message;
  the password never appears in them (imapclient's own adapter keeps LOGIN
  out of its protocol log, which we keep silent anyway, see ``logsetup``).
- A hostile or broken server cannot exhaust memory or hang us: no literal
  larger than :data:`MAX_LITERAL_BYTES` is read, each command's answer is
  capped (:data:`RESPONSE_BUDGET_BYTES`), every read is bounded by
  ``timeout_seconds``, garbage ends as a :class:`ProtocolError` quoting at
  most a short sanitized snippet, and a broken connection is dropped, not
  politely logged out of (which would wait for the same dead server again).
"""

from __future__ import annotations

import base64
import imaplib
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from imapclient import IMAPClient, imap4, tls
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.response_parser import parse_fetch_response, parse_message_list

from watcher import oauth, parts
from watcher.config import ImapConfig
from watcher.errors import AuthError, ConnectionFailed, ProtocolError, TLSError
from watcher.pipeline import Answer, Pipeline

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a reset mail is a few KB; never hold more than this
# Only the capped message body may be that large; every other literal is tiny.
MAX_LITERAL_BYTES = MAX_MESSAGE_BYTES + 64 * 1024
# All lines and literals of one command's answer (LIST, SEARCH, an IDLE period …).
RESPONSE_BUDGET_BYTES = 16 * 1024 * 1024
FETCH_BATCH = 4  # messages per FETCH: at most ~4 capped bodies in memory at once
SNIPPET_CHARS = 100  # of a server's answer, quoted in an error message
SPAM_NAMES = (
    "[gmail]/spam",
    "[google mail]/spam",
    "junk",
    "junk email",
    "junk e-mail",
    "spam",
    "bulk mail",
    "correo no deseado",
    "correo electrónico no deseado",
)


@dataclass(frozen=True)
class Folder:
    name: str
    spam: bool
    how: str  # "inbox", "special-use", "name" or "configured": how it was recognised


@dataclass(frozen=True)
class RawMessage:
    uid: int
    internaldate: datetime | None
    size: int
    data: bytes
    truncated: bool


def ssl_context(imap: ImapConfig) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if imap.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(imap.ca_file))
        except (OSError, ssl.SSLError) as e:
            raise TLSError("error.ca_file", path=str(imap.ca_file)) from e
    return context


@contextmanager
def translate_errors(imap: ImapConfig) -> Iterator[None]:
    """Turn socket, TLS and IMAP errors into user errors (``raise ... from e``)."""
    where = {"host": imap.host, "port": imap.port}
    try:
        yield
    except ssl.SSLCertVerificationError as e:
        raise TLSError("error.tls_verify", reason=e.verify_message or str(e), **where) from e
    except ssl.SSLError as e:
        raise TLSError("error.tls", reason=e.reason or type(e).__name__, **where) from e
    except socket.gaierror as e:
        raise ConnectionFailed("error.dns", **where) from e
    except TimeoutError as e:
        raise ConnectionFailed("error.timeout", seconds=f"{imap.timeout_seconds:g}", **where) from e
    except ConnectionRefusedError as e:
        raise ConnectionFailed("error.refused", **where) from e
    except LoginError as e:
        raise AuthError("error.auth", username=imap.username, **where) from e
    except ResponseTooLarge as e:
        raise ProtocolError("error.protocol", reason=str(e), **where) from e
    except imaplib.IMAP4.abort as e:
        if _is_garbage(e):
            raise ProtocolError("error.protocol", reason=_short(e), **where) from e
        raise ConnectionFailed("error.dropped", **where) from e
    except (IMAPClientError, ValueError, IndexError, TypeError, KeyError) as e:
        # imapclient's response parser fails with any of these on malformed answers.
        raise ProtocolError("error.protocol", reason=_short(e), **where) from e
    except OSError as e:
        raise ConnectionFailed("error.connection", reason=e.strerror or str(e), **where) from e


class ResponseTooLarge(Exception):
    """The server announced or sent more than we are willing to hold in memory."""


def _is_garbage(e: imaplib.IMAP4.abort) -> bool:
    """imaplib's abort for a line that is not IMAP (as opposed to a closed connection)."""
    text = str(e)
    return "unexpected" in text or ("unterminated line" in text and "\\n'" in text)


_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


def _short(e: BaseException) -> str:
    """One line of printable ASCII, cut after :data:`SNIPPET_CHARS` characters (then "…")."""
    from watcher.logsetup import redact  # a server's words may quote a link: keep no token

    text = redact(_UNPRINTABLE.sub("?", str(e)).strip())
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + "…"


class _Bounded(imaplib.IMAP4):
    """imaplib with a ceiling: no huge literal, no endless answer.

    imaplib reads a literal with ``read(size)`` where ``size`` is whatever the
    server announced (``{2000000000}``), and keeps every untagged line of an
    answer until the tagged one; both are checked here, before reading.
    ``budget`` is what one command's answer may total; ``send`` (a new
    command, or IDLE's DONE) starts a new allowance.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.budget = RESPONSE_BUDGET_BYTES
        self._left = self.budget  # the greeting is read by the constructor
        self._greeting = False
        super().__init__(*args, **kwargs)

    def _connect(self) -> None:
        self._greeting = True
        try:
            super()._connect()  # type: ignore[misc]
        finally:
            self._greeting = False

    def _get_capabilities(self) -> None:
        """Take the capabilities from the greeting when it lists them (a round trip saved).

        imaplib always asks with CAPABILITY after the greeting; most servers
        (Dovecot, Gmail, Exchange) already sent them there as a response code.
        After STARTTLS they are asked for again, as RFC 3501 requires.
        """
        listed = self.untagged_responses.get("CAPABILITY") if self._greeting else None
        if listed and isinstance(listed[-1], bytes):
            self.capabilities = tuple(str(listed[-1], self._encoding).upper().split())
            return
        super()._get_capabilities()  # type: ignore[misc]

    def send(self, data: Any) -> None:
        self._left = self.budget
        super().send(data)

    def read(self, size: int) -> bytes:
        if size > MAX_LITERAL_BYTES:
            raise ResponseTooLarge(
                f"announced a literal of {size} bytes (more than {MAX_LITERAL_BYTES})"
            )
        self._charge(size)
        return super().read(size)

    def readline(self) -> bytes:
        line = super().readline()  # imaplib caps one line at 1 MB (_MAXLINE)
        self._charge(len(line))
        return line

    def _charge(self, size: int) -> None:
        self._left -= size
        if self._left < 0:
            raise ResponseTooLarge(f"answer larger than {self.budget} bytes")


class _BoundedTLS(_Bounded, tls.IMAP4_TLS):  # type: ignore[misc]
    pass


class _BoundedPlain(_Bounded, imap4.IMAP4WithTimeout):  # type: ignore[misc]
    pass


class _Client(IMAPClient):  # type: ignore[misc]
    """IMAPClient on top of :class:`_Bounded` (from the greeting on)."""

    def _create_IMAP4(self) -> imaplib.IMAP4:
        timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _BoundedTLS(self.host, self.port, self.ssl_context, timeout)
        return _BoundedPlain(self.host, self.port, timeout)


class ImapSession:
    """A logged-in, read-only IMAP connection."""

    def __init__(
        self, client: IMAPClient, imap: ImapConfig, listing: list[ListEntry] | None = None
    ) -> None:
        self.client = client
        self.config = imap
        self._interrupted = False
        self._listing = listing  # LIST's answer, read along with LOGIN's
        self._selected: str | None = None
        self._validity: dict[str, int] = {}  # UIDVALIDITY of each folder examined
        self._idling = False  # IDLE reported a change and was left running (see idle_wait)
        # How often the selected folder was seen to grow, in any answer: the server
        # announces a new mail once (EXISTS), on whichever command happens to be running
        # when it arrives. Compared, not reset: see FolderIdler.
        self.arrivals = 0
        self._exists: int | None = None  # the folder's message count as last announced

    @classmethod
    def open(cls, imap: ImapConfig, password: str) -> ImapSession:
        """Connect, log in and list the folders: LOGIN and LIST go out in one write."""
        return cls._open(imap, lambda client: _login(client, imap.username, password))

    @classmethod
    def open_oauth(cls, imap: ImapConfig, token: str) -> ImapSession:
        """Connect and sign in with an OAuth2 access token (OAUTHBEARER or XOAUTH2)."""
        return cls._open(imap, lambda client: _authenticate(client, imap, token))

    @classmethod
    def _open(cls, imap: ImapConfig, login: Callable[[IMAPClient], list[ListEntry]]) -> ImapSession:
        with translate_errors(imap):
            client = _connect(imap)
            try:
                listing = login(client)
            except LoginError:
                _close_quietly(client)  # a clear NO: the connection itself is fine
                raise
            except BaseException:
                _drop(client)
                raise
        log.info("logged in to %s:%s as %s", imap.host, imap.port, imap.username)
        return cls(client, imap, listing)

    @contextmanager
    def _guard(self) -> Iterator[None]:
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
        _drop(self.client)

    def capabilities(self) -> set[str]:
        """Cached since LOGIN (no traffic), so also safe while IDLE runs."""
        with self._guard():
            return {_text(c).upper() for c in self.client.capabilities()}

    def listing(self) -> list[ListEntry]:
        """The server's LIST answer: (flags, delimiter, decoded name) per folder.

        The first call returns what was listed at login (no round trip).
        """
        if self._listing is not None:
            listing, self._listing = self._listing, None
            return listing
        with self._guard():
            self._leave_idle()
            return _listing(self.client.list_folders())

    def examine(self, folder: str) -> dict[bytes, Any]:
        """Open ``folder`` read-only (EXAMINE)."""
        with self._guard():
            self._leave_idle()
            info: dict[bytes, Any] = self.client.select_folder(folder, readonly=True)
        self._selected = folder
        self._validity[folder] = _int(info, b"UIDVALIDITY")
        self._exists = _int(info, b"EXISTS")  # the base: only growth from here is news
        return info

    def reopen(self, folder: str) -> None:
        """EXAMINE ``folder`` unless it is the selected one already."""
        if self._selected != folder:
            self.examine(folder)

    def scan(
        self,
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
        is then unknown (0).
        """
        if not examine and list(folders) != [self._selected]:
            raise ValueError(f"examine=False needs the selected folder, not {folders}")
        min_uids = min_uids or {}
        searchres = "SEARCHRES" in self.capabilities()
        pipe = self._pipeline()
        for folder in folders:
            if examine:
                pipe.add("EXAMINE", self.client._normalise_folder(folder))
            terms = _criteria(sender, since, min_uids.get(folder))
            if searchres:
                pipe.add("UID", "SEARCH", "RETURN", "(SAVE)", *terms)
                pipe.add("UID", "FETCH", "$", _envelope_items(whole=not examine))
            else:
                pipe.add("UID", "SEARCH", *terms)
        scans: list[FolderScan] = []
        found: dict[str, list[int]] = {}
        with self._guard(), _budget(self.client, len(folders) * ENVELOPE_PIPELINE_BUDGET):
            answers = pipe.run()
            for folder in folders:
                if examine:
                    info = self._examined(folder, next(answers))
                else:
                    info = {b"UIDVALIDITY": self._validity.get(folder, 0)}
                envelopes: list[Envelope] = []
                if searchres:
                    _saved_search(self.client, next(answers))
                    envelopes = _fetched_envelopes(self.client, next(answers), None)
                else:
                    found[folder] = _hits(self.client, next(answers), min_uids.get(folder))
                low = min_uids.get(folder)
                kept = [e for e in envelopes if low is None or e.uid >= low]
                scans.append(
                    FolderScan(folder, _int(info, b"UIDVALIDITY"), _int(info, b"UIDNEXT"), kept)
                )
        if not searchres:
            self._fetch_envelopes_of(scans, found)
        return scans

    def _examined(self, folder: str, answer: Answer) -> dict[bytes, Any]:
        """EXAMINE's answer, from a pipeline."""
        self.client._checkok("examine", answer.typ, answer.data)
        self._selected = folder
        info: dict[bytes, Any] = self.client._process_select_response(answer.untagged)
        self._validity[folder] = _int(info, b"UIDVALIDITY")
        return info

    def _pipeline(self) -> Pipeline:
        """A pipeline on this connection; if IDLE is still running, its DONE goes first,
        in the same write (a round trip saved on every push)."""
        if not self._idling:
            return Pipeline(self.client._imap, on_answer=self._note_answer)
        self._idling = False
        client = self.client

        def done() -> None:
            self._note(client._consume_until_tagged_response(client._idle_tag, "IDLE")[1])

        return Pipeline(client._imap, prefix=b"DONE\r\n", before=done, on_answer=self._note_answer)

    def _note(self, responses: Iterable[Any]) -> None:
        """Note the EXISTS among imapclient-parsed untagged responses (``(n, b"EXISTS")``)."""
        for r in responses:
            if isinstance(r, tuple) and len(r) >= 2 and r[1] == b"EXISTS":
                self._note_exists(r[0])

    def _note_answer(self, answer: Answer) -> None:
        for count in answer.untagged.get("EXISTS", []):
            self._note_exists(count, examined=answer.name == "EXAMINE")

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

    def _note_leftovers(self) -> None:
        """EXISTS that imapclient left among imaplib's untagged responses (after a command
        sent outside a pipeline): noted now, before a pipeline clears them."""
        for count in self.client._imap.untagged_responses.pop("EXISTS", []):
            self._note_exists(count)

    def _leave_idle(self) -> None:
        """End an IDLE left running by :meth:`idle_wait` before any other command."""
        if self._idling:
            self._idling = False
            self._note(self.client.idle_done()[1])

    def _fetch_envelopes_of(self, scans: list[FolderScan], found: dict[str, list[int]]) -> None:
        """Without SEARCHRES: every folder's envelope FETCH in one write, the folder
        examined last first (no second EXAMINE for it)."""
        order = [s for s in reversed(scans) if found.get(s.folder)]
        if not order:
            return
        pipe = self._pipeline()
        examine = _Examiner(self, pipe)
        for scan in order:
            examine.queue(scan.folder)
            pipe.add("UID", "FETCH", _uid_set(found[scan.folder]), _envelope_items())
        asked = sum(len(found[s.folder]) for s in order)
        with self._guard(), _budget(self.client, asked * ENVELOPE_BUDGET):
            answers = pipe.run()
            for scan in order:
                examine.read(scan.folder, answers)
                wanted = set(found[scan.folder])
                scan.envelopes.extend(_fetched_envelopes(self.client, next(answers), wanted))

    def supports_idle(self) -> bool:
        return "IDLE" in self.capabilities()

    def idle_wait(self, timeout: float, *, stay: bool = False) -> bool:
        """IDLE for up to ``timeout`` s; True when the folder changed.

        The server's keep-alives (``* OK Still here``) do not end the IDLE:
        each costs one wake-up, not a DONE/NOOP/IDLE exchange. With ``stay``,
        a change leaves IDLE running: the next command of this session sends
        DONE in the same write as itself (see :meth:`_pipeline`).

        Raises :class:`ConnectionFailed` when the server said BYE or the
        connection died (imapclient's ``idle_check`` returns an empty list on
        EOF, so an early empty return is followed by a NOOP health check).
        """
        deadline = time.monotonic() + timeout
        changed = False
        responses: list[Any] = []
        with self._guard():
            self._leave_idle()
            self.client.idle()
            while not changed and (left := deadline - time.monotonic()) > 0:
                responses = self.client.idle_check(timeout=left)
                if any(r[:1] == (b"BYE",) for r in responses if isinstance(r, tuple)):
                    raise imaplib.IMAP4.abort("server said BYE")
                if not responses:
                    break  # the time is up, or the connection ended (checked below)
                changed = any(_is_change(r) for r in responses)
                self._note(responses)
            if changed and stay:
                self._idling = True
                return True
            # Not in a ``finally``: after a failed check the connection is dropped, and
            # DONE would only wait for the same broken server a second time.
            if not self._interrupted:
                self._note(self.client.idle_done()[1])
            if not responses and time.monotonic() < deadline - timeout * 0.1:
                self._note(self.client.noop()[1])  # raises on a dead connection
        return changed

    def noop(self) -> None:
        with self._guard():
            self._leave_idle()
            self._note(self.client.noop()[1])

    def interrupt(self) -> None:
        """From another thread: end a blocking IDLE now (shutdown, resume, reconnect)."""
        self._interrupted = True
        try:
            self.client.socket().shutdown(socket.SHUT_RDWR)
        except OSError:
            log.debug("socket already closed")

    def fetch(self, uids: Sequence[int]) -> Iterator[RawMessage]:
        """Whole messages (capped at ``MAX_MESSAGE_BYTES``) with BODY.PEEK: never sets \\Seen.

        A few at a time (:data:`FETCH_BATCH`), so that however many candidates
        there are, only one batch of bodies is in memory.
        """
        body = f"BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>"
        for start in range(0, len(uids), FETCH_BATCH):
            batch = list(uids[start : start + FETCH_BATCH])
            with self._guard():
                self._leave_idle()
                with _budget(self.client, len(batch) * MAX_LITERAL_BYTES):
                    response = self.client.fetch(batch, ["INTERNALDATE", "RFC822.SIZE", body])
                self._note_leftovers()
                messages = [_raw_message(uid, item) for uid, item in sorted(response.items())]
            yield from messages

    def fetch_parts_in(
        self, wanted: Mapping[str, Sequence[tuple[int, parts.Leaf]]]
    ) -> dict[str, dict[int, list[Part]]]:
        """The text parts of each message, in several folders, in one write.

        The selected folder goes first (no EXAMINE for it). Within a folder,
        messages are grouped by their text parts' section numbers (mails from
        one sender share a structure, so usually one FETCH for all their
        parts) and by size, so that one answer stays within
        :data:`RESPONSE_BUDGET_BYTES` plus what was asked for. Each message's
        parts come back in the message's order.
        """
        folders = sorted((f for f in wanted if wanted[f]), key=lambda f: f != self._selected)
        if not folders:
            return {}
        pipe = self._pipeline()
        examine = _Examiner(self, pipe)
        plan: list[tuple[str, list[_Batch]]] = []
        asked = 0
        for folder in folders:
            examine.queue(folder)
            batches = []
            for shape, batch in _batches(wanted[folder]):
                pipe.add("UID", "FETCH", _uid_set(batch), _part_items(shape))
                batches.append(batch)
                asked += sum(
                    leaf.fetched_bytes(MAX_MESSAGE_BYTES) + ENVELOPE_BUDGET
                    for leaves in batch.values()
                    for leaf in leaves
                )
            plan.append((folder, batches))
        out: dict[str, dict[int, list[Part]]] = {f: {} for f in folders}
        with self._guard(), _budget(self.client, asked):
            answers = pipe.run()
            for folder, batches in plan:
                examine.read(folder, answers)
                got = [next(answers) for _ in batches]
                asked_for = {uid: leaves for batch in batches for uid, leaves in batch.items()}
                out[folder] = _parts_from(self.client, got, asked_for)
        return out


ListEntry = tuple[tuple[bytes, ...], bytes | None, str]


@dataclass
class FolderScan:
    """One folder's part of a check: its UID state and the candidates' envelopes."""

    folder: str
    uidvalidity: int
    uidnext: int
    envelopes: list[Envelope]


class _Examiner:
    """EXAMINE in a pipeline only where the folder is not already the selected one.

    :meth:`queue` is called while building the pipeline and :meth:`read`
    with the answers, in the same order of folders.
    """

    def __init__(self, session: ImapSession, pipe: Pipeline) -> None:
        self._session = session
        self._pipe = pipe
        self._current = session._selected
        self._queued: list[bool] = []

    def queue(self, folder: str) -> None:
        needed = folder != self._current
        if needed:
            self._pipe.add("EXAMINE", self._session.client._normalise_folder(folder))
            self._current = folder
        self._queued.append(needed)

    def read(self, folder: str, answers: Iterator[Answer]) -> None:
        if self._queued.pop(0):
            self._session._examined(folder, next(answers))


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


ENVELOPE_BUDGET = 64 * 1024  # header fields and structure of one message, generously
# SEARCH + FETCH $ of one folder, the count unknown ahead: with the usual budget, 4 × in all
ENVELOPE_PIPELINE_BUDGET = 3 * RESPONSE_BUDGET_BYTES


MAX_UID = 4294967295  # RFC 3501: a UID is a 32-bit unsigned number


def _criteria(sender: str, since: date, min_uid: int | None) -> list[str]:
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
    terms += ["OR", "FROM", _quoted(sender), "FROM", "secop"]
    if min_uid is not None:
        # Not ``n:*``: with n above the last UID that means "the last one" (RFC 3501 §9).
        terms = ["UID", f"{min_uid}:{MAX_UID}", *terms]
    return terms


def _quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'.encode("ascii", "replace").decode("ascii")


def _saved_search(client: IMAPClient, answer: Answer) -> None:
    client._checkok("search", answer.typ, answer.data)
    if answer.untagged.get("SEARCH"):
        # RFC 5182: with RETURN (SAVE) alone the server MUST NOT answer SEARCH.
        raise imaplib.IMAP4.error("SEARCH results where none were asked for")


def _hits(client: IMAPClient, answer: Answer, min_uid: int | None) -> list[int]:
    """UIDs of a plain UID SEARCH, none below ``min_uid`` (whatever the server answered)."""
    client._checkok("search", answer.typ, answer.data)
    uids = sorted(int(u) for u in parse_message_list(answer.untagged.get("SEARCH", [])))
    return [u for u in uids if min_uid is None or u >= min_uid]


def _fetched_envelopes(
    client: IMAPClient, answer: Answer, asked: set[int] | None
) -> list[Envelope]:
    client._checkok("fetch", answer.typ, answer.data)
    data = answer.untagged.get("FETCH", [])
    envelopes = _envelopes(parse_fetch_response(data, client.normalise_times, True))
    return [e for e in envelopes if asked is None or e.uid in asked]


def _parts_from(
    client: IMAPClient, answers: Sequence[Answer], asked: _Batch
) -> dict[int, list[Part]]:
    """The parts of one folder's FETCH commands, taken by UID from all their answers.

    Servers may run pipelined FETCHes of one folder at once (Dovecot does): an
    untagged answer can arrive before the tagged end of an earlier command.
    Every UID is asked for by one command only, so the UID tells whose it is.
    """
    data: list[Any] = []
    for answer in answers:
        client._checkok("fetch", answer.typ, answer.data)
        data += answer.untagged.get("FETCH", [])
    response = parse_fetch_response(data, client.normalise_times, True)
    return {
        int(uid): [_part(int(uid), leaf.section, item, leaf.size) for leaf in asked[int(uid)]]
        for uid, item in response.items()
        if int(uid) in asked  # not an unsolicited FETCH (flags changed by another client)
    }


def _uid_set(uids: Iterable[int]) -> str:
    return ",".join(str(u) for u in sorted(uids))


def _int(info: Mapping[bytes, Any], key: bytes) -> int:
    value = info.get(key, 0)
    return value if isinstance(value, int) else 0


def _listing(folders: Iterable[tuple[Any, Any, Any]]) -> list[ListEntry]:
    return [
        (tuple(_as_bytes(f) for f in flags), d if isinstance(d, bytes) else None, str(n))
        for flags, d, n in folders
    ]


def _header_fields_item() -> str:
    return f"BODY.PEEK[HEADER.FIELDS ({' '.join(parts.HEADER_FIELDS)})]"


def _envelope_items(*, whole: bool = False) -> str:
    """Step 1's items; ``whole`` adds the message itself, up to :data:`PUSH_BODY_BYTES`."""
    body = f" BODY.PEEK[]<0.{PUSH_BODY_BYTES}>" if whole else ""
    return f"(INTERNALDATE RFC822.SIZE BODYSTRUCTURE {_header_fields_item()}{body})"


# After an IDLE push the new mail is usually one message of a few KB: fetched whole with
# its envelope, it needs no second round trip for its text part. Larger ones take that trip.
PUSH_BODY_BYTES = 64 * 1024


_Batch = dict[int, tuple[parts.Leaf, ...]]  # UID → the parts asked for, in the message's order
_Shape = tuple[tuple[str, int | None], ...]  # (section, byte limit) of each part asked for


def _batches(wanted: Sequence[tuple[int, parts.Leaf]]) -> Iterator[tuple[_Shape, _Batch]]:
    """Messages asked for the same parts (sections and limits), in batches whose answers
    fit the budget."""
    by_uid: dict[int, list[parts.Leaf]] = {}
    for uid, leaf in wanted:
        by_uid.setdefault(uid, []).append(leaf)
    by_shape: dict[_Shape, _Batch] = {}
    for uid, found in sorted(by_uid.items()):
        leaves = tuple(sorted(found, key=lambda leaf: parts.section_key(leaf.section)))
        shape = tuple((leaf.section, leaf.limit) for leaf in leaves)
        by_shape.setdefault(shape, {})[uid] = leaves
    for shape, items in sorted(by_shape.items(), key=lambda kv: str(kv[0])):
        batch: _Batch = {}
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


def _part_items(shape: _Shape) -> str:
    items = []
    for section, limit in shape:
        if section != parts.WHOLE_BODY:
            items.append(f"BODY.PEEK[{section}.MIME]")
        items.append(
            f"BODY.PEEK[{section}]<0.{min(limit or MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES)}>"
        )
    return f"({' '.join(items)})"


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


def _envelopes(response: dict[int, dict[bytes, Any]]) -> list[Envelope]:
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


def _is_change(response: object) -> bool:
    """EXISTS (new mail) or RECENT in an IDLE response."""
    return (
        isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")
    )


def _raw_message(uid: int, item: dict[bytes, Any]) -> RawMessage:
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


def _as_bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")


def _text(value: object) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


@contextmanager
def _budget(client: IMAPClient, extra: int) -> Iterator[None]:
    """Let one command's answer be ``extra`` bytes larger than usual (what was asked for)."""
    imap = getattr(client, "_imap", None)
    if not isinstance(imap, _Bounded):
        yield
        return
    imap.budget = RESPONSE_BUDGET_BYTES + extra
    try:
        yield
    finally:
        imap.budget = RESPONSE_BUDGET_BYTES


def _login(client: IMAPClient, username: str, password: str) -> list[ListEntry]:
    """LOGIN, CAPABILITY and LIST in one write; the LIST answer is returned.

    A connection that broke meanwhile is not a wrong password: a dropped
    connection or a garbled answer must end as a connection or protocol
    error, never as "password rejected" (which makes the service stop
    retrying). CAPABILITY is asked because a server may change them after
    LOGIN without saying so in LOGIN's answer; LIST because every check
    starts with it. A refused LOGIN makes both fail, unread.
    """
    imap = client._imap
    pipe = Pipeline(imap)
    pipe.add("LOGIN", imap._quote(username), imap._quote(password))
    pipe.add("CAPABILITY")
    pipe.add("LIST", '""', '"*"')
    try:
        answers = pipe.run()
        login = next(answers)
    except imaplib.IMAP4.abort as e:
        if _is_garbage(e):
            # Never quote what came back to LOGIN: a hostile server may echo the password.
            raise imaplib.IMAP4.abort("unexpected response to LOGIN") from None
        raise
    except imaplib.IMAP4.error as e:  # BAD: the server would not take the command
        imap.state = "NONAUTH"
        raise LoginError(_short(e)) from None
    if not login.ok:
        imap.state = "NONAUTH"
        text = _text(login.data[-1] if login.data else b"")
        if _TEMPORARY.search(text):
            # RFC 5530: the server cannot check the password right now; not a wrong one.
            raise imaplib.IMAP4.abort("temporary login failure")
        raise LoginError(_short(Exception(text)))
    return _after_login(client, next(answers), next(answers), login.untagged)


def _after_login(
    client: IMAPClient, capability: Answer, listed: Answer, login: dict[str, list[Any]]
) -> list[ListEntry]:
    """Keep the capabilities the server has now, and return LIST's answer."""
    advertised = capability.untagged.get("CAPABILITY") or login.get("CAPABILITY")
    client._cached_capabilities = (
        client._normalise_capabilites(advertised[-1]) if advertised else None
    )
    client.capabilities()  # no round trip when the server answered CAPABILITY
    client._checkok("list", listed.typ, listed.data)
    return _listing(client._proc_folder_list(listed.untagged.get("LIST", [])))


def _authenticate(client: IMAPClient, config: ImapConfig, token: str) -> list[ListEntry]:
    """SASL OAUTHBEARER (RFC 7628) where offered, else XOAUTH2; then CAPABILITY and LIST.

    With SASL-IR (RFC 4959) the token goes on the AUTHENTICATE line itself: one round
    trip when it is accepted. A refused token gets a "+" challenge (the error in JSON),
    answered as each mechanism requires, then NO. CAPABILITY and LIST are not piped
    behind AUTHENTICATE: after a refusal the server would read them as SASL data.
    """
    imap = client._imap
    offered = {_text(c).upper() for c in client.capabilities()}
    if "AUTH=OAUTHBEARER" in offered:
        mechanism = "OAUTHBEARER"
        first = oauth.oauthbearer(config.username, token, config.host, config.port)
        after_error = b"\x01"  # RFC 7628 §3.2.3: a dummy reply ends the exchange
    elif "AUTH=XOAUTH2" in offered:
        mechanism, first, after_error = "XOAUTH2", oauth.xoauth2(config.username, token), b""
    else:
        raise AuthError("error.oauth_not_offered", host=config.host)
    replies = iter([after_error] if "SASL-IR" in offered else [first, after_error])
    imap.literal = imaplib._Authenticator(lambda _challenge: next(replies, b"")).process
    initial = [base64.b64encode(first).decode("ascii")] if "SASL-IR" in offered else []
    try:
        tag = imap._command("AUTHENTICATE", mechanism, *initial)
        typ, data = imap._command_complete("AUTHENTICATE", tag)
    except imaplib.IMAP4.abort as e:
        if _is_garbage(e):  # never quote it: a hostile server may echo the token
            raise imaplib.IMAP4.abort("unexpected response to AUTHENTICATE") from None
        raise
    except imaplib.IMAP4.error:  # BAD: not a refused token (a line too long, say): unquoted
        raise IMAPClientError("the server answered BAD to AUTHENTICATE") from None
    if typ != "OK":
        text = _text(data[-1] if data else b"")
        if _TEMPORARY.search(text):
            raise imaplib.IMAP4.abort("temporary login failure")
        raise LoginError(_short(Exception(text)))
    imap.state = "AUTH"
    pipe = Pipeline(imap)
    pipe.add("CAPABILITY")
    pipe.add("LIST", '""', '"*"')
    answers = pipe.run()
    return _after_login(client, next(answers), next(answers), {})


_TEMPORARY = re.compile(r"\[(UNAVAILABLE|INUSE|LIMIT|SERVERBUG)\]", re.IGNORECASE)


def _keepalive(client: IMAPClient) -> IMAPClient:
    """TCP keepalive, so a connection silently dropped by a NAT box is noticed."""
    try:
        client.socket().setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except OSError:
        log.debug("keepalive not available")
    # INTERNALDATE with its own offset: imapclient's default turns it into a naive
    # local time, which would then be read as UTC (5 h off in Bogotá).
    client.normalise_times = False
    return client


def _connect(imap: ImapConfig) -> IMAPClient:
    context = ssl_context(imap)
    if imap.security == "ssl":
        return _keepalive(
            _Client(
                imap.host,
                port=imap.port,
                ssl=True,
                ssl_context=context,
                timeout=imap.timeout_seconds,
            )
        )
    client = _Client(imap.host, port=imap.port, ssl=False, timeout=imap.timeout_seconds)
    try:
        if b"STARTTLS" not in client.capabilities():
            raise TLSError("error.no_starttls", host=imap.host, port=imap.port)
        client.starttls(context)
    except BaseException:
        _close_quietly(client)
        raise
    return _keepalive(client)


def _drop(client: IMAPClient) -> None:
    """Close the socket without a word to the server."""
    try:
        client.shutdown()
    except (IMAPClientError, OSError):
        log.debug("socket already closed")


def _close_quietly(client: IMAPClient) -> None:
    """Log out, or at least drop the socket; errors here change nothing for the user."""
    try:
        client.logout()
    except (IMAPClientError, OSError):
        try:
            client.shutdown()
        except (IMAPClientError, OSError):
            log.debug("socket already closed")


def choose_folders(
    listing: Sequence[tuple[Sequence[bytes], bytes | None, str]], configured: Sequence[str]
) -> list[Folder]:
    """Pick the folders to watch from a LIST answer. Pure, for tests.

    INBOX, plus every folder with the RFC 6154 ``\\Junk`` attribute; when no
    folder carries it, the known spam names (case-insensitive, also under an
    ``INBOX.`` prefix). Configured folders win over both.
    """
    selectable = [
        (name, {f.decode("ascii", "replace").lower() for f in flags})
        for flags, _delim, name in listing
        if not _unselectable(flags)
    ]
    if configured:
        names = {n for n, _ in selectable}
        return [Folder(n, _is_spam(n, selectable), "configured") for n in configured if n in names]
    folders = [Folder(n, False, "inbox") for n, _ in selectable if n.upper() == "INBOX"]
    if not folders:
        # RFC 3501: INBOX always exists. A server that left it out of LIST (or listed
        # nothing) is asked anyway: an error then says more than a check of no folder.
        folders = [Folder("INBOX", False, "inbox")]
    junk = [Folder(n, True, "special-use") for n, flags in selectable if "\\junk" in flags]
    if not junk:
        junk = [Folder(n, True, "name") for n, _ in selectable if _spam_name(n)]
    return folders + junk


def missing_folders(
    listing: Sequence[tuple[Sequence[bytes], bytes | None, str]], configured: Sequence[str]
) -> list[str]:
    names = {name for _flags, _delim, name in listing}
    return [n for n in configured if n not in names]


def _unselectable(flags: Sequence[bytes]) -> bool:
    lowered = {f.lower() for f in flags}
    return b"\\noselect" in lowered or b"\\nonexistent" in lowered


def _spam_name(name: str) -> bool:
    folded = name.casefold()
    for prefix in ("inbox.", "inbox/"):
        if folded.startswith(prefix):
            folded = folded[len(prefix) :]
    return folded in SPAM_NAMES


def _is_spam(name: str, selectable: list[tuple[str, set[str]]]) -> bool:
    flags = dict(selectable).get(name, set())
    return "\\junk" in flags or _spam_name(name)
