"""The pause after a refused sign-in (the service): no retry until something changed.

Retrying a wrong password every minute would lock the account at many
providers. The pause ends when the config file's modification time or the
credentials' fingerprint (:meth:`watcher.connect.Connector.fingerprint`,
never stored) differ from those that failed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from watcher.errors import UserError


class AuthPause:
    """After a refused sign-in: paused until the config file or the credentials change."""

    def __init__(self, config_path: Path | None, fingerprint: Callable[[], str] | None) -> None:
        self.config_path = config_path
        self._fingerprint = fingerprint
        self.paused_on: str | None = None  # fingerprint of the credentials that failed
        self._lock = threading.Lock()

    @property
    def paused(self) -> bool:
        return self.paused_on is not None

    def pause(self) -> bool:
        """Pause now; False when already paused (both IDLE threads may fail at once)."""
        with self._lock:
            if self.paused_on is not None:
                return False
            self.paused_on = self.current()
            return True

    def changed(self) -> bool:
        return self.paused_on is not None and self.current() != self.paused_on

    def resume(self) -> None:
        self.paused_on = None

    def current(self) -> str:
        parts = []
        if self.config_path is not None:
            try:
                parts.append(str(Path(self.config_path).stat().st_mtime_ns))
            except OSError:
                parts.append("-")
        if self._fingerprint is not None:
            try:
                parts.append(self._fingerprint())
            except UserError:
                parts.append("-")
        return "|".join(parts)
