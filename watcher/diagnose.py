"""The checks behind ``secop-watcher doctor``: one checklist a help desk can ask for.

Each line is ✓, ✗, ⚠ (or – when an earlier failure makes it pointless), with
the fix when it is not ✓. ✗ is kept for what stops mail from being checked
(:data:`MAIL_CHECKS`: configuration, password or sign-in, DNS, TCP, TLS, IMAP
login, folders); what depends on the desktop session or only on the service
(keyring, IDLE, notifications, the login service, its last check) is at worst
⚠. So exit 0 means "mail can be checked", also on a machine without a desktop.
It never prints a secret: not the password, not a link. Each step runs on its
own; a failing step never hides the lines before it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from watcher import credentials, i18n, paths, render
from watcher.commands import Outcome, load_config
from watcher.config import Config
from watcher.connect import Connector
from watcher.errors import UserError
from watcher.exitcodes import ExitCode
from watcher.folders import choose_folders
from watcher.mail import ImapSession, translate_errors
from watcher.mail import login as mail_login
from watcher.state import StateStore, state_file

if TYPE_CHECKING:
    from watcher.notify.platforms import Probe

OK, FAIL, WARN, SKIP = "ok", "fail", "warn", "skip"

# The lines that say whether mail can be checked: only these can be ✗ (exit 1).
MAIL_CHECKS = frozenset(("config", "password", "sign_in", "dns", "tcp", "tls", "login", "folders"))


@dataclass
class Line:
    check: str  # i18n key suffix: doctor.check.<check>
    status: str  # ok | fail | warn | skip
    detail: str = ""
    fix: str = ""
    account: str = ""  # [accounts.NAME] the line is about ("" for the [imap] form)


@dataclass
class DoctorReport:
    lines: list[Line] = field(default_factory=list)
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    account: str = ""  # the account the next lines are about

    @property
    def ok(self) -> bool:
        """Mail can be checked: no ✗ line (⚠ lines do not count)."""
        return all(line.status != FAIL for line in self.lines)

    @property
    def warnings(self) -> int:
        return sum(line.status == WARN for line in self.lines)

    @contextmanager
    def about(self, account: str) -> Iterator[None]:
        """The lines added meanwhile are about ``account``."""
        self.account = account
        try:
            yield
        finally:
            self.account = ""

    def add(self, check: str, status: str, detail: str = "", fix: str = "") -> None:
        if status == FAIL and check not in MAIL_CHECKS:  # it does not stop mail: ⚠
            status = WARN
        self.lines.append(Line(check, status, detail, fix, self.account))


def run(args: argparse.Namespace) -> Outcome:
    lang = args.lang
    report = DoctorReport()
    config = _config(args, report, lang)
    _keyring(report, config, lang)
    accounts = config.each() if config is not None else []  # every mailbox, or --account's
    if not accounts:
        _skip(report, "password", "dns", "tcp", "tls", "login", "folders", "idle")
    for one in accounts:
        with report.about(one.account):
            _mailbox_checks(one, report, lang)
    _notifications(report, lang)
    _service(report, lang)
    for name in [one.account for one in accounts] or [""]:
        with report.about(name):
            _last_check(report, name, lang)
    return Outcome(report, ExitCode.FOUND if report.ok else ExitCode.NOT_FOUND, config)


def _keyring(report: DoctorReport, config: Config | None, lang: str) -> None:
    name = credentials.keyring_backend_name()
    if credentials.keyring_usable():
        report.add("keyring", OK, name)
    else:
        user = config.imap.username if config else "-"
        # ⚠: the password may come from elsewhere; if it came from here, "password" is ✗.
        report.add("keyring", WARN, name, i18n.t("error.no_keyring", lang, username=user))


def _skip(report: DoctorReport, *checks: str) -> None:
    for check in checks:
        report.add(check, SKIP)


def _config(args: argparse.Namespace, report: DoctorReport, lang: str) -> Config | None:
    path = paths.config_file(args.config)
    try:
        config = load_config(args)
    except UserError as e:
        report.add("config", FAIL, str(path), i18n.error_text(e, lang))
        return None
    report.add("config", OK, str(path))
    return config


def _mailbox_checks(config: Config, report: DoctorReport, lang: str) -> None:
    """DNS, TCP and TLS first (to say where it breaks), then the sign-in, LIST and the
    capabilities through the very code ``check-now``, ``wait`` and ``run`` use: the
    :class:`~watcher.connect.Connector` and :class:`~watcher.mail.ImapSession`."""
    connector = Connector(config, clock=lambda: datetime.now(UTC), keep_password=True)
    credentials_ok = _credentials(connector, config, report, lang)
    addresses = _dns(config, report, lang)
    if not addresses or not _tcp(config, addresses, report, lang):
        _skip(report, "tls", "login", "folders", "idle")
        return
    if not _tls(config, report, lang):
        _skip(report, "login", "folders", "idle")
        return
    if not credentials_ok:
        _skip(report, "login", "folders", "idle")
        return
    try:
        session = connector()
    except UserError as e:
        report.add("login", FAIL, config.imap.username, i18n.error_text(e, lang))
        _skip(report, "folders", "idle")
        return
    with session:
        report.add("login", OK, config.imap.username)
        _folders(session, report, lang)
        _idle(session, report, lang)


def _credentials(connector: Connector, config: Config, report: DoctorReport, lang: str) -> bool:
    """The password (or the OAuth2 token) can be had; the Connector keeps it for the login."""
    if config.imap.oauth:
        assert connector.tokens is not None  # noqa: S101 - an OAuth2 config always has them
        try:
            connector.tokens.refreshed()  # asks the provider: is the saved sign-in still good?
        except UserError as e:
            report.add("sign_in", FAIL, config.imap.auth, i18n.error_text(e, lang))
            return False
        report.add("sign_in", OK, i18n.t("doctor.token", lang, auth=config.imap.auth))
        return True
    if os.environ.get(credentials.ENV_PASSWORD):
        source = credentials.ENV_PASSWORD
    elif config.imap.password_command:
        source = "password_command"
    else:
        source = "keyring"
    try:
        connector.password()
    except UserError as e:
        report.add("password", FAIL, source, i18n.error_text(e, lang))
        return False
    report.add("password", OK, i18n.t("doctor.password_from", lang, source=source))
    return True


def _dns(config: Config, report: DoctorReport, lang: str) -> list[str]:
    host, port = config.imap.host, config.imap.port
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        report.add("dns", FAIL, host, i18n.t("error.dns", lang, host=host, port=port))
        return []
    addresses = sorted({str(info[4][0]) for info in infos})
    report.add("dns", OK, f"{host} → {', '.join(addresses)}")
    return addresses


def _tcp(config: Config, addresses: list[str], report: DoctorReport, lang: str) -> bool:
    port = config.imap.port
    started = time.monotonic()
    try:
        with socket.create_connection(
            (config.imap.host, port), timeout=config.imap.timeout_seconds
        ):
            pass
    except OSError as e:
        report.add("tcp", FAIL, f"{config.imap.host}:{port}", _tcp_fix(config, e, lang))
        return False
    ms = (time.monotonic() - started) * 1000
    report.add("tcp", OK, f"{config.imap.host}:{port} ({ms:.0f} ms)")
    return True


def _tcp_fix(config: Config, error: OSError, lang: str) -> str:
    where = {"host": config.imap.host, "port": config.imap.port}
    if isinstance(error, ConnectionRefusedError):
        return i18n.t("error.refused", lang, **where)
    if isinstance(error, TimeoutError):
        return i18n.t("error.timeout", lang, seconds=float(config.imap.timeout_seconds), **where)
    return i18n.t("error.connection", lang, reason=i18n.os_error(error, lang), **where)


def _tls(config: Config, report: DoctorReport, lang: str) -> bool:
    """The certificate, on a connection of its own (closed at once, before any login)."""
    try:
        with translate_errors(config.imap):
            client = mail_login.connect(config.imap)
    except UserError as e:
        report.add("tls", FAIL, config.imap.security, i18n.error_text(e, lang))
        return False
    try:
        cert = client.socket().getpeercert() or {}
    finally:
        mail_login.drop(client)
    report.add("tls", OK, _describe_cert(cert, config, lang))
    return True


def _describe_cert(cert: dict[str, Any], config: Config, lang: str) -> str:
    subject = dict(x[0] for x in cert.get("subject", ()) if x)
    issuer = dict(x[0] for x in cert.get("issuer", ()) if x)
    expires = cert.get("notAfter")
    when = (
        datetime.fromtimestamp(ssl.cert_time_to_seconds(expires), UTC).strftime("%Y-%m-%d")
        if expires
        else "?"
    )
    return i18n.t(
        "doctor.cert",
        lang,
        security=config.imap.security,
        subject=subject.get("commonName", "?"),
        issuer=issuer.get("commonName", issuer.get("organizationName", "?")),
        expires=when,
    )


def _folders(session: ImapSession, report: DoctorReport, lang: str) -> None:
    try:
        folders = choose_folders(session.listing(), session.config.folders)
    except UserError as e:
        report.add("folders", FAIL, "", i18n.error_text(e, lang))
        return
    spam = [f for f in folders if f.spam]
    names = ", ".join(f.name for f in folders)
    if not spam:
        report.add("folders", FAIL, names, i18n.t("notice.no_spam_folder", lang))
        return
    how = "; ".join(
        i18n.t("doctor.spam", lang, folder=f.name, how=i18n.t(f"setup.how.{f.how}", lang))
        for f in spam
    )
    report.add("folders", OK, f"{names} — {how}")


def _idle(session: ImapSession, report: DoctorReport, lang: str) -> None:
    try:
        supported = session.supports_idle()
    except UserError as e:
        report.add("idle", WARN, "", i18n.error_text(e, lang))
        return
    if supported:
        report.add("idle", OK, "IDLE")
    else:
        report.add("idle", WARN, "", i18n.t("doctor.no_idle", lang))


def _has_notify_text(key: str) -> bool:
    """Whether the notification line has a sentence for ``key`` (Windows and macOS)."""
    return i18n.has(f"doctor.notify.{key}")


def _notify_text(key: str, lang: str) -> str:
    return i18n.t(f"doctor.notify.{key}", lang)


Prober = Callable[[str], "Probe"]


def _notifications(
    report: DoctorReport, lang: str, platform: str = sys.platform, prober: Prober | None = None
) -> None:
    """Linux: which notification server runs. Windows and macOS: whether desktop-notifier's
    backend loads and may show them (``prober``: tests hand in another platform's facts)."""
    if platform.startswith("linux"):
        _dbus_notifications(report, lang)
        return
    result = (prober or _probe)(platform)
    if result.ok:
        key = f"ok.{platform}"
        report.add("notifications", OK, _notify_text(key, lang) if _has_notify_text(key) else "")
        return
    detail = result.backend + (f" ({result.reason})" if result.reason else "")
    fix = _notify_text(result.problem, lang) if _has_notify_text(result.problem) else ""
    if result.problem not in ("no_bundle", "denied", "no_osascript"):
        otherwise = i18n.t("doctor.notify.otherwise", lang)
        fix += " " + otherwise if fix else otherwise
    report.add("notifications", WARN, detail, fix)


def _probe(platform: str) -> Probe:
    import asyncio

    from watcher.notify import platforms

    async def bounded() -> Probe:
        return await asyncio.wait_for(platforms.probe(platforms.facts(platform)), 15)

    try:
        return asyncio.run(bounded())
    except Exception as e:  # noqa: BLE001 - doctor reports, never raises
        return platforms.Probe(False, platforms.facts(platform).backend, "", type(e).__name__)


def _dbus_notifications(report: DoctorReport, lang: str) -> None:
    from dbus_fast.errors import DBusError

    try:
        name = notification_server_name()
    except (OSError, TimeoutError, ValueError, RuntimeError, DBusError):
        report.add("notifications", WARN, "", i18n.t("doctor.no_notify", lang))  # no class name
        return
    report.add("notifications", OK, name)


def notification_server_name(timeout: float = 3.0) -> str:
    """Ask the session bus which notification server runs (GetServerInformation)."""
    import asyncio

    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus

    async def ask() -> str:
        bus = await MessageBus().connect()
        try:
            reply = await bus.call(
                Message(
                    destination="org.freedesktop.Notifications",
                    path="/org/freedesktop/Notifications",
                    interface="org.freedesktop.Notifications",
                    member="GetServerInformation",
                )
            )
        finally:
            bus.disconnect()
        if reply is None or reply.message_type != MessageType.METHOD_RETURN:
            raise RuntimeError("no notification server on the session bus")
        name, vendor, version, _spec = reply.body
        return f"{name} {version} ({vendor})"

    async def bounded() -> str:
        return await asyncio.wait_for(ask(), timeout)

    return asyncio.run(bounded())


def _service(report: DoctorReport, lang: str) -> None:
    """The login service, in the very words of ``service status`` (its state line)."""
    from watcher.install import control as service
    from watcher.install.render import SERVICE_MANAGERS, state_line

    try:
        status = service.status(service.Host.current()).data
    except UserError as e:
        report.add("service", WARN, "", i18n.error_text(e, lang))
        return
    state = f"{status.path} — {state_line(status, lang)}"
    if status.ok:
        report.add("service", OK, state)
    elif not status.installed:
        report.add("service", WARN, "", i18n.t("doctor.service_missing", lang))
    elif status.running == "unknown":
        manager = SERVICE_MANAGERS.get(status.platform, status.platform)
        report.add("service", WARN, state, i18n.t("doctor.service_unknown", lang, manager=manager))
    else:
        report.add("service", WARN, state, i18n.t("doctor.service_not_running", lang))


def _last_check(report: DoctorReport, account: str, lang: str) -> None:
    state = StateStore(state_file(account)).read()
    if state.last_error:
        report.add(
            "last_check",
            WARN,
            state.last_success or "-",
            f"{state.last_error.get('at', '')}: {state.last_error.get('message', '')}",
        )
    elif state.last_success:
        report.add("last_check", OK, render.local(datetime.fromisoformat(state.last_success), lang))
    else:
        report.add("last_check", SKIP, i18n.t("doctor.never", lang))


MARKS = {OK: "✓", FAIL: "✗", WARN: "⚠", SKIP: "–"}


@render.render.register
def _(data: DoctorReport, *, as_json: bool, lang: str, config: Config | None) -> str:
    if as_json:
        return json.dumps(
            {
                "ok": data.ok,  # mail can be checked (exit 0); "warn" lines do not count
                "warnings": data.warnings,
                "checked_at": render.iso(data.checked_at),
                "checks": [asdict(line) for line in data.lines],
            },
            ensure_ascii=False,
            indent=2,
        )
    out = [f"secop-watcher doctor — {render.local(data.checked_at, lang)}"]
    for line in data.lines:
        label = i18n.t(f"doctor.check.{line.check}", lang)
        if line.account:
            label += f" [{line.account}]"
        text = (
            f"{MARKS[line.status]} {label}: {line.detail}"
            if line.detail
            else (f"{MARKS[line.status]} {label}")
        )
        out.append(text)
        if line.status in (FAIL, WARN) and line.fix:
            out += [f"    → {part}" for part in line.fix.splitlines()]
    summary = "ok" if data.ok and not data.warnings else "warn" if data.ok else "fail"
    out.append(i18n.t(f"doctor.summary.{summary}", lang))
    return "\n".join(out)
