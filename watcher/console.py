"""Output that never fails on the console's or pipe's encoding (issue 13).

On Windows, output redirected to a file or a pipe is written in the ANSI code
page (cp1252 for Spanish Windows), where ✓ ✗ ⚠ → do not exist: ``doctor >
doctor.txt``, what a help desk asks for, ended with exit 70 and an empty file.

- Not a terminal: UTF-8, what a help desk opening a pasted file expects
  (Notepad and every editor read it). A ``PYTHONIOENCODING`` the user set is
  kept: they asked for it.
- Always: a character the encoding lacks degrades instead of failing, ✓ to
  ``OK``, ✗ to ``X``, ⚠ to ``!``, → to ``->``, an accented letter to its base
  letter, anything else to ``?``.
"""

from __future__ import annotations

import codecs
import os
import unicodedata
from typing import IO, Any

__all__ = ["DEGRADE", "degrade", "prepare"]

DEGRADE = "secop-degrade"
_SUBSTITUTES = {
    "✓": "OK",
    "✗": "X",
    "⚠": "!",
    "→": "->",
    "–": "-",
    "—": "-",
    "…": "...",
    "«": '"',
    "»": '"',
    "•": "*",
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
}


def degrade(char: str) -> str:
    """An ASCII stand-in for ``char``."""
    if char in _SUBSTITUTES:
        return _SUBSTITUTES[char]
    base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
    return base or "?"


def _handler(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(degrade(char) for char in text), error.end


codecs.register_error(DEGRADE, _handler)


def prepare(stream: IO[Any], environ: dict[str, str] | None = None) -> None:
    """Make ``stream`` (stdout or stderr) safe for any text we write."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is None:  # replaced by a test harness or an embedding program
        return
    env = os.environ if environ is None else environ
    isatty = getattr(stream, "isatty", None)
    terminal = bool(isatty()) if callable(isatty) else False
    if not terminal and not env.get("PYTHONIOENCODING"):
        reconfigure(encoding="utf-8", errors=DEGRADE)
    else:
        reconfigure(errors=DEGRADE)
