"""The reset anchor's words, matched as a reader sees them: accents, case and spacing aside.

Pure functions, no I/O.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "INVISIBLE",
    "PHRASE",
    "after_phrase",
    "clean_word",
    "collapse",
    "fold",
    "starts_with_phrase",
]

PHRASE = "haga clic aqui para cambiar la contrasena"
"""The reset anchor's opening words, folded (see :func:`fold`)."""

EDGE_PUNCT = ".,:;!?()[]{}\"'«»<>"
INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
"""Characters that show nothing where they stand: soft hyphen, zero widths, BOM."""


def _fold_with_map(text: str) -> tuple[str, list[int]]:
    """Fold ``text`` and map each folded character to its source index."""
    out: list[str] = []
    src: list[int] = []
    for index, char in enumerate(text):
        if char in INVISIBLE:
            continue
        for part in unicodedata.normalize("NFKD", char):
            if unicodedata.combining(part):
                continue
            for folded in part.casefold():
                space = folded.isspace()
                if space and out and out[-1] == " ":
                    continue
                out.append(" " if space else folded)
                src.append(index)
    return "".join(out), src


def fold(text: str) -> str:
    """Accents removed (NFKD), case folded, whitespace collapsed, invisible characters dropped."""
    return _fold_with_map(text)[0].strip()


def starts_with_phrase(text: str) -> bool:
    return fold(text).startswith(PHRASE)


def _may_contain_phrase(text: str) -> bool:
    """Cheap pre-check at C speed (dropping all non-ASCII may over-match, never under)."""
    spaced = " ".join(unicodedata.normalize("NFKD", text).split())
    ascii_only = spaced.encode("ascii", "ignore").decode("ascii")
    return PHRASE in " ".join(ascii_only.casefold().split())


def after_phrase(text: str) -> str | None:
    """The part of ``text`` after the reset phrase, or None if absent."""
    if not _may_contain_phrase(text):
        return None
    folded, src = _fold_with_map(text)
    pos = folded.find(PHRASE)
    if pos < 0:
        return None
    return text[src[pos + len(PHRASE) - 1] + 1 :]


def collapse(text: str) -> str:
    return " ".join(text.split())


def clean_word(text: str) -> str | None:
    word = text.strip().strip(EDGE_PUNCT)
    return word or None
