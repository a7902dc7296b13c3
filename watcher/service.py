"""The background service behind ``secop-watcher run``.

Pieces, each small:

- :class:`Announcer` decides, from what a check found and what the state
  remembers, which links to notify (each exactly once, across restarts) and
  which older notification to withdraw. Pure apart from the notifier it calls.
- :class:`Service` wires it up: one checker thread that runs checks one at a
  time when asked; an APScheduler job that asks every ``poll_seconds`` (the
  safety net, also used to notice a resume from suspend and a changed
  password); and one :class:`~watcher.idle.FolderIdler` per folder that asks
  the moment the server pushes new mail.
- A link's notification is withdrawn when the link expires, on every platform
  (Windows and macOS ignore the expire timeout; so do some Linux servers): one
  scheduler job at the next expiry, and the poll tick looks too (after a suspend
  the job may come late). No timer runs while nothing is on screen.

An authentication failure is reported once (log, notification, state) and
the service then waits for the configuration or the password to change,
instead of hammering the server.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from watcher import i18n
from watcher.check import scan_new_many
from watcher.choosing import choose
from watcher.config import Config
from watcher.errors import AuthError, CredentialsError, UserError
from watcher.i18n import error_text
from watcher.idle import Backoff, FolderIdler
from watcher.imap import Folder, ImapSession, choose_folders
from watcher.model import Found, Link, Report, Suspicious
from watcher.notify import Notifier
from watcher.state import Announced, Cursor, State, StateStore, link_key
from watcher.stopping import stop_wait_timeout, wait_for_stop

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SESSION_MAX_IDLE = 300.0  # seconds a kept connection may sit unused before a new one
RECHECK_TAIL = 20  # full checks search the last UIDs again (servers whose index lags)
IDLE_FULL_CHECK = 600.0  # with IDLE on every folder, a full check this often is enough
STOP_WAIT = 5.0  # longest wait for the worker threads when stopping
RESUME_GAP = 30.0  # wall clock ran this much faster than the monotonic clock: we slept


class _AccountLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"[{self.extra['account'] if self.extra else ''}] {msg}", kwargs


Logger = logging.Logger | logging.LoggerAdapter  # type: ignore[type-arg]


def account_log(logger: logging.Logger, account: str) -> Logger:
    """``logger``, its lines prefixed with ``[NAME]`` for the account ``[accounts.NAME]``
    (several services share one log)."""
    return _AccountLog(logger, {"account": account}) if account else logger


@dataclass
class Announcer:
    """Turns what a check found into notifications, exactly once per link."""

    notifier: Notifier
    lang: str
    max_age: timedelta
    handles: dict[str, str] = field(default_factory=dict)  # user → on-screen notification
    log: Logger = field(default=logging.getLogger(__name__))  # per account: see account_log
    expiries: dict[str, datetime] = field(default_factory=dict)  # handle → its link's expiry
    # The checker, an IDLE thread and the scheduler (expiries) touch handles and expiries.
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def apply(self, report: Report, state: State, now: datetime) -> list[Link]:
        announced = [self._announce(link, state, now) for link in report.current]
        for s in report.suspicious:
            self._warn(s, state, now)
        return [link for link in announced if link is not None]

    def _announce(self, link: Link, state: State, now: datetime) -> Link | None:
        if link.url is None:  # pragma: no cover - choose() never makes such a link current
            return None
        key = link_key(link.url)
        user = (link.username or "").casefold()
        if key in state.announced or self._newer_known(user, link, state):
            return None
        with self._lock:
            old = self.handles.pop(user, None)
            if old is not None:
                self.expiries.pop(old, None)
        if old is not None:
            self.notifier.withdraw(old)  # the older link is dead: never leave it on screen
        expires_at = link.received + self.max_age
        handle = self.notifier.announce(link, lang=self.lang, expires_at=expires_at)
        if handle is not None:
            with self._lock:
                self.handles[user] = handle
                self.expiries[handle] = expires_at
        state.announced[key] = _record(
            link.username, link.received, link.folder, link.message_id, now
        )
        self.log.info("announced a new link for %s (%s)", link.username, link.folder)
        return link

    def withdraw_expired(self, now: datetime) -> datetime | None:
        """Withdraw every notification whose link has expired by ``now`` (on Windows and
        macOS nothing else would: they ignore the timeout); the next expiry, if any."""
        with self._lock:
            dead = [h for h, end in self.expiries.items() if end <= now]
            for handle in dead:
                del self.expiries[handle]
            for user in [u for u, h in self.handles.items() if h in dead]:
                del self.handles[user]
            following = min(self.expiries.values(), default=None)
        for handle in dead:
            self.notifier.withdraw(handle)
            self.log.info("the link's notification was withdrawn: the link expired")
        return following

    def next_expiry(self) -> datetime | None:
        with self._lock:
            return min(self.expiries.values(), default=None)

    @staticmethod
    def _newer_known(user: str, link: Link, state: State) -> bool:
        """A rescan may find a link older than one already announced for that user.

        Compared as moments, never as text: mail dates carry their sender's offset.
        """
        received = link.received.astimezone(UTC).replace(microsecond=0)
        return any(
            (a.username or "").casefold() == user and _moment(a.received) > received
            for key, a in state.announced.items()
            if not key.startswith("suspicious:")
        )

    def _warn(self, s: Suspicious, state: State, now: datetime) -> None:
        ident = s.message_id or f"{s.folder}|{s.received}|{s.sender}"
        key = "suspicious:" + hashlib.sha256(ident.encode()).hexdigest()[:32]
        if key in state.announced:
            return
        self.notifier.warn(s, lang=self.lang)
        state.announced[key] = _record(None, s.received or now, s.folder, s.message_id, now)
        self.log.warning(
            "suspicious mail in %s from %s: %s", s.folder, s.sender, ", ".join(s.reasons)
        )


def _moment(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _record(
    user: str | None, received: datetime, folder: str, mid: str | None, now: datetime
) -> Announced:
    return Announced(
        username=user,
        received=received.astimezone(UTC).isoformat(timespec="seconds"),
        folder=folder,
        message_id=mid,
        announced_at=now.isoformat(timespec="seconds"),
    )


class Service:
    """``secop-watcher run``: checks on push and on a timer until ``stop()``."""

    def __init__(
        self,
        config: Config,
        open_session: Callable[[], ImapSession],
        notifier: Notifier,
        *,
        lang: str,
        store: StateStore | None = None,
        clock: Clock = lambda: datetime.now(UTC),
        use_idle: bool = True,
        reload_config: Callable[[], Config] | None = None,
        credentials_fingerprint: Callable[[], str] | None = None,
    ) -> None:
        self.config = config
        self._open = open_session
        self.notifier = notifier
        self.lang = lang
        self.store = store or StateStore()
        self.clock = clock
        self.use_idle = use_idle
        self._reload = reload_config
        self._fingerprint = credentials_fingerprint
        self._log = account_log(log, config.account)
        self.announcer = Announcer(
            notifier, lang, timedelta(hours=config.watch.max_link_age_hours), log=self._log
        )
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._paused_on: str | None = None  # fingerprint of the credentials that failed
        self._idlers: dict[str, FolderIdler] = {}
        self._idlers_lock = threading.Lock()  # the checker, the scheduler and stop() use them
        self._pause_lock = threading.Lock()
        self._folders: list[Folder] = []
        self._last_tick = (time.time(), time.monotonic())
        self._error_logged: str | None = None
        self.checks = 0  # completed checks, for tests and status
        self._session: ImapSession | None = None  # the checker's connection, kept
        self._idle_supported = False  # learnt from the server's capabilities
        self._pending: set[str] | None = None  # folders to check; None = all
        self._pending_lock = threading.Lock()
        self._check_lock = threading.Lock()  # one check at a time: checker or an IDLE thread
        self._last_full_check = float("-inf")
        self._session_used = float("-inf")
        self._session_stale = False
        self._last_check_ok = False
        self._checker = threading.Thread(target=self._check_loop, name="checker", daemon=True)
        self._scheduler: Any = None  # APScheduler's, while run() runs (expiry jobs)
        self._expiry_at: datetime | None = None  # when the expiry job is due
        self._expiry_lock = threading.Lock()

    # --- lifecycle ------------------------------------------------------------

    def run(self, stop: threading.Event, on_started: Callable[[], None] | None = None) -> None:
        """Run until ``stop`` is set (SIGTERM, Ctrl-C); ``on_started`` once the threads run."""
        from apscheduler.executors.debug import DebugExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        # The tick only compares clocks and sets an event: it runs in the scheduler's own
        # thread ("debug" is APScheduler's name for that executor). A thread pool would
        # wake a second thread, and hand the result back, every minute all day.
        scheduler = BackgroundScheduler(timezone=UTC, executors={"default": DebugExecutor()})
        scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.config.watch.poll_seconds,
            id="poll",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        self._checker.start()
        self.request_check()
        scheduler.start()
        self._scheduler = scheduler
        self._schedule_expiry()
        if on_started is not None:
            on_started()
        try:
            wait_for_stop(stop, stop_wait_timeout())
        finally:
            self._scheduler = None
            scheduler.shutdown(wait=False)
            self.stop()

    def stop(self) -> None:
        """Stop within a few seconds: interrupt IDLE, let a running check end, close."""
        started = time.monotonic()
        with self._idlers_lock:
            self._stopping.set()  # under the lock: no idler is started after this
            idlers = list(self._idlers.values())
        self._wanted.set()
        for idler in idlers:
            idler.stop()
        self._checker.join(timeout=STOP_WAIT)
        if not self._checker.is_alive():
            self._drop_session()
        for idler in idlers:
            idler.join(timeout=max(0.1, STOP_WAIT - (time.monotonic() - started)))
        self.notifier.close()
        self._log.info("stopped in %.1f s", time.monotonic() - started)

    def request_check(self, reason: str = "", folder: str | None = None) -> None:
        """Ask for a check of ``folder`` (a push from its IDLE), or of every folder."""
        if reason:
            self._log.debug("check requested: %s", reason)
        with self._pending_lock:
            if folder is None:
                self._pending = None
            elif self._pending is not None:
                self._pending.add(folder)
        self._wanted.set()

    def _take_pending(self) -> set[str] | None:
        with self._pending_lock:
            pending, self._pending = self._pending, set()
        return pending

    def _give_back(self, folders: set[str] | None) -> None:
        with self._pending_lock:
            if folders is None or self._pending is None:
                self._pending = None
            else:
                self._pending |= folders

    # --- the poll job -----------------------------------------------------------

    # --- expiry: a notification never stays on screen for a dead link -------------

    def _schedule_expiry(self) -> None:
        """One scheduler job at the next link's expiry (no wake-up when none is shown).

        The poll tick also looks (:meth:`_tick`): after a suspend the job may come late.
        """
        with self._expiry_lock:  # read inside: a stale None must not remove a newer job
            following = self.announcer.next_expiry()
            scheduler = self._scheduler
            if scheduler is None or following == self._expiry_at:
                return
            self._expiry_at = following
            if following is None:
                with contextlib.suppress(Exception):  # JobLookupError: not scheduled
                    scheduler.remove_job("expiry")
                return
            try:
                scheduler.add_job(
                    self._expire,
                    "date",
                    run_date=following,
                    id="expiry",
                    replace_existing=True,
                    misfire_grace_time=None,
                )
            except Exception:  # noqa: BLE001 - shutting down; the tick looks anyway
                self._log.debug("could not schedule the expiry job", exc_info=True)

    def _expire(self) -> None:
        with self._expiry_lock:
            self._expiry_at = None
        self.announcer.withdraw_expired(self.clock())
        self._schedule_expiry()

    def _tick(self) -> None:
        self.announcer.withdraw_expired(self.clock())  # the expiry job may come late
        self._schedule_expiry()
        wall, mono = time.time(), time.monotonic()
        last_wall, last_mono = self._last_tick
        self._last_tick = (wall, mono)
        if (wall - last_wall) - (mono - last_mono) > RESUME_GAP:
            self._log.info("the clock jumped (resume from suspend?): reconnecting")
            for idler in list(self._idlers.values()):
                idler.reconnect()
            self._session_stale = True
            self.request_check("resume")
            return
        if self._paused_on is not None:
            # The checker looks whether the password changed (that may run password_command
            # or wait for the keyring): never in the scheduler's thread, which must stay free.
            self._wanted.set()
            return
        if self._idle_covers_all() and mono - self._last_full_check < IDLE_FULL_CHECK:
            return  # IDLE reports arrivals; no need to open the mailbox (no wake-ups)
        self.request_check("poll")

    def _idle_covers_all(self) -> bool:
        idlers = list(self._idlers.values())
        return bool(idlers) and all(i.connected.is_set() and i.is_alive() for i in idlers)

    # --- checks -----------------------------------------------------------------

    def _check_loop(self) -> None:
        """Run checks one at a time when asked; after a failure, retry with backoff."""
        retry = Backoff(first=2.0, cap=float(self.config.watch.poll_seconds))
        delay: float | None = None
        while True:
            self._wanted.wait(timeout=delay)
            if self._stopping.is_set():
                return
            self._wanted.clear()
            if self._paused_on is not None:
                self._maybe_resume()
                delay = None
                if self._paused_on is not None:
                    continue
            only = self._take_pending()
            if self._guarded_check(only):
                retry.reset()
                delay = None
            else:
                self._give_back(only)  # the retry checks what this check could not
                delay = retry.next()
                self._log.info("next attempt in %.0f s", delay)

    def _guarded_check(self, only: set[str] | None = None) -> bool:
        """One check; False when it failed. A bug must not end the service: log it, go on."""
        try:
            self.check_once(only)
        except Exception:  # noqa: BLE001 - the checker thread's last line of defence (logged in full)
            self._log.exception("internal error during a check; the next check will try again")
            return False
        return self._last_check_ok

    def check_once(self, only: set[str] | None = None) -> list[Link]:
        """One incremental check (of ``only`` those folders, or all); announces what is new.

        Never raises a UserError. The connection is kept for the next check
        (a push then costs a few round trips, not a new TLS session and login).
        """
        with self._check_lock:
            now = self.clock()
            self._last_check_ok = False
            try:
                found, cursors = self._scan_retrying_once(now, only)
            except (AuthError, CredentialsError) as e:
                self._drop_session()
                self._pause(e, now)
                return []
            except UserError as e:
                self._drop_session()
                self._record_error(e, now)
                return []
            self._last_check_ok = True
            new = self._record(found, cursors, now, full=only is None)
        self._ensure_idlers()
        return new

    def _record(
        self, found: list[Found], cursors: dict[str, Cursor], now: datetime, *, full: bool
    ) -> list[Link]:
        """Choose, announce what is new, and keep the cursors (a check succeeded)."""
        if full:
            self._last_full_check = time.monotonic()
        report = choose(found, now=now, max_age=self.announcer.max_age)
        with self.store.update() as state:
            state.folders.update(cursors)
            new = self.announcer.apply(report, state, now)
            state.record_success(now)
        self._schedule_expiry()
        if self._error_logged:
            self._log.warning("connection is back; checking normally again")
            self._error_logged = None
        self.checks += 1
        self._log.info("check %d done: %d new link(s)", self.checks, len(new))
        return new

    def _scan(self, now: datetime, only: set[str] | None) -> tuple[list[Found], dict[str, Cursor]]:
        state = self.store.read()
        session = self._checker_session()
        folders = [f for f in self._folders if only is None or f.name in only]
        found, cursors, _notices = scan_new_many(
            session,
            folders,
            {f.name: state.folders.get(f.name) for f in folders},
            self.config,
            now,
            recheck=RECHECK_TAIL if only is None else 0,
        )
        return found, cursors

    def _scan_retrying_once(
        self, now: datetime, only: set[str] | None
    ) -> tuple[list[Found], dict[str, Cursor]]:
        """A kept connection may have died quietly: then once more on a fresh one."""
        reused = self._session is not None
        try:
            return self._scan(now, only)
        except (AuthError, CredentialsError):
            raise
        except UserError as e:
            if not reused:
                raise
            self._log.info("the kept connection failed (%s); reconnecting", e.key)
            self._drop_session()
            return self._scan(now, only)

    def _checker_session(self) -> ImapSession:
        """The checker's own connection, opened (and the folders listed) when needed.

        Kept between checks, but not longer than :data:`SESSION_MAX_IDLE` unused
        (servers log idle clients out) nor across a suspend.
        """
        idle_for = time.monotonic() - self._session_used
        if self._session is not None and (self._session_stale or idle_for > SESSION_MAX_IDLE):
            self._drop_session()
        self._session_stale = False
        self._session_used = time.monotonic()
        if self._session is None:
            session = self._open()
            try:
                self._folders = choose_folders(session.listing(), self.config.imap.folders)
                self._idle_supported = self.use_idle and session.supports_idle()
            except BaseException:
                session.close()
                raise
            self._session = session
        return self._session

    def _drop_session(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _record_error(self, e: UserError, now: datetime) -> None:
        message = error_text(e, "en")
        if self._error_logged != e.key:
            self._log.warning("check failed: %s", message)
            self._error_logged = e.key
        with self.store.update() as state:
            state.record_error(now, e.key, message)

    # --- authentication failures ------------------------------------------------

    def _pause(self, e: UserError, now: datetime) -> None:
        with self._pause_lock:  # both IDLE threads may fail to log in at once: one notice
            if self._paused_on is not None:
                return
            self._paused_on = self._credentials_fingerprint()
        message = error_text(e, self.lang)
        self._log.error("%s", error_text(e, "en"))
        self._log.error("not retrying until the configuration or the password changes")
        self.notifier.problem(i18n.t("service.auth_title", self.lang), message)
        with self.store.update() as state:
            state.record_error(now, e.key, error_text(e, "en"))

    def on_idle_auth_error(self, e: UserError) -> None:
        self._pause(e, self.clock())

    def _credentials_fingerprint(self) -> str:
        parts = []
        if self.config.path is not None:
            try:
                parts.append(str(Path(self.config.path).stat().st_mtime_ns))
            except OSError:
                parts.append("-")
        if self._fingerprint is not None:
            try:
                parts.append(self._fingerprint())
            except UserError:
                parts.append("-")
        return "|".join(parts)

    def _maybe_resume(self) -> None:
        if self._credentials_fingerprint() == self._paused_on:
            return
        self._log.info("configuration or password changed: trying again")
        if self._reload is not None:
            try:
                self.config = self._reload()
            except UserError as e:
                self._log.error("the new configuration is not usable: %s", e.key)
                return
        self._paused_on = None
        with self._idlers_lock:
            idlers = list(self._idlers.values())
            self._idlers.clear()
        for idler in idlers:
            idler.stop()
        self.request_check("credentials changed")

    # --- IDLE -------------------------------------------------------------------

    def _ensure_idlers(self) -> None:
        with self._idlers_lock:
            if not self._idle_supported or self._stopping.is_set() or self._paused_on:
                return  # paused: the password failed; idlers would only fail again
            for folder in self._folders:
                idler = self._idlers.get(folder.name)
                if idler is None or not idler.is_alive():
                    idler = FolderIdler(
                        folder.name,
                        self._open,
                        self._on_push,
                        self.on_idle_auth_error,
                        log=self._log,
                    )
                    self._idlers[folder.name] = idler
                    idler.start()

    def _on_push(self, folder: str, session: ImapSession | None) -> None:
        """Mail arrived in ``folder``: look at it on the IDLE connection that saw it.

        That connection has the folder open and up to date; the checker's own
        connection would have to EXAMINE it again, which makes the server
        re-read the folder (241 ms for a 100,000-mail Maildir). When that is
        not possible, or fails, the checker looks instead.
        """
        if session is None or self._paused_on is not None:
            self.request_check(f"push from {folder}", folder)
            return
        try:
            self._check_pushed(folder, session)
        except UserError:
            self.request_check(f"push from {folder} (IDLE connection failed)", folder)
            raise  # the idler reconnects
        except Exception:  # noqa: BLE001 - a bug must not end the IDLE thread: logged; the checker looks
            self._log.exception("internal error while checking a push from %s", folder)
            self.request_check(f"push from {folder}", folder)

    def _check_pushed(self, name: str, session: ImapSession) -> None:
        folder = next((f for f in self._folders if f.name == name), None)
        if folder is None:
            self.request_check(f"push from {name}", name)
            return
        with self._check_lock:
            now = self.clock()
            cursor = self.store.read().folders.get(name)
            found, cursors, _notices = scan_new_many(
                session, [folder], {name: cursor}, self.config, now, examine=False
            )
            self._log.info("%s: new mail looked at on its IDLE connection", name)
            self._record(found, cursors, now, full=False)
