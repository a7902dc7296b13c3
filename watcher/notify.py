"""Tell the user about a new reset link: desktop notifications and a command hook.

The background service calls a :class:`Notifier` from plain threads when a new
current link arrives (:meth:`Notifier.announce`), when a newer one replaces it
(:meth:`Notifier.withdraw` with the handle ``announce`` returned), when a forged
mail shows up (:meth:`Notifier.warn`) and when something needs the user
(:meth:`Notifier.problem`). No method ever raises into the service.

The reset link carries a one-time token: it is never logged, never put in a
notification's text (only behind the "Open link"/"Copy link" buttons) and never
requested over HTTP by this code (the browser opens it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import html
import logging
import math
import os
import subprocess
import sys
import threading
import webbrowser
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from desktop_notifier import Button, Capability, Notification, Urgency
from desktop_notifier.backends.base import DesktopNotifierBackend

from watcher import clipboard
from watcher.commandline import Argv
from watcher.config import DEFAULT_SENDER, NotifyConfig
from watcher.i18n import t
from watcher.model import Link, Suspicious
from watcher.render import reasons_text

log = logging.getLogger(__name__)

APP_NAME = "secop-watcher"
OPEN_ACTION = "open"
COPY_ACTION = "copy"
CALL_TIMEOUT_SECONDS = 10.0
COMMAND_TIMEOUT_SECONDS = 30.0
# The notification spec carries the timeout as int32 milliseconds.
MAX_TIMEOUT_SECONDS = (2**31 - 1) // 1000

# Environment of the [notify] command.
ENV_EVENT = "SECOP_WATCHER_EVENT"
ENV_URL = "SECOP_WATCHER_URL"
ENV_USERNAME = "SECOP_WATCHER_USERNAME"
ENV_FOLDER = "SECOP_WATCHER_FOLDER"
ENV_RECEIVED = "SECOP_WATCHER_RECEIVED"
ENV_MESSAGE_ID = "SECOP_WATCHER_MESSAGE_ID"
ENV_EXPIRES = "SECOP_WATCHER_EXPIRES"
ENV_SENDER = "SECOP_WATCHER_SENDER"
ENV_REASONS = "SECOP_WATCHER_REASONS"
ENV_LANG = "SECOP_WATCHER_LANG"
ENV_ACCOUNT = "SECOP_WATCHER_ACCOUNT"  # [accounts.NAME]; "" for the [imap] form
EVENT_VARS = (
    ENV_EVENT,
    ENV_URL,
    ENV_USERNAME,
    ENV_FOLDER,
    ENV_RECEIVED,
    ENV_MESSAGE_ID,
    ENV_EXPIRES,
    ENV_SENDER,
    ENV_REASONS,
    ENV_LANG,
    ENV_ACCOUNT,
)
# Never handed to the hook: the IMAP password.
HIDDEN_VARS = ("SECOP_WATCHER_PASSWORD",)

T = TypeVar("T")


class Notifier(Protocol):
    def announce(self, link: Link, *, lang: str, expires_at: datetime) -> str | None:
        """Show ``link``; return a handle for :meth:`withdraw` (None if nothing shown)."""
        ...

    def withdraw(self, handle: str) -> None:
        """Take back what :meth:`announce` showed (a newer link replaced it)."""
        ...

    def warn(self, suspicious: Suspicious, *, lang: str) -> str | None:
        """Warn about a forged mail: no button, no link."""
        ...

    def problem(self, title: str, body: str) -> None:
        """Tell the user something needs them (e.g. the password was rejected)."""
        ...

    def close(self) -> None: ...


# --- text ----------------------------------------------------------------------


def _at(dt: datetime, lang: str) -> str:
    local = dt.astimezone()
    date = local.strftime("%d/%m/%Y") if lang == "es" else local.strftime("%Y-%m-%d")
    return t("notify.at", lang, time=local.strftime("%H:%M"), date=date)


def _until(received: datetime, expires_at: datetime, lang: str) -> str:
    end = expires_at.astimezone()
    if end.date() == received.astimezone().date():
        return end.strftime("%H:%M")
    return _at(expires_at, lang)


def link_title(link: Link, lang: str) -> str:
    return t("notify.link.title", lang, user=link.username or t("user.unknown", lang))


def link_body(link: Link, lang: str, expires_at: datetime) -> str:
    """What the notification says: who, where, when (and if unverified). Never the URL."""
    body = t(
        "notify.link.body",
        lang,
        when=_at(link.received, lang),
        folder=link.folder,
        until=_until(link.received, expires_at, lang),
    )
    if link.verified is None:
        body += " " + t("notify.unverified", lang)
    return body


def warn_body(suspicious: Suspicious, lang: str, sender: str) -> str:
    when = _at(suspicious.received, lang) if suspicious.received else None
    return t(
        "notify.warn.body",
        lang,
        folder=suspicious.folder,
        when=when or t("notify.when_unknown", lang),
        sender=suspicious.sender or t("sender.unknown", lang),
        reasons=reasons_text(suspicious.reasons, lang, sender),
    )


def timeout_seconds(expires_at: datetime, now: datetime | None = None) -> int:
    """Whole seconds until ``expires_at`` (rounded up), at least 1."""
    now = now or datetime.now(tz=expires_at.tzinfo)
    left = math.ceil((expires_at - now).total_seconds())
    return min(max(1, left), MAX_TIMEOUT_SECONDS)


# --- desktop notifications ---------------------------------------------------


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
                self._forget_connection()
                raise

        def _forget_connection(self) -> None:
            self.interface = None
            bus = self.__dict__.pop("bus", None)
            if bus is not None:
                bus.disconnect()

    def _make_backend(app_name: str) -> DesktopNotifierBackend:
        return _DBusBackend(app_name, None)

else:  # pragma: no cover - exercised on macOS and Windows only

    def _make_backend(app_name: str) -> DesktopNotifierBackend:
        from desktop_notifier.main import get_backend_class

        return get_backend_class()(app_name, None)


class DesktopNotifications:
    """Desktop notifications through ``desktop-notifier`` (D-Bus, macOS, Windows).

    Thread-safe: every call is submitted to one asyncio event loop running in a
    daemon thread (which also runs the button callbacks) and waited for at most
    ``call_timeout`` seconds.
    """

    def __init__(
        self,
        *,
        app_name: str = APP_NAME,
        sender: str = DEFAULT_SENDER,
        call_timeout: float = CALL_TIMEOUT_SECONDS,
        account: str = "",
    ) -> None:
        """``account``: with several mailboxes, each notification names its own."""
        _install_library_filter()
        self._sender = sender
        self._account = account
        self._timeout = call_timeout
        self._markup = sys.platform.startswith("linux")  # servers there parse body markup
        self._backend = _make_backend(app_name)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="secop-notify", daemon=True)
        self._thread.start()
        self._lock = threading.Lock()
        self._warned = False
        self._closed = False
        self._authorised = False
        # Touched only on the loop thread:
        self._announced: set[str] = set()
        self._problems: dict[str, str] = {}

    # -- public API ---------------------------------------------------------

    def announce(self, link: Link, *, lang: str, expires_at: datetime) -> str | None:
        url, user = link.url, link.username or "?"
        dispatched = threading.Event()
        notification = Notification(
            title=link_title(link, lang),
            message=self._text(self._named(link_body(link, lang, expires_at), lang)),
            urgency=Urgency.Normal,
            buttons=(
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
            ),
            timeout=timeout_seconds(expires_at),
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

    async def _send(
        self, notification: Notification, dispatched: threading.Event, *, announced: bool = False
    ) -> str:
        if not self._authorised:
            self._authorised = await self._backend.request_authorisation()
        # The library swallows (and logs) failures; only on_dispatched tells success.
        await self._backend.send(notification)
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
        forget = getattr(self._backend, "_forget_connection", None)
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
        except _Unavailable:
            self._unavailable("no notification server reachable")
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
            log.warning(
                "desktop notifications are unavailable (%s); is a notification service "
                "running in this session (D-Bus session bus on Linux)? New links are still "
                "listed by 'secop-watcher check-now'.",
                why,
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
        return html.escape(body, quote=False) if self._markup else body

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
        if clipboard.copy(url):
            log.info("link for user %s copied to the clipboard", user)
            return
        log.warning("could not copy the link for user %s: no clipboard tool worked", user)
        self.problem(t("notify.copy_failed.title", lang), t("notify.copy_failed.body", lang))


class _Unavailable(Exception):
    """The library did not dispatch the notification (it logged why at DEBUG)."""


# --- command hook ------------------------------------------------------------


class CommandHook:
    """Runs ``[notify] command`` for each new link and each suspicious mail.

    The command is a list of arguments (:mod:`watcher.commandline`), run
    without a shell; the details travel only in environment variables (``SECOP_WATCHER_*``),
    never in the command line. Output is discarded, failures are logged with
    the program's name and exit code only, and nothing is raised.
    """

    def __init__(
        self, command: Argv, *, timeout: float = COMMAND_TIMEOUT_SECONDS, account: str = ""
    ) -> None:
        self._timeout = timeout
        self._account = account
        self._argv = list(command)
        if not self._argv:
            log.warning("[notify] command is empty; it will not run")
        self._program = Path(self._argv[0]).name if self._argv else ""

    def announce(self, link: Link, *, lang: str, expires_at: datetime) -> str | None:
        self._run(
            {
                ENV_EVENT: "link",
                ENV_URL: link.url or "",
                ENV_USERNAME: link.username or "",
                ENV_FOLDER: link.folder,
                ENV_RECEIVED: link.received.isoformat(),
                ENV_MESSAGE_ID: link.message_id or "",
                ENV_EXPIRES: expires_at.isoformat(),
                ENV_LANG: lang,
                ENV_ACCOUNT: self._account,
            }
        )
        return None

    def warn(self, suspicious: Suspicious, *, lang: str) -> str | None:
        # No SECOP_WATCHER_URL on purpose: a script must never pick a forged link.
        self._run(
            {
                ENV_EVENT: "suspicious",
                ENV_USERNAME: "",
                ENV_FOLDER: suspicious.folder,
                ENV_RECEIVED: suspicious.received.isoformat() if suspicious.received else "",
                ENV_MESSAGE_ID: suspicious.message_id or "",
                ENV_SENDER: suspicious.sender or "",
                ENV_REASONS: ",".join(suspicious.reasons),
                ENV_LANG: lang,
                ENV_ACCOUNT: self._account,
            }
        )
        return None

    def withdraw(self, handle: str) -> None:
        return None

    def problem(self, title: str, body: str) -> None:
        return None

    def close(self) -> None:
        return None

    def _run(self, values: Mapping[str, str]) -> None:
        if not self._argv:
            return
        env = {k: v for k, v in os.environ.items() if k not in EVENT_VARS and k not in HIDDEN_VARS}
        env.update(values)
        try:
            result = subprocess.run(
                self._argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                timeout=self._timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            log.warning(
                "[notify] command %s did not finish within %s s and was stopped",
                self._program,
                self._timeout,
            )
        except OSError as e:
            log.warning("[notify] command %s could not start: %s", self._program, e.strerror)
        else:
            if result.returncode != 0:
                log.warning(
                    "[notify] command %s failed (exit code %s)", self._program, result.returncode
                )
            else:
                log.debug("[notify] command %s ran (%s)", self._program, values[ENV_EVENT])


# --- composition ---------------------------------------------------------------


class NullNotifier:
    """Notifications switched off."""

    def announce(self, link: Link, *, lang: str, expires_at: datetime) -> str | None:
        return None

    def withdraw(self, handle: str) -> None:
        return None

    def warn(self, suspicious: Suspicious, *, lang: str) -> str | None:
        return None

    def problem(self, title: str, body: str) -> None:
        return None

    def close(self) -> None:
        return None


class FanOut:
    """Hands every call to each notifier; the first handle returned is the handle."""

    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self.notifiers = tuple(notifiers)

    def announce(self, link: Link, *, lang: str, expires_at: datetime) -> str | None:
        return self._first(lambda n: n.announce(link, lang=lang, expires_at=expires_at))

    def withdraw(self, handle: str) -> None:
        self._each(lambda n: n.withdraw(handle))

    def warn(self, suspicious: Suspicious, *, lang: str) -> str | None:
        return self._first(lambda n: n.warn(suspicious, lang=lang))

    def problem(self, title: str, body: str) -> None:
        self._each(lambda n: n.problem(title, body))

    def close(self) -> None:
        self._each(lambda n: n.close())

    def _first(self, call: Callable[[Notifier], str | None]) -> str | None:
        handle: str | None = None
        for notifier in self.notifiers:
            result = self._safe(call, notifier)
            if handle is None:
                handle = result
        return handle

    def _each(self, call: Callable[[Notifier], None]) -> None:
        for notifier in self.notifiers:
            self._safe(call, notifier)

    @staticmethod
    def _safe(call: Callable[[Notifier], T], notifier: Notifier) -> T | None:
        try:
            return call(notifier)
        except Exception:  # a notifier must never take the service down
            log.exception("%s failed", type(notifier).__name__)
            return None


def build_notifier(
    config: NotifyConfig, *, sender: str = DEFAULT_SENDER, account: str = ""
) -> Notifier:
    """The notifier ``[notify]`` asks for: desktop, command, both (fan-out) or none.
    ``account`` names the mailbox in what they say (several accounts)."""
    notifiers: list[Notifier] = []
    if config.desktop:
        notifiers.append(DesktopNotifications(sender=sender, account=account))
    if config.command:
        notifiers.append(CommandHook(config.command, account=account))
    if not notifiers:
        return NullNotifier()
    if len(notifiers) == 1:
        return notifiers[0]
    return FanOut(notifiers)
