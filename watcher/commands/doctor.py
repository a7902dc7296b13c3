"""``secop-watcher doctor``: one checklist a help desk can ask a user to paste."""

from __future__ import annotations

import argparse

from watcher.commands import Outcome, add_account_option

HELP = "diagnóstico para soporte técnico / a checklist for the help desk"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help=HELP, description=HELP)
    p.add_argument("--json", action="store_true", help="salida JSON / JSON output")
    add_account_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from watcher import diagnose  # the network and TLS code: not at start-up

    return diagnose.run(args)
