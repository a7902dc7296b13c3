"""Every command, at -vv: the password never appears anywhere, the reset token never appears
on stderr, in the logs or in any file the tool writes (stdout shows the link on purpose)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import mailfactory as mf
from tests import tally
from tests.cliutil import Background, run
from tests.servers.dovecot import Dovecot

TOKEN = "tok" + secrets.token_hex(16)


def test_no_secret_leaks_from_any_command(
    dovecot: Dovecot,
    notification_server: Any,
    tmp_path: Path,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    password = dovecot.password("jperez")
    url = mf.reset_url(TOKEN)
    now = datetime.now(UTC)
    dovecot.append("jperez", "Spam", mf.reset_mail("jperez", url, date=now), date=now)
    systemd = tmp_path / "systemd"
    monkeypatch.setenv("SECOP_WATCHER_SYSTEMD_DIR", str(systemd))
    eml = tmp_path / "input" / "mail.eml"
    eml.parent.mkdir()
    eml.write_bytes(mf.reset_mail("jperez", url, date=now))
    env = dict(notification_server.env)
    since = (now - timedelta(minutes=5)).isoformat()
    setup = [
        "setup",
        "--email",
        "jperez@entidad.gov.co",
        "--username",
        "jperez",
        "--host",
        dovecot.host,
        "--port",
        str(dovecot.port_ssl),
        "--ca-file",
        str(dovecot.ca_file),
        "--password-stdin",
    ]
    wrong = {**env, "SECOP_WATCHER_PASSWORD": "wrong-" + password}
    commands: list[tuple[list[str], str | None, dict[str, str], int]] = [
        (setup, password + "\n", env, 0),
        (["check-now"], None, env, 0),
        (["check-now", "--json"], None, env, 0),
        (["check-now"], None, wrong, 5),
        (["wait", "--since", since, "--timeout", "0.2", "--json"], None, env, 0),
        (["parse", str(eml)], None, env, 0),
        (["parse", "--json", str(eml)], None, env, 0),
        (["doctor"], None, env, 0),  # mail works; the login service here is only ⚠
        (["doctor", "--json"], None, env, 0),
        (["service", "install"], None, env, 1),  # written, not activated: no user bus
        (["service", "status", "--json"], None, env, 1),
    ]
    outputs = 0
    for args, stdin, cmd_env, expected in commands:
        done = run("-vv", *args, stdin=stdin, env=cmd_env)
        assert done.returncode == expected, (args, done.stderr[-2000:])
        assert "Traceback" not in done.stderr, (args, done.stderr)
        assert password not in done.stderr + done.stdout, args
        assert TOKEN not in done.stderr, args
        outputs += 2
    assert TOKEN in run("check-now", env=env).stdout  # stdout shows the link on purpose

    service = Background("-vv", "run", env=env)
    service.wait_for("announced a new link for jperez")
    assert service.stop() == 0
    service_err = "\n".join(service.lines)
    assert password not in service_err and TOKEN not in service_err
    outputs += 1

    files = [p for p in [*isolated_env.rglob("*"), *systemd.rglob("*")] if p.is_file()]
    files = [p for p in files if p.name != "keyring.json"]  # the test's stand-in for the OS keyring
    written = {p.relative_to(tmp_path).as_posix() for p in files}
    assert {
        "home/config/config.toml",
        "home/logs/secop-watcher.log",
        "home/state/state.json",
    } <= written, written
    found = [
        p for p in files if password.encode() in p.read_bytes() or TOKEN.encode() in p.read_bytes()
    ]
    assert any(p.suffix == ".service" for p in files)  # the unit file is scanned too
    uninstall = run("-vv", "service", "uninstall", env=env)
    assert uninstall.returncode == 0
    assert password not in uninstall.stderr + uninstall.stdout
    assert TOKEN not in uninstall.stderr
    outputs += 2
    tally.record("secrets: command outputs scanned", outputs)
    tally.record("secrets: files scanned", len(files))
    tally.record("secrets: found", len(found))
    assert found == []
