"""``secop-watcher setup``: ask for the account, test it, store the password, write the config.

The prompts live here, in the command, never in library code (a daemon has no
terminal). Every question can also be answered with an option, so setup can
be scripted (``--password-stdin``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watcher import credentials, i18n, paths, providers
from watcher.commands import Outcome, login
from watcher.config import (
    AUTH_METHODS,
    OAUTH2_GOOGLE,
    OAUTH2_MICROSOFT,
    PASSWORD,
    SECURITY_PORTS,
    ImapConfig,
)
from watcher.errors import ConfigError, CredentialsError, UnsupportedAccount, UsageError
from watcher.providers import Provider

if TYPE_CHECKING:
    from watcher.folders import Folder

HELP = "configura la cuenta de correo / set up the mail account"

Ask = Callable[[str], str]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("setup", help=HELP, description=HELP)
    p.add_argument("--email", help="su correo / your e-mail address")
    p.add_argument(
        "--username", help="usuario IMAP si no es el correo / IMAP user if not the address"
    )
    p.add_argument("--host", help="servidor IMAP / IMAP server")
    p.add_argument("--port", type=int, help="puerto / port")
    p.add_argument("--security", choices=sorted(SECURITY_PORTS), help="ssl | starttls")
    p.add_argument("--ca-file", help="certificado de CA adicional / extra CA certificate")
    p.add_argument(
        "--auth",
        choices=AUTH_METHODS,
        help="cómo iniciar sesión (por defecto según el proveedor) / how to sign in (default: "
        "by provider)",
    )
    p.add_argument(
        "--oauth-client-file",
        metavar="PATH",
        help="Google: archivo JSON del cliente OAuth descargado / the downloaded OAuth client file",
    )
    p.add_argument(
        "--oauth-client-id", help="Microsoft: id de su propia app / your own app's client id"
    )
    p.add_argument("--oauth-tenant", help="Microsoft: inquilino / tenant (default: common)")
    p.add_argument(
        "--oauth-authority",
        metavar="URL",
        help="Microsoft: solo nubes nacionales / national clouds only",
    )
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="leer la contraseña de stdin / read the password from stdin",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="reemplazar la configuración existente / replace existing config",
    )
    p.add_argument(
        "--account",
        metavar="NAME",
        help="agregar este buzón como [accounts.NAME] (varios buzones) / add this mailbox as "
        "[accounts.NAME] (several mailboxes)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    lang = args.lang
    target = paths.config_file(args.config)
    existing = _existing_for_account(target, args.account) if args.account else None
    if existing is None and target.exists() and not args.force:
        raise ConfigError(str(target), [], key="error.config_exists")
    imap, password = _gather(args, lang, _answered(input), _answered(getpass.getpass))
    text = (
        (existing or "") + account_text(args.account, imap, header=not existing)
        if args.account
        else config_text(imap)
    )
    _check_text(target, text)  # before the sign-in: never sign in for a file we cannot write
    if password is None:
        _sign_in_and_write(imap, args.account or "", target, text, lang)
    else:
        _log_in_and_write(imap, password, target, text, lang)
    _echo(i18n.t("setup.next", lang))
    return Outcome(None)


def _log_in_and_write(imap: ImapConfig, password: str, target: Path, text: str, lang: str) -> None:
    from watcher.folders import choose_folders  # not at start-up
    from watcher.mail import ImapSession

    _echo(i18n.t("setup.trying", lang, host=imap.host, port=imap.port))
    with ImapSession.open(imap, password) as session:
        folders = choose_folders(session.listing(), ())
    _echo(i18n.t("setup.login_ok", lang))
    login.report_spam(folders, lang)
    write_text(target, text)
    _echo(i18n.t("setup.written", lang, path=target))
    # Without a keyring this raises; the config is already written and the
    # message names the alternatives (password_command, the variable).
    credentials.store_password(imap.username, password)
    _echo(i18n.t("setup.stored", lang, backend=credentials.keyring_backend_name()))


def _sign_in_and_write(imap: ImapConfig, account: str, target: Path, text: str, lang: str) -> None:
    """OAuth2: sign in, test the token, then write the config and keep the sign-in."""

    def write(folders: list[Folder]) -> None:
        _echo(i18n.t("setup.login_ok", lang))
        login.report_spam(folders, lang)
        write_text(target, text)
        _echo(i18n.t("setup.written", lang, path=target))

    login.sign_in(imap, account, lang, before_keeping=write)
    _echo(i18n.t("setup.stored_sign_in", lang, backend=credentials.keyring_backend_name()))


def _gather(
    args: argparse.Namespace, lang: str, ask: Ask, ask_secret: Ask
) -> tuple[ImapConfig, str | None]:
    """The account's settings, and its password (None when it signs in with OAuth2)."""
    email = (args.email or ask(i18n.t("setup.email", lang))).strip()
    provider = None if args.host else _provider(email, lang, ask)
    if provider is not None:
        _echo(i18n.t("setup.provider", lang, name=provider.name))
    host = args.host or (provider.host if provider else ask(i18n.t("setup.host", lang)).strip())
    auth = _auth(args, host, provider, lang, ask)
    if provider is not None and provider.app_password_url and auth == PASSWORD:
        url = provider.app_password_url
        _echo(i18n.t("setup.app_password", lang, name=provider.name, url=url))
    security = args.security or (
        provider.security if provider else _ask_security(lang, ask, scripted=args.password_stdin)
    )
    imap = ImapConfig(
        host=host,
        username=args.username or email,
        security=security,
        port=args.port or (provider.port if provider else SECURITY_PORTS[security]),
        ca_file=Path(args.ca_file).expanduser() if args.ca_file else None,
        **_oauth_settings(args, auth, lang, ask),
    )
    if imap.oauth:
        return imap, None
    password = (
        sys.stdin.readline().rstrip("\r\n")
        if args.password_stdin
        else ask_secret(i18n.t("setup.password", lang))
    )
    if not password:
        raise CredentialsError("error.empty_password")
    return imap, password


def _provider(email: str, lang: str, ask: Ask) -> Provider | None:
    provider = providers.by_email(email)
    if provider is None:
        choice = ask(i18n.t("setup.ask_kind", lang)).strip() or "3"
        provider = {"1": providers.GMAIL, "2": providers.MICROSOFT}.get(choice)
    return provider


def _auth(
    args: argparse.Namespace, host: str, provider: Provider | None, lang: str, ask: Ask
) -> str:
    """Microsoft: OAuth2, always. Google: an app password or Google's sign-in, as chosen."""
    microsoft = providers.is_microsoft_host(host) or (
        provider is not None and provider.needs_oauth2
    )
    wants_password = args.auth == PASSWORD or (args.password_stdin and not args.auth)
    if microsoft and wants_password:
        raise UnsupportedAccount("error.microsoft")
    if args.auth:
        return str(args.auth)
    if microsoft:
        return OAUTH2_MICROSOFT
    wants_google = (
        provider is providers.GMAIL
        and not args.password_stdin
        and ask(i18n.t("setup.google_how", lang)).strip() == "2"
    )
    return OAUTH2_GOOGLE if wants_google else PASSWORD


def _oauth_settings(args: argparse.Namespace, auth: str, lang: str, ask: Ask) -> dict[str, Any]:
    """The ImapConfig keys for OAuth2 that differ from the defaults."""
    settings: dict[str, Any] = {"auth": auth}
    if auth == OAUTH2_GOOGLE:
        path = args.oauth_client_file or ask(i18n.t("setup.google_client_file", lang)).strip()
        if not path:
            raise ConfigError("", [("--oauth-client-file", "config.google_client_missing", {})])
        settings["oauth_client_file"] = Path(path).expanduser().resolve()
    elif auth == OAUTH2_MICROSOFT:
        if args.oauth_client_id:
            settings["oauth_client_id"] = args.oauth_client_id
        if args.oauth_tenant:
            settings["oauth_tenant"] = args.oauth_tenant
        if args.oauth_authority:
            settings["oauth_authority"] = args.oauth_authority.strip().rstrip("/")
    return settings


def _ask_security(lang: str, ask: Ask, *, scripted: bool) -> str:
    """With --password-stdin, stdin carries the password: never ask, use "ssl"."""
    if scripted:
        return "ssl"
    return "starttls" if ask(i18n.t("setup.security", lang)).strip() == "2" else "ssl"


def _answered(ask: Ask) -> Ask:
    """A question with no one to answer it (stdin closed: a script) is a usage error."""

    def asked(prompt: str) -> str:
        try:
            return ask(prompt)
        except EOFError:
            print(flush=True)  # end the prompt's line
            raise UsageError("error.setup_no_answer") from None

    return asked


def _echo(text: str) -> None:
    print(text, flush=True)


HEADER = [
    "# secop-watcher — escrito por / written by `secop-watcher setup`.",
    "# Todas las claves / every key: config/example.toml",
]


def config_text(imap: ImapConfig) -> str:
    """The config file setup writes: only what was chosen, never the password."""
    lines = [*HEADER, "", *_table_lines("imap", imap)]
    lines += [
        "folders = []  # vacío = INBOX + spam encontrado / empty = INBOX + spam found",
        "",
        "[watch]",
        'sender = "registro@secop.gov.co"',
        "lookback_days = 7",
        "max_link_age_hours = 24",
        "",
    ]
    return "\n".join(lines)


def _table_lines(table: str, imap: ImapConfig) -> list[str]:
    """``[table]`` with the IMAP settings chosen (``imap`` or ``accounts.NAME``)."""
    q = json.dumps  # a JSON string is a valid TOML basic string
    lines = [
        f"[{table}]",
        f"host = {q(imap.host)}",
        f"port = {imap.port}",
        f"security = {q(imap.security)}",
        f"username = {q(imap.username)}",
    ]
    if imap.ca_file is not None:
        lines.append(f"ca_file = {q(str(imap.ca_file))}")
    if imap.oauth:
        lines.append(f"auth = {q(imap.auth)}")
    if imap.oauth_client_file is not None:
        lines.append(f"oauth_client_file = {q(str(imap.oauth_client_file))}")
    if imap.oauth_client_id is not None:
        lines.append(f"oauth_client_id = {q(imap.oauth_client_id)}")
    if imap.oauth_tenant != ImapConfig.oauth_tenant:
        lines.append(f"oauth_tenant = {q(imap.oauth_tenant)}")
    if imap.oauth_authority != ImapConfig.oauth_authority:
        lines.append(f"oauth_authority = {q(imap.oauth_authority)}")
    return lines


def write_text(path: Path, text: str) -> None:
    """Atomically, readable by the user only."""
    paths.ensure_private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    tmp.replace(path)


def account_text(name: str, imap: ImapConfig, *, header: bool) -> str:
    """``[accounts.NAME]`` with what was chosen (a whole new file when ``header``)."""
    lines = [*(HEADER if header else []), "", *_table_lines(f"accounts.{name}", imap)]
    return "\n".join(lines) + "\n"


def _check_text(target: Path, text: str) -> None:
    """What setup is about to write must load: never leave the user a broken file."""
    import tomllib

    from watcher import config as config_mod

    problems = config_mod.validate(tomllib.loads(text))
    if problems:
        raise ConfigError(str(target), problems)


def _existing_for_account(target: Path, name: str) -> str | None:
    """The current file's text, to which ``[accounts.NAME]`` is added; None when there is
    no file. A file in the ``[imap]`` form, or that has the account already, is refused:
    setup never rewrites what the user wrote."""
    from watcher import config as config_mod

    if not config_mod.ACCOUNT_NAME.match(name):
        raise UsageError("error.setup_account_name", name=name)
    if not target.exists():
        return None
    loaded = config_mod.load(target)
    if not loaded.accounts:
        raise ConfigError(str(target), [], key="error.setup_imap_form")
    if any(a.name.casefold() == name.casefold() for a in loaded.accounts):
        raise ConfigError(str(target), [], key="error.setup_account_exists")
    return target.read_text(encoding="utf-8")
