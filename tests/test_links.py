"""Offline unwrapping of mail-security wrappers and the link allow-list."""

from __future__ import annotations

import base64

import pytest

from tests.mailfactory import proofpoint_v2, proofpoint_v3, reset_url, safelinks
from watcher.links import check_link, is_mimecast, unwrap

TARGET = reset_url("Zx81-kLmN0pQ")  # contains "-" and "_"-free token, "?", "=", "&"


# --------------------------------------------------------------------------- unwrap


def test_unwrap_leaves_plain_links_alone() -> None:
    assert unwrap(TARGET) == (TARGET, [])


def test_unwrap_safelinks() -> None:
    assert unwrap(safelinks(TARGET)) == (TARGET, ["safelinks"])


def test_unwrap_safelinks_other_region() -> None:
    assert unwrap(safelinks(TARGET, region="eur03")) == (TARGET, ["safelinks"])


def test_unwrap_proofpoint_v2() -> None:
    assert unwrap(proofpoint_v2(TARGET)) == (TARGET, ["proofpoint-v2"])


def test_unwrap_proofpoint_v2_keeps_dashes_and_underscores() -> None:
    url = reset_url("a-b_c")
    assert unwrap(proofpoint_v2(url)) == (url, ["proofpoint-v2"])


def test_unwrap_proofpoint_v3_published_example() -> None:
    wrapped = (
        "https://urldefense.com/v3/__https://google.com:443/search?q=a*test&gs=ps__;Kw!"
        "-612Flbf0JvQ3kNJkRi5Jg!Ue6tQudNKaShHg93trcdjqDP8se2ySE65jyCIe2K1D_uNjZ1Lnf6YLQERuj$"
    )
    assert unwrap(wrapped) == ("https://google.com:443/search?q=a+test&gs=ps", ["proofpoint-v3"])


def test_unwrap_proofpoint_v3_simple_placeholders() -> None:
    url = reset_url("ab+cd!ef")
    assert unwrap(proofpoint_v3(url)) == (url, ["proofpoint-v3"])


def test_unwrap_proofpoint_v3_without_replacements() -> None:
    assert unwrap(proofpoint_v3(TARGET)) == (TARGET, ["proofpoint-v3"])


def test_unwrap_proofpoint_v3_run_of_placeholders() -> None:
    # "**A" is a run of two replaced characters, "**B" of three.
    wrapped = (
        "https://urldefense.com/v3/__https://community.secop.gov.co/STS?t=a**Ab**Bc__;"
        + base64.urlsafe_b64encode(b"++!!!").decode().rstrip("=")
        + "!!ACWV5N9M2RV99hQ!x$"
    )
    assert unwrap(wrapped) == (
        "https://community.secop.gov.co/STS?t=a++b!!!c",
        ["proofpoint-v3"],
    )


@pytest.mark.parametrize(
    "wrapped",
    [
        "https://urldefense.com/v3/__https://community.secop.gov.co/a*b*c__;Kw!!x$",  # too few
        "https://urldefense.com/v3/__https://community.secop.gov.co/a*b__;@@@!!x$",  # bad b64
        "https://urldefense.com/v3/__https://community.secop.gov.co/a*b__;_w!!x$",  # not utf-8
        "https://urldefense.com/v3/__https://community.secop.gov.co/a**$b__;Kw!!x$",  # bad run
        "https://urldefense.com/v3/__https://community.secop.gov.co/ab",  # no terminator
    ],
)
def test_unwrap_broken_proofpoint_v3_is_left_wrapped(wrapped: str) -> None:
    assert unwrap(wrapped) == (wrapped, [])
    assert check_link(wrapped)[1] == ["host_not_allowed"]


def test_unwrap_nested_safelinks_in_proofpoint() -> None:
    wrapped = proofpoint_v2(safelinks(TARGET))
    assert unwrap(wrapped) == (TARGET, ["proofpoint-v2", "safelinks"])


def test_unwrap_nested_proofpoint_in_safelinks() -> None:
    wrapped = safelinks(proofpoint_v3(TARGET))
    assert unwrap(wrapped) == (TARGET, ["safelinks", "proofpoint-v3"])


def test_unwrap_stops_at_max_depth() -> None:
    wrapped = TARGET
    for _ in range(6):
        wrapped = safelinks(wrapped)
    url, undone = unwrap(wrapped, max_depth=5)
    assert undone == ["safelinks"] * 5
    assert url == safelinks(TARGET)
    assert check_link(url) == (None, ["unwrap_too_deep"])


def test_safelinks_without_url_parameter_stays_wrapped() -> None:
    wrapped = "https://nam12.safelinks.protection.outlook.com/?data=05%7C02"
    assert unwrap(wrapped) == (wrapped, [])
    assert check_link(wrapped) == (None, ["host_not_allowed"])


def test_mimecast_is_detected_not_unwrapped() -> None:
    wrapped = "https://protect-us.mimecast.com/s/AbCdEfGhIjKlMn?domain=community.secop.gov.co"
    assert is_mimecast(wrapped)
    assert unwrap(wrapped) == (wrapped, [])
    assert check_link(wrapped) == (None, ["mimecast_wrapped"])


@pytest.mark.parametrize(
    "url",
    [TARGET, "https://mimecast.com/s/abc", "https://protect-us.mimecast.com.evil.org/s/x", ""],
)
def test_not_mimecast(url: str) -> None:
    assert not is_mimecast(url)


# --------------------------------------------------------------------------- check_link


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (TARGET, TARGET),
        ("https://secop.gov.co/", "https://secop.gov.co/"),
        (
            "HTTPS://Community.SECOP.gov.co./STS/Users/ResetPassword/Index?token=AbC",
            # the browser keeps the host's final dot (URL Standard host serializer)
            "https://community.secop.gov.co./STS/Users/ResetPassword/Index?token=AbC",
        ),
        # the browser removes tab and newline anywhere, and keeps an empty query and fragment
        ("https://community.secop.gov.co/a\nb\t", "https://community.secop.gov.co/ab"),
        ("https://community.secop.gov.co/x?", "https://community.secop.gov.co/x?"),
        # a space inside is percent-encoded, as the browser does, not refused
        (
            "https://community.secop.gov.co/a b?n=J P",
            "https://community.secop.gov.co/a%20b?n=J%20P",
        ),
        ("https://community.secop.gov.co/x#", "https://community.secop.gov.co/x#"),
        ("https://community.secop.gov.co/a/../b%7e", "https://community.secop.gov.co/b%7e"),
        ("https://community.secop.gov.co:443/x?t=1", "https://community.secop.gov.co/x?t=1"),
        ("  https://community.secop.gov.co/x#frag  ", "https://community.secop.gov.co/x#frag"),
    ],
)
def test_check_link_accepts_secop(url: str, expected: str) -> None:
    assert check_link(url) == (expected, [])


def test_check_link_keeps_token_bytes_verbatim() -> None:
    url = "https://community.secop.gov.co/r?token=a%2Bb%3D%3D&x=Y"
    assert check_link(url) == (url, [])


@pytest.mark.parametrize(
    ("url", "reasons"),
    [
        ("http://community.secop.gov.co/STS/Users/ResetPassword/Index?token=a", ["not_https"]),
        ("javascript:alert(document.cookie)", ["not_https"]),
        ("data:text/html;base64,PHNjcmlwdD4=", ["not_https"]),
        ("ftp://community.secop.gov.co/x", ["not_https"]),
        ("https://secop.gov.co.evil.com/reset", ["host_not_allowed"]),
        ("https://evilsecop.gov.co/reset", ["host_not_allowed"]),
        ("https://secop-gov.co/reset", ["host_not_allowed"]),
        ("https://community-secop.gov.co/reset", ["host_not_allowed"]),
        ("https://gov.co/reset", ["host_not_allowed"]),
        ("https://10.0.0.1/reset", ["host_not_allowed"]),
        ("https://[::1]/reset", ["host_not_allowed"]),
        (
            "https://community.secop.gov.co@evil.example/reset",
            ["userinfo_in_link", "host_not_allowed"],
        ),
        ("https://user:pw@community.secop.gov.co/reset", ["userinfo_in_link"]),
        ("https://community.secop.gov.co:8443/reset", ["port_in_link"]),
        ("https://community.secop.gov.co:80/reset", ["port_in_link"]),
        ("https://community.secop.gov.co:x/reset", ["port_in_link"]),
        ("https://community.secop.gov.co\\reset", ["backslash_in_link", "malformed_link"]),
        (
            "https://community.secop.gov.co\\@evil.example/",
            ["backslash_in_link", "userinfo_in_link", "host_not_allowed"],
        ),
        ("https://community%2esecop.gov.co/reset", ["encoded_host"]),
        ("https://community.secop%2Egov.co/reset", ["encoded_host"]),
        ("https://community.sеcop.gov.co/reset", ["mixed_script_host", "host_not_allowed"]),
        ("https://сommunity.secop.gov.co/reset", ["mixed_script_host"]),
        ("https://xn--community-xyz.secop.gov.co/", ["mixed_script_host"]),
        ("https://protect-eu.mimecast.com/s/x1Y2z3", ["mimecast_wrapped"]),
        ("", ["malformed_link"]),
        ("   ", ["malformed_link"]),
        ("https://", ["malformed_link"]),
        ("https:///STS/Users", ["malformed_link"]),
        ("https://[community.secop.gov.co/", ["malformed_link"]),
        ("https://a..secop.gov.co/", ["malformed_link"]),
        ("https://community.secop.gov.co<script>/", ["malformed_link"]),
    ],
)
def test_check_link_rejects(url: str, reasons: list[str]) -> None:
    assert check_link(url) == (None, reasons)


def test_check_link_custom_allowed_domain() -> None:
    assert check_link("https://portal.example.org/x", "example.org") == (
        "https://portal.example.org/x",
        [],
    )
    assert check_link(TARGET, "Example.ORG.") == (None, ["host_not_allowed"])


def test_check_link_on_still_wrapped_proofpoint() -> None:
    assert check_link(proofpoint_v2(TARGET)) == (None, ["unwrap_too_deep"])
