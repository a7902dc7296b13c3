"""Text and JSON for ``service install|uninstall|status`` (kept apart from
:mod:`watcher.render` so that start-up does not import the service-file code)."""

from __future__ import annotations

import json
from datetime import datetime

from watcher import render
from watcher.config import Config
from watcher.i18n import t
from watcher.install.files import ServiceChange, ServiceStatus
from watcher.render import age, iso, local

# --- service status ----------------------------------------------------------


SERVICE_MANAGERS = {"linux": "systemctl --user", "darwin": "launchctl", "win32": "Task Scheduler"}


@render.render.register
def _(data: ServiceStatus, *, as_json: bool, lang: str, config: Config | None) -> str:
    return service_status_json(data) if as_json else service_status_text(data, lang)


@render.render.register
def _(data: ServiceChange, *, as_json: bool, lang: str, config: Config | None) -> str:
    return service_change_text(data, lang)


def service_change_text(change: ServiceChange, lang: str) -> str:
    reason = ""
    if change.reason:
        key, params = change.reason
        reason = t(key, lang, **params)
    text = t(
        f"service.{change.action}", lang, path=change.path, reason=reason, command=change.command
    )
    return "\n".join([text, *(t(key, lang, **params) for key, params in change.warnings)])


def service_status_text(status: ServiceStatus, lang: str) -> str:
    now = status.checked_at
    lines = [
        t("service.status.installed", lang, path=status.path)
        if status.installed
        else t("service.status.not_installed", lang, path=status.path)
    ]
    lines.append(state_line(status, lang))
    single = status.last_success or status.last_error or status.last_error_at
    if single or not status.accounts:  # the [imap] form's state (absent with [accounts])
        lines += _check_lines(
            status.last_success, status.last_error_at, status.last_error, now, lang
        )
    for account in status.accounts:
        lines.append(t("service.status.account", lang, name=account.name))
        lines += [
            "  " + line
            for line in _check_lines(
                account.last_success, account.last_error_at, account.last_error, now, lang
            )
        ]
    return "\n".join(lines)


def state_line(status: ServiceStatus, lang: str) -> str:
    """The words for the service's state ("Estado: en ejecución", "Estado: detenido
    (failed)", "Estado: desconocido (…)"), the same in ``service status`` and ``doctor``."""
    if status.running == "unknown":
        manager = SERVICE_MANAGERS.get(status.platform, status.platform)
        return t("service.status.unknown", lang, manager=manager)
    line = t(f"service.status.{status.running}", lang)
    words = []
    if status.manager_state and status.manager_state not in ("active", "inactive"):
        words.append(status.manager_state)  # the manager's own (Windows: localized) word
    if status.last_result is not None:  # Task Scheduler's last run result, as it shows it
        words.append(f"0x{status.last_result:X}")
    if words:
        line += f" ({', '.join(words)})"
    return line


def _check_lines(
    success: datetime | None, error_at: datetime | None, error: str | None, now: datetime, lang: str
) -> list[str]:
    """When the last check succeeded, and the last error (of the service, or of an account)."""
    lines = []
    if success:
        lines.append(
            t(
                "service.status.last_success",
                lang,
                when=local(success, lang),
                age=age(success, now, lang),
            )
        )
    else:
        lines.append(t("service.status.never", lang))
    if error or error_at:
        lines.append(
            t(
                "service.status.last_error",
                lang,
                when=local(error_at, lang),
                age=age(error_at, now, lang) if error_at else "?",
                message=error or "?",
            )
        )
    else:
        lines.append(t("service.status.no_error", lang))
    return lines


def service_status_json(status: ServiceStatus) -> str:
    data = {
        "platform": status.platform,
        "installed": status.installed,
        "path": status.path,
        "running": status.running,
        "manager_state": status.manager_state,
        "last_result": status.last_result,
        "last_success": iso(status.last_success),
        "last_error": _error_json(status.last_error_at, status.last_error),
        "checked_at": iso(status.checked_at),
        "accounts": [
            {
                "name": a.name,
                "last_success": iso(a.last_success),
                "last_error": _error_json(a.last_error_at, a.last_error),
            }
            for a in status.accounts
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2)


def _error_json(at: datetime | None, message: str | None) -> dict[str, str | None] | None:
    return {"at": iso(at), "message": message} if message or at else None
