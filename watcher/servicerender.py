"""Text and JSON for ``service install|uninstall|status`` (kept apart from
:mod:`watcher.render` so that start-up does not import the service-file code)."""

from __future__ import annotations

import json

from watcher import render
from watcher.config import Config
from watcher.i18n import t
from watcher.render import age, iso, local
from watcher.servicefiles import ServiceChange, ServiceStatus

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
    return t(
        f"service.{change.action}", lang, path=change.path, reason=reason, command=change.command
    )


def service_status_text(status: ServiceStatus, lang: str) -> str:
    now = status.checked_at
    lines = [
        t("service.status.installed", lang, path=status.path)
        if status.installed
        else t("service.status.not_installed", lang, path=status.path)
    ]
    if status.running == "unknown":
        manager = SERVICE_MANAGERS.get(status.platform, status.platform)
        lines.append(t("service.status.unknown", lang, manager=manager))
    else:
        line = t(f"service.status.{status.running}", lang)
        if status.manager_state and status.manager_state not in ("active", "inactive"):
            line += f" ({status.manager_state})"
        lines.append(line)
    if status.last_success:
        when, ago = local(status.last_success), age(status.last_success, now, lang)
        lines.append(t("service.status.last_success", lang, when=when, age=ago))
    else:
        lines.append(t("service.status.never", lang))
    if status.last_error or status.last_error_at:
        at = status.last_error_at
        lines.append(
            t(
                "service.status.last_error",
                lang,
                when=local(at),
                age=age(at, now, lang) if at else "?",
                message=status.last_error or "?",
            )
        )
    else:
        lines.append(t("service.status.no_error", lang))
    return "\n".join(lines)


def service_status_json(status: ServiceStatus) -> str:
    data = {
        "platform": status.platform,
        "installed": status.installed,
        "path": status.path,
        "running": status.running,
        "manager_state": status.manager_state,
        "last_success": iso(status.last_success),
        "last_error": (
            {"at": iso(status.last_error_at), "message": status.last_error}
            if status.last_error or status.last_error_at
            else None
        ),
        "checked_at": iso(status.checked_at),
    }
    return json.dumps(data, ensure_ascii=False, indent=2)
