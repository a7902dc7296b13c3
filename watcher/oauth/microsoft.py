"""Sign in with Microsoft (Outlook.com, Hotmail, Microsoft 365) through MSAL.

The first sign-in is the device-code flow: the user opens a Microsoft page in
any browser (even on another device) and types a short code, so it works on
a workstation without a local web server and over SSH. Afterwards MSAL turns
the refresh token from the keyring into access tokens.

The client id is :data:`DEFAULT_CLIENT_ID` unless ``oauth_client_id`` names
the user's own registration (docs/oauth.md, "Microsoft"). The tenant is ``common``
(personal and work accounts) unless ``oauth_tenant`` names one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher.config import MICROSOFT_AUTHORITY, ImapConfig
from watcher.errors import AuthError, ConnectionFailed, ProtocolError
from watcher.oauth import base as oauth

log = logging.getLogger(__name__)

# Mozilla Thunderbird's public client, registered for IMAP with device-code sign-in and
# used by many free tools; the consent page names it, and a tenant's admin may block it.
# secop-watcher has no registration of its own yet: docs/oauth.md says how to register one
# and set ``oauth_client_id``.
DEFAULT_CLIENT_ID = "9e5f94bc-e8a4-4e73-b8be-63364c29d753"
# MSAL adds offline_access (and openid, profile) itself, and refuses them if asked.
SCOPES = ["https://outlook.office.com/IMAP.AccessAsUser.All"]
DEVICE_FLOW_SECONDS = 900  # how long the user has to type the code


@dataclass(frozen=True)
class DevicePrompt:
    """What the user must do in the browser."""

    url: str
    code: str
    expires_in: int


class Microsoft:
    """Microsoft's token endpoint for one account (:class:`watcher.oauth.Provider`)."""

    def __init__(self, imap: ImapConfig, account: str = "") -> None:
        self.imap = imap
        self.account = account
        self._msal: Any = None

    @property
    def client_id(self) -> str:
        return self.imap.oauth_client_id or DEFAULT_CLIENT_ID

    @property
    def authority(self) -> str:
        return f"{self.imap.oauth_authority}/{self.imap.oauth_tenant}"

    def _app(self) -> Any:
        """The MSAL application (built once: building it asks the authority for its endpoints)."""
        if self._msal is None:
            import msal

            official = self.imap.oauth_authority == MICROSOFT_AUTHORITY
            with self._transport():
                self._msal = msal.PublicClientApplication(
                    self.client_id,
                    authority=self.authority,
                    validate_authority=official,
                    instance_discovery=None if official else False,
                    timeout=self.imap.timeout_seconds,
                    token_cache=msal.TokenCache(),  # in memory; the keyring keeps the rest
                )
        return self._msal

    def refresh(self, record: oauth.Record, now: datetime) -> oauth.Grant:
        with self._transport():
            result = self._app().acquire_token_by_refresh_token(record["refresh_token"], SCOPES)
        return self._grant(result, now, record)

    def sign_in(
        self, show: Callable[[DevicePrompt], None], now: Callable[[], datetime]
    ) -> oauth.Grant:
        """The device-code flow; blocks until the user has typed the code (or it expired)."""
        app = self._app()
        with self._transport():
            flow = app.initiate_device_flow(scopes=SCOPES)
        if "user_code" not in flow:
            raise self._sign_in_refused(flow)
        show(
            DevicePrompt(
                url=str(flow.get("verification_uri", "https://microsoft.com/devicelogin")),
                code=str(flow["user_code"]),
                expires_in=int(flow.get("expires_in", DEVICE_FLOW_SECONDS)),
            )
        )
        with self._transport():
            result = app.acquire_token_by_device_flow(flow)
        if "access_token" not in result:
            raise self._sign_in_refused(result)
        return self._grant(result, now(), {})

    def _grant(self, result: dict[str, Any], now: datetime, record: oauth.Record) -> oauth.Grant:
        if "access_token" not in result:
            raise oauth.refused(self.imap, self.account, result, self._host)
        refresh = result.get("refresh_token") or record.get("refresh_token")
        if not refresh:  # offline_access not granted: the sign-in would not outlive the hour
            raise self._sign_in_refused({"error": "no_refresh_token"})
        return oauth.Grant(
            access_token=str(result["access_token"]),
            expires_at=oauth.expires_at(now, result.get("expires_in")),
            record={"refresh_token": str(refresh), "client_id": self.client_id},
        )

    def _sign_in_refused(self, result: dict[str, Any]) -> AuthError:
        """The sign-in itself did not succeed: declined, timed out, or blocked by a policy
        (Microsoft's description, with its AADSTS code, says which)."""
        return AuthError(
            "error.oauth_not_signed_in",
            provider="Microsoft",
            reason=oauth.sanitize(result.get("error", "?"), 60),
            detail=oauth.sanitize(result.get("error_description", "")),
            command=oauth.login_command(self.account),
        )

    @property
    def _host(self) -> str:
        return oauth.host_of(self.imap.oauth_authority)

    @contextmanager
    def _transport(self) -> Iterator[None]:
        """The token endpoint unreachable, untrusted or talking nonsense: a clear word."""
        from msal.exceptions import MsalServiceError

        try:
            with oauth.translate_http(self.imap.oauth_authority):
                try:
                    yield
                except MsalServiceError as e:  # an HTTP 5xx (or 429) msal would not parse
                    status = getattr(e, "status_code", None) or oauth.sanitize(e, 40)
                    raise ConnectionFailed(
                        "error.oauth_unavailable",
                        provider="Microsoft",
                        host=self._host,
                        reason=f"HTTP {status}" if isinstance(status, int) else status,
                    ) from e
        except ProtocolError as e:
            # MSAL raises ValueError when the authority's discovery fails: a wrong
            # oauth_tenant, or a network that answers with its own page (a captive portal).
            if not isinstance(e.__cause__, ValueError) or self._msal is not None:
                raise
            raise ConnectionFailed("error.oauth_authority", authority=self.authority) from e
