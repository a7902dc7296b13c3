"""Hypothesis strategies: genuine SECOP II reset mails whose HTML is easy to misread.

Every generated mail is genuine: one visible reset anchor, whose ``href`` a
browser resolves to an https link on community.secop.gov.co. What varies is
how the HTML spells it: legacy entity names that HTML decodes without a
semicolon (``&currentLanguage=`` holds ``&curren``), ``&``/``&amp;``/``&#38;``
mixes, whitespace and control characters in and around the URL, non-ASCII
path and query characters in several charsets (declared right or not),
inline markup splitting the anchor's words, duplicate and oddly quoted
attributes, and three transfer encodings with
quoted-printable soft line breaks wherever they may go.

:func:`reset_mails` is the strategy; :func:`mail_from_html` and :func:`page`
build hand-written cases the same way. Every choice shrinks towards the plain
mail SECOP sends (raw ``&``, double quotes, UTF-8, no extra markup), so a
shrunk failure keeps only what makes it fail.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.entities import codepoint2name

from hypothesis import strategies as st

__all__ = [
    "CHARSETS",
    "LEGACY_ENTITIES",
    "SENDER",
    "Charset",
    "HtmlMail",
    "encode_qp",
    "mail_from_html",
    "page",
    "reset_mails",
]

SENDER = "Registro SECOP II <registro@secop.gov.co>"
HOST = "community.secop.gov.co"
RESET_PATH = "/STS/Users/ResetPassword/Index"
LOGIN_URL = "https://community.secop.gov.co/STS/Users/Login/Index"
HOME_URL = "https://www.colombiacompra.gov.co/"
PRIVACY_URL = "https://www.colombiacompra.gov.co/transparencia/politica-de-privacidad"
OTHER_RESET_URL = f"https://{HOST}{RESET_PATH}?token=Zz9OldTokenNotThisOne0&currentLanguage=es-CO"

# HTML's named character references that are also recognised without a semicolon
# (the "legacy" ones), https://html.spec.whatwg.org/multipage/named-characters.html
_LEGACY_NAMES = """
    AElig AMP Aacute Acirc Agrave Aring Atilde Auml COPY Ccedil ETH Eacute Ecirc Egrave
    Euml GT Iacute Icirc Igrave Iuml LT Ntilde Oacute Ocirc Ograve Oslash Otilde Ouml QUOT
    REG THORN Uacute Ucirc Ugrave Uuml Yacute aacute acirc acute aelig agrave amp aring
    atilde auml brvbar ccedil cedil cent copy curren deg divide eacute ecirc egrave eth euml
    frac12 frac14 frac34 gt iacute icirc iexcl igrave iquest iuml laquo lt macr micro middot
    nbsp not ntilde oacute ocirc ograve ordf ordm oslash otilde ouml para plusmn pound quot
    raquo reg sect shy sup1 sup2 sup3 szlig thorn times uacute ucirc ugrave uml uuml yacute
    yen yuml
"""
LEGACY_ENTITIES: tuple[str, ...] = tuple(_LEGACY_NAMES.split())
_LEGACY = frozenset(LEGACY_ENTITIES)

# Non-ASCII characters for paths, query values, fragments and user names: Latin-1 ones,
# windows-1252's C1-range ones (€ “ ” ’ –), ones only UTF-8 can hold (Ω, 😀), and two of
# the five C1 controls that windows-1252 keeps as they are (bytes 0x81 0x8D 0x8F 0x90 0x9D).
NON_ASCII: tuple[str, ...] = (
    "é",
    "ñ",
    "€",
    "“",
    "”",
    "Ñ",
    "á",
    "ü",
    "’",
    "–",
    "¿",
    "¡",
    "«",
    "»",
    "¤",
    "¶",
    "ß",
    "Ω",
    "😀",
    "\x81",  # windows-1252 byte 0x81: undefined in Python's cp1252, U+0081 for browsers
    "\x9d",
)


# --------------------------------------------------------------------------- charsets


@dataclass(frozen=True)
class Charset:
    """A MIME charset label and how the part's bytes were really written."""

    label: str  # the MIME ``charset`` parameter (what a mail client, and our browser, gets)
    codec: str  # the Python codec that wrote the bytes
    browser: str  # ``document.characterSet`` Chromium must report for it
    bom: bool = False  # the bytes begin with a UTF-8 byte order mark
    # Raw non-ASCII text reads right in a browser (False: mislabelled, so the anchor's
    # words use character references or no accents; URLs still get raw bytes).
    readable: bool = True

    def encode(self, text: str) -> bytes:
        """``text`` in this charset's bytes (windows-1252 as the Encoding Standard has it)."""
        return text.encode(self.codec, _WHATWG_1252 if self.codec == "cp1252" else "strict")

    def can_write(self, char: str) -> bool:
        try:
            self.encode(char)
        except UnicodeEncodeError:
            return False
        return True


def _whatwg_1252_extras(exc: UnicodeError) -> tuple[bytes, int]:
    """Encode U+0081 U+008D U+008F U+0090 U+009D as the bytes Python's cp1252 lacks."""
    if isinstance(exc, UnicodeEncodeError) and ord(exc.object[exc.start]) in _C1_KEPT:
        return bytes([ord(exc.object[exc.start])]), exc.start + 1
    raise exc


_C1_KEPT = frozenset({0x81, 0x8D, 0x8F, 0x90, 0x9D})
_WHATWG_1252 = "htmlcorpus-whatwg-1252"
codecs.register_error(_WHATWG_1252, _whatwg_1252_extras)


CHARSETS: tuple[Charset, ...] = (
    Charset("utf-8", "utf-8", "UTF-8"),
    Charset("windows-1252", "cp1252", "windows-1252"),
    # Browsers read ISO-8859-1 and US-ASCII as windows-1252: bytes 0x80-0x9F are € “ ” ...
    Charset("iso-8859-1", "cp1252", "windows-1252"),
    Charset("us-ascii", "cp1252", "windows-1252"),
    Charset("iso-8859-15", "iso8859_15", "ISO-8859-15"),
    Charset("UTF-8", "utf-8", "UTF-8"),
    Charset("ISO-8859-1", "cp1252", "windows-1252"),
    Charset("Windows-1252", "cp1252", "windows-1252"),
    Charset("utf-8", "utf-8", "UTF-8", bom=True),
    # Other labels of the same encodings (the Encoding Standard's label table).
    Charset("utf8", "utf-8", "UTF-8"),
    Charset("latin1", "cp1252", "windows-1252"),
    Charset("cp1252", "cp1252", "windows-1252"),
    Charset("x-cp1252", "cp1252", "windows-1252"),
    Charset("ascii", "cp1252", "windows-1252"),
    Charset("ISO8859-15", "iso8859_15", "ISO-8859-15"),
    # Declared and actual charsets that differ in ways a browser does not repair.
    Charset("utf-8", "cp1252", "UTF-8", readable=False),
    Charset("iso-8859-1", "utf-8", "windows-1252", readable=False),
    Charset("us-ascii", "utf-8", "windows-1252", readable=False),
    # ... and one it does: a UTF-8 byte order mark beats the declared label.
    Charset("iso-8859-1", "utf-8", "UTF-8", bom=True),
)


# --------------------------------------------------------------------------- mails


@dataclass(frozen=True)
class HtmlMail:
    """A single-part text/html mail, and what a mail client hands its HTML view."""

    html: bytes  # the part's bytes, transfer encoding undone: what the browser loads
    charset: str  # the MIME-declared charset label
    cte: str  # Content-Transfer-Encoding
    raw: bytes = field(repr=False)  # the whole RFC 822 message the tool parses
    browser_charset: str = field(default="", repr=False)  # expected document.characterSet


def mail_from_html(
    html: bytes,
    charset: str,
    *,
    cte: str = "8bit",
    encoded_body: bytes | None = None,
    browser_charset: str = "",
    content_type: str = 'text/html; charset="{charset}"',
) -> HtmlMail:
    """Wrap HTML bytes in a reset mail from the SECOP sender.

    ``encoded_body`` is the body as it travels when the caller did the transfer
    encoding by hand (it must decode to ``html``); otherwise ``html`` is encoded
    with ``cte`` (quoted-printable without extra soft breaks). ``content_type``
    is the header's value, ``{charset}`` standing for the label.
    """
    if encoded_body is None:
        encoded_body = _transfer_encode(html, cte)
    digest = hashlib.sha256(html).hexdigest()[:16]
    head = (
        f"From: {SENDER}\r\n"
        "To: usuario@example.com\r\n"
        "Subject: =?utf-8?q?SECOP_II_-_Recuperaci=C3=B3n_de_contrase=C3=B1a?=\r\n"
        "Date: Tue, 04 Mar 2025 15:30:00 -0500\r\n"
        f"Message-ID: <reset.{digest}@secop.gov.co>\r\n"
        "X-Mailer: SECOP II Notification Service\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: {content_type.format(charset=charset)}\r\n"
        f"Content-Transfer-Encoding: {cte}\r\n"
        "\r\n"
    )
    return HtmlMail(html, charset, cte, head.encode("ascii") + encoded_body, browser_charset)


CONTENT_TYPES = (
    'text/html; charset="{charset}"',
    "text/html; charset={charset}",
    'text/html;\r\n\tcharset="{charset}"',
    "TEXT/HTML; CHARSET={charset}",
    'text/html; charset = "{charset}"',
)


def _transfer_encode(html: bytes, cte: str) -> bytes:
    if cte == "quoted-printable":
        return encode_qp(html)
    if cte == "base64":
        return _base64_lines(html, 76)
    if cte in ("8bit", "7bit"):
        return html if html.endswith(b"\r\n") else html + b"\r\n"
    raise ValueError(f"unsupported Content-Transfer-Encoding {cte!r}")


def _base64_lines(data: bytes, width: int) -> bytes:
    text = base64.b64encode(data)
    return b"".join(text[i : i + width] + b"\r\n" for i in range(0, len(text), width))


def encode_qp(
    data: bytes, soft_breaks: Sequence[int] = (), literal_as_hex: Sequence[int] = ()
) -> bytes:
    """Quoted-printable (RFC 2045) of ``data``, CRLF line ends kept as hard breaks.

    ``soft_breaks``: offsets of ``data`` before which a soft line break (``=`` CRLF)
    goes, besides those that keep lines within 76 characters (never inside a CRLF
    pair). ``literal_as_hex``: offsets of printable bytes to write as ``=XX`` anyway.
    """
    breaks = set(soft_breaks)
    as_hex = set(literal_as_hex)
    out: list[bytes] = []
    line = 0
    i = 0
    while i < len(data):
        if data[i : i + 2] == b"\r\n":
            out.append(b"\r\n")
            line = 0
            i += 2
            continue
        byte = data[i]
        at_line_end = i + 1 == len(data) or data[i + 1 : i + 3] == b"\r\n"
        printable = 33 <= byte <= 126 and byte != ord("=")
        blank_ok = byte in (9, 32) and not at_line_end
        literal = (printable or blank_ok) and i not in as_hex
        token = bytes([byte]) if literal else b"=%02X" % byte
        if (i in breaks or line + len(token) > 75) and line > 0:
            out.append(b"=\r\n")
            line = 0
        out.append(token)
        line += len(token)
        i += 1
    if line:
        out.append(b"=\r\n")  # the body ends without a line break
    return b"".join(out)


# --------------------------------------------------------------------------- HTML


_EMAIL_CSS = (
    '<style type="text/css">'
    "#outlook a{padding:0}"
    "body{margin:0;padding:0;-webkit-text-size-adjust:100%;-ms-text-size-adjust:100%}"
    "table,td{border-collapse:collapse;mso-table-lspace:0pt;mso-table-rspace:0pt}"
    "img{border:0;height:auto;line-height:100%;outline:none;text-decoration:none}"
    "a[x-apple-data-detectors]{color:inherit !important;text-decoration:none !important}"
    ".preheader{display:none !important;visibility:hidden;opacity:0;height:0;width:0}"
    "@media only screen and (max-width:480px){.mj-column-per-100{width:100% !important}}"
    "</style>"
)
_PREHEADER = '<div class="preheader">Recupere su contraseña de SECOP II</div>'
# What MJML (a common e-mail framework) makes of a text block: ``font-size:0px`` on the
# wrappers (against gaps between inline-block columns), the font size set again inside.
_MJML_OPEN = (
    '<div style="margin:0px auto;max-width:600px;"><table align="center" border="0"'
    ' cellpadding="0" cellspacing="0" role="presentation" style="width:100%;"><tbody><tr>'
    '<td style="direction:ltr;font-size:0px;padding:20px 0;text-align:center;">'
    '<div class="mj-column-per-100 mj-outlook-group-fix" style="font-size:0px;text-align:left;'
    'direction:ltr;display:inline-block;vertical-align:top;width:100%;">'
    '<table border="0" cellpadding="0" cellspacing="0" role="presentation"'
    ' style="vertical-align:top;" width="100%"><tbody><tr>'
    '<td align="left" style="font-size:0px;padding:10px 25px;word-break:break-word;">'
    '<div style="font-family:Arial,sans-serif;font-size:13px;line-height:1;text-align:left;'
    'color:#000000;">'
)
_MJML_CLOSE = "</div></td></tr></tbody></table></div></td></tr></tbody></table></div>"
LAYOUTS = ("table", "mjml")


def page(
    anchor_paragraph: str,
    *,
    doctype: bool = True,
    meta_charset: str | None = None,
    layout: str = "table",
    css: bool = False,
) -> str:
    """The reset mail's HTML around ``anchor_paragraph`` (``<p>`` content), CRLF lines.

    Non-ASCII boilerplate is left raw: callers write it in their charset.
    ``layout`` "mjml" wraps the anchor's paragraph as MJML does; ``css`` adds a
    ``<style>`` block of usual e-mail rules and a hidden preheader.
    """
    meta = (
        f'<meta http-equiv="Content-Type" content="text/html; charset={meta_charset}">'
        if meta_charset
        else ""
    )
    reset = f"<p>{anchor_paragraph}</p>"
    if layout == "mjml":
        reset = f"{_MJML_OPEN}{reset}{_MJML_CLOSE}"
    lines = [
        "<!DOCTYPE html>" if doctype else "",
        f"<html><head>{meta}<title>SECOP II</title>{_EMAIL_CSS if css else ''}</head>",
        '<body style="font-family:Arial,sans-serif">',
        _PREHEADER if css else "",
        '<table width="600" cellpadding="0" cellspacing="0">',
        f'<tr><td><a href="{HOME_URL}"><img src="cid:logo-secop@secop.gov.co" alt="SECOP II"'
        ' width="180" height="60"></a></td></tr>',
        "<tr><td>",
        "<p>Estimado (a) usuario (a).</p>",
        "<p>Ha requerido para recuperar la contraseña de ingreso de usuario. "
        "Para cambiar su contraseña, siga el siguiente enlace:</p>",
        reset,
        "<p>(Si usted no puede hacer clic en el enlace, por favor, copie el enlace "
        "completo y péguelo en su navegador)</p>",
        "<p>Recuerde que su contraseña se activará con el último correo recibido del "
        f'SECOP II. Para ingresar: <a href="{LOGIN_URL}">{LOGIN_URL}</a></p>',
        "<p>Nosotros nunca le solicitamos datos personales por correo electrónico.</p>",
        f'<p style="font-size:10px"><a href="{PRIVACY_URL}">Política de privacidad</a> | '
        f'<a href="{HOME_URL}">Colombia Compra Eficiente</a></p>',
        "</td></tr>",
        "</table>",
        "</body></html>",
    ]
    return "".join(line + "\r\n" for line in lines if line)


def _boilerplate(text: str, cs: Charset) -> str:
    """``text`` with every character ``cs`` cannot hold as a numeric reference."""
    return "".join(ch if cs.can_write(ch) else f"&#{ord(ch)};" for ch in text)


def _char_forms(char: str, cs: Charset, *, raw_ok: bool) -> list[str]:
    """Ways to write one non-ASCII character, the plainest first."""
    forms = [char] if raw_ok and cs.can_write(char) else []
    forms += [f"&#{ord(char)};", f"&#x{ord(char):X};"]
    name = codepoint2name.get(ord(char))
    if name:
        forms.append(f"&{name};")
        if name in _LEGACY:  # decoded without ";" too (in an attribute, not before [=A-Za-z0-9])
            forms.append(f"&{name}")
    try:
        c1 = char.encode("cp1252")
    except UnicodeEncodeError:
        c1 = b""
    if len(c1) == 1 and 0x80 <= c1[0] <= 0x9F:  # HTML maps &#128;-&#159; like windows-1252
        forms.append(f"&#{c1[0]};")
    return forms


@st.composite
def _written(draw: st.DrawFn, text: str, cs: Charset, raw_ok: bool) -> list[str]:
    """``text`` as HTML source atoms (one per character: raw or a reference)."""
    atoms = []
    for char in text:
        if char.isascii():
            atoms.append(char)
        else:
            atoms.append(draw(st.sampled_from(_char_forms(char, cs, raw_ok=raw_ok))))
    return atoms


# ------------------------------------------------------------------ the href


_URL_ASCII_REFS = {
    "/": ["&#47;", "&#x2F;", "&sol;"],
    ":": ["&#58;", "&colon;"],
    ".": ["&#46;", "&period;"],
    "=": ["&#61;", "&equals;"],
    "?": ["&#63;", "&quest;"],
    "_": ["&#95;", "&lowbar;"],
    "-": ["&#45;", "&#x2d;"],
}
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_TOKEN_CHARS = _ALNUM + "-_"
_VALUE_PIECES = (
    "1",
    "es-CO",
    "x",
    "%20",
    "%C3%B1",
    "%E9",
    "%2B",
    "%26",
    "+",
    "/",
    ":",
    "@",
    "!",
    "*",
    "(",
    ")",
    ",",
    "$",
    "~",
    ".",
    "=",
    "?",
    ";",
    "|",
    "[",
    "]",
    "{",
    "}",
    "^",
    " ",  # a space inside the URL: percent-encoded, not removed
    "%c3%b1",  # lower-case escapes stay as they are
    "%2f",
)
# References with odd targets: NUL, a surrogate, beyond Unicode, an overflow (all U+FFFD),
# leading zeros, C1 controls kept as they are, a noncharacter, C0 controls and DEL;
# HTML5-only names, some standing for two code points (fj, =⃥, ≂̸), quotes, the backtick.
_VALUE_REFERENCES = (
    "&#0;",
    "&#xD800;",
    "&#x110000;",
    "&#99999999999;",
    "&#x0041;",
    "&#000065;",
    "&#x81;",
    "&#129;",
    "&#65534;",
    "&#1;",  # control characters: kept (and percent-encoded), not dropped
    "&#x1F;",
    "&#127;",
    "&apos;",
    "&grave;",
    "&lpar;",
    "&fjlig;",
    "&bne;",
    "&NotEqualTilde;",
    "&hellip;",
    "&euro;",
    "&ThickSpace;",
    "&quot;",
    "&lt;",
    "&nbsp;",
)
_PATH_PIECES = (
    "|",
    "^",
    "`",
    "{",
    "}",
    "!",
    "$",
    "(",
    ")",
    "*",
    "+",
    ",",
    ";",
    "=",
    ":",
    "@",
    "[",
    "]",
    "%25",
    "&quot;",
    "&lt;",
    "&gt;",
    "&apos;",
    "&#39;",
    "&#x7C;",
    "&verbar;",
    "&Hat;",
)
_SEPARATORS = (
    "&",
    "&amp;",
    "&#38;",
    "&#x26;",
    "&#X26;",
    "&#038;",
    "&AMP;",
    "&#38",
    "&#x26",
    "&amp;amp;",  # escaped twice by the mailer: a browser follows "&amp;"
)
_ENTITY_FOLLOWERS = ("=", "alnum", ";", "other", "end")
_OTHER_FOLLOWERS = ("-", "_", ".", "~", "!", "*", "(", ")", ",", "$", "+", ":", "@", "/", "?")
# Removed anywhere inside a URL (tab, LF, CR), as raw characters or references.
_INNER_BLANKS_RAW = ("\t", "\r\n")
_INNER_BLANKS_REF = ("&#9;", "&#10;", "&#13;", "&#x9;", "&#xA;", "&#xD;", "&Tab;", "&NewLine;")
# Stripped at either end of a URL (C0 controls and space).
_EDGE_BLANKS_RAW = (" ", "\t", "\r\n", "\x0c", "\x01", "\x08", "\x0b", "\x1b", "\x1f")
_EDGE_BLANKS_REF = (*_INNER_BLANKS_REF, "&#32;", "&#x20;", "&#1;", "&#x1F;")
# Raw characters that end an unquoted attribute value.
_UNQUOTED_ENDERS = re.compile(r"[\t\n\f\r >]")


@st.composite
def _ascii_run(draw: st.DrawFn, text: str, refs: bool) -> list[str]:
    """ASCII URL text as atoms, a few characters written as references when ``refs``."""
    if not refs:
        return list(text)
    return [
        draw(st.sampled_from([ch, *_URL_ASCII_REFS[ch]])) if ch in _URL_ASCII_REFS else ch
        for ch in text
    ]


_VALUE_ATOMS = st.one_of(
    st.sampled_from(_ALNUM).map(lambda s: (False, s)),
    st.sampled_from(_VALUE_PIECES).map(lambda s: (False, s)),
    st.sampled_from(NON_ASCII).map(lambda s: (True, s)),
    st.sampled_from(_VALUE_REFERENCES).map(lambda s: (False, s)),
)


@st.composite
def _value(draw: st.DrawFn, cs: Charset, alphabet_only: bool = False) -> list[str]:
    """A query value (or path segment, or fragment): ASCII pieces and non-ASCII characters."""
    atoms: list[str] = []
    for non_ascii, piece in draw(st.lists(_VALUE_ATOMS, min_size=1, max_size=6)):
        if non_ascii:
            atoms += draw(_written(piece, cs, raw_ok=True))
        elif alphabet_only:
            atoms += [c for c in piece if c.isalnum()] or ["x"]
        elif piece.startswith("&"):
            atoms.append(piece)  # one reference, one atom
        else:
            atoms += list(piece)
    return atoms


@st.composite
def _entity_param(draw: st.DrawFn, cs: Charset) -> list[str]:
    """A parameter whose name starts with a legacy entity name (after a raw ``&``)."""
    entity = draw(st.sampled_from(LEGACY_ENTITIES))
    follower = draw(st.sampled_from(_ENTITY_FOLLOWERS))
    atoms = list(entity)
    if follower == "=":
        atoms += ["=", *draw(_value(cs))]
    elif follower == "alnum":
        atoms += list(draw(st.text(_ALNUM, min_size=1, max_size=10)))
        if draw(st.booleans()):
            atoms += ["=", *draw(_value(cs))]
    elif follower == ";":
        atoms.append(";")
        atoms += list(draw(st.text(_ALNUM, max_size=6)))
        if draw(st.booleans()):
            atoms += ["=", *draw(_value(cs))]
    elif follower == "other":
        atoms.append(draw(st.sampled_from(_OTHER_FOLLOWERS)))
        atoms += list(draw(st.text(_ALNUM, max_size=6)))
        if draw(st.booleans()):
            atoms += ["=", *draw(_value(cs))]
    # "end": the bare name, followed by the next separator, a fragment or the URL's end
    return atoms


@st.composite
def _plain_param(draw: st.DrawFn, cs: Charset) -> list[str]:
    name = draw(st.sampled_from(["nombre", "q", "ciudad", "msg", "returnUrl", "lang"]))
    return [*name, "=", *draw(_value(cs))]


@st.composite
def _path_segment(draw: st.DrawFn, cs: Charset) -> list[str]:
    kind = draw(st.sampled_from(["word", "dot", "dotdot", "escaped", "specials"]))
    if kind == "dot":
        return ["."]
    if kind == "dotdot":
        return [".", "."]
    if kind == "escaped":
        escaped = ["%C3%B1", "%E2%82%AC", "a%20b", "%7E", "%2e", "%2E%2e", ".%2E", "%c3%b1"]
        return list(draw(st.sampled_from(escaped)))
    if kind == "specials":
        pieces = draw(st.lists(st.sampled_from(_PATH_PIECES + tuple("abc123")), min_size=1))
        # A reference is one atom; other pieces are split into characters.
        return [atom for p in pieces for atom in ([p] if p.startswith("&") else list(p))]
    atoms = list(draw(st.text(_ALNUM + "-_.~", max_size=6)))
    atoms += draw(_value(cs, alphabet_only=True))
    return atoms


@st.composite
def _url_atoms(draw: st.DrawFn, cs: Charset) -> list[str]:
    """The genuine reset link as source atoms (no leading/trailing blanks yet)."""
    refs = draw(st.integers(0, 9)) == 9  # now and then, ASCII characters as references
    atoms = list(draw(st.sampled_from(["https", "HTTPS", "Https"])))
    atoms += draw(_ascii_run("://", refs))
    atoms += list(draw(st.sampled_from([HOST, HOST.upper(), "Community.Secop.Gov.Co"])))
    atoms += list(draw(st.sampled_from(["", ":443"])))
    atoms += draw(_ascii_run(RESET_PATH, refs))
    for segment in draw(st.lists(_path_segment(cs), max_size=2)):
        atoms += ["/", *segment]
    token = draw(st.text(_TOKEN_CHARS, min_size=1, max_size=32))
    token += draw(st.sampled_from(["", "%2B", "%2F", "%3D", "==", "=", "/", "+", "%2Fa%2B"]))
    params: list[list[str]] = [["t", "o", "k", "e", "n", *draw(_ascii_run("=", refs)), *token]]
    if draw(st.integers(0, 4)) < 4:
        params.append(list("currentLanguage=es-CO"))
    params += draw(st.lists(_entity_param(cs), min_size=1, max_size=4))
    params += draw(st.lists(_plain_param(cs), max_size=2))
    params = draw(st.permutations(params))
    atoms += draw(_ascii_run("?", refs))
    for index, param in enumerate(params):
        if index:
            atoms.append(draw(st.sampled_from(_SEPARATORS)))
        atoms += param
    if draw(st.booleans()) and draw(st.booleans()):
        atoms.append(draw(st.sampled_from(["&", "&amp;", "&#38;"])))  # a trailing separator
    fragment = draw(st.sampled_from([None, "", "top", "value"]))
    if fragment is not None:
        atoms.append("#")
        atoms += draw(_value(cs)) if fragment == "value" else list(fragment)
    return atoms


@st.composite
def _href_value(draw: st.DrawFn, cs: Charset, quote: str) -> str:
    """The reset link as the href attribute's source text (between the quotes)."""
    atoms = draw(_url_atoms(cs))
    inner = _INNER_BLANKS_REF if quote == "" else _INNER_BLANKS_RAW + _INNER_BLANKS_REF
    edge = _EDGE_BLANKS_REF if quote == "" else _EDGE_BLANKS_RAW + _EDGE_BLANKS_REF
    for _ in range(draw(st.integers(0, 3)) if draw(st.booleans()) else 0):
        at = draw(st.integers(1, len(atoms) - 1))
        atoms.insert(at, draw(st.sampled_from(inner)))
    if quote == "":
        atoms = ["&#32;" if atom == " " else atom for atom in atoms]
    leading = draw(st.lists(st.sampled_from(edge), max_size=3))
    trailing = draw(st.lists(st.sampled_from(edge), max_size=3))
    value = "".join([*leading, *atoms, *trailing])
    if quote == "" and _UNQUOTED_ENDERS.search(value):  # pragma: no cover - generator bug
        raise AssertionError(f"unquoted href value would end early: {value!r}")
    return value


# ------------------------------------------------------------------ the anchor


_PHRASE_WORDS = ("Haga", "clic", "aquí", "para", "cambiar", "la", "contraseña")
_BETWEEN_WORDS = (" ", "\r\n", "  ", "&nbsp;", " \r\n", "&#32;", "\t", "&#160;", "\r\n   ")
_INLINE_TAGS = (
    "span",
    "b",
    "strong",
    "font",
    'font color="#0563C1" face="Arial"',
    "em",
    "i",
    "u",
    'span style="color:#0563C1;text-decoration:underline"',
    "B",
    "STRONG",
)
# Things that show nothing, for inside words: comments, empty elements, invisible characters.
_EMPTY_INSERTS = (
    "<!-- -->",
    "<!---->",
    "<!--[if mso]><![endif]-->",
    "<!-- clic -->",
    "<wbr>",
    "<span></span>",
    "&shy;",
    "&#8203;",
    "&#x2060;",
    "&zwnj;",
)
_OTHER_ATTRIBUTES = (
    'target="_blank"',
    'style="color:#0563C1;text-decoration:underline"',
    'title="Cambiar contrase{n}a"',
    'class="link"',
    'rel="noopener noreferrer"',
    "id=reset",
    'data-saferedirecturl="https://www.google.com/url?q=https://community.secop.gov.co/'
    '&amp;source=gmail"',
    'data-href="https://community.secop.gov.co/STS/Users/Login/Index"',
    "name='reset'",
    # MJML's button, and the fallback of Outlook's VML button (mso-hide only hides in Outlook)
    'style="display:inline-block;background:#414141;color:#ffffff;font-family:Arial;'
    "font-size:13px;line-height:120%;margin:0;text-decoration:none;padding:10px 25px;"
    'mso-padding-alt:0px;border-radius:3px;"',
    'style="color:#0563C1;mso-hide:all"',
)
_USERNAMES = ("jperez", "mnuñez", "j.perez_2024", "CCE-1234", "ana.gómez", "USUARIO01")


@st.composite
def _phrase_atoms(draw: st.DrawFn, cs: Charset, words: Sequence[str]) -> list[str]:
    """The anchor's words as source atoms: cased, accented or not, spaced variously."""
    atoms: list[str] = []
    for index, word in enumerate(words):
        if index:
            atoms.append(draw(st.sampled_from(_BETWEEN_WORDS)))
        case = draw(st.sampled_from(["as is", "as is", "upper", "lower"]))
        shaped = word.upper() if case == "upper" else word.lower() if case == "lower" else word
        if not shaped.isascii() and draw(st.integers(0, 4)) == 4:  # "aqui", "contrasena"
            shaped = shaped.translate(str.maketrans("íÍñÑ", "iInN"))
        atoms += draw(_written(shaped, cs, raw_ok=cs.readable))
    return atoms


@st.composite
def _marked_up(draw: st.DrawFn, atoms: list[str]) -> str:
    """``atoms`` with inline tags around some runs (even inside a word) and comments."""
    n = len(atoms)
    ranges: list[tuple[int, int, str]] = []
    if draw(st.integers(0, 3)) == 3:  # the textbook case: contrase<span>ñ</span>a
        accented = [i for i, a in enumerate(atoms) if not a.isascii() or a.startswith("&")]
        accented = [i for i in accented if atoms[i] not in _BETWEEN_WORDS]
        if accented:
            at = draw(st.sampled_from(accented))
            ranges.append((at, at + 1, draw(st.sampled_from(_INLINE_TAGS))))
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, n - 1))
        end = draw(st.integers(start + 1, n))
        tag = draw(st.sampled_from(_INLINE_TAGS))
        if all(
            e <= start or end <= s or (s <= start and end <= e) or (start <= s and e <= end)
            for s, e, _ in ranges
        ):
            ranges.append((start, end, tag))
    comments: dict[int, list[str]] = {}
    for _ in range(draw(st.integers(0, 2))):
        insert = draw(st.sampled_from(_EMPTY_INSERTS))
        comments.setdefault(draw(st.integers(0, n)), []).append(insert)
    out: list[str] = []
    for pos in range(n + 1):
        # Close inner ranges first, then open outer ones first: proper nesting.
        closing = sorted((r for r in ranges if r[1] == pos), key=lambda r: -r[0])
        out += [f"</{tag.split()[0]}>" for _, _, tag in closing]
        out += comments.get(pos, [])
        opening = sorted((r for r in ranges if r[0] == pos), key=lambda r: -r[1])
        out += [f"<{tag}>" for _, _, tag in opening]
        if pos < n:
            out.append(atoms[pos])
    return "".join(out)


@st.composite
def _attributes(draw: st.DrawFn, cs: Charset, href: str, quote: str) -> str:
    """The reset anchor's attributes: others around href, maybe a second href."""
    name = draw(st.sampled_from(["href", "HREF", "Href"]))
    equals = draw(st.sampled_from(["=", " = ", "=\r\n"]))
    attrs = draw(st.lists(st.sampled_from(_OTHER_ATTRIBUTES), max_size=3, unique=True))
    position = draw(st.integers(0, len(attrs)))
    attrs.insert(position, f"{name}{equals}{quote}{href}{quote}")
    if draw(st.integers(0, 5)) == 5:  # <a href=A ... href=B>: browsers follow A
        second = draw(
            st.sampled_from(
                [OTHER_RESET_URL.replace("&", "&amp;"), LOGIN_URL, "https://evil.example/reset"]
            )
        )
        spelled = draw(st.sampled_from(["href", "HREF"]))
        attrs.insert(draw(st.integers(position + 1, len(attrs))), f'{spelled}="{second}"')
    n = draw(_written("ñ", cs, raw_ok=cs.readable))[0]
    out = draw(st.sampled_from([" ", " ", "\r\n", "/"]))  # after the tag name
    for index, attr in enumerate(attrs):
        if index:
            quoted_before = attrs[index - 1][-1:] in ("'", '"')
            # Right after a quoted value, no space at all (or a "/") still separates.
            choices = [" ", " ", "\r\n", "  "] + (["", "/"] if quoted_before else [])
            out += draw(st.sampled_from(choices))
        out += attr.replace("{n}", n)
    return out


@st.composite
def _reset_paragraph(draw: st.DrawFn, cs: Charset) -> str:
    """The ``<p>`` content holding the reset anchor and the user name."""
    quote = draw(st.sampled_from(['"', "'", ""]))
    href = draw(_href_value(cs, quote))
    attributes = draw(_attributes(cs, href, quote))
    username = "".join(draw(_written(draw(st.sampled_from(_USERNAMES)), cs, cs.readable)))
    placement = draw(st.sampled_from(["inside", "after", "split"]))
    words = _PHRASE_WORDS if placement == "split" else (*_PHRASE_WORDS, "de", "usuario")
    atoms = draw(_phrase_atoms(cs, words))
    user_markup = draw(st.sampled_from(["{u}", "<b>{u}</b>", "<strong>{u}</strong>"]))
    tail = ""
    if placement == "inside":
        atoms += [draw(st.sampled_from([" ", "&nbsp;", "\r\n"]))]
        content = draw(_marked_up(atoms)) + user_markup.format(u=username)
    else:
        content = draw(_marked_up(atoms))
        if placement == "after":
            glue = draw(st.sampled_from([" ", ": ", "&nbsp;", "\r\n"]))
        else:
            de_usuario = "".join(draw(_phrase_atoms(cs, ("de", "usuario"))))
            glue = f" {de_usuario} "
        tail = glue + user_markup.format(u=username)
    lead = draw(st.sampled_from(["", " ", "\r\n"]))
    tag = draw(st.sampled_from(["a", "a", "A"]))
    return f"<{tag}{attributes}>{lead}{content}</{tag}>{tail}"


# ------------------------------------------------------------------ the mail


def _href_span(body: bytes, paragraph: bytes) -> range:
    start = body.find(paragraph)
    if start < 0:  # pragma: no cover - generator bug
        raise AssertionError("the reset paragraph is not in the body")
    return range(start, start + len(paragraph))


@st.composite
def _quoted_printable(draw: st.DrawFn, body: bytes, hot: range) -> bytes:
    """Quoted-printable with soft breaks at random places, many around the anchor
    (``hot``: its byte range) and right before/after its ``=3D``."""
    positions = st.integers(1, len(body) - 1)
    breaks = draw(st.lists(positions, max_size=6))
    breaks += draw(st.lists(st.integers(hot.start, hot.stop), max_size=8))
    equals = [i for i in hot if body[i] == ord("=")]
    if equals:
        for i in draw(st.lists(st.sampled_from(equals), max_size=4)):
            breaks.append(i + draw(st.sampled_from([0, 1])))
    breaks = [i for i in breaks if 0 < i < len(body) and body[i - 1 : i + 1] != b"\r\n"]
    literal_as_hex: list[int] = []
    if draw(st.integers(0, 3)) == 3:  # a mailer that encodes more than it must
        literal_as_hex = draw(st.lists(st.integers(hot.start, hot.stop - 1), max_size=10))
    return encode_qp(body, breaks, literal_as_hex)


@st.composite
def reset_mails(draw: st.DrawFn) -> HtmlMail:
    """A genuine SECOP II reset mail (single-part text/html) with tricky HTML."""
    cs = draw(st.sampled_from(CHARSETS))
    paragraph = draw(_reset_paragraph(cs))
    text = page(
        paragraph,
        doctype=draw(st.integers(0, 4)) < 4,
        meta_charset=cs.label if cs.readable and not cs.bom and draw(st.booleans()) else None,
        layout=draw(st.sampled_from(LAYOUTS)),
        css=draw(st.booleans()),
    )
    body = cs.encode(_boilerplate(text, cs))
    if cs.bom:
        body = b"\xef\xbb\xbf" + body
    hot = _href_span(body, cs.encode(_boilerplate(paragraph, cs)))
    cte = draw(st.sampled_from(["quoted-printable", "base64", "8bit"]))
    if cte == "quoted-printable":
        encoded = draw(_quoted_printable(body, hot))
    elif cte == "base64":
        encoded = _base64_lines(body, draw(st.sampled_from([76, 64, 72])))
    else:
        encoded = body
        cte = "7bit" if body.isascii() else "8bit"
    return mail_from_html(
        body,
        cs.label,
        cte=cte,
        encoded_body=encoded,
        browser_charset=cs.browser,
        content_type=draw(st.sampled_from(CONTENT_TYPES)),
    )
