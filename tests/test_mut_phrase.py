"""watcher.phrase, pinned where mutation testing found the suite silent.

``fold``: NFKD with the combining marks dropped, case folded, invisible characters
(soft hyphen, zero widths, BOM) dropped, white space collapsed; ``after_phrase``:
the text after the first reset phrase, every later character kept.
"""

from __future__ import annotations

from watcher.phrase import PHRASE, after_phrase, fold, starts_with_phrase

TEXT = "Haga clic aquí para cambiar la contraseña"


def test_invisible_characters_anywhere_in_the_phrase() -> None:
    assert starts_with_phrase("Haga\u200b clic aqu\u00adí para cambiar la contrase\u2060ña")
    assert fold("a\u00adb\ufeffc d") == "abc d"


def test_combining_marks_are_dropped_the_letters_after_them_kept() -> None:
    # U+3300 SQUARE APAATO decomposes to ア ハ ◌゚ ー ト
    assert fold("\u3300") == "アハート"
    assert fold("Aquí CONTRASEÑA") == "aqui contrasena"


def test_after_the_phrase_comes_everything_that_follows_it() -> None:
    assert after_phrase(f"{TEXT} de usuario jperez") == " de usuario jperez"
    assert after_phrase(f"Hola. {TEXT}:https://x") == ":https://x"
    twice = f"{TEXT} de usuario a\n{TEXT} de usuario b"
    assert after_phrase(twice) == f" de usuario a\n{TEXT} de usuario b"
    assert fold(TEXT) == PHRASE
