"""Which language the system speaks to its user, on each platform (issue 13).

Spanish unless the system says English: the users are Colombian, and a
Windows machine sets no ``LANG`` at all.

- Any platform: the POSIX variables first (``LC_ALL``, ``LC_MESSAGES``,
  ``LANG``, ``LANGUAGE``), which a user may set anywhere; ``C`` and ``POSIX``
  say nothing.
- Windows: the user's UI language, ``GetUserDefaultUILanguage`` (a LANGID
  whose low 10 bits are the primary language: 0x09 English, 0x0A Spanish).
- macOS: the first of the preferred languages (``defaults read -g
  AppleLanguages``, e.g. ``("es-CO", "en-US")``).

The platform, the environment and the two system calls are parameters, so
the tests hand in Windows' and macOS's facts on Linux.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

__all__ = ["language", "system_language"]

_LANG_PRIMARY = {0x09: "en", 0x0A: "es"}
_NOTHING = ("c", "posix", "")


def _from_locale(value: str) -> str | None:
    code = value.split(":")[0].split(".")[0].split("@")[0].replace("-", "_").lower()
    if code in _NOTHING:
        return None
    return code.split("_")[0] or None


def windows_ui_language() -> int | None:
    """``GetUserDefaultUILanguage()``, or None off Windows (no ``ctypes.windll``)."""
    import ctypes

    windll = getattr(ctypes, "windll", None)
    if windll is None:
        return None
    return int(windll.kernel32.GetUserDefaultUILanguage())


def mac_preferred_languages() -> list[str]:
    """``AppleLanguages`` from the global domain, first preferred first ([] if unknown)."""
    import subprocess  # here: the language of `--help` is picked without it elsewhere

    try:
        done = subprocess.run(
            ["defaults", "read", "-g", "AppleLanguages"],
            capture_output=True,
            text=True,
            timeout=3,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_apple_languages(done.stdout) if done.returncode == 0 else []


def parse_apple_languages(text: str) -> list[str]:
    """``defaults`` prints an old-style plist array: ``(\n    "es-CO",\n    "en-US"\n)``."""
    inner = text.strip().removeprefix("(").removesuffix(")")
    items = (item.strip().strip('"') for item in inner.split(","))
    return [item for item in items if item]


def system_language(
    platform: str = sys.platform,
    environ: Mapping[str, str] = os.environ,
    windows_ui: Callable[[], int | None] = windows_ui_language,
    mac_languages: Callable[[], list[str]] = mac_preferred_languages,
) -> str | None:
    """The system's language code (``"es"``, ``"en"``, ``"pt"`` …), None when nothing says."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = environ.get(var)
        if value:
            found = _from_locale(value)
            if found is not None:
                return found
    if platform == "win32":
        langid = windows_ui()
        return None if langid is None else _LANG_PRIMARY.get(langid & 0x3FF, "other")
    if platform == "darwin":
        preferred = mac_languages()
        return _from_locale(preferred[0]) if preferred else None
    return None


def language(explicit: str | None = None, system: str | None = None) -> str:
    """``"en"`` only when asked for or when the system speaks English; ``"es"`` otherwise."""
    if explicit in ("es", "en"):
        return explicit
    return "en" if system == "en" else "es"
