"""Secrets without a keyring, in a form the service can use (issue 14, item 2): the advice
for a refused password names where it came from, and ``service install`` warns when the
password would come from the variable the service never sees."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cliutil import run, write_config
from tests.servers.dovecot import Dovecot
from tests.test_service_install import FakeSchtasks, args_for, config_path, host_for
from tests.test_service_install import write_config as write_service_config
from watcher.commands import service
from watcher.exitcodes import ExitCode
from watcher.install import render

pytestmark = pytest.mark.dovecot


def test_a_refused_password_from_the_variable_says_so(dovecot: Dovecot, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot)
    done = run("--config", str(cfg), "check-now", env={"SECOP_WATCHER_PASSWORD": "wrong"})
    assert done.returncode == ExitCode.AUTH, done.stderr
    assert "viene de la variable SECOP_WATCHER_PASSWORD" in done.stderr
    assert "Vuelva a ejecutar «secop-watcher setup»" not in done.stderr  # it cannot help
    assert "wrong" not in done.stderr


def test_a_refused_password_from_password_command_names_the_program(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    printer = tmp_path / "print-password.py"
    printer.write_text("print('not-the-password')\n", encoding="utf-8")
    command = f'password_command = ["{sys.executable}", "{printer}"]'
    cfg = write_config(tmp_path / "c.toml", dovecot, extra_imap=command)
    done = run(
        "--lang", "en", "--config", str(cfg), "check-now", env={"SECOP_WATCHER_PASSWORD": ""}
    )
    assert done.returncode == ExitCode.AUTH, done.stderr
    assert f"[imap] password_command ({sys.executable})" in done.stderr
    assert "not-the-password" not in done.stderr


def test_a_refused_password_from_the_keyring_keeps_the_setup_advice(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    import keyring

    keyring.set_password("secop-watcher", "jperez", "stale-password")
    cfg = write_config(tmp_path / "c.toml", dovecot)
    done = run("--config", str(cfg), "check-now", env={"SECOP_WATCHER_PASSWORD": ""})
    assert done.returncode == ExitCode.AUTH, done.stderr
    assert "Vuelva a ejecutar «secop-watcher setup»" in done.stderr


@pytest.mark.parametrize(("variable", "warned"), [("set-here", True), ("", False)])
def test_service_install_warns_when_the_password_comes_from_the_variable(
    tmp_path: Path, variable: str, warned: bool
) -> None:
    write_service_config(config_path())
    host = host_for("win32", tmp_path, FakeSchtasks())
    host = dataclasses.replace(host, environ={**host.environ, "SECOP_WATCHER_PASSWORD": variable})
    outcome = service.run(args_for("service", "install"), host)
    assert outcome.exit_code == ExitCode.FOUND
    text = render.service_change_text(outcome.data, "en")
    assert ("the service does not see" in text) == warned
    assert "set-here" not in text


def test_a_password_with_spanish_letters_signs_in(
    dovecot_factory: Callable[..., Dovecot], tmp_path: Path
) -> None:
    """«Contraseña2026»: LOGIN sends it as a UTF-8 literal (RFC 3501 allows 8-bit text only
    there); imaplib would otherwise fail to encode it, and the error quoted a letter of it."""
    password = "Contraseña-Árbol-2026"
    server = dovecot_factory(users={"jperez": password})
    cfg = write_config(tmp_path / "c.toml", server)
    done = run("--config", str(cfg), "check-now", env={"SECOP_WATCHER_PASSWORD": password})
    assert done.returncode in (ExitCode.FOUND, ExitCode.NOT_FOUND), done.stderr
    wrong = run("--config", str(cfg), "check-now", env={"SECOP_WATCHER_PASSWORD": "Ñandú-7"})
    assert wrong.returncode == ExitCode.AUTH, wrong.stderr  # refused as a password, no error
    assert "Ñandú" not in wrong.stderr and "xd1" not in wrong.stderr  # nothing of it quoted
