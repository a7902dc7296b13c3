"""watcher.urls, pinned where mutation testing found the suite silent.

The URL Standard: leading and trailing C0 controls and spaces are stripped (not
every Unicode space), the query is the text from the first ``?`` to the first
``#`` and is encoded in the document's encoding, the fragment and path in UTF-8.
Chromium's one difference kept here: ``|`` in an http(s) path is ``%7C``.
"""

from __future__ import annotations

import pytest

from watcher.urls import resolve, strip_controls

BASE = "https://a.secop.gov.co/x"


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        # the query runs to the end when there is no fragment
        (f"{BASE}?u=é", f"{BASE}?u=%E9"),
        # a second "?" is part of the query
        (f"{BASE}?u=é?v=é", f"{BASE}?u=%E9?v=%E9"),
        # the fragment starts at the first "#", and is UTF-8
        (f"{BASE}?u=é#ñ#g", f"{BASE}?u=%E9#%C3%B1#g"),
    ],
)
def test_the_query_in_a_windows_1252_document(href: str, expected: str) -> None:
    assert resolve(href, "windows-1252") == expected


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("http://a.example/x|y", "http://a.example/x%7Cy"),
        ("https://a.example/x|y", "https://a.example/x%7Cy"),
        ("mailto:registro|x@secop.gov.co", "mailto:registro|x@secop.gov.co"),
    ],
)
def test_a_bar_in_the_path(href: str, expected: str) -> None:
    assert resolve(href) == expected


def test_only_c0_controls_and_space_are_stripped() -> None:
    assert strip_controls(" \x01\x1fhttps://a/\xa0") == "https://a/\xa0"
    assert strip_controls("\u2003https://a/ ") == "\u2003https://a/"
    assert resolve(" \x01https://a.secop.gov.co/x\x1f ") == f"{BASE}"
