"""Choosing is pure: verdicts and a clock in, a report out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from watcher.choosing import choose
from watcher.model import Found, Kind, Verdict

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def reset(
    user: str | None, minutes_ago: int, folder: str = "INBOX", uid: int = 1, mid: str | None = None
) -> Found:
    received = NOW - timedelta(minutes=minutes_ago)
    url = f"https://community.secop.gov.co/r?t={user}{minutes_ago}"
    verdict = Verdict(
        Kind.RESET,
        username=user,
        url=url,
        received=received,
        message_id=mid or f"<{user}-{minutes_ago}@secop>",
    )
    return Found(verdict, folder, uid)


def test_newest_per_user_is_current_and_older_are_superseded() -> None:
    found = [
        reset("jperez", 50, "INBOX", 1),
        reset("jperez", 5, "Spam", 7),
        reset("mgomez", 30, "INBOX", 2),
        reset("jperez", 20, "INBOX", 3),
    ]
    report = choose(found, now=NOW, max_age=DAY)
    assert [(x.username, x.folder, x.url) for x in report.current] == [
        ("jperez", "Spam", "https://community.secop.gov.co/r?t=jperez5"),
        ("mgomez", "INBOX", "https://community.secop.gov.co/r?t=mgomez30"),
    ]
    assert [x.url for x in report.superseded] == [
        "https://community.secop.gov.co/r?t=jperez20",
        "https://community.secop.gov.co/r?t=jperez50",
    ]
    assert report.expired == []


def test_old_newest_link_is_expired_not_current() -> None:
    report = choose(
        [reset("jperez", 25 * 60), reset("jperez", 26 * 60, uid=2)], now=NOW, max_age=DAY
    )
    assert report.current == []
    assert [x.url for x in report.expired] == ["https://community.secop.gov.co/r?t=jperez1500"]
    assert len(report.superseded) == 1


def test_usernames_match_case_insensitively() -> None:
    report = choose([reset("JPerez", 5), reset("jperez", 10, uid=2)], now=NOW, max_age=DAY)
    assert len(report.current) == 1
    assert len(report.superseded) == 1


def test_suspicious_never_current_and_never_supersedes() -> None:
    fake = Found(
        Verdict(
            Kind.SUSPICIOUS,
            username="jperez",
            url="http://secop.evil/x",
            received=NOW - timedelta(minutes=1),
            message_id="<fake@x>",
            sender="evil@x.org",
            reasons=("sender_mismatch", "not_https"),
        ),
        "Spam",
        9,
    )
    report = choose([fake, reset("jperez", 10)], now=NOW, max_age=DAY)
    assert [x.url for x in report.current] == ["https://community.secop.gov.co/r?t=jperez10"]
    assert [s.reasons for s in report.suspicious] == [("sender_mismatch", "not_https")]


def test_same_message_in_two_folders_counts_once() -> None:
    a = reset("jperez", 5, "INBOX", 1, mid="<same@secop>")
    b = reset("jperez", 5, "[Gmail]/Spam", 4, mid="<same@secop>")
    report = choose([a, b], now=NOW, max_age=DAY)
    assert len(report.current) == 1
    assert report.superseded == []


def test_other_mail_is_ignored() -> None:
    other = Found(Verdict(Kind.OTHER, received=NOW), "INBOX", 3)
    report = choose([other], now=NOW, max_age=DAY)
    assert (report.current, report.expired, report.superseded, report.suspicious) == (
        [],
        [],
        [],
        [],
    )
