"""What the service and ``wait`` share to look at new mail: the kept connection,
the IDLE threads, and the look on the IDLE connection that saw the mail arrive.

- :class:`KeptSession`: one connection kept between looks (a push then costs a few
  round trips, not a TLS handshake and a login), with the folders it listed;
  dropped when unused too long, after a suspend, or when an IDLE connection to
  the same server was found dead (the same network path is likely dead too).
- :class:`IdleGroup`: one :class:`~watcher.idle.FolderIdler` per folder; each
  reconnects with backoff on its own.
- :class:`Pending`: which folders the next look must cover.
- :class:`PushLook`: mail arrived in a folder; look at it on the IDLE connection
  that saw it, under the caller's lock, and fall back to the main loop's own
  connection when that is not possible or fails.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from watcher.errors import UserError
from watcher.folders import Folder, choose_folders
from watcher.idle import FolderIdler
from watcher.mail import ImapSession

log = logging.getLogger(__name__)

Logger = logging.Logger | logging.LoggerAdapter  # type: ignore[type-arg]
SESSION_MAX_IDLE = 300.0  # seconds a kept connection may sit unused before a new one


class KeptSession:
    """A connection opened when needed and kept; the folders chosen from its LIST."""

    def __init__(
        self,
        open_session: Callable[[], ImapSession],
        configured: Sequence[str],
        *,
        use_idle: bool = True,
        max_idle: float = SESSION_MAX_IDLE,
    ) -> None:
        self._open = open_session
        self._configured = tuple(configured)
        self._use_idle = use_idle
        self._max_idle = max_idle
        self._session: ImapSession | None = None
        self._used = float("-inf")
        self._stale = False
        self.folders: list[Folder] = []
        self.idle_supported = False  # learnt from the capabilities stated after login

    @property
    def is_open(self) -> bool:
        return self._session is not None

    def get(self) -> ImapSession:
        """The kept connection, or a new one (and the folders listed again)."""
        if self._session is not None and (
            self._stale or time.monotonic() - self._used > self._max_idle
        ):
            self.drop()
        self._stale = False
        self._used = time.monotonic()
        if self._session is None:
            session = self._open()
            try:
                self.folders = choose_folders(session.listing(), self._configured)
                self.idle_supported = self._use_idle and session.supports_idle()
            except BaseException:
                session.close()
                raise
            self._session = session
        return self._session

    def mark_stale(self) -> None:
        """From any thread: the next :meth:`get` opens a new connection."""
        self._stale = True

    def drop(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


class IdleGroup:
    """The IDLE threads, one per folder, started and stopped together."""

    def __init__(
        self,
        open_session: Callable[[], ImapSession],
        on_change: Callable[[str, ImapSession | None], None],
        on_auth_error: Callable[[UserError], None],
        *,
        on_lost: Callable[[str], None] | None = None,
        log: Logger = log,
    ) -> None:
        self._open = open_session
        self._on_change = on_change
        self._on_auth_error = on_auth_error
        self._on_lost = on_lost
        self._log = log
        self.idlers: dict[str, FolderIdler] = {}
        self._lock = threading.Lock()
        self._closed = False

    def ensure(self, folders: Iterable[Folder]) -> None:
        """An IDLE thread running for each folder (a dead one is replaced)."""
        with self._lock:
            if self._closed:
                return
            for folder in folders:
                idler = self.idlers.get(folder.name)
                if idler is None or not idler.is_alive():
                    idler = FolderIdler(
                        folder.name,
                        self._open,
                        self._on_change,
                        self._on_auth_error,
                        on_lost=self._on_lost,
                        log=self._log,
                    )
                    self.idlers[folder.name] = idler
                    idler.start()

    def covers(self) -> bool:
        """Every folder has a live, connected IDLE thread."""
        idlers = list(self.idlers.values())
        return bool(idlers) and all(i.connected.is_set() and i.is_alive() for i in idlers)

    def reconnect(self) -> None:
        for idler in list(self.idlers.values()):
            idler.reconnect()

    def stop(self, *, close: bool = False) -> list[FolderIdler]:
        """Stop every thread (``close``: and start none again); the threads, to join."""
        with self._lock:
            self._closed = self._closed or close
            idlers = list(self.idlers.values())
            self.idlers.clear()
        for idler in idlers:
            idler.stop()
        return idlers


class PushLook:
    """Mail arrived in a folder: look at it on the IDLE connection that saw it.

    That connection has the folder open and up to date; another connection
    would have to EXAMINE it again, which makes the server re-read the folder
    (241 ms for a 100,000-mail Maildir). ``look(session, folder)`` does the
    looking; ``elsewhere(folder_name, why)`` hands it to the main loop when
    there is no IDLE connection to use (the look right after a reconnect), the
    folder is unknown, or the look failed (then the idler also reconnects).
    """

    def __init__(
        self,
        folders: Callable[[], Sequence[Folder]],
        look: Callable[[ImapSession, Folder], None],
        elsewhere: Callable[[str, str], None],
        *,
        log: Logger = log,
    ) -> None:
        self._folders = folders
        self._look = look
        self._elsewhere = elsewhere
        self._log = log

    def __call__(self, name: str, session: ImapSession | None) -> None:
        folder = next((f for f in self._folders() if f.name == name), None)
        if session is None or folder is None:
            self._elsewhere(name, f"push from {name}")
            return
        try:
            self._look(session, folder)
        except UserError:
            self._elsewhere(name, f"push from {name} (IDLE connection failed)")
            raise  # the idler reconnects
        except Exception:  # noqa: BLE001 - a bug must not end the IDLE thread: logged; the main loop looks
            self._log.exception("internal error while looking at a push from %s", name)
            self._elsewhere(name, f"push from {name}")
            return
        self._log.info("%s: new mail looked at on its IDLE connection", name)


class Pending:
    """The folders the next check must look at: a set, or None for all of them."""

    def __init__(self) -> None:
        self._folders: set[str] | None = None
        self._lock = threading.Lock()

    def add(self, folder: str | None) -> None:
        with self._lock:
            if folder is None:
                self._folders = None
            elif self._folders is not None:
                self._folders.add(folder)

    def take(self) -> set[str] | None:
        with self._lock:
            folders, self._folders = self._folders, set()
        return folders

    def give_back(self, folders: set[str] | None) -> None:
        """A check failed: the retry looks at what it could not."""
        with self._lock:
            if folders is None or self._folders is None:
                self._folders = None
            else:
                self._folders |= folders
