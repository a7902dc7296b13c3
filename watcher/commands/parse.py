"""``secop-watcher parse FILE...``: run the parser on saved .eml files."""

from __future__ import annotations

import argparse
from pathlib import Path

from watcher import paths
from watcher.commands import Outcome, load_config
from watcher.config import DEFAULT_SENDER, Config
from watcher.errors import InputError
from watcher.exitcodes import ExitCode
from watcher.model import Kind

HELP = "analiza correos guardados (.eml) / parse saved .eml files"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("parse", help=HELP, description=HELP)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="salida JSON / JSON output")
    p.set_defaults(func=run)


def config_for(args: argparse.Namespace) -> Config | None:
    """The config when there is one (an explicitly named one must exist and be valid)."""
    if args.config or paths.config_file(None).is_file():
        return load_config(args)
    return None


def run(args: argparse.Namespace) -> Outcome:
    from watcher.authresults import DEFAULT_TRUSTED_AUTHSERV_IDS  # heavy: not at start-up
    from watcher.parsing import parse_message
    from watcher.render import ParsedFile, ParsedFiles

    config = config_for(args)
    sender = config.watch.sender if config else DEFAULT_SENDER
    trusted = config.watch.trusted_authserv_ids if config else DEFAULT_TRUSTED_AUTHSERV_IDS
    results = [
        ParsedFile(f, parse_message(_read(f), sender=sender, trusted_authserv_ids=trusted))
        for f in args.files
    ]
    found = any(r.verdict.kind is Kind.RESET for r in results)
    return Outcome(ParsedFiles(results), ExitCode.FOUND if found else ExitCode.NOT_FOUND, config)


def _read(name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as e:
        raise InputError(path=name, reason=e.strerror or type(e).__name__, errno=e.errno) from e
