"""OAuth2 sign-in: access tokens for IMAP, made from a refresh token kept in the keyring.

Microsoft (:mod:`watcher.oauth.microsoft`) and Google (:mod:`watcher.oauth.google`)
differ in how the first sign-in happens and whom to ask for a fresh access
token. What they share lives here:

- The refresh token lives in the keyring only (service ``secop-watcher``,
  entry ``oauth2:<auth>:<username>``), with what refreshing it needs (for
  Google the client id, secret and token endpoint from the file the user
  downloaded). Never in a file, a log or a message.
- Access tokens stay in memory. They are refreshed :data:`REFRESH_MARGIN`
  before they expire (by the clock passed in), and once more when the IMAP
  server refuses one (:meth:`TokenSource.renew`).
- A refresh token the provider no longer accepts (revoked, expired, password
  changed) is :class:`ReauthRequired`, an :class:`AuthError`: the command
  says "run secop-watcher login", and the service pauses and notifies, as it
  does for a wrong password.
- The SASL strings for XOAUTH2 and OAUTHBEARER (RFC 7628).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from watcher import credentials
from watcher.config import OAUTH2_GOOGLE, OAUTH2_MICROSOFT, ImapConfig
from watcher.errors import (
    AuthError,
    ConnectionFailed,
    CredentialsError,
    ProtocolError,
    TLSError,
    UserError,
)

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)  # a token this close to its end is not used
LIFETIME_BOUNDS = (60.0, 86400.0)  # an expires_in outside this is taken as its bound
# What the token endpoint may answer (RFC 6749 §5.2, Microsoft's additions): the
# sign-in is gone, or the app's settings are wrong; anything else is taken as passing
# (temporarily_unavailable, server_error, throttling) and tried again later.
REAUTH_ERRORS = frozenset({"invalid_grant", "interaction_required", "consent_required"})
CONFIG_ERRORS = frozenset(
    {
        "invalid_client",
        "unauthorized_client",
        "invalid_scope",
        "invalid_request",
        "unsupported_grant_type",
    }
)
PROVIDER_NAMES = {OAUTH2_MICROSOFT: "Microsoft", OAUTH2_GOOGLE: "Google"}

Record = dict[str, str]  # what the keyring keeps: refresh_token and what refreshing needs
Clock = Callable[[], datetime]


class ReauthRequired(AuthError):
    """The provider no longer accepts the saved sign-in: the user must sign in again."""

    key = "error.oauth_revoked"


@dataclass(frozen=True)
class Grant:
    """What a sign-in or a refresh gives: an access token, its end, and what to keep."""

    access_token: str
    expires_at: datetime
    record: Record


class Provider(Protocol):
    """One identity provider's token endpoint (Microsoft, Google)."""

    def refresh(self, record: Record, now: datetime) -> Grant:
        """A fresh access token; :class:`ReauthRequired` when the record is no longer good."""
        ...


def entry(imap: ImapConfig) -> str:
    """The keyring entry for this account's sign-in."""
    return f"oauth2:{imap.auth}:{imap.username}"


def login_command(account: str) -> str:
    """What the user types to sign in again."""
    return "secop-watcher login" + (f" --account {account}" if account else "")


def load_record(imap: ImapConfig, account: str = "") -> Record:
    """The saved sign-in; :class:`CredentialsError` (with the way out) when there is none."""
    text = credentials.keyring_get(entry(imap), username=imap.username)
    record = _parse(text)
    if record is None:
        raise CredentialsError(
            "error.oauth_no_token",
            username=imap.username,
            provider=PROVIDER_NAMES[imap.auth],
            command=login_command(account),
        )
    return record


def save_record(imap: ImapConfig, record: Record) -> None:
    credentials.keyring_set(entry(imap), json.dumps(record), username=imap.username)


def access_entry(imap: ImapConfig) -> str:
    """The keyring entry of the current access token (a cache: losing it costs a refresh)."""
    return f"oauth2-access:{imap.auth}:{imap.username}"


def save_access(imap: ImapConfig, grant: Grant) -> None:
    """Keep the access token for the next run (``check-now`` then needs no HTTPS request).
    Best effort: a keyring that refuses it (Windows limits an entry to 2,560 bytes) only
    means the next run asks the provider again."""
    value = {"access_token": grant.access_token, "expires_at": grant.expires_at.isoformat()}
    try:
        credentials.keyring_set(access_entry(imap), json.dumps(value), username=imap.username)
    except CredentialsError:
        log.debug("access token not kept in the keyring")


def load_access(imap: ImapConfig) -> Grant | None:
    try:
        text = credentials.keyring_get(access_entry(imap), username=imap.username)
        value = json.loads(text or "null")
        return Grant(
            access_token=str(value["access_token"]),
            expires_at=datetime.fromisoformat(str(value["expires_at"])),
            record={},
        )
    except (CredentialsError, ValueError, KeyError, TypeError):
        return None


def _parse(text: str | None) -> Record | None:
    if not text:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("refresh_token"), str):
        return None
    return {k: v for k, v in record.items() if isinstance(v, str)}


def expires_at(now: datetime, seconds: object) -> datetime:
    """``expires_in`` as an instant; a missing or odd value counts as one hour, and an
    absurd one (negative, "inf", years) is held to :data:`LIFETIME_BOUNDS`."""
    try:
        value = float(str(seconds))
    except ValueError:
        value = 3600.0
    if value != value:  # NaN
        value = 3600.0
    low, high = LIFETIME_BOUNDS
    return now + timedelta(seconds=min(max(value, low), high))


class TokenSource:
    """Access tokens for one account, shared by every connection of a process.

    Thread-safe: the service's checker and IDLE threads ask at once, and
    Microsoft hands out a new refresh token with each refresh, so two
    refreshes at once would race to save theirs.
    """

    def __init__(
        self, imap: ImapConfig, provider: Provider, *, account: str = "", clock: Clock
    ) -> None:
        self.imap = imap
        self._provider = provider
        self._account = account
        self._clock = clock
        self._lock = threading.Lock()
        self._grant: Grant | None = None
        self.refreshes = 0  # how often the provider was asked (tests, logs)

    def access_token(self) -> str:
        """A token good for at least :data:`REFRESH_MARGIN` more: the one in memory, else the
        one another run left in the keyring, else a fresh one from the provider."""
        with self._lock:
            for grant in (self._grant, load_access(self.imap)):
                if grant is not None and grant.expires_at - self._clock() > REFRESH_MARGIN:
                    self._grant = grant
                    return grant.access_token
            return self._refresh().access_token

    def refreshed(self) -> str:
        """A token straight from the provider (``doctor``: is the saved sign-in still good?)."""
        with self._lock:
            return self._refresh().access_token

    def renew(self, refused: str) -> str:
        """The server refused ``refused``: a new token, unless another thread got one already."""
        with self._lock:
            if self._grant is not None and self._grant.access_token != refused:
                return self._grant.access_token
            return self._refresh().access_token

    def _refresh(self) -> Grant:
        record = load_record(self.imap, self._account)
        try:
            grant = self._provider.refresh(record, self._clock())
        except ReauthRequired:
            self._grant = None
            raise
        self.refreshes += 1
        kept = {**record, **grant.record}  # what the provider left out stays (signed_in)
        if kept != record:  # Microsoft rotates refresh tokens
            save_record(self.imap, kept)
        save_access(self.imap, grant)
        self._grant = grant
        log.info(
            "new %s access token for %s, valid until %s",
            PROVIDER_NAMES[self.imap.auth],
            self.imap.username,
            grant.expires_at.astimezone(UTC).strftime("%H:%M:%S UTC"),
        )
        return grant

    def fingerprint(self) -> str:
        """Changes when the user signs in again (the service resumes then), not when a
        refresh rotates the refresh token."""
        try:
            text = credentials.keyring_get(entry(self.imap), username=self.imap.username)
        except CredentialsError:
            text = None
        record = _parse(text) or {}
        mark = record.get("signed_in") or text or ""
        return hashlib.sha256(mark.encode("utf-8")).hexdigest()


def refused(imap: ImapConfig, account: str, answer: dict[str, object], host: str) -> UserError:
    """What an error answer of the token endpoint means for the user (never the token)."""
    error = sanitize(answer.get("error"), 60) or "?"
    if error in REAUTH_ERRORS:
        return reauth(imap, account, error)
    provider = PROVIDER_NAMES[imap.auth]
    if error in CONFIG_ERRORS:
        detail = sanitize(answer.get("error_description"))
        return AuthError("error.oauth_provider", provider=provider, reason=error, detail=detail)
    return ConnectionFailed("error.oauth_unavailable", provider=provider, host=host, reason=error)


def reauth(imap: ImapConfig, account: str, reason: str) -> ReauthRequired:
    """The error for a sign-in the provider refuses; ``reason`` is the provider's error code."""
    return ReauthRequired(
        provider=PROVIDER_NAMES[imap.auth],
        username=imap.username,
        reason=reason,
        command=login_command(account),
    )


# --- SASL --------------------------------------------------------------------------


def xoauth2(username: str, token: str) -> bytes:
    """The XOAUTH2 initial response (Google's and Microsoft's documented format)."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer(username: str, token: str, host: str, port: int) -> bytes:
    """The OAUTHBEARER initial response (RFC 7628 §3.1), the authzid escaped per RFC 5801."""
    authzid = username.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01".encode()


def sanitize(text: object, limit: int = 200) -> str:
    """A provider's error description, short and printable (never holds a token)."""
    clean = "".join(c if c.isprintable() else " " for c in str(text or ""))
    return clean.strip()[:limit]


def host_of(url: str) -> str:
    """``login.microsoftonline.com`` of ``https://login.microsoftonline.com/common``: what the
    messages name."""
    return urlsplit(url).netloc or url


def utcnow() -> datetime:
    return datetime.now(UTC)


@contextmanager
def translate_http(url: str) -> Iterator[None]:
    """requests' errors (MSAL and google-auth both use requests) as user errors."""
    import requests

    host = host_of(url)
    try:
        yield
    except requests.exceptions.SSLError as e:
        raise TLSError("error.oauth_tls", host=host) from e
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
        raise ConnectionFailed("error.oauth_unreachable", host=host) from e
    except requests.exceptions.RequestException as e:
        raise ConnectionFailed("error.oauth_unreachable", host=host) from e
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as e:
        # The libraries fail with these on an answer that is not what OAuth2 says
        # (an HTML page from a proxy, a JSON list, an absurd expires_in): never quoted.
        raise ProtocolError("error.oauth_garbled", host=host) from e
