"""``secop-watcher run`` end to end: real Dovecot, real dunst on a private D-Bus session."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests import mailfactory as mf
from tests.cliutil import Background, run, write_config
from tests.servers.dovecot import Dovecot


def reset(user: str, token: str) -> bytes:
    return mf.reset_mail(user, mf.reset_url(token), date=datetime.now(UTC))


def start_service(cfg: Path, server: Any, password: str, *extra: str) -> Background:
    env = dict(server.env)
    env["SECOP_WATCHER_PASSWORD"] = password
    return Background("--config", str(cfg), "-v", "run", *extra, env=env)


def state(home: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((home / "state" / "state.json").read_text())
    return data


def test_push_from_inbox_and_spam_replaced_when_superseded_and_once_across_restarts(
    dovecot: Dovecot, notification_server: Any, tmp_path: Path, isolated_env: Path
) -> None:
    ns = notification_server
    cfg = write_config(tmp_path / "c.toml", dovecot, watch="poll_seconds = 3600")
    password = dovecot.password("jperez")
    svc = start_service(cfg, ns, password)
    svc.wait_for("IDLE connection ready", count=2)  # one connection per folder

    t0 = time.monotonic()
    dovecot.append("jperez", "INBOX", reset("jperez", "a"))
    first = ns.wait_for_notifications(1)[0]
    inbox_latency = first.seen_at - t0
    t1 = time.monotonic()
    dovecot.append("jperez", "Spam", reset("mgomez", "b"))
    second = ns.wait_for_notifications(2)[1]
    spam_latency = second.seen_at - t1
    print(
        f"\narrival-to-notification (IDLE): INBOX {inbox_latency * 1000:.0f} ms, "
        f"Spam {spam_latency * 1000:.0f} ms"
    )
    assert inbox_latency < 2.0
    assert spam_latency < 2.0
    # Both pushes were looked at on the IDLE connection that saw them (no second EXAMINE).
    svc.wait_for("INBOX: new mail looked at on its IDLE connection")
    svc.wait_for("Spam: new mail looked at on its IDLE connection")
    assert first.summary == "SECOP II: enlace para jperez"
    assert "INBOX" in first.body
    assert second.summary == "SECOP II: enlace para mgomez"
    assert "Spam" in second.body
    assert set(first.action_labels.values()) == {"Abrir enlace", "Copiar enlace"}
    assert mf.reset_url("a") not in first.body

    # A newer link for jperez: the old notification is closed, the new one shown.
    dovecot.append("jperez", "Spam", reset("jperez", "c"))
    third = ns.wait_for_notifications(3)[2]
    assert third.summary == "SECOP II: enlace para jperez"
    ns.wait_for("close_call", first.id)
    assert ns.wait_displayed(2) == 2

    assert svc.stop() == 0
    count = len(ns.notifications())
    again = start_service(cfg, ns, password)
    again.wait_for("check 1 done: 0 new link(s)")
    again.wait_for("IDLE connection ready", count=2)
    time.sleep(1)
    assert len(ns.notifications()) == count  # nothing announced twice
    assert again.stop() == 0
    text = (isolated_env / "state" / "state.json").read_text()
    assert mf.reset_url("a") not in text and "token=" not in text


def test_poll_when_the_server_has_no_idle(
    dovecot_factory: Any, notification_server: Any, tmp_path: Path
) -> None:
    server: Dovecot = dovecot_factory(idle=False)
    cfg = write_config(tmp_path / "c.toml", server, watch="poll_seconds = 10")
    svc = start_service(cfg, notification_server, server.password("jperez"))
    svc.wait_for("check 1 done")
    t0 = time.monotonic()
    server.append("jperez", "Spam", reset("jperez", "p"))
    seen = notification_server.wait_for_notifications(1, timeout=15)[0]
    latency = seen.seen_at - t0
    print(f"\narrival-to-notification (poll every 10 s): {latency * 1000:.0f} ms")
    assert latency <= 10 + 1.5
    assert not any("IDLE connection ready" in line for line in svc.lines)
    svc.stop()


def test_reconnects_after_server_restart_and_announces_what_arrived_meanwhile(
    dovecot: Dovecot, notification_server: Any, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot, watch="poll_seconds = 3600")
    svc = start_service(cfg, notification_server, dovecot.password("jperez"))
    svc.wait_for("IDLE connection ready", count=2)
    dovecot.stop()
    svc.wait_for("connection lost")
    # Mail delivered while the IMAP server is down (the MTA writes the maildir).
    dovecot.fill_maildir(
        "jperez", "Spam", [(reset("jperez", "gap"), datetime.now(UTC))], verify=False
    )
    dovecot.start()
    seen = notification_server.wait_for_notifications(1, timeout=30)[0]
    assert seen.summary == "SECOP II: enlace para jperez"
    assert "Spam" in seen.body
    svc.wait_for("IDLE connection ready", count=4)
    assert svc.stop() == 0


def test_sigkill_at_any_moment_then_a_clean_start(
    dovecot: Dovecot, notification_server: Any, tmp_path: Path, isolated_env: Path
) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot, watch="poll_seconds = 3600")
    password = dovecot.password("jperez")
    for i, delay in enumerate([0.05, 0.2, 0.4, 0.8]):
        svc = start_service(cfg, notification_server, password)
        dovecot.append("jperez", "INBOX", reset(f"user{i}", f"k{i}"))
        time.sleep(delay)
        svc.proc.send_signal(signal.SIGKILL)
        svc.proc.wait(10)
    svc = start_service(cfg, notification_server, password)
    svc.wait_for("IDLE connection ready", count=2)
    data = state(isolated_env)
    assert data["version"] == 1
    assert data["last_success"] is not None
    assert set(data["folders"]) == {"INBOX", "Spam"}
    # Every user's link was announced at least once, none twice.
    summaries = [n.summary for n in notification_server.notifications()]
    for i in range(4):
        assert 1 <= summaries.count(f"SECOP II: enlace para user{i}") <= 2
    assert svc.stop() == 0
    assert "Traceback" not in "\n".join(svc.lines)


def test_check_now_while_run_runs(
    dovecot: Dovecot, notification_server: Any, tmp_path: Path, isolated_env: Path
) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot, watch="poll_seconds = 3600")
    password = dovecot.password("jperez")
    svc = start_service(cfg, notification_server, password)
    svc.wait_for("IDLE connection ready", count=2)
    results: list[int] = []

    def check() -> None:
        done = run(
            "--config", str(cfg), "check-now", "--json", env={"SECOP_WATCHER_PASSWORD": password}
        )
        results.append(done.returncode)

    threads = [threading.Thread(target=check) for _ in range(4)]
    for n, t in enumerate(threads):
        dovecot.append("jperez", "INBOX" if n % 2 else "Spam", reset(f"u{n}", f"cc{n}"))
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 4 and set(results) <= {0}
    notification_server.wait_for_notifications(4, timeout=15)
    assert svc.proc.poll() is None
    deadline = time.monotonic() + 10  # the state is saved right after the notification
    while True:
        data = state(isolated_env)
        links = [k for k in data["announced"] if not k.startswith("suspicious:")]
        if len(links) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert data["last_error"] is None
    assert len(links) == 4, data
    assert svc.stop() == 0


def test_wrong_password_reported_once_then_resumes_when_fixed(
    dovecot: Dovecot, notification_server: Any, tmp_path: Path, isolated_env: Path
) -> None:
    secret = tmp_path / "pw.txt"
    secret.write_text("wrong-password\n")
    script = tmp_path / "pw.py"
    script.write_text(f"print(open({str(secret)!r}).read().strip())\n")
    cfg = write_config(
        tmp_path / "c.toml",
        dovecot,
        watch="poll_seconds = 10",
        extra_imap=f'password_command = "{sys.executable} {script}"',
    )
    env = dict(notification_server.env)
    env.pop("SECOP_WATCHER_PASSWORD", None)
    svc = Background("--config", str(cfg), "-v", "run", env=env)
    problem = notification_server.wait_for_notifications(1, timeout=15)[0]
    assert problem.summary == "secop-watcher: no puede entrar a su correo"
    time.sleep(12)  # more than one poll interval: no retry, no second notification
    assert len(notification_server.notifications()) == 1
    failures = dovecot.log_path.read_text().count(
        "auth failed"
    ) + dovecot.log_path.read_text().count("Authentication failed")
    assert failures <= 1, dovecot.log_path.read_text()[-2000:]
    assert state(isolated_env)["last_error"]["key"] == "error.auth"
    secret.write_text(dovecot.password("jperez") + "\n")
    svc.wait_for("configuration or password changed", timeout=15)
    svc.wait_for("IDLE connection ready", count=2)
    dovecot.append("jperez", "INBOX", reset("jperez", "fixed"))
    seen = notification_server.wait_for_notifications(2, timeout=10)[1]
    assert seen.summary == "SECOP II: enlace para jperez"
    assert "wrong-password" not in "\n".join(svc.lines)
    assert svc.stop() == 0


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_sigterm_stops_quickly(dovecot: Dovecot, notification_server: Any, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot)
    svc = start_service(cfg, notification_server, dovecot.password("jperez"))
    svc.wait_for("IDLE connection ready", count=2)
    t0 = time.monotonic()
    assert svc.stop() == 0
    assert time.monotonic() - t0 < 10


def test_forged_mail_gets_a_warning_without_link_or_buttons(
    dovecot: Dovecot, notification_server: Any, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot, watch="poll_seconds = 3600")
    svc = start_service(cfg, notification_server, dovecot.password("jperez"))
    svc.wait_for("IDLE connection ready", count=2)
    forged = mf.reset_mail(
        "jperez",
        "https://secop-gov-actualizacion.org/reset?t=phish",
        date=datetime.now(UTC),
        sender='"registro@secop.gov.co" <notificaciones@secop-gov-actualizacion.org>',
    )
    dovecot.append("jperez", "Spam", forged)
    warning = notification_server.wait_for_notifications(1)[0]
    assert warning.actions == []
    assert warning.urgency == 2  # critical
    assert "secop-gov-actualizacion.org/reset" not in warning.summary + warning.body
    assert "el remitente no es registro@secop.gov.co" in warning.body
    time.sleep(1)
    assert len(notification_server.notifications()) == 1
    assert svc.stop() == 0


def test_without_a_notification_server_the_service_logs_and_goes_on(
    dovecot: Dovecot, tmp_path: Path, isolated_env: Path
) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot, watch="poll_seconds = 3600")
    env = {
        "SECOP_WATCHER_PASSWORD": dovecot.password("jperez"),
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus",
        "DISPLAY": "",
    }
    svc = Background("--config", str(cfg), "-v", "run", env=env)
    svc.wait_for("IDLE connection ready", count=2)
    dovecot.append("jperez", "INBOX", reset("jperez", "x1"))
    svc.wait_for("announced a new link for jperez")
    dovecot.append("jperez", "INBOX", reset("mgomez", "x2"))
    svc.wait_for("announced a new link for mgomez")
    assert svc.proc.poll() is None
    warnings = [line for line in svc.lines if "notification" in line.lower() and "WARNING" in line]
    assert len(warnings) == 1, svc.lines
    assert svc.stop() == 0
    log_text = (isolated_env / "logs" / "secop-watcher.log").read_text()
    assert "announced a new link for jperez" in log_text
    assert "token=" not in log_text and "token=" not in "\n".join(svc.lines)
