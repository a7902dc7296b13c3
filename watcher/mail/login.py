"""Connecting and signing in: TLS, LOGIN or SASL OAuth2, then the capabilities and LIST.

LOGIN's arguments and OAuth2 tokens never reach a log or an error message
(imapclient's protocol log redacts both, and nothing here quotes what a
server echoed back). A connection that broke is never reported as a wrong
password, which would make the service stop retrying.
"""

from __future__ import annotations

import base64
import imaplib
import logging
import re
import selectors
import socket
import ssl
from collections.abc import Mapping, Sequence

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from watcher import oauth
from watcher.config import ImapConfig
from watcher.errors import AuthError, TLSError
from watcher.folders import ListEntry
from watcher.mail import adapter, answers
from watcher.mail.errors import is_garbage, short
from watcher.mail.learned import LOSES_AFTER_LOGIN, ServerNotes
from watcher.mail.pipeline import Answer, Pipeline
from watcher.mail.transport import Client, ssl_context

log = logging.getLogger(__name__)

# Once LOGIN's answer is in, a server that read what was sent behind it answers at once
# (CAPABILITY first): its answer arrives with LOGIN's or milliseconds after. Silence this
# long means the commands were lost (Courier); they are sent again, and the server noted.
LOST_AFTER_LOGIN_SECONDS = 2.0
# TCP keepalive where the OS lets us tune it: a connection dead at the network level is
# noticed in about KEEPIDLE + KEEPINTVL × KEEPCNT = 90 s even when no command is waiting.
KEEPIDLE, KEEPINTVL, KEEPCNT = 60, 10, 3

_TEMPORARY = re.compile(r"\[(UNAVAILABLE|INUSE|LIMIT|SERVERBUG)\]", re.IGNORECASE)


def connect(imap: ImapConfig) -> IMAPClient:
    context = ssl_context(imap)
    if imap.security == "ssl":
        return _tuned(
            Client(
                imap.host,
                port=imap.port,
                ssl=True,
                ssl_context=context,
                timeout=imap.timeout_seconds,
            )
        )
    client = Client(imap.host, port=imap.port, ssl=False, timeout=imap.timeout_seconds)
    try:
        if b"STARTTLS" not in client.capabilities():
            raise TLSError("error.no_starttls", host=imap.host, port=imap.port)
        client.starttls(context)
    except BaseException:
        close_quietly(client)
        raise
    return _tuned(client)


def _tuned(client: IMAPClient) -> IMAPClient:
    keepalive(client.socket())
    # INTERNALDATE with its own offset: imapclient's default turns it into a naive
    # local time, which would then be read as UTC (5 h off in Bogotá).
    client.normalise_times = False
    return client


def keepalive(sock: socket.socket) -> list[str]:
    """TCP keepalive, tuned where the platform has the knobs; the options that were set.

    Linux and Windows 10 1709+ have TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT;
    macOS names the first TCP_KEEPALIVE. Without them the OS default applies
    (two hours on all three), and the IDLE liveness check is what notices.
    """
    done = []
    options = [("SO_KEEPALIVE", socket.SOL_SOCKET, "SO_KEEPALIVE", 1)]
    idle = "TCP_KEEPIDLE" if hasattr(socket, "TCP_KEEPIDLE") else "TCP_KEEPALIVE"
    options += [
        (idle, socket.IPPROTO_TCP, idle, KEEPIDLE),
        ("TCP_KEEPINTVL", socket.IPPROTO_TCP, "TCP_KEEPINTVL", KEEPINTVL),
        ("TCP_KEEPCNT", socket.IPPROTO_TCP, "TCP_KEEPCNT", KEEPCNT),
    ]
    for label, level, name, value in options:
        option = getattr(socket, name, None)
        if option is None:
            continue
        try:
            sock.setsockopt(level, option, value)
        except OSError:
            log.debug("%s not available", label)
            continue
        done.append(label)
    return done


def login(
    client: IMAPClient, config: ImapConfig, password: str, notes: ServerNotes
) -> list[ListEntry]:
    """LOGIN, then CAPABILITY and LIST; the LIST answer is returned.

    All three go out in one write, unless the server is known to lose what
    is sent behind LOGIN (:data:`LOST_AFTER_LOGIN_SECONDS`): then CAPABILITY
    and LIST follow LOGIN's answer. CAPABILITY is asked because servers
    state more after LOGIN than in their greeting (Cyrus adds IDLE); LIST
    because every check starts with it. A refused LOGIN makes both fail, unread.
    """
    imap = adapter.imap_of(client)
    if not password.isascii():
        return _login_with_literal(client, config, password)
    behind = config.pipelining and not notes.knows(config, LOSES_AFTER_LOGIN)
    pipe = Pipeline(imap, sequential=not config.pipelining)
    pipe.add("LOGIN", adapter.quote(imap, config.username), adapter.quote(imap, password))
    if behind:
        pipe.add("CAPABILITY")
        pipe.add("LIST", '""', '"*"')
    try:
        pending = pipe.run()
        answer = next(pending)
    except imaplib.IMAP4.abort as e:
        if is_garbage(e):
            # Never quote what came back to LOGIN: a hostile server may echo the password.
            raise imaplib.IMAP4.abort("unexpected response to LOGIN") from None
        raise
    except imaplib.IMAP4.error as e:  # BAD: the server would not take the command
        imap.state = "NONAUTH"
        raise LoginError(short(e)) from None
    if not answer.ok:
        imap.state = "NONAUTH"
        text = answers.text(answer.data[-1] if answer.data else b"")
        if _TEMPORARY.search(text):
            # RFC 5530: the server cannot check the password right now; not a wrong one.
            raise imaplib.IMAP4.abort("temporary login failure")
        raise LoginError(short(Exception(text)))
    if behind and answered_within(imap, LOST_AFTER_LOGIN_SECONDS):
        return after_login(client, next(pending), next(pending), answer.untagged)
    if behind:
        log.warning(
            "%s:%s lost the commands sent behind LOGIN; sending them again, and from now on"
            " only after LOGIN's answer",
            config.host,
            config.port,
        )
        notes.note(config, LOSES_AFTER_LOGIN)
    return _capabilities_and_list(client, config, answer.untagged)


def _login_with_literal(client: IMAPClient, config: ImapConfig, password: str) -> list[ListEntry]:
    """LOGIN with the password as a UTF-8 literal (RFC 3501: 8-bit text only in a literal):
    «Contraseña2026» is a password like any other. It waits for the server's "+", so
    nothing is pipelined behind it; CAPABILITY and LIST follow its answer."""
    imap = adapter.imap_of(client)
    adapter.send_literal(imap, password.encode("utf-8"))
    try:
        tag = adapter.send_command(imap, "LOGIN", adapter.quote(imap, config.username))
        typ, data = adapter.complete(imap, "LOGIN", tag)
    except imaplib.IMAP4.abort as e:
        if is_garbage(e):
            raise imaplib.IMAP4.abort("unexpected response to LOGIN") from None
        raise
    except imaplib.IMAP4.error as e:
        imap.state = "NONAUTH"
        raise LoginError(short(e)) from None
    untagged, imap.untagged_responses = imap.untagged_responses, {}
    if typ != "OK":
        imap.state = "NONAUTH"
        text = answers.text(data[-1] if data else b"")
        if _TEMPORARY.search(text):
            raise imaplib.IMAP4.abort("temporary login failure")
        raise LoginError(short(Exception(text)))
    imap.state = "AUTH"
    return _capabilities_and_list(client, config, untagged)


def _capabilities_and_list(
    client: IMAPClient, config: ImapConfig, login_untagged: Mapping[str, Sequence[object]]
) -> list[ListEntry]:
    pipe = Pipeline(adapter.imap_of(client), sequential=not config.pipelining)
    pipe.add("CAPABILITY")
    pipe.add("LIST", '""', '"*"')
    pending = pipe.run()
    return after_login(client, next(pending), next(pending), login_untagged)


def answered_within(imap: imaplib.IMAP4, seconds: float) -> bool:
    """Whether an answer is there to read, or arrives within ``seconds`` (nothing is read).

    Looks at what imaplib's buffered reader and the TLS layer already hold first: the
    answer often came in the same packet as the one before it.
    """
    sock = imap.sock
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        if adapter.buffered(imap):
            return True
    except (BlockingIOError, ssl.SSLWantReadError):
        pass
    finally:
        sock.settimeout(timeout)
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    with selectors.DefaultSelector() as selector:  # poll/epoll: no FD_SETSIZE limit
        selector.register(sock, selectors.EVENT_READ)
        return bool(selector.select(seconds))


def after_login(
    client: IMAPClient, capability: Answer, listed: Answer, login: Mapping[str, Sequence[object]]
) -> list[ListEntry]:
    """Keep the capabilities the server states now, and return LIST's answer."""
    advertised = capability.untagged.get("CAPABILITY") or login.get("CAPABILITY")
    last = advertised[-1] if advertised else None
    adapter.keep_capabilities(client, last if isinstance(last, bytes) else None)
    client.capabilities()  # no round trip when the server answered CAPABILITY
    adapter.check_ok(client, "list", listed.typ, listed.data)
    return answers.listing(adapter.folder_list(client, listed.untagged.get("LIST", [])))


def authenticate(client: IMAPClient, config: ImapConfig, token: str) -> list[ListEntry]:
    """SASL OAUTHBEARER (RFC 7628) where offered, else XOAUTH2; then CAPABILITY and LIST.

    With SASL-IR (RFC 4959) the token goes on the AUTHENTICATE line itself: one round
    trip when it is accepted. A refused token gets a "+" challenge (the error in JSON),
    answered as each mechanism requires, then NO. CAPABILITY and LIST are not piped
    behind AUTHENTICATE: after a refusal the server would read them as SASL data.
    """
    imap = adapter.imap_of(client)
    offered = {answers.text(c).upper() for c in client.capabilities()}
    if "AUTH=OAUTHBEARER" in offered:
        mechanism = "OAUTHBEARER"
        first = oauth.oauthbearer(config.username, token, config.host, config.port)
        after_error = b"\x01"  # RFC 7628 §3.2.3: a dummy reply ends the exchange
    elif "AUTH=XOAUTH2" in offered:
        mechanism, first, after_error = "XOAUTH2", oauth.xoauth2(config.username, token), b""
    else:
        raise AuthError("error.oauth_not_offered", host=config.host)
    replies = iter([after_error] if "SASL-IR" in offered else [first, after_error])
    adapter.answer_challenges(imap, lambda _challenge: next(replies, b""))
    initial = [base64.b64encode(first).decode("ascii")] if "SASL-IR" in offered else []
    try:
        tag = adapter.send_command(imap, "AUTHENTICATE", mechanism, *initial)
        typ, data = adapter.complete(imap, "AUTHENTICATE", tag)
    except imaplib.IMAP4.abort as e:
        if is_garbage(e):  # never quote it: a hostile server may echo the token
            raise imaplib.IMAP4.abort("unexpected response to AUTHENTICATE") from None
        raise
    except imaplib.IMAP4.error:  # BAD: not a refused token (a line too long, say): unquoted
        raise IMAPClientError("the server answered BAD to AUTHENTICATE") from None
    if typ != "OK":
        text = answers.text(data[-1] if data else b"")
        if _TEMPORARY.search(text):
            raise imaplib.IMAP4.abort("temporary login failure")
        raise LoginError(short(Exception(text)))
    imap.state = "AUTH"
    return _capabilities_and_list(client, config, {})


def drop(client: IMAPClient) -> None:
    """Close the socket without a word to the server."""
    try:
        client.shutdown()
    except (IMAPClientError, OSError):
        log.debug("socket already closed")


def close_quietly(client: IMAPClient) -> None:
    """Log out, or at least drop the socket; errors here change nothing for the user."""
    try:
        client.logout()
    except (IMAPClientError, OSError):
        try:
            client.shutdown()
        except (IMAPClientError, OSError):
            log.debug("socket already closed")
