"""Sign in with Google (Gmail, Google Workspace) through google-auth-oauthlib.

Google wants every installed application to bring its own OAuth client: the
user creates one ("Desktop app") in the Google Cloud console and downloads
its JSON file (docs/oauth.md, "Google"). ``oauth_client_file`` points at that file.
The first sign-in opens Google's page in the browser and catches the answer
on a loopback port (``http://127.0.0.1:<free port>/``); from then on the
keyring holds the refresh token with the client's id, secret and token
endpoint, so the downloaded file is no longer needed.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import webbrowser
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watcher.config import ImapConfig
from watcher.errors import AuthError, ConfigError, UserError
from watcher.oauth import base as oauth

log = logging.getLogger(__name__)

SCOPES = ["https://mail.google.com/"]
TOKEN_URI = "https://oauth2.googleapis.com/token"
SIGN_IN_SECONDS = 600  # how long the loopback port waits for the browser


class Google:
    """Google's token endpoint for one account (:class:`watcher.oauth.Provider`)."""

    def __init__(self, imap: ImapConfig, account: str = "") -> None:
        self.imap = imap
        self.account = account

    def refresh(self, record: oauth.Record, now: datetime) -> oauth.Grant:
        from google.auth.exceptions import RefreshError, TransportError
        from google.auth.transport.requests import Request
        from google.oauth2.credentials import Credentials

        token_uri = record.get("token_uri", TOKEN_URI)
        credentials = Credentials(
            None,
            refresh_token=record["refresh_token"],
            token_uri=token_uri,
            client_id=record.get("client_id"),
            client_secret=record.get("client_secret"),
            scopes=SCOPES,
        )
        with oauth.translate_http(token_uri):
            try:
                credentials.refresh(_timed(Request(), self.imap.timeout_seconds))
            except RefreshError as e:
                raise self._refused(e, token_uri) from e
            except TransportError as e:
                cause = e.__cause__ or e.__context__
                if cause is not None:
                    raise cause from e  # requests' own error: translate_http words it
                raise
        return self._grant(credentials, now, record)

    def sign_in(self, prompt: str, now: Callable[[], datetime]) -> oauth.Grant:
        """The installed-app flow: Google's page in the browser, the answer on a loopback port.

        ``prompt`` is printed with the page's address in place of ``{url}``, for when no
        browser opens by itself (google-auth-oauthlib prints it).
        """
        from google_auth_oauthlib.flow import InstalledAppFlow, WSGITimeoutError
        from oauthlib.oauth2.rfc6749.errors import OAuth2Error

        client = self._client_config()
        flow = InstalledAppFlow.from_client_config(client, scopes=SCOPES)
        with oauth.translate_http(_installed(client)["token_uri"]):
            try:
                credentials = flow.run_local_server(
                    host="127.0.0.1",
                    port=0,
                    open_browser=_has_browser(),
                    authorization_prompt_message=prompt,
                    success_message=SUCCESS_PAGE,
                    timeout_seconds=SIGN_IN_SECONDS,
                    access_type="offline",  # a refresh token, not just an hour
                    prompt="consent",  # Google sends the refresh token again on a new sign-in
                    login_hint=self.imap.username,
                )
            except WSGITimeoutError as e:  # an AttributeError: caught before translate_http
                raise self._not_signed_in("timeout") from e
            except OAuth2Error as e:  # access_denied, a state or code that does not match
                raise self._not_signed_in(oauth.sanitize(e.error, 60)) from e
            except Warning as e:  # oauthlib: Google granted another scope than asked
                raise self._not_signed_in("scope") from e
        record = {
            "refresh_token": credentials.refresh_token or "",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "token_uri": credentials.token_uri,
        }
        return self._grant(credentials, now(), record)

    def _not_signed_in(self, reason: str) -> AuthError:
        return AuthError(
            "error.oauth_not_signed_in",
            provider="Google",
            reason=reason,
            detail="",
            command=oauth.login_command(self.account),
        )

    def _client_config(self) -> dict[str, Any]:
        """The downloaded client file, checked: every problem is a ConfigError naming it."""
        path = self.imap.oauth_client_file
        where = "[imap] oauth_client_file"
        if path is None:
            raise ConfigError("", [(where, "config.google_client_missing", {})])
        try:
            client: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
            _installed(client)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(str(path), [(where, "config.google_client_file", {})]) from e
        return client

    def _grant(self, credentials: Any, now: datetime, record: oauth.Record) -> oauth.Grant:
        if not record.get("refresh_token"):
            raise AuthError(
                "error.oauth_provider", provider="Google", reason="no_refresh_token", detail=""
            )
        expiry = credentials.expiry  # naive UTC, google-auth's convention
        expires = expiry.replace(tzinfo=UTC) if expiry is not None else oauth.expires_at(now, None)
        return oauth.Grant(access_token=str(credentials.token), expires_at=expires, record=record)

    def _refused(self, e: Exception, token_uri: str) -> UserError:
        """google-auth's RefreshError carries the endpoint's JSON answer, when there was one."""
        data = e.args[1] if len(e.args) > 1 and isinstance(e.args[1], dict) else {}
        if "error" not in data:  # an HTML page, a 502: not Google saying no
            data = {"error": "no_answer"}
        return oauth.refused(self.imap, self.account, data, oauth.host_of(token_uri))


def _timed(request: Any, seconds: float) -> Callable[..., Any]:
    """google-auth's request with our ``timeout_seconds`` instead of its 120 s."""

    def call(*args: Any, **kwargs: Any) -> Any:
        kwargs["timeout"] = seconds
        return request(*args, **kwargs)

    return call


def _installed(client: dict[str, Any]) -> dict[str, Any]:
    """The "installed" (desktop) part of a client file; KeyError when it is something else."""
    section = client["installed"]
    for key in ("client_id", "client_secret", "auth_uri", "token_uri"):
        if not isinstance(section[key], str) or not section[key]:
            raise KeyError(key)
    return dict(section)


def _has_browser() -> bool:
    """A browser the user can see. On a Linux console without a display, Python would
    pick a text browser (lynx, w3m) inside the terminal: then the address is printed
    instead, to open on this computer. ``$BROWSER`` is the user's own choice."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("BROWSER") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


SUCCESS_PAGE = (
    "secop-watcher: inicio de sesión completo; puede cerrar esta ventana. / "
    "Sign-in complete; you may close this window."
)
