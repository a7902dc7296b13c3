"""Windows' and macOS's facts, handed in on Linux (issue 13).

No Windows or Mac machine runs these tests: each one injects the platform's
documented behaviour (its C ``localtime``, its ``signal`` module, its Python
version's ``Event.wait``) into the code that depends on it.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import keyring
import pytest

from tests import cliutil
from tests.conftest import REPO_ROOT
from tests.keyring_backend import WindowsLimitKeyring
from watcher import commandline, console, i18n, oauth, stopping, syslang
from watcher import config as config_mod
from watcher.errors import ConfigError


def imports_with_windows_localtime(root: Path) -> subprocess.CompletedProcess[str]:
    """Windows' C localtime refuses times before 1970 (``OSError [Errno 22]``): a naive
    datetime near the epoch, converted with ``astimezone()``, fails west of UTC."""
    script = textwrap.dedent(
        """
        import datetime as dt, importlib, pkgutil, sys

        class WindowsDatetime(dt.datetime):
            def astimezone(self, tz=None):
                if self.tzinfo is None and self.replace(tzinfo=dt.UTC).timestamp() < 86400:
                    raise OSError(22, "Invalid argument")
                return super().astimezone(tz)

        dt.datetime = WindowsDatetime
        import watcher
        names = [m.name for m in pkgutil.walk_packages(watcher.__path__, "watcher.")]
        names.remove("watcher.__main__")  # runs the program
        for name in names:
            importlib.import_module(name)
        print(len(names))
        """
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "America/Bogota", "PYTHONPATH": str(root)},
        check=False,
    )


def test_every_module_imports_where_localtime_rejects_negative_times() -> None:
    done = imports_with_windows_localtime(REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 40  # every module of the package was imported


WINDOWS_SIGNAL = SimpleNamespace(SIGINT=2, SIGTERM=15, SIG_DFL=0, SIG_IGN=1)
"""What Windows' ``signal`` module has of what the service uses: no masks, no SIGUSR1."""


def test_no_posix_signal_names_on_windows_and_nothing_breaks() -> None:
    stopping.block_stop_signals(WINDOWS_SIGNAL)  # type: ignore[arg-type]
    stopping.unblock_stop_signals(WINDOWS_SIGNAL)  # type: ignore[arg-type]
    assert not hasattr(WINDOWS_SIGNAL, "SIG_BLOCK")


def test_windows_before_314_wakes_to_let_ctrl_c_in() -> None:
    windows = WINDOWS_SIGNAL  # type: ignore[arg-type]
    assert stopping.stop_wait_timeout(windows, (3, 11)) == stopping.WINDOWS_WAKE_SECONDS  # type: ignore[arg-type]
    assert stopping.stop_wait_timeout(windows, (3, 13)) == stopping.WINDOWS_WAKE_SECONDS  # type: ignore[arg-type]
    assert stopping.stop_wait_timeout(windows, (3, 14)) is None  # type: ignore[arg-type]
    assert stopping.stop_wait_timeout(signal, (3, 11)) is None  # POSIX: no wake-ups at rest


class CountingEvent:
    def __init__(self, set_after: int) -> None:
        self.calls: list[float | None] = []
        self.set_after = set_after

    def wait(self, timeout: float | None = None) -> bool:
        self.calls.append(timeout)
        return len(self.calls) >= self.set_after


def test_wait_for_stop_wakes_with_the_timeout_until_set() -> None:
    event = CountingEvent(set_after=3)
    stopping.wait_for_stop(event, 1.0)  # type: ignore[arg-type]
    assert event.calls == [1.0, 1.0, 1.0]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal masks (Windows has none)")
def test_posix_workers_do_not_take_the_stop_signals() -> None:
    seen: dict[str, Any] = {}

    def worker() -> None:
        seen["mask"] = signal.pthread_sigmask(signal.SIG_BLOCK, [])

    stopping.block_stop_signals()
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    finally:
        stopping.unblock_stop_signals()
    assert {signal.SIGTERM, signal.SIGINT} <= seen["mask"]
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


# --------------------------------------------------------------------------- language


def _never() -> None:
    raise AssertionError("not asked on this platform")


@pytest.mark.parametrize(
    ("langid", "expected"),
    [(0x240A, "es"), (0x0C0A, "es"), (0x080A, "es"), (0x0409, "en"), (0x0809, "en")],
)
def test_windows_speaks_the_user_ui_language(langid: int, expected: str) -> None:
    # es-CO, es-ES, es-MX; en-US, en-GB: Windows sets no LANG at all
    found = syslang.system_language("win32", {}, lambda: langid, _never)
    assert found == expected
    assert syslang.language(None, found) == expected


def test_windows_in_another_language_gets_spanish() -> None:
    found = syslang.system_language("win32", {}, lambda: 0x040C, _never)  # fr-FR
    assert (found, syslang.language(None, found)) == ("other", "es")


@pytest.mark.parametrize(
    ("preferred", "expected"),
    [(["es-CO", "en-US"], "es"), (["en-GB", "es-CO"], "en"), (["pt-BR"], "es"), ([], "es")],
)
def test_macos_speaks_the_first_preferred_language(preferred: list[str], expected: str) -> None:
    found = syslang.system_language("darwin", {}, _never, lambda: preferred)
    assert syslang.language(None, found) == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "es"),  # nothing says: Spanish, the users are Colombian
        ({"LANG": "C.UTF-8"}, "es"),
        ({"LANG": "POSIX"}, "es"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "es_CO.UTF-8"}, "es"),
        ({"LANGUAGE": "en:es"}, "en"),
        ({"LANG": "C", "LANGUAGE": "en_GB"}, "en"),
    ],
)
def test_posix_locale_variables(environ: dict[str, str], expected: str) -> None:
    found = syslang.system_language("linux", environ, _never, _never)
    assert syslang.language(None, found) == expected


def test_explicit_lang_wins_and_the_cli_default_is_spanish(monkeypatch: pytest.MonkeyPatch) -> None:
    assert syslang.language("en", "es") == "en"
    assert syslang.language("es", "en") == "es"
    for var in ("LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    assert i18n.pick(None) == "es"
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert i18n.pick(None) == "en"
    assert i18n.pick("es") == "es"


def test_macos_defaults_output_is_read() -> None:
    text = '(\n    "es-CO",\n    "en-US",\n    "fr-CO"\n)\n'  # `defaults read -g AppleLanguages`
    assert syslang.parse_apple_languages(text) == ["es-CO", "en-US", "fr-CO"]
    assert syslang.parse_apple_languages("(\n)\n") == []


# --------------------------------------------------------------------------- console


def _doctor(env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    exe = Path(cliutil.executable())
    full = {**os.environ, **env}
    return subprocess.run([str(exe), "--lang", "es", "doctor"], capture_output=True, env=full)


def test_a_help_desk_file_from_a_cp1252_pipe_is_written_not_crashed() -> None:
    """Windows writes redirected output in the ANSI code page: emulated by PYTHONIOENCODING."""
    done = _doctor({"PYTHONIOENCODING": "cp1252"})
    assert done.returncode == 1, done.stderr  # no config here: a failed check, not exit 70
    text = done.stdout.decode("cp1252")
    assert "X Configuración" in text  # ✗ degraded, ó kept: cp1252 has it
    assert "-> No hay configuración" in text


def test_redirected_output_is_utf8_when_nothing_is_asked() -> None:
    done = _doctor({"PYTHONIOENCODING": ""})
    assert done.returncode == 1, done.stderr
    assert "✗ Configuración" in done.stdout.decode("utf-8")


def test_characters_degrade_on_an_ascii_stream() -> None:
    buffer = io.BytesIO()
    stream = io.TextIOWrapper(buffer, encoding="ascii")
    console.prepare(stream, {"PYTHONIOENCODING": "ascii"})
    stream.write("✓ Conexión → listo ⚠ «x» 中\n")
    stream.flush()
    assert buffer.getvalue() == b'OK Conexion -> listo ! "x" ?\n'


# --------------------------------------------------------------------------- commands


WINDOWS_PATH = r"C:\Users\ana\bin\notify.exe"


def test_a_windows_command_string_keeps_its_backslashes_by_windows_rules() -> None:
    assert commandline.split(f"{WINDOWS_PATH} --flag", "win32") == (WINDOWS_PATH, "--flag")
    quoted = r'"C:\Program Files\Pass\pass.exe" show "correo ana"'
    assert commandline.split(quoted, "win32") == (
        r"C:\Program Files\Pass\pass.exe",
        "show",
        "correo ana",
    )
    # what POSIX rules made of it, the bug
    assert commandline.split(f"{WINDOWS_PATH} --flag", "linux") == (
        "C:Usersanabinnotify.exe",
        "--flag",
    )


def test_a_command_array_needs_no_quoting_anywhere(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[imap]\nhost = "imap.example.com"\nusername = "ana"\n'
        'password_command = ["C:/Program Files/Pass/pass.exe", "show", "correo ana"]\n'
        '[notify]\ncommand = ["C:\\\\Users\\\\ana\\\\bin\\\\notify.exe", "--flag"]\n',
        encoding="utf-8",
    )
    config = config_mod.load(path)
    assert config.imap.password_command == ("C:/Program Files/Pass/pass.exe", "show", "correo ana")
    assert config.notify.command == (WINDOWS_PATH, "--flag")


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("[]", "config.command_list"),
        ('["", "x"]', "config.command_list"),
        ('["a", 3]', "config.command_list"),
        ("3", "config.command_type"),
        ('"pass \'show"', "config.command_quotes"),
    ],
)
def test_a_bad_command_is_a_config_problem_that_shows_the_array_form(
    tmp_path: Path, value: str, key: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[imap]\nhost = "h"\nusername = "u"\n[notify]\ncommand = {value}\n')
    with pytest.raises(ConfigError) as info:
        config_mod.load(path)
    assert [(where, k) for where, k, _ in info.value.problems] == [("[notify] command", key)]
    assert '["C:/Users/ana/bin/' in i18n.error_text(info.value, "es")


# --------------------------------------------------------------------------- keyring


@pytest.fixture
def windows_keyring() -> Iterator[WindowsLimitKeyring]:
    backend = WindowsLimitKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


MICROSOFT = config_mod.ImapConfig(
    host="outlook.office365.com", username="ana@entidad.gov.co", auth="oauth2-microsoft"
)


def test_a_microsoft_sign_in_fits_windows_credential_manager(
    windows_keyring: WindowsLimitKeyring,
) -> None:
    refresh = "M.C5" + secrets.token_urlsafe(1500)  # reported at about 1,500 characters
    record = {"refresh_token": refresh, "signed_in": "2026-12-01T15:00:00+00:00"}
    with pytest.raises(OSError):  # one entry cannot hold it: the bug
        windows_keyring.set_password("secop-watcher", "x", json.dumps(record))
    oauth.save_record(MICROSOFT, record)
    assert oauth.load_record(MICROSOFT) == record
    stored = windows_keyring._load()
    assert all(len(v.encode("utf-16-le")) <= WindowsLimitKeyring.LIMIT for v in stored.values())
    assert not any(refresh in v for v in stored.values())  # really in pieces


def test_a_new_sign_in_replaces_every_old_piece(windows_keyring: WindowsLimitKeyring) -> None:
    first = {"refresh_token": "a" * 3000}
    oauth.save_record(MICROSOFT, first)
    pieces_before = len(windows_keyring._load())
    second = {"refresh_token": "b" * 2500}
    oauth.save_record(MICROSOFT, second)
    assert oauth.load_record(MICROSOFT) == second
    assert len(windows_keyring._load()) <= pieces_before  # the old generation is gone
    assert not any("a" * 100 in v for v in windows_keyring._load().values())
    short = {"refresh_token": "c" * 10}
    oauth.save_record(MICROSOFT, short)
    assert oauth.load_record(MICROSOFT) == short
    assert len(windows_keyring._load()) == 1


def test_the_access_token_cache_fits_too(windows_keyring: WindowsLimitKeyring) -> None:
    grant = oauth.Grant(
        access_token="EwB" + "x" * 2400,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        record={},
    )
    oauth.save_access(MICROSOFT, grant)
    assert oauth.load_access(MICROSOFT) == grant


def test_a_nul_or_an_empty_program_is_a_config_problem_not_a_crash() -> None:
    assert commandline.problem(["/bin/echo", "a\0b"]) == "list"
    assert commandline.problem('"" foo', "linux") == "type"
    assert commandline.problem('"" foo', "win32") == "type"
    assert commandline.problem(["/bin/echo", "ok"]) is None


def test_pieces_count_utf16_units_not_characters(windows_keyring: WindowsLimitKeyring) -> None:
    """A character outside the BMP is two UTF-16 units: 1,000 of them are 4,000 bytes."""
    record = {"refresh_token": "🔑" * 1500}
    oauth.save_record(MICROSOFT, record)
    assert oauth.load_record(MICROSOFT) == record
    stored = windows_keyring._load()
    assert all(len(v.encode("utf-16-le")) <= WindowsLimitKeyring.LIMIT for v in stored.values())
