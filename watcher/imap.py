"""All IMAP traffic goes through this module, and it only ever reads.

Promises kept here:
- TLS is always verified (system CAs plus ``ca_file``); STARTTLS is refused
  rather than falling back to plaintext when the server does not offer it.
- Folders are opened with EXAMINE (``readonly=True``) and messages fetched with
  ``BODY.PEEK``: no flag is set, nothing is moved or deleted.
- Low-level errors become :mod:`watcher.errors` types with a clear message;
  the password never appears in them (imapclient's own adapter keeps LOGIN
  out of its protocol log, which we keep silent anyway, see ``logsetup``).
"""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from watcher.config import ImapConfig
from watcher.errors import AuthError, ConnectionFailed, ProtocolError, TLSError

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a reset mail is a few KB; never hold more than this
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
        raise ConnectionFailed("error.timeout", seconds=imap.timeout_seconds, **where) from e
    except ConnectionRefusedError as e:
        raise ConnectionFailed("error.refused", **where) from e
    except LoginError as e:
        raise AuthError("error.auth", username=imap.username, **where) from e
    except imaplib.IMAP4.abort as e:
        raise ConnectionFailed("error.dropped", **where) from e
    except IMAPClientError as e:
        raise ProtocolError("error.protocol", reason=_short(e), **where) from e
    except OSError as e:
        raise ConnectionFailed("error.connection", reason=e.strerror or str(e), **where) from e


def _short(e: BaseException) -> str:
    text = str(e).replace("\r", " ").replace("\n", " ")
    return text if len(text) <= 200 else text[:200] + "…"


class ImapSession:
    """A logged-in, read-only IMAP connection."""

    def __init__(self, client: IMAPClient, imap: ImapConfig) -> None:
        self.client = client
        self.config = imap
        self._interrupted = False

    @classmethod
    def open(cls, imap: ImapConfig, password: str) -> ImapSession:
        with translate_errors(imap):
            client = _connect(imap)
            try:
                client.login(imap.username, password)
            except BaseException:
                _close_quietly(client)
                raise
        log.info("logged in to %s:%s as %s", imap.host, imap.port, imap.username)
        return cls(client, imap)

    def __enter__(self) -> ImapSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        _close_quietly(self.client)

    def capabilities(self) -> set[str]:
        with translate_errors(self.config):
            return {c.decode("ascii", "replace").upper() for c in self.client.capabilities()}

    def listing(self) -> list[tuple[tuple[bytes, ...], bytes | None, str]]:
        """The server's LIST answer: (flags, delimiter, decoded name) per folder."""
        with translate_errors(self.config):
            return [(tuple(f), d, str(n)) for f, d, n in self.client.list_folders()]

    def examine(self, folder: str) -> dict[bytes, Any]:
        """Open ``folder`` read-only (EXAMINE)."""
        with translate_errors(self.config):
            info: dict[bytes, Any] = self.client.select_folder(folder, readonly=True)
        return info

    def search_sender(self, sender: str, since: date, min_uid: int | None = None) -> list[int]:
        """UIDs of mail since ``since`` from ``sender`` or anything claiming "secop".

        The broad ``FROM secop`` term also catches look-alike senders so they
        can be reported as suspicious instead of silently ignored. ``min_uid``
        limits the search to new mail (``UID n:*``, which servers may answer
        with the last UID even when it is lower: filtered here).
        """
        criteria: list[Any] = ["SINCE", since, "OR", "FROM", sender, "FROM", "secop"]
        if min_uid is not None:
            criteria = ["UID", f"{min_uid}:*", *criteria]
        with translate_errors(self.config):
            uids = sorted(int(u) for u in self.client.search(criteria))
        return [u for u in uids if min_uid is None or u >= min_uid]

    def supports_idle(self) -> bool:
        return "IDLE" in self.capabilities()

    def idle_wait(self, timeout: float) -> bool:
        """IDLE for up to ``timeout`` s; True when the folder changed.

        Raises :class:`ConnectionFailed` when the server said BYE or the
        connection died (imapclient's ``idle_check`` returns an empty list on
        EOF, so an early empty return is followed by a NOOP health check).
        """
        started = time.monotonic()
        with translate_errors(self.config):
            self.client.idle()
            try:
                responses = self.client.idle_check(timeout=timeout)
            finally:
                if not self._interrupted:
                    self.client.idle_done()
            if any(r[:1] == (b"BYE",) for r in responses if isinstance(r, tuple)):
                raise imaplib.IMAP4.abort("server said BYE")
            early = time.monotonic() - started < timeout * 0.9
            if not responses and early:
                self.client.noop()  # raises on a dead connection
        return any(_is_change(r) for r in responses)

    def noop(self) -> None:
        with translate_errors(self.config):
            self.client.noop()

    def interrupt(self) -> None:
        """From another thread: end a blocking IDLE now (shutdown, resume, reconnect)."""
        self._interrupted = True
        try:
            self.client.socket().shutdown(socket.SHUT_RDWR)
        except OSError:
            log.debug("socket already closed")

    def fetch(self, uids: Sequence[int]) -> list[RawMessage]:
        """Whole messages (capped at ``MAX_MESSAGE_BYTES``) with BODY.PEEK: never sets \\Seen."""
        if not uids:
            return []
        body = f"BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>"
        with translate_errors(self.config):
            response = self.client.fetch(list(uids), ["INTERNALDATE", "RFC822.SIZE", body])
        return [_raw_message(uid, item) for uid, item in sorted(response.items())]


def _is_change(response: object) -> bool:
    """EXISTS (new mail) or RECENT in an IDLE response."""
    return (
        isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")
    )


def _raw_message(uid: int, item: dict[bytes, Any]) -> RawMessage:
    data = item.get(b"BODY[]<0>", item.get(b"BODY[]", b"")) or b""
    size = int(item.get(b"RFC822.SIZE", len(data)))
    internal = item.get(b"INTERNALDATE")
    return RawMessage(
        uid=int(uid),
        internaldate=internal if isinstance(internal, datetime) else None,
        size=size,
        data=bytes(data),
        truncated=size > len(data),
    )


def _keepalive(client: IMAPClient) -> IMAPClient:
    """TCP keepalive, so a connection silently dropped by a NAT box is noticed."""
    try:
        client.socket().setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except OSError:
        log.debug("keepalive not available")
    return client


def _connect(imap: ImapConfig) -> IMAPClient:
    context = ssl_context(imap)
    if imap.security == "ssl":
        return _keepalive(
            IMAPClient(
                imap.host,
                port=imap.port,
                ssl=True,
                ssl_context=context,
                timeout=imap.timeout_seconds,
            )
        )
    client = IMAPClient(imap.host, port=imap.port, ssl=False, timeout=imap.timeout_seconds)
    try:
        if b"STARTTLS" not in client.capabilities():
            raise TLSError("error.no_starttls", host=imap.host, port=imap.port)
        client.starttls(context)
    except BaseException:
        _close_quietly(client)
        raise
    return _keepalive(client)


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
