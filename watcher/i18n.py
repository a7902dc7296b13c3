"""Every sentence a user reads, in Spanish first and English: the mechanism.

The sentences themselves are in the gettext catalogs
``watcher/locale/{es,en}/LC_MESSAGES/secop-watcher.po`` (:mod:`watcher.catalogs`
loads them; docs/translating.md says how to add one). ``t(key, lang, **params)``
looks a key up and fills its ``str.format`` placeholders; ``nt(key, n, lang,
**params)`` does the same with the plural form for ``n``.

English is used with ``--lang en`` or when the system speaks English
(:mod:`watcher.syslang`: the POSIX locale variables, Windows' UI language,
macOS's preferred languages); Spanish otherwise, the users being Colombian.
Numbers and dates follow Colombia's forms in Spanish (``es_CO``: ``1,5 s``,
``5/03/2024 2:07 p. m.``), through Babel.
"""

from __future__ import annotations

import errno
import re
from datetime import datetime
from typing import Any

from watcher.catalogs import LANGS, pick, translation
from watcher.errors import ConfigError, UserError

__all__ = [
    "LANGS",
    "clock",
    "error_text",
    "explained",
    "has",
    "nt",
    "number",
    "os_error",
    "os_params",
    "pick",
    "t",
    "when",
]

# Babel's locale for each language: numbers and dates as Colombia writes them.
LOCALES = {"es": "es_CO", "en": "en_US"}


def t(key: str, lang: str, /, **params: Any) -> str:
    """``key``'s text in ``lang``, its placeholders filled; a float is written as the
    language writes numbers (``1,5`` in Spanish: :func:`number`)."""
    text = translation(lang).gettext(key)
    return text.format(**_numbers(params, lang)) if params else text


def nt(key: str, n: int, lang: str, /, **params: Any) -> str:
    """The plural form of ``key`` for ``n`` (both languages: one, other)."""
    text = translation(lang).ngettext(key, key, n)
    return text.format(**_numbers(params, lang)) if params else text


def _numbers(params: dict[str, Any], lang: str) -> dict[str, Any]:
    if not any(isinstance(v, float) for v in params.values()):
        return params
    return {k: number(v, lang) if isinstance(v, float) else v for k, v in params.items()}


def has(key: str) -> bool:
    return translation("en").gettext(key) != key


def number(value: float, lang: str) -> str:
    """``1.5`` as ``1,5`` in Spanish (es_CO), ``1.5`` in English; no needless ``.0``."""
    from babel.numbers import format_decimal

    return str(format_decimal(value, locale=LOCALES.get(lang, "es_CO")))


def when(dt: datetime, lang: str) -> str:
    """A local date and time: ``5/03/2024 2:07 p. m.`` in Spanish (Colombia's day/month
    and 12-hour clock); ``2024-03-05 14:07`` in English, as before."""
    local = dt.astimezone()
    if lang != "es":
        return local.strftime("%Y-%m-%d %H:%M")
    from babel.dates import format_date, format_time

    day, time = format_date(local, "medium", "es_CO"), format_time(local, "short", None, "es_CO")
    return _spaces(f"{day} {time}")


def day(dt: datetime, lang: str) -> str:
    """The local date alone: ``5/03/2024`` in Spanish (es_CO), ``2024-03-05`` in English."""
    local = dt.astimezone()
    if lang != "es":
        return local.strftime("%Y-%m-%d")
    from babel.dates import format_date

    return _spaces(str(format_date(local, "medium", "es_CO")))


def clock(dt: datetime, lang: str) -> str:
    """The time of day alone: ``2:07 p. m.`` in Spanish, ``14:07`` in English."""
    local = dt.astimezone()
    if lang != "es":
        return local.strftime("%H:%M")
    from babel.dates import format_time

    return _spaces(str(format_time(local, "short", None, "es_CO")))


def _spaces(text: str) -> str:
    """CLDR's narrow no-break spaces (``2:07\u202fp.\u202fm.``) as plain ones: a Windows
    console's code page may lack them, and Colombia types ``2:07 p. m.``."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def error_text(e: UserError, lang: str) -> str:
    params = explained(e.params, lang)
    if isinstance(e, ConfigError):
        params["problems"] = "\n".join(_problem_line(p, lang) for p in e.problems)
    return t(e.key, lang, **params) if has(e.key) else e.key


def _problem_line(problem: tuple[str, str, dict[str, object]], lang: str) -> str:
    where, key, params = problem
    params = explained(params, lang)
    text = t(key, lang, **params)
    suggestion = params.get("suggestion")
    if suggestion:
        text += " (" + t("config.suggestion", lang, suggestion=suggestion) + ")"
    return f"  - {where}: {text}" if where else f"  - {text}"


# --- the system's own words, explained ----------------------------------------------------

# errno → the key that explains it (the OS's text follows in parentheses for the help desk).
_ERRNO_KEYS = {
    errno.ENOENT: "oserror.not_found",
    errno.EACCES: "oserror.denied",
    errno.EPERM: "oserror.denied",
    errno.EISDIR: "oserror.is_folder",
    errno.ENOTDIR: "oserror.not_folder",
    errno.ECONNREFUSED: "oserror.refused",
    errno.ECONNRESET: "oserror.reset",
    errno.ETIMEDOUT: "oserror.timeout",
    errno.EHOSTUNREACH: "oserror.unreachable",
    errno.ENETUNREACH: "oserror.unreachable",
    errno.ENOSPC: "oserror.no_space",
}


def os_error(e: OSError, lang: str) -> str:
    """An OSError in the user's words, the system's own text in parentheses
    (``el archivo o la carpeta no existe (No such file or directory)``)."""
    return _os_text(e.errno, e.strerror or str(e) or type(e).__name__, lang)


def os_params(e: OSError) -> dict[str, Any]:
    """What an error's params keep of an OSError: its text (``reason``) and its number,
    which :func:`error_text` explains in the user's language."""
    return {"reason": e.strerror or str(e) or type(e).__name__, "errno": e.errno}


def _os_text(number: int | None, original: str, lang: str) -> str:
    key = _ERRNO_KEYS.get(number) if number is not None else None
    return f"{t(key, lang)} ({original})" if key else original


# tomllib's messages (Python 3.11-3.13) → the key that explains them.
_TOML_KEYS = (
    (("Invalid hex value", "Unescaped '\\'", "Escaped character"), "toml.backslash"),
    (("Unterminated string",), "toml.unterminated"),
    (("Invalid value",), "toml.invalid_value"),
    (("Cannot overwrite", "Cannot declare", "Cannot redefine", "Duplicate"), "toml.duplicate"),
    (("Expected '=' after a key",), "toml.expected_equals"),
    (("Expected ']", "Unclosed"), "toml.unclosed"),
)
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)|\(at end of document\)")


def toml_text(original: str, lang: str) -> str:
    """tomllib's error, explained (``Invalid hex value (at line 9, column 16)`` for a
    Windows path in "..."), the original in parentheses."""
    key = next((k for starts, k in _TOML_KEYS if original.startswith(starts)), "toml.other")
    at = _TOML_AT.search(original)
    where = ""
    if at and at.group(1):
        where = t("toml.at", lang, line=at.group(1), column=at.group(2)) + ": "
    elif at:
        where = t("toml.at_end", lang) + ": "
    return f"{where}{t(key, lang)} ({original})"


def explained(params: dict[str, Any], lang: str) -> dict[str, Any]:
    """``params`` with an OS or TOML ``reason`` put in the user's words."""
    out = dict(params)
    if "errno" in out:
        out["reason"] = _os_text(out.pop("errno"), str(out.get("reason", "")), lang)
    if out.pop("toml", False):
        out["reason"] = toml_text(str(out.get("reason", "")), lang)
    if out.pop("encoding", False):
        out["reason"] = f"{t('toml.encoding', lang)} ({out.get('reason', '')})"
    return out
