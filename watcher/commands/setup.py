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
from typing import TYPE_CHECKING

from watcher import credentials, i18n, paths, providers
from watcher.commands import Outcome
from watcher.config import SECURITY_PORTS, ImapConfig
from watcher.errors import ConfigError, CredentialsError, UnsupportedAccount, UsageError
from watcher.providers import Provider

if TYPE_CHECKING:
    from watcher.imap import Folder

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
    from watcher.imap import ImapSession, choose_folders  # not at start-up

    imap, password = _gather(args, lang, input, getpass.getpass)
    _echo(i18n.t("setup.trying", lang, host=imap.host, port=imap.port))
    with ImapSession.open(imap, password) as session:
        folders = choose_folders(session.listing(), ())
    _echo(i18n.t("setup.login_ok", lang))
    _report_spam(folders, lang)
    if args.account:
        text = (existing or "") + account_text(args.account, imap, header=not existing)
        _check_text(target, text)
        write_text(target, text)
    else:
        write_config(target, imap)
    _echo(i18n.t("setup.written", lang, path=target))
    # Without a keyring this raises; the config is already written and the
    # message names the alternatives (password_command, the variable).
    credentials.store_password(imap.username, password)
    _echo(i18n.t("setup.stored", lang, backend=credentials.keyring_backend_name()))
    _echo(i18n.t("setup.next", lang))
    return Outcome(None)


def _gather(
    args: argparse.Namespace, lang: str, ask: Ask, ask_secret: Ask
) -> tuple[ImapConfig, str]:
    email = (args.email or ask(i18n.t("setup.email", lang))).strip()
    provider = None if args.host else _provider(email, lang, ask)
    if provider is not None:
        _echo(i18n.t("setup.provider", lang, name=provider.name))
        if provider.app_password_url:
            _echo(
                i18n.t(
                    "setup.app_password", lang, name=provider.name, url=provider.app_password_url
                )
            )
    host = args.host or (provider.host if provider else ask(i18n.t("setup.host", lang)).strip())
    if providers.is_microsoft_host(host):
        raise UnsupportedAccount("error.microsoft")
    security = args.security or (
        provider.security if provider else _ask_security(lang, ask, scripted=args.password_stdin)
    )
    imap = ImapConfig(
        host=host,
        username=args.username or email,
        security=security,
        port=args.port or (provider.port if provider else SECURITY_PORTS[security]),
        ca_file=Path(args.ca_file).expanduser() if args.ca_file else None,
    )
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
    if provider is not None and provider.needs_oauth2:
        raise UnsupportedAccount("error.microsoft")
    return provider


def _ask_security(lang: str, ask: Ask, *, scripted: bool) -> str:
    """With --password-stdin, stdin carries the password: never ask, use "ssl"."""
    if scripted:
        return "ssl"
    return "starttls" if ask(i18n.t("setup.security", lang)).strip() == "2" else "ssl"


def _report_spam(folders: list[Folder], lang: str) -> None:
    spam = [f for f in folders if f.spam]
    for f in spam:
        how = i18n.t(f"setup.how.{f.how}", lang)
        _echo(i18n.t("setup.spam_found", lang, folder=f.name, how=how))
    if not spam:
        _echo(i18n.t("setup.spam_missing", lang, inbox="INBOX"))


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
    return lines


def write_config(path: Path, imap: ImapConfig) -> None:
    write_text(path, config_text(imap))


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
