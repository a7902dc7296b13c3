"""watcher.parts: which parts the IMAP path fetches, and the message rebuilt from them.

Structures are read from real ``FETCH`` responses by imapclient's own parser, in
the shape of RFC 3501's BODYSTRUCTURE (section 7.4.2): a multipart is its
children then the subtype; a leaf is type, subtype, parameters, id, description,
encoding, size, (for text) lines, then md5, disposition, language, location.
The rebuilt message must be read by the parser exactly as the whole mail.
"""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import UTC, datetime
from typing import Any

import pytest
from imapclient.response_parser import parse_fetch_response

from tests import mailfactory as mf
from watcher.model import Kind
from watcher.parsing import parse_message
from watcher.parts import (
    WHOLE_BODY,
    Leaf,
    assemble,
    leaves,
    section_key,
    sender_address,
    text_parts,
)

WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
URL = mf.reset_url("T0k3n")
FORGED = "https://secop.gov.co.evil.example/STS/Users/ResetPassword/Index?token=x"

PLAIN = b'("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 120 4 NIL NIL NIL NIL)'
HTML = b'("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "BASE64" 300 5 NIL NIL NIL NIL)'
HTML_ATTACHED = (
    b'("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "BASE64" 700 9 NIL'
    b' ("ATTACHMENT" ("FILENAME" "reset.html")) NIL NIL)'
)
HTML_INLINE = (
    b'("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "BASE64" 300 5 NIL'
    b' ("INLINE" ("FILENAME" "mail.html")) NIL NIL)'
)
PNG = b'("IMAGE" "PNG" ("NAME" "logo.png") "<logo@secop>" NIL "BASE64" 90 NIL NIL NIL NIL)'
RFC822 = b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 4000 NIL NIL NIL NIL)'


def structure(text: bytes) -> Any:
    """The BODYSTRUCTURE of a FETCH response, as imapclient hands it over."""
    response = parse_fetch_response([b"1 (UID 7 BODYSTRUCTURE " + text + b")"])
    return response[7][b"BODYSTRUCTURE"]


def multipart(subtype: bytes, *children: bytes) -> bytes:
    return b"(" + b"".join(children) + b' "' + subtype + b'" ("BOUNDARY" "b") NIL NIL NIL)'


# --------------------------------------------------------------------------- which parts


def test_a_text_html_attachment_is_never_taken_for_the_body() -> None:
    found = text_parts(structure(multipart(b"MIXED", PLAIN, HTML_ATTACHED)))
    assert found == [Leaf("1", "text/plain", 120)]


def test_every_readable_text_part_in_the_message_order() -> None:
    body = multipart(
        b"MIXED",
        multipart(b"ALTERNATIVE", PLAIN, multipart(b"RELATED", HTML, PNG)),
        HTML_ATTACHED,
        RFC822,
        HTML_INLINE,
    )
    assert text_parts(structure(body)) == [
        Leaf("1.1", "text/plain", 120),
        Leaf("1.2.1", "text/html", 300),
        Leaf("4", "text/html", 300),
    ]
    assert [(leaf.section, leaf.mime, leaf.attachment) for leaf in leaves(structure(body))] == [
        ("1.1", "text/plain", False),
        ("1.2.1", "text/html", False),
        ("1.2.2", "image/png", False),
        ("2", "text/html", True),
        ("3", "message/rfc822", False),
        ("4", "text/html", False),
    ]


def test_a_single_part_mail_is_its_whole_body() -> None:
    assert text_parts(structure(HTML)) == [Leaf(WHOLE_BODY, "text/html", 300)]
    assert text_parts(structure(PNG)) == []
    assert text_parts(structure(HTML_ATTACHED)) == []


@pytest.mark.parametrize("shape", [None, b"", 5, (), []])
def test_no_structure_has_no_parts(shape: Any) -> None:
    assert list(leaves(shape)) == []
    assert text_parts(shape) == []


def test_odd_structures_read_without_guessing() -> None:
    # a leaf with no subtype and no size; a disposition given as str; an empty one
    assert list(leaves(("text",))) == [Leaf(WHOLE_BODY, "text/", 0)]
    assert list(leaves(("TEXT", "HTML", None, None, None, None, "12"))) == [
        Leaf(WHOLE_BODY, "text/html", 0)
    ]
    attached = ("text", "plain", None, None, None, None, 5, 1, None, ("Attachment", None))
    assert list(leaves(attached)) == [Leaf(WHOLE_BODY, "text/plain", 5, True)]
    empty = ("text", "plain", None, None, None, None, 5, 1, None, ())
    assert text_parts(empty) == [Leaf(WHOLE_BODY, "text/plain", 5)]
    # the "attachment" in a parameter list before the body extension is not a disposition
    params = ("text", "plain", ("attachment", "x"), None, None, None, 5)
    assert text_parts(params) == [Leaf(WHOLE_BODY, "text/plain", 5)]


def test_sections_sort_as_numbers() -> None:
    assert section_key("1.10") == (1, 10)
    assert section_key(WHOLE_BODY) == ()
    assert sorted(["2", "1.10", "1.2", "10", "1"], key=section_key) == [
        "1",
        "1.2",
        "1.10",
        "2",
        "10",
    ]


def test_fetched_bytes_is_the_smallest_of_size_cap_and_limit() -> None:
    assert Leaf("1", "text/plain", 900).fetched_bytes(500) == 500
    assert Leaf("1", "text/plain", 300).fetched_bytes(500) == 300
    assert Leaf("1", "text/plain", 900, limit=512).fetched_bytes(2000) == 512
    assert Leaf("1", "text/plain", 900, limit=512).fetched_bytes(100) == 100
    assert Leaf("1", "text/plain", 90, limit=512).fetched_bytes(2000) == 90


# --------------------------------------------------------------------------- the sender


@pytest.mark.parametrize(
    ("header", "address"),
    [
        (b"From: Registro SECOP II <Registro@SECOP.gov.co>\r\n", "registro@secop.gov.co"),
        (b"Subject: x\r\nFrom : evil@x.org\r\nFrom: registro@secop.gov.co\r\n", None),
        (b"From: a@x.org, b@x.org\r\n", None),
        (b"From: undisclosed-recipients:;\r\n", None),
        (b"Subject: no sender\r\n", None),
        (b"", None),
    ],
)
def test_the_single_from_address(header: bytes, address: str | None) -> None:
    assert sender_address(header) == address


# --------------------------------------------------------------------------- rebuilding


def test_a_single_part_keeps_its_own_header() -> None:
    head = b"From: registro@secop.gov.co\r\nSubject: SECOP\r\nContent-Type: text/plain\r\n\r\n"
    assert assemble(head, [(None, b"hola\r\n")]) == (
        b"From: registro@secop.gov.co\r\nSubject: SECOP\r\nContent-Type: text/plain\r\n\r\nhola\r\n"
    )
    assert assemble(b"", [(None, b"hola")]) == b"\r\n\r\nhola"


def test_one_part_replaces_the_top_level_content_header_folded_lines_too() -> None:
    head = (
        b"From: registro@secop.gov.co\r\n"
        b'Content-Type: multipart/alternative;\r\n\tboundary="old"\r\n'
        b"Subject: SECOP II -\r\n Recuperaci\xc3\xb3n\r\n"
        b"MIME-Version : 1.0\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n\r\n"
    )
    mime = b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    rebuilt = assemble(head, [(mime, b"<p>hola</p>")])
    assert rebuilt == (
        b"From: registro@secop.gov.co\r\n"
        b"Subject: SECOP II -\r\n Recuperaci\xc3\xb3n\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n<p>hola</p>"
    )


def test_several_parts_become_one_multipart_mixed_in_order() -> None:
    head = b"From: registro@secop.gov.co\r\nContent-Type: multipart/alternative; b=x\r\n\r\n"
    fetched = [
        (b"Content-Type: text/plain\r\n\r\n", b"uno"),
        (b"Content-Type: text/html\r\n", b"<p>dos</p>"),
    ]
    msg = email.message_from_bytes(assemble(head, fetched), policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/mixed"
    assert msg.get_all("Content-Type") == ['multipart/mixed; boundary="=_secop-watcher-0"']
    assert msg["From"] == "registro@secop.gov.co"
    assert [(p.get_content_type(), p.get_payload()) for p in msg.get_payload()] == [
        ("text/plain", "uno"),
        ("text/html", "<p>dos</p>"),
    ]


def test_the_boundary_never_occurs_in_a_part() -> None:
    fetched = [
        (b"Content-Type: text/plain\r\n", b"--=_secop-watcher-0\r\nsecop-watcher-1"),
        (b"Content-Type: text/plain\r\n", b"secop-watcher-2 x"),
    ]
    raw = assemble(b"From: a@b.co\r\n", fetched)
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_boundary() == "=_secop-watcher-3"
    assert [p.get_payload() for p in msg.get_payload()] == [
        "--=_secop-watcher-0\r\nsecop-watcher-1",
        "secop-watcher-2 x",
    ]


def test_the_parts_path_decides_as_the_whole_mail_with_a_forged_attachment() -> None:
    """A genuine text body and a text/html attachment with another link: only the body counts."""
    head = (
        b"From: Registro SECOP II <registro@secop.gov.co>\r\n"
        b"Subject: SECOP II\r\nDate: Mon, 30 Nov 2026 12:00:00 +0000\r\n"
        b"Message-ID: <attached@secop.gov.co>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    )
    text_mime = (
        b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
    )
    text = mf.reset_text("jperez", URL).replace("\n", "\r\n").encode()
    html_mime = (
        b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n'
        b'Content-Disposition: attachment; filename="reset.html"\r\n\r\n'
    )
    html = mf.reset_html("jperez", FORGED).replace("\n", "\r\n").encode()
    raw = (
        head + b"--b\r\n" + text_mime + text + b"\r\n--b\r\n" + html_mime + html + b"\r\n--b--\r\n"
    )
    whole = parse_message(raw, internaldate=WHEN)
    assert (whole.kind, whole.url, whole.reasons) == (Kind.RESET, URL, ())

    (leaf,) = text_parts(structure(multipart(b"MIXED", PLAIN, HTML_ATTACHED)))
    assert leaf.section == "1"
    rebuilt = parse_message(assemble(head, [(text_mime, text)]), internaldate=WHEN)
    assert (rebuilt.kind, rebuilt.url, rebuilt.reasons) == (whole.kind, whole.url, whole.reasons)


def test_short_and_non_ascii_structures_never_crash() -> None:
    assert list(leaves((b"TEXT", b"PLAIN"))) == [Leaf(WHOLE_BODY, "text/plain", 0)]
    six = (b"TEXT", b"PLAIN", None, None, None, b"7BIT")  # no size
    assert list(leaves(six)) == [Leaf(WHOLE_BODY, "text/plain", 0)]
    odd = (b"TEXT", b"PL\xc3\x81IN", None, None, None, b"7BIT", 5, 1, None, (b"\xff", None))
    assert text_parts(odd) == []
    assert [leaf.mime for leaf in leaves(odd)] == ["text/pl\ufffd\ufffdin"]


def test_a_from_line_starting_with_a_blank_is_kept() -> None:
    """The sender check counts such a line as a From field (watcher.senders): so must the
    message rebuilt from the fetched parts, or a second sender would vanish."""
    head = b" From: evil@x.org\r\nFrom: Registro SECOP II <registro@secop.gov.co>\r\n"
    text = mf.reset_text("jperez", URL).replace("\n", "\r\n").encode()
    rebuilt = assemble(head, [(b'Content-Type: text/plain; charset="utf-8"\r\n\r\n', text)])
    assert rebuilt.startswith(head)
    verdict = parse_message(rebuilt, internaldate=WHEN)
    assert (verdict.kind, verdict.reasons) == (Kind.SUSPICIOUS, ("multiple_senders",))


def test_header_fields_are_kept_byte_for_byte() -> None:
    head = b"From: a@b.co\r\nSubject: SECOP X \r\nX-A: XX\r\nXX-B: X\r\nX-C: c \r\n\r\n"
    mime = b"Content-Type: text/plain\r\nX-Note: XX\r\nXX-Id: X\r\n\r\n"
    assert assemble(head, [(None, b"hola")]) == head + b"hola"
    ends_in_x = assemble(b"From: a@b.co\r\nX-Z: X\r\n", [(mime, b"hola")])
    assert ends_in_x.startswith(b"From: a@b.co\r\nX-Z: X\r\nMIME-Version: 1.0\r\n")
    assert assemble(head, [(mime, b"hola")]) == (
        b"From: a@b.co\r\nSubject: SECOP X \r\nX-A: XX\r\nXX-B: X\r\nX-C: c \r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\nX-Note: XX\r\nXX-Id: X\r\n\r\nhola"
    )
    two = assemble(head, [(mime, b"uno"), (mime, b"dos")])
    msg = email.message_from_bytes(two, policy=email.policy.compat32)
    assert [(p["X-Note"], p["XX-Id"], p.get_payload()) for p in msg.get_payload()] == [
        ("XX", "X", "uno"),
        ("XX", "X", "dos"),
    ]


def test_a_space_folded_content_type_goes_with_its_field() -> None:
    head = b'From: a@b.co\r\nContent-Type: multipart/alternative;\r\n boundary="old"\r\n\r\n'
    rebuilt = assemble(head, [(b"Content-Type: text/plain\r\n\r\n", b"hola")])
    assert rebuilt == b"From: a@b.co\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhola"


def test_a_part_without_a_header_of_its_own_is_plain_text() -> None:
    msg = email.message_from_bytes(
        assemble(b"From: a@b.co\r\n", [(b"", b"hola")]), policy=email.policy.compat32
    )
    assert (msg.get_content_type(), msg.get_payload().strip(), msg.defects) == (
        "text/plain",
        "hola",
        [],
    )


def test_the_rebuilt_multipart_is_well_formed() -> None:
    for head in (b"", b"From: a@b.co\r\n"):
        fetched = [(None, b"uno"), (b"", b"dos"), (b"Content-Type: text/html\r\n\r\n", b"tres")]
        msg = email.message_from_bytes(assemble(head, fetched), policy=email.policy.compat32)
        assert msg.get_content_type() == "multipart/mixed"
        assert msg.defects == []
        assert [
            (p.get_content_type(), p.get_payload().strip(), p.defects) for p in msg.get_payload()
        ] == [
            ("text/plain", "uno", []),
            ("text/plain", "dos", []),
            ("text/html", "tres", []),
        ]


def test_a_blank_after_a_transfer_encoding_is_read_as_on_the_whole_mail() -> None:
    """The parts path must decide as parse does on the whole mail, odd bytes included."""
    text = mf.reset_text("jperez", URL).encode()
    body = base64.encodebytes(text).replace(b"\n", b"\r\n")
    mime = (
        b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64 \r\n\r\n'
    )
    head = b"From: Registro SECOP II <registro@secop.gov.co>\r\nMIME-Version: 1.0\r\n"
    whole = parse_message(head + mime + body, internaldate=WHEN)
    one = parse_message(assemble(head, [(mime, body)]), internaldate=WHEN)
    two = parse_message(assemble(head, [(mime, body), (mime, body)]), internaldate=WHEN)
    assert (one.kind, one.url) == (whole.kind, whole.url)
    assert (two.kind, two.url) == (whole.kind, whole.url)
