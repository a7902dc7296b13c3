"""watcher.choosing, pinned where mutation testing found the suite silent.

What the module docstring promises: per SECOP user the newest genuine reset is
current (expired once older than ``max_age``), older ones are superseded, a
suspicious mail never takes part, a mail seen twice (two folders) counts once,
and an old mail read only in part is never the current link.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from watcher.choosing import EPOCH, choose
from watcher.model import Found, Kind, Link, Status, Suspicious, Unopened, Verdict

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def reset(
    user: str | None,
    minutes_ago: int | None,
    *,
    uid: int = 1,
    folder: str = "INBOX",
    mid: str | None = "",
    whole: bool = True,
    url: str | None = "",
    verified: bool | None = None,
) -> Found:
    received = None if minutes_ago is None else NOW - timedelta(minutes=minutes_ago)
    verdict = Verdict(
        Kind.RESET,
        username=user,
        url=f"https://community.secop.gov.co/r?t={user}{minutes_ago}{uid}" if url == "" else url,
        received=received,
        message_id=f"<{user}-{minutes_ago}-{uid}@secop>" if mid == "" else mid,
        verified=verified,
    )
    return Found(verdict, folder, uid, whole)


def urls(links: list[Link]) -> list[str | None]:
    return [link.url for link in links]


def test_a_mail_seen_twice_is_skipped_and_the_others_still_count() -> None:
    newest = reset("jperez", 5, uid=9, mid="<same@secop>")
    same = reset("jperez", 5, uid=9, folder="[Gmail]/Spam", mid="<same@secop>")
    other_user = reset("mgomez", 30, uid=3)
    older = reset("jperez", 60, uid=2)
    report = choose([newest, same, other_user, older], now=NOW, max_age=DAY)
    assert [(x.username, x.folder) for x in report.current] == [
        ("jperez", "INBOX"),
        ("mgomez", "INBOX"),
    ]
    assert urls(report.superseded) == [older.verdict.url]


def test_mails_without_message_id_are_never_taken_for_one_another() -> None:
    a = reset("jperez", 5, uid=2, mid=None)
    b = reset("jperez", 10, uid=1, mid=None)
    report = choose([b, a], now=NOW, max_age=DAY)
    assert urls(report.current) == [a.verdict.url]
    assert urls(report.superseded) == [b.verdict.url]


def test_same_time_the_higher_uid_is_the_newer() -> None:
    first = reset("jperez", 5, uid=7)
    second = reset("jperez", 5, uid=8)
    report = choose([second, first], now=NOW, max_age=DAY)
    assert urls(report.current) == [second.verdict.url]
    assert [(x.url, x.status) for x in report.superseded] == [
        (first.verdict.url, Status.SUPERSEDED)
    ]


def test_a_mail_without_date_is_the_oldest_and_expired() -> None:
    undated = reset("jperez", None, uid=99)
    dated = reset("jperez", 600, uid=1)
    report = choose([undated, dated], now=NOW, max_age=DAY)
    assert urls(report.current) == [dated.verdict.url]
    assert [(x.url, x.received) for x in report.superseded] == [(undated.verdict.url, EPOCH)]
    alone = choose([undated], now=NOW, max_age=DAY)
    assert [(x.url, x.status, x.received) for x in alone.expired] == [
        (undated.verdict.url, Status.EXPIRED, EPOCH)
    ]
    assert alone.current == []


def test_exactly_max_age_is_still_current_a_minute_more_is_expired() -> None:
    at_limit = choose([reset("jperez", 24 * 60)], now=NOW, max_age=DAY)
    assert [x.status for x in at_limit.current] == [Status.CURRENT]
    past = choose([reset("jperez", 24 * 60 + 1)], now=NOW, max_age=DAY)
    assert (past.current, [x.status for x in past.expired]) == ([], [Status.EXPIRED])


def test_a_mail_read_in_part_is_never_current() -> None:
    glance = reset("jperez", 5, whole=False)
    report = choose([glance], now=NOW, max_age=DAY)
    assert report.current == []
    assert [(x.username, x.url, x.status) for x in report.expired] == [
        ("jperez", glance.verdict.url, Status.EXPIRED)
    ]


def test_a_glance_whose_link_did_not_fit_is_listed_without_link() -> None:
    cut = reset("jperez", 5, whole=False, url=None)
    report = choose([cut], now=NOW, max_age=DAY)
    assert report.current == []
    assert [(x.username, x.url) for x in report.expired] == [("jperez", None)]


def test_a_reset_without_link_is_never_current() -> None:
    report = choose([reset("jperez", 5, url=None)], now=NOW, max_age=DAY)
    assert report.current == []
    assert [x.url for x in report.expired] == [None]


def test_a_glance_still_supersedes_an_older_whole_mail() -> None:
    # The glanced mail is newer: the older link was invalidated by it.
    glance = reset("jperez", 5, uid=5, whole=False)
    older = reset("jperez", 30, uid=4)
    report = choose([older, glance], now=NOW, max_age=DAY)
    assert report.current == []
    assert urls(report.expired) == [glance.verdict.url]
    assert urls(report.superseded) == [older.verdict.url]


def test_the_link_carries_everything_the_user_is_shown() -> None:
    item = reset("JPerez", 5, uid=3, folder="Spam", mid="<m@secop>", verified=True)
    (link,) = choose([item], now=NOW, max_age=DAY).current
    assert link == Link(
        username="JPerez",
        url=item.verdict.url,
        received=NOW - timedelta(minutes=5),
        folder="Spam",
        message_id="<m@secop>",
        status=Status.CURRENT,
        verified=True,
    )


def test_users_without_name_form_one_group() -> None:
    a = reset(None, 5, uid=2)
    b = reset(None, 10, uid=1)
    report = choose([a, b], now=NOW, max_age=DAY)
    assert urls(report.current) == [a.verdict.url]
    assert urls(report.superseded) == [b.verdict.url]


def test_a_suspicious_mail_is_reported_with_all_it_said() -> None:
    verdict = Verdict(
        Kind.SUSPICIOUS,
        username="jperez",
        url="http://evil.example/r",
        received=NOW - timedelta(minutes=1),
        message_id="<fake@x>",
        sender="evil@x.org",
        subject="SECOP II - Recuperación de contraseña",
        reasons=("sender_mismatch", "not_https"),
    )
    report = choose([Found(verdict, "Spam", 9), reset("jperez", 10)], now=NOW, max_age=DAY)
    assert report.suspicious == [
        Suspicious(
            received=NOW - timedelta(minutes=1),
            folder="Spam",
            message_id="<fake@x>",
            sender="evil@x.org",
            subject="SECOP II - Recuperación de contraseña",
            url="http://evil.example/r",
            reasons=("sender_mismatch", "not_https"),
        )
    ]
    assert [x.username for x in report.current] == ["jperez"]
    assert report.superseded == []


def test_old_mails_are_counted_newest_first_and_nothing_else() -> None:
    old = [
        Found(Verdict(Kind.OLD, received=NOW - timedelta(days=d)), f"F{d}", d) for d in (9, 3, 5)
    ]
    other = Found(Verdict(Kind.OTHER, received=NOW), "INBOX", 1)
    report = choose([*old, other], now=NOW, max_age=DAY)
    assert report.unopened == [
        Unopened(NOW - timedelta(days=3), "F3"),
        Unopened(NOW - timedelta(days=5), "F5"),
        Unopened(NOW - timedelta(days=9), "F9"),
    ]
    assert (report.current, report.expired, report.superseded, report.suspicious) == (
        [],
        [],
        [],
        [],
    )
    assert report.checked_at == NOW
