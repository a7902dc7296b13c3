"""watcher.plaintext, pinned where mutation testing found the suite silent.

RFC 3676 for ``format=flowed`` (quote depth, a final flowed line), RFC 3986 appendix C
for ``<URL>`` across lines, and the module's rule for a bare URL that a hard wrap may
have cut: at the end of a line of 60 characters or more, followed by a line that
could go on with it, it is ``wrapped`` and never handed over.
"""

from __future__ import annotations

import pytest

from watcher.plaintext import TextReset, find_reset, unflow

PHRASE = "Haga clic aquí para cambiar la contraseña"
USER = f"{PHRASE} de usuario jperez"
BASE = "https://community.secop.gov.co/r?token="
TOKEN_LINE = "W6kRyZ1mN4pLs7Ha9&lang=es"


def url(length: int) -> str:
    return BASE + "A" * (length - len(BASE))


@pytest.mark.parametrize("before", [f"{USER}\n", f"{PHRASE}\n", f"{USER}\n\n", f"Hola.\n{USER}\n"])
def test_a_line_of_59_characters_was_not_hard_wrapped(before: str) -> None:
    found = find_reset(f"{before}{url(59)}\n{TOKEN_LINE}\n")
    assert found is not None
    assert (found.url, found.wrapped, found.truncated) == (url(59), False, False)


@pytest.mark.parametrize("before", [f"{USER}\n", f"{PHRASE}\n", f"{USER}\n\n"])
def test_a_line_of_60_characters_may_have_been(before: str) -> None:
    found = find_reset(f"{before}{url(60)}\n{TOKEN_LINE}\n")
    assert found is not None
    assert (found.url, found.wrapped) == (url(60), True)


def test_a_url_ending_in_a_full_stop_is_complete() -> None:
    found = find_reset(f"{USER}\n{url(70)}.\n2025 SECOP II\n")
    assert found == TextReset(url(70), "jperez")


@pytest.mark.parametrize("tail", ["\rabc123 más\n", "\rX\n" + TOKEN_LINE + "\n", "=\r"])
def test_a_lone_carriage_return_is_no_line_end_to_wrap_at(tail: str) -> None:
    found = find_reset(f"{USER}\n{url(70)}{tail}")
    assert found is not None
    assert (found.wrapped, found.truncated) == (False, False)


def test_without_de_usuario_there_is_no_user() -> None:
    assert find_reset(f"{PHRASE}\n<{url(70)}>\n") == TextReset(url(70), None)


def test_an_unclosed_bracket_is_a_cut_link() -> None:
    assert find_reset(f"{PHRASE}\n<{url(70)}\nGracias\n") == TextReset(
        url(70), None, truncated=True
    )
    assert find_reset(f"{PHRASE}\n{url(70)}") == TextReset(url(70), None, truncated=True)


def test_unflow_ends_a_paragraph_where_the_quote_depth_changes() -> None:
    assert unflow("> a \r\nb") == "a \nb"
    assert unflow("> quoted") == "quoted"
    assert unflow(">> deep \r\n> less") == "deep \nless"


def test_unflow_keeps_a_last_flowed_line() -> None:
    assert unflow("a \r\nb ") == "a b "
    assert unflow("a \r\nb ", delsp=True) == "ab"
