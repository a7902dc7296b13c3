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
import os
import plistlib
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests import cliutil
from tests.conftest import in_ci
from watcher import cli
from watcher.exitcodes import ExitCode
from watcher.install import control as service
from watcher.install import files as sf
from watcher.install import render as servicerender
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


def test_windows_task_renders(tmp_path: Path) -> None:
    program = "C:\\Users\\José Pérez\\pipx\\venvs\\secop-watcher\\Scripts\\secop-watcher.exe"
    config = 'C:\\Users\\José Pérez\\Mis documentos & <cosas>\\"x"\\config.toml'
    argv = [program, "--config", config, "run"]
    text = sf.render("win32", argv, log_dir=tmp_path, user_id="OFICINA\\José Pérez")
    root = parse_task(sf.encode("win32", text))
    assert root.tag == f"{{{TASK_NS['t']}}}Task"
    assert root.findtext("t:Actions/t:Exec/t:Command", namespaces=TASK_NS) == program
    arguments = root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=TASK_NS)
    assert arguments is not None
    assert windows_split(arguments) == ["--config", config, "run"]
    trigger = root.find("t:Triggers/t:LogonTrigger", TASK_NS)
    assert trigger is not None
    assert trigger.findtext("t:UserId", namespaces=TASK_NS) == "OFICINA\\José Pérez"
    settings = root.find("t:Settings", TASK_NS)
    assert settings is not None
    assert settings.findtext("t:ExecutionTimeLimit", namespaces=TASK_NS) == "PT0S"
    assert settings.find("t:RestartOnFailure/t:Interval", TASK_NS) is not None
    assert int(settings.findtext("t:RestartOnFailure/t:Count", namespaces=TASK_NS) or 0) > 0


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


def host_for(platform: str, tmp_path: Path) -> service.Host:
    script = fake_script(
        tmp_path / ODD_DIR / "bin", "secop-watcher.exe" if platform == "win32" else "secop-watcher"
    )
    return service.Host(
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


def test_windows_install_and_uninstall(
    tmp_path: Path, recorded: tuple[list[list[str]], dict[str, Any]]
) -> None:
    calls, _ = recorded
    write_config(config_path())
    host = host_for("win32", tmp_path)
    outcome = service.run(args_for("service", "install"), host)
    xml_file = Path(os.environ["SECOP_WATCHER_CONFIG_DIR"]) / "secop-watcher-task.xml"
    assert outcome.exit_code == ExitCode.FOUND
    assert calls == [
        ["schtasks", "/Create", "/TN", "secop-watcher", "/XML", str(xml_file), "/F"],
        ["schtasks", "/Run", "/TN", "secop-watcher"],
    ]
    root = parse_task(xml_file.read_bytes())
    assert root.findtext("t:Actions/t:Exec/t:Command", namespaces=TASK_NS) == host.argv0
    arguments = root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=TASK_NS) or ""
    assert windows_split(arguments) == ["--config", str(config_path()), "--lang", "en", "run"]
    assert root.findtext("t:Triggers/t:LogonTrigger/t:UserId", namespaces=TASK_NS) == (
        "OFICINA\\jperez"
    )

    calls.clear()
    service.run(args_for("service", "uninstall"), host)
    assert calls == [
        ["schtasks", "/End", "/TN", "secop-watcher"],
        ["schtasks", "/Delete", "/TN", "secop-watcher", "/F"],
    ]
    assert not xml_file.exists()
    again = service.run(args_for("service", "uninstall"), host)
    assert again.exit_code == ExitCode.FOUND
    assert again.data.action == "not_installed"


def test_windows_status(tmp_path: Path, recorded: tuple[list[list[str]], dict[str, Any]]) -> None:
    calls, behaviour = recorded
    behaviour["stdout"] = "Running\r\n"
    outcome = service.run(args_for("service", "status"), host_for("win32", tmp_path))
    assert calls[0][0] == "powershell"
    assert outcome.data.running == "active"
    assert outcome.exit_code == ExitCode.NOT_FOUND  # running, but no task file: not installed


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
    local_success = success.astimezone().strftime("%Y-%m-%d %H:%M")
    local_failure = failure.astimezone().strftime("%Y-%m-%d %H:%M")
    assert f"Última revisión correcta: {local_success}" in done.stdout
    assert f"Último error: {local_failure}" in done.stdout
    assert "No se encuentra el servidor imap.example.org" in done.stdout

    done = cliutil.run("--lang", "en", "service", "status")
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
