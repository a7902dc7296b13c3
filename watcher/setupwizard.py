"""The questions ``secop-watcher setup`` asks, for a user who knows only their address and
password.

Every answer is checked and asked again, with a short reason, on a typo. The server is
found by :mod:`watcher.discover` where it can be; the port and the kind of connection are
asked only when nothing was found, with help in plain words. When the login fails,
:meth:`Wizard.recover` says what to change and asks only what may be wrong, keeping the
other answers. Options given on the command line are taken as they are and never asked.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from watcher import discover, i18n, providers
from watcher.config import OAUTH2_GOOGLE, OAUTH2_MICROSOFT, PASSWORD, SECURITY_PORTS, ImapConfig
from watcher.discover import Found
from watcher.errors import (
    AuthError,
    ConfigError,
    CredentialsError,
    UnsupportedAccount,
    UsageError,
    UserError,
)
from watcher.providers import Provider

Ask = Callable[[str], str]
Check = Callable[[str], str | None]  # the reason's i18n key, or None when the answer is fine

# Login errors the wizard can help with: what the user may change.
CONNECTION_KEYS = {
    "error.dns": "dns",
    "error.refused": "unreachable",
    "error.timeout": "unreachable",
    "error.connection": "unreachable",
    "error.dropped": "unreachable",
    "error.tls": "tls",
    "error.no_starttls": "tls",
}


def check_address(text: str) -> str | None:
    if not text:
        return "setup.why.empty"
    if any(c.isspace() for c in text):
        return "setup.why.address_space"
    if text.count("@") != 1:
        return "setup.why.address_at"
    local, _, domain = text.partition("@")
    if not local or not discover.is_host_name(domain):
        return "setup.why.address_domain"
    return None


def check_host(text: str) -> str | None:
    if not text:
        return "setup.why.empty"
    if "://" in text or "/" in text or any(c.isspace() for c in text):
        return "setup.why.host_form"
    return None if discover.is_host_name(text) else "setup.why.host_form"


def check_port(text: str) -> str | None:
    return (
        None if (text.isascii() and text.isdigit()) and 0 < int(text) < 65536 else "setup.why.port"
    )


def check_word(text: str) -> str | None:
    if not text:
        return "setup.why.empty"
    return "setup.why.username_space" if any(c.isspace() for c in text) else None


def check_file(text: str) -> str | None:
    if not text:
        return "setup.why.empty"
    return None if _path(text).is_file() else "setup.why.no_file"


def _path(text: str) -> Path:
    """A path as typed or pasted (Windows' «Copy as path» adds quotes)."""
    return Path(text.strip().strip('"').strip("'")).expanduser()


class Wizard:
    def __init__(
        self,
        args: argparse.Namespace,
        lang: str,
        ask: Ask,
        ask_secret: Ask,
        echo: Callable[[str], None],
    ) -> None:
        self.args = args
        self.lang = lang
        self._ask = ask
        self._ask_secret = ask_secret
        self._echo = echo
        self.scripted = bool(args.password_stdin)  # stdin holds the password: never ask
        self.provider: Provider | None = None

    # ------------------------------------------------------------------ asking
    def t(self, key: str, **params: Any) -> str:
        return i18n.t(key, self.lang, **params)

    def say(self, key: str, **params: Any) -> None:
        self._echo(self.t(key, **params))

    def question(self, key: str, check: Check, empty: str | None = None, **params: Any) -> str:
        """Ask until the answer passes ``check``; an empty answer is ``empty`` if given."""
        default = empty
        while True:
            answer = self._ask(self.t(key, **params)).strip()
            if not answer and default is not None:
                return default
            why = check(answer)
            if why is None:
                return answer
            self.say("setup.again", reason=self.t(why))

    def menu(self, key: str, count: int, default: int | None = None, **params: object) -> int:
        def check(answer: str) -> str | None:
            return (
                None
                if (answer.isascii() and answer.isdigit()) and 1 <= int(answer) <= count
                else "setup.why.menu"
            )

        text = self.question(key, check, None if default is None else str(default), **params)
        self._echo("")
        return int(text)

    def secret(self) -> str:
        while not (password := self._ask_secret(self.t("setup.ask.password"))):
            self.say("setup.again", reason=self.t("setup.why.empty_password"))
        return password

    # ---------------------------------------------------------------- gathering
    def gather(self) -> tuple[ImapConfig, str | None]:
        """The account's settings, and its password (None when it signs in with OAuth2)."""
        args = self.args
        if args.email:
            email = args.email.strip()
            why = check_address(email)
            if why is not None:
                raise UsageError("setup.bad_email_option", reason=self.t(why))
        else:
            self.say("setup.welcome")
            email = self.question("setup.ask.email", check_address)
        found = self._server(email)
        self.provider = found.provider
        auth = self._auth(found.host)
        provider = self.provider
        if provider is not None and provider.app_password_url and auth == PASSWORD:
            url = provider.app_password_url
            self.say("setup.app_password", name=self.provider_name(provider), url=url)
        security = args.security or found.security
        imap = ImapConfig(
            host=found.host,
            username=args.username or found.username or email,
            security=security,
            port=args.port or (found.port if not args.security else SECURITY_PORTS[security]),
            ca_file=_path(args.ca_file) if args.ca_file else None,
            **self._oauth_settings(auth),
        )
        if imap.oauth:
            return imap, None
        if self.scripted:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CredentialsError("error.empty_password")
            return imap, password
        return imap, self.secret()

    def provider_name(self, provider: Provider) -> str:
        return self.t(f"setup.provider.{provider.key}") if provider.key else provider.name

    def _server(self, email: str) -> Found:
        """Where the mailbox is: the options, else found by itself, else asked."""
        args = self.args
        if args.host:  # given: taken as it is, never probed
            security = args.security or self._ask_security()
            host = args.host.strip()
            return Found(host, args.port or SECURITY_PORTS[security], security, "option")
        known = providers.by_email(email)
        if known is None:
            self.say("setup.searching", domain=discover.domain_of(email))
        found = discover.discover(email)
        if found is not None:
            name = self.provider_name(found.provider) if found.provider else found.host
            self.say(f"setup.found.{found.source}", name=name, host=found.host)
            return found
        if self.scripted:
            raise UsageError("setup.not_found_scripted", domain=discover.domain_of(email))
        self.say("setup.not_found")
        choice = self.menu("setup.ask.kind", len(providers.MENU) + 1)
        if choice <= len(providers.MENU):
            p = providers.MENU[choice - 1]
            return Found(p.host, p.port, p.security, "menu", provider=p)
        return self._ask_server()

    def _ask_server(self, current: str | None = None) -> Found:
        host = self.question("setup.ask.host", check_host, current, current=current or "")
        host = host.rstrip(".").lower()
        known = providers.by_host(host)
        if known is not None:
            return Found(known.host, known.port, known.security, "typed", provider=known)
        self.say("setup.probing", host=host)
        probed = discover.probe(host)
        if probed is not None:
            security, port = probed
            self.say(f"setup.probe_ok.{security}", host=host, port=port)
            return Found(host, port, security, "typed")
        self.say("setup.probe_failed", host=host)
        security = self._ask_security()
        default = str(SECURITY_PORTS[security])
        port = int(self.question("setup.ask.port", check_port, default, default=default))
        return Found(host, port, security, "typed")

    def _ask_security(self) -> str:
        """With --password-stdin, stdin carries the password: never ask, use "ssl"."""
        if self.scripted:
            return "ssl"
        return "starttls" if self.menu("setup.ask.security", 2, default=1) == 2 else "ssl"

    def _auth(self, host: str) -> str:
        """Microsoft: OAuth2, always. Google: an app password or Google's sign-in, as chosen."""
        args, provider = self.args, self.provider
        microsoft = providers.is_microsoft_host(host) or (
            provider is not None and provider.needs_oauth2
        )
        wants_password = args.auth == PASSWORD or (self.scripted and not args.auth)
        if microsoft and wants_password:
            raise UnsupportedAccount("error.microsoft")
        if args.auth:
            return str(args.auth)
        if microsoft:
            self.say("setup.microsoft_sign_in")
            return OAUTH2_MICROSOFT
        wants_google = (
            provider is providers.GMAIL
            and not self.scripted
            and self.menu("setup.google_how", 2, default=1) == 2
        )
        return OAUTH2_GOOGLE if wants_google else PASSWORD

    def _oauth_settings(self, auth: str) -> dict[str, Any]:
        """The ImapConfig keys for OAuth2 that differ from the defaults."""
        args = self.args
        settings: dict[str, Any] = {"auth": auth}
        if auth == OAUTH2_GOOGLE:
            if args.oauth_client_file:
                path = args.oauth_client_file
            elif self.scripted:
                raise ConfigError("", [("--oauth-client-file", "config.google_client_missing", {})])
            else:
                path = self.question("setup.google_client_file", check_file)
            settings["oauth_client_file"] = _path(path).resolve()
        elif auth == OAUTH2_MICROSOFT:
            if args.oauth_client_id:
                settings["oauth_client_id"] = args.oauth_client_id
            if args.oauth_tenant:
                settings["oauth_tenant"] = args.oauth_tenant
            if args.oauth_authority:
                settings["oauth_authority"] = args.oauth_authority.strip().rstrip("/")
        return settings

    # ------------------------------------------------------------------ failing
    def recover(self, e: UserError, imap: ImapConfig) -> tuple[ImapConfig, str | None]:
        """After a failed login: say what to change, ask only that. ``(imap, new password
        or None to keep the one typed)``; raises when the user gives up (or cannot help)."""
        params: dict[str, Any] = {"host": imap.host, "port": imap.port, "username": imap.username}
        if isinstance(e, AuthError) and e.key == "error.auth":
            self.say("setup.fail.auth", **params)
            provider = self.provider
            if provider is not None and provider.app_password_url:
                url = provider.app_password_url
                self.say("setup.app_password", name=self.provider_name(provider), url=url)
            choice = self.menu("setup.menu.auth", 3, **params)
            if choice == 3:
                raise self.gave_up(e)
            if choice == 2:
                username = self.question("setup.ask.username", check_word)
                imap = replace(imap, username=username)
            return imap, self.secret()
        if e.key in ("error.tls_verify", "error.ca_file"):
            self.say("setup.fail.certificate", reason=e.params.get("reason", ""), **params)
            choice = self.menu("setup.menu.certificate", 3)
            if choice == 1:
                path = _path(self.question("setup.ask.ca_file", check_file))
                return replace(imap, ca_file=path.resolve()), None
            if choice == 3:
                raise self.gave_up(e)
            return self._new_server(imap), None
        kind = CONNECTION_KEYS.get(e.key)
        if kind is None:
            raise e
        self.say(f"setup.fail.{kind}", **params)
        choice = self.menu("setup.menu.connection", 3)
        if choice == 3:
            raise self.gave_up(e)
        return (self._new_server(imap) if choice == 1 else imap), None

    def _new_server(self, imap: ImapConfig) -> ImapConfig:
        found = self._ask_server(imap.host)
        self.provider = found.provider or self.provider
        return replace(imap, host=found.host, port=found.port, security=found.security)

    def gave_up(self, e: UserError) -> UserError:
        """The error to end with when the user chooses to stop (same exit code)."""
        return type(e)("setup.gave_up")


def scripted_error(e: UserError) -> UserError:
    """A login error in the words of setup's options (no config file exists yet)."""
    kind = CONNECTION_KEYS.get(e.key) or {
        "error.tls_verify": "certificate",
        "error.ca_file": "certificate",
    }.get(e.key)
    if kind is None or isinstance(e, ConfigError):
        return e
    params = {k: v for k, v in e.params.items() if k in ("host", "port", "reason", "errno")}
    params.setdefault("reason", "")
    return type(e)(f"setup.scripted.{kind}", **params)
