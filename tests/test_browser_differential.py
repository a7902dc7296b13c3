"""The link handed over is exactly the one the browser follows when the user clicks.

For genuine SECOP II reset mails with an HTML body, the tool's ``url`` must equal,
character for character, the ``href`` that headless Chromium resolves for the
visible reset anchor (the ``a.href`` property: what a click follows). Chromium
gets the part's bytes with the transfer encoding undone and the MIME charset, as
a mail client would show them; the tool gets the raw message.

Generated mails come from :func:`tests.htmlcorpus.reset_mails`; hand-written
ones below pin down the known traps. Chromium is the oracle: the expected
``href`` of the hand-written cases is also asserted, to catch a driver or
Chromium change.

Hypothesis runs unseeded (``derandomize=False``, no example database): each run
tries 500 new mails, so the corpus is explored further over time. A failure
prints the falsifying mail in full (the HTML and the raw message) and a
``@reproduce_failure(...)`` line that replays it; ``--hypothesis-seed=N``
makes a whole run repeatable.
"""

from __future__ import annotations

import binascii
import unicodedata
from html.entities import html5

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.browser import Anchor, Browser, Page
from tests.htmlcorpus import (
    LEGACY_ENTITIES,
    HtmlMail,
    encode_qp,
    mail_from_html,
    page,
    reset_mails,
)
from watcher.model import Kind
from watcher.parsing import parse_message

BROWSER = pytest.mark.browser

PHRASE = "haga clic aqui para cambiar la contrasena"
GENUINE_PREFIX = "https://community.secop.gov.co/"
RESET = "https://community.secop.gov.co/STS/Users/ResetPassword/Index"
TOKEN = "Cfd8Jq2XvT0bW6kRyZ1mN4pLs7Ha9GeU3oIcQxVw5Bz-_"
ANCHOR_TEXT = "Haga clic aquí para cambiar la contraseña de usuario jperez"


def fold(text: str) -> str:
    """The words as a reader sees them: invisible format characters (soft hyphen, zero
    widths) dropped, accents removed (NFKD), case folded, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(
        ch
        for ch in decomposed
        if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf"
    )
    return " ".join(bare.casefold().split())


def reset_anchor(loaded: Page) -> Anchor:
    """The one rendered anchor whose text starts with the reset phrase."""
    resets = [a for a in loaded.anchors if a.rendered and fold(a.text).startswith(PHRASE)]
    assert len(resets) == 1, (
        f"generator bug: Chromium sees {len(resets)} rendered reset anchors in {loaded.anchors}"
    )
    anchor = resets[0]
    assert anchor.href.startswith(GENUINE_PREFIX), (
        f"generator bug: not a genuine link: {anchor.href!r} (attribute {anchor.raw!r})"
    )
    return anchor


def chromium_href(chromium: Browser, mail: HtmlMail) -> str:
    """What a click on the mail's reset anchor follows, according to Chromium."""
    loaded = chromium.load(mail.html, mail.charset)
    if mail.browser_charset:
        assert loaded.charset == mail.browser_charset, "driver/generator bug: wrong decoding"
    return reset_anchor(loaded).href


def assert_tool_hands_over(mail: HtmlMail, href: str) -> None:
    verdict = parse_message(mail.raw)
    assert verdict.kind is Kind.RESET, (
        f"the tool says {verdict.kind.value} {verdict.reasons} (url {verdict.url!r}); "
        f"Chromium follows {href!r}"
    )
    assert verdict.url == href


def compare(chromium: Browser, mail: HtmlMail) -> str:
    """Assert the tool hands over what Chromium follows; return Chromium's href."""
    href = chromium_href(chromium, mail)
    assert_tool_hands_over(mail, href)
    return href


# --------------------------------------------------------------------------- generated


@BROWSER
@settings(
    max_examples=500,
    deadline=None,
    database=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mail=reset_mails())
def test_generated_reset_link_is_what_chromium_follows(chromium: Browser, mail: HtmlMail) -> None:
    compare(chromium, mail)


# --------------------------------------------------------------------------- hand-written


def anchor(href: str, text: str = ANCHOR_TEXT, *, quote: str = '"', attrs: str = "") -> str:
    return f"<a{attrs} href={quote}{href}{quote} target=_blank>{text}</a>"


def utf8(anchor_paragraph: str) -> bytes:
    return page(anchor_paragraph).encode("utf-8")


# (id, HTML body, MIME charset, Content-Transfer-Encoding, Chromium's href)
CASES: list[tuple[str, bytes, str, str, str]] = [
    (
        "plain",
        utf8(anchor(f"{RESET}?token={TOKEN}&amp;currentLanguage=es-CO")),
        "utf-8",
        "quoted-printable",
        f"{RESET}?token={TOKEN}&currentLanguage=es-CO",
    ),
    (
        "raw-amp-currentLanguage",
        utf8(anchor(f"{RESET}?token={TOKEN}&currentLanguage=es-CO")),
        "utf-8",
        "quoted-printable",
        f"{RESET}?token={TOKEN}&currentLanguage=es-CO",
    ),
    (
        "raw-amp-times",
        utf8(anchor(f"{RESET}?token={TOKEN}&times=3")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&times=3",
    ),
    (
        "raw-amp-para",
        utf8(anchor(f"{RESET}?token={TOKEN}&paragraph=2&para=1")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&paragraph=2&para=1",
    ),
    (
        "raw-amp-reg",
        utf8(anchor(f"{RESET}?token={TOKEN}&region=co")),
        "utf-8",
        "base64",
        f"{RESET}?token={TOKEN}&region=co",
    ),
    (
        "raw-amp-not",
        utf8(anchor(f"{RESET}?token={TOKEN}&notify=1")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&notify=1",
    ),
    (
        "raw-amp-copy",
        utf8(anchor(f"{RESET}?token={TOKEN}&copy2=x&copy=1")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&copy2=x&copy=1",
    ),
    (
        "raw-amp-sect",
        utf8(anchor(f"{RESET}?token={TOKEN}&section=a")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&section=a",
    ),
    (
        # Not followed by "=" or an alphanumeric, a legacy name IS decoded, in attributes too.
        "legacy-name-decoded-before-other",
        utf8(anchor(f"{RESET}?token={TOKEN}&not-x=1&para")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}%C2%AC-x=1%C2%B6",
    ),
    (
        "with-semicolon-decoded",
        utf8(anchor(f"{RESET}?token={TOKEN}&copy;2=x")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}%C2%A92=x",
    ),
    (
        "numeric-amp-mix",
        utf8(anchor(f"{RESET}?token={TOKEN}&#38;currentLanguage=es-CO&#x26;a=1&amp;b=2&c=3")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&currentLanguage=es-CO&a=1&b=2&c=3",
    ),
    (
        "tab-inside",
        utf8(anchor(f"{RESET}?token=Cfd8Jq2X\tvT0bW6&currentLanguage=es-CO")),
        "utf-8",
        "8bit",
        f"{RESET}?token=Cfd8Jq2XvT0bW6&currentLanguage=es-CO",
    ),
    (
        "newline-inside",
        utf8(anchor(f"{RESET}?token=Cfd8Jq2X\r\nvT0bW6&amp;currentLanguage=es-CO")),
        "utf-8",
        "quoted-printable",
        f"{RESET}?token=Cfd8Jq2XvT0bW6&currentLanguage=es-CO",
    ),
    (
        "tab-newline-references",
        utf8(
            anchor(
                f"https://community.secop.gov.co/STS/Users/&#9;Reset&#10;Password/Index&#13;?token={TOKEN}"
            )
        ),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}",
    ),
    (
        "leading-trailing-space",
        utf8(anchor(f"  {RESET}?token={TOKEN}&amp;currentLanguage=es-CO \r\n ")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&currentLanguage=es-CO",
    ),
    (
        "leading-trailing-controls",
        utf8(anchor(f"\x01\x1f&#1;{RESET}?token={TOKEN}\x0b\x0c")),
        "utf-8",
        "quoted-printable",
        f"{RESET}?token={TOKEN}",
    ),
    (
        "span-inside-word",
        utf8(
            anchor(
                f"{RESET}?token={TOKEN}",
                "Haga clic aquí para cambiar la contrase<span>ñ</span>a de usuario jperez",
            )
        ),
        "utf-8",
        "quoted-printable",
        f"{RESET}?token={TOKEN}",
    ),
    (
        "bold-font-comment",
        utf8(
            anchor(
                f"{RESET}?token={TOKEN}",
                "<b>Haga</b> clic aqu<!-- -->í para <font color=blue>cambiar</font> la "
                "<strong>contraseña</strong> de usuario jperez",
            )
        ),
        "utf-8",
        "quoted-printable",
        f"{RESET}?token={TOKEN}",
    ),
    (
        "username-after-anchor",
        utf8(
            anchor(f"{RESET}?token={TOKEN}", "Haga clic aquí para cambiar la contraseña de usuario")
            + " <b>jperez</b>"
        ),
        "utf-8",
        "quoted-printable",
        f"{RESET}?token={TOKEN}",
    ),
    (
        "duplicate-href",
        utf8(
            f'<a href="{RESET}?token={TOKEN}" HREF="https://evil.example/reset">{ANCHOR_TEXT}</a>'
        ),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}",
    ),
    (
        "duplicate-href-secop",
        utf8(f'<a href="{RESET}?token={TOKEN}" href="{RESET}?token=OldToken">{ANCHOR_TEXT}</a>'),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}",
    ),
    (
        "unquoted-uppercase-attrs-before",
        utf8(
            f"<A class=link style='color:#0563C1' HREF={RESET}?token={TOKEN}&currentLanguage=es-CO>"
            f"{ANCHOR_TEXT}</A>"
        ),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&currentLanguage=es-CO",
    ),
    (
        "single-quoted",
        utf8(anchor(f"{RESET}?token={TOKEN}&amp;lang=es", quote="'")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&lang=es",
    ),
    (
        "uppercase-scheme-host-default-port",
        utf8(
            anchor(
                f"HTTPS://COMMUNITY.SECOP.GOV.CO:443/STS/Users/ResetPassword/Index?token={TOKEN}"
            )
        ),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}",
    ),
    (
        # Declared ISO-8859-1, bytes windows-1252 (0x93/0x94 curly quotes, 0x80 euro sign):
        # browsers read ISO-8859-1 as windows-1252, and encode the query back into it.
        "iso-8859-1-declared-windows-1252-bytes",
        page(anchor(f"{RESET}?token={TOKEN}&amp;msg=“hola”&amp;precio=10€")).encode("cp1252"),
        "iso-8859-1",
        "8bit",
        f"{RESET}?token={TOKEN}&msg=%93hola%94&precio=10%80",
    ),
    (
        "non-ascii-query-windows-1252",
        page(anchor(f"{RESET}?token={TOKEN}&amp;nombre=Mu\xf1oz&amp;ciudad=Bogot\xe1")).encode(
            "cp1252"
        ),
        "windows-1252",
        "quoted-printable",
        f"{RESET}?token={TOKEN}&nombre=Mu%F1oz&ciudad=Bogot%E1",
    ),
    (
        "non-ascii-query-utf-8",
        utf8(anchor(f"{RESET}?token={TOKEN}&amp;nombre=Muñoz&amp;ciudad=Bogotá&amp;m=€")),
        "utf-8",
        "base64",
        f"{RESET}?token={TOKEN}&nombre=Mu%C3%B1oz&ciudad=Bogot%C3%A1&m=%E2%82%AC",
    ),
    (
        # The path is always UTF-8, whatever the document's encoding.
        "non-ascii-path-windows-1252",
        page(
            anchor(f"https://community.secop.gov.co/STS/Contrase\xf1a/Index?token={TOKEN}")
        ).encode("cp1252"),
        "windows-1252",
        "8bit",
        f"https://community.secop.gov.co/STS/Contrase%C3%B1a/Index?token={TOKEN}",
    ),
    (
        "us-ascii-declared-8bit-bytes",
        page(anchor(f"{RESET}?token={TOKEN}&amp;nombre=Mu\xf1oz")).encode("cp1252"),
        "us-ascii",
        "8bit",
        f"{RESET}?token={TOKEN}&nombre=Mu%F1oz",
    ),
    (
        # Declared UTF-8, written in windows-1252: the browser sees U+FFFD, not "ñ".
        "utf-8-declared-windows-1252-bytes",
        page(
            anchor(
                f"{RESET}?token={TOKEN}&amp;nombre=Mu\xf1oz",
                "Haga clic aqu&iacute; para cambiar la contrase&ntilde;a de usuario jperez",
            )
        ).encode("cp1252"),
        "utf-8",
        "quoted-printable",
        f"{RESET}?token={TOKEN}&nombre=Mu%EF%BF%BDoz",
    ),
    (
        # Declared ISO-8859-1, written in UTF-8: the browser sees "Ã±" and encodes it back.
        "iso-8859-1-declared-utf-8-bytes",
        page(
            anchor(
                f"https://community.secop.gov.co/STS/Contrase\u00f1a/Index?token={TOKEN}&amp;n=\u00f1",
                "Haga clic aqui para cambiar la contrasena de usuario jperez",
            )
        ).encode("utf-8"),
        "iso-8859-1",
        "8bit",
        f"https://community.secop.gov.co/STS/Contrase%C3%83%C2%B1a/Index?token={TOKEN}&n=%C3%B1",
    ),
    (
        # windows-1252 keeps 0x81 0x8D 0x8F 0x90 0x9D as C1 controls (Python's cp1252 lacks them).
        "windows-1252-c1-kept",
        page(anchor(f"{RESET}?token={TOKEN}&amp;q=&#x81;~~"))
        .encode("cp1252")
        .replace(b"~~", b"\x8d"),
        "windows-1252",
        "8bit",
        f"{RESET}?token={TOKEN}&q=%81%8D",
    ),
    (
        # Chromium percent-encodes "|" in a path (the URL Standard, and ada, do not).
        "pipe-in-path",
        utf8(anchor(f"https://community.secop.gov.co/STS/Users/a|b/Index?token={TOKEN}")),
        "utf-8",
        "8bit",
        f"https://community.secop.gov.co/STS/Users/a%7Cb/Index?token={TOKEN}",
    ),
    (
        "space-inside-query",
        utf8(anchor(f"{RESET}?token={TOKEN}&amp;nombre=Juan P&#233;rez")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&nombre=Juan%20P%C3%A9rez",
    ),
    (
        "quotes-and-angles-in-query",
        utf8(anchor(f"{RESET}?token={TOKEN}&amp;q=&lt;&quot;&apos;&gt;")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&q=%3C%22%27%3E",
    ),
    (
        # U+00A0 is not a C0 control or space: it is kept, not stripped.
        "nbsp-at-the-end",
        utf8(anchor(f"{RESET}?token={TOKEN}&amp;q=a&nbsp;")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&q=a%C2%A0",
    ),
    (
        "nul-reference",
        utf8(anchor(f"{RESET}?token={TOKEN}&amp;q=&#0;")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&q=%EF%BF%BD",
    ),
    (
        # A reference to a control character inside the URL: kept, then percent-encoded.
        "control-reference-inside",
        utf8(anchor(f"{RESET}?token={TOKEN}&#1;X")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}%01X",
    ),
    (
        "dot-segments",
        utf8(
            anchor(
                f"https://community.secop.gov.co/STS/Users/./X/%2e%2E/ResetPassword/Index?token={TOKEN}"
            )
        ),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}",
    ),
    (
        "empty-fragment",
        utf8(anchor(f"{RESET}?token={TOKEN}#")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}#",
    ),
    (
        "escaped-twice-amp",
        utf8(anchor(f"{RESET}?token={TOKEN}&amp;amp;currentLanguage=es-CO")),
        "utf-8",
        "8bit",
        f"{RESET}?token={TOKEN}&amp;currentLanguage=es-CO",
    ),
    (
        "soft-hyphen-and-wbr-in-words",
        utf8(
            anchor(
                f"{RESET}?token={TOKEN}",
                "Haga clic aqu&iacute para cam<wbr>biar la contra&shy;se&ntildea de usuario jperez",
            )
        ),
        "utf-8",
        "quoted-printable",
        f"{RESET}?token={TOKEN}",
    ),
    (
        # MJML's layout: font-size:0px on the wrappers, set again inside; the link shows.
        "mjml-font-size-0-wrappers",
        page(anchor(f"{RESET}?token={TOKEN}"), layout="mjml").encode("utf-8"),
        "utf-8",
        "quoted-printable",
        f"{RESET}?token={TOKEN}",
    ),
    (
        "email-css-and-hidden-preheader",
        page(anchor(f"{RESET}?token={TOKEN}"), css=True).encode("utf-8"),
        "utf-8",
        "quoted-printable",
        f"{RESET}?token={TOKEN}",
    ),
    (
        # A character the document's encoding lacks goes into the query as &#NNNN;.
        "iso-8859-15-unencodable-in-query",
        page(anchor(f"{RESET}?token={TOKEN}&amp;q=&#8220;x&#8221;&amp;e=\u20ac")).encode(
            "iso8859_15"
        ),
        "iso-8859-15",
        "8bit",
        f"{RESET}?token={TOKEN}&q=%26%238220%3Bx%26%238221%3B&e=%A4",
    ),
]


def _qp_soft_break_case() -> HtmlMail:
    """Soft line breaks inside the href, one right after ``=3D`` and one before it."""
    html = utf8(anchor(f"{RESET}?token={TOKEN}&amp;currentLanguage=es-CO"))
    start = html.index(b"ResetPassword")
    equals = html.index(b"=", html.index(b"?token"))
    breaks = [start + 5, equals, equals + 1, html.index(b"currentLanguage") + 3]
    return mail_from_html(
        html, "utf-8", cte="quoted-printable", encoded_body=encode_qp(html, breaks)
    )


@BROWSER
@pytest.mark.parametrize(
    ("html", "charset", "cte", "expected"),
    [
        pytest.param(html, charset, cte, expected, id=name)
        for name, html, charset, cte, expected in CASES
    ],
)
def test_hand_written_reset_link_is_what_chromium_follows(
    chromium: Browser, html: bytes, charset: str, cte: str, expected: str
) -> None:
    mail = mail_from_html(html, charset, cte=cte)
    href = chromium_href(chromium, mail)
    assert href == expected, "Chromium (the oracle) resolves this differently than recorded"
    assert_tool_hands_over(mail, href)


@BROWSER
def test_qp_soft_breaks_inside_href(chromium: Browser) -> None:
    mail = _qp_soft_break_case()
    for piece in (b"Reset=\r\nPassword", b"token=\r\n=3D=\r\nCfd8", b"cur=\r\nrentLanguage"):
        assert piece in mail.raw
    href = chromium_href(chromium, mail)
    assert href == f"{RESET}?token={TOKEN}&currentLanguage=es-CO"
    assert_tool_hands_over(mail, href)


@BROWSER
@pytest.mark.parametrize("entity", LEGACY_ENTITIES)
def test_every_legacy_entity_name_in_a_query(chromium: Browser, entity: str) -> None:
    """Each name HTML decodes without a semicolon, as a parameter name after a raw ``&``:
    followed by ``=``, by alphanumerics, by ``;``, by another character, and at the end."""
    query = f"token={TOKEN}&{entity}=1&{entity}x2=2&{entity};y=3&{entity}-z=4&{entity}"
    mail = mail_from_html(utf8(anchor(f"{RESET}?{query}")), "utf-8", cte="quoted-printable")
    compare(chromium, mail)


# --------------------------------------------------------------------------- the corpus itself


def test_legacy_entity_names_are_htmls() -> None:
    assert set(LEGACY_ENTITIES) == {name for name in html5 if not name.endswith(";")}


@settings(max_examples=200, deadline=None, database=None)
@given(
    data=st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"\r\n")),
    breaks=st.lists(st.integers(0, 300)),
    as_hex=st.lists(st.integers(0, 300)),
)
def test_quoted_printable_encoder_round_trips(
    data: bytes, breaks: list[int], as_hex: list[int]
) -> None:
    encoded = encode_qp(data, breaks, as_hex)
    assert binascii.a2b_qp(encoded) == data
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))


# --- hidden anchors ------------------------------------------------------------------

GENUINE = f"{RESET}?token={TOKEN}"
HIDING = [
    ("display-none", '<a style="display:none" href="{href}">{text}</a>'),
    ("ancestor-display-none", '<div style="display: none"><a href="{href}">{text}</a></div>'),
    ("visibility-hidden", '<span style="visibility:hidden"><a href="{href}">{text}</a></span>'),
    ("hidden-attribute", '<p hidden><a href="{href}">{text}</a></p>'),
    ("font-size-zero", '<div style="font-size:0"><a href="{href}">{text}</a></div>'),
    (
        "zero-box-clipped",
        '<div style="height:0;width:0;overflow:hidden"><a href="{href}">{text}</a></div>',
    ),
    (
        "style-rule",
        '<style>.x{{display:none}}</style><div class="x"><a href="{href}">{text}</a></div>',
    ),
    ("opacity-zero", '<a style="opacity:0" href="{href}">{text}</a>'),
]


@BROWSER
@pytest.mark.parametrize(("name", "markup"), HIDING, ids=[n for n, _ in HIDING])
def test_a_reset_anchor_the_reader_cannot_see_is_never_the_link(
    chromium: Browser, name: str, markup: str
) -> None:
    """A genuine-looking anchor, hidden, before a visible one that goes elsewhere: what the
    browser does not render (or renders invisibly) is never handed over as the link."""
    hidden = markup.format(href=GENUINE, text=ANCHOR_TEXT)
    visible = anchor("https://secop.gov.co.actualizar-datos.example/reset")
    body = utf8(hidden + visible)
    rendered = [a.rendered for a in chromium.anchors(body, "utf-8") if a.href == GENUINE]
    assert rendered, name
    verdict = parse_message(mail_from_html(body, "utf-8", cte="quoted-printable").raw)
    assert verdict.kind is not Kind.RESET, (name, verdict)
    assert "hidden_link" in verdict.reasons, (name, verdict.reasons, rendered)
