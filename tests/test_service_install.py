"""``secop-watcher service install|uninstall|status`` and the files it writes.

- Linux runs for real: the installed console script as a subprocess, the real
  ``systemctl --user`` (unusable in containers: no session bus, so the
  documented fallback is asserted) and the real ``systemd-analyze verify``.
- macOS and Windows files are rendered here and parsed with ``plistlib`` and
  ``xml.etree``; their ``launchctl``/``schtasks`` calls are checked by recording
  the argv given to a mocked ``subprocess.run`` (in those tests only).
"""

from __future__ import annotations

import argparse
import configparser
import json
import logging
import os
import plistlib
import re
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests import cliutil
from tests.conftest import in_ci
from watcher import cli, i18n
from watcher.exitcodes import ExitCode
from watcher.install import control as service
from watcher.install import files as sf
from watcher.install import render as servicerender
from watcher.install import windowed
from watcher.state import StateStore, state_file

TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
ODD_DIR = "José Pérez/Mis documentos & <cosas> 100% $HOME"
CONFIG_TEXT = '[imap]\nhost = "imap.example.org"\nusername = "jperez@example.org"\n'


@pytest.fixture(autouse=True)
def service_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Service files go under tmp, and no test can reach a real user service manager."""
    systemd = tmp_path / "José Pérez" / "systemd user"
    monkeypatch.setenv(sf.SYSTEMD_DIR_ENV, str(systemd))
    monkeypatch.setenv(sf.LAUNCHD_DIR_ENV, str(tmp_path / "LaunchAgents"))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    yield systemd


def write_config(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG_TEXT, encoding="utf-8")
    return path


def fake_script(folder: Path, name: str = "secop-watcher") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    script.chmod(0o755)
    return script


# --- parsers for what the service managers read back ------------------------------


def systemd_split(line: str) -> list[str]:
    """Split an ``ExecStart=`` value as systemd does (systemd.syntax(7), systemd.service(5))."""
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", " ": " "}
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        word, quote = [], None
        if line[i] in "\"'":
            quote = line[i]
            i += 1
        while i < n:
            c = line[i]
            if quote and c == quote:
                i += 1
                break
            if not quote and c in " \t":
                break
            if c == "\\":
                nxt = line[i + 1]
                if nxt == "x":
                    word.append(chr(int(line[i + 2 : i + 4], 16)))
                    i += 4
                    continue
                word.append(escapes[nxt])
                i += 2
                continue
            if c == "%" or (c == "$" and words):  # no $ expansion in the program path
                assert line[i + 1] == c, f"unescaped {c} in {line!r}"
                word.append(c)
                i += 2
                continue
            word.append(c)
            i += 1
        words.append("".join(word))
    return words


def windows_split(cmdline: str) -> list[str]:
    """CommandLineToArgvW's rules (what the program's C runtime does with Arguments)."""
    args: list[str] = []
    word: list[str] = []
    in_quotes = have_word = False
    i = 0
    while i < len(cmdline):
        c = cmdline[i]
        if c == "\\":
            j = i
            while j < len(cmdline) and cmdline[j] == "\\":
                j += 1
            count = j - i
            if j < len(cmdline) and cmdline[j] == '"':
                word.append("\\" * (count // 2))
                if count % 2:
                    word.append('"')
                    j += 1
                i = j
            else:
                word.append("\\" * count)
                i = j
            have_word = True
            continue
        if c == '"':
            in_quotes = not in_quotes
            have_word = True
        elif c in " \t" and not in_quotes:
            if have_word:
                args.append("".join(word))
                word, have_word = [], False
        else:
            word.append(c)
            have_word = True
        i += 1
    if have_word:
        args.append("".join(word))
    return args


def read_unit(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def systemd_verify(unit: Path, runtime_dir: Path) -> None:
    """``systemd-analyze --user verify`` on the written unit, when the binary exists.

    It checks the syntax and that ExecStart's program exists and is executable
    (so a mis-quoted path with spaces fails). Missing binary: skipped locally;
    with CI=true this one assertion is allowed to be skipped (systemd is not in
    every CI image) — everything else in the test still runs.
    """
    binary = shutil.which("systemd-analyze")
    if binary is None:
        if not in_ci():
            pytest.skip("systemd-analyze not installed (apt-get install systemd)")
        return
    done = subprocess.run(
        [binary, "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert unit.name not in done.stderr, done.stderr


# --- pure rendering: all three platforms --------------------------------------------


ODD_ARGS = [
    "plain",
    "with space",
    "José Pérez",
    "100%",
    "$HOME",
    'say "hi"',
    "back\\slash",
    "it's",
    ";",
    "",
    "tab\there",
    "new\nline",
    "a&b<c>",
]


@pytest.mark.parametrize("arg", ODD_ARGS)
def test_systemd_quote_round_trips(arg: str) -> None:
    line = sf.systemd_command_line(["/usr/bin/secop-watcher", arg, "run"])
    assert systemd_split(line) == ["/usr/bin/secop-watcher", arg, "run"]
    program = f"/opt/{arg}/secop-watcher"
    assert systemd_split(sf.systemd_command_line([program, "run"])) == [program, "run"]


def test_linux_unit_renders(tmp_path: Path) -> None:
    script = fake_script(tmp_path / ODD_DIR / "bin")
    config = tmp_path / ODD_DIR / "config.toml"
    argv = sf.service_argv([str(script)], config, "es")
    text = sf.render("linux", argv, log_dir=tmp_path)
    unit = read_unit(text)
    assert systemd_split(unit["Service"]["ExecStart"]) == [
        str(script),
        "--config",
        str(config),
        "--lang",
        "es",  # fixed at install time: the service gets no LANG from the login session
        "run",
    ]
    assert unit["Service"]["Restart"] == "on-failure"
    assert unit["Service"]["RestartSec"] == "30"
    assert unit["Unit"]["After"] == "network-online.target"
    assert unit["Unit"]["Wants"] == "network-online.target"
    assert unit["Unit"]["Description"]
    assert unit["Install"]["WantedBy"] == "default.target"
    path = tmp_path / "secop-watcher.service"
    path.write_text(text, encoding="utf-8")
    systemd_verify(path, Path(os.environ["XDG_RUNTIME_DIR"]))


def test_systemd_verify_catches_a_wrong_program(tmp_path: Path) -> None:
    """The verify helper really checks ExecStart's program (so the test above means it)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    path = tmp_path / "secop-watcher.service"
    argv = [str(tmp_path / ODD_DIR / "missing" / "secop-watcher"), "run"]
    path.write_text(sf.render("linux", argv, log_dir=tmp_path), encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert str(tmp_path / ODD_DIR / "missing" / "secop-watcher") in done.stderr


def test_launchd_plist_renders(tmp_path: Path) -> None:
    argv = [str(tmp_path / ODD_DIR / "bin" / "secop-watcher"), "--config", ODD_DIR, "run"]
    log_dir = tmp_path / ODD_DIR / "logs"
    data = plistlib.loads(sf.encode("darwin", sf.render("darwin", argv, log_dir=log_dir)))
    assert data["Label"] == "co.secop-watcher"
    assert data["ProgramArguments"] == argv
    assert data["RunAtLoad"] is True
    assert data["KeepAlive"] == {"SuccessfulExit": False}
    assert Path(data["StandardOutPath"]).parent == log_dir
    assert Path(data["StandardErrorPath"]).parent == log_dir


def parse_task(raw: bytes) -> ET.Element:
    assert raw.startswith(b"\xff\xfe"), "Task Scheduler XML must be UTF-16 with a BOM"
    return ET.fromstring(raw)  # noqa: S314 (our own output, not untrusted input)


# What Microsoft's Task Scheduler schema documents (learn.microsoft.com, "Task Scheduler
# Schema Elements"; MS-TSCH 2.5): the full XSD is not published as a file, so its rules
# that this task touches are checked here, with the limits quoted from the docs.
TASK_CHILDREN = {"RegistrationInfo", "Triggers", "Settings", "Data", "Principals", "Actions"}
TRIGGER_BASE = ["Enabled", "StartBoundary", "EndBoundary", "Repetition", "ExecutionTimeLimit"]
SETTINGS_CHILDREN = {  # settingsType is an xs:all: any order, each at most once
    "AllowStartOnDemand", "RestartOnFailure", "MultipleInstancesPolicy",
    "DisallowStartIfOnBatteries", "StopIfGoingOnBatteries", "AllowHardTerminate",
    "StartWhenAvailable", "NetworkProfileName", "RunOnlyIfNetworkAvailable", "WakeToRun",
    "Enabled", "Hidden", "DeleteExpiredTaskAfter", "IdleSettings", "NetworkSettings",
    "ExecutionTimeLimit", "Priority", "RunOnlyIfIdle", "UseUnifiedSchedulingEngine",
    "DisallowStartOnRemoteAppSession", "MaintenanceSettings", "Volatile",
}  # fmt: skip
DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def seconds(duration: str) -> int:
    """An xs:duration as Task Scheduler writes them (days, hours, minutes, seconds)."""
    match = DURATION.fullmatch(duration)
    assert match and duration not in ("P", "PT"), duration
    d, h, m, s = (int(x or 0) for x in match.groups())
    return ((d * 24 + h) * 60 + m) * 60 + s


def local(element: ET.Element) -> list[str]:
    return [child.tag.removeprefix(f"{{{TASK_NS['t']}}}") for child in element]


def check_task_schema(root: ET.Element) -> None:
    """The schema's rules for the parts of the task this program writes."""
    assert root.tag == f"{{{TASK_NS['t']}}}Task"
    assert root.get("version") == "1.2"  # Vista and later; every element used is 1.2
    names = local(root)
    assert set(names) <= TASK_CHILDREN and len(names) == len(set(names)), names
    assert "Actions" in names  # the only required part
    triggers = root.find("t:Triggers", TASK_NS)
    assert triggers is not None
    for trigger in triggers:
        kind = local(triggers)[list(triggers).index(trigger)]
        extra = {"LogonTrigger": ["UserId"], "TimeTrigger": ["RandomDelay"]}[kind]
        order = TRIGGER_BASE + extra  # triggerBaseType is an xs:sequence, then the type's own
        got = local(trigger)
        assert got == sorted(got, key=order.index), f"{kind}: {got} out of schema order"
        if kind == "TimeTrigger":
            assert trigger.findtext("t:StartBoundary", namespaces=TASK_NS)  # required there
        repetition = trigger.find("t:Repetition", TASK_NS)
        if repetition is not None:  # repetitionType: Interval PT1M..P31D, Duration >= PT1M
            interval = seconds(repetition.findtext("t:Interval", "", TASK_NS))
            assert 60 <= interval <= 31 * 86400
            duration = repetition.findtext("t:Duration", namespaces=TASK_NS)
            assert duration is None or seconds(duration) >= 60
    settings = root.find("t:Settings", TASK_NS)
    assert settings is not None
    names = local(settings)
    assert set(names) <= SETTINGS_CHILDREN and len(names) == len(set(names)), names
    policy = settings.findtext("t:MultipleInstancesPolicy", namespaces=TASK_NS)
    assert policy in ("Parallel", "Queue", "IgnoreNew", "StopExisting")
    assert 0 <= int(settings.findtext("t:Priority", "7", TASK_NS)) <= 10
    restart = settings.find("t:RestartOnFailure", TASK_NS)
    if restart is not None:  # restartType: both children; Count is an unsignedByte >= 1
        assert 60 <= seconds(restart.findtext("t:Interval", "", TASK_NS)) <= 31 * 86400
        assert 1 <= int(restart.findtext("t:Count", "0", TASK_NS)) <= 255
    exec_ = root.find("t:Actions/t:Exec", TASK_NS)
    assert exec_ is not None and local(exec_)[0] == "Command"  # execType: a sequence
    principal = root.find("t:Principals/t:Principal", TASK_NS)
    assert principal is not None
    assert principal.findtext("t:LogonType", namespaces=TASK_NS) == "InteractiveToken"


def test_windows_task_renders(tmp_path: Path) -> None:
    scripts = "C:\\Users\\José Pérez\\pipx\\venvs\\secop-watcher\\Scripts\\"
    program = scripts + "secop-watcher-service.exe"
    config = 'C:\\Users\\José Pérez\\Mis documentos & <cosas>\\"x"\\config.toml'
    argv = [program, "--config", config, "run"]
    text = sf.render("win32", argv, log_dir=tmp_path, user_id="OFICINA\\José Pérez")
    raw = sf.encode("win32", text)
    assert raw.startswith(b"\xff\xfe<\x00?\x00x\x00m\x00l\x00")  # UTF-16 LE, BOM, then <?xml
    assert (
        raw.decode("utf-16-le")
        .lstrip("\ufeff")
        .startswith('<?xml version="1.0" encoding="UTF-16"?>\r\n')
    )
    root = parse_task(raw)
    check_task_schema(root)
    assert root.findtext("t:Actions/t:Exec/t:Command", namespaces=TASK_NS) == program
    arguments = root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=TASK_NS)
    assert arguments is not None
    assert windows_split(arguments) == ["--config", config, "run"]
    trigger = root.find("t:Triggers/t:LogonTrigger", TASK_NS)
    assert trigger is not None
    assert trigger.findtext("t:UserId", namespaces=TASK_NS) == "OFICINA\\José Pérez"
    # Restarted after a crash: a trigger repeating every 5 minutes, forever (no Duration),
    # that a running instance ignores. RestartOnFailure alone covers failures to start.
    again = root.find("t:Triggers/t:TimeTrigger", TASK_NS)
    assert again is not None
    assert again.findtext("t:Repetition/t:Interval", namespaces=TASK_NS) == "PT5M"
    assert again.find("t:Repetition/t:Duration", TASK_NS) is None
    assert again.findtext("t:Repetition/t:StopAtDurationEnd", namespaces=TASK_NS) == "false"
    settings = root.find("t:Settings", TASK_NS)
    assert settings is not None
    assert settings.findtext("t:MultipleInstancesPolicy", namespaces=TASK_NS) == "IgnoreNew"
    assert settings.findtext("t:ExecutionTimeLimit", namespaces=TASK_NS) == "PT0S"
    assert settings.findtext("t:DisallowStartIfOnBatteries", namespaces=TASK_NS) == "false"


def test_schema_check_catches_what_schtasks_refuses(tmp_path: Path) -> None:
    """The checks above mean something: the old template's Count 999 is refused."""
    text = sf.render("win32", ["C:\\x\\secop-watcher-service.exe", "run"], log_dir=tmp_path)
    bad = text.replace("<Count>255</Count>", "<Count>999</Count>")
    with pytest.raises(AssertionError):
        check_task_schema(parse_task(sf.encode("win32", bad)))
    logon = "<Enabled>true</Enabled>\n      <UserId>"
    swapped = text.replace(logon, "<UserId>x</UserId>" + logon, 1)  # out of sequence order
    with pytest.raises(AssertionError):
        check_task_schema(parse_task(sf.encode("win32", swapped)))


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_control_characters_are_refused_in_xml(platform: str, tmp_path: Path) -> None:
    with pytest.raises(sf.UnrepresentableValue):
        sf.render(platform, ["/bin/secop-watcher", "bad\x01path", "run"], log_dir=tmp_path)


# --- which program, which config ------------------------------------------------------


def test_program_is_the_console_script_we_run_as(tmp_path: Path) -> None:
    script = fake_script(tmp_path / ODD_DIR / "bin")
    got = sf.program(
        argv0=str(script), executable=sys.executable, platform="linux", which=lambda _: None
    )
    assert got == [str(script)]


def test_program_bare_name_is_looked_up_on_path(tmp_path: Path) -> None:
    script = fake_script(tmp_path / "bin")
    got = sf.program(
        argv0="secop-watcher",
        executable=sys.executable,
        platform="linux",
        which=lambda name: str(script) if name == "secop-watcher" else None,
    )
    assert got == [str(script)]


def test_program_next_to_the_interpreter(tmp_path: Path) -> None:
    bindir = tmp_path / "venv" / "bin"
    script = fake_script(bindir)
    python = bindir / "python"
    got = sf.program(
        argv0="/x/watcher/__main__.py", executable=str(python), platform="linux", which=shutil.which
    )
    assert got == [str(script)]


def test_program_windows_exe(tmp_path: Path) -> None:
    scripts = tmp_path / "Scripts"
    exe = fake_script(scripts, "secop-watcher.exe")
    got = sf.program(
        argv0=str(scripts / "secop-watcher"),
        executable=str(scripts / "python.exe"),
        platform="win32",
        which=lambda _: None,
    )
    assert got == [str(exe)]


def test_program_windows_is_the_windowless_launcher(tmp_path: Path) -> None:
    """pipx on Windows copies both launchers to its bin folder; the task gets the
    windowed one (no console window at logon, nothing to close by mistake)."""
    scripts = tmp_path / "pipx" / "venvs" / "secop-watcher" / "Scripts"
    python = fake_script(scripts, "python.exe")
    fake_script(scripts, "secop-watcher.exe")
    fake_script(scripts, sf.WINDOWED_EXE)
    bindir = tmp_path / ODD_DIR / ".local" / "bin"
    console = fake_script(bindir, "secop-watcher.exe")
    windowed = fake_script(bindir, sf.WINDOWED_EXE)
    got = sf.program(
        argv0=str(console), executable=str(python), platform="win32", which=lambda _: None
    )
    assert got == [str(windowed)]
    # Started some other way (python -m watcher): the one in the venv's Scripts.
    got = sf.program(argv0="-m", executable=str(python), platform="win32", which=lambda _: None)
    assert got == [str(scripts / sf.WINDOWED_EXE)]


def test_program_windows_falls_back_to_pythonw(tmp_path: Path) -> None:
    """No gui-script launcher (an old install): pythonw.exe, never the console python."""
    scripts = tmp_path / "Scripts"
    python = fake_script(scripts, "python.exe")
    pythonw = fake_script(scripts, "pythonw.exe")
    console = fake_script(scripts, "secop-watcher.exe")
    got = sf.program(
        argv0=str(console), executable=str(python), platform="win32", which=lambda _: None
    )
    assert got == [str(pythonw), "-m", "watcher.install.windowed"]


def test_program_falls_back_to_python_m_watcher(tmp_path: Path) -> None:
    python = tmp_path / "py" / "python3"
    got = sf.program(
        argv0="/src/watcher/__main__.py", executable=str(python), platform="linux", which=str
    )
    assert got == [str(python), "-m", "watcher"]


def test_config_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert sf.config_argument("rel dir/c.toml", {}) == tmp_path / "rel dir" / "c.toml"
    env = {"SECOP_WATCHER_CONFIG": str(tmp_path / "e.toml")}
    monkeypatch.setenv("SECOP_WATCHER_CONFIG", str(tmp_path / "e.toml"))
    assert sf.config_argument(None, env) == tmp_path / "e.toml"
    monkeypatch.delenv("SECOP_WATCHER_CONFIG")
    # The isolated config dir (SECOP_WATCHER_CONFIG_DIR) is passed on as well.
    got = sf.config_argument(
        None, {"SECOP_WATCHER_CONFIG_DIR": os.environ["SECOP_WATCHER_CONFIG_DIR"]}
    )
    assert got == Path(os.environ["SECOP_WATCHER_CONFIG_DIR"]) / "config.toml"
    assert sf.config_argument(None, {}) is None


def test_service_file_locations(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert sf.service_file("linux", {}, home) == (
        home / ".config/systemd/user/secop-watcher.service"
    )
    xdg = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert (
        sf.service_file("linux", xdg, home) == tmp_path / "xdg/systemd/user/secop-watcher.service"
    )
    assert sf.service_file("darwin", {}, home) == (
        home / "Library/LaunchAgents/co.secop-watcher.plist"
    )
    assert sf.service_file("win32", {}, home) == (
        Path(os.environ["SECOP_WATCHER_CONFIG_DIR"]) / "secop-watcher-task.xml"
    )
    with pytest.raises(sf.UnsupportedPlatform):
        sf.platform_of("freebsd14")


# --- macOS and Windows: the command with subprocess.run mocked -------------------------


Recorder = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[list[str]], dict[str, Any]]]:
    """Replace subprocess.run for the command module; record every argv."""
    calls: list[list[str]] = []
    behaviour: dict[str, Any] = {"rc": 0, "stdout": "", "missing": False}

    def fake_run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert isinstance(argv, list), "always an argv list, never a shell string"
        assert not kwargs.get("shell")
        calls.append(list(argv))
        if behaviour["missing"]:
            raise FileNotFoundError(argv[0])
        return subprocess.CompletedProcess(argv, behaviour["rc"], behaviour["stdout"], "boom")

    monkeypatch.setattr(subprocess, "run", fake_run)  # what service.call uses
    yield calls, behaviour


def host_for(
    platform: str, tmp_path: Path, run: service.Runner | None = None, grace: float = 5.0
) -> service.Host:
    script = fake_script(
        tmp_path / ODD_DIR / "bin", "secop-watcher.exe" if platform == "win32" else "secop-watcher"
    )
    if platform == "win32":  # what pip makes for [project.gui-scripts]
        fake_script(tmp_path / ODD_DIR / "bin", sf.WINDOWED_EXE)
    return service.Host(
        run=run,
        stop_grace=grace,
        platform=platform,
        environ={**os.environ, "USERDOMAIN": "OFICINA", "USERNAME": "jperez"},
        home=tmp_path / "home",
        uid=501,
        argv0=str(script),
        executable=sys.executable,
    )


def args_for(*argv: str) -> argparse.Namespace:
    args = cli.build_parser().parse_args(list(argv))
    args.lang = "en"
    return args


def config_path() -> Path:
    return Path(os.environ["SECOP_WATCHER_CONFIG_DIR"]) / "config.toml"


def test_macos_install_and_uninstall(
    tmp_path: Path, recorded: tuple[list[list[str]], dict[str, Any]]
) -> None:
    calls, _ = recorded
    write_config(config_path())
    host = host_for("darwin", tmp_path)
    outcome = service.run(args_for("service", "install"), host)
    plist = tmp_path / "LaunchAgents" / "co.secop-watcher.plist"
    assert outcome.exit_code == ExitCode.FOUND
    assert isinstance(outcome.data, sf.ServiceChange)
    assert outcome.data.action == "installed"
    assert calls == [
        ["launchctl", "bootout", "gui/501/co.secop-watcher"],
        ["launchctl", "bootstrap", "gui/501", str(plist)],
    ]
    data = plistlib.loads(plist.read_bytes())
    assert data["ProgramArguments"] == [
        host.argv0,
        "--config",
        str(config_path()),
        "--lang",
        "en",
        "run",
    ]

    calls.clear()
    first = service.run(args_for("service", "uninstall"), host)
    assert calls == [["launchctl", "bootout", "gui/501/co.secop-watcher"]]
    assert first.exit_code == ExitCode.FOUND
    assert first.data.action == "uninstalled"
    assert not plist.exists()
    second = service.run(args_for("service", "uninstall"), host)
    assert second.exit_code == ExitCode.FOUND
    assert second.data.action == "not_installed"


def test_macos_status(tmp_path: Path, recorded: tuple[list[list[str]], dict[str, Any]]) -> None:
    calls, behaviour = recorded
    write_config(config_path())
    host = host_for("darwin", tmp_path)
    service.run(args_for("service", "install"), host)
    behaviour["stdout"] = "gui/501/co.secop-watcher = {\n\tactive count = 1\n\tstate = running\n}\n"
    calls.clear()
    outcome = service.run(args_for("service", "status"), host)
    assert calls == [["launchctl", "print", "gui/501/co.secop-watcher"]]
    assert outcome.exit_code == ExitCode.FOUND
    assert outcome.data.installed and outcome.data.running == "active"
    behaviour["rc"], behaviour["stdout"] = 113, ""
    outcome = service.run(args_for("service", "status"), host)
    assert outcome.exit_code == ExitCode.NOT_FOUND
    assert outcome.data.running == "inactive"


# schtasks /Query /TN secop-watcher /V /FO CSV /NH, as English and Spanish Windows 10/11
# print it (one row per trigger; 28 columns; Status 4th, Last Result 7th).
CSV_TAIL = '"N/A","N/A","{enabled}","Disabled","","OFICINA\\jperez","Disabled","72:00:00",' + (
    '"{schedule}","{schedule}","N/A","N/A","N/A","N/A","N/A","Disabled","Disabled","Disabled",'
    '"Disabled"'
)
QUERY_EN = (
    '"OFICINA-PC","\\secop-watcher","{next}","{status}","Interactive only",'
    '"12/1/2026 9:00:02 AM","{result}","OFICINA\\jperez","C:\\Users\\jperez\\.local\\bin\\'
    'secop-watcher-service.exe --lang es run",' + CSV_TAIL
)
QUERY_ES = (
    '"OFICINA-PC","\\secop-watcher","{next}","{status}","Solo interactivo",'
    '"1/12/2026 9:00:02","{result}","OFICINA\\jperez","C:\\Users\\jperez\\.local\\bin\\'
    'secop-watcher-service.exe --lang es run",' + CSV_TAIL
)


def query_output(template: str, status: str, result: str, enabled: str = "Enabled") -> str:
    rows = [
        template.format(next=nxt, status=status, result=result, enabled=enabled, schedule=schedule)
        for nxt, schedule in (("N/A", "At logon time"), ("12/1/2026 9:05:00 AM", "One Time Only"))
    ]
    return "\r\n" + "\r\n".join(rows) + "\r\n"


class FakeSchtasks:
    """Windows' schtasks.exe as ``Host.run``: keeps the task's state, records every argv.

    The service it "runs" honours the stop request of :func:`service._stop_windows_task`
    as the real one does (:func:`windowed.watch_stop_requests`), unless ``deaf``.
    """

    def __init__(self, template: str = QUERY_EN) -> None:
        self.calls: list[list[str]] = []
        self.registered = self.running = self.deaf = False
        self.template = template
        self.saw_request = False

    def __call__(self, argv: Sequence[str]) -> service.Called:
        argv = list(argv)
        assert argv[0] == "schtasks" and argv[2:4] == ["/TN", "secop-watcher"], argv
        self.calls.append(argv)
        verb = argv[1]
        if verb == "/Create":
            self.registered = True
        elif not self.registered:
            return service.Called(False, "", ("service.failed", {"command": "schtasks"}))
        elif verb == "/Run":
            self.running = True
        elif verb == "/End":
            self.running = False
        elif verb == "/Delete":
            self.registered = False
        elif verb == "/Query":
            request = windowed.stop_request_file()
            if self.running and request.exists():
                self.saw_request = True
                if not self.deaf:  # the service's watcher thread: stop cleanly
                    request.unlink()
                    self.running = False
            status, result = ("Running", "267009") if self.running else ("Ready", "0")
            return service.Called(True, query_output(self.template, status, result))
        return service.Called(True, "SUCCESS: done.\r\n")


QUERY = ["schtasks", "/Query", "/TN", "secop-watcher", "/V", "/FO", "CSV", "/NH"]
END = ["schtasks", "/End", "/TN", "secop-watcher"]


def test_windows_install_and_uninstall(tmp_path: Path) -> None:
    fake = FakeSchtasks()
    write_config(config_path())
    host = host_for("win32", tmp_path, fake)
    outcome = service.run(args_for("service", "install"), host)
    xml_file = Path(os.environ["SECOP_WATCHER_CONFIG_DIR"]) / "secop-watcher-task.xml"
    assert outcome.exit_code == ExitCode.FOUND
    assert fake.calls == [
        ["schtasks", "/Create", "/TN", "secop-watcher", "/XML", str(xml_file), "/F"],
        ["schtasks", "/Run", "/TN", "secop-watcher"],
    ]
    root = parse_task(xml_file.read_bytes())
    check_task_schema(root)
    command = root.findtext("t:Actions/t:Exec/t:Command", namespaces=TASK_NS) or ""
    assert command == str(Path(host.argv0 or "").with_name("secop-watcher-service.exe"))
    assert Path(command).name.lower() not in ("secop-watcher.exe", "python.exe")  # no console
    arguments = root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=TASK_NS) or ""
    assert windows_split(arguments) == ["--config", str(config_path()), "--lang", "en", "run"]
    assert root.findtext("t:Triggers/t:LogonTrigger/t:UserId", namespaces=TASK_NS) == (
        "OFICINA\\jperez"
    )

    # Running: asked to stop (its own stop path withdraws the notifications), then
    # /End for anything left, then /Delete. The request is not left behind.
    fake.calls.clear()
    service.run(args_for("service", "uninstall"), host)
    assert fake.saw_request
    assert fake.calls == [QUERY, QUERY, END, ["schtasks", "/Delete", "/TN", "secop-watcher", "/F"]]
    assert not windowed.stop_request_file().exists()
    assert not xml_file.exists()
    again = service.run(args_for("service", "uninstall"), host)
    assert again.exit_code == ExitCode.FOUND
    assert again.data.action == "not_installed"


def test_windows_reinstall_stops_the_old_one_cleanly(tmp_path: Path) -> None:
    fake = FakeSchtasks()
    write_config(config_path())
    host = host_for("win32", tmp_path, fake)
    service.run(args_for("service", "install"), host)
    fake.calls.clear()
    assert service.run(args_for("service", "install"), host).exit_code == ExitCode.FOUND
    assert fake.saw_request
    assert [c[1] for c in fake.calls] == ["/Query", "/Query", "/End", "/Create", "/Run"]
    assert fake.running


def test_windows_uninstall_ends_a_service_that_does_not_stop(tmp_path: Path) -> None:
    """An older version (no stop-request watcher) or a hung one: /End after the grace."""
    fake = FakeSchtasks()
    write_config(config_path())
    host = host_for("win32", tmp_path, fake, grace=0.6)
    service.run(args_for("service", "install"), host)
    fake.deaf = True
    fake.calls.clear()
    outcome = service.run(args_for("service", "uninstall"), host)
    assert outcome.data.action == "uninstalled"
    assert fake.calls[0] == QUERY and fake.calls[-2:] == [
        END,
        ["schtasks", "/Delete", "/TN", "secop-watcher", "/F"],
    ]
    assert not fake.running and not fake.registered
    assert not windowed.stop_request_file().exists()


@pytest.mark.parametrize(
    ("output", "running", "word", "result"),
    [
        (query_output(QUERY_EN, "Running", "267009"), "active", "Running", 0x41301),
        (query_output(QUERY_EN, "Ready", "0"), "inactive", "Ready", 0),
        # Ended at logoff or by /End: STATUS_CONTROL_C_EXIT, printed signed or not.
        (query_output(QUERY_EN, "Ready", "-1073741510"), "inactive", "Ready", 0xC000013A),
        (query_output(QUERY_EN, "Ready", "3221225786"), "inactive", "Ready", 0xC000013A),
        (query_output(QUERY_EN, "Disabled", "0", "Disabled"), "inactive", "Disabled", 0),
        (query_output(QUERY_EN, "Ready", "267011"), "inactive", "Ready", 0x41303),
        # Spanish Windows: other words, same positions, same numbers.
        (query_output(QUERY_ES, "En ejecución", "267009"), "active", "En ejecución", 0x41301),
        (query_output(QUERY_ES, "Listo", "1"), "inactive", "Listo", 1),
        # Decoded with the wrong code page (cp850 output read as cp1252): the number decides.
        (query_output(QUERY_ES, "En ejecuci¢n", "267009"), "active", "En ejecuci¢n", 0x41301),
    ],
)
def test_windows_status_reads_schtasks(
    tmp_path: Path, output: str, running: str, word: str, result: int
) -> None:
    calls: list[list[str]] = []

    def schtasks(argv: Sequence[str]) -> service.Called:
        calls.append(list(argv))
        return service.Called(True, output)

    outcome = service.run(args_for("service", "status"), host_for("win32", tmp_path, schtasks))
    assert calls == [QUERY]
    status = outcome.data
    assert (status.running, status.manager_state, status.last_result) == (running, word, result)
    assert outcome.exit_code == ExitCode.NOT_FOUND  # no task file written here: not installed
    text = servicerender.service_status_text(status, "en")
    assert f"({word}, 0x{result:X})" in text
    assert json.loads(servicerender.service_status_json(status))["last_result"] == result


def test_windows_status_of_an_unregistered_task(tmp_path: Path) -> None:
    write_config(config_path())
    fake = FakeSchtasks()
    host = host_for("win32", tmp_path, fake)
    assert service.run(args_for("service", "status"), host).data.running == "inactive"
    service.run(args_for("service", "install"), host)
    outcome = service.run(args_for("service", "status"), host)
    assert outcome.data.running == "active" and outcome.exit_code == ExitCode.FOUND


def test_service_watches_for_the_stop_request(tmp_path: Path) -> None:
    request = tmp_path / "state" / sf.STOP_FILE
    request.parent.mkdir()
    asked = threading.Event()
    done = threading.Event()
    thread = threading.Thread(
        target=windowed.watch_stop_requests, args=(request, asked.set, done, 0.05)
    )
    thread.start()
    try:
        assert not asked.wait(0.2)
        request.write_text("now", encoding="utf-8")
        assert asked.wait(5)
    finally:
        done.set()
        thread.join(5)
    assert not request.exists()
    assert not thread.is_alive()


def test_windowless_service_entry_logs_instead_of_crashing(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under pythonw sys.stdout and sys.stderr are None: what the service would print
    (here: no configuration yet) goes to its own log file, and nothing raises."""
    from watcher import logsetup

    monkeypatch.setattr(logsetup, "_log_file", logsetup.LOG_FILE)
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    stale = windowed.stop_request_file()
    stale.write_text("old", encoding="utf-8")
    code = windowed.service_main(["--lang", "en", "run"])
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert code == ExitCode.CONFIG
    assert not stale.exists()  # a request from before this start is not obeyed
    log_file = isolated_env / "logs" / "secop-watcher-service.log"
    assert "watcher.output.stderr: No configuration at" in log_file.read_text(encoding="utf-8")
    assert not (isolated_env / "logs" / "secop-watcher.log").exists()
    assert isinstance(sys.stderr, logsetup.LogStream)


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_missing_service_manager_leaves_the_file_and_says_how(
    platform: str, tmp_path: Path, recorded: tuple[list[list[str]], dict[str, Any]]
) -> None:
    _, behaviour = recorded
    behaviour["missing"] = True
    write_config(config_path())
    host = host_for(platform, tmp_path)
    outcome = service.run(args_for("service", "install"), host)
    assert outcome.exit_code == ExitCode.NOT_FOUND
    change = outcome.data
    assert change.action == "installed_inactive"
    assert Path(change.path).is_file()
    text = servicerender.service_change_text(change, "en")
    assert "not found" in text
    assert ("launchctl bootstrap gui/501" if platform == "darwin" else "schtasks /Create") in text
    status = service.run(args_for("service", "status"), host)
    assert status.data.running == "unknown"
    assert status.exit_code == ExitCode.NOT_FOUND


# --- Linux, end to end with the installed console script -------------------------------


FALLBACK_COMMAND = "systemctl --user enable --now secop-watcher"


def test_install_without_config_is_refused(service_dirs: Path) -> None:
    done = cliutil.run("service", "install")
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert "secop-watcher setup" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (service_dirs / "secop-watcher.service").exists()
    done = cliutil.run("--lang", "en", "service", "install")
    assert done.returncode == ExitCode.CONFIG
    assert 'Run "secop-watcher setup" first' in done.stderr


def test_install_with_invalid_config_is_refused(service_dirs: Path) -> None:
    config_path().write_text("[imap]\nport = 0\n", encoding="utf-8")
    done = cliutil.run("service", "install")
    assert done.returncode == ExitCode.CONFIG
    assert "[imap]" in done.stderr
    assert not (service_dirs / "secop-watcher.service").exists()


def test_linux_install_status_uninstall(service_dirs: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / ODD_DIR / "config.toml")
    done = cliutil.run("--config", str(config), "service", "install")
    unit_file = service_dirs / "secop-watcher.service"
    # No user session bus in this container (nor in most CI): the unit is written,
    # the command says how to activate it, and the exit status is 1.
    assert done.returncode == ExitCode.NOT_FOUND, done.stdout + done.stderr
    assert FALLBACK_COMMAND in done.stdout
    assert str(unit_file) in done.stdout
    assert "Traceback" not in done.stderr

    unit = read_unit(unit_file.read_text(encoding="utf-8"))
    assert systemd_split(unit["Service"]["ExecStart"]) == [
        cliutil.executable(),
        "--config",
        str(config),
        "--lang",
        "es",  # fixed at install time: the service gets no LANG from the login session
        "run",
    ]
    assert unit["Service"]["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == "default.target"
    systemd_verify(unit_file, Path(os.environ["XDG_RUNTIME_DIR"]))

    status = cliutil.run("service", "status")
    assert status.returncode == ExitCode.NOT_FOUND  # installed, but not running here
    assert f"Servicio: instalado ({unit_file})" in status.stdout
    assert "Estado: desconocido (systemctl --user no se puede usar aquí)" in status.stdout

    first = cliutil.run("service", "uninstall")
    assert first.returncode == ExitCode.FOUND, first.stderr
    assert not unit_file.exists()
    second = cliutil.run("--lang", "en", "service", "uninstall")
    assert second.returncode == ExitCode.FOUND, second.stderr
    assert "was not installed" in second.stdout


def test_linux_install_enables_offline_without_a_bus(tmp_path: Path) -> None:
    """Default location (XDG_CONFIG_HOME): ``systemctl --user enable`` links it offline."""
    write_config(config_path())
    xdg = tmp_path / ODD_DIR / "xdg"
    env = {"XDG_CONFIG_HOME": str(xdg), "HOME": str(tmp_path / "home"), sf.SYSTEMD_DIR_ENV: ""}
    unit_file = xdg / "systemd" / "user" / "secop-watcher.service"
    done = cliutil.run("--lang", "en", "service", "install", env=env)
    assert done.returncode == ExitCode.NOT_FOUND, done.stdout + done.stderr
    assert unit_file.is_file()
    assert FALLBACK_COMMAND in done.stdout
    wants = unit_file.parent / "default.target.wants" / "secop-watcher.service"
    if shutil.which("systemctl"):
        assert "enabled for your next login" in done.stdout
        assert wants.is_symlink()
    else:
        assert 'program "systemctl" not found' in done.stdout
    done = cliutil.run("service", "uninstall", env=env)
    assert done.returncode == ExitCode.FOUND
    assert not unit_file.exists()
    assert not wants.is_symlink()


def test_status_shows_last_success_and_error(service_dirs: Path) -> None:
    success = datetime(2026, 11, 25, 14, 12, tzinfo=UTC)
    failure = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
    with StateStore().update() as state:
        state.last_success = success.isoformat()
        state.last_error = {
            "at": failure.isoformat(),
            "key": "error.dns",
            "message": "No se encuentra el servidor imap.example.org",
        }
    done = cliutil.run("service", "status")
    assert done.returncode == ExitCode.NOT_FOUND
    assert "Servicio: no instalado" in done.stdout
    # Spanish: as Colombia writes it ("25/11/2026 9:12 a. m."); English: 2026-11-25 09:12.
    assert f"Última revisión correcta: {i18n.when(success, 'es')}" in done.stdout
    assert f"Último error: {i18n.when(failure, 'es')}" in done.stdout
    assert "No se encuentra el servidor imap.example.org" in done.stdout

    done = cliutil.run("--lang", "en", "service", "status")
    local_success = success.astimezone().strftime("%Y-%m-%d %H:%M")
    assert f"Last successful check: {local_success}" in done.stdout

    done = cliutil.run("service", "status", "--json")
    data = json.loads(done.stdout)
    assert data["installed"] is False
    assert data["running"] in ("active", "inactive", "unknown")
    assert datetime.fromisoformat(data["last_success"]) == success
    assert datetime.fromisoformat(data["last_error"]["at"]) == failure
    assert data["last_error"]["message"] == "No se encuentra el servidor imap.example.org"


def test_status_without_state_or_service() -> None:
    done = cliutil.run("--lang", "en", "service", "status")
    assert done.returncode == ExitCode.NOT_FOUND
    assert "Service: not installed" in done.stdout
    assert "Last successful check: none yet" in done.stdout
    assert "Last error: none" in done.stdout


def test_status_shows_each_account(service_dirs: Path) -> None:
    """With [accounts.NAME] the service keeps one state file per account: status shows each."""
    success = datetime(2026, 11, 25, 14, 12, tzinfo=UTC)
    with StateStore(state_file("trabajo")).update() as state:
        state.last_success = success.isoformat()
    with StateStore(state_file("caido")).update() as state:
        state.last_error = {"at": success.isoformat(), "key": "error.refused", "message": "down"}
    done = cliutil.run("--lang", "en", "service", "status")
    local_success = success.astimezone().strftime("%Y-%m-%d %H:%M")
    assert 'Account "caido":\n  Last successful check: none yet\n  Last error: ' in done.stdout
    assert f'Account "trabajo":\n  Last successful check: {local_success}' in done.stdout
    assert "Last successful check: none yet\nLast error: none" not in done.stdout  # no [imap]
    data = json.loads(cliutil.run("service", "status", "--json").stdout)
    assert [
        (a["name"], a["last_error"] and a["last_error"]["message"]) for a in data["accounts"]
    ] == [
        ("caido", "down"),
        ("trabajo", None),
    ]


def test_the_windowed_entry_point_exists() -> None:
    """pyproject's gui-script (what pip turns into secop-watcher-service.exe) and the
    ``pythonw -m`` fallback both reach :func:`windowed.service_main`."""
    import tomllib

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    scripts = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["gui-scripts"]
    assert scripts == {"secop-watcher-service": "watcher.install.windowed:service_main"}
    assert Path(sf.WINDOWED_EXE).stem in scripts
    done = subprocess.run(
        [sys.executable, "-m", sf.WINDOWED_MODULE, "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("secop-watcher ")
