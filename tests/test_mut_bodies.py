"""watcher.bodies, pinned where mutation testing found the suite silent.

Which parts of a mail are read (those a reader sees: ``text/html`` and ``text/plain``,
not attachments, not inside an attached mail), how each is decoded (its MIME charset,
for HTML a ``<meta charset>``; ``format=flowed`` with ``DelSp`` per RFC 3676), and where
the user name is found. Mails are written byte for byte, so nothing adds a newline.
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest

from tests import mailfactory as mf
from watcher import bodies
from watcher.bodies import Candidate, TextPart, candidates
from watcher.model import Kind, Verdict
from watcher.parsing import parse_message

WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
URL = mf.reset_url("T0k3n")
EVIL = "https://secop.gov.co.evil.example/STS/Users/ResetPassword/Index?token=x"
PHRASE = "Haga clic aquí para cambiar la contraseña"
FULL = f"{PHRASE} de usuario jperez"
ASCII_PHRASE = "Haga clic aqui para cambiar la contrasena"  # koi8-r has no í, ñ
HEAD = (
    "From: Registro SECOP II <registro@secop.gov.co>\r\nSubject: SECOP II\r\n"
    "Date: Mon, 30 Nov 2026 12:00:00 +0000\r\nMessage-ID: <b@secop.gov.co>\r\nMIME-Version: 1.0\r\n"
)


def part(content_type: str, body: bytes, extra: str = "") -> bytes:
    head = f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: 8bit\r\n{extra}\r\n"
    return head.encode() + body


def mixed(*parts: bytes, subtype: str = "mixed") -> bytes:
    head = HEAD + f'Content-Type: multipart/{subtype}; boundary="b"\r\n\r\n'
    return head.encode() + b"".join(b"--b\r\n" + p + b"\r\n" for p in parts) + b"--b--\r\n"


def single(content_type: str, body: bytes, extra: str = "") -> bytes:
    return HEAD.encode() + part(content_type, body, extra)


def anchor(href: str, text: str = FULL) -> bytes:
    return f'<p><a href="{href}">{text}</a></p>'.encode()


def parse(raw: bytes) -> Verdict:
    return parse_message(raw, internaldate=WHEN)


def outcome(verdict: Verdict) -> tuple[Kind, str | None, str | None, tuple[str, ...]]:
    return verdict.kind, verdict.url, verdict.username, verdict.reasons


RESET = (Kind.RESET, URL, "jperez", ())
TEXT = f"{FULL}\r\n<{URL}>\r\n".encode()


# --------------------------------------------------------------------------- which parts


def test_a_text_html_attachment_is_not_the_body() -> None:
    forged = part(
        'text/html; charset="utf-8"',
        anchor(EVIL),
        'Content-Disposition: attachment; filename="r.html"\r\n',
    )
    body = part('text/plain; charset="utf-8"', TEXT)
    assert outcome(parse(mixed(body, forged))) == RESET
    assert outcome(parse(mixed(forged, body))) == RESET  # and the body after it is still read


def test_a_part_that_is_no_text_does_not_end_the_reading() -> None:
    logo = part("image/png", b"\x89PNG\r\n", "Content-ID: <logo@secop>\r\n")
    assert outcome(parse(mixed(logo, part('text/plain; charset="utf-8"', TEXT)))) == RESET


@pytest.mark.parametrize("content_type", ["application/html", "text/calendar", "text/x-html"])
def test_only_text_html_and_text_plain_are_read(content_type: str) -> None:
    other = part(f'{content_type}; charset="utf-8"', anchor(EVIL))
    assert outcome(parse(mixed(part('text/plain; charset="utf-8"', TEXT), other))) == RESET


def test_an_attached_mail_is_never_read_as_the_mail() -> None:
    inner = mf.reset_mail("jperez", URL, date=WHEN)
    notice = part('text/plain; charset="utf-8"', b"Le reenviamos un correo.")
    attached = part("message/rfc822", inner, "Content-Disposition: inline\r\n")
    verdict = parse(mixed(notice, attached))
    assert outcome(verdict) == (Kind.OTHER, None, None, ())
    msg = email.message_from_bytes(mixed(notice, attached), policy=email.policy.compat32)
    assert [p.text for p in bodies.text_parts(msg)] == ["Le reenviamos un correo."]


def test_format_flowed_is_for_plain_text_only() -> None:
    flowed = 'text/plain; charset="utf-8"; format=flowed; delsp=yes'
    msg = email.message_from_bytes(
        mixed(
            part(flowed, b"a \r\nb"),
            part('text/plain; charset="utf-8"', b"c \r\nd"),
            part('text/html; charset="utf-8"; format=flowed', b"<p>e</p>"),
        ),
        policy=email.policy.compat32,
    )
    assert [(p.subtype, p.flowed, p.delsp) for p in bodies.text_parts(msg)] == [
        ("plain", True, True),
        ("plain", False, False),
        ("html", False, False),
    ]


# --------------------------------------------------------------------------- decoding


def test_the_mime_charset_decodes_the_part() -> None:
    raw = single(
        'text/plain; charset="koi8-r"',
        f"{ASCII_PHRASE} de usuario Иван\r\n<{URL}>\r\n".encode("koi8-r"),
    )
    assert outcome(parse(raw)) == (Kind.RESET, URL, "Иван", ())


def test_a_meta_charset_decodes_an_html_part_without_mime_charset() -> None:
    href = "https://community.secop.gov.co/STS/Иван?token=T0k3n"
    page = f'<meta charset="koi8-r"><a href="{href}">{ASCII_PHRASE} de usuario Иван</a>'.encode(
        "koi8-r"
    )
    raw = single("text/html", page)
    expected = "https://community.secop.gov.co/STS/%D0%98%D0%B2%D0%B0%D0%BD?token=T0k3n"
    assert outcome(parse(raw)) == (Kind.RESET, expected, "Иван", ())


def test_the_mime_charset_decodes_the_links_of_an_html_part() -> None:
    href = "https://community.secop.gov.co/STS/Иван?token=T0k3n"
    page = f'<a href="{href}">{ASCII_PHRASE} de usuario jperez</a>'.encode("koi8-r")
    raw = single('text/html; charset="koi8-r"', page)
    expected = "https://community.secop.gov.co/STS/%D0%98%D0%B2%D0%B0%D0%BD?token=T0k3n"
    assert outcome(parse(raw)) == (Kind.RESET, expected, "jperez", ())


def test_a_meta_charset_in_plain_text_is_only_text() -> None:
    body = f'<meta charset="koi8-r">\r\n{PHRASE} de usuario Iv\xe1n\r\n<{URL}>\r\n'.encode(
        "latin-1"
    )
    assert outcome(parse(single("text/plain", body))) == (Kind.RESET, URL, "Iván", ())


def test_a_raw_and_an_encoded_query_in_one_windows_1252_page_agree() -> None:
    raw_href = "https://community.secop.gov.co/STS/Users/ResetPassword/Index?token=T0k3n&u=é"
    encoded_href = raw_href.replace("é", "%E9")
    page = (anchor(raw_href) + anchor(encoded_href)).decode().encode("cp1252")
    raw = single('text/html; charset="windows-1252"', page)
    assert outcome(parse(raw)) == (Kind.RESET, encoded_href, "jperez", ())


# --------------------------------------------------------------------------- format=flowed


URL_A, URL_B = URL[:40], URL[40:]


def test_delsp_yes_joins_a_link_broken_at_a_soft_break() -> None:
    body = f"{FULL}\r\n{URL_A} \r\n{URL_B}\r\n\r\nGracias.\r\n".encode()
    for delsp in ("yes", "Yes", '"yes"'):
        ctype = f'text/plain; charset="utf-8"; format=flowed; delsp={delsp}'
        assert outcome(parse(single(ctype, body))) == RESET, delsp


def test_without_delsp_the_space_of_a_soft_break_stays() -> None:
    body = f"{FULL}\r\n{URL_A} \r\n{URL_B}\r\n\r\nGracias.\r\n".encode()
    for ctype in ("format=flowed", "format=flowed; delsp=no"):
        verdict = parse(single(f'text/plain; charset="utf-8"; {ctype}', body))
        # the link ends at the space: what a flowed-aware client shows as the link
        assert (verdict.kind, verdict.url) == (Kind.RESET, URL_A), ctype


def test_a_fixed_text_keeps_its_line_breaks() -> None:
    """Only format=flowed joins a line ending in a space with the next (RFC 3676, 4.2)."""
    text = f"{PHRASE} de usuario \r\njperez\r\n<{URL}>"
    fixed = TextPart("plain", text, text, "utf-8")
    flowed = TextPart("plain", text, text, "utf-8", flowed=True)
    assert candidates(fixed) == [Candidate("text", None, None, None)]
    assert candidates(flowed) == [Candidate("text", URL, URL, "jperez")]


# --------------------------------------------------------------------------- HTML parts


def html_part(markup: str) -> list[Candidate]:
    return candidates(TextPart("html", markup, markup, "utf-8"))


def test_an_anchor_ending_in_de_usuario_at_the_end_of_the_page() -> None:
    (found,) = html_part(f'<a href="{URL}">{PHRASE} de usuario</a>')
    assert (found.href, found.username) == (URL, None)


def test_the_name_is_looked_for_in_the_20_strings_after_the_anchor() -> None:
    near = html_part(f'<a href="{URL}">{PHRASE} de usuario</a>' + "<i> </i>" * 19 + "jperez")
    far = html_part(f'<a href="{URL}">{PHRASE} de usuario</a>' + "<i> </i>" * 20 + "jperez")
    assert [c.username for c in near + far] == ["jperez", None]


def test_an_anchor_without_user_in_a_long_page() -> None:
    page = f'<a href="{URL}">{PHRASE}</a>' + "".join(f"<p>{i}</p>" for i in range(30))
    assert html_part(page) == [Candidate("html", URL, URL, None)]
    raw = single('text/html; charset="utf-8"', page.encode())
    assert outcome(parse(raw)) == (Kind.RESET, URL, None, ())


@pytest.mark.parametrize("close", ["</span>", "</span>\r\n", "</span>  \r\n\r\n"])
def test_a_page_that_ends_with_a_tag_is_not_cut(close: str) -> None:
    page = f"<span>{FULL}: {URL}{close}"
    assert html_part(page) == [Candidate("html-text", URL, URL, "jperez")]


def test_a_page_that_ends_inside_its_link_is_cut() -> None:
    page = f"<span>{FULL}: {URL[:-12]}"
    assert html_part(page) == [
        Candidate("html-text", URL[:-12], URL[:-12], "jperez", truncated=True)
    ]
    raw = single('text/html; charset="utf-8"', page.encode())
    assert outcome(parse(raw)) == (Kind.SUSPICIOUS, URL[:-12], "jperez", ("malformed_link",))
