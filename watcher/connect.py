"""Logged-in IMAP sessions for one account, by password or by OAuth2.

The commands and the service ask a :class:`Connector` for sessions and never
care how the account signs in. With OAuth2, a token the server refuses is
renewed once and tried again (the provider may have ended it early, or the
clock may be off); a second refusal is the server's word, not the token's.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from watcher import credentials
from watcher.config import Config, ImapConfig
from watcher.errors import AuthError

if TYPE_CHECKING:
    from watcher.mail import ImapSession
    from watcher.oauth import TokenSource

log = logging.getLogger(__name__)


class Connector:
    """``connector()`` opens a session; share one per account (and process)."""

    def __init__(
        self, config: Config, *, clock: Callable[[], datetime], keep_password: bool = False
    ) -> None:
        """``keep_password``: ask for the password once (``wait``: a password_command that
        prompts should prompt once), not on every connection (the service: a password
        fixed in the keyring is picked up)."""
        self.imap = config.imap
        self.account = config.account
        self._keep = keep_password
        self._password: str | None = None
        self.tokens: TokenSource | None = None
        if self.imap.oauth:
            from watcher.oauth import TokenSource, provider_for

            provider = provider_for(self.imap, self.account)
            self.tokens = TokenSource(self.imap, provider, account=self.account, clock=clock)

    def __call__(self) -> ImapSession:
        from watcher.mail import ImapSession

        if self.tokens is None:
            try:
                return ImapSession.open(self.imap, self._get_password())
            except AuthError as e:
                raise _naming_the_source(e, self.imap) from e
        token = self.tokens.access_token()
        try:
            return ImapSession.open_oauth(self.imap, token)
        except AuthError as e:
            if e.key != "error.auth":  # the server offers no OAuth2 at all: no token helps
                raise
            log.info("%s refused the access token; asking for a new one", self.imap.host)
        fresh = self.tokens.renew(token)
        try:
            return ImapSession.open_oauth(self.imap, fresh)
        except AuthError as e:
            if e.key != "error.auth":
                raise
            raise AuthError(
                "error.oauth_refused", host=self.imap.host, username=self.imap.username
            ) from e

    def password(self) -> str:
        """The password this connector signs in with (``doctor`` checks it can be had)."""
        return self._get_password()

    def _get_password(self) -> str:
        if self._password is not None:
            return self._password
        password = credentials.get_password(self.imap)
        if self._keep:
            self._password = password
        return password

    def fingerprint(self) -> str:
        """Changes when the user fixes the password or signs in again (never stored)."""
        if self.tokens is not None:
            return self.tokens.fingerprint()
        return hashlib.sha256(credentials.get_password(self.imap).encode("utf-8")).hexdigest()


def _naming_the_source(error: AuthError, imap: ImapConfig) -> AuthError:
    """A refused password, with the advice for where it came from: running setup again
    cannot help when the variable or password_command is what is used."""
    if error.key != "error.auth":
        return error
    source = credentials.password_source(imap)
    if source == credentials.FROM_KEYRING:
        return error
    params = dict(error.params)
    if source == credentials.FROM_COMMAND and imap.password_command:
        params["program"] = imap.password_command[0]
    key = "error.auth_from_env" if source == credentials.FROM_ENV else "error.auth_from_command"
    return AuthError(key, variable=credentials.ENV_PASSWORD, **params)
