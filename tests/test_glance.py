"""The glance at old mail (watcher.glance): never more than what it read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from watcher import glance
from watcher.model import Found, Kind
from watcher.parsing import parse_message

ARRIVED = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
URL = "https://community.secop.gov.co/STS/Users/ResetPassword/Index?token=abc"
HEAD = (
    "From: Registro SECOP II <registro@secop.gov.co>\r\n"
    "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: <g@secop.gov.co>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
)


def judged(body: str, *, cut: bool) -> Found:
    raw = (HEAD + body).encode()
    return glance.judged(Found(parse_message(raw), "INBOX", 1), raw, cut, ARRIVED)


def test_a_user_name_cut_by_the_glance_is_not_named() -> None:
    body = f'<a href="{URL}">Haga clic aquí para cambiar la contraseña de usuario pedro.g'
    found = judged(body, cut=True)
    assert found.verdict.kind is Kind.OLD and found.verdict.username is None


def test_a_whole_name_and_link_are_kept_but_never_current() -> None:
    body = f'<a href="{URL}">Haga clic aquí para cambiar la contraseña de usuario pedro</a><p>Est'
    found = judged(body, cut=True)
    assert (found.verdict.kind, found.verdict.username, found.verdict.url) == (
        Kind.RESET,
        "pedro",
        URL,
    )
    assert found.whole is False


def test_a_link_cut_short_is_no_link() -> None:
    body = f"<p>Haga clic aquí para cambiar la contraseña de usuario pedro</p><p>{URL[:40]}"
    found = judged(body, cut=True)
    assert (found.verdict.kind, found.verdict.username, found.verdict.url) == (
        Kind.RESET,
        "pedro",
        None,
    )


def test_a_reason_a_cut_cannot_cause_stays() -> None:
    body = (
        '<a href="https://secop.gov.co.evil.example/r">Haga clic aquí para cambiar la '
        "contraseña de usuario pedro</a><p>Est"
    )
    found = judged(body, cut=True)
    assert found.verdict.kind is Kind.SUSPICIOUS
    assert "host_not_allowed" in found.verdict.reasons


def test_a_glanced_mail_counts_as_received_no_later_than_it_arrived() -> None:
    later = HEAD.replace("10:00:00", "23:00:00")
    raw = later + f'<a href="{URL}">Haga clic aquí para cambiar la contraseña de usuario p</a>'
    found = glance.judged(
        Found(parse_message(raw.encode()), "INBOX", 1), raw.encode(), False, ARRIVED
    )
    assert found.verdict.received == ARRIVED


def test_the_newest_are_glanced_all_folders_together() -> None:
    old = [(ARRIVED - timedelta(hours=n), "INBOX" if n % 2 else "Spam", n) for n in range(20)]
    old.append((None, "INBOX", 99))  # no arrival date: oldest of all
    chosen = glance.newest(old)
    assert chosen == {("INBOX" if n % 2 else "Spam", n) for n in range(glance.GLANCE_MAX)}
