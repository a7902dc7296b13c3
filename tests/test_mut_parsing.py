"""watcher.parsing, pinned where mutation testing found the suite silent.

Whole mails in, a verdict out: the link handed over must be exact, a forged or
broken mail must be suspicious with its reasons, and broken input is ``OTHER``,
never a crash (the module docstring).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests import mailfactory as mf
from watcher.model import Kind, Verdict
from watcher.parsing import decode_text, parse_message, received_at

WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
URL = mf.reset_url("T0k3n")
EVIL = "https://secop.gov.co.evil.example/STS/Users/ResetPassword/Index?token=x"
PHRASE = "Haga clic aquí para cambiar la contraseña de usuario jperez"


def parse(raw: bytes, **kwargs: object) -> Verdict:
    return parse_message(raw, internaldate=WHEN, **kwargs)  # type: ignore[arg-type]


def html_mail(inner: str, **kwargs: object) -> bytes:
    page = f"<html><body><p>Estimado (a) usuario (a).</p>{inner}<p>Gracias.</p></body></html>"
    kwargs.setdefault("text", False)
    return mf.reset_mail("jperez", URL, date=WHEN, html_body=page, **kwargs)  # type: ignore[arg-type]


def alternatives(*parts: tuple[str, str]) -> bytes:
    """A multipart/alternative of ``(subtype, body)`` parts, each body exactly as given."""
    head = (
        "From: Registro SECOP II <registro@secop.gov.co>\r\nSubject: SECOP II\r\n"
        "Date: Mon, 30 Nov 2026 12:00:00 +0000\r\nMessage-ID: <alt@secop.gov.co>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b"\r\n'
    )
    body = "".join(
        f'\r\n--b\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: 8bit\r\n\r\n{text}"
        for subtype, text in parts
    )
    return (head + body + "\r\n--b--\r\n").encode()


def outcome(verdict: Verdict) -> tuple[Kind, str | None, str | None, tuple[str, ...]]:
    return verdict.kind, verdict.url, verdict.username, verdict.reasons


# --------------------------------------------------------------------------- which offer counts


def test_a_hidden_anchor_alone_is_suspicious_not_ignored() -> None:
    raw = html_mail(f'<a href="{URL}" style="display:none">{PHRASE}</a>')
    assert outcome(parse(raw)) == (Kind.SUSPICIOUS, URL, "jperez", ("hidden_link",))


def test_the_visible_anchor_is_the_one_reported_next_to_a_hidden_one() -> None:
    raw = html_mail(
        f'<a href="{EVIL}" style="display:none">{PHRASE}</a><a href="{URL}">{PHRASE}</a>'
    )
    assert outcome(parse(raw)) == (
        Kind.SUSPICIOUS,
        URL,
        "jperez",
        ("hidden_link", "links_disagree"),
    )


def test_the_user_name_may_come_from_another_offer() -> None:
    text = f"{PHRASE}\n<{URL}>\n"
    html = f'<a href="{URL}">Haga clic aquí para cambiar la contraseña</a>'
    raw = alternatives(("plain", text), ("html", html))
    verdict = parse(raw)
    assert outcome(verdict) == (Kind.RESET, URL, "jperez", ())


def test_plain_text_before_the_visible_text_of_an_html_part() -> None:
    """An HTML part cut inside its URL (no anchor), then the whole text part: the text wins."""
    cut_html = f"<p>{PHRASE}:</p>{URL[:-12]}"
    raw = alternatives(("html", cut_html), ("plain", f"{PHRASE}\n<{URL}>\n"))
    assert outcome(parse(raw)) == (Kind.RESET, URL, "jperez", ())


def test_a_text_part_cut_inside_the_link_does_not_disagree_with_the_html() -> None:
    text = f"{PHRASE}\n{URL[:-12]}"  # the part ends inside the URL
    html = f'<a href="{URL}">{PHRASE}</a>'
    raw = alternatives(("plain", text), ("html", html))
    assert outcome(parse(raw)) == (Kind.RESET, URL, "jperez", ())


def test_a_link_cut_short_says_so_once() -> None:
    raw = mf.reset_mail("jperez", URL, date=WHEN, html=False, text_body=f"{PHRASE}\n{URL[:-12]}")
    assert outcome(parse(raw)) == (Kind.SUSPICIOUS, URL[:-12], "jperez", ("malformed_link",))


def test_an_href_that_is_no_url_is_a_malformed_link() -> None:
    raw = html_mail(f'<a href="/STS/Users/ResetPassword/Index">{PHRASE}</a>')
    assert outcome(parse(raw)) == (
        Kind.SUSPICIOUS,
        "/STS/Users/ResetPassword/Index",
        "jperez",
        ("malformed_link",),
    )


# --------------------------------------------------------------------------- the query's encoding


def test_the_query_is_encoded_in_the_documents_encoding() -> None:
    href = "https://community.secop.gov.co/STS/Users/ResetPassword/Index?token=T0k3n&u=Núñez"
    raw = html_mail(f'<a href="{href}">{PHRASE}</a>', charset="windows-1252", cte="8bit")
    expected = (
        "https://community.secop.gov.co/STS/Users/ResetPassword/Index?token=T0k3n&u=N%FA%F1ez"
    )
    assert outcome(parse(raw)) == (Kind.RESET, expected, "jperez", ())


def test_a_wrapped_links_query_is_utf8_whatever_the_document() -> None:
    inner = "https://community.secop.gov.co/STS/Users/ResetPassword/Index?token=T0k3n&u=Núñez"
    href = mf.safelinks(inner)
    raw = html_mail(f'<a href="{href}">{PHRASE}</a>', charset="windows-1252", cte="8bit")
    expected = (
        "https://community.secop.gov.co/STS/Users/ResetPassword/Index?token=T0k3n&u=N%C3%BA%C3%B1ez"
    )
    assert outcome(parse(raw)) == (Kind.RESET, expected, "jperez", ())


# --------------------------------------------------------------------------- the sender's domain


def auth(value: str, **kwargs: object) -> Verdict:
    return parse(mf.reset_mail("jperez", URL, date=WHEN, auth_results=[value], **kwargs))  # type: ignore[arg-type]


def test_dmarc_for_a_subdomain_of_the_from_is_another_from() -> None:
    verdict = auth("mx.google.com; dmarc=pass header.from=notificaciones.secop.gov.co")
    assert outcome(verdict) == (Kind.SUSPICIOUS, URL, "jperez", ("dmarc_other_from",))
    assert verdict.verified is False


def test_dmarc_is_compared_with_the_from_domain_after_the_last_at() -> None:
    raw = mf.reset_mail(
        "jperez",
        URL,
        date=WHEN,
        sender='"registro@x"@secop.gov.co',
        auth_results=["mx.google.com; dmarc=pass header.from=secop.gov.co"],
    )
    verdict = parse(raw)
    assert verdict.sender == '"registro@x"@secop.gov.co'
    assert verdict.reasons == ("sender_mismatch",)


def test_a_look_alike_from_is_not_the_domain_dmarc_passed_for() -> None:
    raw = mf.reset_mail(
        "jperez",
        URL,
        date=WHEN,
        sender="registro@look-alike.example",
        auth_results=["mx.google.com; dmarc=pass header.from=secop.gov.co"],
    )
    # U+017F LATIN SMALL LETTER LONG S, raw UTF-8 as an 8-bit header: upper-cased it is "S"
    raw = raw.replace(b"registro@look-alike.example", "registro@\u017fecop.gov.co".encode())
    verdict = parse(raw)
    assert verdict.sender == "registro@\u017fecop.gov.co"
    assert verdict.reasons == ("sender_mismatch", "dmarc_other_from")


def test_a_configured_sender_is_judged_on_its_own_domain() -> None:
    sender = "alertas@notificaciones.example.org"
    raw = mf.reset_mail(
        "jperez",
        URL,
        date=WHEN,
        sender=f"Alertas <{sender}>",
        auth_results=["mx.google.com; dkim=pass header.d=notificaciones.example.org"],
    )
    passed = parse(raw, sender=sender)
    assert (passed.kind, passed.verified, passed.reasons) == (Kind.RESET, True, ())
    failed = parse(
        raw.replace(b"dkim=pass", b"dkim=fail"),
        sender=sender,
    )
    assert (failed.kind, failed.verified, failed.reasons) == (
        Kind.SUSPICIOUS,
        False,
        ("auth_failed",),
    )


def test_a_sender_without_domain_is_judged_on_the_allowed_domain() -> None:
    raw = mf.reset_mail(
        "jperez",
        URL,
        date=WHEN,
        auth_results=["mx.google.com; dkim=fail header.d=secop.gov.co"],
    )
    verdict = parse(raw, sender="registro@")
    assert verdict.reasons == ("sender_mismatch", "auth_failed")


# --------------------------------------------------------------------------- headers, dates


def test_a_subject_in_iso_8859_15_is_read_in_its_charset() -> None:
    raw = mf.reset_mail("jperez", URL, date=WHEN, subject="x")
    raw = raw.replace(b"Subject: x", b"Subject: =?iso-8859-15?q?Precio_=A4_SECOP?=", 1)
    assert parse(raw).subject == "Precio € SECOP"
    assert decode_text(b"Precio \xa4", "iso-8859-15") == "Precio €"


def test_a_date_exactly_24_hours_off_is_still_believed() -> None:
    header = "Sun, 29 Nov 2026 12:00:00 +0000"
    assert received_at(header, WHEN) == WHEN - timedelta(hours=24)
    assert received_at(header, WHEN + timedelta(seconds=1)) == WHEN + timedelta(seconds=1)


def test_the_year_2000_is_believed() -> None:
    assert received_at("Sat, 01 Jan 2000 00:00:00 +0000", None) == datetime(2000, 1, 1, tzinfo=UTC)
    assert received_at("Fri, 31 Dec 1999 23:59:59 +0000", None) is None


def test_a_mail_too_deeply_nested_to_read_is_other_never_a_crash() -> None:
    depth = 3000
    raw = [
        b"From: registro@secop.gov.co\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
    ]
    for level in range(1, depth):
        raw.append(
            b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (level - 1, level)
        )
    raw.append(
        b"--b%d\r\nContent-Type: text/plain\r\n\r\n%s\r\n<%s>\r\n"
        % (depth - 1, PHRASE.encode(), URL.encode())
    )
    naive = datetime(2026, 11, 30, 12, 0)
    assert parse_message(b"".join(raw), internaldate=naive) == Verdict(Kind.OTHER, received=WHEN)
