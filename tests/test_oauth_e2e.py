"""Sign in with Microsoft and Google, end to end, with real parts only.

The installed ``secop-watcher`` (and, for the clock-driven cases, the same code
in-process) talks to the real msal and google-auth libraries, which talk to a
local token endpoint (tests/servers/oauthserver.py); a real Dovecot checks every
access token against that server's introspection endpoint (``oauth2`` passdb).
Nothing here stores a password.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import mailfactory as mf
from tests.cliutil import Background, run, write_config
from tests.servers.dovecot import Dovecot
from tests.servers.oauthserver import GOOGLE_MAIL_SCOPE, MS_IMAP_SCOPE, OAuthServer
from watcher import config as config_mod
from watcher import oauth
from watcher.connect import Connector
from watcher.oauth.microsoft import DEFAULT_CLIENT_ID, DevicePrompt, Microsoft

pytestmark = pytest.mark.dovecot

MS_ENTRY = "secop-watcher\0oauth2:oauth2-microsoft:jperez"
MS_ACCESS = "secop-watcher\0oauth2-access:oauth2-microsoft:jperez"
GOOGLE_ENTRY = "secop-watcher\0oauth2:oauth2-google:jperez"


@pytest.fixture
def oauth_dovecot(dovecot_factory: Any, oauth_server: OAuthServer) -> Dovecot:
    return dovecot_factory(oauth2_introspection_url=oauth_server.introspection_url)


def ms_config(path: Path, dovecot: Dovecot, server: OAuthServer, watch: str = "") -> Path:
    extra = f'auth = "oauth2-microsoft"\noauth_authority = "{server.base_url}"'
    return write_config(path, dovecot, extra_imap=extra, watch=watch)


def keyring(home: Path) -> dict[str, str]:
    path = home / "keyring.json"
    return json.loads(path.read_text()) if path.exists() else {}


def drop_access_token(home: Path) -> None:
    saved = keyring(home)
    assert [k for k in saved if "oauth2-access:" in k], saved
    kept = {k: v for k, v in saved.items() if "oauth2-access:" not in k}
    (home / "keyring.json").write_text(json.dumps(kept))


def login_microsoft(cfg: Path, server: OAuthServer, user: str = "jperez") -> list[str]:
    """``secop-watcher login``, the code typed in the "browser" as ``user``; its output."""
    proc = Background("--config", str(cfg), "login", merged=True)
    proc.wait_for("escriba el código", timeout=30)
    code = re.search(r"el código ([A-Z0-9-]+)\.", "\n".join(proc.lines))
    assert code is not None, proc.lines
    assert server.submit_device_login(code.group(1), user) == 200
    assert proc.wait(60) == 0, "\n".join(proc.lines)
    return proc.lines


def reset(user: str, token: str) -> bytes:
    return mf.reset_mail(user, mf.reset_url(token), date=datetime.now(UTC))


def secrets_seen(home: Path, server: OAuthServer, user: str = "jperez") -> list[str]:
    """Every token that exists for ``user``: none may appear in any output, log or file."""
    tokens = server.issued_access_tokens(user)
    for value in keyring(home).values():
        try:
            tokens.append(json.loads(value)["refresh_token"])
        except (ValueError, KeyError, TypeError):
            continue
    return tokens


def assert_no_token_in(texts: list[str], tokens: list[str]) -> None:
    assert tokens, "no token to look for: the test would prove nothing"
    for text in texts:
        for token in tokens:
            assert token not in text


def test_microsoft_device_code_sign_in_then_check_now_without_any_password(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, tmp_path: Path, isolated_env: Path
) -> None:
    cfg = ms_config(tmp_path / "c.toml", oauth_dovecot, oauth_server)
    lines = login_microsoft(cfg, oauth_server)
    output = "\n".join(lines)
    assert "Sesión iniciada" in output and "Spam" in output  # the folders were listed
    request = oauth_server.device_requests[-1]
    assert request.client_id == DEFAULT_CLIENT_ID
    assert {MS_IMAP_SCOPE, "offline_access"} <= request.scopes
    saved = keyring(isolated_env)
    assert sorted(saved) == sorted(
        [MS_ENTRY, MS_ACCESS]
    )  # the sign-in and its access token; no password
    assert set(json.loads(saved[MS_ENTRY])) == {"refresh_token", "client_id", "signed_in"}

    oauth_dovecot.append("jperez", "Spam", reset("jperez", "ms-token-1"))
    done = run("--config", str(cfg), "-vv", "check-now", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["current"][0]["url"].split("token=")[1].startswith("ms-token-1&")
    assert oauth_server.introspections == 2  # login's test, then check-now: both by token
    assert oauth_server.refreshes == 0  # check-now used the access token login left
    logs = [p.read_text() for p in (isolated_env / "logs").rglob("*") if p.is_file()]
    files = [cfg.read_text(), *logs, done.stdout, done.stderr, output]
    assert_no_token_in(files, secrets_seen(isolated_env, oauth_server))


def test_a_revoked_sign_in_says_to_run_login_again(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, tmp_path: Path
) -> None:
    cfg = ms_config(tmp_path / "c.toml", oauth_dovecot, oauth_server)
    login_microsoft(cfg, oauth_server)
    oauth_server.revoke("jperez")
    done = run("--config", str(cfg), "check-now")
    assert done.returncode == 5, done.stderr
    assert "Microsoft ya no acepta el inicio de sesión guardado para jperez" in done.stderr
    assert "secop-watcher login" in done.stderr and "Traceback" not in done.stderr
    doctor = run("--config", str(cfg), "doctor")
    assert "secop-watcher login" in doctor.stdout and doctor.returncode == 1


def test_no_sign_in_yet_and_a_dead_token_endpoint_are_clear(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, tmp_path: Path, isolated_env: Path
) -> None:
    cfg = ms_config(tmp_path / "c.toml", oauth_dovecot, oauth_server)
    done = run("--config", str(cfg), "check-now")
    assert done.returncode == 4 and "Ejecute: secop-watcher login" in done.stderr
    login_microsoft(cfg, oauth_server)
    drop_access_token(isolated_env)  # so check-now must ask the token endpoint
    oauth_server.stop()
    done = run("--config", str(cfg), "check-now")
    assert done.returncode == 6, done.stderr
    assert "No se pudo contactar 127.0.0.1" in done.stderr and "Traceback" not in done.stderr


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def sign_in_in_process(imap: config_mod.ImapConfig, server: OAuthServer) -> None:
    """The device flow through the product's own code; the test plays the user."""

    def show(prompt: DevicePrompt) -> None:
        threading.Thread(target=server.approve, args=(prompt.code, "jperez")).start()

    grant = Microsoft(imap).sign_in(show, lambda: datetime.now(UTC))
    oauth.save_record(imap, grant.record)


def test_tokens_are_refreshed_before_they_end_and_once_when_the_server_refuses_one(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, tmp_path: Path
) -> None:
    config = config_mod.load(ms_config(tmp_path / "c.toml", oauth_dovecot, oauth_server))
    sign_in_in_process(config.imap, oauth_server)
    first = oauth.load_record(config.imap)["refresh_token"]
    clock = Clock()
    connect = Connector(config, clock=clock)
    assert connect.tokens is not None

    def check() -> None:
        with connect() as session:
            assert "INBOX" in [name for _flags, _sep, name in session.listing()]

    check()
    check()  # the same access token: no second refresh
    assert oauth_server.refreshes == 1 == connect.tokens.refreshes
    clock.now += timedelta(minutes=56)  # 4 minutes left of the hour: refreshed first
    check()
    assert oauth_server.refreshes == 2
    oauth_server.expire_access_tokens()  # ended early: refused once, renewed, accepted
    check()
    assert oauth_server.refreshes == 3
    assert oauth.load_record(config.imap)["refresh_token"] != first  # rotated, and kept
    oauth_server.revoke("jperez")
    oauth_server.expire_access_tokens()
    with pytest.raises(oauth.ReauthRequired):
        check()


@pytest.mark.parametrize("mechanisms", ["xoauth2", "oauthbearer"])
def test_each_sasl_mechanism_logs_in_and_a_refusal_ends_cleanly(
    dovecot_factory: Any, oauth_server: OAuthServer, tmp_path: Path, mechanisms: str
) -> None:
    """Outlook offers XOAUTH2 only; a refused token gets a "+" challenge first, which
    each mechanism answers differently: the exchange must end in NO, not hang. Dovecot
    refuses a mechanism it does not offer, so a login proves the right one was chosen."""
    from watcher.errors import AuthError
    from watcher.mail import ImapSession

    server = dovecot_factory(
        oauth2_introspection_url=oauth_server.introspection_url, oauth2_mechanisms=mechanisms
    )
    config = config_mod.load(ms_config(tmp_path / "c.toml", server, oauth_server))
    sign_in_in_process(config.imap, oauth_server)
    token = Connector(config, clock=Clock()).tokens.access_token()  # type: ignore[union-attr]
    with ImapSession.open_oauth(config.imap, token) as session:
        assert session.listing()
    oauth_server.expire_access_tokens()
    with pytest.raises(AuthError) as info:
        ImapSession.open_oauth(config.imap, token)
    assert info.value.key == "error.auth"  # refused, not a timeout or a protocol error


def test_the_service_tells_of_a_revoked_sign_in_and_resumes_after_login(
    oauth_dovecot: Dovecot,
    oauth_server: OAuthServer,
    notification_server: Any,
    tmp_path: Path,
) -> None:
    cfg = ms_config(tmp_path / "c.toml", oauth_dovecot, oauth_server, watch="poll_seconds = 10")
    login_microsoft(cfg, oauth_server)
    oauth_server.revoke("jperez")
    svc = Background("--config", str(cfg), "-v", "run", env=dict(notification_server.env))
    problem = notification_server.wait_for_notifications(1, timeout=20)[0]
    assert problem.summary == "secop-watcher: no puede entrar a su correo"
    assert "secop-watcher login" in problem.body
    login_microsoft(cfg, oauth_server)
    svc.wait_for("configuration or password changed", timeout=20)
    svc.wait_for("IDLE connection ready", count=2, timeout=20)
    oauth_dovecot.append("jperez", "INBOX", reset("jperez", "after-login"))
    seen = notification_server.wait_for_notifications(2, timeout=15)[1]
    assert seen.summary == "SECOP II: enlace para jperez"
    assert svc.stop() == 0


def google_config(path: Path, dovecot: Dovecot, client_file: Path) -> Path:
    extra = f'auth = "oauth2-google"\noauth_client_file = "{client_file}"'
    return write_config(path, dovecot, extra_imap=extra)


def login_google(cfg: Path, visited: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """``secop-watcher login`` with a stand-in browser (tests/fakebrowser.py) that consents."""
    return run("--config", str(cfg), *flags, "login", env=browser_env(visited), timeout=60)


def browser_env(visited: Path) -> dict[str, str]:
    """The environment that makes ``webbrowser`` use tests/fakebrowser.py."""
    browser = f"{sys.executable} {Path(__file__).parent / 'fakebrowser.py'} %s"
    return {"BROWSER": browser, "FAKEBROWSER_LOG": str(visited), "PYTHONUNBUFFERED": "1"}


def test_google_sign_in_in_the_browser_then_the_client_file_is_no_longer_needed(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, tmp_path: Path, isolated_env: Path
) -> None:
    client = oauth_server.client_secrets_file(tmp_path / "client_secret.json")
    cfg = google_config(tmp_path / "c.toml", oauth_dovecot, client)
    oauth_server.google_user = "jperez"
    visited = tmp_path / "visited.txt"
    login = login_google(cfg, visited, "-vv")
    assert login.returncode == 0, login.stdout + login.stderr
    assert "Sesión iniciada" in login.stdout
    assert visited.read_text().startswith(f"{oauth_server.base_url}/o/oauth2/auth?")
    query = oauth_server.auth_requests[-1]
    assert query["scope"] == GOOGLE_MAIL_SCOPE and query["access_type"] == "offline"
    assert query["redirect_uri"].startswith("http://127.0.0.1:")
    record = json.loads(keyring(isolated_env)[GOOGLE_ENTRY])
    assert record["client_id"] == oauth_server.google_client_id
    assert record["token_uri"] == f"{oauth_server.base_url}/token"
    # -vv: the OAuth libraries' DEBUG lines carry tokens, the code and the client secret.
    logs = [p.read_text() for p in (isolated_env / "logs").rglob("*") if p.is_file()]
    secret = [*secrets_seen(isolated_env, oauth_server), oauth_server.google_client_secret]
    assert_no_token_in([login.stdout, login.stderr, cfg.read_text(), *logs], secret)
    assert "code=" not in login.stderr + "".join(logs)  # the authorization code

    client.unlink()  # the keyring has what refreshing needs
    oauth_server.expire_access_tokens()  # refused once: a refresh without the client file
    oauth_dovecot.append("jperez", "INBOX", reset("jperez", "google-1"))
    done = run("--config", str(cfg), "check-now", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["current"][0]["url"].split("token=")[1].startswith("google-1&")
    assert oauth_server.refreshes == 1
    oauth_server.revoke("jperez")
    done = run("--config", str(cfg), "check-now")
    assert done.returncode == 5 and "Google ya no acepta" in done.stderr


def test_google_consent_refused_writes_nothing(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, tmp_path: Path, isolated_env: Path
) -> None:
    client = oauth_server.client_secrets_file(tmp_path / "client_secret.json")
    cfg = google_config(tmp_path / "c.toml", oauth_dovecot, client)
    oauth_server.google_deny = True
    done = login_google(cfg, tmp_path / "v.txt")
    assert done.returncode == 5, done.stdout + done.stderr
    assert "No se completó el inicio de sesión con Google (access_denied)" in done.stderr
    assert keyring(isolated_env) == {}


def test_a_wrong_client_file_is_a_config_error(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, tmp_path: Path
) -> None:
    bad = tmp_path / "web.json"
    bad.write_text('{"web": {"client_id": "x"}}')
    cfg = google_config(tmp_path / "c.toml", oauth_dovecot, bad)
    done = run("--config", str(cfg), "login")
    assert done.returncode == 3 and "aplicación de escritorio" in done.stderr


def test_setup_signs_in_with_microsoft_and_writes_no_secret(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, isolated_env: Path
) -> None:
    proc = Background(
        "setup",
        "--email",
        "jperez@hotmail.com",
        "--username",
        "jperez",
        "--host",
        oauth_dovecot.host,
        "--port",
        str(oauth_dovecot.port_ssl),
        "--ca-file",
        str(oauth_dovecot.ca_file),
        "--security",
        "ssl",
        "--auth",
        "oauth2-microsoft",
        "--oauth-authority",
        oauth_server.base_url,
        merged=True,
    )
    proc.wait_for("escriba el código", timeout=30)
    code = re.search(r"el código ([A-Z0-9-]+)\.", "\n".join(proc.lines))
    assert code is not None
    assert oauth_server.submit_device_login(code.group(1), "jperez") == 200
    assert proc.wait(60) == 0, "\n".join(proc.lines)
    written = (isolated_env / "config" / "config.toml").read_text()
    assert 'auth = "oauth2-microsoft"' in written
    assert f'oauth_authority = "{oauth_server.base_url}"' in written
    assert sorted(keyring(isolated_env)) == sorted([MS_ENTRY, MS_ACCESS])
    assert_no_token_in([written, "\n".join(proc.lines)], secrets_seen(isolated_env, oauth_server))
    assert run("check-now").returncode == 1  # works, and no link yet


def test_two_mailboxes_one_signed_in_with_microsoft_one_with_a_password(
    oauth_dovecot: Dovecot, dovecot: Dovecot, oauth_server: OAuthServer, tmp_path: Path
) -> None:
    single = ms_config(tmp_path / "ms.toml", oauth_dovecot, oauth_server)
    login_microsoft(single, oauth_server)
    ms_table = single.read_text().split("[watch]")[0].replace("[imap]", "[accounts.hotmail]")
    pw_script = tmp_path / "pw.py"
    pw_script.write_text(f"print({dovecot.password('jperez')!r})\n")
    text = (
        ms_table
        + "\n[accounts.entidad]\n"
        + f'host = "{dovecot.host}"\nport = {dovecot.port_ssl}\nusername = "jperez"\n'
        + f'ca_file = "{dovecot.ca_file}"\npassword_command = "{sys.executable} {pw_script}"\n'
    )
    cfg = tmp_path / "both.toml"
    cfg.write_text(text)
    oauth_dovecot.append("jperez", "INBOX", reset("jperez", "in-hotmail"))
    dovecot.append("jperez", "Spam", reset("jperez", "in-entidad"))
    oauth_server.stop()  # Microsoft's sign-in service is down: that account fails alone
    done = run("--config", str(cfg), "check-now", "--json")
    data = json.loads(done.stdout)
    by_name = {a["name"]: a for a in data["accounts"]}
    assert by_name["hotmail"]["error"]["exit_code"] == 6  # its sign-in service is down
    assert (
        by_name["entidad"]["report"]["current"][0]["url"]
        .split("token=")[1]
        .startswith("in-entidad&")
    )
    assert done.returncode == 0


def test_wait_signs_in_once_for_both_folders_and_returns_the_new_link(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, tmp_path: Path
) -> None:
    cfg = ms_config(tmp_path / "c.toml", oauth_dovecot, oauth_server)
    login_microsoft(cfg, oauth_server)
    waiter = Background("--config", str(cfg), "-v", "wait", "--json", "--timeout", "1")
    waiter.wait_for("IDLE connection ready", count=2)
    assert oauth_server.refreshes == 0  # login's access token, for every connection
    oauth_dovecot.append("jperez", "Spam", reset("jperez", "waited"))
    code, out = waiter.communicate(timeout=30)
    assert code == 0, "\n".join(waiter.lines)
    assert json.loads(out)["link"]["url"] == mf.reset_url("waited")


@pytest.mark.parametrize(
    ("status", "body", "code", "words"),
    [
        (502, b"<html>Bad gateway</html>", 6, "no pudo renovar el acceso ahora"),
        (200, b"[]", 8, "algo que no es OAuth2"),
        (200, b"<html>Portal</html>", 8, "algo que no es OAuth2"),
        (503, b'{"error": "temporarily_unavailable"}', 6, "no pudo renovar el acceso ahora"),
        (400, b'{"error": "temporarily_unavailable"}', 6, "temporarily_unavailable"),
        (400, b'{"error": "invalid_client", "error_description": "AADSTS7000218"}', 5, "AADSTS"),
    ],
)
def test_odd_token_endpoint_answers_get_a_clear_word(
    oauth_dovecot: Dovecot,
    oauth_server: OAuthServer,
    tmp_path: Path,
    isolated_env: Path,
    status: int,
    body: bytes,
    code: int,
    words: str,
) -> None:
    """Only a real revocation says "sign in again"; a passing fault is retried (6), an
    answer that is not OAuth2 is a protocol error (8), a wrong client id a refusal (5)."""
    cfg = ms_config(tmp_path / "c.toml", oauth_dovecot, oauth_server)
    login_microsoft(cfg, oauth_server)
    drop_access_token(isolated_env)
    oauth_server.token_answer = (status, body, "text/html" if b"<" in body else "application/json")
    done = run("--config", str(cfg), "check-now")
    assert done.returncode == code, done.stderr
    assert words in done.stderr and "Traceback" not in done.stderr
    assert "secop-watcher login" not in done.stderr or code == 5
    assert oauth_server.refreshes == 1


def test_odd_google_answers_are_not_a_revoked_sign_in(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, tmp_path: Path, isolated_env: Path
) -> None:
    client = oauth_server.client_secrets_file(tmp_path / "client_secret.json")
    cfg = google_config(tmp_path / "c.toml", oauth_dovecot, client)
    oauth_server.google_user = "jperez"
    assert login_google(cfg, tmp_path / "v.txt").returncode == 0
    drop_access_token(isolated_env)
    oauth_server.token_answer = (502, b"<html>Bad gateway</html>", "text/html")
    done = run("--config", str(cfg), "check-now")
    assert done.returncode in (6, 8), done.stderr
    assert "ya no acepta" not in done.stderr and "Traceback" not in done.stderr


def test_without_a_keyring_login_stops_before_the_sign_in(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, tmp_path: Path
) -> None:
    cfg = ms_config(tmp_path / "c.toml", oauth_dovecot, oauth_server)
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = run("--config", str(cfg), "login", env=env)
    assert done.returncode == 4, done.stderr
    assert "llavero del sistema utilizable" in done.stderr and "Traceback" not in done.stderr
    assert oauth_server.device_requests == []  # the user was not sent to the browser for nothing


def test_setup_signs_in_with_google_and_keeps_no_password(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, tmp_path: Path, isolated_env: Path
) -> None:
    client = oauth_server.client_secrets_file(tmp_path / "client_secret.json")
    oauth_server.google_user = "jperez"
    done = run(
        "setup", "--email", "jperez@gmail.com", "--username", "jperez",
        "--host", oauth_dovecot.host, "--port", str(oauth_dovecot.port_ssl),
        "--security", "ssl", "--ca-file", str(oauth_dovecot.ca_file),
        "--auth", "oauth2-google", "--oauth-client-file", str(client),
        env=browser_env(tmp_path / "v.txt"), timeout=60, stdin="",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "contraseña de aplicación" not in done.stdout  # not offered: Google's sign-in chosen
    written = (isolated_env / "config" / "config.toml").read_text()
    assert 'auth = "oauth2-google"' in written and f'oauth_client_file = "{client}"' in written
    assert GOOGLE_ENTRY in keyring(isolated_env)
    assert "secop-watcher\0jperez" not in keyring(isolated_env)  # no password entry
    oauth_dovecot.append("jperez", "INBOX", reset("jperez", "via-setup"))
    check = run("check-now", "--json")
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["current"][0]["url"] == mf.reset_url("via-setup")


@pytest.mark.parametrize("mechanisms", ["xoauth2", "oauthbearer"])
def test_without_sasl_ir_the_token_follows_the_servers_go_ahead(
    dovecot_factory: Any, oauth_server: OAuthServer, certs: Any, tmp_path: Path, mechanisms: str
) -> None:
    """Servers that do not offer SASL-IR: AUTHENTICATE alone, "+", then the token; a refusal
    gets its challenge answered and ends in NO. A real Dovecot behind a proxy that takes
    SASL-IR out of the greeting (which is where Dovecot tells it)."""
    from tests.servers.faultproxy import FaultProxy
    from watcher.errors import AuthError
    from watcher.mail import ImapSession

    server = dovecot_factory(
        oauth2_introspection_url=oauth_server.introspection_url, oauth2_mechanisms=mechanisms
    )
    with FaultProxy(server.port_plain, certs, greeting_without=b" SASL-IR") as proxy:
        extra = f'auth = "oauth2-microsoft"\noauth_authority = "{oauth_server.base_url}"'
        cfg = write_config(tmp_path / "c.toml", server, port=proxy.port, extra_imap=extra)
        config = config_mod.load(cfg)
        sign_in_in_process(config.imap, oauth_server)
        token = Connector(config, clock=Clock()).tokens.access_token()  # type: ignore[union-attr]
        with ImapSession.open_oauth(config.imap, token) as session:
            assert session.listing()
        # AUTHENTICATE and its mechanism alone (3 words with the tag), then the token
        # as a line of its own (1 word), then CAPABILITY and LIST.
        mechanism = mechanisms.upper().encode()
        assert proxy.client_lines[:2] == [(b"AUTHENTICATE", mechanism, b"3"), (b"1",)]
        oauth_server.expire_access_tokens()
        with pytest.raises(AuthError) as info:
            ImapSession.open_oauth(config.imap, token)
        assert info.value.key == "error.auth"


def test_wait_with_a_revoked_sign_in_says_to_sign_in_again(
    oauth_dovecot: Dovecot, oauth_server: OAuthServer, tmp_path: Path
) -> None:
    cfg = ms_config(tmp_path / "c.toml", oauth_dovecot, oauth_server)
    login_microsoft(cfg, oauth_server)
    oauth_server.revoke("jperez")
    done = run("--config", str(cfg), "wait", "--timeout", "1", timeout=90)
    assert done.returncode == 5, done.stderr
    assert "secop-watcher login" in done.stderr and "Traceback" not in done.stderr
