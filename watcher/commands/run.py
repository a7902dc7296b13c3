"""``secop-watcher run``: the foreground service that the login service starts."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING

from watcher import i18n
from watcher.commands import Outcome, add_account_option, load_config
from watcher.exitcodes import ExitCode
from watcher.stopping import (
    block_stop_signals,
    stop_wait_timeout,
    unblock_stop_signals,
    wait_for_stop,
)

if TYPE_CHECKING:
    from watcher.config import Config, ImapConfig
    from watcher.service import Service

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
    add_account_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    config = load_config(args)
    # Only the main thread may take SIGTERM/SIGINT: delivered to a worker thread, the
    # signal would leave the main thread asleep in its wait and the service would not
    # stop. Worker threads inherit the blocked mask; the main thread unblocks it.
    from watcher.credentials import refuse_shared_password

    refuse_shared_password([c.imap for c in config.each()])
    block_stop_signals()
    services = [_service(c, args, several=bool(config.accounts)) for c in config.each()]
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if sys.platform != "win32":  # `kill -USR1 <pid>`: where is each thread? (stderr)
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    mode = "IMAP IDLE" if not args.no_idle else "poll"
    for service in services:
        log.warning(
            i18n.t(
                "run.started",
                "en",
                folders=service.config.imap.folders or "INBOX + spam",
                mode=mode,
                seconds=config.watch.poll_seconds,
            )
            + (f" [account {service.config.account}]" if service.config.account else "")
        )
    if len(services) == 1:
        services[0].run(stop, on_started=unblock_stop_signals)
        return Outcome(None, ExitCode.FOUND)
    # Several accounts: one service each, side by side; one account's trouble (a dead
    # server, a revoked password) is that service's own business, never the others'.
    threads = [
        threading.Thread(target=s.run, args=(stop,), name=f"account:{s.config.account}")
        for s in services
    ]
    from watcher.service import STOP_WAIT

    for thread in threads:
        thread.start()
    unblock_stop_signals()
    wait_for_stop(stop, stop_wait_timeout())
    for thread in threads:
        thread.join(timeout=STOP_WAIT + 1)  # each service stops within STOP_WAIT
    return Outcome(None, ExitCode.FOUND)


def _service(config: Config, args: argparse.Namespace, *, several: bool) -> Service:
    # Imported here: the notification stack is heavy and only the service needs it.
    from watcher.connect import Connector
    from watcher.mail import ImapSession
    from watcher.notify import build_notifier
    from watcher.service import Service
    from watcher.state import StateStore, state_file

    service: Service
    connectors: dict[ImapConfig, Connector] = {}  # one per settings: tokens survive reloads
    lock = threading.Lock()  # the checker and the IDLE threads ask at once

    def connector() -> Connector:
        imap = service.config.imap
        with lock:
            if imap not in connectors:
                connectors[imap] = Connector(service.config, clock=lambda: datetime.now(UTC))
            return connectors[imap]

    def open_session() -> ImapSession:
        return connector()()

    def reload() -> Config:
        fresh = load_config(args)
        return fresh.only(config.account) if several else fresh

    service = Service(
        config,
        open_session,
        build_notifier(config.notify, account=config.account if several else ""),
        lang=args.lang,
        store=StateStore(state_file(config.account)),
        use_idle=not args.no_idle,
        reload_config=reload,
        credentials_fingerprint=lambda: connector().fingerprint(),
    )
    return service
