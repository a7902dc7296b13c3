"""watcher.authresults, pinned where mutation testing found the suite silent.

The grammar is RFC 8601's (``authserv-id; method[/version]=result ptype.property=value``,
comments and quoted strings as in RFC 5322); the lexer's two readings and the trust rules
are the module docstring's. Each test says what a user gets: a verified link, an
unverified one, or a warning (``auth_failed``, ``dmarc_other_from``, ``auth_unreadable``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import mailfactory as mf
from watcher.authresults import (
    MICROSOFT,
    Assessment,
    AuthResults,
    MethodResult,
    _segments,
    assess,
    parse_header,
    trusted_block,
)
from watcher.model import Kind
from watcher.parsing import parse_message

DOMAIN = "secop.gov.co"
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
URL = mf.reset_url("T0k3n")
FAIL, OTHER, UNREADABLE = "auth_failed", "dmarc_other_from", "auth_unreadable"
PASS = "mx.google.com; dkim=pass header.d=secop.gov.co; dmarc=pass header.from=secop.gov.co"


def ar(value: str) -> tuple[str, str]:
    return ("Authentication-Results", value)


def received(value: str) -> tuple[str, str]:
    return ("Received", value)


def judge(headers: list[tuple[str, str]], **kw: object) -> Assessment:
    kw.setdefault("from_domain", DOMAIN)
    return assess(headers, domain=DOMAIN, **kw)  # type: ignore[arg-type]


def lexed(value: str, *, loose: bool = False) -> tuple[list[list[str]], bool]:
    """The token lists of ``value``, a quoted token shown in double quotes."""
    segments, balanced = _segments(value, loose=loose)
    return [[f'"{t.text}"' if t.quoted else t.text for t in seg] for seg in segments], balanced


# --------------------------------------------------------------------------- lexing


@pytest.mark.parametrize(
    "value",
    [
        "a; b=c () d=e",  # an empty comment
        "a; b=c (()) d=e",  # nested, empty
        "a; b=c (x (y) z) d=e",
        "a; b=c (\\)) d=e",  # an escaped ")" inside a comment
        "a; b=c (x\\(y) d=e",  # an escaped "("
    ],
)
def test_comments_are_dropped_wherever_they_close(value: str) -> None:
    assert lexed(value) == ([["a"], ["b", "=", "c", "d", "=", "e"]], True)


@pytest.mark.parametrize(
    ("value", "tokens"),
    [
        ('a; b="c\\"d" e=f', [["a"], ["b", "=", '"c"d"', "e", "=", "f"]]),  # a quoted-pair
        ('a; b="c;d"; e=f', [["a"], ["b", "=", '"c;d"'], ["e", "=", "f"]]),
        ('a; b="x y"e=f', [["a"], ["b", "=", '"x y"', "e", "=", "f"]]),
    ],
)
def test_quoted_strings_hold_specials_and_end_at_their_quote(
    value: str, tokens: list[list[str]]
) -> None:
    assert lexed(value) == (tokens, True)


@pytest.mark.parametrize(
    ("value", "tokens"),
    [
        # a backslash right before the end escapes nothing: the quote never closes
        ('a; b="c\\', [["a"], ["b", "=", '"c\\"']]),
        # an escaped quote at the very end does not close it either
        ('a; b="c\\"', [["a"], ["b", "=", '"c""']]),
        ('a; b="c; d=e', [["a"], ["b", "=", '"c; d=e"']]),
    ],
)
def test_an_unclosed_quote_runs_to_the_end(value: str, tokens: list[list[str]]) -> None:
    assert lexed(value) == (tokens, False)


def test_the_loose_reading_reads_comments_and_drops_an_unclosed_quote() -> None:
    value = 'mx; dkim=pass (x; y=z) header.d="secop.gov.co; dmarc=fail header.from=a'
    assert lexed(value, loose=True) == (
        [
            ["mx"],
            ["dkim", "=", "pass", "x"],
            ["y", "=", "z", "header.d", "=", "secop.gov.co"],
            ["dmarc", "=", "fail", "header.from", "=", "a"],
        ],
        False,
    )
    # before the unclosed quote, quoted strings are still strings
    assert lexed('mx; a="b;c" d="e; f=g', loose=True) == (
        [["mx"], ["a", "=", '"b;c"', "d", "=", "e"], ["f", "=", "g"]],
        False,
    )


# --------------------------------------------------------------------------- parsing


def result(value: str) -> tuple[MethodResult, ...]:
    parsed = parse_header(value)
    assert parsed is not None
    return parsed.results


def test_every_property_of_a_result_in_order() -> None:
    assert result("mx.google.com; dkim=pass header.i=@secop.gov.co header.s=sel header.b=Zx9k") == (
        MethodResult(
            "dkim",
            "pass",
            (("header.i", "@secop.gov.co"), ("header.s", "sel"), ("header.b", "Zx9k")),
        ),
    )


@pytest.mark.parametrize(
    ("value", "props"),
    [
        # a word that is no property before one that is
        ("mx; dkim=pass extra header.d=secop.gov.co", (("header.d", "secop.gov.co"),)),
        ("mx; dkim=pass a b header.d=secop.gov.co", (("header.d", "secop.gov.co"),)),
        # "header.d secop.gov.co" without "=" is no property
        ("mx; dkim=pass header.d secop.gov.co header.s=sel", (("header.s", "sel"),)),
        # a quoted name is no property name (RFC 8601: ptype.property is a token)
        ('mx; dkim=pass "header.d"=secop.gov.co', ()),
        # "=" as the value is none
        ("mx; dkim=pass header.d==x header.s=sel", (("header.s", "sel"),)),
    ],
)
def test_only_name_equals_value_is_a_property(
    value: str, props: tuple[tuple[str, str], ...]
) -> None:
    assert result(value) == (MethodResult("dkim", "pass", props),)


@pytest.mark.parametrize(
    "value",
    [
        'mx; "dkim"=fail',  # a quoted method is no method
        'mx; dkim "=" fail',  # a quoted "=" is no "="
        "mx; dkim fail header.d",  # no "=" at all
        "mx; dkim==fail",  # no result
        "mx; =fail",  # no method
    ],
)
def test_what_is_not_method_equals_result_is_skipped(value: str) -> None:
    assert result(value) == ()


def test_the_version_is_all_after_the_first_slash() -> None:
    assert result("mx; DKIM/1/2=Fail") == (MethodResult("dkim", "fail"),)


def test_the_authserv_id_loses_its_final_dot() -> None:
    parsed = parse_header("MX.Google.COM.; dkim=pass")
    assert parsed == AuthResults("mx.google.com", (MethodResult("dkim", "pass"),))


# --------------------------------------------------------------------------- both readings


def test_a_comment_in_a_balanced_header_is_never_a_result() -> None:
    value = f"{PASS} (earlier; dmarc=fail header.from=secop.gov.co)"
    assert judge([ar(value)]) == Assessment(True)


def test_a_header_that_only_the_loose_reading_can_read_still_fails() -> None:
    # Strictly, the unclosed "(" swallows the id: only the loose reading finds the provider.
    value = "(mx.google.com; dmarc=fail header.from=secop.gov.co"
    assert judge([ar(value)]) == Assessment(False, (FAIL, UNREADABLE))
    # ... and nothing in it counts as the provider's for a pass
    assert trusted_block([ar(value)]) == []
    assert judge([ar("(mx.google.com; dkim=pass header.d=secop.gov.co")]) == Assessment(
        False, (UNREADABLE,)
    )


def test_the_trusted_block_is_read_the_strict_way() -> None:
    value = 'mx.google.com; dkim=pass header.d="secop.gov.co; dmarc=fail header.from=a.example'
    assert trusted_block([ar(value)]) == [
        AuthResults(
            "mx.google.com",
            (
                MethodResult(
                    "dkim",
                    "pass",
                    (("header.d", "secop.gov.co; dmarc=fail header.from=a.example"),),
                ),
            ),
            balanced=False,
        )
    ]
    assert judge([ar(value)]) == Assessment(False, (OTHER, UNREADABLE))


# --------------------------------------------------------------------------- domains


@pytest.mark.parametrize(
    "value",
    [
        "mx.google.com; dmarc=pass header.from=SECOP.GOV.CO.",
        'mx.google.com; dmarc=pass header.from="< secop.gov.co >"',
        "mx.google.com; dkim=pass header.i=<Registro@SECOP.gov.co>",
        "mx.google.com; dkim=pass header.d=registro@<secop.gov.co>",
    ],
)
def test_domains_are_read_without_case_brackets_blanks_or_final_dot(value: str) -> None:
    assert judge([ar(value)]) == Assessment(True)


def test_the_signing_domain_is_what_follows_the_last_at() -> None:
    # RFC 6376 i= is [Local-part] "@" domain, and a quoted local part may hold "@"
    value = 'mx.google.com; dkim=pass header.i="\\"registro@x\\"@secop.gov.co"'
    assert result(value)[0].prop("header.i") == '"registro@x"@secop.gov.co'
    assert judge([ar(value)]) == Assessment(True)


def test_a_domain_ending_in_x_in_capitals() -> None:
    value = "mx.google.com; dmarc=pass header.from=TRAMITES.GOB.MX"
    assert assess([ar(value)], domain="gob.mx", from_domain="tramites.gob.mx") == Assessment(True)


@pytest.mark.parametrize(
    "value",
    [
        # U+017F LATIN SMALL LETTER LONG S and U+0131 DOTLESS I upper-case to S and I
        "mx.google.com; dkim=pass header.d=\u017fecop.gov.co",
        "mx.google.com; dkim=pass header.d=secop.gov.c\u0131",
    ],
)
def test_a_look_alike_signer_never_verifies(value: str) -> None:
    assert judge([ar(value)]) == Assessment(None)


# --------------------------------------------------------------------------- hops


TRUSTED = ar(PASS)


@pytest.mark.parametrize(
    "hop",
    [
        "by mx.google.com. with ESMTPS id a1si123",  # final dot
        "by 10.0.0.5 with SMTP id x1; Tue, 4 Mar 2025",  # an internal hop: IPv4 literal
        "by [192.0.2.7] with SMTP",
        "by 2002:a17:90a:1a2b:b0:2fe:1 with SMTP id x12",  # Gmail's, not a valid IPv6
        "(qmail 12345 invoked from network); 4 Mar 2025",  # no by, no from
        "(internal) by",  # by with nothing after it
    ],
)
def test_hops_that_do_not_hide_the_provider(hop: str) -> None:
    assert judge([received(hop), TRUSTED]) == Assessment(True)


@pytest.mark.parametrize(
    "hop",
    [
        "from mail.evil.example by",  # a from hop whose by is missing
        "from mail.evil.example (203.0.113.9) by 203.0.113.10 with SMTP",
        "from x by relay.evil.example with SMTP",
        "from x",
    ],
)
def test_an_untrusted_hop_hides_what_lies_below(hop: str) -> None:
    assert judge([received(hop), TRUSTED]) == Assessment(None)
    assert trusted_block([received(hop), TRUSTED]) == []


def test_a_pattern_with_two_stars_trusts_what_follows_the_last() -> None:
    headers = [
        received("from x by mta1.yahoo.com with HTTP"),
        ar("atlas7.bf1.prod.yahoo.com; dkim=pass header.d=secop.gov.co"),
    ]
    assert judge(headers, trusted=("atlas*.bf1.*.yahoo.com",)) == Assessment(True)
    assert judge(headers, trusted=("atlas*.bf1.*.google.com",)) == Assessment(None)


def test_the_microsoft_token_with_a_final_dot() -> None:
    headers = [
        received("from A.prod.outlook.com (2603:10b6::12) by B.prod.outlook.com with HTTPS"),
        ar("spf=pass smtp.mailfrom=secop.gov.co; dkim=pass header.d=secop.gov.co"),
    ]
    assert judge(headers, trusted=(" Microsoft. ",)) == Assessment(True)
    assert judge(headers, trusted=(MICROSOFT,)) == Assessment(True)
    assert judge(headers, trusted=("mx.google.com",)) == Assessment(None)


# --------------------------------------------------------------------------- garbage in

_AR_LIKE = st.lists(
    st.sampled_from(
        [
            "mx.google.com",
            ";",
            " ",
            "dkim",
            "dmarc",
            "=",
            "pass",
            "fail",
            "header.d",
            "header.from",
            "secop.gov.co",
            "evil.example",
            "(",
            ")",
            '"',
            "\\",
            "/1",
            ".",
        ]
    )
    | st.text(st.characters(exclude_characters="\r\n"), max_size=3),
    max_size=20,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_AR_LIKE | st.text(max_size=120))  # parse_header itself takes any text
def test_a_parsed_header_is_always_in_its_normal_form(value: str) -> None:
    parsed = parse_header(value)
    if parsed is None:
        return
    if parsed.authserv_id is not None:
        assert parsed.authserv_id
        assert parsed.authserv_id == parsed.authserv_id.lower()
        assert not parsed.authserv_id.endswith(".")
    else:
        assert parsed.results  # Microsoft's id-less form always has a result
    for r in parsed.results:
        assert r.method and r.method == r.method.lower() and "/" not in r.method
        assert r.result == r.result.lower() and r.result != "="
        assert all(key == key.lower() for key, _ in r.props)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_AR_LIKE, min_size=1, max_size=3))
def test_a_reset_under_any_authentication_results_is_consistent(values: list[str]) -> None:
    raw = mf.prepend_headers(
        mf.reset_mail("jperez", URL, date=WHEN), [("Authentication-Results", v) for v in values]
    )
    verdict = parse_message(raw, internaldate=WHEN)
    auth = {FAIL, OTHER, UNREADABLE} & set(verdict.reasons)
    assert (verdict.verified is False) == bool(auth)
    if verdict.kind is Kind.RESET:
        assert (verdict.url, verdict.reasons, verdict.username) == (URL, (), "jperez")
    else:
        assert verdict.kind is Kind.SUSPICIOUS
        assert auth and set(verdict.reasons) == auth
