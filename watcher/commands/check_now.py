"""``secop-watcher check-now``: which link to use, right now."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from watcher.commands import Outcome, add_account_option, load_config
from watcher.exitcodes import ExitCode

if TYPE_CHECKING:
    from watcher.accounts import AccountResult
    from watcher.config import Config
    from watcher.model import Report


HELP = "revisa ahora la bandeja y el spam / check inbox and spam now"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-now", help=HELP, description=HELP)
    p.add_argument("--json", action="store_true", help="salida JSON / JSON output")
    add_account_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    config = load_config(args)
    configs = config.each()
    if len(configs) == 1:
        report = check(configs[0])
        return Outcome(report, ExitCode.FOUND if report.current else ExitCode.NOT_FOUND, config)
    from watcher.accounts import AccountReports, run_each
    from watcher.credentials import refuse_shared_password

    refuse_shared_password([c.imap for c in configs])

    results = run_each(configs, check)
    return Outcome(AccountReports(results), _exit_code(results), config)


def check(config: Config) -> Report:
    """One account's check-now."""
    # Imported here, not at start-up: `secop-watcher --help` stays fast.
    from watcher.check import run_check
    from watcher.connect import Connector

    connect = Connector(config, clock=lambda: datetime.now(UTC))
    return run_check(config, connect, now=datetime.now(UTC))


def _exit_code(results: list[AccountResult[Report]]) -> ExitCode:
    """0 when any account has a current link; else the first account's error; else 1."""
    if any(r.value is not None and r.value.current for r in results):
        return ExitCode.FOUND
    for r in results:
        if r.error is not None:
            return r.error.exit_code
    return ExitCode.NOT_FOUND
