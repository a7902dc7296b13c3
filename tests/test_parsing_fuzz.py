"""Hypothesis: the parser never raises, and a RESET verdict is always safe."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import tally
from tests.mailfactory import proofpoint_v3, reset_mail, reset_url, safelinks
from tools import catalogs
from watcher import i18n
from watcher.links import check_link, unwrap
from watcher.model import Kind, Verdict
from watcher.parsing import parse_message

WHEN = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)
SENDER = "registro@secop.gov.co"
SLOW = pytest.mark.skipif(
    os.environ.get("SECOP_WATCHER_SLOW") != "1",
    reason="long fuzzing run; set SECOP_WATCHER_SLOW=1 to enable",
)

SEEDS: list[bytes] = [
    reset_mail("jperez", reset_url(), date=WHEN),
    reset_mail("mnuñez", reset_url("a-b_c"), date=WHEN, cte="base64", inline_logo=True),
    reset_mail("jperez", reset_url(), date=WHEN, html=False, cte="8bit", charset="iso-8859-1"),
    reset_mail("jperez", safelinks(reset_url()), date=WHEN, text=False, cte="8bit"),
    reset_mail("jperez", proofpoint_v3(reset_url("x+y")), date=WHEN, html=False),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real-shaped reset mail with random flips, insertions, deletions, cuts."""
    raw = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del raw[pos : pos + draw(st.integers(1, 64))]
        else:
            del raw[pos:]
    return bytes(raw)


PIECES = [
    "https://",
    "http://",
    "HTTPS://",
    "javascript:",
    "community.",
    "secop.gov.co",
    "secop",
    ".gov.co",
    ".evil.com",
    "evil",
    "@",
    ":443",
    ":8443",
    ":",
    "\\",
    "%2e",
    "%40",
    "/",
    "//",
    "?token=",
    "&",
    "#",
    "с",
    "е",
    "xn--",
    ".",
    " ",
    "\t",
    "-",
    "_",
    "[",
    "]",
    "*",
    "__;",
]
hrefs = st.lists(
    st.sampled_from(PIECES) | st.text(st.characters(exclude_categories=["Cs"]), max_size=4),
    max_size=10,
).map("".join)


# Every reason code the user can be shown (each has its words in the catalogs).
KNOWN_REASONS = frozenset(c for c in catalogs.DYNAMIC["reason."]() if i18n.has(f"reason.{c}"))


def assert_safe(verdict: Verdict) -> None:
    """What came out is one of the outcomes the parser promises, never a half-made one."""
    assert isinstance(verdict, Verdict)
    assert verdict.kind in (Kind.RESET, Kind.SUSPICIOUS, Kind.OTHER)
    # The Date header only wins within 24 h of the server's INTERNALDATE.
    assert verdict.received is not None
    assert abs(verdict.received - WHEN) <= timedelta(hours=24)
    assert set(verdict.reasons) <= KNOWN_REASONS
    if verdict.kind is Kind.OTHER:  # not a reset mail: nothing to show, nothing to warn of
        assert (verdict.url, verdict.username, verdict.reasons) == (None, None, ())
        return
    if verdict.kind is Kind.SUSPICIOUS:  # always says why
        assert verdict.reasons
        assert len(set(verdict.reasons)) == len(verdict.reasons)
        if {"auth_failed", "dmarc_other_from", "auth_unreadable"} & set(verdict.reasons):
            assert verdict.verified is False
        return
    assert verdict.url is not None
    assert verdict.reasons == ()
    assert verdict.verified is not False  # a failed DMARC/DKIM check is never a reset
    assert check_link(verdict.url) == (verdict.url, [])
    parts = urlsplit(verdict.url)
    assert parts.scheme == "https"
    host = parts.hostname or ""
    assert host == "secop.gov.co" or host.endswith(".secop.gov.co")
    assert parts.username is None and parts.password is None and parts.port is None
    assert verdict.sender == SENDER


def check(raw: bytes) -> None:
    started = time.perf_counter()
    verdict = parse_message(raw, sender=SENDER, internaldate=WHEN)
    tally.record_max("slowest parse (s)", time.perf_counter() - started)
    tally.record("fuzz: messages parsed")
    assert_safe(verdict)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    check(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_reset_mails_never_raise(raw: bytes) -> None:
    check(raw)


@settings(max_examples=300, deadline=None)
@given(hrefs, st.sampled_from(["plain", "safelinks", "proofpoint-v3"]), st.booleans())
def test_hostile_reset_links_never_pass(href: str, wrapper: str, html: bool) -> None:
    wrapped = {"plain": href, "safelinks": safelinks(href), "proofpoint-v3": proofpoint_v3(href)}
    raw = reset_mail("jperez", wrapped[wrapper], date=WHEN, html=html, text=not html)
    verdict = parse_message(raw, sender=SENDER, internaldate=WHEN)
    tally.record("fuzz: hostile links tried")
    assert_safe(verdict)
    assert verdict.kind is not Kind.OTHER  # the phrase is there: a reset or a warning
    assert verdict.username == "jperez"
    if verdict.kind is Kind.RESET:  # only a link that passes every check by itself
        assert check_link(unwrap(verdict.url)[0]) == (verdict.url, [])


@settings(max_examples=300, deadline=None)
@given(hrefs, st.sampled_from(["plain", "safelinks", "proofpoint-v3"]))
def test_every_hostile_link_is_answered_by_the_link_checks(href: str, wrapper: str) -> None:
    """The inner functions themselves, where parse_message would swallow a crash."""
    wrapped = {"plain": href, "safelinks": safelinks(href), "proofpoint-v3": proofpoint_v3(href)}
    inner, undone = unwrap(wrapped[wrapper])
    assert len(undone) <= 5
    assert undone in ([], [wrapper]) or wrapper == "plain"
    url, reasons = check_link(inner)
    if url is None:
        assert reasons
        assert set(reasons) <= KNOWN_REASONS
        return
    assert reasons == []
    parts = urlsplit(url)
    assert parts.scheme == "https"
    assert parts.hostname == "secop.gov.co" or (parts.hostname or "").endswith(".secop.gov.co")
    assert check_link(url) == (url, [])


def test_seeds_are_genuine_resets() -> None:
    users = ["jperez", "mnuñez", "jperez", "jperez", "jperez"]
    for raw, user in zip(SEEDS, users, strict=True):
        verdict = parse_message(raw, sender=SENDER, internaldate=WHEN)
        assert verdict.kind is Kind.RESET
        assert_safe(verdict)
        assert verdict.username == user
        token = "a-b_c" if user == "mnuñez" else "x+y" if raw is SEEDS[4] else None
        assert verdict.url == (reset_url(token) if token else reset_url())


@pytest.mark.slow
@SLOW
@settings(max_examples=10_000, deadline=timedelta(seconds=1))
@given(st.binary(max_size=8192))
def test_arbitrary_bytes_never_raise_slow(raw: bytes) -> None:
    check(raw)


@pytest.mark.slow
@SLOW
@settings(
    max_examples=10_000,
    deadline=timedelta(seconds=1),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated())
def test_mutated_reset_mails_never_raise_slow(raw: bytes) -> None:
    check(raw)
