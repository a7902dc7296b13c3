"""Tell the user about a new reset link: desktop notifications and a command hook.

The background service calls a :class:`Notifier` from plain threads when a new
current link arrives (:meth:`Notifier.announce`), when a newer one replaces it
or the link expires (:meth:`Notifier.withdraw` with the handle ``announce``
returned), when a forged mail shows up (:meth:`Notifier.warn`) and when
something needs the user (:meth:`Notifier.problem`). No method ever raises into
the service.

The reset link carries a one-time token: it is never logged, never put in a
notification's text (only behind the "Open link"/"Copy link" buttons) and never
requested over HTTP by this code (the browser opens it).

Pieces: :mod:`.text` (what they say), :mod:`.desktop` (desktop notifications),
:mod:`.platforms` (each platform's backend and facts), :mod:`.hook` (the
``[notify] command``); the composition is here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from watcher.config import DEFAULT_SENDER, NotifyConfig
from watcher.model import Link, Suspicious
from watcher.notify.desktop import (
    CALL_TIMEOUT_SECONDS,
    COPY_ACTION,
    OPEN_ACTION,
    DesktopNotifications,
)
from watcher.notify.hook import (
    COMMAND_TIMEOUT_SECONDS,
    ENV_ACCOUNT,
    ENV_EVENT,
    ENV_EXPIRES,
    ENV_FOLDER,
    ENV_LANG,
    ENV_MESSAGE_ID,
    ENV_REASONS,
    ENV_RECEIVED,
    ENV_SENDER,
    ENV_URL,
    ENV_USERNAME,
    EVENT_VARS,
    HIDDEN_VARS,
    CommandHook,
)
from watcher.notify.platforms import APP_NAME
from watcher.notify.text import (
    MAX_TIMEOUT_SECONDS,
    link_body,
    link_title,
    timeout_seconds,
    warn_body,
)

__all__ = [
    "APP_NAME",
    "CALL_TIMEOUT_SECONDS",
    "COMMAND_TIMEOUT_SECONDS",
    "COPY_ACTION",
    "ENV_ACCOUNT",
    "ENV_EVENT",
    "ENV_EXPIRES",
    "ENV_FOLDER",
    "ENV_LANG",
    "ENV_MESSAGE_ID",
    "ENV_REASONS",
    "ENV_RECEIVED",
    "ENV_SENDER",
    "ENV_URL",
    "ENV_USERNAME",
    "EVENT_VARS",
    "HIDDEN_VARS",
    "MAX_TIMEOUT_SECONDS",
    "OPEN_ACTION",
    "CommandHook",
    "DesktopNotifications",
    "FanOut",
    "Notifier",
    "NullNotifier",
    "build_notifier",
    "link_body",
    "link_title",
    "timeout_seconds",
    "warn_body",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Notifier(Protocol):
    def announce(self, link: Link, *, lang: str, expires_at: datetime) -> str | None:
        """Show ``link``; return a handle for :meth:`withdraw` (None if nothing shown)."""
        ...

    def withdraw(self, handle: str) -> None:
        """Take back what :meth:`announce` showed (a newer link replaced it, or it expired)."""
        ...

    def warn(self, suspicious: Suspicious, *, lang: str) -> str | None:
        """Warn about a forged mail: no button, no link."""
        ...

    def problem(self, title: str, body: str) -> None:
        """Tell the user something needs them (e.g. the password was rejected)."""
        ...

    def close(self) -> None: ...


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
    ``account`` names the mailbox in what they say (several accounts).

    Never raises: desktop notifications that cannot even be set up are one log
    line, and the rest (the command hook) works on."""
    notifiers: list[Notifier] = []
    if config.desktop:
        try:
            notifiers.append(DesktopNotifications(sender=sender, account=account))
        except Exception as e:  # noqa: BLE001 - the service must start anyway
            log.warning(
                "desktop notifications cannot be used on this system (%s: %s); the service "
                "goes on without them",
                type(e).__name__,
                e,
            )
    if config.command:
        notifiers.append(CommandHook(config.command, account=account))
    if not notifiers:
        return NullNotifier()
    if len(notifiers) == 1:
        return notifiers[0]
    return FanOut(notifiers)
