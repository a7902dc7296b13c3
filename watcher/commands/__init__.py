"""One small module per command. Each returns an :class:`Outcome`; ``cli`` renders it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from watcher import config as config_mod
from watcher import paths
from watcher.config import Config
from watcher.exitcodes import ExitCode


@dataclass(frozen=True)
class Outcome:
    data: Any
    exit_code: ExitCode = ExitCode.FOUND
    config: Config | None = None  # what rendering needs to know (sender, link lifetime)


def load_config(args: argparse.Namespace) -> Config:
    return config_mod.load(paths.config_file(args.config))
