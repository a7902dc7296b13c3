"""``secop-watcher wait``: right after clicking "Enviar correo" on SECOP, wait for the link.

It remembers where each folder ended when it started (UIDNEXT), listens with
IDLE on inbox and spam (polling every few seconds where the server has no
IDLE) and returns the first genuine reset link that arrived after that.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from watcher import i18n
from watcher.catalogs import arg_text
from watcher.commands import Outcome, add_account_option, load_config
from watcher.errors import UsageError
from watcher.exitcodes import ExitCode

if TYPE_CHECKING:
    from watcher.config import Config
    from watcher.mail import ImapSession

HELP = "espera el correo que acaba de pedir / wait for the mail you just requested"


def _minutes(value: str) -> float:
    """A finite, positive number of minutes (argparse turns the error into exit 2)."""
    try:
        minutes = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(arg_text("args.not_a_number", value=value)) from None
    if not 0 < minutes <= 24 * 60:  # also rejects nan and inf
        raise argparse.ArgumentTypeError(arg_text("args.minutes_range"))
    return minutes


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("wait", help=HELP, description=HELP)
    p.add_argument(
        "--timeout",
        type=_minutes,
        default=10.0,
        metavar="MIN",
        help="minutos de espera (10) / minutes to wait (10)",
    )
    p.add_argument(
        "--since",
        metavar="HH:MM|ISO",
        help="aceptar enlaces llegados desde esta hora / accept links since then",
    )
    p.add_argument(
        "--open",
        action="store_true",
        help="abrir el enlace en el navegador / open the link in the browser",
    )
    p.add_argument(
        "--copy",
        action="store_true",
        help="copiar el enlace al portapapeles / copy the link to the clipboard",
    )
    p.add_argument("--json", action="store_true", help="salida JSON / JSON output")
    add_account_option(p)
    p.set_defaults(func=run)


def parse_since(value: str, now: datetime) -> datetime:
    try:
        if len(value) <= 5 and ":" in value:
            hour, minute = (int(x) for x in value.split(":"))
            moment = now.astimezone().replace(hour=hour, minute=minute, second=0, microsecond=0)
            return moment - timedelta(days=1) if moment > now else moment
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise UsageError("wait.bad_since", value=value) from e
    return parsed if parsed.tzinfo else parsed.astimezone()


def run(args: argparse.Namespace) -> Outcome:
    # Imported here, not at start-up: `secop-watcher --help` stays fast.
    from watcher.credentials import refuse_shared_password
    from watcher.waiting import Waiter, wait_all

    config = load_config(args)
    now = datetime.now(UTC)
    since = parse_since(args.since, now) if args.since else None
    configs = config.each()
    refuse_shared_password([c.imap for c in configs])
    waiters = [Waiter(one, _opener(one), since=since, lang=args.lang) for one in configs]
    if len(waiters) == 1:
        result = waiters[0].wait(timeout=args.timeout * 60)
    else:
        # Several accounts: all watched at once; one that cannot be watched is reported,
        # the others go on. Only when none can be watched does the command fail.
        best, errors = wait_all(waiters, timeout=args.timeout * 60)
        for e in errors:
            print(i18n.error_text(e, args.lang), file=sys.stderr)
        if best is None:
            raise errors[0]
        result = best
    if result.link is None:
        print(i18n.t("wait.timeout", args.lang, minutes=float(args.timeout)), file=sys.stderr)
        return Outcome(result, ExitCode.NOT_FOUND, config)
    url = result.link.url or ""  # a link wait reports is current: it always has one
    if args.open or args.copy:
        from watcher import handover, render  # the same as check-now --open/--copy

        notes = handover.hand_over(url, args.lang, open_it=args.open, copy_it=args.copy)
        return Outcome(render.Noted(result, notes), ExitCode.FOUND, config)
    return Outcome(result, ExitCode.FOUND, config)


def _opener(config: Config) -> Callable[[], ImapSession]:
    """Connections for one account; its password is asked for once, on the first one, in
    that account's own thread: one account's missing password stops only that account."""
    from watcher.connect import Connector

    return Connector(config, clock=lambda: datetime.now(UTC), keep_password=True)
