"""Real-shaped mails for each way a link was broken or a forgery got through (issue 11).

Each :class:`Case` is a whole mail with the outcome a user must get: the kind,
the reasons (for suspicious mail) and the exact link (for a reset). Shared by
the ``parse`` tests and the real-server test of the parts path.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP

from tests import mailfactory as mf
from watcher.model import Kind

WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TOKEN = "Cfd8Jq2XvT0bW6kRyZ1mN4pLs7Ha9GeU3oIcQxVw5Bz-_"
BASE = "https://community.secop.gov.co/STS/Users/ResetPassword/Index"
URL = f"{BASE}?token={TOKEN}&currentLanguage=es-CO"
OTHER_URL = f"{BASE}?token=another&currentLanguage=es-CO"
PHRASE = "Haga clic aquí para cambiar la contraseña de usuario"


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    kind: Kind
    url: str | None = None  # the link handed over, for a reset
    username: str | None = "jperez"
    reasons: tuple[str, ...] = ()  # all of them must be among the verdict's


def _html(inner: str, **kwargs: object) -> bytes:
    page = f"<html><body><p>Estimado (a) usuario (a).</p>{inner}<p>Gracias.</p></body></html>"
    return mf.reset_mail("jperez", URL, date=WHEN, text=False, html_body=page, **kwargs)  # type: ignore[arg-type]


def _text(body: str, *, flowed: bool = False) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = mf.SECOP_SENDER
    message["Subject"] = "SECOP II - Recuperación de contraseña"
    message["Date"] = "Mon, 30 Nov 2026 12:00:00 +0000"
    message["Message-ID"] = "<text@secop.gov.co>"
    message.set_content(body, cte="quoted-printable")
    if flowed:
        message.set_param("format", "flowed")
        message.set_param("delsp", "yes")
    return message.as_bytes()


def _alternatives(*bodies: tuple[str, str]) -> bytes:
    """One multipart/alternative with these (subtype, text) parts, in order."""
    message = EmailMessage(policy=SMTP)
    message["From"] = mf.SECOP_SENDER
    message["Subject"] = "SECOP II - Recuperación de contraseña"
    message["Date"] = "Mon, 30 Nov 2026 12:00:00 +0000"
    message["Message-ID"] = "<alternatives@secop.gov.co>"
    message.make_alternative()
    for subtype, text in bodies:
        part = EmailMessage(policy=SMTP)
        part.set_content(text, subtype=subtype, cte="quoted-printable")
        message.attach(part)
    return message.as_bytes()


def _anchor(href: str, user: str = "jperez", style: str = "") -> str:
    attr = f' style="{style}"' if style else ""
    return f'<a href="{href}"{attr}>{PHRASE} {user}</a>'


def _windows_1252_mail() -> bytes:
    """Declared ISO-8859-1, written in windows-1252: “curly quotes” are 0x93/0x94."""
    html = f"<p>\u201cSECOP II\u201d</p>{_anchor(URL, 'núñez')}".encode("cp1252")
    head = (
        "From: Registro SECOP II <registro@secop.gov.co>\r\n"
        "Subject: SECOP II\r\nDate: Mon, 30 Nov 2026 12:00:00 +0000\r\n"
        "Message-ID: <w1252@secop.gov.co>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: text/html; charset="iso-8859-1"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode("ascii")
    return head + base64.encodebytes(html).replace(b"\n", b"\r\n")


def _attached_mail() -> bytes:
    """A process notice carrying a forwarded reset mail as an attachment."""
    outer = EmailMessage(policy=SMTP)
    outer["From"] = mf.SECOP_SENDER
    outer["Subject"] = "Reenvío"
    outer["Date"] = "Mon, 30 Nov 2026 12:00:00 +0000"
    outer["Message-ID"] = "<outer@secop.gov.co>"
    outer.set_content("Le reenviamos un correo.")
    inner = EmailMessage(policy=SMTP)
    inner.set_content(mf.reset_mail("jperez", URL, date=WHEN), maintype="message", subtype="rfc822")
    outer.make_mixed()
    outer.attach(inner)
    return outer.as_bytes()


WRAPPED = f"{BASE}?token=Cfd8Jq2XvT0bW6kRyZ1mN4pLs7Ha9"


def cases() -> list[Case]:
    reset = Kind.RESET
    suspicious = Kind.SUSPICIOUS
    legacy = f"{BASE}?token={TOKEN}&currentLanguage=es-CO&times=2&para=3&region=4&notify=1"
    return [
        Case("curren-times-para-reg-not-in-href", _html(_anchor(legacy)), reset, legacy),
        Case(
            "tab-newline-spaces-in-href",
            _html(_anchor(f" \t{BASE}?token={TOKEN}\n&amp;currentLanguage=es-CO\t ")),
            reset,
            URL,
        ),
        Case(
            "phrase-split-inside-a-word",
            _html(
                f'<a href="{URL}">Haga <b>clic</b> aquí para cambiar la contrase<span>ñ</span>a '
                "de usuario jperez</a>"
            ),
            reset,
            URL,
        ),
        Case(
            "duplicate-href-first-wins",
            _html(f'<a href="{URL}" href="https://evil.example/">{PHRASE} jperez</a>'),
            reset,
            URL,
        ),
        Case(
            "wbr-and-soft-hyphen-in-a-visible-url",
            _html(
                f"<p>{PHRASE} jperez:</p><p>{BASE}<wbr>?token={TOKEN[:10]}\u00ad{TOKEN[10:]}"
                "&amp;currentLanguage=es-CO</p>"
            ),
            reset,
            URL,
        ),
        Case(
            "format-flowed-text",
            _text(
                f"{PHRASE}  \r\njperez\r\n<{BASE}?token={TOKEN[:20]} \r\n{TOKEN[20:]}&"
                "currentLanguage=es-CO>\r\n",
                flowed=True,
            ),
            reset,
            URL,
        ),
        Case(
            "bracketed-url-wrapped-across-lines",
            _text(f"{PHRASE} jperez\n<{BASE}?\n token={TOKEN}&currentLanguage=es-CO>\n"),
            reset,
            URL,
        ),
        Case(
            "bare-url-hard-wrapped",
            _text(f"{PHRASE} jperez\n{WRAPPED}\nGeUoIcQxVw5Bz-_&currentLanguage=es-CO\n"),
            suspicious,
            reasons=("link_wrapped",),
        ),
        Case(
            "text-and-html-disagree",
            _alternatives(("plain", f"{PHRASE} jperez\n<{OTHER_URL}>\n"), ("html", _anchor(URL))),
            suspicious,
            reasons=("links_disagree",),
        ),
        Case(
            "two-html-alternatives-disagree",
            _alternatives(("html", _anchor(URL)), ("html", _anchor(OTHER_URL))),
            suspicious,
            reasons=("links_disagree",),
        ),
        Case(
            "two-users",
            _html(_anchor(URL) + _anchor(OTHER_URL, "mgomez")),
            suspicious,
            reasons=("several_users", "links_disagree"),
        ),
        Case(
            "hidden-genuine-before-visible-elsewhere",
            _html(
                _anchor(URL, style="display:none") + _anchor("https://secop.gov.co.evil.example/r")
            ),
            suspicious,
            reasons=("hidden_link", "links_disagree"),
        ),
        Case("attached-mail-is-not-the-mail", _attached_mail(), Kind.OTHER, username=None),
        Case(
            "from-with-space-before-colon",
            b"From : Soporte <soporte@attacker.example>\r\n" + _html(_anchor(URL)),
            suspicious,
            reasons=("multiple_senders",),
        ),
        Case(
            "dmarc-pass-for-another-from",
            _html(
                _anchor(URL), auth_results=["mx.google.com; dmarc=pass header.from=evil.example"]
            ),
            suspicious,
            reasons=("dmarc_other_from",),
        ),
        Case(
            "unbalanced-comment-swallows-dmarc-fail",
            _html(
                _anchor(URL),
                auth_results=[
                    "mx.google.com; dkim=pass (firma ; dmarc=fail header.from=secop.gov.co"
                ],
            ),
            suspicious,
            reasons=("auth_unreadable",),
        ),
        Case("iso-8859-1-written-in-windows-1252", _windows_1252_mail(), reset, URL, "núñez"),
    ]
