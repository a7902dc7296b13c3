"""``secop-watcher wait`` against a real Dovecot: IDLE, poll fallback, timeout, --since."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import mailfactory as mf
from tests.cliutil import Background, run, write_config
from tests.servers.dovecot import Dovecot


def start_wait(cfg: Path, server: Dovecot, *extra: str) -> Background:
    return Background(
        "--config",
        str(cfg),
        "-v",
        "wait",
        "--json",
        *extra,
        env={"SECOP_WATCHER_PASSWORD": server.password("jperez")},
    )


def test_returns_the_link_that_arrives_after_it_started(dovecot: Dovecot, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    old = mf.reset_mail("jperez", mf.reset_url("old"), date=now - timedelta(minutes=2))
    dovecot.append("jperez", "Spam", old, date=now - timedelta(minutes=2))
    cfg = write_config(tmp_path / "c.toml", dovecot)
    waiter = start_wait(cfg, dovecot, "--timeout", "1")
    waiter.wait_for("Esperando el correo de SECOP II en INBOX, Spam")
    waiter.wait_for("IDLE connection ready", count=2)
    time.sleep(0.5)
    assert waiter.proc.poll() is None  # the old link is ignored: still waiting
    appended = time.monotonic()
    new = mf.reset_mail("jperez", mf.reset_url("new"), date=datetime.now(UTC))
    dovecot.append("jperez", "Spam", new, date=datetime.now(UTC))
    code, out = waiter.communicate(timeout=30)
    latency = time.monotonic() - appended
    assert code == 0, "\n".join(waiter.lines)
    data = json.loads(out)
    assert data["link"]["url"] == mf.reset_url("new")
    assert data["link"]["folder"] == "Spam"
    assert data["folders"] == ["INBOX", "Spam"]
    assert latency < 2, latency  # IDLE push, not the 30 s safety poll
    assert any("Spam: new mail looked at on its IDLE connection" in x for x in waiter.lines)
    print(f"wait: arrival-to-exit {latency * 1000:.0f} ms (IDLE)")


def test_poll_fallback_when_server_has_no_idle(dovecot_factory: object, tmp_path: Path) -> None:
    server: Dovecot = dovecot_factory(idle=False)  # type: ignore[operator]
    cfg = write_config(tmp_path / "c.toml", server)
    waiter = start_wait(cfg, server, "--timeout", "1")
    waiter.wait_for("el servidor no ofrece IDLE: se revisa cada 5 s")
    server.append(
        "jperez", "INBOX", mf.reset_mail("mgomez", mf.reset_url("p"), date=datetime.now(UTC))
    )
    code, out = waiter.communicate(timeout=30)
    assert code == 0, "\n".join(waiter.lines)
    assert json.loads(out)["link"]["username"] == "mgomez"
    assert not any("IDLE connection ready" in line for line in waiter.lines)


def test_times_out_with_exit_1(dovecot: Dovecot, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot)
    started = time.monotonic()
    done = run(
        "--config",
        str(cfg),
        "wait",
        "--timeout",
        "0.05",
        env={"SECOP_WATCHER_PASSWORD": dovecot.password("jperez")},
    )
    assert done.returncode == 1
    assert "No llegó ningún enlace nuevo de SECOP II en 0,05 min" in done.stderr  # es_CO
    assert time.monotonic() - started < 20


def test_since_accepts_a_link_that_came_before_the_command(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    recent = mf.reset_mail("jperez", mf.reset_url("recent"), date=now - timedelta(minutes=3))
    dovecot.append("jperez", "INBOX", recent, date=now - timedelta(minutes=3))
    stale = mf.reset_mail("jperez", mf.reset_url("stale"), date=now - timedelta(minutes=30))
    dovecot.append("jperez", "INBOX", stale, date=now - timedelta(minutes=30))
    since = (now - timedelta(minutes=10)).isoformat()
    cfg = write_config(tmp_path / "c.toml", dovecot)
    done = run(
        "--config",
        str(cfg),
        "wait",
        "--since",
        since,
        "--timeout",
        "0.2",
        env={"SECOP_WATCHER_PASSWORD": dovecot.password("jperez")},
    )
    assert done.returncode == 0, done.stderr
    assert f"  {mf.reset_url('recent')}\n" in done.stdout
    assert mf.reset_url("stale") not in done.stdout


def test_bad_since_is_a_usage_error(dovecot: Dovecot, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot)
    done = run(
        "--config",
        str(cfg),
        "wait",
        "--since",
        "ayer",
        env={"SECOP_WATCHER_PASSWORD": dovecot.password("jperez")},
    )
    assert done.returncode == 2
    assert "--since debe ser una hora" in done.stderr


def test_open_uses_the_browser_and_copy_the_clipboard(
    dovecot: Dovecot, notification_server: object, tmp_path: Path
) -> None:
    from tests.notifyserver import clipboard_text

    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{opened}"\n')
    browser.chmod(0o755)
    now = datetime.now(UTC)
    dovecot.append(
        "jperez", "INBOX", mf.reset_mail("jperez", mf.reset_url("o"), date=now), date=now
    )
    cfg = write_config(tmp_path / "c.toml", dovecot)
    env = dict(notification_server.env)  # type: ignore[attr-defined]
    env.update({"SECOP_WATCHER_PASSWORD": dovecot.password("jperez"), "BROWSER": str(browser)})
    done = run(
        "--config",
        str(cfg),
        "wait",
        "--since",
        (now - timedelta(minutes=1)).isoformat(),
        "--open",
        "--copy",
        "--timeout",
        "0.2",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "Abierto en su navegador." in done.stdout
    assert "Copiado al portapapeles." in done.stdout
    deadline = time.monotonic() + 5
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert opened.read_text() == mf.reset_url("o")
    assert clipboard_text(env) == mf.reset_url("o")


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-3", "1e10", "diez"])
def test_unusable_timeout_is_a_usage_error(value: str, tmp_path: Path) -> None:
    done = run("wait", "--timeout", value)
    assert done.returncode == 2
    assert "--timeout" in done.stderr
    assert "Traceback" not in done.stderr


def wait_for_present_link(
    server: Dovecot, tmp_path: Path, env: dict[str, str], *extra: str
) -> tuple[int, str, str]:
    """``wait --since`` a minute ago, with a link already there: it returns at once."""
    now = datetime.now(UTC)
    server.append("jperez", "INBOX", mf.reset_mail("jperez", mf.reset_url("w"), date=now), date=now)
    cfg = write_config(tmp_path / "c.toml", server)
    since = (now - timedelta(minutes=1)).isoformat()
    done = run(
        "--config", str(cfg), "wait", "--since", since, "--timeout", "0.2", *extra,
        env={"SECOP_WATCHER_PASSWORD": server.password("jperez"), **env},
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def test_without_a_display_open_and_copy_say_so_and_blame_no_tool(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": "", "BROWSER": ""}
    code, out, err = wait_for_present_link(dovecot, tmp_path, env, "--open", "--copy")
    assert code == 0, err
    assert f"  {mf.reset_url('w')}\n" in out  # the link is printed all the same
    assert "No se abrió el navegador: esta sesión no tiene pantalla gráfica" in out
    assert "No se copió: esta sesión no tiene pantalla gráfica" in out
    assert "Abierto en su navegador" not in out
    assert "Copiado" not in out
    assert "xclip" not in out + err


def test_with_a_display_but_no_browser_or_clipboard_tool_names_what_is_missing(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"  # no xdg-open, no xclip, xsel or wl-copy
    empty.mkdir()
    env = {"DISPLAY": ":99", "WAYLAND_DISPLAY": "", "BROWSER": "", "PATH": str(empty)}
    env["LANG"] = "en_US.UTF-8"
    code, out, err = wait_for_present_link(dovecot, tmp_path, env, "--open", "--copy")
    assert code == 0, err
    assert "Not opened: no working web browser was found on this computer." in out
    assert "Not copied: the clipboard program is missing. Install one of: xclip, xsel" in out
    assert "Opened in your browser" not in out


def test_json_wait_keeps_stdout_one_object(dovecot: Dovecot, tmp_path: Path) -> None:
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": "", "BROWSER": ""}
    code, out, err = wait_for_present_link(dovecot, tmp_path, env, "--json", "--copy")
    assert code == 0, err
    assert json.loads(out)["link"]["url"] == mf.reset_url("w")
    assert "No se copió: esta sesión no tiene pantalla gráfica" in err
