"""Bytes to text the way a browser decodes them (the WHATWG Encoding Standard).

A mail part's ``charset`` is a *label*: browsers map it through the Encoding
Standard's table, so ``iso-8859-1``, ``latin1`` and ``us-ascii`` all mean
windows-1252, where bytes 0x80-0x9F are € ‚ ƒ „ … and the curly quotes, never
C1 control characters. The labels come from ``webencodings`` (the table
html5lib uses). Pure functions, no I/O.

Which encoding a part is read in, first match wins (as in a browser, where
the MIME charset is the transport layer's):

1. a byte-order mark (UTF-8, UTF-16LE, UTF-16BE);
2. the part's declared ``charset``, when the Encoding Standard knows the label;
3. for HTML, a ``<meta charset>`` (or ``http-equiv``) near the top;
4. UTF-8 when the bytes are valid UTF-8, else windows-1252.
"""

from __future__ import annotations

import codecs

import webencodings
from bs4.dammit import EncodingDetector

__all__ = [
    "UTF8",
    "WINDOWS_1252",
    "decode",
    "encode_query_run",
    "for_reading",
    "lookup",
    "query_encoding",
]

UTF8 = "utf-8"
WINDOWS_1252 = "windows-1252"
_BOMS = (
    (codecs.BOM_UTF8, UTF8),
    (codecs.BOM_UTF16_LE, "utf-16le"),
    (codecs.BOM_UTF16_BE, "utf-16be"),
)
# windows-1252 is ISO-8859-1 with 0x80-0x9F remapped; the five bytes Python's
# cp1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) stay the C1 code point, as
# the Encoding Standard's index has them.
_C1_TABLE = {
    byte: bytes([byte]).decode("cp1252", "ignore") or chr(byte) for byte in range(0x80, 0xA0)
}
_REPLACEMENT = "replacement"  # labels of encodings browsers refuse to decode (ISO-2022-KR ...)


def lookup(label: str | None) -> str | None:
    """The Encoding Standard's name for ``label`` (``"iso-8859-1"`` → ``"windows-1252"``)."""
    if not label:
        return None
    found = webencodings.lookup(label.strip().strip("\"'"))
    return found.name if found is not None else None


def _bom(payload: bytes) -> tuple[str, int] | None:
    for mark, name in _BOMS:
        if payload.startswith(mark):
            return name, len(mark)
    return None


def _declared_in_html(payload: bytes) -> str | None:
    declared = EncodingDetector.find_declared_encoding(payload[:1024], is_html=True)
    name = lookup(declared)
    # A <meta> cannot switch to UTF-16: the bytes read so far were ASCII-compatible.
    return UTF8 if name in ("utf-16le", "utf-16be") else name


def _decode_as(payload: bytes, name: str) -> str:
    if name == WINDOWS_1252:
        return payload.decode("latin-1").translate(_C1_TABLE)
    if name == _REPLACEMENT:
        return "\ufffd" if payload else ""
    encoding = webencodings.lookup(name)
    codec = encoding.codec_info.name if encoding is not None else UTF8
    return payload.decode(codec, "replace")


def decode(payload: bytes, declared: str | None, *, html: bool = False) -> tuple[str, str]:
    """``(text, encoding name)``: ``payload`` decoded as a browser would."""
    bom = _bom(payload)
    if bom is not None:
        return _decode_as(payload[bom[1] :], bom[0]), bom[0]
    name = lookup(declared) or (_declared_in_html(payload) if html else None)
    if name is None:
        try:
            return payload.decode(UTF8), UTF8
        except UnicodeDecodeError:
            name = WINDOWS_1252
    return _decode_as(payload, name), name


def query_encoding(name: str) -> str:
    """The encoding a document's URLs encode their query in (URL Standard, §4.3)."""
    return UTF8 if name in ("utf-16le", "utf-16be", _REPLACEMENT) else name


def for_reading(payload: bytes, declared: str | None, *, html: bool = False) -> str:
    """The text as its writer meant it, for words and names (never for links).

    Bytes that are mostly UTF-8 are read as UTF-8 whatever the label says (a
    mail declared ISO-8859-1 but written in UTF-8 shows "contraseÃ±a" in a
    browser, and a reader still means "contraseña"), a stray bad sequence
    replaced (a part cut inside a character ends in one); other bytes as the
    browser reads them, with windows-1252 where the label is UTF-8 or unknown.
    """
    text, name = decode(payload, declared, html=html)
    if name in ("utf-16le", "utf-16be"):  # ASCII in UTF-16 is valid UTF-8 too (NUL bytes)
        return text
    utf8 = payload.decode("utf-8-sig", "replace")
    bad = utf8.count("\ufffd") - payload.count("\ufffd".encode())
    good = sum(1 for char in utf8 if ord(char) > 0x7F and char != "\ufffd")
    if bad == 0 or good >= bad:
        return utf8
    return _decode_as(payload, WINDOWS_1252) if name == UTF8 else text


def _encode(text: str, name: str) -> bytes:
    if name == WINDOWS_1252:
        return bytes(_windows_1252_byte(char) for char in text)
    encoding = webencodings.lookup(name)
    if encoding is None:
        raise LookupError(name)
    return text.encode(encoding.codec_info.name)


_C1_REVERSE = {char: byte for byte, char in _C1_TABLE.items()}


def _windows_1252_byte(char: str) -> int:
    code = ord(char)
    if code < 0x80 or 0xA0 <= code <= 0xFF:
        return code
    if char in _C1_REVERSE:
        return _C1_REVERSE[char]
    raise ValueError(f"U+{code:04X} is not in windows-1252")


_QUERY_SET = frozenset(b"\"#<>'")  # the special-query percent-encode set's ASCII part


def _percent(data: bytes) -> str:
    """Bytes as the URL Standard writes them in a query: printable ASCII outside the
    query percent-encode set stays as it is (a Shift_JIS trail byte 0x5C is ``\\``)."""
    return "".join(
        f"%{byte:02X}" if byte < 0x21 or byte > 0x7E or byte in _QUERY_SET else chr(byte)
        for byte in data
    )


def encode_query_run(text: str, name: str) -> str:
    """A run of non-ASCII query characters, encoded in the document's encoding at once.

    Encoded as one run, as the URL Standard's "percent-encode after encoding"
    does (a stateful encoding such as ISO-2022-JP switches once, not per
    character). A character the encoding cannot represent becomes ``&#N;``,
    percent-encoded (``%26%23N%3B``). Python's codecs stand in for the
    Encoding Standard's encoders; for the multi-byte East Asian ones they may
    differ in rare characters (the suite checks the single-byte ones and UTF-8
    against Chromium).
    """
    target = query_encoding(name)
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            out.append(_percent(_encode("".join(run), target)))
            run.clear()

    for char in text:
        try:
            _encode(char, target)
        except (UnicodeError, LookupError, ValueError):
            flush()
            out.append(f"%26%23{ord(char)}%3B")
            continue
        run.append(char)
    flush()
    return "".join(out)
