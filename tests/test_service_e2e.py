"""``secop-watcher run`` end to end: real Dovecot, real dunst on a private D-Bus session."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import cliutil
from tests import mailfactory as mf
from tests.cliutil import Background, run, write_config
from tests.servers.dovecot import Dovecot
from watcher.announcer import Announcer
from watcher.config import Config, ImapConfig
from watcher.model import Link, Report, Status
from watcher.notify import NullNotifier
from watcher.service import Service
from watcher.state import StateStore


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
    # The password came from password_command: the advice names it (setup cannot help).
    assert state(isolated_env)["last_error"]["key"] == "error.auth_from_command"
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


# --- the platform's facts injected into the real service ---------------------------
#
# ``secop-watcher run`` as the console script runs it, after a few lines that change one
# platform fact (watcher/notify/platforms.py): everything else is the real service, the
# real Dovecot and the real dunst.

PATCHED_RUN = """\
import dataclasses
import sys

{patch}

from watcher.cli import main

sys.exit(main())
"""

SERVER_IGNORES_EXPIRY = """\
from watcher.notify import platforms

_real = platforms.facts


def _facts(platform=sys.platform):
    # As on Windows and macOS: the expire timeout is not the server's business.
    return dataclasses.replace(_real(platform), expires_itself=False)


platforms.facts = _facts
"""

NOTIFIER_CANNOT_BE_BUILT = """\
from watcher.notify import desktop


def _broken(self, **kwargs):
    raise RuntimeError("platform not available")


desktop.DesktopNotifications.__init__ = _broken
"""

BACKEND_CANNOT_LOAD = """\
from watcher.notify import platforms

_real = platforms.facts
platforms.facts = lambda platform=sys.platform: _real("win32")


def _no_winrt():
    raise ModuleNotFoundError("No module named 'winrt'")


platforms.native_class = _no_winrt
"""

HOOK = """\
import json, os, sys
with open(sys.argv[1], "a") as out:
    out.write(json.dumps({k: v for k, v in os.environ.items() if k.startswith("SECOP_")}) + "\\n")
"""


def start_patched(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    patch: str,
    cfg: Path,
    env: dict[str, str],
    password: str,
) -> Background:
    script = tmp_path / "patched_run.py"
    script.write_text(PATCHED_RUN.format(patch=patch))
    monkeypatch.setattr(cliutil, "executable", lambda: sys.executable)
    full = dict(env)
    full["SECOP_WATCHER_PASSWORD"] = password
    return Background(str(script), "--config", str(cfg), "-v", "run", env=full)


def test_a_notification_is_withdrawn_when_its_link_expires_where_the_server_would_not(
    dovecot: Dovecot,
    notification_server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ "A notification never stays on screen for a dead link": on Windows and macOS the
    expire timeout is ignored, so the service withdraws it itself, at the link's expiry
    (one scheduler job at that moment, not a timer ticking meanwhile)."""
    ns = notification_server
    # poll_seconds = 3600: the poll tick cannot be what withdraws it.
    cfg = write_config(
        tmp_path / "c.toml", dovecot, watch="poll_seconds = 3600\nmax_link_age_hours = 0.0015"
    )
    svc = start_patched(
        monkeypatch, tmp_path, SERVER_IGNORES_EXPIRY, cfg, ns.env, dovecot.password("jperez")
    )
    svc.wait_for("IDLE connection ready", count=2)
    dovecot.append("jperez", "INBOX", reset("jperez", "short"))
    seen = ns.wait_for_notifications(1)[0]
    assert seen.summary == "SECOP II: enlace para jperez"
    assert seen.expire_timeout == -1  # dunst was not told when the link dies
    assert ns.wait_displayed(1) == 1
    # The link lives 5.4 s from its Date; dunst's own default timeout would be 10 s.
    closed = ns.wait_for("closed", seen.id or -1, timeout=9)
    assert closed.detail == 3  # CloseNotification: withdrawn by the service, not by dunst
    assert closed.seen_at - seen.seen_at <= 6.5
    assert ns.close_requests() == [seen.id]
    assert ns.wait_displayed(0) == 0
    svc.wait_for("the link's notification was withdrawn: the link expired")
    assert svc.stop() == 0
    assert ns.close_requests() == [seen.id]  # nothing left to withdraw at the stop
    assert "Traceback" not in "\n".join(svc.lines)


@pytest.mark.parametrize(
    "patch", [NOTIFIER_CANNOT_BE_BUILT, BACKEND_CANNOT_LOAD], ids=["at build", "at first use"]
)
def test_desktop_notifications_that_cannot_work_are_one_line_and_the_hook_goes_on(
    patch: str,
    dovecot: Dovecot,
    notification_server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook, out = tmp_path / "hook.py", tmp_path / "runs.jsonl"
    hook.write_text(HOOK)
    command = json.dumps([sys.executable, str(hook), str(out)])
    cfg = write_config(
        tmp_path / "c.toml",
        dovecot,
        watch=f"poll_seconds = 3600\n\n[notify]\ncommand = {command}",
    )
    svc = start_patched(
        monkeypatch, tmp_path, patch, cfg, notification_server.env, dovecot.password("jperez")
    )
    svc.wait_for("IDLE connection ready", count=2)
    dovecot.append("jperez", "INBOX", reset("jperez", "h1"))
    svc.wait_for("announced a new link for jperez")
    dovecot.append("jperez", "Spam", reset("mgomez", "h2"))
    svc.wait_for("announced a new link for mgomez")
    deadline = time.monotonic() + 10
    while (not out.exists() or len(out.read_text().splitlines()) < 2) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    runs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["SECOP_WATCHER_USERNAME"] for r in runs] == ["jperez", "mgomez"]
    assert runs[0]["SECOP_WATCHER_URL"] == mf.reset_url("h1")
    assert svc.proc.poll() is None
    said = [line for line in svc.lines if "desktop notifications cannot be used" in line]
    assert len(said) == 1, svc.lines
    assert "WARNING" in said[0]
    assert notification_server.notifications() == []
    assert svc.stop() == 0
    assert "Traceback" not in "\n".join(svc.lines)


class Recorder(NullNotifier):
    """A notifier that records (the withdrawal bookkeeping, without a server)."""

    def __init__(self) -> None:
        self.withdrawn: list[str] = []
        self.n = 0

    def announce(self, link: Link, *, lang: str, expires_at: datetime) -> str | None:
        self.n += 1
        return f"h{self.n}"

    def withdraw(self, handle: str) -> None:
        self.withdrawn.append(handle)


def test_expired_links_are_withdrawn_once_and_the_next_expiry_is_known(tmp_path: Path) -> None:
    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    rec = Recorder()
    announcer = Announcer(rec, "es", timedelta(hours=1))
    store = StateStore(tmp_path / "state.json")

    def link(user: str, minutes_ago: int) -> Link:
        received = now - timedelta(minutes=minutes_ago)
        url = f"https://community.secop.gov.co/{user}/{minutes_ago}"
        return Link(user, url, received, "INBOX", f"<{user}@x>", Status.CURRENT)

    with store.update() as state:
        announcer.apply(Report(now, current=[link("a", 50), link("b", 10)]), state, now)
    assert announcer.next_expiry() == now + timedelta(minutes=10)
    assert announcer.withdraw_expired(now) == now + timedelta(minutes=10)
    assert rec.withdrawn == []
    later = now + timedelta(minutes=10)
    assert announcer.withdraw_expired(later) == now + timedelta(minutes=50)
    assert rec.withdrawn == ["h1"]
    assert announcer.withdraw_expired(later) == now + timedelta(minutes=50)
    assert rec.withdrawn == ["h1"]  # once
    # A newer link for b replaces b's notification: its expiry goes with it.
    with store.update() as state:
        announcer.apply(Report(later, current=[link("b", -5)]), state, later)
    assert rec.withdrawn == ["h1", "h2"]
    assert announcer.next_expiry() == now + timedelta(minutes=65)
    assert announcer.withdraw_expired(now + timedelta(hours=2)) is None
    assert rec.withdrawn == ["h1", "h2", "h3"]
    assert announcer.handles == {} and announcer.expiries == {}


def test_the_poll_tick_withdraws_what_expired_meanwhile(tmp_path: Path) -> None:
    """After a suspend the expiry job comes late; the next tick looks too."""
    clock = [datetime(2026, 11, 25, 15, 0, tzinfo=UTC)]
    rec = Recorder()
    config = Config(ImapConfig(host="imap.invalid", username="jperez"))
    svc = Service(
        config,
        lambda: pytest.fail("no connection needed"),
        rec,
        lang="es",
        store=StateStore(tmp_path / "state.json"),
        clock=lambda: clock[0],
    )
    received = clock[0] - timedelta(hours=23)
    current = Link(
        "jperez", "https://community.secop.gov.co/x", received, "INBOX", "<m>", Status.CURRENT
    )
    with svc.store.update() as state:
        svc.announcer.apply(Report(clock[0], current=[current]), state, clock[0])
    svc._tick()
    assert rec.withdrawn == []
    clock[0] += timedelta(hours=1)
    svc._tick()
    assert rec.withdrawn == ["h1"]
