"""Desktop notifications through ``desktop-notifier`` (D-Bus, Windows, macOS).

The backend is opened lazily, on the notification thread, at the first call: a
platform that cannot show notifications (no winrt packages, no app bundle…) is
one log line, never an error that stops the service.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import html
import logging
import sys
import threading
import webbrowser
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

from desktop_notifier import Button, Notification, Urgency
from desktop_notifier.backends.base import DesktopNotifierBackend

from watcher import clipboard
from watcher.config import DEFAULT_SENDER
from watcher.i18n import t
from watcher.model import Link, Suspicious
from watcher.notify import platforms
from watcher.notify.platforms import APP_NAME, Facts, NativeClass, Runner
from watcher.notify.text import link_body, link_title, timeout_seconds, warn_body

log = logging.getLogger("watcher.notify")

OPEN_ACTION = "open"
COPY_ACTION = "copy"
CALL_TIMEOUT_SECONDS = 10.0

T = TypeVar("T")


class _DemoteLibraryFailure(logging.Filter):
    """desktop-notifier logs a WARNING with a traceback on *every* failed send.

    :class:`DesktopNotifications` reports an unreachable server once, itself,
    so the library's record is demoted to DEBUG (kept in a debug log only).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.msg == "Notification failed":
            record.levelno = logging.DEBUG
            record.levelname = "DEBUG"
        return True


_LIBRARY_LOGGER = "desktop_notifier.backends.base"


def _install_library_filter() -> None:
    logger = logging.getLogger(_LIBRARY_LOGGER)
    if not any(isinstance(f, _DemoteLibraryFailure) for f in logger.filters):
        logger.addFilter(_DemoteLibraryFailure())


class DesktopNotifications:
    """Thread-safe: every call is submitted to one asyncio event loop running in a
    daemon thread (which also runs the button callbacks) and waited for at most
    ``call_timeout`` seconds.

    ``platform``, ``native`` and ``osascript`` are the platform's facts (tests
    hand in another platform's): see :mod:`watcher.notify.platforms`.
    """

    def __init__(
        self,
        *,
        app_name: str = APP_NAME,
        sender: str = DEFAULT_SENDER,
        call_timeout: float = CALL_TIMEOUT_SECONDS,
        account: str = "",
        platform: str = sys.platform,
        native: NativeClass | None = None,
        osascript: Runner | None = None,
    ) -> None:
        """``account``: with several mailboxes, each notification names its own."""
        _install_library_filter()
        self._app_name = app_name
        self._sender = sender
        self._account = account
        self._timeout = call_timeout
        self.facts: Facts = platforms.facts(platform)
        self._native = native or platforms.native_class
        self._osascript = osascript or platforms.run_osascript
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="secop-notify", daemon=True)
        self._thread.start()
        self._lock = threading.Lock()
        self._warned = False
        self._closed = False
        self._broken: str | None = None  # why no backend could be opened (logged once)
        # Touched only on the loop thread:
        self._backend: DesktopNotifierBackend | None = None
        self._authorised = False
        self._announced: set[str] = set()
        self._problems: dict[str, str] = {}

    # -- public API ---------------------------------------------------------

    def announce(self, link: Link, *, lang: str, expires_at: datetime) -> str | None:
        url, user = link.url, link.username or "?"
        dispatched = threading.Event()
        body = link_body(link, lang, expires_at)
        buttons: tuple[Button, ...] = ()
        if self.facts.buttons:
            buttons = (
                Button(
                    title=t("notify.open", lang),
                    on_pressed=lambda: self._in_thread(self._open, url, user),
                    identifier=OPEN_ACTION,
                ),
                Button(
                    title=t("notify.copy", lang),
                    on_pressed=lambda: self._in_thread(self._copy, url, user, lang),
                    identifier=COPY_ACTION,
                ),
            )
        else:  # no button can work here (macOS): say where the link is
            body += " " + t("notify.no_buttons", lang)
        notification = Notification(
            title=link_title(link, lang),
            message=self._text(self._named(body, lang)),
            urgency=Urgency.Normal,
            buttons=buttons,
            # Where the server ignores it, the service withdraws the notification itself.
            timeout=timeout_seconds(expires_at) if self.facts.expires_itself else -1,
            on_dispatched=dispatched.set,
        )
        handle = self._call(self._send(notification, dispatched, announced=True))
        if handle:
            log.info("notification shown: link for user %s in folder %s", user, link.folder)
        return handle

    def withdraw(self, handle: str) -> None:
        self._call(self._clear(handle))

    def warn(self, suspicious: Suspicious, *, lang: str) -> str | None:
        dispatched = threading.Event()
        notification = Notification(
            title=t("notify.warn.title", lang),
            message=self._text(self._named(warn_body(suspicious, lang, self._sender), lang)),
            urgency=Urgency.Critical,
            on_dispatched=dispatched.set,
        )
        handle = self._call(self._send(notification, dispatched))
        if handle:
            log.info("notification shown: suspicious mail in folder %s", suspicious.folder)
        return handle

    def problem(self, title: str, body: str) -> None:
        dispatched = threading.Event()
        notification = Notification(
            title=title, message=self._text(body), on_dispatched=dispatched.set
        )
        self._call(self._send_problem(notification, dispatched))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            try:
                future.result(self._timeout)
            except Exception:  # noqa: BLE001 - closing anyway
                future.cancel()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(self._timeout)
        if not self._thread.is_alive():
            self._loop.close()

    # -- on the loop thread -------------------------------------------------

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    async def _ready(self) -> DesktopNotifierBackend:
        """The backend, opened at the first call; :class:`_Broken` when it cannot be."""
        if self._broken is not None:
            raise _Broken
        if self._backend is None:
            try:
                self._backend = await platforms.open_backend(
                    self._app_name, self.facts, native=self._native, osascript=self._osascript
                )
            except Exception as e:
                self._broken = f"{type(e).__name__}: {e}"
                log.warning(
                    "desktop notifications cannot be used on this system (%s); the service "
                    "goes on without them ([notify] command still runs; 'secop-watcher "
                    "doctor' says more)",
                    self._broken,
                )
                raise _Broken from e
            log.debug("notification backend: %s", type(self._backend).__name__)
        return self._backend

    async def _send(
        self, notification: Notification, dispatched: threading.Event, *, announced: bool = False
    ) -> str:
        backend = await self._ready()
        if not self._authorised:
            self._authorised = await backend.request_authorisation()
            if not self._authorised:
                raise _Unavailable("notifications for this app are turned off in the settings")
        # The library swallows (and logs) failures; only on_dispatched tells success.
        await backend.send(notification)
        if not dispatched.is_set():
            raise _Unavailable
        if announced:
            self._announced.add(notification.identifier)
        return notification.identifier

    async def _send_problem(self, notification: Notification, dispatched: threading.Event) -> str:
        # One notification per problem: a repeat replaces the one still on screen.
        previous = self._problems.pop(notification.title, None)
        if previous is not None:
            await self._clear(previous)
        handle = await self._send(notification, dispatched)
        self._problems[notification.title] = handle
        return handle

    async def _clear(self, handle: str) -> None:
        self._announced.discard(handle)
        if self._backend is None:
            return  # nothing was ever shown
        # KeyError: already gone (expired, dismissed, or a button was pressed).
        with contextlib.suppress(KeyError):
            await self._backend.clear(handle)

    async def _shutdown(self) -> None:
        """Withdraw link notifications (their buttons die with us) and disconnect."""
        for handle in list(self._announced):
            try:
                await self._clear(handle)
            except Exception:
                log.debug("could not withdraw a notification while closing", exc_info=True)
        forget = getattr(self._backend, "forget_connection", None)
        if callable(forget):
            forget()

    # -- helpers ------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, T]) -> T | None:
        """Run ``coro`` on the loop thread; None (and one warning) when it fails."""
        if self._closed or not self._thread.is_alive():
            coro.close()
            return None
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            result = future.result(self._timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            self._unavailable(f"no answer within {self._timeout} s")
            return None
        except _Broken:
            log.debug("desktop notification skipped: %s", self._broken)
            return None
        except _Unavailable as e:
            self._unavailable(str(e) or "no notification server reachable")
            return None
        except Exception as e:  # noqa: BLE001 - never raise into the service
            self._unavailable(type(e).__name__)
            return None
        self._available()
        return result

    def _unavailable(self, why: str) -> None:
        with self._lock:
            first, self._warned = not self._warned, True
        if first:
            hint = (
                "is a notification service running in this session (D-Bus session bus)?"
                if self.facts.platform == "linux"
                else "'secop-watcher doctor' says more."
            )
            log.warning(
                "desktop notifications are unavailable (%s); %s New links are still "
                "listed by 'secop-watcher check-now'.",
                why,
                hint,
            )
        else:
            log.debug("desktop notification failed again (%s)", why)

    def _available(self) -> None:
        with self._lock:
            recovered, self._warned = self._warned, False
        if recovered:
            log.info("desktop notifications work again")

    def _named(self, body: str, lang: str) -> str:
        """The body, with the mailbox it is about when there are several."""
        return f"{body} {t('notify.account', lang, name=self._account)}" if self._account else body

    def _text(self, body: str) -> str:
        return html.escape(body, quote=False) if self.facts.markup else body

    @staticmethod
    def _in_thread(target: Callable[..., None], *args: Any) -> None:
        # Button callbacks run on the loop thread; the browser and the clipboard
        # tool may take a while, and copy failures send a notification themselves.
        threading.Thread(target=target, args=args, name="secop-notify-action", daemon=True).start()

    @staticmethod
    def _open(url: str, user: str) -> None:
        try:
            opened = webbrowser.open(url)
        except webbrowser.Error:
            opened = False
        if opened:
            log.info("link for user %s handed to the browser", user)
        else:
            log.warning("no web browser could be started to open the link for user %s", user)

    def _copy(self, url: str, user: str, lang: str) -> None:
        from watcher.handover import copied_text

        done = clipboard.copy_text(url)
        if done.ok:
            log.info("link for user %s copied to the clipboard", user)
            return
        log.warning("could not copy the link for user %s: %s", user, done.problem)
        # What really went wrong (no display, no tool: which to install, a tool that failed),
        # as check-now --copy says it; never "install xclip" when there is no display.
        self.problem(t("notify.copy_failed.title", lang), copied_text(done, lang))


class _Unavailable(Exception):
    """The library did not dispatch the notification (it logged why at DEBUG)."""


class _Broken(Exception):
    """No backend could be opened on this system (logged once when it happened)."""
