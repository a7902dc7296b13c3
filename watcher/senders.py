"""Every From address of a message, read the way the IMAP server reads it.

Pure functions: no I/O, no logging, nothing raises.

Python's :mod:`email` parser is not the authority on who sent a mail: it
takes a line starting with ``From `` for an mbox envelope line (so
``From : evil@attacker.example``, valid obsolete RFC 5322 syntax, vanished),
and it ends the header at the first line that is not ``name:`` (so every From
below such a line vanished too). The IMAP server (Dovecot, the reference: see
``tests/test_senders.py``) lists every one of them in its ENVELOPE. This module
splits the header block itself, the way Dovecot does, and reads each From
field with a small RFC 5322 address-list parser that never decodes an
encoded-word and never drops anything it cannot read.

Header block
------------
The bytes up to the first empty line (a whole message is fine). CRLF, LF and a
lone CR all end a line, as for Dovecot and Python. A line starting with space
or tab continues the field above it (a line of only blanks too: it does not end
the block). A field's name is what precedes its first ``:``, blanks around it
dropped (``From :``, ``From\\t:``), compared without regard to ASCII case
(``FROM``, ``from``).

Addresses
---------
Each From field gives its addresses in order, lower-cased (ASCII letters
only: ``REGİSTRO`` never becomes ``registro``), as ``local@domain``: a
quoted local part stays quoted (``"registro"@secop.gov.co`` is not the plain
address), a source route is dropped, comments and display names are ignored
(a quoted name that looks like an address, ``"registro@secop.gov.co"
<evil@x.org>``, is only a name, as for Dovecot; unquoted, it makes the field
unreadable). Groups give their members. Every From field counts at least once:

* a field that reads as an address list but names no address (``From:``,
  ``From: undisclosed:;``) gives its text, lower-cased, e.g. ``""``;
* a field that does not read (a second ``@``, an unclosed comment, quote or
  ``<``, a control character or NUL, an empty list element, a stray ``;``, a
  display name with ``@`` in it, two ``<...>``, text after ``>``, an
  encoded-word where the address should be, ...) gives every ``x@y`` run in it
  and then its whole text, lower-cased, blanks collapsed. That text holds
  whatever made the field unreadable, so it never equals a well-formed address:
  such a field never passes for the genuine sender, and ``len(...) != 1``
  catches a garbled second From.

Deliberately stricter than Dovecot (which the tests check: never fewer entries,
and a single readable entry only where Dovecot names the same one):

* unreadable fields, above, where Dovecot keeps the first address and drops the
  rest (``a@b <c@d>``, ``a@b@c``, ``a@b; c@d``, a trailing form feed, ...);
* ``From`` folded before its colon (``From\\r\\n : x``), a first line starting
  with a blank (`` From: x``), a NUL inside the name: Dovecot skips those
  fields, a client that unfolds first or drops NULs would not, so they count;
* an empty From field or an empty group counts as an entry; Dovecot lists
  nothing for it.

On the ``BODY[HEADER.FIELDS (FROM)]`` block the server returns (what the
watcher fetches over IMAP) the fields Dovecot skips are already gone, so there
only the stricter reading of unreadable and empty fields differs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["from_addresses", "split_fields"]

_EOL = re.compile(rb"\r\n|\r|\n")
_BLANKS = b" \t"
_ATEXT_ASCII = frozenset("!#$%&'*+-/=?^_`{|}~")
_SPECIALS = frozenset("<>@,:;.")
_WORDS = ("atom", "quoted")
# An address-shaped run in a field that does not read: no blanks, controls or specials.
_RUN = r"[^\x00-\x20\x7f<>()\[\]\",;:@\\]"
_ADDRESS_LIKE = re.compile(rf"(?<!{_RUN}){_RUN}+@{_RUN}+")  # starts at a run: linear
_RUNS_OF_BLANKS = re.compile(r"[ \t]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


# --------------------------------------------------------------------------- header block


def _header_lines(data: bytes) -> Iterator[bytes]:
    """The lines before the first empty one (CRLF, LF or CR end a line)."""
    pos, size = 0, len(data)
    while pos < size:
        end = _EOL.search(data, pos)
        line = data[pos : size if end is None else end.start()]
        if not line:
            return
        yield line
        if end is None:
            return
        pos = end.end()


def _raw_fields(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """``(name, value)`` of each field, unfolded; name lower-cased, without NULs or blanks."""
    fields: list[list[bytes]] = []
    for line in _header_lines(data):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:  # a first line starting with a blank is a field of its own
            fields.append([line])
    for lines in fields:
        name, colon, value = b"".join(lines).partition(b":")
        if colon:
            yield name.replace(b"\x00", b"").strip(_BLANKS).lower(), value


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def split_fields(data: bytes) -> list[tuple[str, str]]:
    """Every header field of the top-level header block, in order, unfolded.

    ``(name, value)`` as :func:`from_addresses` sees them: names lower-cased
    with the blanks around them dropped, values decoded as UTF-8 (bad bytes
    replaced), line breaks of the folding removed.
    """
    return [(_text(name), _text(value)) for name, value in _raw_fields(data)]


# --------------------------------------------------------------------------- lexing


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "atom", "quoted", "literal", or the special character itself
    text: str


def _is_atext(ch: str) -> bool:
    return (ch.isascii() and ch.isalnum()) or ch in _ATEXT_ASCII or ord(ch) > 0x7F


def _is_ctl(ch: str) -> bool:
    return (ord(ch) < 0x20 and ch != "\t") or ch == "\x7f"


def _comment_end(value: str, start: int) -> int:
    """Index just past the comment opening at ``start``; -1 if it never closes."""
    depth, i = 0, start
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        elif _is_ctl(ch):
            return -1
        i += 1
    return -1


def _quoted_end(value: str, start: int) -> tuple[int, str]:
    """Index just past the quoted string at ``start`` and its content; -1 if unreadable."""
    text: list[str] = []
    i = start + 1
    while i < len(value):
        ch = value[i]
        if ch == '"':
            return i + 1, "".join(text)
        if ch == "\\" and i + 1 < len(value):
            i += 1
            ch = value[i]
        if _is_ctl(ch):
            break
        text.append(ch)
        i += 1
    return -1, ""


def _lex(value: str) -> list[_Tok] | None:
    """Tokens of an address list, comments dropped; None when it cannot be read."""
    tokens: list[_Tok] = []
    i, size = 0, len(value)
    while i < size:
        ch = value[i]
        if ch in " \t":
            i += 1
        elif ch == "(":
            i = _comment_end(value, i)
        elif ch == '"':
            i, text = _quoted_end(value, i)
            tokens.append(_Tok("quoted", text))
        elif ch == "[":
            end = value.find("]", i)
            inner = value[i + 1 : end]
            if end < 0 or any(c in "[\\" or _is_ctl(c) for c in inner):
                return None
            tokens.append(_Tok("literal", value[i : end + 1]))
            i = end + 1
        elif ch in _SPECIALS:
            tokens.append(_Tok(ch, ch))
            i += 1
        elif _is_atext(ch):
            start = i
            while i < size and _is_atext(value[i]):
                i += 1
            tokens.append(_Tok("atom", value[start:i]))
        else:  # ")", "]", "\\", a control character
            return None
        if i < 0:
            return None
    return tokens


# --------------------------------------------------------------------------- parsing


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dotted(tokens: Sequence[_Tok], kinds: tuple[str, ...]) -> str | None:
    """``word *("." word)`` as text; None if ``tokens`` are not that."""
    if len(tokens) % 2 == 0:
        return None
    words: list[str] = []
    for index, tok in enumerate(tokens):
        if index % 2:
            if tok.kind != ".":
                return None
        elif tok.kind not in kinds:
            return None
        else:
            words.append(_quote(tok.text) if tok.kind == "quoted" else tok.text)
    return ".".join(words)


def _addr_spec(tokens: Sequence[_Tok]) -> str | None:
    ats = [index for index, tok in enumerate(tokens) if tok.kind == "@"]
    if len(ats) != 1:
        return None
    local = _dotted(tokens[: ats[0]], _WORDS)
    domain_tokens = tokens[ats[0] + 1 :]
    if len(domain_tokens) == 1 and domain_tokens[0].kind == "literal":
        domain: str | None = domain_tokens[0].text
    else:
        domain = _dotted(domain_tokens, ("atom",))
    if local is None or domain is None:
        return None
    return f"{local}@{domain}".translate(_ASCII_LOWER)


def _phrase(tokens: Sequence[_Tok]) -> bool:
    """obs-phrase: a word, then words and dots."""
    return (
        bool(tokens) and tokens[0].kind in _WORDS and all(t.kind in (*_WORDS, ".") for t in tokens)
    )


def _mailbox(tokens: Sequence[_Tok]) -> str | None:
    """``addr-spec`` or ``[phrase] "<" [obs-route] addr-spec ">"``."""
    opening = [index for index, tok in enumerate(tokens) if tok.kind == "<"]
    if not opening:
        return _addr_spec(tokens)
    start = opening[0]
    inner = list(tokens[start + 1 : -1])  # another "<" or ">" in it fails as an addr-spec
    if tokens[-1].kind != ">" or (start and not _phrase(tokens[:start])):
        return None
    if inner and inner[0].kind == "@":  # obs-route: "@a.example,@b.example:"
        colons = [index for index, tok in enumerate(inner) if tok.kind == ":"]
        route_kinds = ("@", ",", ".", "atom", "literal")
        if not colons or any(tok.kind not in route_kinds for tok in inner[: colons[0]]):
            return None
        inner = inner[colons[0] + 1 :]
    return _addr_spec(inner)


def _element_end(tokens: Sequence[_Tok], start: int) -> int:
    """Index of the next ``,``, ``;`` or ``:`` outside ``<...>`` (or the end)."""
    angle = False
    for index in range(start, len(tokens)):
        kind = tokens[index].kind
        if kind in "<>":
            angle = kind == "<"
        elif not angle and kind in (",", ";", ":"):
            return index
    return len(tokens)


def _group(tokens: Sequence[_Tok], start: int, out: list[str]) -> int | None:
    """Members of a group opened before ``start``; index past its ``;`` (None: unreadable)."""
    if start < len(tokens) and tokens[start].kind == ";":
        return start + 1
    while True:
        end = _element_end(tokens, start)
        if end == len(tokens) or tokens[end].kind == ":":
            return None  # no closing ";", or a group inside the group
        address = _mailbox(tokens[start:end])
        if address is None:
            return None
        out.append(address)
        start = end + 1
        if tokens[end].kind == ";":
            return start


def _address_list(tokens: Sequence[_Tok]) -> list[str] | None:
    """The addresses of an address list; None when it does not read as one."""
    out: list[str] = []
    start = 0
    while start < len(tokens):
        end = _element_end(tokens, start)
        kind = tokens[end].kind if end < len(tokens) else ""
        if kind == ":":
            after = _group(tokens, end + 1, out) if _phrase(tokens[start:end]) else None
            if after is None:
                return None
            end = after
            kind = tokens[end].kind if end < len(tokens) else ""
            if kind not in ("", ","):
                return None
        else:
            address = _mailbox(tokens[start:end])
            if address is None or kind == ";":
                return None
            out.append(address)
        if kind == "," and end + 1 == len(tokens):
            return None  # an empty last element
        start = end + 1
    return out


def _field_addresses(value: str) -> list[str]:
    tokens = _lex(value)
    addresses = None if tokens is None else _address_list(tokens)
    if addresses:
        return addresses
    text = _RUNS_OF_BLANKS.sub(" ", value).strip(" ").translate(_ASCII_LOWER)
    if addresses is None:
        return [m.group().translate(_ASCII_LOWER) for m in _ADDRESS_LIKE.finditer(value)] + [text]
    return [text]


def from_addresses(header_block: bytes) -> list[str]:
    """Every address in every From field of the top-level header block, in order.

    ``header_block``: the header (up to the first empty line) or a whole raw
    message. Each address is ``local@domain``, lower-cased; a From field that
    cannot be read, or names no address, still gives an entry (its own text)
    that is never a valid address. So: exactly one genuine sender if and only
    if the result is ``[that address]``; ``len(...) != 1`` means no From or
    more than one sender. Never raises.
    """
    addresses: list[str] = []
    for name, value in _raw_fields(bytes(header_block)):
        if name == b"from":
            addresses += _field_addresses(_text(value))
    return addresses
