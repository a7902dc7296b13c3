"""watcher.encoding, pinned where mutation testing found the suite silent.

The WHATWG Encoding Standard (labels, the replacement decoder, windows-1252's index),
the HTML Standard's encoding sniffing (a ``<meta charset>`` within the first 1024 bytes;
a meta cannot switch to UTF-16) and the URL Standard's query encoding (UTF-16 and
replacement documents encode their query in UTF-8). ``for_reading`` is the module's own
rule: mostly-UTF-8 bytes are UTF-8, whatever the label.
"""

from __future__ import annotations

import pytest

from watcher import encoding

KOI8 = b'<meta charset="koi8-r">'
IVAN = "Иван".encode("koi8-r")


# --------------------------------------------------------------------------- labels and sniffing


def test_labels_are_ascii_case_insensitive() -> None:
    assert encoding.lookup("X-MAC-CYRILLIC") == "x-mac-cyrillic"
    assert encoding.lookup(" 'KOI8-R' ") == "koi8-r"


def test_a_meta_charset_decides_for_html_without_mime_charset() -> None:
    assert encoding.decode(KOI8 + IVAN, None, html=True) == (KOI8.decode() + "Иван", "koi8-r")
    # a meta saying UTF-8 over bytes that are not: UTF-8 with replacement, not windows-1252
    assert encoding.decode(b'<meta charset="utf-8"><p>a\xf1', None, html=True) == (
        '<meta charset="utf-8"><p>a\ufffd',
        "utf-8",
    )


def test_a_meta_charset_must_be_within_the_first_1024_bytes() -> None:
    inside = b" " * 900 + KOI8 + IVAN
    assert encoding.decode(inside, None, html=True)[1] == "koi8-r"
    # its closing quote is byte 1025: the prescan never saw the whole declaration
    outside = b" " * 1003 + KOI8 + IVAN
    assert encoding.decode(outside, None, html=True)[1] == "windows-1252"


@pytest.mark.parametrize("label", ["utf-16", "utf-16le", "utf-16be", "UTF-16BE"])
def test_a_meta_cannot_switch_to_utf16(label: str) -> None:
    page = f'<meta charset="{label}"><p>jperez</p>'.encode()
    assert encoding.decode(page, None, html=True) == (page.decode(), "utf-8")


def test_a_meta_charset_means_nothing_outside_html() -> None:
    assert encoding.decode(KOI8 + IVAN, None) == (KOI8.decode() + "é×ÁÎ", "windows-1252")
    assert encoding.for_reading(KOI8 + IVAN, None) == KOI8.decode() + "é×ÁÎ"
    assert encoding.for_reading(KOI8 + IVAN, None, html=True) == KOI8.decode() + "Иван"


def test_the_replacement_decoder_gives_one_replacement_character() -> None:
    assert encoding.decode(b"abc", "iso-2022-kr") == ("\ufffd", "replacement")
    assert encoding.decode(b"", "iso-2022-kr") == ("", "replacement")


# --------------------------------------------------------------------------- query encoding


@pytest.mark.parametrize("name", ["utf-16le", "utf-16be", "replacement"])
def test_utf16_and_replacement_documents_encode_their_query_in_utf8(name: str) -> None:
    assert encoding.query_encoding(name) == "utf-8"
    assert encoding.encode_query_run("é", name) == "%C3%A9"


@pytest.mark.parametrize(
    ("char", "encoded"),
    [
        ("\x80", "%26%23128%3B"),  # U+0080 is not in windows-1252 (its 0x80 is €)
        ("\x9f", "%26%23159%3B"),
        ("\xa0", "%A0"),  # NO-BREAK SPACE, the first of 0xA0-0xFF
        ("\xff", "%FF"),
        ("Ā", "%26%23256%3B"),
        ("Ÿ", "%9F"),
    ],
)
def test_windows_1252_query_characters(char: str, encoded: str) -> None:
    assert encoding.encode_query_run(char, "windows-1252") == encoded


# --------------------------------------------------------------------------- for_reading


def test_the_declared_charset_is_read_when_the_bytes_are_not_utf8() -> None:
    assert encoding.for_reading(IVAN, "koi8-r") == "Иван"


@pytest.mark.parametrize("name", ["utf-16le", "utf-16be"])
def test_ascii_in_utf16_is_not_taken_for_utf8(name: str) -> None:
    assert encoding.for_reading("jperez".encode(name), name) == "jperez"


@pytest.mark.parametrize(
    ("payload", "declared", "text"),
    [
        # a replacement character written in the mail is no decoding error
        ("x\ufffd".encode(), "iso-8859-1", "x\ufffd"),
        ("contraseña \ufffd".encode(), "iso-8859-1", "contraseña \ufffd"),
        # one good character cannot outweigh two bad ones
        ("ñ".encode() + b" \xe9 \xe9", "iso-8859-1", "Ã± é é"),
        # one good one bad: still UTF-8, the bad one replaced (a part cut in a character)
        ("\x80".encode() + b"\xe9", "utf-8", "\x80\ufffd"),
        # DEL is ASCII, not a good non-ASCII character
        (b"\x7f\xe9", "utf-8", "\x7fé"),
    ],
)
def test_mostly_utf8_is_utf8(payload: bytes, declared: str, text: str) -> None:
    assert encoding.for_reading(payload, declared) == text


@pytest.mark.parametrize(
    ("text", "name", "encoded"),
    [
        # the first and last printable ASCII bytes, ! and ~, are outside the special-query
        # percent-encode set (URL Standard): kept as they are
        ("！", "iso-2022-jp", "%1B$B!*%1B(B"),
        ("ミ", "shift_jis", "%83~"),
        ("、", "iso-2022-jp", "%1B$B!%22%1B(B"),  # " is in the set
    ],
)
def test_printable_bytes_of_an_encoded_run(text: str, name: str, encoded: str) -> None:
    assert encoding.encode_query_run(text, name) == encoded
