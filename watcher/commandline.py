"""Commands written in the config (``password_command``, ``[notify] command``).

A command is run without a shell, as a list of arguments. The config may
give that list itself, a TOML array (``["C:/Users/ana/bin/notify.exe",
"--flag"]``), which needs no quoting rules on any platform; or a string,
split with the rules of the platform it runs on:

- POSIX: a POSIX shell's words (``shlex``);
- Windows: the C runtime's rules (``CommandLineToArgvW``/UCRT, by ``mslex``),
  where a backslash is a path separator, not an escape: POSIX rules made
  ``C:\\Users\\ana\\bin\\notify.exe`` into ``C:Usersanabinnotify.exe``.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from typing import Any

import mslex

__all__ = ["Argv", "problem", "split", "to_argv"]

Argv = tuple[str, ...]


def split(command: str, platform: str = sys.platform) -> Argv:
    """``command``'s arguments by ``platform``'s rules; ValueError when it cannot be read."""
    if platform == "win32":
        return tuple(mslex.split(command, like_cmd=False, ucrt=True))
    return tuple(shlex.split(command))


def problem(value: Any, platform: str = sys.platform) -> str | None:
    """Why ``value`` is not a usable command (a reason for the config message), or None."""
    if isinstance(value, list):
        if not value or not all(isinstance(v, str) for v in value) or not _usable(value):
            return "list"
        return None
    if not isinstance(value, str) or not value.strip():
        return "type"
    try:
        argv = split(value, platform)
    except ValueError:
        return "quotes"
    return None if argv and _usable(argv) else "type"


def _usable(argv: Sequence[str]) -> bool:
    """A program to run, and no NUL anywhere (no operating system passes one on)."""
    return bool(argv[0].strip()) and not any("\0" in arg for arg in argv)


def to_argv(value: str | list[str], platform: str = sys.platform) -> Argv:
    """A checked config value (see :func:`problem`) as arguments."""
    return tuple(value) if isinstance(value, list) else split(value, platform)
