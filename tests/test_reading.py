"""How the pure core reads a mail: encodings, URLs, HTML anchors, plain text, agreement.

Each expectation is the authority's: the WHATWG Encoding and URL Standards
(checked against headless Chromium in tests/test_browser_differential.py),
RFC 3676 for format=flowed and RFC 3986 appendix C for wrapped URLs.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests import mailfactory as mf
from watcher import encoding, htmlbody, plaintext, urls
from watcher.model import Kind
from watcher.parsing import parse_message
from watcher.parts import Leaf, assemble, section_key, text_parts

WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
URL = mf.reset_url("T0k3n")
PHRASE = "Haga clic aquí para cambiar la contraseña de usuario jperez"

# --------------------------------------------------------------------------- encoding


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("iso-8859-1", "windows-1252"),
        ("latin1", "windows-1252"),
        ("US-ASCII", "windows-1252"),
        ('"utf8"', "utf-8"),
        ("iso-8859-15", "iso-8859-15"),
        ("x-no-such-charset", None),
        (None, None),
    ],
)
def test_labels_follow_the_encoding_standard(label: str | None, name: str | None) -> None:
    assert encoding.lookup(label) == name


def test_latin1_label_decodes_as_windows_1252_with_c1_bytes_kept() -> None:
    text, name = encoding.decode(b"\x93jos\xe9\x94 \x80 \x81\x8d\x8f\x90\x9d", "iso-8859-1")
    assert (text, name) == ("\u201cjos\u00e9\u201d \u20ac \x81\x8d\x8f\x90\x9d", "windows-1252")


def test_bom_wins_over_the_label_and_meta_counts_without_one() -> None:
    assert encoding.decode(b"\xef\xbb\xbfa\xc3\xb1", "iso-8859-1") == ("añ", "utf-8")
    html = b'<meta charset="latin1"><p>a\xf1'
    assert encoding.decode(html, None, html=True) == (
        '<meta charset="latin1"><p>añ',
        "windows-1252",
    )
    assert encoding.decode(b"a\xc3\xb1", None) == ("añ", "utf-8")
    assert encoding.decode(b"a\xf1", None) == ("añ", "windows-1252")


def test_for_reading_prefers_valid_utf8_but_links_do_not() -> None:
    raw = "contraseña".encode()
    assert encoding.decode(raw, "iso-8859-1")[0] == "contraseÃ±a"  # what the browser shows
    assert encoding.for_reading(raw, "iso-8859-1") == "contraseña"  # what the writer meant
    assert encoding.for_reading(b"contrase\xf1a", "utf-8") == "contraseña"
    # a part cut inside a character is still UTF-8 (one replacement), not windows-1252
    assert encoding.for_reading("contraseña electró".encode()[:-1], "utf-8") == (
        "contraseña electr\ufffd"
    )


@pytest.mark.parametrize(
    ("char", "name", "encoded"),
    [
        ("é", "windows-1252", "%E9"),
        ("€", "windows-1252", "%80"),
        ("é", "utf-8", "%C3%A9"),
        ("中", "windows-1252", "%26%2320013%3B"),
        ("é", "utf-16le", "%C3%A9"),
    ],
)
def test_query_characters_encode_in_the_document_encoding(
    char: str, name: str, encoded: str
) -> None:
    assert encoding.encode_query_run(char, name) == encoded


# --------------------------------------------------------------------------- URL


@pytest.mark.parametrize(
    ("href", "doc", "expected"),
    [
        (" \x01https://a.secop.gov.co/x?t=1\x1f ", "utf-8", "https://a.secop.gov.co/x?t=1"),
        ("https://a.secop.gov.co/x?t=\n1\t2", "utf-8", "https://a.secop.gov.co/x?t=12"),
        (
            "https://a.secop.gov.co/é?u=é#é",
            "windows-1252",
            "https://a.secop.gov.co/%C3%A9?u=%E9#%C3%A9",
        ),
        ("https://a.secop.gov.co/é?u=é", "utf-8", "https://a.secop.gov.co/%C3%A9?u=%C3%A9"),
        ("https://a.secop.gov.co#x?u=é", "windows-1252", "https://a.secop.gov.co/#x?u=%C3%A9"),
        (
            "https://A.SECOP.gov.co:443\\a\\..\\b?x='\"",
            "utf-8",
            "https://a.secop.gov.co/b?x=%27%22",
        ),
        # Chromium (not the standard) percent-encodes "|" in the path; the browser wins
        ("https://a.secop.gov.co/a|b?q=|#|", "utf-8", "https://a.secop.gov.co/a%7Cb?q=|#|"),
        ("/relative/path", "utf-8", None),
        ("https://", "utf-8", None),
    ],
)
def test_resolve_follows_the_url_standard(href: str, doc: str, expected: str | None) -> None:
    assert urls.resolve(href, doc) == expected


# --------------------------------------------------------------------------- HTML


def test_attributes_are_read_as_the_html_standard_says() -> None:
    html = (
        '<a href="https://a.secop.gov.co/x?a=1&currentLanguage=es&times=2&copy;&not=3"'
        ' href="https://second.example/">'
        "Haga <b>clic</b> aquí para cambiar la contrase<span>ñ</span>a</a>"
    )
    (anchor,) = htmlbody.read(html).anchors
    assert anchor.href == "https://a.secop.gov.co/x?a=1&currentLanguage=es&times=2©&not=3"
    assert anchor.text == "Haga clic aquí para cambiar la contraseña"
    assert not anchor.hidden


@pytest.mark.parametrize(
    "markup",
    [
        '<a style="display:none" href="x">a</a>',
        '<div style="DISPLAY: none !important"><a href="x">a</a></div>',
        '<div style="visibility:hidden"><a href="x">a</a></div>',
        '<p hidden><a href="x">a</a></p>',
        '<span style="font-size:0px"><a href="x">a</a></span>',
        '<div style="height:0;overflow:hidden"><a href="x">a</a></div>',
        '<a style="opacity:0" href="x">a</a>',
        '<style>.h{display:none}</style><div class="h"><a href="x">a</a></div>',
        '<p>x</p><noscript><a href="x">a</a></noscript>',
        '<div style="display:none"><a style="visibility:visible" href="x">a</a></div>',
    ],
)
def test_hidden_anchors(markup: str) -> None:
    assert [a.hidden for a in htmlbody.read(markup).anchors] == [True]


@pytest.mark.parametrize(
    "markup",
    [
        '<a href="x" style="color:red">a</a>',
        '<div style="visibility:hidden"><a style="visibility:visible" href="x">a</a></div>',
        '<style>@media (max-width:600px){.m{display:none}}</style><p class="m"><a href="x">a</a>',
        '<a href="x" style="line-height:20px;height:20px">a</a>',
    ],
)
def test_visible_anchors(markup: str) -> None:
    assert [a.hidden for a in htmlbody.read(markup).anchors] == [False]


def test_visible_text_joins_inline_tags_and_drops_wbr_and_soft_hyphens() -> None:
    html = "<p>Enlace: https://a.secop.gov.co/STS/<wbr>Users/Re\u00adset?<b>t</b>=1</p><p>Fin</p>"
    assert htmlbody.read(html).visible_text().split() == [
        "Enlace:",
        "https://a.secop.gov.co/STS/Users/Reset?t=1",
        "Fin",
    ]


# --------------------------------------------------------------------------- plain text


def test_unflow_joins_soft_breaks_and_keeps_signature_and_quotes() -> None:
    flowed = "Haga clic aquí para cambiar la \r\n contraseña de usuario jperez\r\n-- \r\n> a \r\n>b"
    assert plaintext.unflow(flowed) == (
        "Haga clic aquí para cambiar la contraseña de usuario jperez\n-- \na b"
    )
    assert plaintext.unflow("https://a.secop.gov.co/x?t=ab \r\ncd\r\n", delsp=True) == (
        "https://a.secop.gov.co/x?t=abcd\n"  # the last line break stays: it ends the link
    )


def test_bracketed_url_wrapped_across_lines_is_joined() -> None:
    text = f"{PHRASE}\n<https://community.secop.gov.co/STS/Users/\n   ResetPassword/Index?t=1>\n"
    found = plaintext.find_reset(text)
    assert found == plaintext.TextReset(
        "https://community.secop.gov.co/STS/Users/ResetPassword/Index?t=1", "jperez"
    )


@pytest.mark.parametrize(
    ("tail", "wrapped"),
    [
        ("W6kRyZ1mN4pLs7Ha9&lang=es\n", True),  # cut inside the token
        ("es\n", True),  # the URL ends open, with "="
        ("Gracias por usar SECOP II.\n", False),  # a word: the URL was whole
        ("\nGracias\n", False),  # a blank line after it
    ],
)
def test_a_bare_url_cut_by_a_hard_wrap_is_never_handed_over(tail: str, wrapped: bool) -> None:
    url = "https://community.secop.gov.co/STS/Users/ResetPassword/Index?token=Cfd8Jq2XvT0b"
    if tail == "es\n":
        url += "&lang="
    found = plaintext.find_reset(f"{PHRASE}\n{url}\n{tail}")
    assert found is not None and found.wrapped is wrapped and found.username == "jperez"


# --------------------------------------------------------------------------- parts


def test_text_parts_skip_attachments_and_keep_the_order() -> None:
    structure = (
        [
            (b"text", b"plain", None, None, None, b"7bit", 10),
            (b"text", b"html", None, None, None, b"7bit", 20),
            (b"text", b"html", None, None, None, b"7bit", 30, None, (b"attachment", None)),
            (b"message", b"rfc822", None, None, None, b"7bit", 40),
        ],
        b"mixed",
    )
    assert [(leaf.section, leaf.mime) for leaf in text_parts(structure)] == [
        ("1", "text/plain"),
        ("2", "text/html"),
    ]
    assert sorted(["1.10", "1.2", "2", "1"], key=section_key) == ["1", "1.2", "1.10", "2"]
    assert Leaf("1", "text/plain", 10) in text_parts(structure)


def test_assembled_parts_parse_as_the_whole_mail() -> None:
    raw = mf.reset_mail("jperez", URL, date=WHEN, text_body=mf.reset_text("jperez", URL + "x"))
    head, _, _ = raw.partition(b"\r\n\r\n")
    whole = parse_message(raw)
    assert whole.kind is Kind.SUSPICIOUS and whole.reasons == ("links_disagree",)
    import email

    msg = email.message_from_bytes(raw)
    fetched = []
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            mime = b"".join(
                f"{k}: {v}\r\n".encode() for k, v in part.items() if k.lower().startswith("content")
            )
            body = part.as_bytes().partition(b"\n\n")[2].replace(b"\n", b"\r\n")
            fetched.append((mime, body))
    rebuilt = parse_message(assemble(head + b"\r\n", fetched))
    assert (rebuilt.kind, rebuilt.reasons, rebuilt.url) == (whole.kind, whole.reasons, whole.url)


def test_every_reason_code_has_spanish_and_english_words() -> None:
    from watcher import i18n, links, parsing

    codes = {
        value
        for module in (parsing, links)
        for name, value in vars(module).items()
        if name.startswith("REASON_") and isinstance(value, str)
    }
    assert {"hidden_link", "links_disagree", "several_users", "link_wrapped"} <= codes
    assert {"auth_failed", "dmarc_other_from", "auth_unreadable"} <= codes
    missing = sorted(c for c in codes if not i18n.has(f"reason.{c}"))
    assert missing == []
    for lang in i18n.LANGS:
        texts = [i18n.t(f"reason.{c}", lang, sender="x") for c in codes]
        assert all(text and not text.startswith("reason.") for text in texts)


def test_an_html_part_cut_inside_its_visible_url_is_never_handed_over() -> None:
    head = (
        "From: Registro SECOP II <registro@secop.gov.co>\r\nMessage-ID: <c@secop.gov.co>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    )
    cut = f"<p>{PHRASE}:</p><p>{URL[:40]}"  # the part ends here: a 10 MB cap, or a glance
    verdict = parse_message((head + cut).encode())
    assert (verdict.kind, verdict.reasons) == (Kind.SUSPICIOUS, ("malformed_link",))
    whole = parse_message((head + cut + URL[40:] + "</p>").encode())
    assert (whole.kind, whole.url) == (Kind.RESET, URL)


def test_a_language_list_is_not_a_disposition() -> None:
    """``Content-Language: attachment, es`` must not hide a part that parse reads."""
    part = (b"text", b"html", None, None, None, b"7bit", 20, 3, None, None, (b"attachment", b"es"))
    attached = (b"text", b"html", None, None, None, b"7bit", 20, 3, None, (b"attachment", None))
    assert [leaf.attachment for leaf in text_parts(([part], b"mixed"))] == [False]
    assert text_parts(([attached], b"mixed")) == []


@pytest.mark.parametrize(
    ("text", "name", "encoded"),
    [
        ("ソ", "shift_jis", "%83\\"),  # the trail byte 0x5C is printable ASCII: kept
        ("あい", "iso-2022-jp", "%1B$B$%22$$%1B(B"),  # one escape pair for the run
        ("é中ñ", "windows-1252", "%E9%26%2320013%3B%F1"),
    ],
)
def test_a_query_run_is_encoded_at_once_as_the_url_standard_does(
    text: str, name: str, encoded: str
) -> None:
    assert encoding.encode_query_run(text, name) == encoded


HEAD_FLOWED = (
    "From: Registro SECOP II <registro@secop.gov.co>\r\nSubject: SECOP II\r\n"
    "Date: Mon, 30 Nov 2026 12:00:00 +0000\r\nMessage-ID: <f@secop.gov.co>\r\nMIME-Version: 1.0\r\n"
)


def test_a_flowed_text_ending_with_its_link_is_not_cut() -> None:
    body = f"Haga clic aquí para cambiar la contraseña de usuario jperez\r\n{URL}\r\n"
    for params in ("", "; format=flowed", "; format=flowed; delsp=yes"):
        raw = (
            HEAD_FLOWED + f'Content-Type: text/plain; charset="utf-8"{params}\r\n'
            "Content-Transfer-Encoding: 8bit\r\n\r\n" + body
        ).encode()
        verdict = parse_message(raw, internaldate=WHEN)
        assert (verdict.kind, verdict.url, verdict.reasons) == (Kind.RESET, URL, ()), params


@pytest.mark.parametrize("size", ["inherit", "1em", "150%", "0.8EM"])
def test_a_relative_font_size_inside_a_zero_one_is_zero(size: str) -> None:
    markup = f'<div style="font-size:0"><a style="font-size:{size}" href="https://a/">a</a></div>'
    assert [a.hidden for a in htmlbody.read(markup).anchors] == [True]
    text = f'<div style="font-size:0"><p style="font-size:{size}">oculto</p></div>'
    assert htmlbody.read(text).visible_text().split() == []


@pytest.mark.parametrize("size", ["13px", "1rem", "small", "12pt !important"])
def test_an_absolute_font_size_inside_a_zero_one_shows(size: str) -> None:
    markup = f'<div style="font-size:0"><a style="font-size:{size}" href="https://a/">a</a></div>'
    assert [a.hidden for a in htmlbody.read(markup).anchors] == [False]


def test_a_comment_inside_an_svg_style_is_no_css() -> None:
    markup = '<svg><style>.h{display:<!--x-->none}</style></svg><p class="h"><a href="x">a</a></p>'
    assert [a.hidden for a in htmlbody.read(markup).anchors] == [True]
