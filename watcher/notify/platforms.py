"""Each platform's desktop-notification backend, and what it can and cannot do.

Read from desktop-notifier 6's own backends:

* **Linux** (D-Bus, ``backends/dbus.py``): the server gets our expire timeout and
  honours it (most do); buttons come back as ``ActionInvoked`` signals on our
  asyncio loop; the body may carry markup.
* **Windows** (WinRT toasts, ``backends/winrt.py``): needs the ``winrt-*``
  packages (``winrt.system``, ``winrt.windows.ui.notifications``,
  ``winrt.windows.data.xml.dom``, ``winrt.windows.applicationmodel.core``) and
  Windows 10 (10.0.10240) or later. The timeout is ignored: a toast goes to the
  Action Center and stays there, buttons alive. Button presses reach our loop
  (``eventloop_wrapper``) while the process runs.
* **macOS** (``backends/macos.py``): UNUserNotificationCenter, only from an app
  bundle (``NSBundle.mainBundle.bundleIdentifier``): python.org's framework
  build runs as ``Python.app``; Homebrew's, pyenv's, uv's or conda's Pythons
  usually do not, and then the library hands back its *dummy* backend, which
  shows nothing and still reports success. Button presses need a Core
  Foundation run loop in the main thread, which the service does not run. The
  timeout is ignored. The fallback there is ``osascript``'s ``display
  notification`` (no buttons, cannot be withdrawn).

Whatever the platform says, the service withdraws a link's notification itself
when the link expires (:mod:`watcher.service`).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from desktop_notifier import Capability, Notification
from desktop_notifier.backends.base import DesktopNotifierBackend
from desktop_notifier.backends.dummy import DummyNotificationCenter

log = logging.getLogger("watcher.notify")

APP_NAME = "secop-watcher"  # Windows: the toasts' app id (a registry key names it)
OSASCRIPT_TIMEOUT_SECONDS = 10.0

NativeClass = Callable[[], type[DesktopNotifierBackend]]
Runner = Callable[[Sequence[str]], int]  # argv → exit code (no shell)


@dataclass(frozen=True)
class Facts:
    """What a platform's notifications do, as desktop-notifier drives them."""

    platform: str  # "linux" | "win32" | "darwin"
    backend: str  # a name for the log and doctor
    expires_itself: bool  # the server removes the notification at the timeout we give
    buttons: bool  # button presses reach this process
    markup: bool  # the server parses the body as markup (so escape it)


FACTS = {
    "linux": Facts("linux", "D-Bus", expires_itself=True, buttons=True, markup=True),
    "win32": Facts("win32", "WinRT", expires_itself=False, buttons=True, markup=False),
    "darwin": Facts(
        "darwin", "macOS Notification Center", expires_itself=False, buttons=False, markup=False
    ),
}


def facts(platform: str = sys.platform) -> Facts:
    """The facts of ``platform`` (an unknown one: like Windows, no markup, no expiry)."""
    key = "linux" if platform.startswith("linux") else platform
    return FACTS.get(key, Facts(platform, "desktop-notifier", False, True, False))


class Unavailable(Exception):
    """This platform's notifications cannot be used by this process (the message says why)."""


# --- Linux ---------------------------------------------------------------------

if sys.platform.startswith("linux"):
    from desktop_notifier.backends.dbus import DBusDesktopNotifier

    class _DBusBackend(DBusDesktopNotifier):
        """The library's D-Bus backend, with two changes.

        * No implicit "default" action: the library adds one (click on the body)
          to every notification; a warning must have no action at all, and a
          click on a link notification should not open a one-time link by accident.
        * After a failure the connection is dropped, so the next call connects
          afresh (the session bus or the notification server may come back).
        """

        async def get_capabilities(self) -> frozenset[Capability]:
            return (await super().get_capabilities()) - {Capability.ON_CLICKED}

        async def _send(self, notification: Notification) -> None:
            try:
                await super()._send(notification)
            except BaseException:
                self.forget_connection()
                raise

        def forget_connection(self) -> None:
            self.interface = None
            bus = self.__dict__.pop("bus", None)
            if bus is not None:
                bus.disconnect()

    def _dbus_backend(app_name: str) -> DesktopNotifierBackend:
        return _DBusBackend(app_name, None)

else:  # pragma: no cover - exercised on macOS and Windows only

    def _dbus_backend(app_name: str) -> DesktopNotifierBackend:
        raise Unavailable("D-Bus notifications exist on Linux only")


def native_class() -> type[DesktopNotifierBackend]:
    """The library's choice for this machine (the dummy backend when it has none)."""
    from desktop_notifier.main import get_backend_class

    return get_backend_class()


# --- macOS fallback: osascript -------------------------------------------------


def applescript_string(text: str) -> str:
    """``text`` as an AppleScript string literal: quotes and backslashes escaped,
    control characters (line breaks included) turned into spaces."""
    clean = "".join(" " if ord(c) < 0x20 or ord(c) == 0x7F else c for c in text)
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


def osascript_argv(title: str, message: str) -> list[str]:
    text, heading = applescript_string(message), applescript_string(title)
    return ["osascript", "-e", f"display notification {text} with title {heading}"]


def run_osascript(argv: Sequence[str]) -> int:
    """Run ``argv`` (no shell, no input, output discarded); its exit code."""
    try:
        return subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=OSASCRIPT_TIMEOUT_SECONDS,
            check=False,
        ).returncode
    except (OSError, subprocess.TimeoutExpired):
        return -1


class OsaScriptBackend(DesktopNotifierBackend):
    """``osascript -e 'display notification "…" with title "…"'``: no buttons, and a
    shown notification cannot be taken back (macOS files it under Script Editor)."""

    def __init__(self, app_name: str, runner: Runner = run_osascript) -> None:
        super().__init__(app_name, None)
        self._runner = runner

    async def request_authorisation(self) -> bool:
        return True

    async def has_authorisation(self) -> bool:
        return True

    async def _send(self, notification: Notification) -> None:
        argv = osascript_argv(notification.title, notification.message)
        code = await asyncio.to_thread(self._runner, argv)
        if code != 0:
            raise Unavailable(f"osascript failed (exit code {code})")

    async def _clear(self, identifier: str) -> None:
        return None  # osascript cannot withdraw what it showed

    async def _clear_all(self) -> None:
        return None

    async def _get_capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.TITLE, Capability.MESSAGE, Capability.ON_DISPATCHED})


# --- choosing the backend --------------------------------------------------------


async def open_backend(
    app_name: str,
    platform_facts: Facts,
    *,
    native: NativeClass = native_class,
    osascript: Runner = run_osascript,
) -> DesktopNotifierBackend:
    """The backend to use, authorised; :class:`Unavailable` (or the library's error)
    when there is none. On macOS, anything short of an authorised Notification
    Center falls back to osascript, with one log line saying why."""
    if platform_facts.platform == "linux":
        return _dbus_backend(app_name)
    if platform_facts.platform == "darwin":
        why = await _macos_problem(app_name, native)
        if isinstance(why, DesktopNotifierBackend):
            return why
        log.warning(
            "macOS Notification Center cannot be used (%s); notifications are shown with "
            "osascript instead: no buttons, and they stay in the Notification Center after "
            "the link expires. Install Python from python.org (see docs/macos.md).",
            why,
        )
        return OsaScriptBackend(app_name, osascript)
    cls = native()
    if issubclass(cls, DummyNotificationCenter):
        raise Unavailable("desktop-notifier has no backend for this system (Windows 10 or later?)")
    # Authorisation (Windows: notifications turned on for the app) is asked at each
    # send until granted: the user may turn them on while the service runs.
    return cls(app_name, None)


async def _macos_problem(app_name: str, native: NativeClass) -> DesktopNotifierBackend | str:
    """The authorised Notification Center backend, or why there is none."""
    try:
        cls = native()
    except Exception as e:  # noqa: BLE001 - rubicon-objc missing or broken: say so, fall back
        return f"{type(e).__name__}: {e}"
    if issubclass(cls, DummyNotificationCenter):
        return "this Python is not an app bundle (not python.org's framework build)"
    try:
        backend = cls(app_name, None)
        granted = await backend.request_authorisation()
    except Exception as e:  # noqa: BLE001 - any failure here means: not usable
        return f"{type(e).__name__}: {e}"
    if not granted:
        return "notifications for Python are not allowed in System Settings"
    return backend


# --- what doctor reports -----------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """Whether notifications can be shown here, and through what."""

    ok: bool
    backend: str  # what shows them (or would)
    problem: str = ""  # no_winrt | no_backend | winrt_failed | disabled | no_bundle | denied | ...
    reason: str = ""  # the error, for the detail column


async def probe(
    platform_facts: Facts,
    *,
    native: NativeClass = native_class,
    which: Callable[[str], str | None] = shutil.which,
) -> Probe:
    """Windows and macOS: can this process show notifications? (Linux: see doctor.)"""
    name = platform_facts.backend
    try:
        cls = native()
    except ImportError as e:
        problem = "no_winrt" if platform_facts.platform == "win32" else "no_bundle"
        return _fallback(name, problem, f"{type(e).__name__}: {e}", platform_facts, which)
    except Exception as e:  # noqa: BLE001 - doctor reports, never raises
        return _fallback(name, "no_backend", f"{type(e).__name__}: {e}", platform_facts, which)
    if issubclass(cls, DummyNotificationCenter):
        problem = "no_bundle" if platform_facts.platform == "darwin" else "no_backend"
        return _fallback(name, problem, "", platform_facts, which)
    try:
        backend = cls(APP_NAME, None)
        granted = await backend.request_authorisation()
    except Exception as e:  # noqa: BLE001
        problem = "winrt_failed" if platform_facts.platform == "win32" else "no_bundle"
        return _fallback(name, problem, f"{type(e).__name__}: {e}", platform_facts, which)
    if not granted:
        problem = "disabled" if platform_facts.platform == "win32" else "denied"
        return _fallback(name, problem, "", platform_facts, which)
    return Probe(True, name)


def _fallback(
    name: str, problem: str, reason: str, platform_facts: Facts, which: Callable[[str], str | None]
) -> Probe:
    if platform_facts.platform == "darwin":
        if which("osascript"):
            return Probe(False, "osascript", problem, reason)
        return Probe(False, name, "no_osascript", reason)
    return Probe(False, name, problem, reason)
