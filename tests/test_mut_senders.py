"""watcher.senders, pinned where mutation testing found the suite silent.

The grammar is RFC 5322's (section 3.4, with the obsolete forms of section 4.4),
and the module docstring's rule for what cannot be read: its ``x@y`` runs, then its
whole text, so that an unreadable From never passes for the genuine sender. A
comment ``(SECOP)`` after an address makes a readable field differ from its text.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.senders import from_addresses, split_fields

GENUINE = "registro@secop.gov.co"


def addresses(value: str) -> list[str]:
    return from_addresses(b"From: " + value.encode() + b"\r\nSubject: x\r\n\r\nbody\r\n")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # domain literals (RFC 5322 3.4.1): one literal is the whole domain
        ("registro@[192.0.2.1] (SECOP)", ["registro@[192.0.2.1]"]),
        ("<registro@[192.0.2.1]> (SECOP)", ["registro@[192.0.2.1]"]),
        ("a@[X] (SECOP)", ["a@[x]"]),
        ("a@[1.2.3.4], b@[5.6.7.8]", ["a@[1.2.3.4]", "b@[5.6.7.8]"]),
        ('"Registro]" <registro@[192.0.2.1]>', ["registro@[192.0.2.1]"]),
        # an obsolete route may name a literal (RFC 5322 4.4)
        ("<@[192.0.2.1]:registro@secop.gov.co>", [GENUINE]),
        # a tab inside a quoted string or a comment is white space, not a control
        ('"Registro\tSECOP" <registro@secop.gov.co>', [GENUINE]),
        ("registro@secop.gov.co (SECOP\tII)", [GENUINE]),
        # an escaped ")" does not end a comment
        ("registro@secop.gov.co (a\\))", [GENUINE]),
        # an empty group, then a mailbox
        ("undisclosed-recipients:;, registro@secop.gov.co", [GENUINE]),
        ("undisclosed-recipients:;,registro@secop.gov.co (SECOP)", [GENUINE]),
        # non-ASCII letters are atext (RFC 6532); U+0080 is the first of them
        ("a\u0080b@x.org (SECOP)", ["a\u0080b@x.org"]),
        # a quoted local part stays quoted, its quote and backslash escaped again
        ('"re\\"gi\\\\stro"@secop.gov.co', ['"re\\"gi\\\\stro"@secop.gov.co']),
    ],
)
def test_readable_fields(value: str, expected: list[str]) -> None:
    assert addresses(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # an address starting with X is not the genuine one
        ("Xregistro@secop.gov.co", ["xregistro@secop.gov.co"]),
        # a quoted domain is no domain
        ('registro@"secop.gov.co"', ['registro@"secop.gov.co"']),
        ("a@.", ["a@.", "a@."]),
        # a literal is a whole domain, not its first label
        ("a@[192.0.2.1].x (SECOP)", ["a@[192.0.2.1].x (secop)"]),
        ("a@[[x] (SECOP)", ["a@[[x] (secop)"]),
        ("a@[x\\y] (SECOP)", ["a@[x\\y] (secop)"]),
        ("a@[1.2.3.4 (SECOP)", ["a@[1.2.3.4 (secop)"]),
        # a group needs a display name, and nothing but "," after its ";"
        (":registro@secop.gov.co;", [GENUINE, ":registro@secop.gov.co;"]),
        (
            "g: a@x.org; registro@secop.gov.co",
            ["a@x.org", GENUINE, "g: a@x.org; registro@secop.gov.co"],
        ),
        (
            "g: a@x.org; x registro@secop.gov.co",
            ["a@x.org", GENUINE, "g: a@x.org; x registro@secop.gov.co"],
        ),
        # no group inside a group
        (
            "g: a@x.org: registro@secop.gov.co;",
            ["a@x.org", GENUINE, "g: a@x.org: registro@secop.gov.co;"],
        ),
        ("undisclosed:", ["undisclosed:"]),
        # an address in a comment is no address, but the field names none either
        ("(registro@secop.gov.co)", ["(registro@secop.gov.co)"]),
        # DEL is a control character, also in a quoted string
        ("registro@secop.gov.co\x7f", [GENUINE, "registro@secop.gov.co\x7f"]),
        (
            '"Registro\x7f" <registro@secop.gov.co>',
            [GENUINE, '"registro\x7f" <registro@secop.gov.co>'],
        ),
        # its text: blanks collapsed, ASCII lower-cased, capitals at the ends too
        ("a@x.org   b@y.orgX", ["a@x.org", "b@y.orgx", "a@x.org b@y.orgx"]),
        ('"abc\\', ['"abc\\']),
    ],
)
def test_unreadable_fields_give_their_runs_and_their_text(value: str, expected: list[str]) -> None:
    assert addresses(value) == expected


_NAMES = st.sampled_from([b"From", b"FROM", b"from ", b"From\t", b" From", b"Subject", b"To"])
_FIELDS = st.lists(
    st.tuples(_NAMES, st.binary(max_size=40) | st.just(b" registro@secop.gov.co")), max_size=5
).map(
    lambda fields: b"".join(
        name + b":" + value.replace(b"\r", b"").replace(b"\n", b"") + b"\r\n"
        for name, value in fields
    )
)


@settings(max_examples=300, deadline=None)
@given(_FIELDS | st.binary(max_size=300))
def test_every_from_field_gives_an_entry_lower_cased(data: bytes) -> None:
    """Whatever the bytes: at least one entry per From field the server would list, in ASCII
    lower case; and the genuine sender alone only when exactly one From field names it."""
    entries = from_addresses(data)
    fields = [value for name, value in split_fields(data) if name == "from"]
    assert len(entries) >= len(fields)
    assert not any(set(entry) & set(string.ascii_uppercase) for entry in entries)
    if entries == [GENUINE]:
        assert len(fields) == 1
