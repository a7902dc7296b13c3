"""``secop-watcher check-now``: which link to use, right now."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from watcher.commands import Outcome, load_config
from watcher.exitcodes import ExitCode

HELP = "revisa ahora la bandeja y el spam / check inbox and spam now"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-now", help=HELP, description=HELP)
    p.add_argument("--json", action="store_true", help="salida JSON / JSON output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    # Imported here, not at start-up: `secop-watcher --help` stays fast.
    from watcher.check import run_check
    from watcher.credentials import get_password
    from watcher.imap import ImapSession

    config = load_config(args)

    def connect() -> ImapSession:
        return ImapSession.open(config.imap, get_password(config.imap))

    report = run_check(config, connect, now=datetime.now(UTC))
    return Outcome(report, ExitCode.FOUND if report.current else ExitCode.NOT_FOUND, config)
