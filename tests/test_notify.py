"""Notifications against a real notification server (dunst on a private bus).

The only thing faked is ``webbrowser.open`` (so no browser starts): every
notification goes over D-Bus to dunst, the clipboard is the real X clipboard
of the test display, and the command hook runs a real program.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import tempfile
import textwrap
import time
import webbrowser
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from desktop_notifier import Capability, Notification
from desktop_notifier.backends.base import DesktopNotifierBackend
from desktop_notifier.backends.dummy import DummyNotificationCenter

from tests.conftest import require_binaries
from tests.notifyserver import NotificationServer, Recorder, clipboard_text
from watcher import clipboard
from watcher.config import NotifyConfig
from watcher.model import Link, Status, Suspicious
from watcher.notify import (
    CommandHook,
    DesktopNotifications,
    FanOut,
    NullNotifier,
    build_notifier,
)
from watcher.notify.platforms import applescript_string, osascript_argv

TOKEN = "tok-9f8e7d6c5b4a"
URL = f"https://community.secop.gov.co/STS/Users/ResetPassword/Index?token={TOKEN}"
# 19:05 UTC is 14:05 in Bogotá (UTC-5, no DST).
RECEIVED = datetime(2026, 11, 25, 19, 5, tzinfo=UTC)


def make_link(url: str = URL, username: str | None = "jperez", folder: str = "Spam") -> Link:
    return Link(
        username=username,
        url=url,
        received=RECEIVED,
        folder=folder,
        message_id="<reset-1@secop.gov.co>",
        status=Status.CURRENT,
    )


SUSPICIOUS = Suspicious(
    received=RECEIVED,
    folder="INBOX",
    message_id="<phish@evil>",
    sender="notificaciones@secop-gov-actualizacion.org",
    subject="Restablecer contraseña",
    url="https://secop-gov-actualizacion.org/reset?u=jperez",
    reasons=("sender_mismatch", "host_not_allowed"),
)


@pytest.fixture(autouse=True)
def bogota_time() -> Iterator[None]:
    """Local time = Colombia (POSIX TZ string: works without tzdata)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "<-05>5"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture
def desktop(notification_server: NotificationServer) -> Iterator[DesktopNotifications]:
    notifier = DesktopNotifications()
    yield notifier
    notifier.close()


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(webbrowser, "open", recorder)
    return recorder


def in_two_hours() -> datetime:
    return datetime.now(UTC) + timedelta(hours=2)


# --- announce ------------------------------------------------------------------


def test_announce_shows_one_spanish_notification_without_the_url(
    notification_server: NotificationServer,
    desktop: DesktopNotifications,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    expires = in_two_hours()
    t0 = time.monotonic()
    handle = desktop.announce(make_link(), lang="es", expires_at=expires)
    returned = time.monotonic() - t0

    assert handle
    [seen] = notification_server.wait_for_notifications(1)
    latency = seen.seen_at - t0
    with capsys.disabled():
        print(f"\n  notify latency: Notify seen {latency * 1000:.1f} ms after announce(); ", end="")
        print(f"announce() returned after {returned * 1000:.1f} ms")
    assert latency < 2

    assert seen.app_name == "secop-watcher"
    assert seen.replaces_id == 0
    assert seen.summary == "SECOP II: enlace para jperez"
    end = expires.astimezone()
    same_day = end.date() == RECEIVED.astimezone().date()
    # As Colombia writes it: a 12-hour clock with "a. m."/"p. m.", the day without a zero.
    ampm = "a. m." if end.hour < 12 else "p. m."
    clock = f"{end.hour % 12 or 12}:{end:%M} {ampm}"
    until = clock if same_day else f"{clock} del {end.day}/{end:%m}/{end.year}"
    assert seen.body == (
        "Llegó a las 2:05 p. m. del 25/11/2026 a la carpeta Spam. "
        f"Úselo una sola vez; vence a las {until}. Remitente sin verificar."
    )
    assert seen.action_labels == {"open": "Abrir enlace", "copy": "Copiar enlace"}
    assert seen.urgency == 1
    # The notification dies with the link: 2 h, in milliseconds.
    assert 2 * 3600 * 1000 - 5000 <= seen.expire_timeout <= 2 * 3600 * 1000
    # The one-time token is nowhere: not in the text, not in the hints, not in the logs.
    assert TOKEN not in repr(seen)
    assert TOKEN not in caplog.text
    assert "jperez" in caplog.text  # the user name may be logged
    assert notification_server.wait_displayed(1) == 1
    assert len(notification_server.notifications()) == 1


def test_announce_in_english(
    notification_server: NotificationServer, desktop: DesktopNotifications
) -> None:
    desktop.announce(make_link(folder="[Gmail]/Spam"), lang="en", expires_at=in_two_hours())
    [seen] = notification_server.wait_for_notifications(1)
    assert seen.summary == "SECOP II: link for jperez"
    assert seen.body.startswith(
        "Arrived at 14:05 on 2026-11-25 in folder [Gmail]/Spam. Use it once"
    )
    assert seen.action_labels == {"open": "Open link", "copy": "Copy link"}


def test_announce_escapes_markup_in_folder_names(
    notification_server: NotificationServer, desktop: DesktopNotifications
) -> None:
    desktop.announce(make_link(folder="Spam & <Junk>"), lang="es", expires_at=in_two_hours())
    [seen] = notification_server.wait_for_notifications(1)
    assert "a la carpeta Spam &amp; &lt;Junk&gt;." in seen.body


def test_withdraw_closes_the_notification(
    notification_server: NotificationServer, desktop: DesktopNotifications
) -> None:
    handle = desktop.announce(make_link(), lang="es", expires_at=in_two_hours())
    assert handle is not None
    [seen] = notification_server.wait_for_notifications(1)
    assert notification_server.wait_displayed(1) == 1

    desktop.withdraw(handle)

    closed = notification_server.wait_for("closed", seen.id or -1)
    assert notification_server.close_requests() == [seen.id]
    assert closed.detail == 3  # closed by a CloseNotification call
    assert notification_server.wait_displayed(0) == 0
    # Withdrawing again (or an unknown handle) is harmless and sends nothing.
    desktop.withdraw(handle)
    desktop.withdraw("not-a-handle")
    assert notification_server.close_requests() == [seen.id]


def test_notification_expires_with_the_link(
    notification_server: NotificationServer, desktop: DesktopNotifications
) -> None:
    handle = desktop.announce(
        make_link(), lang="es", expires_at=datetime.now(UTC) + timedelta(seconds=2)
    )
    assert handle is not None
    [seen] = notification_server.wait_for_notifications(1)
    assert seen.expire_timeout == 2000

    closed = notification_server.wait_for("closed", seen.id or -1, timeout=6)
    assert closed.detail == 1  # expired, closed by dunst itself
    assert 1.5 <= closed.seen_at - seen.seen_at <= 4
    assert notification_server.displayed() == 0
    desktop.withdraw(handle)  # the service may still withdraw it: nothing breaks
    assert notification_server.close_requests() == []


def test_expired_link_still_gets_at_least_one_second(
    notification_server: NotificationServer, desktop: DesktopNotifications
) -> None:
    desktop.announce(make_link(), lang="es", expires_at=datetime.now(UTC) - timedelta(hours=1))
    [seen] = notification_server.wait_for_notifications(1)
    assert seen.expire_timeout == 1000


# --- buttons -------------------------------------------------------------------


def test_open_button_hands_the_url_to_the_browser(
    notification_server: NotificationServer, desktop: DesktopNotifications, browser: Recorder
) -> None:
    desktop.announce(make_link(), lang="es", expires_at=in_two_hours())
    [seen] = notification_server.wait_for_notifications(1)
    assert seen.id is not None

    notification_server.invoke_action(seen.id, "open")

    assert browser.event.wait(5), "webbrowser.open was not called"
    assert browser.calls == [(URL,)]


def test_copy_button_puts_the_url_on_the_clipboard(
    notification_server: NotificationServer, desktop: DesktopNotifications, browser: Recorder
) -> None:
    require_binaries("xclip")
    desktop.announce(make_link(), lang="es", expires_at=in_two_hours())
    [seen] = notification_server.wait_for_notifications(1)
    assert seen.id is not None
    assert clipboard_text(notification_server.env) != URL

    notification_server.invoke_action(seen.id, "copy")

    deadline = time.monotonic() + 5
    while clipboard_text(notification_server.env) != URL and time.monotonic() < deadline:
        time.sleep(0.05)
    assert clipboard_text(notification_server.env) == URL
    assert browser.calls == []  # copying never opens the link


def test_copy_without_clipboard_tool_tells_the_user(
    notification_server: NotificationServer,
    desktop: DesktopNotifications,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    desktop.announce(make_link(), lang="es", expires_at=in_two_hours())
    [seen] = notification_server.wait_for_notifications(1)
    assert seen.id is not None
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no xclip, xsel, wl-copy

    notification_server.invoke_action(seen.id, "copy")

    _, told = notification_server.wait_for_notifications(2)
    assert told.summary == "SECOP II: no se pudo copiar el enlace"
    assert "xclip" in told.body
    assert told.actions == []


# --- warnings and problems -------------------------------------------------------


def test_warn_is_critical_without_any_action_and_lists_the_reasons(
    notification_server: NotificationServer,
    desktop: DesktopNotifications,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    handle = desktop.warn(SUSPICIOUS, lang="es")
    assert handle
    [seen] = notification_server.wait_for_notifications(1)
    assert seen.summary == "⚠ SECOP II: correo sospechoso"
    assert seen.urgency == 2
    assert seen.actions == []  # not even the implicit "default" (click) action
    assert seen.body == (
        "En la carpeta INBOX (2:05 p. m. del 25/11/2026), de "
        "notificaciones@secop-gov-actualizacion.org: el remitente no es "
        "registro@secop.gov.co; el enlace no lleva a secop.gov.co. No abra su enlace ni "
        "responda."
    )
    assert "reset?u=" not in repr(seen)
    assert "reset?u=" not in caplog.text


def test_warn_in_english(
    notification_server: NotificationServer, desktop: DesktopNotifications
) -> None:
    desktop.warn(SUSPICIOUS, lang="en")
    [seen] = notification_server.wait_for_notifications(1)
    assert seen.summary == "⚠ SECOP II: suspicious mail"
    assert "the sender is not registro@secop.gov.co" in seen.body
    assert "the link does not lead to secop.gov.co" in seen.body
    assert seen.actions == []


def test_problem_repeated_stays_one_notification(
    notification_server: NotificationServer, desktop: DesktopNotifications
) -> None:
    title = "SECOP II: el servidor rechazó la contraseña"
    desktop.problem(title, "Ejecute «secop-watcher setup».")
    [first] = notification_server.wait_for_notifications(1)
    desktop.problem(title, "Ejecute «secop-watcher setup».")
    _, second = notification_server.wait_for_notifications(2)

    assert first.summary == second.summary == title
    assert first.actions == second.actions == []
    assert notification_server.close_requests() == [first.id]
    assert notification_server.wait_displayed(1) == 1


def test_close_withdraws_link_notifications(notification_server: NotificationServer) -> None:
    notifier = DesktopNotifications()
    notifier.announce(make_link(), lang="es", expires_at=in_two_hours())
    notifier.warn(SUSPICIOUS, lang="es")
    link, warning = notifier_seen = notification_server.wait_for_notifications(2)
    assert len(notifier_seen) == 2

    notifier.close()
    notifier.close()  # idempotent

    assert notification_server.close_requests() == [link.id]  # the warning stays
    assert notification_server.wait_displayed(1) == 1
    assert notifier.announce(make_link(), lang="es", expires_at=in_two_hours()) is None
    assert warning.id not in notification_server.close_requests()


# --- no notification server ------------------------------------------------------


@pytest.fixture
def dead_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A session-bus address whose socket exists but where nobody listens."""
    folder = Path(tempfile.mkdtemp(prefix="secop-nobus-"))
    path = folder / "bus"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={path}")
    yield str(path)
    path.unlink(missing_ok=True)
    folder.rmdir()


@pytest.mark.parametrize("bus", ["dead socket", "no bus at all"])
def test_without_notification_server_warns_once_and_never_raises(
    bus: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if bus == "dead socket":
        request.getfixturevalue("dead_bus")
    else:
        monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
        monkeypatch.delenv("DISPLAY", raising=False)
        monkeypatch.setenv("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="secop-xdg-"))
    caplog.set_level(logging.DEBUG)
    notifier = DesktopNotifications(call_timeout=5)
    try:
        t0 = time.monotonic()
        assert notifier.announce(make_link(), lang="es", expires_at=in_two_hours()) is None
        assert notifier.announce(make_link(), lang="en", expires_at=in_two_hours()) is None
        assert notifier.warn(SUSPICIOUS, lang="es") is None
        notifier.withdraw("whatever")
        notifier.problem("SECOP II", "algo")
        assert time.monotonic() - t0 < 5
    finally:
        notifier.close()

    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].name == "watcher.notify"
    assert "desktop notifications are unavailable" in warnings[0].getMessage()
    assert TOKEN not in caplog.text


# --- command hook ----------------------------------------------------------------

HOOK = textwrap.dedent(
    """
    import json, os, sys
    values = {k: v for k, v in os.environ.items() if k.startswith("SECOP_WATCHER_")}
    values["_ppid"] = os.getppid()
    values["_argv"] = sys.argv[1:]
    values["_stdin"] = sys.stdin.read()
    with open(sys.argv[1], "a") as out:
        out.write(json.dumps(values) + "\\n")
    print("output that must not be echoed")
    print("nor this", file=sys.stderr)
    """
)


@pytest.fixture
def hook_script(tmp_path: Path) -> Path:
    script = tmp_path / "hook.py"
    script.write_text(HOOK)
    return script


def read_runs(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_command_hook_passes_details_in_the_environment_only(
    tmp_path: Path,
    hook_script: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "runs with space.jsonl"
    marker1, marker2 = tmp_path / "x", tmp_path / "y"
    url = f"https://community.secop.gov.co/r?t=1;touch {marker1}&u=$(touch {marker2})`id`'\"|"
    monkeypatch.setenv("SECOP_WATCHER_PASSWORD", "hunter2")  # must not reach the hook
    monkeypatch.setenv("SECOP_WATCHER_URL", "stale")  # nor stale values
    expires = RECEIVED + timedelta(hours=24)
    hook = CommandHook((sys.executable, str(hook_script), str(out)))

    assert (
        hook.announce(make_link(url=url, username="jp;rm -rf"), lang="es", expires_at=expires)
        is None
    )
    hook.warn(SUSPICIOUS, lang="en")

    link_run, warn_run = read_runs(out)
    assert link_run == {
        "SECOP_WATCHER_EVENT": "link",
        "SECOP_WATCHER_URL": url,
        "SECOP_WATCHER_USERNAME": "jp;rm -rf",
        "SECOP_WATCHER_FOLDER": "Spam",
        "SECOP_WATCHER_RECEIVED": "2026-11-25T19:05:00+00:00",
        "SECOP_WATCHER_MESSAGE_ID": "<reset-1@secop.gov.co>",
        "SECOP_WATCHER_EXPIRES": "2026-11-26T19:05:00+00:00",
        "SECOP_WATCHER_LANG": "es",
        "SECOP_WATCHER_ACCOUNT": "",  # the [imap] form: one mailbox, no name
        "SECOP_WATCHER_STATE_DIR": os.environ["SECOP_WATCHER_STATE_DIR"],
        "SECOP_WATCHER_CONFIG_DIR": os.environ["SECOP_WATCHER_CONFIG_DIR"],
        "SECOP_WATCHER_LOG_DIR": os.environ["SECOP_WATCHER_LOG_DIR"],
        "SECOP_WATCHER_TEST_KEYRING": os.environ["SECOP_WATCHER_TEST_KEYRING"],
        "_ppid": os.getpid(),  # started by us directly: no shell in between
        "_argv": [str(out)],
        "_stdin": "",
    }
    assert not marker1.exists()
    assert not marker2.exists()
    assert warn_run["SECOP_WATCHER_EVENT"] == "suspicious"
    assert "SECOP_WATCHER_URL" not in warn_run  # a script must never pick a forged link
    assert warn_run["SECOP_WATCHER_SENDER"] == "notificaciones@secop-gov-actualizacion.org"
    assert warn_run["SECOP_WATCHER_REASONS"] == "sender_mismatch,host_not_allowed"
    assert warn_run["SECOP_WATCHER_FOLDER"] == "INBOX"
    assert warn_run["SECOP_WATCHER_USERNAME"] == ""
    assert warn_run["SECOP_WATCHER_LANG"] == "en"
    captured = capfd.readouterr()
    assert "must not be echoed" not in captured.out + captured.err
    assert "nor this" not in captured.out + captured.err


def test_command_hook_failures_are_logged_without_the_url(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    failing = tmp_path / "fail.py"
    failing.write_text("import sys; sys.exit(3)\n")
    expires = in_two_hours()

    CommandHook((sys.executable, str(failing))).announce(make_link(), lang="es", expires_at=expires)
    CommandHook((str(tmp_path / "no-such-program"), "--flag")).announce(
        make_link(), lang="es", expires_at=expires
    )
    t0 = time.monotonic()
    CommandHook((sys.executable, "-c", "import time; time.sleep(30)"), timeout=0.5).announce(
        make_link(), lang="es", expires_at=expires
    )
    assert time.monotonic() - t0 < 5
    CommandHook(()).announce(make_link(), lang="es", expires_at=expires)

    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    program = Path(sys.executable).name
    assert messages == [
        f"[notify] command {program} failed (exit code 3)",
        "[notify] command no-such-program could not start: No such file or directory",
        f"[notify] command {program} did not finish within 0.5 s and was stopped",
        "[notify] command is empty; it will not run",
    ]
    assert TOKEN not in caplog.text


# --- composition -----------------------------------------------------------------


def test_build_notifier_off_and_command_only(hook_script: Path, tmp_path: Path) -> None:
    assert isinstance(build_notifier(NotifyConfig(desktop=False)), NullNotifier)
    null = build_notifier(NotifyConfig(desktop=False))
    assert null.announce(make_link(), lang="es", expires_at=in_two_hours()) is None
    hook = build_notifier(NotifyConfig(desktop=False, command=("true",)))
    assert isinstance(hook, CommandHook)


def test_build_notifier_fans_out_to_desktop_and_command(
    notification_server: NotificationServer, hook_script: Path, tmp_path: Path
) -> None:
    out = tmp_path / "runs.jsonl"
    notifier = build_notifier(
        NotifyConfig(desktop=True, command=(sys.executable, str(hook_script), str(out)))
    )
    try:
        assert isinstance(notifier, FanOut)
        handle = notifier.announce(make_link(), lang="es", expires_at=in_two_hours())
        assert handle is not None
        [seen] = notification_server.wait_for_notifications(1)
        assert seen.summary == "SECOP II: enlace para jperez"
        [run] = read_runs(out)
        assert run["SECOP_WATCHER_URL"] == URL

        notifier.withdraw(handle)
        notification_server.wait_for("closed", seen.id or -1)
        assert notification_server.close_requests() == [seen.id]
    finally:
        notifier.close()


# --- clipboard and the test server itself -------------------------------------------


def test_clipboard_copy_without_any_tool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert clipboard.copy("x") is False


def test_clipboard_copy_roundtrip(notification_server: NotificationServer) -> None:
    require_binaries("xclip")
    text = "https://community.secop.gov.co/ñ?a=1&b=$(x)"
    assert clipboard.copy(text) is True
    assert clipboard_text(notification_server.env) == text


def test_server_teardown_leaves_no_process(notification_server: NotificationServer) -> None:
    pids = notification_server.pids()
    assert set(pids) == {"dbus-daemon", "Xvfb", "dunst"}
    notification_server.stop()
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# --- other platforms' facts (Windows, macOS), injected ------------------------------
#
# desktop-notifier's WinRT and macOS backends cannot load here; what the code does with
# them is read from their source (watcher/notify/platforms.py) and tested with stand-ins
# that behave as they do: the library's own dummy backend (what it hands back on macOS
# outside an app bundle), a recording backend for the real ones, a fake osascript runner.


class FakeNative(DesktopNotifierBackend):
    """Stands in for CocoaNotificationCenter / WinRTDesktopNotifier: records what it gets."""

    granted = True
    sent: list[Notification]
    cleared: list[str]

    async def request_authorisation(self) -> bool:
        return type(self).granted

    async def has_authorisation(self) -> bool:
        return type(self).granted

    async def _send(self, notification: Notification) -> None:
        type(self).sent.append(notification)

    async def _clear(self, identifier: str) -> None:
        type(self).cleared.append(identifier)

    async def _clear_all(self) -> None:
        return None

    async def _get_capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.TITLE, Capability.MESSAGE, Capability.BUTTONS})


def fake_native(granted: bool = True) -> type[FakeNative]:
    return type("FakeNative", (FakeNative,), {"granted": granted, "sent": [], "cleared": []})


class FakeOsascript:
    def __init__(self, code: int = 0) -> None:
        self.code = code
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> int:
        self.calls.append(list(argv))
        return self.code


def test_applescript_string_escapes_quotes_backslashes_and_line_breaks() -> None:
    assert applescript_string('a "b" \\c\nd\te') == '"a \\"b\\" \\\\c d e"'
    assert osascript_argv('T "x"', "m") == [
        "osascript",
        "-e",
        'display notification "m" with title "T \\"x\\""',
    ]


def test_macos_outside_an_app_bundle_falls_back_to_osascript(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    runner = FakeOsascript()
    # What get_backend_class() returns on macOS when Python is not an app bundle.
    notifier = DesktopNotifications(
        platform="darwin", native=lambda: DummyNotificationCenter, osascript=runner
    )
    try:
        link = make_link(folder='Spam "raro" \\ x\ny')
        handle = notifier.announce(link, lang="es", expires_at=in_two_hours())
        assert handle is not None
        notifier.withdraw(handle)  # osascript cannot take it back: harmless
        assert notifier.warn(SUSPICIOUS, lang="es") is not None
    finally:
        notifier.close()
    [argv, warning] = runner.calls
    assert argv[:2] == ["osascript", "-e"] and len(argv) == 3  # an argv list, no shell
    script = argv[2]
    assert script.startswith('display notification "Llegó a las 2:05 p. m. del 25/11/2026 ')
    assert script.endswith(' with title "SECOP II: enlace para jperez"')
    assert 'a la carpeta Spam \\"raro\\" \\\\ x y.' in script  # escaped, one line
    assert "«secop-watcher check-now»" in script  # no buttons: where the link is
    assert "&amp;" not in script and TOKEN not in script and "token=" not in script
    assert "with title" in warning[2] and "correo sospechoso" in warning[2]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "macOS Notification Center cannot be used" in warnings[0]
    assert "python.org" in warnings[0] and "osascript" in warnings[0]
    assert TOKEN not in caplog.text


def test_macos_refused_authorisation_falls_back_to_osascript() -> None:
    runner = FakeOsascript()
    native = fake_native(granted=False)
    notifier = DesktopNotifications(platform="darwin", native=lambda: native, osascript=runner)
    try:
        assert notifier.announce(make_link(), lang="en", expires_at=in_two_hours())
    finally:
        notifier.close()
    assert native.sent == []
    [argv] = runner.calls
    assert 'To see it: \\"secop-watcher check-now\\".' in argv[2]


def test_macos_osascript_failing_is_one_warning_and_nothing_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = FakeOsascript(code=1)
    notifier = DesktopNotifications(
        platform="darwin", native=lambda: DummyNotificationCenter, osascript=runner
    )
    try:
        assert notifier.announce(make_link(), lang="es", expires_at=in_two_hours()) is None
        assert notifier.announce(make_link(), lang="es", expires_at=in_two_hours()) is None
    finally:
        notifier.close()
    assert len(runner.calls) == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings  # the fallback, once; unavailable, once
    assert "desktop notifications are unavailable" in warnings[1]


def test_macos_notification_center_gets_no_buttons_and_is_withdrawn() -> None:
    native = fake_native()
    notifier = DesktopNotifications(
        platform="darwin", native=lambda: native, osascript=FakeOsascript()
    )
    try:
        handle = notifier.announce(make_link(), lang="es", expires_at=in_two_hours())
        assert handle is not None
        notifier.withdraw(handle)
    finally:
        notifier.close()
    [sent] = native.sent
    # No CFRunLoop in the service: a button could never answer, so none is offered.
    assert sent.buttons == ()
    assert sent.message.endswith("Para verlo: «secop-watcher check-now».")
    assert sent.timeout == -1  # macOS ignores it: the service withdraws the notification
    assert TOKEN not in sent.message
    assert native.cleared == [handle]


def test_windows_toasts_keep_their_buttons_and_plain_text() -> None:
    native = fake_native()
    notifier = DesktopNotifications(platform="win32", native=lambda: native)
    try:
        handle = notifier.announce(
            make_link(folder="Spam & <Junk>"), lang="es", expires_at=in_two_hours()
        )
        assert handle is not None
        notifier.withdraw(handle)
    finally:
        notifier.close()
    [sent] = native.sent
    assert [b.identifier for b in sent.buttons] == ["open", "copy"]
    assert "a la carpeta Spam & <Junk>." in sent.message  # a toast is not markup
    assert sent.timeout == -1
    assert native.cleared == [handle]


def test_windows_notifications_turned_off_warn_once_and_recover(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    native = fake_native(granted=False)
    notifier = DesktopNotifications(platform="win32", native=lambda: native)
    try:
        assert notifier.announce(make_link(), lang="es", expires_at=in_two_hours()) is None
        assert notifier.announce(make_link(), lang="es", expires_at=in_two_hours()) is None
        native.granted = True  # the user turns them on in Settings
        assert notifier.announce(make_link(), lang="es", expires_at=in_two_hours())
    finally:
        notifier.close()
    assert len(native.sent) == 1
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert sum("unavailable" in m for m in messages) == 1
    assert "turned off in the settings" in messages[0]
    assert "doctor" in messages[0] and "D-Bus" not in messages[0]
    assert "desktop notifications work again" in messages


def test_a_backend_that_cannot_load_is_one_log_line_and_the_hook_goes_on(
    caplog: pytest.LogCaptureFixture, hook_script: Path, tmp_path: Path
) -> None:
    def no_winrt() -> type[DesktopNotifierBackend]:
        raise ModuleNotFoundError("No module named 'winrt'")

    out = tmp_path / "runs.jsonl"
    desktop = DesktopNotifications(platform="win32", native=no_winrt)
    notifier = FanOut([desktop, CommandHook((sys.executable, str(hook_script), str(out)))])
    try:
        t0 = time.monotonic()
        assert notifier.announce(make_link(), lang="es", expires_at=in_two_hours()) is None
        assert notifier.warn(SUSPICIOUS, lang="es") is None
        notifier.withdraw("whatever")
        notifier.problem("SECOP II", "algo")
        assert notifier.announce(make_link(), lang="es", expires_at=in_two_hours()) is None
        assert time.monotonic() - t0 < 5
    finally:
        notifier.close()
    assert [r["SECOP_WATCHER_EVENT"] for r in read_runs(out)] == ["link", "suspicious", "link"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "desktop notifications cannot be used on this system (ModuleNotFoundError: No module "
        "named 'winrt'); the service goes on without them ([notify] command still runs; "
        "'secop-watcher doctor' says more)"
    ]


def test_build_notifier_survives_a_desktop_that_cannot_be_built(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import watcher.notify

    def unavailable(**_kwargs: Any) -> DesktopNotifications:
        raise RuntimeError("platform not available")

    monkeypatch.setattr(watcher.notify, "DesktopNotifications", unavailable)
    notifier = build_notifier(NotifyConfig(desktop=True, command=("true",)))
    assert isinstance(notifier, CommandHook)
    assert isinstance(build_notifier(NotifyConfig(desktop=True)), NullNotifier)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert (
        warnings
        == [
            "desktop notifications cannot be used on this system (RuntimeError: platform not "
            "available); the service goes on without them"
        ]
        * 2
    )


@pytest.mark.parametrize(
    ("copied", "expected", "never"),
    [
        (clipboard.Copied(False, clipboard.NO_DISPLAY), "pantalla gráfica", "xclip"),
        (clipboard.Copied(False, clipboard.NO_TOOL, install="xclip"), "xclip", "pantalla gráfica"),
    ],
)
def test_the_copy_button_says_what_really_went_wrong(
    monkeypatch: pytest.MonkeyPatch, copied: clipboard.Copied, expected: str, never: str
) -> None:
    """Without a display the notification never says "install xclip" (it would not help)."""
    from watcher.notify import desktop

    said: list[tuple[str, str]] = []
    monkeypatch.setattr(desktop.clipboard, "copy_text", lambda _text: copied)
    notifier = object.__new__(desktop.DesktopNotifications)
    monkeypatch.setattr(
        notifier, "problem", lambda title, body: said.append((title, body)), raising=False
    )
    desktop.DesktopNotifications._copy(notifier, "https://x.example/", "jperez", "es")
    assert len(said) == 1
    assert expected in said[0][1] and never not in said[0][1], said
