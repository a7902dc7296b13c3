"""Socket, TLS and IMAP errors turned into the user's errors, each with its fix.

One place decides what a failure means for the user (:mod:`watcher.errors`
types with a message key); nothing here quotes a password, and what a server
said is quoted short, printable and with any link token cut.
"""

from __future__ import annotations

import imaplib
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from imapclient.exceptions import IMAPClientError, LoginError

from watcher.config import ImapConfig
from watcher.errors import AuthError, ConnectionFailed, ProtocolError, TLSError

SNIPPET_CHARS = 100  # of a server's answer, quoted in an error message


class ResponseTooLarge(Exception):
    """The server announced or sent more than we are willing to hold in memory."""


class AnswersLost(Exception):
    """The server went silent after a state change (LOGIN): what was sent behind it is lost."""


@contextmanager
def translate_errors(imap: ImapConfig) -> Iterator[None]:
    """Turn socket, TLS and IMAP errors into user errors (``raise ... from e``)."""
    where = {"host": imap.host, "port": imap.port}
    try:
        yield
    except ssl.SSLCertVerificationError as e:
        raise TLSError("error.tls_verify", reason=e.verify_message or str(e), **where) from e
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as e:
        # The server closed the connection without TLS's close_notify (Cyrus does when
        # it stops or after BYE): a dropped connection, not a broken TLS setup.
        raise ConnectionFailed("error.dropped", **where) from e
    except ssl.SSLError as e:
        reason = getattr(e, "reason", None) or type(e).__name__  # not set when raised by Python
        raise TLSError("error.tls", reason=reason, **where) from e
    except socket.gaierror as e:
        raise ConnectionFailed("error.dns", **where) from e
    except TimeoutError as e:
        raise ConnectionFailed("error.timeout", seconds=float(imap.timeout_seconds), **where) from e
    except ConnectionRefusedError as e:
        raise ConnectionFailed("error.refused", **where) from e
    except LoginError as e:
        raise AuthError("error.auth", username=imap.username, **where) from e
    except ResponseTooLarge as e:
        raise ProtocolError("error.protocol", reason=str(e), **where) from e
    except imaplib.IMAP4.abort as e:
        if is_garbage(e):
            raise ProtocolError("error.protocol", reason=short(e), **where) from e
        raise ConnectionFailed("error.dropped", **where) from e
    except UnicodeError as e:
        # A text imaplib could not encode: never quoted (it may be part of a password).
        raise ProtocolError("error.protocol", reason=type(e).__name__, **where) from e
    except (IMAPClientError, ValueError, IndexError, TypeError, KeyError) as e:
        # imapclient's response parser fails with any of these on malformed answers.
        raise ProtocolError("error.protocol", reason=short(e), **where) from e
    except OSError as e:
        raise ConnectionFailed(
            "error.connection", reason=e.strerror or str(e), errno=e.errno, **where
        ) from e


def is_garbage(e: imaplib.IMAP4.abort) -> bool:
    """imaplib's abort for a line that is not IMAP (as opposed to a closed connection)."""
    text = str(e)
    return "unexpected" in text or ("unterminated line" in text and "\\n'" in text)


_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


def short(e: BaseException) -> str:
    """One line of printable ASCII, cut after :data:`SNIPPET_CHARS` characters (then "…")."""
    from watcher.logsetup import redact  # a server's words may quote a link: keep no token

    text = redact(_UNPRINTABLE.sub("?", str(e)).strip())
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + "…"
