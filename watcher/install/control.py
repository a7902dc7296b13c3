"""The work behind ``secop-watcher service install|uninstall|status`` (run at every login).

- Linux: a systemd *user* unit (``~/.config/systemd/user/secop-watcher.service``),
  enabled and started with ``systemctl --user``.
- macOS: a launchd agent (``~/Library/LaunchAgents/co.secop-watcher.plist``),
  loaded with ``launchctl bootstrap gui/<uid>``.
- Windows: a Task Scheduler task ``secop-watcher`` (logon trigger, and a time
  trigger repeating every 5 minutes that restarts it after a crash), registered
  with ``schtasks /Create /XML``; it starts the windowless
  ``secop-watcher-service.exe``, whose entry point is
  :func:`watcher.install.windowed.service_main`.
  Uninstall first asks the running service to stop (a stop-request file it
  watches, so its normal stop path withdraws the notifications), then ``/End``,
  then ``/Delete``. Status reads ``schtasks /Query /V /FO CSV``.

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
import logging
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watcher import config as config_mod
from watcher import credentials, paths
from watcher.commands import Outcome
from watcher.errors import ConfigError
from watcher.exitcodes import ExitCode
from watcher.install import files as sf
from watcher.state import StateStore

TIMEOUT = 60.0
SYSTEMCTL = ("systemctl", "--user")
STOP_GRACE = 20.0  # seconds the Windows service gets to stop by itself before /End
POLL = 0.5
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Called:
    ok: bool
    out: str
    reason: tuple[str, dict[str, Any]] | None = None  # why it failed (i18n key, params)
    missing: bool = False  # the program could not be run at all (absent, hung)


Runner = Callable[[Sequence[str]], Called]


@dataclass(frozen=True)
class Host:
    """The facts about this machine the command depends on (a parameter in tests).

    ``run`` runs systemctl, launchctl or schtasks (tests hand in a fake);
    ``stop_grace`` is how long uninstall waits for the Windows service to stop.
    """

    platform: str  # linux | darwin | win32
    environ: Mapping[str, str]
    home: Path
    uid: int
    argv0: str | None
    executable: str
    run: Runner | None = None  # None: :func:`call`
    stop_grace: float = STOP_GRACE

    def call(self, argv: Sequence[str]) -> Called:
        return (self.run or call)(argv)

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
    config = config_mod.load(config_path)  # invalid → ConfigError (exit 3), every problem
    warnings = _password_warnings(config, host.environ)

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
        change = sf.ServiceChange("installed", str(target), warnings=warnings)
        return Outcome(change, ExitCode.FOUND)
    # Without a session bus "systemctl --user enable" still links the unit (offline),
    # so it starts at the next login even though it could not be started now.
    enabled = host.platform == "linux" and _wants_link(target).is_symlink()
    change = sf.ServiceChange(
        "installed_enabled" if enabled else "installed_inactive",
        str(target),
        result.reason,
        _activate_command(host, target),
        warnings,
    )
    return Outcome(change, ExitCode.NOT_FOUND)


def _password_warnings(
    config: config_mod.Config, environ: Mapping[str, str]
) -> tuple[tuple[str, dict[str, Any]], ...]:
    """The accounts whose password comes from $SECOP_WATCHER_PASSWORD here: the service,
    started by the session's service manager, never sees this terminal's variables."""
    if not environ.get(credentials.ENV_PASSWORD):
        return ()
    return tuple(
        (
            "service.env_password",
            {"username": one.imap.username, "variable": credentials.ENV_PASSWORD},
        )
        for one in config.each()
        if not one.imap.oauth and not one.imap.password_command
    )


def _wants_link(unit: Path) -> Path:
    """The link ``systemctl --user enable`` makes for ``WantedBy=default.target``."""
    return unit.parent / "default.target.wants" / sf.UNIT_NAME


def _activate(host: Host, target: Path, existed: bool) -> Called:
    if host.platform == "linux":
        reload = host.call([*SYSTEMCTL, "daemon-reload"])
        # Called even when the reload failed: without a bus, enable still works offline.
        result = host.call([*SYSTEMCTL, "enable", "--now", sf.UNIT_NAME])
        if not result.ok and reload.missing:
            return reload
        if result.ok and existed:  # a reinstall: pick up the new ExecStart
            result = host.call([*SYSTEMCTL, "try-restart", sf.UNIT_NAME])
        return result
    if host.platform == "darwin":
        domain = f"gui/{host.uid}"
        host.call(["launchctl", "bootout", f"{domain}/{sf.LAUNCHD_LABEL}"])  # may not be loaded
        return host.call(["launchctl", "bootstrap", domain, str(target)])
    if existed:
        _stop_windows_task(host)  # the old one stops cleanly before the new one starts
    result = host.call(["schtasks", "/Create", "/TN", sf.TASK_NAME, "/XML", str(target), "/F"])
    if result.ok:  # the logon trigger fires at the next login; start it now too
        result = host.call(["schtasks", "/Run", "/TN", sf.TASK_NAME])
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
        host.call([*SYSTEMCTL, "daemon-reload"])
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
        return host.call([*SYSTEMCTL, "disable", "--now", sf.UNIT_NAME])
    if host.platform == "darwin":
        return host.call(["launchctl", "bootout", f"gui/{host.uid}/{sf.LAUNCHD_LABEL}"])
    _stop_windows_task(host)
    return host.call(["schtasks", "/Delete", "/TN", sf.TASK_NAME, "/F"])


def _stop_windows_task(host: Host) -> None:
    """Ask the running service to stop, wait for it, then ``/End`` whatever is left.

    ``schtasks /End`` sends WM_CLOSE to the task's windows (this one has none), then
    TerminateProcess (``AllowHardTerminate``): no handler runs, the toast stays. So
    the service is asked first, through the stop-request file that
    :func:`watcher.install.windowed.service_main` watches; its normal stop path
    withdraws the notifications. ``/End`` follows in any case (an older version that
    does not watch the file, or one that hangs).
    """
    from watcher.install.windowed import stop_request_file

    request = stop_request_file()
    if _task_state(host).running:
        try:
            request.parent.mkdir(parents=True, exist_ok=True)
            request.write_text(str(time.time()), encoding="utf-8")
        except OSError:
            log.warning("could not ask the service to stop (%s)", request, exc_info=True)
        deadline = time.monotonic() + host.stop_grace
        while _task_state(host).running and time.monotonic() < deadline:
            time.sleep(POLL)
    host.call(["schtasks", "/End", "/TN", sf.TASK_NAME])  # may not be running
    request.unlink(missing_ok=True)


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
    running, manager_state, last_result = _running(host)
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
        last_result=last_result,
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


def _running(host: Host) -> tuple[str, str | None, int | None]:
    """("active" | "inactive" | "unknown", the manager's word for it, Windows' last result)."""
    if host.platform == "linux":
        done = host.call([*SYSTEMCTL, "is-active", sf.UNIT_NAME])
        word = done.out.strip().splitlines()[0] if done.out.strip() else ""
        return (LINUX_STATES[word], word, None) if word in LINUX_STATES else ("unknown", None, None)
    if host.platform == "darwin":
        done = host.call(["launchctl", "print", f"gui/{host.uid}/{sf.LAUNCHD_LABEL}"])
        if done.ok:
            for line in done.out.splitlines():
                key, _, value = line.strip().partition(" = ")
                if key == "state":
                    word = value.strip()
                    return ("active" if word == "running" else "inactive"), word, None
            return "inactive", None, None
        return ("unknown" if done.missing else "inactive"), None, None
    state = _task_state(host)
    if state.missing:
        return "unknown", None, None
    return ("active" if state.running else "inactive"), state.word, state.last_result


def _task_state(host: Host) -> sf.TaskState:
    """The task's real state from ``schtasks /Query /V /FO CSV /NH`` (see :mod:`.files`)."""
    done = host.call(["schtasks", "/Query", "/TN", sf.TASK_NAME, "/V", "/FO", "CSV", "/NH"])
    if done.missing:
        return sf.TaskState(missing=True)
    found = sf.parse_schtasks_csv(done.out) if done.ok else None  # fails: no such task
    return found or sf.TaskState()
