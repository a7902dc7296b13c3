"""A real, private desktop-notification stack for the tests.

Started per test by the ``notification_server`` fixture (tests/conftest.py):

* ``dbus-daemon`` with its own config (a session-type bus, **no service
  activation**, so nothing is ever started behind our back), address read from
  ``--print-address=<fd>``;
* ``Xvfb -displayfd <fd>``: X picks a free display number and tells it;
* ``dunst`` on that display and bus, with a minimal dunstrc whose ``dmenu`` is
  a tiny script: ``dunstctl context`` makes dunst show its action menu, the
  script picks the entry ``[<id>,<action>]`` we asked for, and dunst emits the
  real ``ActionInvoked`` signal, exactly as when a user picks a button;
* an eavesdropper: a D-Bus *monitor* connection (``BecomeMonitor``, the
  mechanism ``dbus-monitor`` uses), made with dbus-fast in a thread, so every
  argument arrives typed instead of parsed from dbus-monitor's text. It records
  each ``Notify`` call (and the id in dunst's reply), each ``CloseNotification``
  call, and the ``NotificationClosed`` / ``ActionInvoked`` signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

IFACE = "org.freedesktop.Notifications"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

DMENU = """#!/bin/sh
# dunst pipes its action menu here ("#label (summary) [id,action]" lines);
# answer with the one entry the test asked for.
exec grep -F -- "$(cat '{choice}')"
"""

DUNSTRC = """[global]
    dmenu = {dmenu}
    browser = /bin/false
    font = Monospace 8
"""


@dataclass
class Captured:
    """One ``Notify`` call as the notification server received it."""

    app_name: str
    replaces_id: int
    app_icon: str
    summary: str
    body: str
    actions: list[str]
    hints: dict[str, Any]
    expire_timeout: int
    seen_at: float  # time.monotonic() when the monitor saw the call
    sender: str = ""
    serial: int = 0
    id: int | None = None  # from the server's reply

    @property
    def action_labels(self) -> dict[str, str]:
        """``{action key: button label}``."""
        return dict(zip(self.actions[::2], self.actions[1::2], strict=True))

    @property
    def urgency(self) -> int | None:
        value = self.hints.get("urgency")
        return int(value) if value is not None else None


@dataclass
class Event:
    kind: str  # "close_call" | "closed" | "action"
    id: int
    detail: Any  # reason (closed), action key (action), None (close_call)
    seen_at: float


class _Monitor:
    """An eavesdropping D-Bus connection in its own thread and event loop."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.notifies: list[Captured] = []
        self.events: list[Event] = []
        self.cond = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._bus: MessageBus | None = None

    def start(self, timeout: float = 10) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._connect(), self._loop).result(timeout)

    async def _connect(self) -> None:
        bus = await MessageBus(bus_address=self.address).connect()
        rules = [
            f"type='method_call',interface='{IFACE}'",
            f"type='signal',interface='{IFACE}'",
            "type='method_return'",
        ]
        reply = await bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus.Monitoring",
                member="BecomeMonitor",
                signature="asu",
                body=[rules, 0],
            )
        )
        if reply is None or reply.message_type is not MessageType.METHOD_RETURN:
            raise RuntimeError(f"BecomeMonitor failed: {reply and reply.body}")
        bus.add_message_handler(self._on_message)
        self._bus = bus

    def _on_message(self, msg: Message) -> bool:
        now = time.monotonic()
        with self.cond:
            if msg.message_type is MessageType.METHOD_CALL and msg.interface == IFACE:
                if msg.member == "Notify":
                    app, replaces, icon, summary, body, actions, hints, expire = msg.body
                    self.notifies.append(
                        Captured(
                            app_name=app,
                            replaces_id=replaces,
                            app_icon=icon,
                            summary=summary,
                            body=body,
                            actions=list(actions),
                            hints={
                                k: v.value if isinstance(v, Variant) else v
                                for k, v in hints.items()
                            },
                            expire_timeout=expire,
                            seen_at=now,
                            sender=msg.sender or "",
                            serial=msg.serial,
                        )
                    )
                elif msg.member == "CloseNotification":
                    self.events.append(Event("close_call", msg.body[0], None, now))
            elif msg.message_type is MessageType.METHOD_RETURN:
                for captured in self.notifies:
                    if (
                        captured.id is None
                        and captured.serial == msg.reply_serial
                        and captured.sender == msg.destination
                    ):
                        captured.id = msg.body[0]
            elif msg.message_type is MessageType.SIGNAL and msg.interface == IFACE:
                if msg.member == "NotificationClosed":
                    self.events.append(Event("closed", msg.body[0], msg.body[1], now))
                elif msg.member == "ActionInvoked":
                    self.events.append(Event("action", msg.body[0], msg.body[1], now))
            self.cond.notify_all()
        return True  # a monitor must never answer anything

    def stop(self) -> None:
        if self._thread.is_alive():
            if self._bus is not None:
                self._loop.call_soon_threadsafe(self._bus.disconnect)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()


def _read_line(fd: int, timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise RuntimeError(f"{what} did not report within {timeout} s")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise RuntimeError(f"{what} exited before reporting")
        data += chunk
    return data.decode().strip()


class NotificationServer:
    """dbus-daemon + Xvfb + dunst + monitor, all private to one test."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.address = ""
        self.display = ""
        self.env: dict[str, str] = {}
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._monitor: _Monitor | None = None
        self._choice = workdir / "choice.txt"

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "bus.conf"
        config.write_text(BUS_CONFIG)
        self.address = self._spawn_reporting(
            "dbus-daemon",
            ["dbus-daemon", "--nofork", f"--config-file={config}", "--print-address={fd}"],
        )
        number = self._spawn_reporting(
            "Xvfb", ["Xvfb", "-displayfd", "{fd}", "-nolisten", "tcp", "-screen", "0", "800x600x24"]
        )
        self.display = f":{number}"
        self.env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
        self.env.update(DBUS_SESSION_BUS_ADDRESS=self.address, DISPLAY=self.display)

        self._monitor = _Monitor(self.address)
        self._monitor.start()

        dmenu = self.workdir / "dmenu.sh"
        dmenu.write_text(DMENU.format(choice=self._choice))
        dmenu.chmod(0o755)
        dunstrc = self.workdir / "dunstrc"
        dunstrc.write_text(DUNSTRC.format(dmenu=dmenu))
        log = (self.workdir / "dunst.log").open("wb")
        with log:
            self._procs.append(
                (
                    "dunst",
                    subprocess.Popen(
                        ["dunst", "-config", str(dunstrc)],
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=self.env,
                    ),
                )
            )
        self._wait_for_dunst()

    def _spawn_reporting(self, name: str, argv: list[str], timeout: float = 10) -> str:
        """Start ``argv`` with ``{fd}`` replaced by a pipe; return the line it writes there."""
        read_fd, write_fd = os.pipe()
        try:
            with (self.workdir / f"{name}.log").open("wb") as err:
                proc = subprocess.Popen(
                    [a.replace("{fd}", str(write_fd)) for a in argv],
                    pass_fds=(write_fd,),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
            self._procs.append((name, proc))
            os.close(write_fd)
            write_fd = -1
            return _read_line(read_fd, timeout, name)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)

    def _wait_for_dunst(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._dunstctl("count", "displayed", check=False).returncode == 0:
                return
            if self._procs[-1][1].poll() is not None:
                break
            time.sleep(0.05)
        log = (self.workdir / "dunst.log").read_text(errors="replace")
        raise RuntimeError(f"dunst did not come up on the test bus:\n{log}")

    def stop(self) -> None:
        if self._monitor is not None:
            self._monitor.stop()
            self._monitor = None
        for _name, proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._procs.clear()

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self._procs}

    # -- what the server saw ----------------------------------------------------

    @property
    def monitor(self) -> _Monitor:
        assert self._monitor is not None, "server not started"
        return self._monitor

    def notifications(self) -> list[Captured]:
        with self.monitor.cond:
            return list(self.monitor.notifies)

    def wait_for_notifications(self, n: int, timeout: float = 10) -> list[Captured]:
        """Wait until ``n`` Notify calls were seen *and answered*; return all seen."""
        mon = self.monitor
        with mon.cond:
            ok = mon.cond.wait_for(
                lambda: len(mon.notifies) >= n and all(c.id is not None for c in mon.notifies),
                timeout,
            )
            seen = list(mon.notifies)
        assert ok, f"expected {n} notification(s) within {timeout} s, saw {len(seen)}: {seen}"
        return seen

    def events(self, kind: str) -> list[Event]:
        with self.monitor.cond:
            return [e for e in self.monitor.events if e.kind == kind]

    def closed(self) -> list[int]:
        """Ids from ``NotificationClosed`` signals (any reason), in order."""
        return [e.id for e in self.events("closed")]

    def close_reasons(self) -> dict[int, int]:
        """``{id: reason}``: 1 expired, 2 dismissed, 3 CloseNotification, 4 other."""
        return {e.id: e.detail for e in self.events("closed")}

    def close_requests(self) -> list[int]:
        """Ids from ``CloseNotification`` calls (the app withdrawing a notification)."""
        return [e.id for e in self.events("close_call")]

    def wait_for(self, kind: str, nid: int, timeout: float = 10) -> Event:
        mon = self.monitor

        def find() -> Event | None:
            return next((e for e in mon.events if e.kind == kind and e.id == nid), None)

        with mon.cond:
            mon.cond.wait_for(lambda: find() is not None, timeout)
            event = find()
        assert event is not None, f"no {kind} event for notification {nid} within {timeout} s"
        return event

    # -- dunst ------------------------------------------------------------------

    def _dunstctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["dunstctl", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=check,
        )

    def displayed(self) -> int:
        """How many notifications dunst shows right now."""
        return int(self._dunstctl("count", "displayed").stdout.strip())

    def invoke_action(self, notification_id: int, action_key: str, timeout: float = 10) -> Event:
        """Pick ``action_key`` of ``notification_id`` in dunst's action menu.

        dunst then emits ``ActionInvoked(id, key)`` to the app, as for a user's
        click. Returns that signal as seen on the bus.
        """
        self._choice.write_text(f"[{notification_id},{action_key}]")
        self._dunstctl("context")
        event = self.wait_for("action", notification_id, timeout)
        assert event.detail == action_key, event
        return event

    def wait_displayed(self, count: int, timeout: float = 10) -> int:
        deadline = time.monotonic() + timeout
        shown = self.displayed()
        while shown != count and time.monotonic() < deadline:
            time.sleep(0.05)
            shown = self.displayed()
        return shown


@dataclass
class Recorder:
    """Records calls (used for ``webbrowser.open``, the one thing the tests fake)."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    event: threading.Event = field(default_factory=threading.Event)

    def __call__(self, *args: Any, **kwargs: Any) -> bool:
        self.calls.append(args)
        self.event.set()
        return True


def clipboard_text(env: dict[str, str]) -> str | None:
    """What the X clipboard holds on the test display (via ``xclip -o``)."""
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        result = subprocess.run(
            ["xclip", "-o", "-selection", "clipboard"],
            env=env,
            capture_output=True,
            timeout=5,
            check=False,
        )
        if result.returncode == 0:
            return result.stdout.decode()
    return None
