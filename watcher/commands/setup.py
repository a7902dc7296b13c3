"""``secop-watcher setup``: ask for the account, test it, store the password, write the config.

The questions live in :mod:`watcher.setupwizard`, never in library code (a daemon has no
terminal). Every question can also be answered with an option, so setup can be scripted
(``--password-stdin``). A file that exists is edited in place (tomlkit): ``--force`` and
``--account`` change only the keys setup tested and keep the user's others and comments.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watcher import credentials, i18n, paths
from watcher.commands import Outcome, login
from watcher.config import AUTH_METHODS, OAUTH_KEYS, PASSWORD, SECURITY_PORTS, ImapConfig
from watcher.errors import AuthError, ConfigError, ConnectionFailed, TLSError, UsageError

if TYPE_CHECKING:
    from watcher.folders import Folder

HELP = "configura la cuenta de correo / set up the mail account"

Ask = Callable[[str], str]


def _port(value: str) -> int:
    """A whole number (argparse's own "invalid int value" would be in English words)."""
    from watcher.catalogs import arg_text

    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(arg_text("args.not_a_whole_number", value=value)) from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("setup", help=HELP, description=HELP)
    p.add_argument("--email", help="su correo / your e-mail address")
    p.add_argument(
        "--username", help="usuario IMAP si no es el correo / IMAP user if not the address"
    )
    p.add_argument("--host", help="servidor IMAP / IMAP server")
    p.add_argument("--port", type=_port, help="puerto / port")
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
    from watcher.setupwizard import Wizard, scripted_error

    lang = args.lang
    target = paths.config_file(args.config)
    existing = _existing(target, args)
    wizard = Wizard(args, lang, _answered(input), _answered(getpass.getpass), _echo)
    imap, password = wizard.gather()
    while True:
        text = compose(existing, imap, args.account)
        _check_text(target, text)  # before the sign-in: never sign in for a file we cannot write
        try:
            if password is None:
                _sign_in_and_write(imap, args.account or "", target, text, lang)
            else:
                _log_in_and_write(imap, password, target, text, lang)
            break
        except (AuthError, TLSError, ConnectionFailed) as e:
            if wizard.scripted or password is None:
                raise scripted_error(e) from e
            imap, again = wizard.recover(e, imap)
            password = again or password
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
    q = json.dumps  # a JSON string (and a number) is valid TOML
    return [f"[{table}]", *(f"{key} = {q(value)}" for key, value in settings(imap).items())]


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


def _existing(target: Path, args: argparse.Namespace) -> str | None:
    """The current file's text, which setup edits in place (None: a new file). Refused:
    a file there without --force (or with the account already there), the ``[imap]`` form
    for --account, and the ``[accounts.NAME]`` form without --account."""
    import tomllib

    from watcher import config as config_mod

    name = args.account
    if name and not config_mod.ACCOUNT_NAME.match(name):
        raise UsageError("error.setup_account_name", name=name)
    if not target.exists():
        return None
    text = target.read_text(encoding="utf-8")
    if not name:
        if not args.force:
            raise ConfigError(str(target), [], key="error.config_exists")
        try:
            if "accounts" in tomllib.loads(text):
                raise ConfigError(str(target), [], key="setup.error_accounts_form")
        except tomllib.TOMLDecodeError:  # --force on a broken file: replaced, the old one kept
            backup = target.with_name(target.name + ".bak")
            backup.write_text(text, encoding="utf-8")
            backup.chmod(0o600)
            _echo(i18n.t("setup.backup", args.lang, path=backup))
            return None
        return text
    loaded = config_mod.load(target)
    if not loaded.accounts:
        raise ConfigError(str(target), [], key="error.setup_imap_form")
    if any(a.name.casefold() == name.casefold() for a in loaded.accounts) and not (
        args.force and any(a.name == name for a in loaded.accounts)
    ):
        raise ConfigError(str(target), [], key="error.setup_account_exists")
    return text


# The keys setup decides: what it tested. The others (password_command, folders, timeouts,
# [watch], [notify], comments) stay as the user wrote them.
SETUP_KEYS = ("host", "port", "security", "username", "ca_file", "auth", *OAUTH_KEYS)


def compose(existing: str | None, imap: ImapConfig, account: str | None) -> str:
    """The file to write: a new one, or ``existing`` edited in place (tomlkit keeps every
    other key and every comment)."""
    if existing is None:
        return account_text(account, imap, header=True) if account else config_text(imap)
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        doc = tomlkit.parse(existing)
    except ParseError:
        return account_text(account, imap, header=True) if account else config_text(imap)
    if account:
        accounts = doc.setdefault("accounts", tomlkit.table(is_super_table=True))
        if account not in accounts:
            new = tomlkit.table()
            accounts[account] = new
        table = accounts[account]
    else:
        if "imap" not in doc:
            doc["imap"] = tomlkit.table()
        table = doc["imap"]
    values = settings(imap)
    for key in SETUP_KEYS:
        if key in values:
            table[key] = values[key]
        elif key in table and not (key == "auth" and not imap.oauth):
            del table[key]
    if "auth" in table and not imap.oauth:
        table["auth"] = PASSWORD
    if imap.oauth and "password_command" in table:
        del table["password_command"]  # contradicts a sign-in (the file would not load)
    return tomlkit.dumps(doc)


def settings(imap: ImapConfig) -> dict[str, Any]:
    """The keys and values setup writes for ``imap`` (never a password)."""
    values: dict[str, Any] = {
        "host": imap.host,
        "port": imap.port,
        "security": imap.security,
        "username": imap.username,
    }
    if imap.ca_file is not None:
        values["ca_file"] = str(imap.ca_file)
    if imap.oauth:
        values["auth"] = imap.auth
    if imap.oauth_client_file is not None:
        values["oauth_client_file"] = str(imap.oauth_client_file)
    if imap.oauth_client_id is not None:
        values["oauth_client_id"] = imap.oauth_client_id
    if imap.oauth_tenant != ImapConfig.oauth_tenant:
        values["oauth_tenant"] = imap.oauth_tenant
    if imap.oauth_authority != ImapConfig.oauth_authority:
        values["oauth_authority"] = imap.oauth_authority
    return values
