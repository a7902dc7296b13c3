"""One small module per command. Each returns an :class:`Outcome`; ``cli`` renders it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from watcher import paths
from watcher.exitcodes import ExitCode

if TYPE_CHECKING:
    from watcher.config import Config


@dataclass(frozen=True)
class Outcome:
    data: Any
    exit_code: ExitCode = ExitCode.FOUND
    config: Config | None = None  # what rendering needs to know (sender, link lifetime)


def add_account_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--account",
        metavar="NAME",
        help="solo la cuenta [accounts.NAME] (por defecto, todas) / only that account "
        "(default: all)",
    )


def load_config(args: argparse.Namespace) -> Config:
    from watcher import config as config_mod  # tomllib and friends: not for `--help`

    config = config_mod.load(paths.config_file(args.config))
    account = getattr(args, "account", None)
    return config.only(account) if account else config
