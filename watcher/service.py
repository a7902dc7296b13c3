"""The background service behind ``secop-watcher run``.

Pieces, each small:

- :class:`~watcher.announcer.Announcer` decides which links to notify (each
  exactly once, across restarts) and which notification to withdraw.
- :mod:`watcher.engine`, shared with ``wait``: the kept connection, the IDLE
  threads (one :class:`~watcher.idle.FolderIdler` per folder) and the look at
  a push on the IDLE connection that saw it.
- :class:`~watcher.engine.Pending`: which folders the next check must look at.
- :class:`~watcher.pause.AuthPause`: after a refused sign-in, no retry until the configuration
  or the password changes (instead of hammering the server).
- :class:`Service` wires them up: one checker thread that runs checks one at a
  time when asked, and an APScheduler job every ``poll_seconds`` (the safety
  net, also used to notice a resume from suspend and a changed password).
- A link's notification is withdrawn when the link expires, on every platform:
  one scheduler job at the next expiry, and the poll tick looks too (after a
  suspend the job may come late). No timer runs while nothing is on screen.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from watcher import i18n
from watcher.announcer import Announcer, Logger, account_log
from watcher.check import scan_new_many
from watcher.choosing import choose
from watcher.config import Config
from watcher.engine import IdleGroup, KeptSession, Pending, PushLook
from watcher.errors import AuthError, CredentialsError, UserError
from watcher.folders import Folder
from watcher.i18n import error_text
from watcher.idle import Backoff
from watcher.mail import ImapSession
from watcher.model import Found, Link
from watcher.notify import Notifier
from watcher.pause import AuthPause
from watcher.state import Cursor, StateStore
from watcher.stopping import stop_wait_timeout, wait_for_stop

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
RECHECK_TAIL = 20  # full checks search the last UIDs again (servers whose index lags)
IDLE_FULL_CHECK = 600.0  # with IDLE on every folder, a full check this often is enough
STOP_WAIT = 5.0  # longest wait for the worker threads when stopping
RESUME_GAP = 30.0  # wall clock ran this much faster than the monotonic clock: we slept

__all__ = ["Announcer", "Service"]


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
        self.notifier = notifier
        self.lang = lang
        self.store = store or StateStore()
        self.clock = clock
        self._reload = reload_config
        self._log: Logger = account_log(log, config.account)
        self.announcer = Announcer(
            notifier, lang, timedelta(hours=config.watch.max_link_age_hours), log=self._log
        )
        self.kept = KeptSession(open_session, config.imap.folders, use_idle=use_idle)
        self.pause = AuthPause(config.path, credentials_fingerprint)
        self.pending = Pending()
        push = PushLook(lambda: self.kept.folders, self._look_pushed, self.request_check)
        self.idle = IdleGroup(
            open_session, push, self.on_idle_auth_error, on_lost=self._idle_lost, log=self._log
        )
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._check_lock = threading.Lock()  # one check at a time: checker or an IDLE thread
        self._last_tick = (time.time(), time.monotonic())
        self._error_logged: str | None = None
        self.checks = 0  # completed checks, for tests and status
        self._last_full_check = float("-inf")
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
        self._stopping.set()
        idlers = self.idle.stop(close=True)  # no idler is started after this
        self._wanted.set()
        self._checker.join(timeout=STOP_WAIT)
        if not self._checker.is_alive():
            self.kept.drop()
        for idler in idlers:
            idler.join(timeout=max(0.1, STOP_WAIT - (time.monotonic() - started)))
        self.notifier.close()
        self._log.info("stopped in %.1f s", time.monotonic() - started)

    def request_check(self, folder: str | None = None, reason: str = "") -> None:
        """Ask for a check of ``folder`` (a push from its IDLE), or of every folder."""
        if reason:
            self._log.debug("check requested: %s", reason)
        self.pending.add(folder)
        self._wanted.set()

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

    # --- the poll job -----------------------------------------------------------

    def _tick(self) -> None:
        self.announcer.withdraw_expired(self.clock())  # the expiry job may come late
        self._schedule_expiry()
        wall, mono = time.time(), time.monotonic()
        last_wall, last_mono = self._last_tick
        self._last_tick = (wall, mono)
        if (wall - last_wall) - (mono - last_mono) > RESUME_GAP:
            self._log.info("the clock jumped (resume from suspend?): reconnecting")
            self.idle.reconnect()
            self.kept.mark_stale()
            self.request_check(reason="resume")
            return
        if self.pause.paused:
            # The checker looks whether the password changed (that may run password_command
            # or wait for the keyring): never in the scheduler's thread, which must stay free.
            self._wanted.set()
            return
        if self.idle.covers() and mono - self._last_full_check < IDLE_FULL_CHECK:
            return  # IDLE reports arrivals; no need to open the mailbox (no wake-ups)
        self.request_check(reason="poll")

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
            if self.pause.paused:
                self._maybe_resume()
                delay = None
                if self.pause.paused:
                    continue
            only = self.pending.take()
            if self._guarded_check(only):
                retry.reset()
                delay = None
            else:
                self.pending.give_back(only)
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
                self.kept.drop()
                self._pause(e, now)
                return []
            except UserError as e:
                self.kept.drop()
                self._record_error(e, now)
                return []
            self._last_check_ok = True
            new = self._record(found, cursors, now, full=only is None)
        if self.kept.idle_supported and not self._stopping.is_set() and not self.pause.paused:
            self.idle.ensure(self.kept.folders)  # paused: idlers would only fail again
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
        session = self.kept.get()
        folders = [f for f in self.kept.folders if only is None or f.name in only]
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
        reused = self.kept.is_open
        try:
            return self._scan(now, only)
        except (AuthError, CredentialsError):
            raise
        except UserError as e:
            if not reused:
                raise
            self._log.info("the kept connection failed (%s); reconnecting", e.key)
            self.kept.drop()
            return self._scan(now, only)

    def _record_error(self, e: UserError, now: datetime) -> None:
        message = error_text(e, "en")
        if self._error_logged != e.key:
            self._log.warning("check failed: %s", message)
            self._error_logged = e.key
        with self.store.update() as state:
            state.record_error(now, e.key, message)

    # --- authentication failures ------------------------------------------------

    def _pause(self, e: UserError, now: datetime) -> None:
        if not self.pause.pause():
            return
        message = error_text(e, self.lang)
        self._log.error("%s", error_text(e, "en"))
        self._log.error("not retrying until the configuration or the password changes")
        self.notifier.problem(i18n.t("service.auth_title", self.lang), message)
        with self.store.update() as state:
            state.record_error(now, e.key, error_text(e, "en"))

    def on_idle_auth_error(self, e: UserError) -> None:
        self._pause(e, self.clock())

    def _maybe_resume(self) -> None:
        if not self.pause.changed():
            return
        self._log.info("configuration or password changed: trying again")
        if self._reload is not None:
            try:
                self.config = self._reload()
            except UserError as e:
                self._log.error("the new configuration is not usable: %s", e.key)
                return
        self.pause.resume()
        self.idle.stop()
        self.request_check(reason="credentials changed")

    # --- IDLE -------------------------------------------------------------------

    def _idle_lost(self, folder: str) -> None:
        """An IDLE connection died: the kept one most likely shares its fate (the same
        network path): the next check opens a new one instead of waiting on it."""
        self.kept.mark_stale()

    def _look_pushed(self, session: ImapSession, folder: Folder) -> None:
        if self.pause.paused:
            self.request_check(folder.name, f"push from {folder.name}")
            return
        with self._check_lock:
            now = self.clock()
            cursor = self.store.read().folders.get(folder.name)
            found, cursors, _notices = scan_new_many(
                session, [folder], {folder.name: cursor}, self.config, now, examine=False
            )
            self._record(found, cursors, now, full=False)
