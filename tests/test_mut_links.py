"""watcher.links, pinned where mutation testing found the suite silent.

Each test states what the user gets: the exact link handed over, or the reasons a
link is refused. Wrappers follow their vendors' published formats (Proofpoint's
URL Defense decoder for v1, v2 and v3; Microsoft Safe Links' ``url`` parameter).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from tests.mailfactory import reset_mail, reset_url, safelinks
from watcher.links import check_link, is_mimecast, unwrap
from watcher.model import Kind
from watcher.parsing import parse_message

WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TARGET = reset_url("Zx81-kLmN0pQ")
SECOP = "https://community.secop.gov.co/STS/Users/ResetPassword/Index"


def v3(body: str, replaced: str) -> str:
    """A Proofpoint v3 link: ``body`` with its placeholders, ``replaced`` the characters."""
    encoded = base64.urlsafe_b64encode(replaced.encode()).decode().rstrip("=")
    return f"https://urldefense.com/v3/__{body}__;{encoded}!!ACWV5N9M2RV99hQ!Ue6tQudNKaS$"


# --------------------------------------------------------------------------- Proofpoint v3


def test_v3_many_single_placeholders_take_the_characters_in_order() -> None:
    wrapped = v3(f"{SECOP}?token=a*b*c*d*e", "+!$'")
    assert unwrap(wrapped) == (f"{SECOP}?token=a+b!c$d'e", ["proofpoint-v3"])


def test_v3_runs_and_single_placeholders_mixed() -> None:
    # "**A" is a run of 2, "**B" a run of 3 (Proofpoint's run-length alphabet).
    wrapped = v3(f"{SECOP}?token=a**Ab*c**Bd*e", "++!$$$'")
    assert unwrap(wrapped) == (f"{SECOP}?token=a++b!c$$$d'e", ["proofpoint-v3"])


@pytest.mark.parametrize(
    ("body", "replaced", "inner"),
    [
        ("a*b", "+", "a+b"),  # one character: two "=" of base64 padding
        ("a**Ab", "++", "a++b"),  # two: one "="
        ("a**Bb", "+++", "a+++b"),  # three: no padding
        ("a**Cb", "++++", "a++++b"),  # four: two "=" again
    ],
)
def test_v3_replacements_of_every_padding_length(body: str, replaced: str, inner: str) -> None:
    assert unwrap(v3(f"{SECOP}?t={body}", replaced)) == (f"{SECOP}?t={inner}", ["proofpoint-v3"])


def test_v3_exactly_as_many_characters_as_placeholders() -> None:
    assert unwrap(v3(f"{SECOP}?t=a*b*c", "+!")) == (f"{SECOP}?t=a+b!c", ["proofpoint-v3"])
    # one too few: the link cannot be rebuilt, it stays wrapped and is refused
    short = v3(f"{SECOP}?t=a*b*c*d", "+!")
    assert unwrap(short) == (short, [])
    assert check_link(short) == (None, ["host_not_allowed"])


def test_v3_percent_escapes_of_the_wrapped_url_are_decoded() -> None:
    wrapped = "https://urldefense.com/v3/__https://community.secop.gov.co/STS?t=a%3Db__;!!ACWV$"
    assert unwrap(wrapped) == ("https://community.secop.gov.co/STS?t=a=b", ["proofpoint-v3"])


def test_v3_replacements_are_utf8() -> None:
    assert unwrap(v3(f"{SECOP}?u=a*b", "ñ")) == (f"{SECOP}?u=añb", ["proofpoint-v3"])


def test_v3_on_the_proofpoint_host_and_in_capitals() -> None:
    body = f"{SECOP}?t=a*b"
    wrapped = v3(body, "+").replace("https://urldefense.com", "HTTPS://URLDEFENSE.PROOFPOINT.COM")
    assert unwrap(wrapped) == (f"{SECOP}?t=a+b", ["proofpoint-v3"])


# --------------------------------------------------------------------------- Proofpoint v1, v2


def test_v1_carries_the_link_percent_encoded_in_u() -> None:
    wrapped = (
        "https://urldefense.proofpoint.com/v1/url?u=https://community.secop.gov.co/STS/x"
        "?t%3D1%26lang%3Des&k=8yJlHWa5h4eZ4Qb%2FpkA5Sg%3D%3D%0A&r=abc&m=def&s=ghi"
    )
    assert unwrap(wrapped) == (
        "https://community.secop.gov.co/STS/x?t=1&lang=es",
        ["proofpoint-v1"],
    )
    assert check_link(unwrap(wrapped)[0]) == (
        "https://community.secop.gov.co/STS/x?t=1&lang=es",
        [],
    )


def test_v1_reset_mail_gives_the_inner_link() -> None:
    wrapped = "https://urldefense.proofpoint.com/v1/url?u=" + TARGET.replace("&", "%26") + "&k=x"
    verdict = parse_message(reset_mail("jperez", wrapped, date=WHEN), internaldate=WHEN)
    assert (verdict.kind, verdict.url, verdict.reasons) == (Kind.RESET, TARGET, ())


@pytest.mark.parametrize(
    "wrapped",
    [
        "https://urldefense.proofpoint.com/v1/url?u=&k=abc",  # v1 without the link
        "https://urldefense.proofpoint.com/v2/url?u=&d=DwMFaQ",  # v2 without the link
        # v3 is not /v3/url?u=
        "https://urldefense.proofpoint.com/v3/url?u=https-3A__community.secop.gov.co_x",
        "https://urldefense.proofpoint.com/v2/other?u=https-3A__community.secop.gov.co_x",
        "https://evil.urldefense.proofpoint.com/v2/url?u=https-3A__community.secop.gov.co_x",
        "https://urldefense.proofpoint.com.evil.example/v2/url?u=https-3A__community.secop.gov.co_x",
    ],
)
def test_not_a_proofpoint_v1_v2_link_stays_wrapped_and_is_refused(wrapped: str) -> None:
    assert unwrap(wrapped) == (wrapped, [])
    assert check_link(wrapped) == (None, ["host_not_allowed"])


def test_v2_decodes_every_escape() -> None:
    wrapped = (
        "https://urldefense.proofpoint.com/v2/url?u=https-3A__community.secop.gov.co_STS"
        "-3Ft-3Da-2Bb-26lang-3Des&d=DwMFaQ&c=x&r=y&m=z&s=w&e="
    )
    assert unwrap(wrapped) == (
        "https://community.secop.gov.co/STS?t=a+b&lang=es",
        ["proofpoint-v2"],
    )


# --------------------------------------------------------------------------- Safe Links, depth


@pytest.mark.parametrize(
    "host",
    ["safelinks.protection.outlook.com", "eur03.safelinks.protection.outlook.com"],
)
def test_safelinks_hosts(host: str) -> None:
    wrapped = safelinks(TARGET).replace("nam12.safelinks.protection.outlook.com", host)
    assert unwrap(wrapped) == (TARGET, ["safelinks"])


@pytest.mark.parametrize(
    "wrapped",
    [
        "https://evilsafelinks.protection.outlook.com/?url=https%3A%2F%2Fcommunity.secop.gov.co%2Fx",
        "https://nam12.safelinks.protection.outlook.com.evil.example/?url=https%3A%2F%2Fa.secop.gov.co",
        "https://nam12.safelinks.protection.outlook.com/?url=&data=05",
    ],
)
def test_not_a_safelinks_link_stays_wrapped_and_is_refused(wrapped: str) -> None:
    assert unwrap(wrapped) == (wrapped, [])
    assert check_link(wrapped) == (None, ["host_not_allowed"])


def test_safelinks_takes_the_first_url_parameter() -> None:
    wrapped = safelinks(TARGET) + "&url=https%3A%2F%2Fevil.example%2F"
    assert unwrap(wrapped) == (TARGET, ["safelinks"])


def test_wrappers_inside_wrappers_lose_the_blanks_around_them() -> None:
    inner = "%20%09" + TARGET.replace("&", "%26") + "%0A"
    wrapped = f"https://nam12.safelinks.protection.outlook.com/?url={inner}&data=05"
    assert unwrap(wrapped) == (TARGET, ["safelinks"])


def test_five_layers_are_undone_by_default_six_are_too_deep() -> None:
    wrapped = TARGET
    for _ in range(5):
        wrapped = safelinks(wrapped)
    assert unwrap(wrapped) == (TARGET, ["safelinks"] * 5)
    deeper = safelinks(wrapped)
    assert unwrap(deeper) == (safelinks(TARGET), ["safelinks"] * 5)
    assert check_link(unwrap(deeper)[0]) == (None, ["unwrap_too_deep"])


# --------------------------------------------------------------------------- Mimecast


@pytest.mark.parametrize(
    "url",
    [
        "https://protect.mimecast.com/s/AbCd",
        "https://protect-us.mimecast.com/s/AbCd",
        "https://protect-au.mimecast-offshore.com/s/AbCd",
        "https://PROTECT-EU.MIMECAST.COM./s/AbCd",
        " \x01\thttps://protect-us.mimecast.com/s/AbCd\x1f ",
    ],
)
def test_mimecast_links_are_recognised(url: str) -> None:
    assert is_mimecast(url)
    assert check_link(url) == (None, ["mimecast_wrapped"])


# --------------------------------------------------------------------------- hosts and ports


@pytest.mark.parametrize(
    ("url", "reasons"),
    [
        # punycode in any label, not only the first, is a look-alike
        ("https://community.xn--scop-bpa.secop.gov.co/", ["mixed_script_host"]),
        ("https://a.b.xn--c-abc.secop.gov.co/", ["mixed_script_host"]),
        ("https://community.xn--scop-bpa.gov.co/", ["mixed_script_host", "host_not_allowed"]),
        # a label of 64 characters is no DNS name
        ("https://" + "a" * 64 + ".secop.gov.co/", ["malformed_link"]),
        ("https://[::1]:8443/", ["port_in_link", "host_not_allowed"]),
        ("https://[::1/", ["malformed_link"]),
        ("https://community.secop.gov.co:4430/x", ["port_in_link"]),
        ("https://community.secop.gov.co:44/x", ["port_in_link"]),
        ("https://a@community.secop.gov.co:8443/x", ["userinfo_in_link", "port_in_link"]),
    ],
)
def test_hosts_and_ports_refused(url: str, reasons: list[str]) -> None:
    assert check_link(url) == (None, reasons)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # the default port, however written, is the link without one (URL Standard)
        ("https://community.secop.gov.co:/x?t=1", "https://community.secop.gov.co/x?t=1"),
        ("https://community.secop.gov.co:0443/x?t=1", "https://community.secop.gov.co/x?t=1"),
        ("\x00 https://community.secop.gov.co/x?t=1\x1f", "https://community.secop.gov.co/x?t=1"),
        ("https://secop.gov.co./x", "https://secop.gov.co./x"),
    ],
)
def test_links_accepted_as_the_browser_reads_them(url: str, expected: str) -> None:
    assert check_link(url) == (expected, [])


def test_the_allowed_domain_is_compared_without_case_blanks_or_final_dot() -> None:
    assert check_link(TARGET, " SECOP.GOV.CO. ") == (TARGET, [])
    assert check_link("https://secop.gov.co/x", "secop.gov.co.") == ("https://secop.gov.co/x", [])
    assert check_link("https://notsecop.gov.co/x", " SECOP.GOV.CO. ") == (
        None,
        ["host_not_allowed"],
    )


def test_v3_with_seven_replaced_characters() -> None:
    # 7 bytes are 10 base64 characters: two "=" of padding restored
    wrapped = v3(f"{SECOP}?t=a**Fb", "+!$'(),")
    assert unwrap(wrapped) == (f"{SECOP}?t=a+!$'(),b", ["proofpoint-v3"])


def test_an_empty_first_url_parameter_leaves_safelinks_wrapped() -> None:
    wrapped = "https://nam12.safelinks.protection.outlook.com/?url=&url=" + TARGET.replace(
        ":", "%3A"
    ).replace("/", "%2F").replace("?", "%3F").replace("&", "%26")
    assert unwrap(wrapped) == (wrapped, [])
    assert check_link(wrapped) == (None, ["host_not_allowed"])


def test_an_allowed_domain_ending_in_x() -> None:
    assert check_link("https://tramites.gob.mx/x", "GOB.MX") == ("https://tramites.gob.mx/x", [])


@pytest.mark.parametrize(
    ("url", "reasons"),
    [
        ("https://community.secop.gov.co:80:443/", ["port_in_link"]),
        ("https://[::1]:8443]/", ["port_in_link", "host_not_allowed"]),
    ],
)
def test_odd_ports_are_refused(url: str, reasons: list[str]) -> None:
    assert check_link(url) == (None, reasons)


def test_the_query_is_encoded_in_the_documents_encoding() -> None:
    url = "https://community.secop.gov.co/r?u=é"
    assert check_link(url, query_encoding="windows-1252") == (
        "https://community.secop.gov.co/r?u=%E9",
        [],
    )
    assert check_link(url) == ("https://community.secop.gov.co/r?u=%C3%A9", [])
