"""Sender authentication from Authentication-Results (RFC 8601): parser, trust, integration."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cliutil import run
from tests.mailfactory import prepend_headers, reset_mail, reset_url
from watcher.authresults import (
    DEFAULT_TRUSTED_AUTHSERV_IDS,
    MICROSOFT,
    REASON_AUTH_FAILED,
    REASON_AUTH_UNREADABLE,
    REASON_DMARC_OTHER_FROM,
    Assessment,
    AuthResults,
    MethodResult,
    assess,
    parse_header,
    sender_verified,
    trusted_block,
)
from watcher.choosing import choose
from watcher.config import WatchConfig, build, validate
from watcher.model import Found, Kind, Link, Status, Verdict
from watcher.notify import link_body
from watcher.parsing import parse_message
from watcher.render import link_json, link_lines

WHEN = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)
URL = reset_url("dmFsaWRhZG8tcG9yLWRtYXJj")
DOMAIN = "secop.gov.co"

# --------------------------------------------------------------------------- real-world shapes
# The receiving provider's headers as they sit at the top of a delivered message
# (top first), modelled on published examples of each provider's format.

GMAIL_PASS = (
    "mx.google.com;\n"
    "       dkim=pass header.i=@secop.gov.co header.s=selector1 header.b=Zx9kQm3a;\n"
    "       spf=pass (google.com: domain of registro@secop.gov.co designates 52.100.1.2 as "
    "permitted sender) smtp.mailfrom=registro@secop.gov.co;\n"
    "       dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=secop.gov.co"
)
GMAIL_NONE = (
    "mx.google.com;\n"
    "       spf=pass (google.com: domain of x@relay.example designates 203.0.113.9 as "
    "permitted sender) smtp.mailfrom=x@relay.example;\n"
    "       dmarc=none header.from=secop.gov.co"
)
GMAIL_TOP = [
    ("Delivered-To", "usuario@gmail.com"),
    (
        "Received",
        "by 2002:a05:6a10:9e0c:b0:5a1:2b3c:4d5e with SMTP id x12csp345678pxa;\n"
        "        Tue, 4 Mar 2025 07:30:12 -0800 (PST)",
    ),
    ("X-Received", "by 2002:a17:90a:1a2b:b0:2fe:1 with SMTP id 98e67ed59e1d1-2fe;"),
    ("ARC-Authentication-Results", "i=1; mx.google.com; dmarc=pass header.from=secop.gov.co"),
    ("Return-Path", "<registro@secop.gov.co>"),
    (
        "Received",
        "from mail.secop.gov.co (mail.secop.gov.co. [52.100.1.2])\n"
        "        by mx.google.com with ESMTPS id a1si123.2025.03.04.07.30.11\n"
        "        for <usuario@gmail.com>;\n        Tue, 04 Mar 2025 07:30:11 -0800 (PST)",
    ),
    ("Received-SPF", "pass (google.com: domain of registro@secop.gov.co) client-ip=52.100.1.2;"),
]

MICROSOFT_PASS = (
    "spf=pass (sender IP is 52.100.1.2)\n smtp.mailfrom=secop.gov.co; dkim=pass (signature was"
    " verified)\n header.d=secop.gov.co;dmarc=bestguesspass action=none\n"
    " header.from=secop.gov.co;compauth=pass reason=109"
)
MICROSOFT_TOP = [
    (
        "Received",
        "from SA1PR12MB8123.namprd12.prod.outlook.com (2603:10b6:806:38c::12) by\n"
        " DM6PR12MB4321.namprd12.prod.outlook.com with HTTPS; Tue, 4 Mar 2025 15:30:13 +0000",
    ),
    (
        "Received",
        "from BN9PR03CA0456.namprd03.prod.outlook.com (2603:10b6:408:139::11) by\n"
        " SA1PR12MB8123.namprd12.prod.outlook.com (2603:10b6:806:38c::12) with Microsoft SMTP\n"
        " Server (version=TLS1_2) id 15.20.8489.25; Tue, 4 Mar 2025 15:30:13 +0000",
    ),
    (
        "Received",
        "from BN2PEPF000044A9.namprd04.prod.outlook.com (2603:10b6:408:139:cafe::5e) by\n"
        " BN9PR03CA0456.outlook.office365.com (2603:10b6:408:139::11) with Microsoft SMTP\n"
        " Server (version=TLS1_3) id 15.20.8489.28 via Frontend Transport",
    ),
]
MICROSOFT_BELOW = [
    (
        "Received-SPF",
        "Pass (protection.outlook.com: domain of secop.gov.co designates 52.100.1.2 as permitted"
        " sender) receiver=protection.outlook.com; client-ip=52.100.1.2; helo=mail.secop.gov.co;",
    ),
    (
        "Received",
        "from mail.secop.gov.co (52.100.1.2) by\n BN2PEPF000044A9.mail.protection.outlook.com"
        " (10.167.243.154) with Microsoft SMTP Server id 15.20.8489.16",
    ),
]

YAHOO_ID = "atlas-production.v2-mail-prod1-bf1.omega.yahoo.com"
YAHOO_PASS = (
    f"{YAHOO_ID};\n dkim=pass header.i=@secop.gov.co header.s=selector1;\n"
    " spf=pass smtp.mailfrom=secop.gov.co;\n dmarc=pass(p=QUARANTINE) header.from=secop.gov.co;"
)
YAHOO_TOP = [
    (
        "Received",
        f"from 127.0.0.1\n by {YAHOO_ID} pod-id atlas--production-bf1-5f8c9d-abcde.bf1.yahoo.com"
        " with HTTP; Tue, 4 Mar 2025 15:30:14 +0000",
    ),
    ("Return-Path", "<registro@secop.gov.co>"),
    ("X-Originating-Ip", "[52.100.1.2]"),
    ("Received-SPF", "pass (domain of secop.gov.co designates 52.100.1.2 as permitted sender)"),
]

FORGED_PASS = "mx.google.com; dkim=pass header.d=secop.gov.co; dmarc=pass header.from=secop.gov.co"


def verified(headers: list[tuple[str, str]], **kw: object) -> bool | None:
    return sender_verified(headers, domain=DOMAIN, **kw)  # type: ignore[arg-type]


def ar(value: str) -> tuple[str, str]:
    return ("Authentication-Results", value)


def mail(auth: list[str] | None = None, **kw: object) -> bytes:
    return reset_mail("jperez", URL, date=WHEN, auth_results=auth, **kw)  # type: ignore[arg-type]


def parse(raw: bytes, **kw: object) -> Verdict:
    return parse_message(raw, internaldate=WHEN, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- parser


def test_parses_gmail_with_comments_folding_and_header_i() -> None:
    parsed = parse_header(GMAIL_PASS)
    assert parsed is not None
    assert parsed.authserv_id == "mx.google.com"
    assert [(r.method, r.result) for r in parsed.results] == [
        ("dkim", "pass"),
        ("spf", "pass"),
        ("dmarc", "pass"),
    ]
    assert parsed.results[0].prop("header.i") == "@secop.gov.co"
    assert parsed.results[2].prop("header.from") == "secop.gov.co"


def test_parses_microsoft_without_id_with_bestguesspass_and_compauth() -> None:
    parsed = parse_header(MICROSOFT_PASS)
    assert parsed is not None
    assert parsed.authserv_id is None
    methods = {r.method: r for r in parsed.results}
    assert methods["dkim"].prop("header.d") == "secop.gov.co"
    assert methods["dmarc"].result == "bestguesspass"
    assert methods["dmarc"].prop("action") == "none"
    assert methods["compauth"] == MethodResult("compauth", "pass", (("reason", "109"),))


def test_parses_yahoo_comment_glued_to_result() -> None:
    parsed = parse_header(YAHOO_PASS)
    assert parsed is not None
    assert parsed.authserv_id == YAHOO_ID
    assert [(r.method, r.result) for r in parsed.results][-1] == ("dmarc", "pass")


def test_parser_tolerates_case_quotes_versions_and_stray_parts() -> None:
    value = (
        'MX.Example.ORG 1; (a (nested) comment) DKIM/1 = Pass (ok) Header.D = "secop.gov.co";'
        ' none; lists.example.org; spf=pass smtp.mailfrom="<a\\"b@x.org>"; reason'
    )
    assert parse_header(value) == AuthResults(
        "mx.example.org",
        (
            MethodResult("dkim", "pass", (("header.d", "secop.gov.co"),)),
            MethodResult("spf", "pass", (("smtp.mailfrom", '<a"b@x.org>'),)),
        ),
    )


def test_microsoft_extra_recipient_domain_after_header_d_is_skipped() -> None:
    value = (
        "spf=pass (sender IP is 63.35.35.123) smtp.mailfrom=secop.gov.co; lists.example.org;"
        " dkim=pass (signature was verified) header.d=secop.gov.co;lists.example.org;"
        " dmarc=pass action=none header.from=secop.gov.co;"
    )
    parsed = parse_header(value)
    assert parsed is not None
    assert [r.method for r in parsed.results] == ["spf", "dkim", "dmarc"]


@pytest.mark.parametrize(
    "value", ["", "   ", ";", "(", '"', "((((", "=;=;=", "spf", "\x00\udcff", "a;b;c"]
)
def test_garbage_is_no_result_or_empty(value: str) -> None:
    parsed = parse_header(value)
    assert parsed is None or parsed.results == ()


# --------------------------------------------------------------------------- providers


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([*GMAIL_TOP, ar(GMAIL_PASS)], id="gmail"),
        pytest.param([*MICROSOFT_TOP, ar(MICROSOFT_PASS), *MICROSOFT_BELOW], id="microsoft"),
        pytest.param([*YAHOO_TOP, ar(YAHOO_PASS)], id="yahoo"),
        pytest.param(
            [
                ar(
                    "atlas206.free.mail.ne1.yahoo.com;\n dkim=pass header.i=@mail.secop.gov.co"
                    " header.s=default;\n spf=none smtp.mailfrom=secop.gov.co;\n"
                    " dmarc=unknown header.from=secop.gov.co;"
                )
            ],
            id="yahoo-other-atlas-dkim-only-subdomain",
        ),
    ],
)
def test_each_provider_real_world_format_verifies(headers: list[tuple[str, str]]) -> None:
    assert verified(headers) is True


def test_microsoft_plain_dmarc_pass_and_subdomain_signer() -> None:
    value = (
        "spf=pass (sender IP is 52.100.1.2) smtp.mailfrom=secop.gov.co; dkim=pass (signature was"
        " verified) header.d=notificaciones.secop.gov.co;dmarc=pass action=none"
        " header.from=secop.gov.co;compauth=pass reason=100"
    )
    assert verified([*MICROSOFT_TOP, ar(value)]) is True


def test_microsoft_idless_header_needs_the_microsoft_token() -> None:
    headers = [*MICROSOFT_TOP, ar(MICROSOFT_PASS)]
    assert verified(headers, trusted=("mx.google.com",)) is None
    assert verified(headers, trusted=(MICROSOFT,)) is True


def test_gmail_dmarc_fail_is_false() -> None:
    value = GMAIL_PASS.replace("dmarc=pass (p=QUARANTINE", "dmarc=fail (p=QUARANTINE").replace(
        "dkim=pass", "dkim=none"
    )
    assert verified([*GMAIL_TOP, ar(value)]) is False


def test_microsoft_dmarc_fail_with_action_is_false() -> None:
    value = (
        "spf=fail (sender IP is 198.51.100.7) smtp.mailfrom=secop.gov.co; dkim=none (message not"
        " signed) header.d=none;dmarc=fail action=oreject header.from=secop.gov.co;"
        "compauth=fail reason=000"
    )
    assert verified([*MICROSOFT_TOP, ar(value)]) is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mx.google.com; dkim=fail header.d=secop.gov.co", False),
        ("mx.google.com; dkim=fail header.i=@secop.gov.co; dkim=pass header.d=secop.gov.co", True),
        (
            "mx.google.com; dkim=fail header.d=secop.gov.co; dmarc=pass header.from=secop.gov.co",
            True,
        ),
        ("mx.google.com; dkim=fail header.d=other.example", None),
        ("mx.google.com; dkim=pass header.d=secop.gov.co.evil.example", None),
        ("mx.google.com; dkim=pass header.d=evilsecop.gov.co", None),
        ("mx.google.com; spf=pass smtp.mailfrom=registro@secop.gov.co", None),
        ("mx.google.com; dmarc=temperror header.from=secop.gov.co", None),
        ("mx.google.com; none", None),
    ],
)
def test_results_about_the_domain_only(value: str, expected: bool | None) -> None:
    assert verified([ar(value)]) is expected


@pytest.mark.parametrize("result", ["pass", "fail", "none"])
def test_dmarc_about_the_mails_own_other_from_is_no_verdict_on_the_domain(result: str) -> None:
    # A mail from evil.example (the caller flags sender_mismatch): its DMARC result
    # is about its own From, not about secop.gov.co.
    headers = [ar(f"mx.google.com; dmarc={result} header.from=evil.example")]
    expected = False if result == "fail" else None
    assert verified(headers, from_domain="evil.example") is expected


def test_dmarc_without_header_from_uses_the_from_domain() -> None:
    headers = [ar("mx.google.com; dmarc=pass")]
    assert verified(headers) is None
    assert verified(headers, from_domain="secop.gov.co") is True
    assert verified(headers, from_domain="evil.example") is None


def test_missing_headers_are_unverified() -> None:
    assert verified([]) is None
    assert verified(GMAIL_TOP) is None
    assert verified([("Subject", "hola"), ("From", "registro@secop.gov.co")]) is None


# --------------------------------------------------------------------------- topmost only


@pytest.mark.parametrize(
    "real",
    [
        pytest.param(GMAIL_NONE, id="real-says-none"),
        pytest.param("mx.google.com; spf=pass smtp.mailfrom=x@relay.example", id="real-no-dmarc"),
        pytest.param("mx.google.com; none", id="real-no-result"),
    ],
)
@pytest.mark.parametrize("between", [[], [("Received", "from evil by relay.evil.example")]])
def test_forged_pass_below_the_real_header_is_ignored(
    real: str, between: list[tuple[str, str]]
) -> None:
    headers = [*GMAIL_TOP, ar(real), *between, ar(FORGED_PASS), ("From", "x@secop.gov.co")]
    assert verified(headers) is None
    # The forgery may join the provider's block (same id, no hop between) but never
    # on top, and only the topmost header may say "pass".
    assert trusted_block(headers)[0] == parse_header(real)


def test_forged_pass_below_microsofts_real_header_is_ignored() -> None:
    real = "spf=fail (sender IP is 198.51.100.7) smtp.mailfrom=secop.gov.co; dmarc=none action=none"
    forged_idless = (
        "dkim=pass header.d=secop.gov.co;dmarc=pass action=none header.from=secop.gov.co"
    )
    headers = [*MICROSOFT_TOP, ar(real), *MICROSOFT_BELOW, ar(forged_idless)]
    assert verified(headers) is None
    # ... and right below it, with nothing in between: only the topmost may say "pass".
    assert verified([*MICROSOFT_TOP, ar(real), ar(forged_idless)]) is None


def test_provider_without_header_forged_one_below_an_untrusted_hop_is_ignored() -> None:
    headers = [
        ("Received", "from mail.evil.example (mail.evil.example [198.51.100.7]) by mx.isp.example"),
        ("Received", "from x by mx.google.com with ESMTPS id 1"),  # forged hop, below
        ar(FORGED_PASS),
    ]
    assert verified(headers) is None


def test_an_ip_literal_hop_with_a_from_clause_is_untrusted() -> None:
    headers = [("Received", "from mail.evil.example by [192.0.2.1]"), ar(FORGED_PASS)]
    assert verified(headers) is None


def test_forged_header_with_untrusted_id_at_the_top() -> None:
    untrusted = (
        "mail.evil.example; dkim=pass header.d=secop.gov.co; dmarc=pass header.from=secop.gov.co"
    )
    assert verified([ar(untrusted)]) is None
    # An untrusted header on top also hides trusted-looking ones below it.
    assert verified([ar(untrusted), ar(GMAIL_PASS)]) is None
    assert verified([ar("(no id at all); ;"), ar(GMAIL_PASS)]) is None


def test_same_provider_headers_form_a_block_fail_counts_pass_only_on_top() -> None:
    dkim = "mx.example.org; dkim=pass header.d=secop.gov.co"
    dmarc_fail = "mx.example.org; dmarc=fail header.from=secop.gov.co"
    dmarc_pass = "mx.example.org; dmarc=pass header.from=secop.gov.co"
    trusted = ("mx.example.org",)
    assert verified([ar(dkim), ar(dmarc_fail)], trusted=trusted) is False
    assert verified([ar("mx.example.org; spf=pass"), ar(dmarc_pass)], trusted=trusted) is None
    assert len(trusted_block([ar(dkim), ar(dmarc_pass)], trusted)) == 2
    # A hop or another id ends the block.
    assert len(trusted_block([ar(dkim), ("Received", "by x"), ar(dmarc_fail)], trusted)) == 1
    assert len(trusted_block([ar(dkim), ar(GMAIL_PASS)], (*trusted, "mx.google.com"))) == 1


def test_trusted_id_patterns_and_hop_domains() -> None:
    yahoo = [*YAHOO_TOP, ar(YAHOO_PASS)]
    assert verified(yahoo, trusted=("atlas*.yahoo.com",)) is True
    assert verified(yahoo, trusted=("mx.google.com",)) is None
    fake = YAHOO_PASS.replace(YAHOO_ID, "atlas1.yahoo.com.evil.example")
    assert verified([ar(fake)], trusted=("atlas*.yahoo.com",)) is None
    # A trusted hop domain comes from the id: mx.example.org trusts *.example.org hops.
    headers = [
        ("Received", "from a by relay.example.org"),
        ar(FORGED_PASS.replace("mx.google.com", "mx.example.org")),
    ]
    assert verified(headers, trusted=("MX.Example.org.",)) is True
    assert verified(headers, trusted=()) is None


def test_defaults() -> None:
    assert DEFAULT_TRUSTED_AUTHSERV_IDS == ("mx.google.com", "microsoft", "atlas*.yahoo.com")
    assert WatchConfig().trusted_authserv_ids == DEFAULT_TRUSTED_AUTHSERV_IDS


# --------------------------------------------------------------------------- assess: reasons

FAIL = REASON_AUTH_FAILED
OTHER = REASON_DMARC_OTHER_FROM
UNREADABLE = REASON_AUTH_UNREADABLE


def judge(headers: list[tuple[str, str]], **kw: object) -> Assessment:
    kw.setdefault("from_domain", DOMAIN)
    return assess(headers, domain=DOMAIN, **kw)  # type: ignore[arg-type]


def test_assessment_shapes() -> None:
    assert judge([]) == Assessment(None, ())
    assert judge([*GMAIL_TOP, ar(GMAIL_PASS)]) == Assessment(True, ())
    assert judge([ar("mx.google.com; dmarc=fail header.from=secop.gov.co")]) == Assessment(
        False, (FAIL,)
    )
    assert assess([ar(GMAIL_PASS)], domain="") == Assessment(None, ())


@pytest.mark.parametrize("result", ["pass", "bestguesspass", "fail", "none", "temperror"])
@pytest.mark.parametrize("header_from", ["attacker.example", "mail.secop.gov.co", "gov.co"])
def test_dmarc_for_another_from_is_suspicious(result: str, header_from: str) -> None:
    """The provider checked a From that is not this mail's: its verdict is about
    another From, and a pass for it must never pass as the genuine sender's."""
    headers = [*GMAIL_TOP, ar(f"mx.google.com; dmarc={result} header.from={header_from}")]
    assert judge(headers) == Assessment(False, (OTHER,))
    # Even next to a DKIM pass by the domain, or below a genuine DMARC pass.
    dkim = (
        f"mx.google.com; dkim=pass header.d=secop.gov.co; dmarc={result} header.from={header_from}"
    )
    assert judge([ar(dkim)]) == Assessment(False, (OTHER,))
    below = [ar(GMAIL_PASS), ar(f"mx.google.com; dmarc={result} header.from={header_from}")]
    assert judge(below) == Assessment(False, (OTHER,))


def test_dmarc_other_from_compares_with_the_mails_from() -> None:
    value = "mx.google.com; dmarc=pass header.from=Notificaciones.SECOP.gov.co."
    # The From itself is on the subdomain: the same From, a pass within the domain.
    assert judge([ar(value)], from_domain="notificaciones.secop.gov.co") == Assessment(True)
    assert judge([ar(value)], from_domain="registro@notificaciones.secop.gov.co").verified is True
    # The From is the parent domain: the provider checked another one.
    assert judge([ar(value)]) == Assessment(False, (OTHER,))
    # No From known: a header.from within the domain is taken as the mail's.
    assert judge([ar(value)], from_domain=None) == Assessment(True)
    assert judge([ar("mx.google.com; dmarc=pass header.from=x.example")], from_domain=None) == (
        Assessment(False, (OTHER,))
    )


def test_two_dmarc_results_one_for_another_from() -> None:
    value = (
        "mx.google.com; dmarc=pass header.from=secop.gov.co;"
        " dmarc=pass header.from=attacker.example"
    )
    assert judge([ar(value)]) == Assessment(False, (OTHER,))


def test_dmarc_fail_and_other_from_are_both_reported() -> None:
    value = "mx.google.com; dmarc=fail header.from=secop.gov.co; dmarc=none header.from=x.example"
    assert judge([ar(value)]) == Assessment(False, (FAIL, OTHER))


def test_the_forged_reset_with_another_header_from_is_suspicious() -> None:
    raw = mail(["mx.google.com; dkim=none; dmarc=pass header.from=attacker.example"])
    verdict = parse(raw)
    assert verdict.kind is Kind.SUSPICIOUS
    assert verdict.verified is False
    assert verdict.reasons  # auth_failed through sender_verified; its own code through assess


# --------------------------------------------------------------------------- missing properties


@pytest.mark.parametrize("from_domain", [DOMAIN, None, "evil.example"])
def test_dmarc_fail_without_header_from_is_a_failure(from_domain: str | None) -> None:
    assert judge([ar("mx.google.com; dmarc=fail")], from_domain=from_domain) == Assessment(
        False, (FAIL,)
    )
    assert judge([ar("mx.google.com; dmarc=fail header.from=")], from_domain=from_domain) == (
        Assessment(False, (FAIL,))
    )


def test_dmarc_fail_without_header_from_makes_a_reset_suspicious() -> None:
    verdict = parse(mail(["mx.google.com; dkim=none; dmarc=fail (p=NONE)"]))
    assert (verdict.kind, verdict.verified) == (Kind.SUSPICIOUS, False)


def test_dkim_fail_naming_no_signer_is_a_failure_unless_the_top_passes() -> None:
    assert judge([ar("mx.google.com; dkim=fail")]) == Assessment(False, (FAIL,))
    assert judge([ar("mx.google.com; dkim=fail; dkim=pass header.d=secop.gov.co")]) == (
        Assessment(True)
    )


# --------------------------------------------------------------------------- unbalanced

UNBALANCED = [
    pytest.param(
        "mx.google.com; dkim=pass header.d=secop.gov.co (comment ;"
        " dmarc=fail header.from=secop.gov.co",
        (FAIL, UNREADABLE),
        id="comment-swallows-dmarc-fail",
    ),
    pytest.param(
        "mx.google.com; dkim=pass (comment ; dmarc=fail header.from=secop.gov.co",
        (FAIL, UNREADABLE),
        id="the-briefs-example",
    ),
    pytest.param(
        'mx.google.com; dkim=pass header.d=secop.gov.co; spf=pass smtp.mailfrom="x;'
        " dmarc=fail header.from=secop.gov.co",
        (FAIL, UNREADABLE),
        id="quote-swallows-dmarc-fail",
    ),
    pytest.param(
        "mx.google.com; dkim=pass header.d=secop.gov.co; dmarc=pass header.from=secop.gov.co (",
        (UNREADABLE,),
        id="unclosed-at-the-end",
    ),
    pytest.param(
        "mx.google.com; spf=pass (x (y) smtp.mailfrom=a@x.example; dmarc=pass"
        " header.from=secop.gov.co",
        (UNREADABLE,),
        id="nested-never-closes",
    ),
    pytest.param(
        "mx.google.com; dkim=pass header.d=secop.gov.co) ; dmarc=pass header.from=secop.gov.co",
        (UNREADABLE,),
        id="stray-closing",
    ),
    pytest.param(
        "mx.google.com; dkim=pass header.d=secop.gov.co (a\\) ;"
        " dmarc=fail header.from=secop.gov.co",
        (FAIL, UNREADABLE),
        id="escaped-closing",
    ),
]


@pytest.mark.parametrize(("value", "reasons"), UNBALANCED)
def test_unbalanced_header_never_hides_a_result(value: str, reasons: tuple[str, ...]) -> None:
    assert judge([*GMAIL_TOP, ar(value)]) == Assessment(False, reasons)
    # Second in the block (possibly the sender's own), it still only makes it worse.
    assert judge([ar(GMAIL_PASS), ar(value)]) == Assessment(False, reasons)
    parsed = parse_header(value)
    assert parsed is not None
    assert parsed.balanced is False


def test_balanced_comments_and_quotes_are_fine() -> None:
    value = (
        'mx.google.com; dkim=pass (ok (nested) \\( escaped) header.d="secop.gov.co";'
        ' spf=pass smtp.mailfrom="a;(b"; dmarc=pass (p=NONE) header.from=secop.gov.co'
    )
    assert judge([ar(value)]) == Assessment(True)
    parsed = parse_header(value)
    assert parsed is not None
    assert parsed.balanced is True
    assert trusted_block([ar(value)]) == [parsed]


def test_unbalanced_header_below_the_block_does_not_count() -> None:
    headers = [ar(GMAIL_PASS), ("Received", "from x by relay.evil.example"), ar("mx.google.com; (")]
    assert judge(headers) == Assessment(True)


def test_a_quoted_value_before_a_semicolon_ends_there() -> None:
    for value in (
        'mx.google.com; dkim=pass header.d="secop.gov.co";dmarc=fail header.from=secop.gov.co',
        'mx.google.com; spf=pass smtp.mailfrom="registro@secop.gov.co";dmarc=fail',
    ):
        parsed = parse_header(value)
        assert parsed is not None
        assert [(r.method, r.result) for r in parsed.results][-1] == ("dmarc", "fail")
        assert judge([ar(value)]) == Assessment(False, (FAIL,))


HELO_HOP = "from x( (rdns.example. [192.0.2.7]) by mx.google.com with ESMTPS id 1"


def test_an_unbalanced_received_never_hides_a_failure() -> None:
    """Sender-controlled text (a HELO name) in the provider's own hop must not
    make the hop look foreign and so hide the provider's verdict below it."""
    fail = ar("mx.google.com; dmarc=fail header.from=secop.gov.co")
    assert judge([("Received", HELO_HOP), fail]) == Assessment(False, (FAIL,))
    # ... nor let a pass through: trusted for a pass only if both readings agree.
    assert judge([("Received", HELO_HOP), ar(GMAIL_PASS)]) == Assessment(None)
    both = "from x by mx.google.com with ESMTPS (unclosed"
    assert judge([("Received", both), ar(GMAIL_PASS)]) == Assessment(True)
    split = "from (by relay.evil.example) x by mx.google.com ("
    assert judge([("Received", split), ar(FORGED_PASS)]) == Assessment(None)
    assert trusted_block([("Received", split), ar(FORGED_PASS)]) == []


# --------------------------------------------------------------------------- hop domains


@pytest.mark.parametrize(
    ("trusted", "host", "expected"),
    [
        (("mx.google.com",), "relay.google.com", True),
        (("mx.google.com",), "google.com", True),
        (("mx.google.com",), "mx.evil.com", None),
        (("mx.google.com",), "evilgoogle.com", None),
        (("mx.google.com",), "google.com.evil.example", None),
        (("mx.google.com",), "com", None),
        (("example.org",), "mx.example.org", True),
        (("example.org",), "evil.org", None),
        (("atlas*.yahoo.com",), "x.yahoo.com", True),
        (("atlas*.yahoo.com",), "evil.com", None),
        (("atlas*.yahoo.com",), "yahoo.com.evil.example", None),
        (("smtp*-eu.example.org",), "relay.eu.example.org", True),
        (("smtp*-eu.example.org",), "relay.example.org", None),
    ],
)
def test_a_trusted_id_trusts_its_own_domain_only(
    trusted: tuple[str, ...], host: str, expected: bool | None
) -> None:
    forged = FORGED_PASS.replace("mx.google.com", trusted[0].replace("*", "1"))
    headers = [("Received", f"from mail.evil.example by {host} with ESMTP"), ar(forged)]
    assert judge(headers, trusted=trusted).verified is expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [("x.outlook.com", True), ("x.office365.com", True), ("outlook.com.evil.example", None)],
)
def test_microsoft_hop_domains(host: str, expected: bool | None) -> None:
    idless = "dkim=pass header.d=secop.gov.co;dmarc=pass action=none header.from=secop.gov.co"
    headers = [("Received", f"from a by {host}"), ar(idless)]
    assert judge(headers, trusted=(MICROSOFT,)).verified is expected


# --------------------------------------------------------------------------- only worse below


@pytest.mark.parametrize(
    ("below", "expected"),
    [
        ("mx.google.com; dmarc=pass header.from=secop.gov.co", Assessment(False, (FAIL,))),
        ("mx.google.com; dkim=pass header.d=secop.gov.co", Assessment(False, (FAIL,))),
        ("mx.google.com; dmarc=fail header.from=secop.gov.co", Assessment(False, (FAIL,))),
    ],
)
def test_a_second_header_never_cancels_a_failure_on_top(below: str, expected: Assessment) -> None:
    for top in (
        "mx.google.com; dmarc=fail header.from=secop.gov.co",
        "mx.google.com; dkim=fail header.d=secop.gov.co",
    ):
        assert judge([ar(top), ar(below)]) == expected


def test_a_duplicate_of_the_top_changes_nothing() -> None:
    assert judge([ar(GMAIL_PASS), ar(GMAIL_PASS)]) == Assessment(True)
    assert judge([ar(GMAIL_NONE), ar(GMAIL_NONE)]) == Assessment(None)
    other = "mx.google.com; dmarc=pass header.from=attacker.example"
    assert judge([ar(other), ar(other)]) == Assessment(False, (OTHER,))


def test_a_pass_below_a_dkim_failure_on_top_no_longer_cancels_it() -> None:
    """The mutant that survived: the block's passes (not the top's) excused a DKIM failure."""
    headers = [ar("mx.google.com; dkim=fail header.d=secop.gov.co"), ar(FORGED_PASS)]
    assert judge(headers) == Assessment(False, (FAIL,))
    assert verified(headers, from_domain=DOMAIN) is False


RANK = {False: 0, None: 1, True: 2}
TOPS = [GMAIL_PASS, GMAIL_NONE, FORGED_PASS, "mx.google.com; dkim=fail header.d=secop.gov.co"]


# --------------------------------------------------------------------------- never raises

header_names = st.sampled_from(
    ["Authentication-Results", "authentication-results", "Received", "From", "X-Other"]
)
ar_like = st.lists(
    st.one_of(
        st.sampled_from(
            [
                ";",
                "=",
                "(",
                ")",
                '"',
                "\\",
                " ",
                "\r\n ",
                "dkim",
                "dmarc",
                "pass",
                "fail",
                "header.d",
                "header.from",
                "secop.gov.co",
                "mx.google.com",
                "by",
                "from",
                "[::1]",
            ]
        ),
        st.text(max_size=8),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=400))
def test_parse_header_never_raises_on_any_text(value: str) -> None:
    parsed = parse_header(value)
    assert parsed is None or isinstance(parsed, AuthResults)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(header_names, st.one_of(ar_like, st.text(max_size=200))), max_size=8))
def test_sender_verified_never_raises(headers: list[tuple[str, str]]) -> None:
    assert verified(headers) in (True, False, None)
    assert verified(headers, trusted=("*", MICROSOFT), from_domain="secop.gov.co") in (
        True,
        False,
        None,
    )
    for kw in ({}, {"trusted": ("*", MICROSOFT)}, {"from_domain": None}):
        assessment = judge(headers, **kw)
        assert assessment.verified in (True, False, None)
        assert (assessment.verified is False) == bool(assessment.reasons)
        assert set(assessment.reasons) <= {FAIL, OTHER, UNREADABLE}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TOPS), st.one_of(ar_like, st.text(max_size=120)))
def test_a_header_right_below_the_top_only_makes_it_worse(top: str, value: str) -> None:
    before = judge([*GMAIL_TOP, ar(top)])
    after = judge([*GMAIL_TOP, ar(top), ar("mx.google.com; " + value)])
    assert RANK[after.verified] <= RANK[before.verified]
    assert set(before.reasons) <= set(after.reasons)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(TOPS),
    st.lists(st.tuples(header_names, st.one_of(ar_like, st.text(max_size=80))), max_size=5),
)
def test_nothing_below_the_next_hop_changes_the_verdict(
    top: str, extra: list[tuple[str, str]]
) -> None:
    base = [*GMAIL_TOP, ar(top)]
    assert judge([*base, ("Received", "from evil by relay.evil.example"), *extra]) == judge(base)


@settings(max_examples=400, deadline=None)
@given(st.one_of(ar_like, st.text(max_size=120)))
def test_no_text_before_a_dmarc_fail_can_hide_it(value: str) -> None:
    header = ar("mx.google.com; " + value + "; dmarc=fail header.from=secop.gov.co")
    assert judge([*GMAIL_TOP, header]).verified is False


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=120), min_size=1, max_size=4))
def test_parse_message_with_garbage_auth_headers_never_raises(values: list[bytes]) -> None:
    raw = mail()
    garbage = b"".join(b"Authentication-Results: " + v + b"\r\n" for v in values)
    verdict = parse(garbage + raw)
    assert isinstance(verdict, Verdict)
    assert verdict.verified in (True, False, None)


# --------------------------------------------------------------------------- parse_message


def test_parse_message_gmail_pass_is_verified_reset() -> None:
    raw = prepend_headers(mail(), [*GMAIL_TOP, ar(GMAIL_PASS)])
    verdict = parse(raw)
    assert verdict.kind is Kind.RESET
    assert verdict.verified is True


def test_parse_message_without_headers_is_unverified_reset() -> None:
    verdict = parse(mail())
    assert verdict.kind is Kind.RESET
    assert verdict.url == URL
    assert verdict.verified is None


def test_parse_message_dmarc_fail_is_suspicious_auth_failed() -> None:
    raw = mail(["mx.google.com; dkim=none; dmarc=fail (p=REJECT) header.from=secop.gov.co"])
    verdict = parse(raw)
    assert verdict.kind is Kind.SUSPICIOUS
    assert verdict.reasons == ("auth_failed",)
    assert verdict.verified is False


def test_parse_message_trusted_ids_are_configurable() -> None:
    raw = mail(["mx.secop-watcher.test; dmarc=fail header.from=secop.gov.co"])
    assert parse(raw).kind is Kind.RESET
    assert parse(raw).verified is None
    assert parse(raw, trusted_authserv_ids=["mx.secop-watcher.test"]).kind is Kind.SUSPICIOUS


def test_parse_message_forged_pass_below_real_none_is_unverified() -> None:
    raw = mail([GMAIL_NONE, FORGED_PASS])
    verdict = parse(raw)
    assert verdict.kind is Kind.RESET
    assert verdict.verified is None


def test_auth_failed_mail_is_never_current() -> None:
    genuine = parse(mail([GMAIL_PASS], message_id="<a@secop.gov.co>"))
    failing = mail(
        ["mx.google.com; dmarc=fail header.from=secop.gov.co"],
        message_id="<b@secop.gov.co>",
    )
    newer = parse_message(failing, internaldate=WHEN + timedelta(minutes=5))
    report = choose(
        [Found(genuine, "INBOX", 1), Found(newer, "Spam", 2)],
        now=WHEN + timedelta(minutes=10),
        max_age=timedelta(hours=24),
    )
    assert [(x.message_id, x.verified) for x in report.current] == [("<a@secop.gov.co>", True)]
    assert [x.reasons for x in report.suspicious] == [("auth_failed",)]
    assert report.superseded == []


# --------------------------------------------------------------------------- output


def link(verified: bool | None) -> Link:
    return Link("jperez", URL, WHEN, "Spam", "<a@secop.gov.co>", Status.CURRENT, verified)


@pytest.mark.parametrize("value", [True, None])
def test_link_json_carries_verified(value: bool | None) -> None:
    assert link_json(link(value))["verified"] is value


def test_link_text_says_verified_or_unverified() -> None:
    now = WHEN + timedelta(minutes=4)
    assert link_lines(link(True), now, "es")[2].endswith(" Remitente verificado (DMARC).")
    assert link_lines(link(True), now, "en")[2].endswith(" Sender verified (DMARC).")
    assert link_lines(link(None), now, "es")[2].endswith(
        " Sin verificar: el servidor no informó DMARC/DKIM."
    )
    assert "Unverified" in link_lines(link(None), now, "en")[2]


def test_notification_mentions_unverified_only_when_unverified() -> None:
    expires = WHEN + timedelta(hours=24)
    assert "sin verificar" in link_body(link(None), "es", expires)
    assert "sin verificar" not in link_body(link(True), "es", expires)
    assert "unverified" in link_body(link(None), "en", expires)


# --------------------------------------------------------------------------- configuration

IMAP = {"host": "imap.example.org", "username": "u@example.org"}


def test_config_trusted_authserv_ids_is_a_list_of_names() -> None:
    data = {"imap": IMAP, "watch": {"trusted_authserv_ids": ["mx.google.com", " Microsoft "]}}
    assert validate(data) == []
    assert build(data).watch.trusted_authserv_ids == ("mx.google.com", "Microsoft")
    assert build({"imap": IMAP}).watch.trusted_authserv_ids == DEFAULT_TRUSTED_AUTHSERV_IDS
    assert validate({"imap": IMAP, "watch": {"trusted_authserv_ids": []}}) == []
    for bad in ("mx.google.com", ["mx.google.com", ""], [1], ["  "]):
        problems = validate({"imap": IMAP, "watch": {"trusted_authserv_ids": bad}})
        assert [(p[0], p[1]) for p in problems] == [
            ("[watch] trusted_authserv_ids", "config.authserv_ids")
        ]


def test_parse_command_uses_the_configured_ids(tmp_path: Path) -> None:
    eml = tmp_path / "reset.eml"
    eml.write_bytes(mail(["mx.secop-watcher.test; dmarc=fail header.from=secop.gov.co"]))
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[imap]\nhost = "imap.example.org"\nusername = "u"\n'
        '[watch]\ntrusted_authserv_ids = ["mx.secop-watcher.test"]\n',
        encoding="utf-8",
    )
    done = run("--config", str(cfg), "parse", "--json", str(eml))
    assert done.returncode == 1, done.stderr
    [item] = json.loads(done.stdout)
    assert (item["kind"], item["reasons"], item["url"]) == ("suspicious", ["auth_failed"], None)
    without = run("parse", "--json", str(eml))  # no config: the defaults do not trust it
    assert without.returncode == 0, without.stderr
    assert json.loads(without.stdout)[0]["kind"] == "reset"
