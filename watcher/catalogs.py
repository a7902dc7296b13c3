"""The message catalogs, loaded with the standard library's gettext (docs/translating.md).

``watcher/locale/<lang>/LC_MESSAGES/secop-watcher.po`` are the sources, in the
repository; the build (setup.py) compiles each to the ``.mo`` beside it, which
goes into the wheel. At run time the ``.mo`` is read with :mod:`gettext`, and
nothing else is needed, so ``--help`` stays cheap (argparse imports gettext
anyway). Only when the ``.mo`` is missing or older than its ``.po`` (a work tree
whose catalog was edited after ``pip install -e``) is the ``.po`` read with Babel.

The msgids are the message keys (``current.title``); argparse's own texts keep
argparse's English as msgid (only the Spanish catalog has them). Spanish falls
back to English for a key it lacks, English to the key itself; the test
(tests/test_i18n.py) makes sure neither happens.

This module is light on purpose: the command line uses it to translate
argparse's messages before anything else is imported (:class:`ArgparseSpeaks`).
"""

from __future__ import annotations

import argparse
import gettext
from pathlib import Path
from typing import Any

__all__ = ["DOMAIN", "LANGS", "ArgparseSpeaks", "arg_text", "pick", "translation"]

LANGS = ("es", "en")
DOMAIN = "secop-watcher"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_loaded: dict[str, gettext.NullTranslations] = {}
_speaking: list[str] = []  # the languages of the ArgparseSpeaks blocks entered


def translation(lang: str) -> gettext.NullTranslations:
    """The catalog of ``lang`` ("es" or "en"), Spanish falling back to English."""
    lang = lang if lang in LANGS else "es"
    found = _loaded.get(lang)
    if found is None:
        found = _load(lang)
        if lang != "en":
            found.add_fallback(translation("en"))
        _loaded[lang] = found
    return found


def _load(lang: str) -> gettext.NullTranslations:
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    mo_time, po_time = _mtime(mo), _mtime(po)
    if mo_time is not None and (po_time is None or mo_time >= po_time):
        with mo.open("rb") as f:
            return gettext.GNUTranslations(f)
    if po_time is None:  # no catalog at all: the keys themselves (the test prevents it)
        return gettext.NullTranslations()
    return _from_po(po)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _from_po(path: Path) -> gettext.GNUTranslations:
    """A ``.po`` compiled in memory with Babel, as the build would (fuzzy entries left out)."""
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        catalog = read_po(f)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def pick(explicit: str | None = None) -> str:
    """``--lang`` if given, else Spanish unless the system speaks English (watcher.syslang)."""
    if explicit in LANGS:
        return explicit
    from watcher import syslang

    return syslang.language(None, syslang.system_language())


class ArgparseSpeaks:
    """Within the block, argparse's own messages (``usage:``, ``invalid choice``, ``the
    following arguments are required``, help headings) come from our catalog for ``lang``.

    argparse looks its texts up through ``_`` and ``ngettext``, module globals it imported
    from gettext (Python 3.11 to 3.13 alike); they are replaced for the block and put
    back after it, so nothing else changes: not gettext's global domain, not another
    library's parser after ours. Parsers are built and used inside the block (some texts,
    the group titles and ``-h``'s help, are looked up when the parser is built).
    """

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._saved: tuple[Any, Any] | None = None

    def __enter__(self) -> ArgparseSpeaks:
        catalog = translation(self.lang)
        self._saved = (vars(argparse)["_"], vars(argparse)["ngettext"])
        setattr(argparse, "_", catalog.gettext)  # noqa: B010 (a module global, by name)
        setattr(argparse, "ngettext", catalog.ngettext)  # noqa: B010
        _speaking.append(self.lang)
        return self

    def __exit__(self, *exc: object) -> None:
        _speaking.pop()
        if self._saved is not None:
            setattr(argparse, "_", self._saved[0])  # noqa: B010
            setattr(argparse, "ngettext", self._saved[1])  # noqa: B010


def arg_text(key: str, **params: Any) -> str:
    """One of our messages for an argument's ``type`` function (``not a number``): in the
    language argparse speaks now (Spanish outside :class:`ArgparseSpeaks`)."""
    lang = _speaking[-1] if _speaking else "es"
    text = translation(lang).gettext(key)
    return text.format(**params) if params else text
