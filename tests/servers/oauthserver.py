"""A local OAuth2 authorization server on loopback, for the sign-in tests.

It speaks enough of Microsoft's identity platform (v2.0 endpoints, device
code flow, refresh tokens) and of Google's installed-app flow (authorization
code with PKCE on a loopback redirect) that the *real* ``msal`` and
``google-auth-oauthlib`` libraries work against it unchanged, and it answers
RFC 7662 token introspection so that a real Dovecot (``oauth2`` passdb) can
check the access tokens it issues.

Two listeners on 127.0.0.1, free ports:

* HTTPS (:attr:`OAuthServer.base_url`), certificate signed by the test CA;
  clients trust it through ``certs.ca`` (msal: ``verify=str(certs.ca)``;
  requests-based libraries: ``REQUESTS_CA_BUNDLE``);
* plain HTTP for Dovecot's introspection (:attr:`OAuthServer.introspection_url`).

Endpoints (``{tenant}`` is any path segment, e.g. ``common``)::

    GET  /{tenant}/v2.0/.well-known/openid-configuration   OIDC discovery (msal)
    POST /{tenant}/oauth2/v2.0/devicecode                   RFC 8628 device authorization
    POST /{tenant}/oauth2/v2.0/token  and  POST /token      token endpoint
    GET  /devicelogin, POST /devicelogin (code, username)   the user's browser, device flow
    GET  /o/oauth2/auth                                     Google-like authorization
    POST http://.../introspect (token)                      RFC 7662, for Dovecot

All tokens are opaque random strings, except the ``id_token`` (a JWT signed
with a key local to the server, HS256): msal creates no *account* in its cache
without an ``id_token`` or ``client_info``, so ``get_accounts()`` and
``acquire_token_silent()`` would not work. Token values are never logged.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.servers.certs import Certs

HOST = "127.0.0.1"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MS_IMAP_SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All"
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"
_USER_CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels: no words, no 0/O confusion
_AUTH_CODE_LIFETIME = 600
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


# ------------------------------------------------------------------- records
@dataclass(frozen=True)
class DeviceRequest:
    """One call to the device authorization endpoint (what the client asked for)."""

    client_id: str
    scope: str
    user_code: str

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())


@dataclass(frozen=True)
class TokenRequest:
    """One call to the token endpoint; ``error`` is ``None`` when tokens were issued."""

    grant_type: str
    client_id: str
    scope: str
    error: str | None


@dataclass
class _Device:
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    state: str = "pending"  # pending | approved | denied | redeemed
    username: str | None = None


@dataclass
class _Grant:
    """What a refresh token stands for."""

    username: str
    client_id: str
    scope: str
    revoked: bool = False


@dataclass
class _Access:
    username: str
    client_id: str
    scope: str
    expires_at: float
    revoked: bool = False


@dataclass
class _AuthCode:
    username: str
    client_id: str
    redirect_uri: str
    scope: str
    offline: bool
    challenge: str | None
    challenge_method: str
    expires_at: float


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class OAuthError(Exception):
    """An OAuth2 error answer (RFC 6749 section 5.2 / RFC 8628 section 3.5)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> _Response:
        body = {"error": self.error, "error_description": self.description}
        headers = {"WWW-Authenticate": 'Basic realm="token"'} if self.status == 401 else {}
        return _json(self.status, body, headers)


def _json(status: int, body: Mapping[str, Any], headers: dict[str, str] | None = None) -> _Response:
    data = json.dumps(body).encode()
    return _Response(
        status, data, "application/json", {"Cache-Control": "no-store", **(headers or {})}
    )


def _html(status: int, text: str) -> _Response:
    page = f"<!doctype html><html><body><p>{text}</p></body></html>"
    return _Response(status, page.encode(), "text/html; charset=utf-8")


def _redirect(url: str) -> _Response:
    return _Response(302, b"", "text/plain", {"Location": url})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def _with_query(url: str, params: Mapping[str, str]) -> str:
    sep = "&" if urllib.parse.urlsplit(url).query else "?"
    return url + sep + urllib.parse.urlencode(params)


# ------------------------------------------------------------------ plumbing
# (method, path, query, form, headers with lower-case names) -> answer
Dispatch = Callable[[str, str, dict[str, str], dict[str, str], Mapping[str, str]], _Response]


class _Handler(BaseHTTPRequestHandler):
    """Parses the request, lets :class:`OAuthServer` answer it, writes the answer.

    HTTP/1.0 (one request per connection) so that ``stop()`` leaves no
    keep-alive connection behind.
    """

    server: _HTTPServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        form: dict[str, str] = {}
        length = int(self.headers.get("Content-Length") or 0)
        if method == "POST" and length:
            body = self.rfile.read(length).decode("utf-8", errors="replace")
            form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        try:
            headers = {name.lower(): value for name, value in self.headers.items()}
            answer = self.server.dispatch(method, parts.path, query, form, headers)
        except Exception as exc:  # a bug in the test server must show, not hang the client
            answer = _json(500, {"error": "server_error", "error_description": repr(exc)})
        self.send_response(answer.status)
        for name, value in {"Content-Type": answer.content_type, **answer.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines carry authorization codes."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, dispatch: Dispatch, tls: ssl.SSLContext | None) -> None:
        super().__init__((HOST, 0), _Handler)
        self.dispatch = dispatch
        self.tls = tls

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS handshake in the connection's own thread, so a slow client blocks no one."""
        request.settimeout(30)
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            super().finish_request(conn, client_address)
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


# -------------------------------------------------------------------- server
class OAuthServer:
    """Microsoft-like and Google-like OAuth2 authorization server (see the module doc).

    Tests drive the user's side with :meth:`approve` / :meth:`deny` (device
    flow; or :meth:`submit_device_login` over HTTP, like a browser) and
    :attr:`google_user` / :attr:`google_deny` (authorization code flow), and
    break things with :meth:`revoke`, :meth:`expire_access_tokens` and
    :meth:`expire_device_codes`.

    What happened is recorded: :attr:`device_requests` (client id, scope and
    user code of each device authorization), :attr:`auth_requests` (query of
    each Google-like authorization request), :attr:`token_requests` (grant
    type, client id, scope and error of each token request; never a token),
    and the counters :attr:`refreshes` (refresh_token grant requests,
    successful or not), :attr:`device_polls` (device_code grant requests) and
    :attr:`introspections`.

    A refresh token is issued only when asked for: ``offline_access`` in the
    device flow's scope (msal always adds it), ``access_type=offline`` in the
    Google-like flow. ``rotate_refresh_tokens=False`` answers a refresh
    without a refresh token (like Google; the old one stays in use).
    """

    def __init__(
        self,
        certs: Certs,
        *,
        access_lifetime: int = 3600,
        rotate_refresh_tokens: bool = True,
        device_code_lifetime: int = 900,
    ) -> None:
        self.certs = certs
        self.access_lifetime = access_lifetime
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.device_code_lifetime = device_code_lifetime
        self.tenant_id = str(uuid.uuid4())
        self.google_client_id = f"{secrets.randbelow(10**12):012d}-test.apps.googleusercontent.com"
        self.google_client_secret = "GOCSPX-" + secrets.token_urlsafe(21)
        self.google_user: str | None = None
        self.google_deny = False
        self.device_requests: list[DeviceRequest] = []
        self.auth_requests: list[dict[str, str]] = []
        self.token_requests: list[TokenRequest] = []
        # (status, body, content type): the token endpoint's next answers, whatever is
        # asked (a proxy's HTML page, a JSON list, "temporarily_unavailable"); None = normal.
        self.token_answer: tuple[int, bytes, str] | None = None
        self.refreshes = 0
        self.device_polls = 0
        self.introspections = 0
        self._lock = threading.RLock()
        self._devices: dict[str, _Device] = {}  # device_code -> state
        self._user_codes: dict[str, str] = {}  # user_code -> device_code
        self._grants: dict[str, _Grant] = {}  # refresh token -> grant
        self._access: dict[str, _Access] = {}  # access token -> state
        self._codes: dict[str, _AuthCode] = {}  # authorization code -> state
        self._id_token_key = secrets.token_bytes(32)
        self._https: _HTTPServer | None = None
        self._http: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------- lifecycle
    def start(self) -> OAuthServer:
        if self._https is not None:
            return self
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert, key = self.certs.server("good")
        tls.load_cert_chain(cert, key)
        self._https = _HTTPServer(self._dispatch_https, tls)
        self._http = _HTTPServer(self._dispatch_introspection, None)
        for srv, name in ((self._https, "oauth-https"), (self._http, "oauth-introspect")):
            thread = threading.Thread(
                target=srv.serve_forever, args=(0.05,), name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for srv in (self._https, self._http):
            if srv is not None:
                srv.shutdown()
                srv.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._https = self._http = None
        self._threads = []

    def __enter__(self) -> OAuthServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT`` (authority for msal: ``f"{base_url}/{tenant}"``)."""
        if self._https is None:
            raise RuntimeError("OAuthServer is not started")
        return f"https://{HOST}:{self._https.port}"

    @property
    def introspection_url(self) -> str:
        """Plain-HTTP RFC 7662 endpoint for Dovecot's ``oauth2`` passdb."""
        if self._http is None:
            raise RuntimeError("OAuthServer is not started")
        return f"http://{HOST}:{self._http.port}/introspect"

    @property
    def verification_uri(self) -> str:
        return f"{self.base_url}/devicelogin"

    # ------------------------------------------------------- test controls
    def approve(self, user_code: str, username: str) -> None:
        """The user signs in as ``username`` and enters ``user_code`` (device flow)."""
        self._decide(user_code, "approved", username)

    def deny(self, user_code: str) -> None:
        """The user declines the sign-in for ``user_code``."""
        self._decide(user_code, "denied", None)

    def revoke(self, username: str) -> None:
        """Revoke every refresh and access token of ``username`` (password change, admin)."""
        with self._lock:
            items: list[_Grant | _Access] = [*self._grants.values(), *self._access.values()]
            for item in items:
                if item.username == username:
                    item.revoked = True

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (refresh tokens still do)."""
        with self._lock:
            for access in self._access.values():
                access.expires_at = 0.0

    def expire_device_codes(self) -> None:
        """Every device code issued so far expires (its next poll gets ``expired_token``)."""
        with self._lock:
            for device in self._devices.values():
                device.expires_at = 0.0

    def issued_access_tokens(self, username: str) -> list[str]:
        """Access tokens issued to ``username``, oldest first (also dead ones)."""
        with self._lock:
            return [tok for tok, acc in self._access.items() if acc.username == username]

    def client_secrets_file(self, path: Path) -> Path:
        """Write a Google "installed" OAuth client JSON pointing at this server."""
        config = {
            "installed": {
                "client_id": self.google_client_id,
                "client_secret": self.google_client_secret,
                "project_id": "secop-watcher-tests",
                "auth_uri": f"{self.base_url}/o/oauth2/auth",
                "token_uri": f"{self.base_url}/token",
                "redirect_uris": ["http://localhost"],
            }
        }
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return path

    # ------------------------------------------------ the user's browser
    def submit_device_login(self, user_code: str, username: str) -> int:
        """POST the device login form over HTTPS, as the user's browser would; HTTP status."""
        data = urllib.parse.urlencode({"code": user_code, "username": username}).encode()
        url = self.verification_uri  # always our own https:// URL
        request = urllib.request.Request(url, data=data, method="POST")  # noqa: S310
        try:
            with self._opener().open(request, timeout=30) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    def visit(self, url: str) -> str:
        """GET ``url`` like a browser (trusting the test CA, following redirects); the body."""
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"not a web URL: {url[:40]!r}")
        with self._opener().open(url, timeout=30) as resp:
            return str(resp.read().decode("utf-8", errors="replace"))

    def browser(self) -> VisitingBrowser:
        """A ``webbrowser`` browser that :meth:`visit`\\s each URL it is asked to open.

        ``open()`` returns at once and visits from a daemon thread: the caller
        (e.g. ``run_local_server``) only starts serving its redirect listener
        after ``open()`` returns. Register it with
        ``webbrowser.register(name, None, server.browser())`` and pass
        ``browser=name``. ``.visited`` lists the URLs, ``.errors`` the failures.
        """
        return VisitingBrowser(self)

    def _opener(self) -> urllib.request.OpenerDirector:
        ctx = ssl.create_default_context(cafile=str(self.certs.ca))
        no_proxy = urllib.request.ProxyHandler({})  # loopback only, whatever the environment
        return urllib.request.build_opener(no_proxy, urllib.request.HTTPSHandler(context=ctx))

    # ------------------------------------------------------------ dispatch
    def _dispatch_https(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        form: dict[str, str],
        headers: Mapping[str, str],
    ) -> _Response:
        parts = [p for p in path.split("/") if p]
        with self._lock:
            if method == "GET" and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                return _json(200, self._openid_configuration(parts[0]))
            if method == "POST" and parts[1:] == ["oauth2", "v2.0", "devicecode"]:
                return self._devicecode(form)
            if method == "POST" and (
                parts[1:] == ["oauth2", "v2.0", "token"] or parts == ["token"]
            ):
                return self._token(form, headers)
            if parts == ["devicelogin"]:
                return self._devicelogin(method, form)
            if method == "GET" and parts == ["o", "oauth2", "auth"]:
                return self._authorize(query)
        return _json(404, {"error": "not_found", "error_description": f"{method} {path}"})

    def _dispatch_introspection(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        form: dict[str, str],
        headers: Mapping[str, str],
    ) -> _Response:
        if method != "POST" or path != "/introspect":
            return _json(404, {"error": "not_found"})
        with self._lock:
            self.introspections += 1
            access = self._access.get(form.get("token", ""))
            if access is None or access.revoked or access.expires_at <= time.time():
                return _json(200, {"active": False})
            return _json(200, self._introspection(access))

    @staticmethod
    def _introspection(access: _Access) -> dict[str, Any]:
        return {
            "active": True,
            "username": access.username,
            "client_id": access.client_id,
            "scope": access.scope,
            "token_type": "Bearer",
            "exp": int(access.expires_at),
        }

    def _openid_configuration(self, tenant: str) -> dict[str, Any]:
        prefix = f"{self.base_url}/{tenant}"
        return {
            "issuer": f"{prefix}/v2.0",
            "authorization_endpoint": f"{prefix}/oauth2/v2.0/authorize",
            "token_endpoint": f"{prefix}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{prefix}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{prefix}/discovery/v2.0/keys",
            "response_types_supported": ["code"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "grant_types_supported": [DEVICE_GRANT, "refresh_token", "authorization_code"],
        }

    # --------------------------------------------------------- device flow
    def _devicecode(self, form: dict[str, str]) -> _Response:
        client_id, scope = form.get("client_id", ""), form.get("scope", "")
        if not client_id or not scope:
            return OAuthError("invalid_request", "client_id and scope are required").response()
        device_code, user_code = secrets.token_urlsafe(32), self._new_user_code()
        self._devices[device_code] = _Device(
            user_code, client_id, scope, time.time() + self.device_code_lifetime
        )
        self._user_codes[user_code] = device_code
        self.device_requests.append(DeviceRequest(client_id, scope, user_code))
        return _json(200, self._device_answer(device_code, user_code))

    def _device_answer(self, device_code: str, user_code: str) -> dict[str, Any]:
        uri = self.verification_uri
        return {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": uri,
            "expires_in": self.device_code_lifetime,
            "interval": 1,
            "message": (
                f"To sign in, use a web browser to open the page {uri} and enter the code "
                f"{user_code} to authenticate."
            ),
        }

    def _new_user_code(self) -> str:
        while True:
            letters = "".join(secrets.choice(_USER_CODE_LETTERS) for _ in range(8))
            code = f"{letters[:4]}-{letters[4:]}"
            if code not in self._user_codes:
                return code

    def _decide(self, user_code: str, state: str, username: str | None) -> None:
        with self._lock:
            device = self._devices.get(self._user_codes.get(user_code.strip().upper(), ""))
            if device is None:
                raise ValueError("unknown user code")
            if device.expires_at <= time.time():
                raise ValueError("the code has expired")
            if device.state != "pending":
                raise ValueError(f"the code was already used ({device.state})")
            device.state, device.username = state, username

    def _devicelogin(self, method: str, form: dict[str, str]) -> _Response:
        if method == "GET":
            return _html(
                200,
                "Enter code: <form method=post><input name=code>"
                "<input name=username><button>Next</button></form>",
            )
        if not form.get("username"):
            return _html(400, "Sign in first: username is missing.")
        try:
            self.approve(form.get("code", ""), form["username"])
        except ValueError as exc:
            return _html(400, f"That code didn't work: {exc}.")
        return _html(200, "You have signed in. You may now close this window.")

    def _grant_device(self, form: dict[str, str], client_id: str) -> dict[str, Any]:
        self.device_polls += 1
        device = self._devices.get(form.get("device_code", ""))
        if device is None or device.client_id != client_id:
            raise OAuthError("invalid_grant", "AADSTS70000: The device code is not valid.")
        if device.state == "redeemed":
            raise OAuthError("invalid_grant", "AADSTS54005: The code was already redeemed.")
        if device.expires_at <= time.time():
            raise OAuthError("expired_token", "AADSTS70019: Verification code expired.")
        if device.state == "denied":
            raise OAuthError("authorization_declined", "AADSTS70000: The user denied access.")
        if device.state == "pending":
            raise OAuthError(
                "authorization_pending",
                "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. "
                "Continue polling.",
            )
        device.state = "redeemed"
        assert device.username is not None
        offline = "offline_access" in device.scope.split()
        return self._issue(device.username, client_id, device.scope, form, refresh=offline)

    # ------------------------------------------------------ token endpoint
    def _token(self, form: dict[str, str], headers: Mapping[str, str]) -> _Response:
        grant_type = form.get("grant_type", "")
        if self.token_answer is not None:
            self.refreshes += grant_type == "refresh_token"
            status, body, content_type = self.token_answer
            return _Response(status, body, content_type)
        client_id, secret = self._client_credentials(form, headers)
        grants = {
            DEVICE_GRANT: self._grant_device,
            "refresh_token": self._grant_refresh,
            "authorization_code": self._grant_code,
        }
        try:
            grant = grants.get(grant_type)
            if grant is None:
                raise OAuthError("unsupported_grant_type", f"{grant_type!r} is not supported")
            self._check_client(client_id, secret)
            answer = grant(form, client_id)
        except OAuthError as err:
            self._record(grant_type, client_id, form.get("scope", ""), err.error)
            return err.response()
        self._record(grant_type, client_id, answer["scope"], None)
        return _json(200, answer)

    def _record(self, grant_type: str, client_id: str, scope: str, error: str | None) -> None:
        self.token_requests.append(TokenRequest(grant_type, client_id, scope, error))

    @staticmethod
    def _client_credentials(form: dict[str, str], headers: Mapping[str, str]) -> tuple[str, str]:
        """client_id and client_secret from HTTP Basic (RFC 6749 2.3.1) or the form."""
        auth = headers.get("authorization") or ""
        if auth.lower().startswith("basic "):
            with contextlib.suppress(ValueError):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)
        return form.get("client_id", ""), form.get("client_secret", "")

    def _check_client(self, client_id: str, secret: str) -> None:
        """Public clients (msal) need only an id; the Google client needs its secret."""
        if not client_id:
            raise OAuthError("invalid_client", "client_id is missing", 401)
        if client_id == self.google_client_id and not hmac.compare_digest(
            secret.encode(), self.google_client_secret.encode()
        ):
            raise OAuthError("invalid_client", "Unauthorized", 401)

    def _grant_refresh(self, form: dict[str, str], client_id: str) -> dict[str, Any]:
        self.refreshes += 1
        token = form.get("refresh_token", "")
        grant = self._grants.get(token)
        if grant is None or grant.revoked or grant.client_id != client_id:
            raise OAuthError("invalid_grant", self._revoked_description(client_id))
        scope = form.get("scope") or grant.scope
        if not set(scope.split()) <= set(grant.scope.split()):
            raise OAuthError("invalid_scope", "the requested scope exceeds the granted scope")
        answer = self._issue(
            grant.username, client_id, scope, form, refresh=self.rotate_refresh_tokens
        )
        if not self.rotate_refresh_tokens:  # like Google: the refresh token stays the same
            answer.pop("refresh_token", None)
        return answer

    def _revoked_description(self, client_id: str) -> str:
        if client_id == self.google_client_id:
            return "Token has been expired or revoked."
        return (
            "AADSTS70000: The provided grant has expired due to it being revoked, "
            "a fresh auth token is needed."
        )

    def _grant_code(self, form: dict[str, str], client_id: str) -> dict[str, Any]:
        code = self._codes.pop(form.get("code", ""), None)  # single use, even when it fails
        if code is None or code.expires_at <= time.time() or code.client_id != client_id:
            raise OAuthError("invalid_grant", "Malformed auth code.")
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError("invalid_grant", "Bad Request: redirect_uri mismatch")
        if code.challenge is not None and not self._pkce_ok(code, form.get("code_verifier", "")):
            raise OAuthError("invalid_grant", "Missing or invalid code verifier.")
        return self._issue(code.username, client_id, code.scope, form, refresh=code.offline)

    @staticmethod
    def _pkce_ok(code: _AuthCode, verifier: str) -> bool:
        expected = pkce_s256(verifier) if code.challenge_method == "S256" else verifier
        return bool(verifier) and hmac.compare_digest(expected, code.challenge or "")

    def _issue(
        self, username: str, client_id: str, scope: str, form: dict[str, str], *, refresh: bool
    ) -> dict[str, Any]:
        access = secrets.token_urlsafe(32)
        expires_at = time.time() + self.access_lifetime
        self._access[access] = _Access(username, client_id, scope, expires_at)
        answer: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": self.access_lifetime,
            "ext_expires_in": self.access_lifetime,
            "access_token": access,
        }
        if refresh:
            token = secrets.token_urlsafe(48)
            self._grants[token] = _Grant(username, client_id, scope)
            answer["refresh_token"] = token
        if "openid" in scope.split():
            answer["id_token"] = self._id_token(username, client_id)
        if form.get("client_info") == "1":  # msal asks for it; it keys msal's account
            info = {"uid": self._oid(username), "utid": self.tenant_id}
            answer["client_info"] = _b64url(json.dumps(info).encode())
        return answer

    def _oid(self, username: str) -> str:
        return str(uuid.uuid5(uuid.UUID(self.tenant_id), username))

    def _id_token(self, username: str, client_id: str) -> str:
        now = int(time.time())
        claims = {
            "iss": f"{self.base_url}/{self.tenant_id}/v2.0",
            "aud": client_id,
            "sub": hashlib.sha256(f"{client_id}/{username}".encode()).hexdigest()[:43],
            "oid": self._oid(username),
            "tid": self.tenant_id,
            "preferred_username": username,
            "name": username,
            "iat": now,
            "nbf": now,
            "exp": now + self.access_lifetime,
            "ver": "2.0",
        }
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64url(json.dumps(claims).encode())
        signature = hmac.new(self._id_token_key, f"{header}.{payload}".encode(), "sha256")
        return f"{header}.{payload}.{_b64url(signature.digest())}"

    # ------------------------------------------- Google-like authorization
    def _authorize(self, query: dict[str, str]) -> _Response:
        """The consent screen: the browser is sent back to the app's loopback redirect."""
        self.auth_requests.append(dict(query))
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.google_client_id:
            return _html(401, "Error 401: invalid_client. The OAuth client was not found.")
        if not self._loopback_redirect(redirect_uri):
            return _html(400, "Error 400: redirect_uri_mismatch")
        back = {"state": query["state"]} if "state" in query else {}
        error = self._authorize_error(query)
        if error is not None:
            return _redirect(_with_query(redirect_uri, {"error": error, **back}))
        assert self.google_user is not None
        code = secrets.token_urlsafe(32)
        self._codes[code] = _AuthCode(
            username=self.google_user,
            client_id=query["client_id"],
            redirect_uri=redirect_uri,
            scope=query.get("scope", ""),
            offline=query.get("access_type") == "offline",
            challenge=query.get("code_challenge"),
            challenge_method=query.get("code_challenge_method", "plain"),
            expires_at=time.time() + _AUTH_CODE_LIFETIME,
        )
        return _redirect(
            _with_query(redirect_uri, {"code": code, "scope": query.get("scope", ""), **back})
        )

    def _authorize_error(self, query: dict[str, str]) -> str | None:
        if query.get("response_type") != "code" or not query.get("scope"):
            return "invalid_request"
        if query.get("code_challenge_method", "plain") not in ("S256", "plain"):
            return "invalid_request"
        if self.google_deny or self.google_user is None:
            return "access_denied"
        return None

    @staticmethod
    def _loopback_redirect(uri: str) -> bool:
        """Google accepts any port on a loopback http redirect for installed apps."""
        parts = urllib.parse.urlsplit(uri)
        return parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS


class VisitingBrowser(webbrowser.BaseBrowser):
    """See :meth:`OAuthServer.browser`."""

    def __init__(self, server: OAuthServer) -> None:
        super().__init__("secop-test-browser")
        self._server = server
        self.visited: list[str] = []
        self.pages: list[str] = []
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self.visited.append(url)
        thread = threading.Thread(target=self._visit, args=(url,), daemon=True)
        thread.start()
        self.threads.append(thread)
        return True

    def _visit(self, url: str) -> None:
        try:
            self.pages.append(self._server.visit(url))
        except Exception as exc:  # reported to the test through .errors
            self.errors.append(exc)
