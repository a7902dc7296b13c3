"""``secop-watcher run``: the foreground service that the login service starts."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import threading
from types import FrameType

from watcher import i18n
from watcher.commands import Outcome, load_config
from watcher.exitcodes import ExitCode

HELP = "servicio: avisa cuando llega un enlace / service: notify when a link arrives"
log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help=HELP, description=HELP)
    p.add_argument(
        "--show-links",
        action="store_true",
        help="no recortar los enlaces en el registro / do not redact links in logs",
    )
    p.add_argument(
        "--no-idle",
        action="store_true",
        help="solo revisión periódica, sin IDLE / poll only, no IDLE",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    # Imported here: the notification stack is heavy and only the service needs it.
    from watcher.credentials import get_password
    from watcher.imap import ImapSession
    from watcher.notify import build_notifier
    from watcher.service import Service, password_fingerprint

    config = load_config(args)
    service: Service
    # Only the main thread may take SIGTERM/SIGINT: delivered to a worker thread, the
    # signal would leave the main thread asleep in its wait and the service would not
    # stop. Worker threads inherit the blocked mask; the main thread unblocks it.
    _block_stop_signals(signal.SIG_BLOCK)

    def open_session() -> ImapSession:
        return ImapSession.open(service.config.imap, get_password(service.config.imap))

    service = Service(
        config,
        open_session,
        build_notifier(config.notify),
        lang=args.lang,
        use_idle=not args.no_idle,
        reload_config=lambda: load_config(args),
        password_fingerprint=password_fingerprint(lambda: get_password(service.config.imap)),
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>`: where is each thread? (stderr)
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    mode = "IMAP IDLE" if not args.no_idle else "poll"
    log.warning(
        i18n.t(
            "run.started",
            "en",
            folders=config.imap.folders or "INBOX + spam",
            mode=mode,
            seconds=config.watch.poll_seconds,
        )
    )
    service.run(stop, on_started=lambda: _block_stop_signals(signal.SIG_UNBLOCK))
    return Outcome(None, ExitCode.FOUND)


def _block_stop_signals(how: int) -> None:
    if hasattr(signal, "pthread_sigmask"):  # POSIX; Windows delivers Ctrl-C to the main thread
        signal.pthread_sigmask(how, {signal.SIGTERM, signal.SIGINT})
