"""The bounded transport: imaplib with a ceiling, under IMAPClient, TLS always verified.

A hostile or broken server cannot exhaust memory: no literal larger than
:data:`MAX_LITERAL_BYTES` is read, and each command's answer is capped
(:data:`RESPONSE_BUDGET_BYTES`, raised by :func:`budget` for what was asked
for). Every read is bounded by ``timeout_seconds``.
"""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from imapclient import IMAPClient, imap4, tls

from watcher.config import ImapConfig
from watcher.errors import TLSError
from watcher.mail import adapter
from watcher.mail.errors import ResponseTooLarge

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a reset mail is a few KB; never hold more than this
# Only the capped message body may be that large; every other literal is tiny.
MAX_LITERAL_BYTES = MAX_MESSAGE_BYTES + 64 * 1024
# All lines and literals of one command's answer (LIST, SEARCH, an IDLE period …).
RESPONSE_BUDGET_BYTES = 16 * 1024 * 1024


def ssl_context(imap: ImapConfig) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if imap.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(imap.ca_file))
        except (OSError, ssl.SSLError) as e:
            raise TLSError("error.ca_file", path=str(imap.ca_file)) from e
    return context


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


class Client(IMAPClient):  # type: ignore[misc]
    """IMAPClient on top of :class:`_Bounded` (from the greeting on)."""

    def _create_IMAP4(self) -> imaplib.IMAP4:
        timeout = adapter.connect_timeout(self)
        if self.ssl:
            return _BoundedTLS(self.host, self.port, self.ssl_context, timeout)
        return _BoundedPlain(self.host, self.port, timeout)


@contextmanager
def budget(client: IMAPClient, extra: int) -> Iterator[None]:
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
