"""The work behind ``secop-watcher service install|uninstall|status`` (run at every login).

- Linux: a systemd *user* unit (``~/.config/systemd/user/secop-watcher.service``),
  enabled and started with ``systemctl --user``.
- macOS: a launchd agent (``~/Library/LaunchAgents/co.secop-watcher.plist``),
  loaded with ``launchctl bootstrap gui/<uid>``.
- Windows: a Task Scheduler task ``secop-watcher`` with a logon trigger,
  registered with ``schtasks /Create /XML``.

Programs are always run as argument lists, never through a shell.

Exit codes: ``install`` 0 = file written and the service enabled and started;
1 = file written but the service manager could not be used (not installed, no
user session bus as in containers, or it refused) — the message names the
reason and the exact command to activate it; 3 = no valid configuration yet.
``uninstall`` 0 (also when nothing was installed). ``status`` 0 = installed
and running, 1 otherwise. 10 = a system with none of these service managers.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watcher import config as config_mod
from watcher import paths
from watcher.commands import Outcome
from watcher.errors import ConfigError
from watcher.exitcodes import ExitCode
from watcher.install import files as sf
from watcher.state import StateStore

TIMEOUT = 60.0
SYSTEMCTL = ("systemctl", "--user")


@dataclass(frozen=True)
class Host:
    """The facts about this machine the command depends on (a parameter in tests)."""

    platform: str  # linux | darwin | win32
    environ: Mapping[str, str]
    home: Path
    uid: int
    argv0: str | None
    executable: str

    @classmethod
    def current(cls) -> Host:
        return cls(
            platform=sf.platform_of(sys.platform),
            environ=os.environ,
            home=Path.home(),
            uid=os.getuid() if hasattr(os, "getuid") else 0,
            argv0=sys.argv[0] if sys.argv else None,
            executable=sys.executable,
        )


def run(args: argparse.Namespace, host: Host | None = None) -> Outcome:
    from watcher.install import render  # noqa: F401 - registers how the results are shown

    host = host or Host.current()
    if args.service_action == "install":
        return install(host, args.config, args.lang)
    if args.service_action == "uninstall":
        return uninstall(host)
    return status(host)


# --- talking to the service manager ----------------------------------------------


@dataclass(frozen=True)
class Called:
    ok: bool
    out: str
    reason: tuple[str, dict[str, Any]] | None = None  # why it failed (i18n key, params)
    missing: bool = False  # the program could not be run at all (absent, hung)


def call(argv: Sequence[str]) -> Called:
    """Run ``argv`` (no shell), never raising: a missing program is a failed call."""
    argv = list(argv)
    shown = shlex.join(argv)
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        return Called(False, "", ("service.no_program", {"program": argv[0]}), True)
    except subprocess.TimeoutExpired:
        return Called(
            False, "", ("service.timeout", {"command": shown, "seconds": int(TIMEOUT)}), True
        )
    except OSError as e:
        detail = e.strerror or str(e)
        return Called(False, "", ("service.failed", {"command": shown, "detail": detail}), True)
    if done.returncode == 0:
        return Called(True, done.stdout or "")
    lines = [x.strip() for x in (done.stderr or done.stdout or "").splitlines() if x.strip()]
    detail = lines[-1].rstrip(".") if lines else f"exit {done.returncode}"  # errors come last
    return Called(
        False, done.stdout or "", ("service.failed", {"command": shown, "detail": detail})
    )


def _activate_command(host: Host, path: Path) -> str:
    if host.platform == "linux":
        return "systemctl --user enable --now secop-watcher"
    if host.platform == "darwin":
        return shlex.join(["launchctl", "bootstrap", f"gui/{host.uid}", str(path)])
    return subprocess.list2cmdline(
        ["schtasks", "/Create", "/TN", sf.TASK_NAME, "/XML", str(path), "/F"]
    )


def _stop_command(host: Host) -> str:
    if host.platform == "linux":
        return "systemctl --user disable --now secop-watcher"
    if host.platform == "darwin":
        return f"launchctl bootout gui/{host.uid}/{sf.LAUNCHD_LABEL}"
    return f"schtasks /Delete /TN {sf.TASK_NAME} /F"


# --- install ----------------------------------------------------------------------


def install(host: Host, explicit_config: str | None, lang: str | None = None) -> Outcome:
    config_path = paths.config_file(explicit_config)
    if not config_path.is_file():
        raise ConfigError(str(config_path), [], key="error.service_no_config")
    config_mod.load(config_path)  # invalid → ConfigError (exit 3) listing every problem

    prog = sf.program(
        argv0=host.argv0, executable=host.executable, platform=host.platform, which=shutil.which
    )
    argv = sf.service_argv(prog, sf.config_argument(explicit_config, host.environ), lang)
    target = sf.service_file(host.platform, host.environ, host.home)
    log_dir = paths.log_dir()
    text = sf.render(host.platform, argv, log_dir=log_dir, user_id=_user_id(host.environ))
    existed = target.is_file()
    if host.platform == "darwin":
        paths.ensure_private_dir(log_dir)  # launchd opens the log files, it does not mkdir
    _write(target, sf.encode(host.platform, text))

    result = _activate(host, target, existed)
    if result.ok:
        return Outcome(sf.ServiceChange("installed", str(target)), ExitCode.FOUND)
    # Without a session bus "systemctl --user enable" still links the unit (offline),
    # so it starts at the next login even though it could not be started now.
    enabled = host.platform == "linux" and _wants_link(target).is_symlink()
    change = sf.ServiceChange(
        "installed_enabled" if enabled else "installed_inactive",
        str(target),
        result.reason,
        _activate_command(host, target),
    )
    return Outcome(change, ExitCode.NOT_FOUND)


def _wants_link(unit: Path) -> Path:
    """The link ``systemctl --user enable`` makes for ``WantedBy=default.target``."""
    return unit.parent / "default.target.wants" / sf.UNIT_NAME


def _activate(host: Host, target: Path, existed: bool) -> Called:
    if host.platform == "linux":
        reload = call([*SYSTEMCTL, "daemon-reload"])
        # Called even when the reload failed: without a bus, enable still works offline.
        result = call([*SYSTEMCTL, "enable", "--now", sf.UNIT_NAME])
        if not result.ok and reload.missing:
            return reload
        if result.ok and existed:  # a reinstall: pick up the new ExecStart
            result = call([*SYSTEMCTL, "try-restart", sf.UNIT_NAME])
        return result
    if host.platform == "darwin":
        domain = f"gui/{host.uid}"
        call(["launchctl", "bootout", f"{domain}/{sf.LAUNCHD_LABEL}"])  # may not be loaded
        return call(["launchctl", "bootstrap", domain, str(target)])
    if existed:
        call(["schtasks", "/End", "/TN", sf.TASK_NAME])  # may not be running
    result = call(["schtasks", "/Create", "/TN", sf.TASK_NAME, "/XML", str(target), "/F"])
    if result.ok:  # the logon trigger fires at the next login; start it now too
        result = call(["schtasks", "/Run", "/TN", sf.TASK_NAME])
    return result


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _user_id(environ: Mapping[str, str]) -> str:
    found = sf.user_id(environ)
    if found:
        return found
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


# --- uninstall --------------------------------------------------------------------


def uninstall(host: Host) -> Outcome:
    target = sf.service_file(host.platform, host.environ, host.home)
    existed = target.is_file()
    stopped = _deactivate(host)
    target.unlink(missing_ok=True)
    if host.platform == "linux":
        # What "systemctl --user enable" links, in case systemctl could not undo it.
        wants = _wants_link(target)
        if wants.is_symlink():
            wants.unlink()
        call([*SYSTEMCTL, "daemon-reload"])
    if not existed:
        change = sf.ServiceChange("not_installed", str(target))
    elif stopped.ok:
        change = sf.ServiceChange("uninstalled", str(target))
    else:
        change = sf.ServiceChange(
            "uninstalled_note", str(target), stopped.reason, _stop_command(host)
        )
    return Outcome(change, ExitCode.FOUND)


def _deactivate(host: Host) -> Called:
    if host.platform == "linux":
        return call([*SYSTEMCTL, "disable", "--now", sf.UNIT_NAME])
    if host.platform == "darwin":
        return call(["launchctl", "bootout", f"gui/{host.uid}/{sf.LAUNCHD_LABEL}"])
    call(["schtasks", "/End", "/TN", sf.TASK_NAME])  # may not be running
    return call(["schtasks", "/Delete", "/TN", sf.TASK_NAME, "/F"])


# --- status -----------------------------------------------------------------------

LINUX_STATES = {
    "active": "active",
    "reloading": "active",
    "inactive": "inactive",
    "failed": "inactive",
    "activating": "inactive",  # includes waiting to restart after a failure
    "deactivating": "inactive",
    "maintenance": "inactive",
}


def status(host: Host) -> Outcome:
    target = sf.service_file(host.platform, host.environ, host.home)
    running, manager_state = _running(host)
    state = StateStore().read()
    error = state.last_error or {}
    states = sorted(paths.state_dir().glob("state-*.json"))
    accounts = tuple(_account_status(path) for path in states)
    result = sf.ServiceStatus(
        platform=host.platform,
        installed=target.is_file(),
        path=str(target),
        running=running,
        manager_state=manager_state,
        last_success=sf.parse_time(state.last_success),
        last_error_at=sf.parse_time(error.get("at")),
        last_error=(error.get("message") or error.get("key")) if error else None,
        checked_at=datetime.now(UTC),
        accounts=accounts,
    )
    return Outcome(result, ExitCode.FOUND if result.ok else ExitCode.NOT_FOUND)


def _account_status(path: Path) -> sf.AccountStatus:
    """One ``state-NAME.json`` (written by the service for ``[accounts.NAME]``)."""
    state = StateStore(path).read()
    error = state.last_error or {}
    return sf.AccountStatus(
        name=path.stem.removeprefix("state-"),
        last_success=sf.parse_time(state.last_success),
        last_error_at=sf.parse_time(error.get("at")),
        last_error=(error.get("message") or error.get("key")) if error else None,
    )


def _running(host: Host) -> tuple[str, str | None]:
    """("active" | "inactive" | "unknown", the manager's own word for it)."""
    if host.platform == "linux":
        done = call([*SYSTEMCTL, "is-active", sf.UNIT_NAME])
        word = done.out.strip().splitlines()[0] if done.out.strip() else ""
        return (LINUX_STATES[word], word) if word in LINUX_STATES else ("unknown", None)
    if host.platform == "darwin":
        done = call(["launchctl", "print", f"gui/{host.uid}/{sf.LAUNCHD_LABEL}"])
        if done.ok:
            for line in done.out.splitlines():
                key, _, value = line.strip().partition(" = ")
                if key == "state":
                    word = value.strip()
                    return ("active" if word == "running" else "inactive"), word
            return "inactive", None
        return ("unknown", None) if done.missing else ("inactive", None)
    done = call(
        [
            "powershell",
            "-NoProfile",
            "-NonInteractive",
            "-Command",
            f"(Get-ScheduledTask -TaskName '{sf.TASK_NAME}').State",
        ]
    )
    word = done.out.strip()
    if done.ok and word:
        return ("active" if word == "Running" else "inactive"), word
    return ("unknown", None) if done.missing else ("inactive", None)
