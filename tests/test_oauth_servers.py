"""The local OAuth2 server and Dovecot's oauth2 passdb behave like the real thing.

Only real parts: the real ``msal`` and ``google-auth-oauthlib`` libraries talk
HTTPS to :class:`tests.servers.oauthserver.OAuthServer`, and a real Dovecot
checks the tokens through the server's RFC 7662 introspection. No product code.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
import webbrowser
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import certifi
import google.auth.transport.requests
import msal
import pytest
import requests
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import InstalledAppFlow
from imapclient.exceptions import LoginError
from oauthlib.oauth2.rfc6749.errors import AccessDeniedError

from tests.servers.certs import Certs
from tests.servers.dovecot import Dovecot
from tests.servers.oauthserver import (
    DEVICE_GRANT,
    GOOGLE_MAIL_SCOPE,
    MS_IMAP_SCOPE,
    OAuthServer,
    VisitingBrowser,
    pkce_s256,
)

MS_CLIENT_ID = "9e5f94bc-e8a4-4e73-b8be-63364c29d753"  # any id: a public client
TENANT = "common"
USER = "jperez"


# ------------------------------------------------------------------- helpers
def _msal_app(server: OAuthServer, certs: Certs) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        MS_CLIENT_ID,
        authority=f"{server.base_url}/{TENANT}",
        instance_discovery=False,
        validate_authority=False,
        verify=str(certs.ca),
    )


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def _device_sign_in(
    server: OAuthServer, app: msal.PublicClientApplication, username: str = USER
) -> dict[str, Any]:
    """msal's device flow; the user approves over HTTP once msal has polled at least once."""
    flow = app.initiate_device_flow(scopes=[MS_IMAP_SCOPE])
    assert "user_code" in flow, flow
    statuses: list[int] = []

    def user() -> None:
        _wait_for(lambda: server.device_polls >= 1)
        statuses.append(server.submit_device_login(flow["user_code"], username))

    thread = threading.Thread(target=user, daemon=True)
    thread.start()
    result: dict[str, Any] = app.acquire_token_by_device_flow(flow)
    thread.join(10)
    assert statuses == [200]
    return result


@pytest.fixture
def ms_tokens(oauth_server: OAuthServer, certs: Certs) -> dict[str, Any]:
    """A finished msal device flow for jperez."""
    result = _device_sign_in(oauth_server, _msal_app(oauth_server, certs))
    assert "access_token" in result, result.get("error")
    return result


@pytest.fixture
def oauth_dovecot(dovecot_factory: Callable[..., Dovecot], oauth_server: OAuthServer) -> Dovecot:
    return dovecot_factory(oauth2_introspection_url=oauth_server.introspection_url)


def _xoauth2(server: Dovecot, user: str, token: str) -> int:
    """Log in with XOAUTH2; the number of messages in INBOX (proves whose mailbox)."""
    client = server.client()
    try:
        client.oauth2_login(user, token)
        return int(client.select_folder("INBOX", readonly=True)[b"EXISTS"])
    finally:
        client.shutdown()


def _oauthbearer(server: Dovecot, user: str, token: str) -> int:
    client = server.client()
    try:
        client.oauthbearer_login(user, token)
        return int(client.select_folder("INBOX", readonly=True)[b"EXISTS"])
    finally:
        client.shutdown()


def _mail(subject: str) -> bytes:
    head = f"From: a@example.org\r\nTo: b@example.org\r\nSubject: {subject}\r\n"
    return f"{head}\r\nhola\r\n".encode()


# --------------------------------------------------------- msal device flow
def test_msal_device_flow_end_to_end(
    oauth_server: OAuthServer, certs: Certs, ms_tokens: dict[str, Any]
) -> None:
    assert ms_tokens["token_type"] == "Bearer"
    assert ms_tokens["refresh_token"]
    assert ms_tokens["expires_in"] == oauth_server.access_lifetime
    assert ms_tokens["id_token_claims"]["preferred_username"] == USER
    assert oauth_server.issued_access_tokens(USER) == [ms_tokens["access_token"]]
    [request] = oauth_server.device_requests
    assert request.client_id == MS_CLIENT_ID
    assert {MS_IMAP_SCOPE, "offline_access"} <= request.scopes
    # msal polled before the approval, got authorization_pending, then the tokens.
    assert oauth_server.device_polls >= 2
    outcomes = [r.error for r in oauth_server.token_requests if r.grant_type == DEVICE_GRANT]
    assert outcomes[0] == "authorization_pending"
    assert outcomes[-1] is None


def test_device_flow_message_is_like_microsofts(oauth_server: OAuthServer, certs: Certs) -> None:
    flow = _msal_app(oauth_server, certs).initiate_device_flow(scopes=[MS_IMAP_SCOPE])
    assert flow["verification_uri"] == f"{oauth_server.base_url}/devicelogin"
    assert flow["message"] == (
        f"To sign in, use a web browser to open the page {flow['verification_uri']}"
        f" and enter the code {flow['user_code']} to authenticate."
    )
    assert flow["interval"] == 1
    assert flow["expires_in"] == 900


def test_device_flow_declined_expired_and_bad_codes(
    oauth_server: OAuthServer, certs: Certs
) -> None:
    app = _msal_app(oauth_server, certs)
    flow = app.initiate_device_flow(scopes=[MS_IMAP_SCOPE])
    oauth_server.deny(flow["user_code"])
    assert app.acquire_token_by_device_flow(flow)["error"] == "authorization_declined"

    flow = app.initiate_device_flow(scopes=[MS_IMAP_SCOPE])
    oauth_server.expire_device_codes()
    assert app.acquire_token_by_device_flow(flow)["error"] == "expired_token"
    assert oauth_server.submit_device_login(flow["user_code"], USER) == 400  # expired

    assert oauth_server.submit_device_login("BCDF-GHJK", USER) == 400  # unknown code
    assert oauth_server.issued_access_tokens(USER) == []
    assert oauth_server.device_polls == 2


def test_msal_refresh_token_rotates_and_revoke_ends_it(
    oauth_server: OAuthServer, certs: Certs, ms_tokens: dict[str, Any]
) -> None:
    app = _msal_app(oauth_server, certs)
    first_rt = ms_tokens["refresh_token"]
    renewed = app.acquire_token_by_refresh_token(first_rt, scopes=[MS_IMAP_SCOPE])
    assert "error" not in renewed, renewed
    assert renewed["access_token"] != ms_tokens["access_token"]
    assert renewed["refresh_token"] != first_rt  # rotated...
    assert oauth_server.refreshes == 1
    again = app.acquire_token_by_refresh_token(first_rt, scopes=[MS_IMAP_SCOPE])
    assert "access_token" in again, again  # ...but the old one stays valid
    assert oauth_server.refreshes == 2

    oauth_server.revoke(USER)
    refused = app.acquire_token_by_refresh_token(renewed["refresh_token"], [MS_IMAP_SCOPE])
    assert refused["error"] == "invalid_grant"
    assert "revoked" in refused["error_description"]
    assert oauth_server.refreshes == 3
    assert len(oauth_server.issued_access_tokens(USER)) == 3


def test_msal_cache_has_the_account_and_refreshes_silently(
    oauth_server: OAuthServer, certs: Certs
) -> None:
    """Needs id_token + client_info in the answer: without them msal keeps no account."""
    app = _msal_app(oauth_server, certs)
    first = _device_sign_in(oauth_server, app)
    [account] = app.get_accounts(username=USER)
    cached = app.acquire_token_silent([MS_IMAP_SCOPE], account=account)
    assert cached is not None and cached["access_token"] == first["access_token"]
    assert oauth_server.refreshes == 0
    forced = app.acquire_token_silent([MS_IMAP_SCOPE], account=account, force_refresh=True)
    assert forced is not None and forced["access_token"] != first["access_token"]
    assert oauth_server.refreshes == 1


def test_refresh_without_rotation_and_custom_lifetime(
    certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certs.ca))  # what the fixture does
    with OAuthServer(certs, access_lifetime=120, rotate_refresh_tokens=False) as server:
        app = _msal_app(server, certs)
        first = _device_sign_in(server, app)
        assert first["expires_in"] == 120
        renewed = app.acquire_token_by_refresh_token(first["refresh_token"], [MS_IMAP_SCOPE])
        assert renewed["expires_in"] == 120
        assert "refresh_token" not in renewed
        assert server.refreshes == 1


def test_requests_ca_bundle_overrides_msal_verify(
    oauth_server: OAuthServer, certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests lets REQUESTS_CA_BUNDLE win over a session's ``verify``, msal's included."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    with pytest.raises(requests.exceptions.SSLError):
        _msal_app(oauth_server, certs)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert _msal_app(oauth_server, certs).authority.device_authorization_endpoint == (
        f"{oauth_server.base_url}/{TENANT}/oauth2/v2.0/devicecode"
    )


# ----------------------------------------------------------------- Dovecot
@pytest.mark.dovecot
def test_dovecot_accepts_the_token_with_xoauth2_and_oauthbearer(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, ms_tokens: dict[str, Any]
) -> None:
    oauth_dovecot.append(USER, "INBOX", _mail("uno"))
    before = oauth_server.introspections
    assert _xoauth2(oauth_dovecot, USER, ms_tokens["access_token"]) == 1
    assert _oauthbearer(oauth_dovecot, USER, ms_tokens["access_token"]) == 1
    assert _xoauth2(oauth_dovecot, USER, ms_tokens["access_token"]) == 1
    assert oauth_server.introspections == before + 3  # checked every time, no cache


@pytest.mark.dovecot
def test_dovecot_password_login_still_works_without_introspection(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, ms_tokens: dict[str, Any]
) -> None:
    with oauth_dovecot.connect(USER) as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    client = oauth_dovecot.client()
    try:  # a token is no password
        with pytest.raises(LoginError):
            client.login(USER, ms_tokens["access_token"])
    finally:
        client.shutdown()
    assert oauth_server.introspections == 0  # passwords never go to the introspection
    caps = oauth_dovecot.client()
    try:
        assert {b"AUTH=XOAUTH2", b"AUTH=OAUTHBEARER", b"AUTH=PLAIN"} <= set(caps.capabilities())
    finally:
        caps.shutdown()


@pytest.mark.dovecot
def test_dovecot_refuses_other_user_expired_revoked_and_unknown_tokens(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, certs: Certs, ms_tokens: dict[str, Any]
) -> None:
    token = ms_tokens["access_token"]
    with pytest.raises(LoginError):
        _xoauth2(oauth_dovecot, "other", token)  # jperez's token
    with pytest.raises(LoginError):
        _oauthbearer(oauth_dovecot, "other", token)
    with pytest.raises(LoginError):
        _xoauth2(oauth_dovecot, USER, "not-a-token-" + token[:8])

    oauth_server.expire_access_tokens()
    with pytest.raises(LoginError):
        _xoauth2(oauth_dovecot, USER, token)
    app = _msal_app(oauth_server, certs)
    renewed = app.acquire_token_by_refresh_token(ms_tokens["refresh_token"], [MS_IMAP_SCOPE])
    assert _xoauth2(oauth_dovecot, USER, renewed["access_token"]) == 0

    oauth_server.revoke(USER)
    with pytest.raises(LoginError):
        _xoauth2(oauth_dovecot, USER, renewed["access_token"])
    with pytest.raises(LoginError):
        _oauthbearer(oauth_dovecot, USER, renewed["access_token"])
    assert oauth_server.introspections == 7


# ------------------------------------------------- Google installed-app flow
@pytest.fixture
def test_browser(oauth_server: OAuthServer) -> Iterator[tuple[str, VisitingBrowser]]:
    """A registered ``webbrowser`` name whose browser visits URLs through the test CA."""
    name = f"secop-test-{id(oauth_server)}"
    browser = oauth_server.browser()
    webbrowser.register(name, None, browser)
    yield name, browser
    for thread in browser.threads:
        thread.join(10)


def _google_sign_in(server: OAuthServer, tmp_path: Path, browser_name: str) -> Credentials:
    flow = InstalledAppFlow.from_client_secrets_file(
        str(server.client_secrets_file(tmp_path / "client_secret.json")),
        scopes=[GOOGLE_MAIL_SCOPE],
    )
    creds: Credentials = flow.run_local_server(
        host="127.0.0.1",
        port=0,
        open_browser=True,
        browser=browser_name,
        authorization_prompt_message=None,
        timeout_seconds=30,
    )
    return creds


def test_google_installed_app_flow(
    oauth_server: OAuthServer, tmp_path: Path, test_browser: tuple[str, VisitingBrowser]
) -> None:
    name, browser = test_browser
    oauth_server.google_user = "jperez@gmail.com"
    creds = _google_sign_in(oauth_server, tmp_path, name)
    for thread in browser.threads:
        thread.join(10)
    assert browser.errors == []
    assert browser.pages == ["The authentication flow has completed. You may close this window."]
    assert creds.refresh_token
    assert oauth_server.issued_access_tokens("jperez@gmail.com") == [creds.token]
    [query] = oauth_server.auth_requests
    assert query["scope"] == GOOGLE_MAIL_SCOPE
    assert query["access_type"] == "offline"
    assert query["code_challenge_method"] == "S256"
    assert query["client_id"] == oauth_server.google_client_id
    assert urllib.parse.urlsplit(query["redirect_uri"]).hostname == "127.0.0.1"
    assert [(r.grant_type, r.error) for r in oauth_server.token_requests] == [
        ("authorization_code", None)
    ]


def test_google_credentials_refresh_then_revoked(
    oauth_server: OAuthServer, tmp_path: Path, test_browser: tuple[str, VisitingBrowser]
) -> None:
    oauth_server.google_user = "jperez@gmail.com"
    creds = _google_sign_in(oauth_server, tmp_path, test_browser[0])
    first = creds.token
    creds.refresh(google.auth.transport.requests.Request())
    assert creds.token != first
    assert creds.valid
    assert oauth_server.refreshes == 1
    assert oauth_server.issued_access_tokens("jperez@gmail.com") == [first, creds.token]

    oauth_server.revoke("jperez@gmail.com")
    with pytest.raises(RefreshError, match="invalid_grant"):
        creds.refresh(google.auth.transport.requests.Request())
    assert oauth_server.refreshes == 2


def test_google_consent_denied(
    oauth_server: OAuthServer, tmp_path: Path, test_browser: tuple[str, VisitingBrowser]
) -> None:
    oauth_server.google_user = "jperez@gmail.com"
    oauth_server.google_deny = True
    with pytest.raises(AccessDeniedError):
        _google_sign_in(oauth_server, tmp_path, test_browser[0])
    assert len(oauth_server.auth_requests) == 1
    assert oauth_server.token_requests == []


def _authorization_code(server: OAuthServer, certs: Certs, challenge: str) -> tuple[str, str]:
    """Run the consent screen by hand (no redirect followed): ``(code, redirect_uri)``."""
    redirect_uri = "http://127.0.0.1:9/"
    params = {
        "client_id": server.google_client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": GOOGLE_MAIL_SCOPE,
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    resp = requests.get(
        f"{server.base_url}/o/oauth2/auth",
        params=params,
        allow_redirects=False,
        verify=str(certs.ca),
        timeout=10,
    )
    assert resp.status_code == 302
    back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(resp.headers["Location"]).query))
    assert back["state"] == "xyz"
    return back["code"], redirect_uri


def test_authorization_code_grant_checks_pkce_secret_and_redirect(
    oauth_server: OAuthServer, certs: Certs
) -> None:
    oauth_server.google_user = USER
    verifier = "v" * 64
    good = {
        "grant_type": "authorization_code",
        "client_id": oauth_server.google_client_id,
        "client_secret": oauth_server.google_client_secret,
        "code_verifier": verifier,
    }

    def exchange(**changes: str) -> requests.Response:
        code, redirect_uri = _authorization_code(oauth_server, certs, pkce_s256(verifier))
        data = {**good, "code": code, "redirect_uri": redirect_uri, **changes}
        url = f"{oauth_server.base_url}/token"
        return requests.post(url, data=data, verify=str(certs.ca), timeout=10)

    assert exchange(code_verifier="w" * 64).json()["error"] == "invalid_grant"
    assert exchange(redirect_uri="http://127.0.0.1:10/").json()["error"] == "invalid_grant"
    wrong_secret = exchange(client_secret="nope")
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    ok = exchange()
    assert ok.status_code == 200
    assert "refresh_token" not in ok.json()  # no access_type=offline, no refresh token
    assert oauth_server.issued_access_tokens(USER) == [ok.json()["access_token"]]


@pytest.mark.dovecot
def test_google_token_logs_in_to_dovecot(
    oauth_dovecot: Dovecot,
    oauth_server: OAuthServer,
    tmp_path: Path,
    test_browser: tuple[str, VisitingBrowser],
) -> None:
    oauth_server.google_user = USER
    creds = _google_sign_in(oauth_server, tmp_path, test_browser[0])
    assert creds.token
    assert _xoauth2(oauth_dovecot, USER, creds.token) == 0
    assert oauth_server.introspections == 1
