"""Load and validate the TOML configuration.

Validation collects *every* problem before reporting, so a user fixes the file
in one go. A problem is a location (``[imap] port``) plus a message key that
:mod:`watcher.i18n` translates; values from the file are never echoed for
keys that could hold secrets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from watcher import commandline
from watcher.authresults import DEFAULT_TRUSTED_AUTHSERV_IDS
from watcher.commandline import Argv
from watcher.errors import ConfigError

DEFAULT_SENDER = "registro@secop.gov.co"
SECURITY_PORTS = {"ssl": 993, "starttls": 143}
PASSWORD = "password"
OAUTH2_MICROSOFT = "oauth2-microsoft"
OAUTH2_GOOGLE = "oauth2-google"
AUTH_METHODS = (PASSWORD, OAUTH2_MICROSOFT, OAUTH2_GOOGLE)
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
# Keys that only mean something for one way of signing in.
OAUTH_KEYS = {
    "oauth_client_id": OAUTH2_MICROSOFT,
    "oauth_tenant": OAUTH2_MICROSOFT,
    "oauth_authority": OAUTH2_MICROSOFT,
    "oauth_client_file": OAUTH2_GOOGLE,
}


@dataclass(frozen=True)
class ImapConfig:
    host: str
    username: str
    security: str = "ssl"
    port: int = 993
    ca_file: Path | None = None
    folders: tuple[str, ...] = ()
    password_command: Argv | None = None  # watcher.commandline: an array or a string
    timeout_seconds: float = 30.0
    # Several commands in one write (RFC 3501 §5.5); false: each waits for the previous
    # answer (mutt's imap_pipeline_depth = 0), for a server or proxy that loses them.
    pipelining: bool = True
    auth: str = PASSWORD  # or OAUTH2_MICROSOFT / OAUTH2_GOOGLE (watcher.oauth)
    oauth_client_id: str | None = None  # Microsoft: None = watcher.oauth.microsoft's default
    oauth_tenant: str = "common"
    oauth_authority: str = MICROSOFT_AUTHORITY
    oauth_client_file: Path | None = None  # Google: the client JSON the user downloaded

    @property
    def oauth(self) -> bool:
        return self.auth != PASSWORD


@dataclass(frozen=True)
class WatchConfig:
    sender: str = DEFAULT_SENDER
    lookback_days: int = 7
    max_link_age_hours: float = 24.0
    poll_seconds: int = 60
    # Whose Authentication-Results headers to believe (watcher.authresults).
    trusted_authserv_ids: tuple[str, ...] = DEFAULT_TRUSTED_AUTHSERV_IDS


@dataclass(frozen=True)
class NotifyConfig:
    desktop: bool = True  # desktop notifications (the service)
    command: Argv | None = None  # run on each new link, details in environment variables


@dataclass(frozen=True)
class Account:
    """One mailbox to watch: ``[accounts.NAME]`` (``name`` is "" for the single ``[imap]``)."""

    name: str
    imap: ImapConfig


@dataclass(frozen=True)
class Config:
    imap: ImapConfig  # the account this Config is about (the first one of several)
    watch: WatchConfig = field(default_factory=WatchConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    path: Path | None = None
    accounts: tuple[Account, ...] = ()  # ``[accounts.NAME]``; empty for the ``[imap]`` form

    @property
    def account(self) -> str:
        """This Config's account name ("" for the single ``[imap]`` form)."""
        return self.accounts[0].name if len(self.accounts) == 1 else ""

    def each(self) -> list[Config]:
        """One Config per account, each with its own ``imap`` (watch and notify shared)."""
        if not self.accounts:
            return [self]
        return [replace(self, imap=a.imap, accounts=(a,)) for a in self.accounts]

    def only(self, name: str) -> Config:
        """The account called ``name`` (``--account``); a ConfigError names the others."""
        for config in self.each():
            if config.account == name:
                return config
        names = ", ".join(a.name for a in self.accounts) or "-"
        where = f"--account {name}"
        raise ConfigError(
            str(self.path or ""), [(where, "config.unknown_account", {"names": names})]
        )


Problem = tuple[str, str, dict[str, Any]]  # (location, i18n key, params)
Check = Callable[[Any], tuple[str, dict[str, Any]] | None]  # (key, params) or None if fine


def _str(value: Any) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(value, str) or not value.strip():
        return "config.text", {}
    return None


def _command(value: Any) -> tuple[str, dict[str, Any]] | None:
    why = commandline.problem(value)
    return None if why is None else (f"config.command_{why}", {})


def _int_range(low: int, high: int) -> Check:
    def check(value: Any) -> tuple[str, dict[str, Any]] | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return "config.int_range", {"low": low, "high": high}
        return None

    return check


def _positive_number(value: Any) -> tuple[str, dict[str, Any]] | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return "config.positive", {}
    return None


def _bool(value: Any) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(value, bool):
        return "config.bool", {}
    return None


def _security(value: Any) -> tuple[str, dict[str, Any]] | None:
    if value in ("plain", "none", "plaintext", "off", False):
        return "config.plaintext", {}
    if value not in SECURITY_PORTS:
        return "config.security", {}
    return None


def _folders(value: Any) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return "config.folders", {}
    return None


def _authserv_ids(value: Any) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return "config.authserv_ids", {}
    return None


def _sender(value: Any) -> tuple[str, dict[str, Any]] | None:
    problem = _str(value)
    if problem is None and (value.count("@") != 1 or " " in value.strip()):
        return "config.address", {}
    return problem


def _auth(value: Any) -> tuple[str, dict[str, Any]] | None:
    if value not in AUTH_METHODS:
        return "config.auth", {"choices": ", ".join(AUTH_METHODS)}
    return None


def _https_url(value: Any) -> tuple[str, dict[str, Any]] | None:
    problem = _str(value)
    if problem is None and not re.match(r"^https://[^/\s]+(:\d+)?/?$", value.strip()):
        return "config.https_url", {}
    return problem


def _tenant(value: Any) -> tuple[str, dict[str, Any]] | None:
    problem = _str(value)
    if problem is None and not re.match(r"^[A-Za-z0-9.-]+$", value.strip()):
        return "config.tenant", {}
    return problem


def _ca_file(value: Any) -> tuple[str, dict[str, Any]] | None:
    problem = _str(value)
    if problem is None and not Path(value).expanduser().is_file():
        return "config.no_file", {"path": value}
    return problem


SCHEMA: dict[str, dict[str, Check]] = {
    "imap": {
        "host": _str,
        "port": _int_range(1, 65535),
        "security": _security,
        "username": _str,
        "ca_file": _ca_file,
        "folders": _folders,
        "password_command": _command,
        "timeout_seconds": _positive_number,
        "pipelining": _bool,
        "auth": _auth,
        "oauth_client_id": _str,
        "oauth_tenant": _tenant,
        "oauth_authority": _https_url,
        "oauth_client_file": _str,
    },
    "watch": {
        "sender": _sender,
        "lookback_days": _int_range(1, 365),
        "max_link_age_hours": _positive_number,
        "poll_seconds": _int_range(10, 86400),
        "trusted_authserv_ids": _authserv_ids,
    },
    "notify": {
        "desktop": _bool,
        "command": _command,
    },
}
REQUIRED = {("imap", "host"), ("imap", "username")}
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def load(path: Path) -> Config:
    """Read and validate ``path``; raise :class:`ConfigError` listing every problem."""
    import tomllib  # imported when a config is read, not at start-up

    if not path.is_file():
        raise ConfigError(str(path), [], key="error.config_missing")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:  # explained in Spanish by watcher.i18n.toml_text
        raise ConfigError(str(path), [("", "config.toml", {"reason": str(e), "toml": True})]) from e
    except UnicodeDecodeError as e:
        problem = ("", "config.toml", {"reason": str(e), "encoding": True})
        raise ConfigError(str(path), [problem]) from e
    except OSError as e:
        reason = {"reason": e.strerror or str(e), "errno": e.errno}  # explained by watcher.i18n
        raise ConfigError(str(path), [("", "config.unreadable", reason)]) from e
    problems = validate(data)
    if problems:
        raise ConfigError(str(path), problems)
    return build(data, path)


def validate(data: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for section, value in data.items():
        if section == "accounts":
            problems.extend(_validate_accounts(value, both="imap" in data))
        elif section not in SCHEMA:
            problems.append((f"[{section}]", "config.unknown_section", _close(section, SCHEMA)))
        elif not isinstance(value, dict):
            problems.append((section, "config.not_table", {"section": section}))
        else:
            problems.extend(_validate_section(section, value))
    for section, key in sorted(REQUIRED):
        table = data.get(section)
        if "accounts" not in data and (not isinstance(table, dict) or key not in table):
            problems.append((f"[{section}] {key}", "config.missing", {}))
    return problems


def _validate_accounts(value: Any, *, both: bool) -> list[Problem]:
    """``[accounts.NAME]`` tables, each with the keys of ``[imap]``."""
    if both:
        return [("[accounts]", "config.both_forms", {})]
    if not isinstance(value, dict) or not value:
        return [("[accounts]", "config.accounts", {})]
    problems: list[Problem] = []
    seen: set[str] = set()
    for name, table in value.items():
        where = f"[accounts.{name}]"
        if not ACCOUNT_NAME.match(name):
            problems.append((where, "config.account_name", {}))
        elif name.casefold() in seen:  # one state file per name: Work and work would share it
            problems.append((where, "config.account_duplicate", {}))
        seen.add(name.casefold())
        if not isinstance(table, dict):
            problems.append((where, "config.not_table", {"section": f"accounts.{name}"}))
            continue
        problems.extend(_validate_section("imap", table, where))
        problems += [
            (f"{where} {k}", "config.missing", {}) for k in ("host", "username") if k not in table
        ]
    return problems


def _validate_section(section: str, values: dict[str, Any], table: str = "") -> list[Problem]:
    """``table`` names the table in messages when it is not ``[section]`` (an account)."""
    problems: list[Problem] = []
    keys = SCHEMA[section]
    for key, value in values.items():
        where = f"{table or f'[{section}]'} {key}"
        if key == "password":
            problems.append((where, "config.password", {}))
        elif key not in keys:
            problems.append((where, "config.unknown_key", _close(key, keys)))
        elif (problem := keys[key](value)) is not None:
            problems.append((where, *problem))
    if section == "imap":
        problems.extend(_validate_sign_in(values, table or "[imap]"))
    return problems


def _validate_sign_in(values: dict[str, Any], table: str) -> list[Problem]:
    """Keys that contradict the way of signing in (``auth``)."""
    from watcher.providers import is_microsoft_host

    auth = values.get("auth", PASSWORD)
    if auth not in AUTH_METHODS:
        return []  # already reported
    problems: list[Problem] = []
    for key, needs in OAUTH_KEYS.items():
        if key in values and auth != needs:
            problems.append((f"{table} {key}", "config.oauth_key", {"auth": needs}))
    if auth != PASSWORD and "password_command" in values:
        problems.append((f"{table} password_command", "config.oauth_password", {"auth": auth}))
    host = values.get("host")
    if auth == PASSWORD and isinstance(host, str) and is_microsoft_host(host):
        problems.append((f"{table} auth", "config.microsoft_password", {}))
    return problems


def _close(word: str, choices: dict[str, Any]) -> dict[str, Any]:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1)
    return {"suggestion": close[0] if close else ""}


def build(data: dict[str, Any], path: Path | None = None) -> Config:
    accounts = tuple(Account(name, _imap(t)) for name, t in data.get("accounts", {}).items())
    imap = accounts[0].imap if accounts else _imap(data["imap"])
    watch = dict(data.get("watch", {}))
    if "max_link_age_hours" in watch:
        watch["max_link_age_hours"] = float(watch["max_link_age_hours"])
    if "sender" in watch:
        watch["sender"] = watch["sender"].strip().lower()
    if "trusted_authserv_ids" in watch:
        watch["trusted_authserv_ids"] = tuple(v.strip() for v in watch["trusted_authserv_ids"])
    notify_table = dict(data.get("notify", {}))
    if "command" in notify_table:
        notify_table["command"] = commandline.to_argv(notify_table["command"])
    notify = NotifyConfig(**notify_table)
    return Config(
        imap=imap, watch=WatchConfig(**watch), notify=notify, path=path, accounts=accounts
    )


def _imap(table: dict[str, Any]) -> ImapConfig:
    imap = dict(table)
    imap.setdefault("port", SECURITY_PORTS[imap.get("security", "ssl")])
    if "ca_file" in imap:
        imap["ca_file"] = Path(imap["ca_file"]).expanduser()
    if "folders" in imap:
        imap["folders"] = tuple(imap["folders"])
    if "timeout_seconds" in imap:
        imap["timeout_seconds"] = float(imap["timeout_seconds"])
    if "oauth_client_file" in imap:
        imap["oauth_client_file"] = Path(imap["oauth_client_file"]).expanduser()
    if "password_command" in imap:
        imap["password_command"] = commandline.to_argv(imap["password_command"])
    if "oauth_authority" in imap:
        imap["oauth_authority"] = imap["oauth_authority"].strip().rstrip("/")
    return ImapConfig(**imap)
