"""Builders of realistic SECOP II mails, as raw RFC 822 bytes (CRLF).

Shared by the parser tests and the end-to-end tests. The wording follows
the real reset mail quoted in Colombia Compra Eficiente's user guide.
"""

from __future__ import annotations

import base64
import quopri
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from html import escape
from urllib.parse import quote

__all__ = [
    "LOGIN_URL",
    "SECOP_SENDER",
    "notice_mail",
    "prepend_headers",
    "proofpoint_v2",
    "proofpoint_v3",
    "recover_username_mail",
    "reset_html",
    "reset_mail",
    "reset_text",
    "reset_url",
    "safelinks",
]

SECOP_SENDER = "Registro SECOP II <registro@secop.gov.co>"
LOGIN_URL = "https://community.secop.gov.co/STS/Users/Login/Index"
LOGO_URL = "https://community.secop.gov.co/Public/App/images/logo-secop.png"
HOME_URL = "https://www.colombiacompra.gov.co/"
PRIVACY_URL = "https://www.colombiacompra.gov.co/transparencia/politica-de-privacidad"
DEFAULT_TOKEN = "Cfd8Jq2XvT0bW6kRyZ1mN4pLs7Ha9GeU3oIcQxVw5Bz-_"
# A 1x1 transparent PNG, for the inline logo of multipart/related mails.
PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)

_FOOTER_HTML = (
    "<p>Nosotros nunca le solicitamos datos personales por correo electrónico.</p>\n"
    f'<p style="font-size:10px"><a href="{PRIVACY_URL}">Política de privacidad</a> | '
    f'<a href="{HOME_URL}">Colombia Compra Eficiente</a></p>\n'
)
_FOOTER_TEXT = (
    "Nosotros nunca le solicitamos datos personales por correo electrónico.\n\n"
    f"Política de privacidad: {PRIVACY_URL}\n"
)


def reset_url(token: str = DEFAULT_TOKEN) -> str:
    """A plausible reset link (the real path and token format are not public)."""
    return f"https://community.secop.gov.co/STS/Users/ResetPassword/Index?token={token}&lang=es"


# --------------------------------------------------------------------------- wrappers


def safelinks(url: str, region: str = "nam12") -> str:
    """Wrap like Microsoft Safe Links (Defender for Office 365)."""
    return (
        f"https://{region}.safelinks.protection.outlook.com/?url={quote(url, safe='')}"
        "&data=05%7C02%7Cuser%40example.com%7C1a2b%7C0%7C0%7C638000000000000000"
        "&sdata=AbCdEf%2Bgh%3D&reserved=0"
    )


def proofpoint_v2(url: str) -> str:
    """Encode like Proofpoint v2: ``_`` for ``/``, ``-XX`` for other specials."""
    encoded = "".join(
        "_" if ch == "/" else ch if ch.isalnum() or ch in ".~" else f"-{ord(ch):02X}" for ch in url
    )
    return (
        f"https://urldefense.proofpoint.com/v2/url?u={encoded}"
        "&d=DwMFaQ&c=euGZstcaTDllvimEN8b7jXrwqOf-v5A_CdpgnVfiiMM&r=abc&m=def&s=ghi&e="
    )


def proofpoint_v3(url: str) -> str:
    """Encode like Proofpoint v3: unsafe characters become ``*`` placeholders."""
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?=&")
    replaced = "".join(ch for ch in url if ch not in safe)
    body = "".join(ch if ch in safe else "*" for ch in url)
    encoded = base64.urlsafe_b64encode(replaced.encode()).decode().rstrip("=")
    return f"https://urldefense.com/v3/__{body}__;{encoded}!!ACWV5N9M2RV99hQ!Ue6tQudNKaS$"


def _logo_html(cid: str | None) -> str:
    src = f"cid:{cid}" if cid else LOGO_URL
    return f'<a href="{HOME_URL}"><img src="{src}" alt="SECOP II" width="180"></a>'


def _page(inner: str, cid: str | None = None) -> str:
    return (
        "<!DOCTYPE html>\n<html><head>"
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        "<title>SECOP II</title></head>\n"
        '<body style="font-family:Arial,sans-serif">\n'
        '<table width="600" cellpadding="0" cellspacing="0">\n'
        f"<tr><td>{_logo_html(cid)}</td></tr>\n"
        f"<tr><td>\n{inner}</td></tr>\n</table>\n</body></html>\n"
    )


def reset_anchor(username: str, url: str) -> str:
    """The reset anchor exactly as the real mail words it."""
    return (
        f'<a href="{escape(url, quote=True)}" target="_blank">'
        f"Haga clic aquí para cambiar la contraseña de usuario {escape(username)}</a>"
    )


def reset_html(
    username: str, url: str, *, anchor: str | None = None, cid: str | None = None
) -> str:
    """The HTML body; ``anchor`` replaces the reset anchor's markup."""
    inner = (
        "<p>Estimado (a) usuario (a).</p>\n"
        "<p>Ha requerido para recuperar la contraseña de ingreso de usuario. "
        "Para cambiar su contraseña, siga el siguiente enlace:</p>\n"
        f"<p>{anchor if anchor is not None else reset_anchor(username, url)}</p>\n"
        "<p>(Si usted no puede hacer clic en el enlace, por favor, copie el enlace "
        "completo y péguelo en su navegador)</p>\n"
        "<p>Recuerde que su contraseña se activará con el último correo recibido del "
        f'SECOP II. Para ingresar: <a href="{LOGIN_URL}">{LOGIN_URL}</a></p>\n'
        f"{_FOOTER_HTML}"
    )
    return _page(inner, cid)


def reset_text(username: str, url: str) -> str:
    return (
        "Estimado (a) usuario (a).\n\n"
        "Ha requerido para recuperar la contraseña de ingreso de usuario. "
        "Para cambiar su contraseña, siga el siguiente enlace:\n\n"
        f"Haga clic aquí para cambiar la contraseña de usuario {username}\n"
        f"<{url}>\n\n"
        "(Si usted no puede hacer clic en el enlace, por favor, copie el enlace "
        "completo y péguelo en su navegador)\n\n"
        f"{_FOOTER_TEXT}"
    )


def _envelope(
    *, sender: str, subject: str, date: datetime, message_id: str | None, to: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id or make_msgid(domain="secop.gov.co")
    msg["X-Mailer"] = "SECOP II Notification Service"
    msg["MIME-Version"] = "1.0"
    return msg


def _encode_body(data: bytes, cte: str) -> str:
    """The body as it travels, like a real mailer writes it (CRLF added later)."""
    if cte == "base64":
        return base64.encodebytes(data).decode("ascii")
    if cte == "quoted-printable":
        return quopri.encodestring(data).decode("ascii")
    if cte in ("8bit", "7bit"):
        return data.decode("ascii", "surrogateescape")
    raise ValueError(f"unsupported Content-Transfer-Encoding {cte!r}")


def text_part(
    body: str,
    subtype: str,
    *,
    cte: str,
    charset: str,
    encoding: str | None = None,
    into: EmailMessage | None = None,
) -> EmailMessage:
    """A text/<subtype> part encoded with ``encoding`` but *declared* ``charset``."""
    data = body.replace("\r\n", "\n").encode(encoding or charset)
    part = into if into is not None else EmailMessage()
    part["Content-Type"] = f'text/{subtype}; charset="{charset}"'
    part["Content-Transfer-Encoding"] = cte
    part.set_payload(_encode_body(data, cte))
    return part


def _build(
    root: EmailMessage,
    bodies: list[tuple[str, str]],
    *,
    cte: str,
    charset: str,
    encoding: str | None = None,
    cid: str | None = None,
) -> bytes:
    """Fill ``root`` with one text part, or a multipart/alternative of several.

    ``bodies`` are ``(text, subtype)`` pairs; with ``cid`` the HTML becomes a
    multipart/related holding the logo as an inline image.
    """
    if len(bodies) > 1:
        root.make_alternative()
    for body, subtype in bodies:
        part = root if len(bodies) == 1 else EmailMessage()
        text_part(body, subtype, cte=cte, charset=charset, encoding=encoding, into=part)
        if subtype == "html" and cid is not None:
            part.add_related(PIXEL_PNG, "image", "png", cid=f"<{cid}>", disposition="inline")
        if part is not root:
            root.attach(part)
    return root.as_bytes(policy=SMTP)


def reset_mail(
    username: str,
    url: str,
    *,
    date: datetime,
    sender: str = SECOP_SENDER,
    message_id: str | None = None,
    html: bool = True,
    text: bool = True,
    cte: str = "quoted-printable",
    charset: str = "utf-8",
    subject: str = "SECOP II - Recuperación de contraseña",
    to: str = "usuario@example.com",
    encoding: str | None = None,
    html_body: str | None = None,
    text_body: str | None = None,
    inline_logo: bool = False,
    auth_results: list[str] | None = None,
) -> bytes:
    """The password-reset mail.

    ``encoding`` encodes the bodies differently from the declared ``charset``
    (to build mislabelled mail); ``html_body``/``text_body`` replace the
    bodies; ``inline_logo`` makes the HTML a multipart/related with the logo
    as an inline image; ``auth_results`` are ``Authentication-Results`` values
    put at the very top, in this order (as the receiving provider would).
    """
    if not (html or text):
        raise ValueError("a mail needs an HTML or a text body")
    cid = "logo-secop@secop.gov.co" if inline_logo else None
    bodies: list[tuple[str, str]] = []
    if text:
        bodies.append((text_body if text_body is not None else reset_text(username, url), "plain"))
    if html:
        page = html_body if html_body is not None else reset_html(username, url, cid=cid)
        bodies.append((page, "html"))
    root = _envelope(sender=sender, subject=subject, date=date, message_id=message_id, to=to)
    raw = _build(root, bodies, cte=cte, charset=charset, encoding=encoding, cid=cid)
    return prepend_headers(raw, [("Authentication-Results", v) for v in auth_results or []])


def prepend_headers(raw: bytes, headers: list[tuple[str, str]]) -> bytes:
    """``raw`` with ``(name, value)`` headers put at the very top, in this order.

    A value may be folded with ``\n`` + space; line ends become CRLF.
    """
    lines = b"".join(
        f"{name}: {value}".replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8") + b"\r\n"
        for name, value in headers
    )
    return lines + raw


def recover_username_mail(
    username: str,
    *,
    date: datetime,
    sender: str = SECOP_SENDER,
    message_id: str | None = None,
    subject: str = "SECOP II - Recuperación de usuario",
) -> bytes:
    """The "Olvidé el usuario" mail: the user name and a link to the login page."""
    html = _page(
        "<p>Estimado (a) usuario (a).</p>\n"
        "<p>Ha requerido recuperar su nombre de usuario del SECOP II. "
        f"Su usuario es: <b>{escape(username)}</b></p>\n"
        f'<p>Para ingresar a la plataforma, <a href="{LOGIN_URL}">haga clic aquí</a>. '
        "Si olvidó su contraseña use la opción «Olvidé la contraseña».</p>\n"
        f"{_FOOTER_HTML}"
    )
    text = (
        "Estimado (a) usuario (a).\n\n"
        f"Ha requerido recuperar su nombre de usuario del SECOP II. Su usuario es: {username}\n\n"
        f"Para ingresar a la plataforma, haga clic aquí: {LOGIN_URL}\n\n{_FOOTER_TEXT}"
    )
    msg = _envelope(sender=sender, subject=subject, date=date, message_id=message_id, to="u@x.co")
    return _build(msg, [(text, "plain"), (html, "html")], cte="quoted-printable", charset="utf-8")


def notice_mail(
    *,
    date: datetime,
    sender: str = "SECOP II <notificaciones@secop.gov.co>",
    subject: str = "SECOP II - Notificación: publicación del proceso CCE-123-2024",
    message_id: str | None = None,
) -> bytes:
    """A process notification, as SECOP sends to the registered address."""
    process = "https://community.secop.gov.co/Public/Tendering/OpportunityDetail/Index?noticeUID=CO1.NTC.1234567"
    html = _page(
        "<p>Estimado (a) usuario (a).</p>\n"
        "<p>Le informamos que la Entidad Estatal publicó un documento en el proceso "
        f'<a href="{process}">CCE-123-2024</a>.</p>\n'
        f'<p>Para ver el detalle, ingrese al <a href="{LOGIN_URL}">SECOP II</a>.</p>\n'
        f"{_FOOTER_HTML}"
    )
    msg = _envelope(sender=sender, subject=subject, date=date, message_id=message_id, to="u@x.co")
    return _build(msg, [(html, "html")], cte="base64", charset="utf-8")
