"""The parser on a corpus of realistic (and hostile) SECOP-shaped mails."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from html import escape

import pytest

from tests.mailfactory import (
    LOGIN_URL,
    proofpoint_v2,
    proofpoint_v3,
    recover_username_mail,
    reset_html,
    reset_mail,
    reset_text,
    reset_url,
    safelinks,
)
from watcher.model import Kind, Verdict
from watcher.parsing import decode_text, fold, parse_message, received_at

WHEN = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)
URL = reset_url("Qm9nb3RhMjAyNS0wMy0wNFQxNTozMA")
MID = "<20250304153000.4711@secop.gov.co>"
EVIL = "https://secop.gov.co.evil.com/STS/Users/ResetPassword/Index?token=x"


def parse(raw: bytes, **kwargs: object) -> Verdict:
    return parse_message(raw, internaldate=WHEN, **kwargs)  # type: ignore[arg-type]


def mail(username: str = "jperez", url: str = URL, **kwargs: object) -> bytes:
    kwargs.setdefault("message_id", MID)
    return reset_mail(username, url, date=WHEN, **kwargs)  # type: ignore[arg-type]


def html_mail(anchor: str, username: str = "jperez", url: str = URL) -> bytes:
    """An HTML-only reset mail whose reset anchor markup is ``anchor``."""
    return mail(username, url, text=False, html_body=reset_html(username, url, anchor=anchor))


def anchor(
    href: str, text: str = "Haga clic aquí para cambiar la contraseña de usuario jperez"
) -> str:
    return f'<a href="{href}">{text}</a>'


def set_header(raw: bytes, name: str, value: str | None) -> bytes:
    """Replace (or, with None, drop) header ``name`` in the top-level header block."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    pattern = re.compile(rb"^" + name.encode() + rb":.*?\r\n(?![ \t])", re.M | re.I | re.S)
    line = b"" if value is None else f"{name}: {value}\r\n".encode()
    head = pattern.sub(lambda _: line, head + b"\r\n", count=1).removesuffix(b"\r\n")
    return head + sep + body


def assert_reset(verdict: Verdict, username: str | None = "jperez", url: str = URL) -> None:
    assert verdict == Verdict(
        Kind.RESET,
        username=username,
        url=url,
        received=WHEN,
        message_id=MID,
        sender="registro@secop.gov.co",
        subject="SECOP II - Recuperación de contraseña",
    )


# --------------------------------------------------------------------------- genuine shapes


@pytest.mark.parametrize("cte", ["quoted-printable", "base64", "8bit"])
@pytest.mark.parametrize("charset", ["utf-8", "iso-8859-1", "windows-1252"])
@pytest.mark.parametrize(("html", "text"), [(True, True), (True, False), (False, True)])
def test_genuine_reset_every_encoding(cte: str, charset: str, html: bool, text: bool) -> None:
    raw = mail("mnuñez", cte=cte, charset=charset, html=html, text=text)
    assert_reset(parse(raw), username="mnuñez")


@pytest.mark.parametrize("cte", ["quoted-printable", "base64", "8bit"])
@pytest.mark.parametrize(
    ("declared", "actual"),
    [
        ("utf-8", "iso-8859-1"),
        ("utf-8", "windows-1252"),
        ("iso-8859-1", "utf-8"),
        ("windows-1252", "utf-8"),
        ("x-unknown-charset", "utf-8"),
        ("x-unknown-charset", "windows-1252"),
    ],
)
@pytest.mark.parametrize(("html", "text"), [(True, False), (False, True)])
def test_wrong_declared_charset(
    cte: str, declared: str, actual: str, html: bool, text: bool
) -> None:
    raw = mail("mnuñez", cte=cte, charset=declared, encoding=actual, html=html, text=text)
    assert_reset(parse(raw), username="mnuñez")


def test_multipart_related_with_inline_logo() -> None:
    raw = mail(inline_logo=True)
    assert b"multipart/alternative" in raw
    assert b"multipart/related" in raw
    assert b"Content-ID: <logo-secop@secop.gov.co>" in raw
    assert_reset(parse(raw))


def test_html_only_related() -> None:
    raw = mail(text=False, inline_logo=True)
    assert b"multipart/alternative" not in raw
    assert_reset(parse(raw))


def test_text_and_html_agreeing_is_a_reset() -> None:
    assert_reset(parse(mail(text_body=reset_text("jperez", URL))))


def test_text_and_html_with_different_links_are_suspicious() -> None:
    other = reset_url("from-the-text-part")
    verdict = parse(mail(text_body=reset_text("jperez", other)))
    assert (verdict.kind, verdict.reasons, verdict.url) == (
        Kind.SUSPICIOUS,
        ("links_disagree",),
        URL,
    )


def test_text_used_when_html_has_no_reset_anchor() -> None:
    html = reset_html("jperez", URL, anchor="Bienvenido")
    assert_reset(parse(mail(html_body=html)))


def test_anchor_text_split_across_tags() -> None:
    markup = (
        f'<a href="{URL}"><span>Haga clic</span> <b>aquí</b>\n para cambiar la '
        "<i>contraseña</i> de&nbsp;usuario <strong>jperez</strong></a>"
    )
    assert_reset(parse(html_mail(markup)))


def test_username_after_the_anchor() -> None:
    markup = anchor(URL, "Haga clic aquí para cambiar la contraseña de usuario") + " <b>jperez</b>"
    assert_reset(parse(html_mail(markup)))


def test_username_with_trailing_punctuation() -> None:
    markup = anchor(URL, "Haga clic aquí para cambiar la contraseña de usuario: jperez.")
    assert_reset(parse(html_mail(markup)))


def test_de_usuario_after_short_anchor() -> None:
    markup = anchor(URL, "Haga clic aquí para cambiar la contraseña") + " de usuario jperez."
    assert_reset(parse(html_mail(markup)))


def test_no_username_anywhere() -> None:
    markup = anchor(URL, "Haga clic aquí para cambiar la contraseña")
    assert_reset(parse(html_mail(markup)), username=None)


def test_anchor_without_accents_and_in_capitals() -> None:
    markup = anchor(URL, "HAGA CLIC AQUI PARA CAMBIAR LA CONTRASENA DE USUARIO JPerez")
    assert_reset(parse(html_mail(markup)), username="JPerez")


def test_other_links_are_ignored() -> None:
    decoys = (
        f'<a href="{LOGIN_URL}">Haga clic aquí</a> para ingresar. '
        '<a href="https://evil.example/x">Olvidé el usuario</a> '
        '<a href="https://evil.example/y">cambiar la contraseña</a> '
    )
    raw = html_mail(decoys + anchor(URL))
    assert_reset(parse(raw))


def test_same_reset_anchor_twice_is_a_reset() -> None:
    assert_reset(parse(html_mail(anchor(URL) + anchor(URL))))


def test_two_reset_anchors_to_different_places_are_suspicious() -> None:
    verdict = parse(html_mail(anchor(URL) + anchor(EVIL)))
    assert (verdict.kind, verdict.reasons, verdict.url) == (
        Kind.SUSPICIOUS,
        ("links_disagree",),
        URL,
    )


def test_text_only_url_on_next_line_in_brackets() -> None:
    verdict = parse(mail(html=False))
    assert_reset(verdict)


def test_text_only_url_on_the_same_line() -> None:
    body = f"Haga clic aquí para cambiar la contraseña de usuario jperez: {URL}.\nGracias\n"
    assert_reset(parse(mail(html=False, text_body=body)))


def test_text_only_url_wrapped_over_lines() -> None:
    body = (
        "Estimado (a) usuario (a).\nHaga clic aquí para cambiar la\ncontraseña de usuario "
        f"jperez\n\n  {URL}\n\nNosotros nunca le solicitamos datos personales.\n"
    )
    assert_reset(parse(mail(html=False, text_body=body)))


def test_phrase_in_html_text_with_bare_url() -> None:
    html = f"<p>Haga clic aquí para cambiar la contraseña de usuario jperez</p><p>{escape(URL)}</p>"
    assert_reset(parse(mail(text=False, html_body=html)))


# --------------------------------------------------------------------------- wrappers


@pytest.mark.parametrize(
    "wrapped",
    [
        safelinks(URL),
        proofpoint_v2(URL),
        proofpoint_v3(URL),
        proofpoint_v2(safelinks(URL)),
        safelinks(proofpoint_v3(URL)),
    ],
    ids=["safelinks", "proofpoint-v2", "proofpoint-v3", "safelinks-in-pp", "pp-in-safelinks"],
)
@pytest.mark.parametrize("html", [True, False])
def test_wrapped_links_are_unwrapped(wrapped: str, html: bool) -> None:
    assert_reset(parse(mail(url=wrapped, html=html, text=not html)))


def test_mimecast_is_suspicious() -> None:
    wrapped = "https://protect-us.mimecast.com/s/AbCdEfGh1234?domain=community.secop.gov.co"
    verdict = parse(mail(url=wrapped))
    assert verdict.kind is Kind.SUSPICIOUS
    assert verdict.url == wrapped
    assert verdict.reasons == ("mimecast_wrapped",)
    assert verdict.username == "jperez"


def test_wrapped_evil_link_is_suspicious_and_reported_as_found() -> None:
    wrapped = safelinks(EVIL)
    verdict = parse(mail(url=wrapped))
    assert (verdict.kind, verdict.url, verdict.reasons) == (
        Kind.SUSPICIOUS,
        wrapped,
        ("host_not_allowed",),
    )


def test_too_deeply_wrapped() -> None:
    wrapped = URL
    for _ in range(6):
        wrapped = safelinks(wrapped)
    verdict = parse(mail(url=wrapped))
    assert (verdict.kind, verdict.reasons) == (Kind.SUSPICIOUS, ("unwrap_too_deep",))


# --------------------------------------------------------------------------- sender


@pytest.mark.parametrize(
    ("sender", "address"),
    [
        ('"registro@secop.gov.co" <evil@x.org>', "evil@x.org"),
        ("Registro SECOP II <notificaciones@secop-gov-actualizacion.org>", None),
        ("SECOP II <registro@secop.gov.co.evil.com>", None),
        ("registro@secop.gov.com", None),
        ("SECOP <xregistro@secop.gov.co>", None),
        ("notificaciones@secop.gov.co", None),
    ],
)
def test_sender_mismatch(sender: str, address: str | None) -> None:
    verdict = parse(mail(sender=sender))
    expected = address or sender.rpartition("<")[2].rstrip(">")
    assert verdict.kind is Kind.SUSPICIOUS
    assert verdict.sender == expected
    assert verdict.reasons == ("sender_mismatch",)
    assert verdict.url == URL
    assert verdict.username == "jperez"


def test_unquoted_display_name_with_address_is_two_senders() -> None:
    raw = set_header(mail(), "From", "registro@secop.gov.co <evil@x.org>")
    verdict = parse(raw)
    assert (verdict.kind, verdict.reasons) == (Kind.SUSPICIOUS, ("multiple_senders",))


def test_multiple_from_addresses() -> None:
    verdict = parse(mail(sender="registro@secop.gov.co, evil@x.org"))
    assert (verdict.kind, verdict.sender, verdict.reasons) == (
        Kind.SUSPICIOUS,
        "registro@secop.gov.co",
        ("multiple_senders",),
    )


def test_two_from_headers() -> None:
    raw = b"From: evil@x.org\r\n" + mail()
    verdict = parse(raw)
    assert verdict.reasons == ("multiple_senders",)


def test_missing_from() -> None:
    verdict = parse(set_header(mail(), "From", None))
    assert (verdict.kind, verdict.sender, verdict.reasons) == (
        Kind.SUSPICIOUS,
        None,
        ("sender_mismatch",),
    )


def test_sender_compared_case_insensitively() -> None:
    assert_reset(parse(mail(sender="SECOP <Registro@SECOP.gov.co>")))


def test_configured_sender() -> None:
    raw = mail(sender="Soporte <soporte@secop.gov.co>")
    assert parse(raw).reasons == ("sender_mismatch",)
    verdict = parse(raw, sender="SOPORTE@secop.gov.co")
    assert (verdict.kind, verdict.sender) == (Kind.RESET, "soporte@secop.gov.co")


def test_sender_and_link_reasons_combined_in_order() -> None:
    verdict = parse(mail(url="http://community.secop.gov.co/x", sender="evil@x.org"))
    assert verdict.reasons == ("sender_mismatch", "not_https")


# --------------------------------------------------------------------------- links


@pytest.mark.parametrize(
    ("href", "reasons"),
    [
        ("http://community.secop.gov.co/STS/Users/ResetPassword/Index?token=a", ("not_https",)),
        (EVIL, ("host_not_allowed",)),
        ("https://secop-gov.co/reset", ("host_not_allowed",)),
        ("https://evilsecop.gov.co/reset", ("host_not_allowed",)),
        (
            "https://community.secop.gov.co@evil.example/reset",
            ("userinfo_in_link", "host_not_allowed"),
        ),
        ("https://community.secop.gov.co:8443/reset?token=a", ("port_in_link",)),
        (
            "https://community.secop.gov.co\\@evil.example/",
            ("backslash_in_link", "userinfo_in_link", "host_not_allowed"),
        ),
        ("https://community%2esecop.gov.co/reset", ("encoded_host",)),
        ("https://community.sеcop.gov.co/reset", ("mixed_script_host", "host_not_allowed")),
        ("javascript:alert(1)", ("not_https",)),
        ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", ("not_https",)),
    ],
)
def test_bad_links_are_suspicious(href: str, reasons: tuple[str, ...]) -> None:
    verdict = parse(html_mail(anchor(href.replace("&", "&amp;"))))
    assert verdict == Verdict(
        Kind.SUSPICIOUS,
        username="jperez",
        url=href,
        received=WHEN,
        message_id=MID,
        sender="registro@secop.gov.co",
        subject="SECOP II - Recuperación de contraseña",
        reasons=reasons,
    )


def test_href_whitespace_is_stripped() -> None:
    assert_reset(parse(html_mail(anchor(f"  {URL}\n"))))


@pytest.mark.parametrize(
    "markup",
    [
        "<a>Haga clic aquí para cambiar la contraseña de usuario jperez</a>",
        '<a href="">Haga clic aquí para cambiar la contraseña de usuario jperez</a>',
        "<p>Haga clic aquí para cambiar la contraseña de usuario jperez</p>",
    ],
)
def test_phrase_without_link(markup: str) -> None:
    verdict = parse(html_mail(markup))
    assert (verdict.kind, verdict.url, verdict.username, verdict.reasons) == (
        Kind.SUSPICIOUS,
        None,
        "jperez",
        ("no_link",),
    )


def test_text_link_cut_short_is_not_trusted() -> None:
    raw = mail(html=False, cte="8bit")
    cut = raw[: raw.index(b"ResetPassword") + 8]
    verdict = parse(cut)
    assert verdict.kind is Kind.SUSPICIOUS
    assert verdict.reasons == ("malformed_link",)


# --------------------------------------------------------------------------- not a reset


def test_recover_username_mail_is_other() -> None:
    raw = recover_username_mail("jperez", date=WHEN, message_id=MID)
    assert parse(raw) == Verdict(
        Kind.OTHER,
        received=WHEN,
        message_id=MID,
        sender="registro@secop.gov.co",
        subject="SECOP II - Recuperación de usuario",
    )


def test_notice_mail_is_other() -> None:
    from tests.mailfactory import notice_mail

    verdict = parse(notice_mail(date=WHEN, message_id=MID))
    assert (verdict.kind, verdict.sender, verdict.url, verdict.reasons) == (
        Kind.OTHER,
        "notificaciones@secop.gov.co",
        None,
        (),
    )
    assert verdict.subject == "SECOP II - Notificación: publicación del proceso CCE-123-2024"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe" * 100,
        bytes(range(256)) * 4,
        b"From: registro@secop.gov.co\r\n\r\n",
        b"Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\n--x",
        b"Content-Type: text/html; charset=\xff\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@",
        b"Subject: =?utf-8?b?!!!?= =?x-bogus?q?=FF?=\r\nDate: 99 Foo 99999\r\n\r\nhola",
    ],
    ids=["empty", "binary", "all-bytes", "headers-only", "broken-multipart", "bad-b64", "bad-hdr"],
)
def test_garbage_is_other(raw: bytes) -> None:
    verdict = parse(raw)
    assert verdict.kind is Kind.OTHER
    assert (verdict.url, verdict.username, verdict.reasons) == (None, None, ())


def test_truncated_in_half_html_only() -> None:
    raw = mail(text=False, cte="base64")
    verdict = parse(raw[: len(raw) // 2])
    assert verdict.kind is Kind.OTHER
    assert verdict.sender == "registro@secop.gov.co"


def test_truncated_before_the_anchor() -> None:
    raw = mail(cte="8bit")
    verdict = parse(raw[: raw.index(b"Haga clic")])
    assert (verdict.kind, verdict.url) == (Kind.OTHER, None)


def test_truncated_everywhere_never_yields_a_wrong_link() -> None:
    raw = mail(cte="8bit")
    for cut in range(0, len(raw), 11):
        verdict = parse(raw[:cut])
        if verdict.kind is Kind.RESET:
            assert verdict.url == URL


# --------------------------------------------------------------------------- metadata


def test_subject_and_message_id() -> None:
    raw = mail(subject="SECOP II – Recuperación de contraseña ✓", message_id="  <x.1@secop>  ")
    verdict = parse(raw)
    assert verdict.subject == "SECOP II – Recuperación de contraseña ✓"
    assert verdict.message_id == "<x.1@secop>"


def test_raw_8bit_subject() -> None:
    raw = set_header(mail(), "Subject", "x").replace(b"Subject: x", "Subject: Contraseña".encode())
    assert parse(raw).subject == "Contraseña"


def test_date_header_used_when_sane() -> None:
    sent = WHEN - timedelta(hours=2)
    verdict = parse_message(reset_mail("jperez", URL, date=sent), internaldate=WHEN)
    assert verdict.received == sent


@pytest.mark.parametrize(
    "date",
    [None, "not a date", "Tue, 04 Mar 1997 15:30:00 +0000", "Fri, 07 Mar 2025 15:30:00 +0000"],
    ids=["missing", "garbage", "before-2000", "3-days-off"],
)
def test_absurd_date_falls_back_to_internaldate(date: str | None) -> None:
    raw = set_header(mail(), "Date", date)
    assert parse(raw).received == WHEN


def test_received_at_rules() -> None:
    bogota = timezone(timedelta(hours=-5))
    header = "Tue, 04 Mar 2025 10:00:00 -0500"
    assert received_at(header, None) == datetime(2025, 3, 4, 10, 0, tzinfo=bogota)
    assert received_at(header, WHEN) == datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
    assert received_at("Tue, 04 Mar 2025 15:00:00 -0000", None) == datetime(
        2025, 3, 4, 15, 0, tzinfo=UTC
    )
    naive = datetime(2025, 3, 4, 15, 30)
    assert received_at(None, naive) == WHEN
    assert received_at(None, None) is None
    assert received_at("", WHEN) == WHEN
    assert received_at("Tue, 04 Mar 1999 10:00:00 +0000", None) is None
    assert received_at("Tue, 04 Mar 2025 10:00:00 +9999", WHEN) == WHEN


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("payload", "declared", "expected"),
    [
        ("contraseña".encode(), "utf-8", "contraseña"),
        ("contraseña".encode("latin-1"), "utf-8", "contraseña"),
        ("contraseña “x”".encode("cp1252"), "utf-8", "contraseña “x”"),
        ("contraseña".encode(), "iso-8859-1", "contraseña"),
        ("contraseña".encode(), "windows-1252", "contraseña"),
        ("contraseña".encode("latin-1"), "iso-8859-1", "contraseña"),
        ("contraseña".encode(), "x-unknown", "contraseña"),
        ("contraseña".encode("cp1252"), None, "contraseña"),
        ("contraseña".encode("utf-16"), "utf-16", "contraseña"),
        ("contraseña".encode("koi8-r", "replace"), "base64", "contrase?a"),
        (b"\x81\x8d\x90", "utf-8", "\x81\x8d\x90"),
    ],
)
def test_decode_text(payload: bytes, declared: str | None, expected: str) -> None:
    assert decode_text(payload, declared) == expected


def test_fold() -> None:
    assert fold("  Haga  clic\u00a0AQUÍ\n para cambiar la CONTRASEÑA ") == (
        "haga clic aqui para cambiar la contrasena"
    )


@pytest.mark.parametrize("space", ["\u00a0", "\u1680", "\u2003", "\u3000", "\t\n "])
def test_unicode_spaces_in_the_phrase(space: str) -> None:
    text = space.join(
        ["Haga", "clic", "aquí", "para", "cambiar", "la", "contraseña", "de", "usuario", "jperez"]
    )
    assert_reset(parse(html_mail(anchor(URL, text))))
