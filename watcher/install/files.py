"""The pure part of ``secop-watcher service``: which command, which file, what it says.

Nothing here runs a program or looks at ``sys.platform``: the platform is a
parameter (``"linux"``, ``"darwin"``, ``"win32"``), so the files for all three
can be rendered and checked on any machine. :mod:`watcher.commands.service`
does the writing and talks to systemd, launchd or the Task Scheduler.

The templates live in ``config/`` (next to ``example.toml``) and are filled
with :class:`string.Template`. Every value is escaped for its format:
systemd's command-line quoting for ``ExecStart``, XML escaping for the plist
and the task.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape as _html_escape
from pathlib import Path
from string import Template
from typing import Any

from watcher import paths
from watcher.errors import UserError
from watcher.exitcodes import ExitCode

PLATFORMS = ("linux", "darwin", "win32")
NAME = "secop-watcher"
UNIT_NAME = "secop-watcher.service"  # systemd
LAUNCHD_LABEL = "co.secop-watcher"  # launchd
TASK_NAME = "secop-watcher"  # Windows Task Scheduler
TEMPLATES = {
    "linux": "secop-watcher.service",
    "darwin": "com.secop-watcher.plist",
    "win32": "secop-watcher-task.xml",
}
TASK_FILE = "secop-watcher-task.xml"
SCRIPT_NAMES = ("secop-watcher", "secop-watcher.exe")
# The windowed launcher pip/pipx make for [project.gui-scripts] (pythonw inside: no console
# window at logon, nothing to close by mistake); the task starts it, never the console one.
WINDOWED_EXE = "secop-watcher-service.exe"
WINDOWED_MODULE = "watcher.install.windowed"  # what pythonw.exe -m runs when there is no .exe
STOP_FILE = "stop-request"  # `service uninstall` asks the Windows service to stop (state dir)

# Environment overrides for the folders the service file goes to (tests, unusual setups).
SYSTEMD_DIR_ENV = "SECOP_WATCHER_SYSTEMD_DIR"
LAUNCHD_DIR_ENV = "SECOP_WATCHER_LAUNCHD_DIR"

Which = Callable[[str], str | None]


class UnsupportedPlatform(UserError):
    exit_code = ExitCode.UNSUPPORTED
    key = "error.service_platform"


class UnrepresentableValue(UserError):
    """A path holds a control character that the service file cannot carry."""

    exit_code = ExitCode.CONFIG
    key = "error.service_value"


def platform_of(sys_platform: str) -> str:
    """``sys.platform`` → one of :data:`PLATFORMS`, or :class:`UnsupportedPlatform`."""
    if sys_platform.startswith("linux"):
        return "linux"
    if sys_platform in ("darwin", "win32"):
        return sys_platform
    raise UnsupportedPlatform(platform=sys_platform)


# --- what to run ---------------------------------------------------------------


def program(
    *,
    argv0: str | None,
    executable: str,
    platform: str,
    which: Which,
) -> list[str]:
    """The absolute command that starts this installation of secop-watcher.

    In order: the console script we were started as (``sys.argv[0]``, looked up
    on ``PATH`` when it is a bare name); the console script next to the running
    interpreter (a venv or pipx install); ``[python, "-m", "watcher"]``, which
    always runs exactly this code. Symlinks are kept, not resolved, so a pipx
    upgrade that replaces the target keeps working.

    On Windows the result is then swapped for its windowless twin
    (:func:`windowless`): the task must never start a console program.
    """
    found = _console_program(argv0=argv0, executable=executable, platform=platform, which=which)
    return windowless(found, executable) if platform == "win32" else found


def windowless(prog: list[str], executable: str) -> list[str]:
    """The no-console way to start ``prog`` on Windows.

    ``secop-watcher-service.exe`` beside the console ``.exe`` (pipx copies both to its
    bin folder) or beside the interpreter (the venv's ``Scripts``); else
    ``pythonw.exe -m watcher.install.windowed`` beside the interpreter. Only when no
    ``pythonw.exe`` exists either is ``prog`` kept (a console window, but it runs).
    """
    folders = [Path(prog[0]).parent] if len(prog) == 1 else []
    folders.append(Path(executable).parent)
    for folder in folders:
        if (folder / WINDOWED_EXE).is_file():
            return [str((folder / WINDOWED_EXE).absolute())]
    pythonw = Path(executable).with_name("pythonw.exe")
    if pythonw.is_file():
        return [str(pythonw.absolute()), "-m", WINDOWED_MODULE]
    return prog


def _console_program(
    *, argv0: str | None, executable: str, platform: str, which: Which
) -> list[str]:
    if argv0 and Path(argv0).name.lower() in SCRIPT_NAMES:
        found = argv0 if _has_dir(argv0) else which(argv0)
        if found:
            script = _windows_exe(Path(found).absolute(), platform)
            if script.is_file():
                return [str(script)]
    bindir = Path(executable).parent
    for name in SCRIPT_NAMES:
        script = bindir / name
        if script.is_file() and (platform == "win32") == name.endswith(".exe"):
            return [str(script.absolute())]
    return [str(Path(executable).absolute()), "-m", "watcher"]


def _has_dir(argv0: str) -> bool:
    return "/" in argv0 or "\\" in argv0


def _windows_exe(script: Path, platform: str) -> Path:
    # Windows console-script launchers sometimes report argv[0] without ".exe".
    if platform == "win32" and not script.suffix and script.with_suffix(".exe").is_file():
        return script.with_suffix(".exe")
    return script


def config_argument(explicit: str | None, environ: Mapping[str, str]) -> Path | None:
    """The config file the service must be told about, as an absolute path, or ``None``.

    ``--config`` and ``SECOP_WATCHER_CONFIG`` are passed on, and so is a config
    folder moved with ``SECOP_WATCHER_CONFIG_DIR``: the service does not inherit
    the installing shell's environment.
    """
    if explicit:
        return Path(explicit).expanduser().absolute()
    for var in ("SECOP_WATCHER_CONFIG", "SECOP_WATCHER_CONFIG_DIR"):
        if environ.get(var):
            return paths.config_file(explicit).absolute()
    return None


def service_argv(prog: Sequence[str], config: Path | None, lang: str | None = None) -> list[str]:
    """``prog [--config PATH] [--lang xx] run``: what the service manager starts.

    The language is fixed at install time: launchd and Task Scheduler usually
    start programs without ``LANG``, and the notifications must stay in Spanish.
    """
    argv = list(prog)
    if config is not None:
        argv += ["--config", str(config)]
    if lang is not None:
        argv += ["--lang", lang]
    return [*argv, "run"]


# --- where it goes --------------------------------------------------------------


def service_file(platform: str, environ: Mapping[str, str], home: Path) -> Path:
    """Where ``service install`` writes the unit, agent or task file."""
    if platform == "linux":
        override = environ.get(SYSTEMD_DIR_ENV)
        if override:
            return Path(override) / UNIT_NAME
        xdg = environ.get("XDG_CONFIG_HOME")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".config"
        return base / "systemd" / "user" / UNIT_NAME
    if platform == "darwin":
        override = environ.get(LAUNCHD_DIR_ENV)
        folder = Path(override) if override else home / "Library" / "LaunchAgents"
        return folder / f"{LAUNCHD_LABEL}.plist"
    if platform == "win32":
        return paths.config_dir() / TASK_FILE
    raise UnsupportedPlatform(platform=platform)


# --- rendering ------------------------------------------------------------------


def template_text(platform: str) -> str:
    """The template for ``platform``, from ``config/`` (source tree or installed data)."""
    name = TEMPLATES[platform]
    here = Path(__file__).resolve().parent
    for folder in (
        here.parent.parent / "config",  # source checkout, editable install (watcher/install/)
        Path(sys.prefix) / "share" / NAME,  # data files of a wheel install
    ):
        candidate = folder / name
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise FileNotFoundError(f"service template {name} not found beside {here}")


def escape(value: str) -> str:
    """XML text escaping (``&``, ``<``, ``>``), as ``xml.sax.saxutils.escape`` does,
    without importing ``urllib.request`` at start-up."""
    return _html_escape(value, quote=False)


def render(
    platform: str,
    argv: Sequence[str],
    *,
    log_dir: Path,
    user_id: str = "",
    template: str | None = None,
) -> str:
    """The service file's text for ``platform`` running ``argv``."""
    text = Template(template if template is not None else template_text(platform))
    if platform == "linux":
        return text.substitute(exec_start=systemd_command_line(argv))
    for value in (*argv, str(log_dir), user_id):
        _check_xml(value)
    if platform == "darwin":
        items = "\n".join(f"    <string>{escape(a)}</string>" for a in argv)
        return text.substitute(
            label=LAUNCHD_LABEL,
            program_arguments=items,
            stdout_path=escape(str(log_dir / "service.out.log")),
            stderr_path=escape(str(log_dir / "service.err.log")),
        )
    if platform == "win32":
        return text.substitute(
            user_id=escape(user_id),
            command=escape(argv[0]),
            arguments=escape(subprocess.list2cmdline(argv[1:])),
        )
    raise UnsupportedPlatform(platform=platform)


# Outside quotes systemd splits on whitespace and treats quotes, backslashes and ";"
# specially; anything beyond this safe set gets quoted.
_SYSTEMD_SAFE = re.compile(r"[\w@%+=:,./$-]+")
_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def systemd_quote(arg: str, *, program: bool = False) -> str:
    """One argument for ``ExecStart=``, written so systemd reads back exactly ``arg``.

    ``%`` (specifiers) becomes ``%%`` everywhere and ``$`` (variable expansion)
    becomes ``$$`` in the arguments, not in the program path, which systemd does
    not expand (``systemd-analyze verify`` confirms both). Words with spaces,
    quotes, backslashes or other non-word characters are double-quoted with
    C-style escapes, as systemd.syntax(7) describes. Non-ASCII letters are
    written as they are (unit files are UTF-8).
    """
    text = arg.replace("%", "%%")
    if not program:
        text = text.replace("$", "$$")
    if text and _SYSTEMD_SAFE.fullmatch(text) and text != ";":
        return text
    out = []
    for ch in text:
        if ch in _C_ESCAPES:
            out.append(_C_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def systemd_command_line(argv: Sequence[str]) -> str:
    return " ".join(systemd_quote(a, program=i == 0) for i, a in enumerate(argv))


def _check_xml(value: str) -> None:
    # XML 1.0 cannot carry most control characters, not even escaped.
    if any((ord(c) < 0x20 and c not in "\t\n\r") or 0xFFFE <= ord(c) <= 0xFFFF for c in value):
        raise UnrepresentableValue(value=value.encode("unicode_escape").decode("ascii"))


def encode(platform: str, text: str) -> bytes:
    """Bytes to write: ``schtasks /Create /XML`` reads UTF-16 LE with a BOM (what the
    template declares, what Task Scheduler's own export writes), CRLF lines; the rest UTF-8.
    Little-endian whatever this machine's byte order (``"utf-16"`` alone would follow it)."""
    if platform == "win32":
        crlf = text.replace("\r\n", "\n").replace("\n", "\r\n")
        return b"\xff\xfe" + crlf.encode("utf-16-le")
    return text.encode("utf-8")


# --- status -----------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceChange:
    """What ``service install`` / ``uninstall`` did; :mod:`watcher.render` words it.

    ``action`` is one of ``installed`` (written and started), ``installed_inactive``
    (written, but the service manager could not activate it), ``uninstalled``,
    ``uninstalled_note`` (removed, but stopping it failed) and ``not_installed``.
    ``reason`` is an i18n key and its parameters; ``command`` what to run by hand.
    """

    action: str
    path: str
    reason: tuple[str, dict[str, Any]] | None = None
    command: str | None = None
    # Said after the change: e.g. the password would come from a variable the service
    # cannot see (i18n keys and their parameters).
    warnings: tuple[tuple[str, dict[str, Any]], ...] = ()


@dataclass(frozen=True)
class AccountStatus:
    """The last checks of one account of a service that watches several."""

    name: str
    last_success: datetime | None
    last_error_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class ServiceStatus:
    """What ``service status`` found; :mod:`watcher.render` turns it into text or JSON."""

    platform: str  # linux | darwin | win32
    installed: bool
    path: str  # the service file (whether or not it exists)
    running: str  # "active" | "inactive" | "unknown" (service manager not usable)
    manager_state: str | None  # the manager's own word ("failed", "activating", ...)
    last_success: datetime | None
    last_error_at: datetime | None
    last_error: str | None  # message (or key) of the last failed check
    checked_at: datetime
    accounts: tuple[AccountStatus, ...] = ()  # [accounts.NAME]: each one's own state file
    last_result: int | None = None  # Windows: the task's last run result (0x41301 = running)

    @property
    def ok(self) -> bool:
        return self.installed and self.running == "active"


# Task Scheduler's result codes (winerror.h): what "Last Result" says while it runs / before.
SCHED_S_TASK_RUNNING = 0x41301
SCHED_S_TASK_HAS_NOT_RUN = 0x41303
# schtasks /Query /V /FO CSV /NH columns, by position: the header names (and the Status
# words) are translated ("Estado", "En ejecución", "Listo" on Spanish Windows), the
# positions are not. /XML is not an option: it prints the definition, not the state.
CSV_STATUS, CSV_LAST_RESULT = 3, 6
RUNNING_WORDS = ("running", "en ejecuci")  # English, Spanish (a prefix: code-page safe)


@dataclass(frozen=True)
class TaskState:
    running: bool = False
    word: str | None = None  # the Status column as schtasks printed it (localized)
    last_result: int | None = None
    missing: bool = False  # schtasks itself could not be run


def parse_schtasks_csv(out: str) -> TaskState | None:
    """The first row of ``schtasks /Query /TN NAME /V /FO CSV /NH`` (one row per trigger).

    Running is decided by the numeric Last Result (SCHED_S_TASK_RUNNING), which no
    translation or code page can garble, or else by the Status word in English or Spanish.
    """
    for row in csv.reader(io.StringIO(out)):
        if len(row) <= CSV_LAST_RESULT:
            continue
        word = row[CSV_STATUS].strip() or None
        code = _result_code(row[CSV_LAST_RESULT])
        by_word = word is not None and word.casefold().startswith(RUNNING_WORDS)
        return TaskState(code == SCHED_S_TASK_RUNNING or by_word, word, code)
    return None


def _result_code(text: str) -> int | None:
    text = text.strip()
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None
    return value & 0xFFFFFFFF  # printed signed (-2147024894) or not: the HRESULT's bits


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def user_id(environ: Mapping[str, str]) -> str:
    """``DOMAIN\\user`` for the Windows task (falls back to the login name)."""
    user = environ.get("USERNAME") or environ.get("USER", "")
    domain = environ.get("USERDOMAIN")
    return f"{domain}\\{user}" if domain and user else user
