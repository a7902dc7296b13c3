"""Every From address of a mail, the way the IMAP server reads it (watcher.senders).

The authority is the server: the battery below is APPENDed to a real Dovecot
and each mail's ``FETCH ENVELOPE`` From list is compared with
:func:`from_addresses` on the raw mail and on the ``HEADER.FIELDS (FROM)`` the
watcher fetches. Where they differ, ours lists at least as many senders, never
a single readable one Dovecot does not name, and the difference is documented
(``why``).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mailfactory import reset_mail, reset_url
from watcher.senders import from_addresses, split_fields

if TYPE_CHECKING:
    from tests.servers.dovecot import Dovecot

GENUINE = "registro@secop.gov.co"
G = b"From: registro@secop.gov.co\r\n"
TAIL = b"To: a@b.c\r\nSubject: x\r\n\r\nhola\r\nFrom: body@x.org\r\n"

# Why ours lists more (or other) entries than Dovecot's ENVELOPE.
UNREADABLE = "unreadable field: its x@y runs and its text; Dovecot keeps what it could read"
FOLDED_NAME = "Dovecot skips it, a reader that unfolds or drops NULs would not"
EMPTY = "a From naming no address still counts; Dovecot lists nothing"
QUOTED = "a quoted local part stays quoted: never the plain address"


@dataclass(frozen=True)
class Case:
    name: str
    header: bytes  # the header lines (TAIL is appended unless whole)
    expected: list[str]
    why: str | None = None  # set where Dovecot's ENVELOPE differs
    whole: bool = False  # header is the whole message

    @property
    def raw(self) -> bytes:
        return self.header if self.whole else self.header + TAIL


E = "evil@attacker.example"
X = "evil@x.org"
BATTERY = [
    # -- the reported forgery and the other name forms
    Case("space-before-colon-first", b"From : evil@attacker.example\r\n" + G, [E, GENUINE]),
    Case("space-before-colon-second", G + b"From : evil@attacker.example\r\n", [GENUINE, E]),
    Case("tab-before-colon", G + b"From\t: evil@attacker.example\r\n", [GENUINE, E]),
    Case("blanks-before-colon", G + b"From   \t : evil@x.org\r\n", [GENUINE, X]),
    Case("two-from-fields", b"From: evil@x.org\r\n" + G, [X, GENUINE]),
    Case("upper-case-name", b"FROM: evil@x.org\r\n" + G, [X, GENUINE]),
    Case("lower-case-name", G + b"from: evil@x.org\r\n", [GENUINE, X]),
    Case("mixed-case-name", b"FrOm: evil@x.org\r\n" + G, [X, GENUINE]),
    Case("no-space-after-colon", b"From:registro@secop.gov.co\r\n", [GENUINE]),
    Case("folded-after-colon", G + b"From :\r\n evil@x.org\r\n", [GENUINE, X]),
    Case("folded-before-colon", G + b"From\r\n : evil@x.org\r\n", [GENUINE, X], FOLDED_NAME),
    Case("first-line-starts-blank", b" From: evil@x.org\r\n" + G, [X, GENUINE], FOLDED_NAME),
    Case("nul-in-name", b"Fr\x00om: evil@x.org\r\n" + G, [X, GENUINE], FOLDED_NAME),
    Case("space-inside-name", b"Fr om: evil@x.org\r\n" + G, [GENUINE]),
    Case("nbsp-before-colon", G + b"From\xc2\xa0: evil@x.org\r\n", [GENUINE]),
    Case("vt-before-colon", G + b"From\x0b: evil@x.org\r\n", [GENUINE]),
    Case("full-width-f", G + b"\xef\xbc\xa6rom: evil@x.org\r\n", [GENUINE]),
    Case("bom-before-name", b"\xef\xbb\xbfFrom: evil@x.org\r\n" + G, [GENUINE]),
    Case("resent-from-and-sender", G + b"Resent-From: a@x.org\r\nSender: b@x.org\r\n", [GENUINE]),
    Case("from-inside-subject-fold", b"Subject: hi\r\n From: evil@x.org\r\n" + G, [GENUINE]),
    # -- lines and the end of the header block
    Case("mbox-line-first", b"From evil@x.org Mon Jan  1 00:00:00 2024\r\n" + G, [GENUINE]),
    Case(
        "mbox-line-then-space-colon",
        b"From evil@x.org Mon Jan  1 00:00:00 2024\r\nFrom : evil@x.org\r\n" + G,
        [X, GENUINE],
    ),
    Case("mbox-escaped-line", b">From evil@x.org\r\n" + G, [GENUINE]),
    Case("from-without-colon", G + b"From evil@x.org\r\n", [GENUINE]),
    Case("bare-from-line", b"From\r\n" + G, [GENUINE]),
    Case("line-without-colon", G + b"garbage line\r\nFrom: evil@x.org\r\n", [GENUINE, X]),
    Case("blank-only-line", G + b" \r\nFrom: evil@x.org\r\n", [GENUINE, X]),
    Case("tab-only-line", G + b"\t\r\nFrom: evil@x.org\r\n", [GENUINE, X]),
    Case("blank-first-line", b" \r\nFrom: evil@x.org\r\n\r\n", [X], whole=True),
    Case("blank-line-then-end", G + b" \r\n\r\nFrom: evil@x.org\r\n", [GENUINE], whole=True),
    Case(
        "lf-only",
        b"From: evil@x.org\nFrom: registro@secop.gov.co\nSubject: x\n\nFrom: b@x.org\n",
        [X, GENUINE],
        whole=True,
    ),
    Case("lone-cr-splits", G + b"From: a@b.c\rFrom: evil@x.org\r\n", [GENUINE, "a@b.c", X]),
    Case("cr-in-name", G + b"From\r: evil@x.org\r\n", [GENUINE]),
    Case("crlf-cr-ends", G + b"\rFrom: evil@x.org\r\n\r\n", [GENUINE], whole=True),
    Case("cr-cr-ends", G[:-1] + b"\rFrom: evil@x.org\r\n\r\n", [GENUINE], whole=True),
    Case("crlf-lf-ends", G + b"\nFrom: evil@x.org\r\n\r\n", [GENUINE], whole=True),
    Case("empty-first-line", b"\r\nFrom: evil@x.org\r\n\r\n", [], whole=True),
    Case("header-only-no-body", b"From : evil@x.org\r\n" + G, [X, GENUINE], whole=True),
    Case("no-final-line-break", b"From: a@b.c\r\nFrom: evil@x.org", ["a@b.c", X], whole=True),
    # -- the address list
    Case("genuine-plain", G, [GENUINE]),
    Case("genuine-quoted-name", b'From: "SECOP II" <registro@secop.gov.co>\r\n', [GENUINE]),
    Case("genuine-upper-case", b"From: SECOP II <REGISTRO@SECOP.GOV.CO>\r\n", [GENUINE]),
    Case("phrase-with-dot", b"From: J. Perez <registro@secop.gov.co>\r\n", [GENUINE]),
    Case("empty-quoted-name", b'From: "" <registro@secop.gov.co>\r\n', [GENUINE]),
    Case("blanks-in-addr-spec", b"From: registro @ secop . gov.co\r\n", [GENUINE]),
    Case("comment-names-evil", b"From: registro@secop.gov.co (evil@x.org)\r\n", [GENUINE]),
    Case("nested-comment", b"From: registro@secop.gov.co (a (b) c)\r\n", [GENUINE]),
    Case("comment-in-addr-spec", b"From: registro(x)@secop.gov.co\r\n", [GENUINE]),
    Case("quoted-pair-in-comment", b"From: registro@secop.gov.co (a\\) evil@x.org)\r\n", [GENUINE]),
    Case(
        "folded-list",
        b"From: SECOP\r\n <registro@secop.gov.co>,\r\n\tevil@x.org\r\n",
        [GENUINE, X],
    ),
    Case("two-in-one-field", b"From: registro@secop.gov.co, evil@x.org\r\n", [GENUINE, X]),
    Case("group", b"From: grp: evil@x.org, registro@secop.gov.co;\r\n", [X, GENUINE]),
    Case("angle-in-group", b"From: g: <evil@x.org>;, registro@secop.gov.co\r\n", [X, GENUINE]),
    Case("empty-group", b"From: undisclosed:;\r\n" + G, ["undisclosed:;", GENUINE], EMPTY),
    Case("empty-from", G + b"From:\r\n", [GENUINE, ""], EMPTY),
    Case(
        "quoted-name-with-angle-and-comma",
        b'From: "registro@secop.gov.co, <a@b.c>" <evil@x.org>\r\n',
        [X],
    ),
    Case("quoted-name-is-genuine", b'From: "registro@secop.gov.co" <evil@x.org>\r\n', [X]),
    Case(
        "escaped-quote-in-name",
        b'From: "a\\"b <evil@x.org>" <registro@secop.gov.co>\r\n',
        [GENUINE],
    ),
    Case("crlf-in-quoted-name", b'From: "a\r\n b" <registro@secop.gov.co>\r\n', [GENUINE]),
    Case(
        "encoded-name", b"From: =?utf-8?q?evil=40x=2Eorg?= <registro@secop.gov.co>\r\n", [GENUINE]
    ),
    Case(
        "encoded-genuine-name",
        b"From: =?utf-8?q?registro=40secop.gov.co?= <evil@x.org>\r\n",
        [X],
    ),
    Case(
        "encoded-address",
        b"From: =?utf-8?q?registro=40secop=2Egov=2Eco?=\r\n",
        ["=?utf-8?q?registro=40secop=2egov=2eco?="],
    ),
    Case(
        "encoded-base64-address",
        b"From: =?utf-8?b?cmVnaXN0cm9Ac2Vjb3AuZ292LmNv?=\r\n",
        ["=?utf-8?b?cmvnaxn0cm9ac2vjb3auz292lmnv?="],
    ),
    Case(
        "encoded-in-angle",
        b"From: <=?utf-8?q?registro=40secop=2Egov=2Eco?=>\r\n",
        ["<=?utf-8?q?registro=40secop=2egov=2eco?=>"],
    ),
    Case("route", b"From: <@relay.x:evil@x.org>\r\n", [X]),
    Case("route-list", b"From: <@a.x,@b.y:evil@x.org>\r\n", [X]),
    Case("ip-literal", b"From: evil@[1.2.3.4]\r\n", ["evil@[1.2.3.4]"]),
    Case("literal-with-blanks", b"From: evil@[ 1.2.3.4 ]\r\n", ["evil@[ 1.2.3.4 ]"]),
    Case("quoted-local", b'From: "evil"@x.org\r\n', ['"evil"@x.org'], QUOTED),
    Case(
        "quoted-local-genuine",
        b'From: "registro@secop.gov.co"@evil.org\r\n',
        ['"registro@secop.gov.co"@evil.org'],
        QUOTED,
    ),
    Case("utf8-name", b"From: Jos\xc3\xa9 <registro@secop.gov.co>\r\n", [GENUINE]),
    Case("latin1-name", b"From: Jos\xe9 <registro@secop.gov.co>\r\n", [GENUINE]),
    Case("utf8-local", b"From: registr\xc3\xb3@secop.gov.co\r\n", ["registró@secop.gov.co"]),
    Case("no-at", G + b"From: justtext\r\n", [GENUINE, "justtext"]),
    Case("garbled", G + b"From: <<<>>>\r\n", [GENUINE, "<<<>>>"]),
    Case("empty-angle", b"From: <>\r\n", ["<>"]),
    Case("semicolon-only", b"From: ;\r\n", [";"]),
    Case("vt-in-address", b"From: registro\x0b@secop.gov.co\r\n", ["registro\x0b@secop.gov.co"]),
    Case(
        "non-ascii-capital",
        "From: REGİSTRO@SECOP.GOV.CO\r\n".encode(),
        ["regİstro@secop.gov.co"],
    ),
    Case(
        "nul-in-quoted-name",
        b'From: "SECOP\x00" <registro@secop.gov.co>\r\n',
        [GENUINE, '"secop\x00" <registro@secop.gov.co>'],
        UNREADABLE,
    ),
    Case(
        "bell-in-comment",
        b"From: registro@secop.gov.co (x\x07)\r\n",
        [GENUINE, "registro@secop.gov.co (x\x07)"],
        UNREADABLE,
    ),
    Case(
        "words-before-at",
        b"From: a b c@x.org\r\n",
        ["c@x.org", "a b c@x.org"],
        UNREADABLE,
    ),
    Case(
        "quoted-route",
        b'From: <@"relay":evil@x.org>\r\n',
        [X, '<@"relay":evil@x.org>'],
        UNREADABLE,
    ),
    Case(
        "semicolon-in-route",
        b"From: <@a.x;@b.y:evil@x.org>\r\n",
        ["evil@x.org", "<@a.x;@b.y:evil@x.org>"],
        UNREADABLE,
    ),
    # -- unreadable fields: Dovecot keeps the first address, ours keeps everything
    Case(
        "unquoted-name-is-address",
        b"From: registro@secop.gov.co <evil@x.org>\r\n",
        [GENUINE, X, "registro@secop.gov.co <evil@x.org>"],
        UNREADABLE,
    ),
    Case(
        "two-angles",
        b"From: <registro@secop.gov.co> <evil@x.org>\r\n",
        [GENUINE, X, "<registro@secop.gov.co> <evil@x.org>"],
        UNREADABLE,
    ),
    Case(
        "text-after-angle",
        b"From: Registro <registro@secop.gov.co> evil@x.org\r\n",
        [GENUINE, X, "registro <registro@secop.gov.co> evil@x.org"],
        UNREADABLE,
    ),
    Case(
        "semicolon-separator",
        b"From: registro@secop.gov.co; evil@x.org\r\n",
        [GENUINE, X, "registro@secop.gov.co; evil@x.org"],
        UNREADABLE,
    ),
    Case(
        "second-at",
        b"From: registro@secop.gov.co@evil.org\r\n",
        [GENUINE, "registro@secop.gov.co@evil.org"],
        UNREADABLE,
    ),
    Case(
        "colon-after-address",
        b"From: evil@x.org: registro@secop.gov.co\r\n",
        [X, GENUINE, "evil@x.org: registro@secop.gov.co"],
        UNREADABLE,
    ),
    Case(
        "group-without-semicolon",
        b"From: grp: evil@x.org, registro@secop.gov.co\r\n",
        [X, GENUINE, "grp: evil@x.org, registro@secop.gov.co"],
        UNREADABLE,
    ),
    Case(
        "group-in-group",
        b"From: a: b: evil@x.org;;\r\n",
        [X, "a: b: evil@x.org;;"],
        UNREADABLE,
    ),
    Case(
        "double-comma",
        b"From: registro@secop.gov.co,,evil@x.org\r\n",
        [GENUINE, X, "registro@secop.gov.co,,evil@x.org"],
        UNREADABLE,
    ),
    Case(
        "trailing-comma",
        b"From: registro@secop.gov.co,\r\n",
        [GENUINE, "registro@secop.gov.co,"],
        UNREADABLE,
    ),
    Case(
        "unclosed-comment-first",
        b"From: (registro@secop.gov.co\r\n",
        [GENUINE, "(registro@secop.gov.co"],
        UNREADABLE,
    ),
    Case(
        "unclosed-comment-after",
        b"From: registro@secop.gov.co (evil@x.org\r\n",
        [GENUINE, X, "registro@secop.gov.co (evil@x.org"],
        UNREADABLE,
    ),
    Case(
        "unclosed-quote",
        b'From: "unterminated <registro@secop.gov.co>\r\n',
        [GENUINE, '"unterminated <registro@secop.gov.co>'],
        UNREADABLE,
    ),
    Case(
        "unclosed-angle",
        b"From: <registro@secop.gov.co\r\n",
        [GENUINE, "<registro@secop.gov.co"],
        UNREADABLE,
    ),
    Case(
        "nul-in-address",
        b"From: registro@secop.gov.co\x00evil@x.org\r\n",
        [GENUINE, X, "registro@secop.gov.co\x00evil@x.org"],
        UNREADABLE,
    ),
    Case(
        "form-feed-after-address",
        b"From: registro@secop.gov.co\x0c\r\n",
        [GENUINE, "registro@secop.gov.co\x0c"],
        UNREADABLE,
    ),
    Case(
        "trailing-dot",
        b"From: registro@secop.gov.co.\r\n",
        ["registro@secop.gov.co.", "registro@secop.gov.co."],
        UNREADABLE,
    ),
    Case(
        "double-dot",
        b"From: registro..x@secop.gov.co\r\n",
        ["registro..x@secop.gov.co", "registro..x@secop.gov.co"],
        UNREADABLE,
    ),
]

# --------------------------------------------------------------------------- the battery


@pytest.mark.parametrize("case", BATTERY, ids=[c.name for c in BATTERY])
def test_battery(case: Case) -> None:
    assert from_addresses(case.raw) == case.expected
    # The header block alone reads the same as the whole message.
    head = case.raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" if not case.whole else case.raw
    assert from_addresses(head) == case.expected


def test_battery_names_are_unique() -> None:
    assert len({c.name for c in BATTERY}) == len(BATTERY) > 90


_PLAIN = re.compile(
    r'[^\x00-\x20\x7f"(),:;<>@\[\\\]]+@(?:[^\x00-\x20\x7f"(),:;<>@\[\\\]]+|\[[^\[\\\]]*\])'
)
_SENTINELS = {b"MISSING_MAILBOX", b"MISSING_DOMAIN", b"SYNTAX_ERROR"}


def _ours(entries: list[str]) -> list[str]:
    """Readable addresses as they are; any other entry as "?"."""
    return [e if _PLAIN.fullmatch(e) else "?" for e in entries]


def _dovecots(envelope: Any) -> list[str]:
    """ENVELOPE From: mailbox@host, lower-cased; group markers (no host) left out,
    addresses Dovecot could not read (MISSING_*, SYNTAX_ERROR) as "?"."""
    out = []
    for address in envelope.from_ or ():
        if address.host is None:
            continue
        if {address.mailbox, address.host} & _SENTINELS:
            out.append("?")
        else:
            text = (address.mailbox or b"") + b"@" + address.host
            decoded = text.decode("utf-8", "replace")
            out.append("".join(c.lower() if c.isascii() else c for c in decoded))
    return out


def _at_least_as_strict(ours: list[str], dovecot: list[str]) -> bool:
    """As many entries or more, and never one readable address Dovecot does not name."""
    single = len(ours) == 1 and ours[0] != "?"
    return len(ours) >= len(dovecot) and (not single or ours == dovecot)


@pytest.mark.dovecot
def test_the_imap_server_never_sees_more_senders(dovecot: Dovecot) -> None:
    with dovecot.connect("jperez") as client:
        for case in BATTERY:
            client.append("INBOX", case.raw)
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search("ALL"))
        fetched = client.fetch(uids, ["ENVELOPE", "BODY.PEEK[HEADER.FIELDS (FROM)]"])
    assert len(uids) == len(BATTERY)
    differing = []
    for case, uid in zip(BATTERY, uids, strict=True):
        server = _dovecots(fetched[uid][b"ENVELOPE"])
        # The raw mail (the parse command) and the header fields the watcher fetches.
        fields = fetched[uid][b"BODY[HEADER.FIELDS (FROM)]"]
        for view in (case.raw, fields):
            ours = _ours(from_addresses(view))
            if ours != server:
                differing.append(case.name)
                assert case.why, (case.name, ours, server)
                assert _at_least_as_strict(ours, server), (case.name, ours, server)
    # Dovecot agrees with the forgeries that got through before.
    by_name = dict(zip([c.name for c in BATTERY], uids, strict=True))
    assert _dovecots(fetched[by_name["space-before-colon-first"]][b"ENVELOPE"]) == [E, GENUINE]
    assert _dovecots(fetched[by_name["line-without-colon"]][b"ENVELOPE"]) == [GENUINE, X]
    assert "unquoted-name-is-address" in differing


# --------------------------------------------------------------------------- units


def test_a_real_reset_mail_has_its_one_sender() -> None:
    raw = reset_mail("jperez", reset_url(), date=datetime(2025, 3, 4, 15, 30, tzinfo=UTC))
    assert from_addresses(raw) == [GENUINE]
    assert from_addresses(b"From : evil@attacker.example\r\n" + raw) == [E, GENUINE]


def test_no_header_or_no_from() -> None:
    assert from_addresses(b"") == []
    assert from_addresses(b"\r\n\r\n") == []
    assert from_addresses(b"Subject: hola\r\nTo: a@b.c\r\n\r\nFrom: x@y.z\r\n") == []


def test_accepts_bytes_like() -> None:
    assert from_addresses(bytearray(G)) == [GENUINE]
    assert from_addresses(memoryview(G)) == [GENUINE]  # type: ignore[arg-type]


def test_split_fields_names_values_and_folding() -> None:
    block = b"FROM :a@b.c\r\nSubject: one\r\n two\r\n\tthree\r\nX-Bad\r\n\r\nBody: no\r\n"
    assert split_fields(block) == [("from", "a@b.c"), ("subject", " one two\tthree")]
    assert split_fields(b"X: \xff\xfe\r\n") == [("x", " \ufffd\ufffd")]


def test_long_and_nested_input_stays_fast() -> None:
    for value in (b"a" * 200_000 + b"(", b"((((" * 50_000, b"a@" * 100_000, b"g: a@b," * 40_000):
        entries = from_addresses(b"From: " + value + b"\r\n")
        assert len(entries) >= 1
        assert entries[-1] == value.decode().strip()


# --------------------------------------------------------------------------- properties

FRAGMENTS = [
    "registro",
    "@",
    "secop.gov.co",
    "evil",
    "x.org",
    ".",
    " ",
    "\t",
    "<",
    ">",
    ",",
    ";",
    ":",
    "(",
    ")",
    '"',
    "\\",
    "[",
    "]",
    "\x00",
    "\x0c",
    "=?utf-8?q?",
    "=40",
    "?=",
    "é",
    "\ufffd",
    "\r\n ",
]
fragments = st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join)
names = st.sampled_from(["From", "FROM", "from", "From ", "From\t", "From \t "])


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_never_raises_on_any_bytes(data: bytes) -> None:
    result = from_addresses(data)
    assert isinstance(result, list)
    assert all(isinstance(entry, str) for entry in result)


@settings(max_examples=500, deadline=None)
@given(names, st.one_of(fragments, st.binary(max_size=60).map(lambda b: b.decode("latin-1"))))
def test_a_second_from_field_never_hides(name: str, value: str) -> None:
    """Whatever a second From holds, the genuine one is never the only sender."""
    data = value.encode("utf-8").replace(b"\r", b"").replace(b"\n", b"")
    raw = G + name.encode() + b":" + data + b"\r\n" + TAIL
    entries = from_addresses(raw)
    assert len(entries) >= 2
    assert entries[0] == GENUINE


@settings(max_examples=500, deadline=None)
@given(fragments)
def test_one_readable_address_only_when_the_stdlib_reads_it_too(value: str) -> None:
    """We are never more lenient than ``email.utils.getaddresses``: when we read
    exactly one address, the stdlib reads that one and no other."""
    entries = from_addresses(b"From: " + value.encode() + b"\r\n\r\n")
    if len(entries) == 1 and _PLAIN.fullmatch(entries[0]):
        unfolded = value.replace("\r\n", "")
        assert [a.lower() for _, a in getaddresses([unfolded]) if a] == entries


atoms = st.text(
    string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~", min_size=1, max_size=6
)
labels = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=6)
addr_specs = st.builds(
    "{}@{}".format,
    st.lists(atoms, min_size=1, max_size=3).map(".".join),
    st.lists(labels, min_size=1, max_size=3).map(".".join),
)
quoted_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'), max_size=12
)
display = st.one_of(
    st.none(),
    st.lists(atoms, min_size=1, max_size=3).map(" ".join),
    quoted_text.map('"{}"'.format),
)
comments = st.one_of(
    st.just(""),
    st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="()\\"),
        max_size=10,
    ).map(" ({})".format),
)


@st.composite
def mailboxes(draw: st.DrawFn) -> tuple[str, str]:
    address = draw(addr_specs)
    name = draw(display)
    text = address if name is None else f"{name} <{address}>"
    return text + draw(comments), address.lower()


@settings(max_examples=500, deadline=None)
@given(st.lists(mailboxes(), min_size=1, max_size=4), st.booleans())
def test_well_formed_lists_read_like_the_stdlib(boxes: list[tuple[str, str]], fold: bool) -> None:
    value = (",\r\n " if fold else ", ").join(text for text, _ in boxes)
    expected = [address for _, address in boxes]
    assert from_addresses(b"From: " + value.encode() + b"\r\n\r\n") == expected
    assert [a.lower() for _, a in getaddresses([value.replace("\r\n", "")])] == expected
