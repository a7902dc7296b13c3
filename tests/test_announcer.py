"""The announce/withdraw decisions, exactly once per link (a recording notifier for speed;
the real notification server is exercised in test_service_e2e)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from watcher.announcer import Announcer
from watcher.model import Link, Report, Status, Suspicious
from watcher.state import StateStore

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.n = 0

    def announce(self, link: Link, *, lang: str, expires_at: datetime) -> str | None:
        self.n += 1
        self.events.append(("announce", f"{link.username}:{link.url}:{expires_at:%H:%M}"))
        return f"h{self.n}"

    def withdraw(self, handle: str) -> None:
        self.events.append(("withdraw", handle))

    def warn(self, suspicious: Suspicious, *, lang: str) -> str | None:
        self.events.append(("warn", ",".join(suspicious.reasons)))
        return None

    def problem(self, title: str, body: str) -> None:
        self.events.append(("problem", title))

    def close(self) -> None:
        pass


def link(user: str, url: str, minutes_ago: int) -> Link:
    mid = f"<{minutes_ago}.{user}@secop.gov.co>"
    return Link(user, url, NOW - timedelta(minutes=minutes_ago), "INBOX", mid, Status.CURRENT)


def test_once_per_link_across_restarts_and_newer_replaces_older(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    rec = Recorder()
    a = Announcer(rec, "es", timedelta(hours=24))
    with store.update() as state:
        a.apply(
            Report(NOW, current=[link("jperez", "https://community.secop.gov.co/1", 10)]),
            state,
            NOW,
        )
    with store.update() as state:  # the same link again (next poll): nothing
        a.apply(
            Report(NOW, current=[link("jperez", "https://community.secop.gov.co/1", 10)]),
            state,
            NOW,
        )
    with store.update() as state:  # a newer link for the same user: withdraw, announce
        a.apply(
            Report(NOW, current=[link("jperez", "https://community.secop.gov.co/2", 1)]), state, NOW
        )
    assert rec.events == [
        ("announce", "jperez:https://community.secop.gov.co/1:14:50"),
        ("withdraw", "h1"),
        ("announce", "jperez:https://community.secop.gov.co/2:14:59"),
    ]
    # A restarted service (new Announcer, same state file) stays quiet, also for a rescan
    # that finds the older link again (e.g. after a UIDVALIDITY change).
    rec2 = Recorder()
    b = Announcer(rec2, "es", timedelta(hours=24))
    with store.update() as state:
        b.apply(
            Report(NOW, current=[link("jperez", "https://community.secop.gov.co/2", 1)]), state, NOW
        )
        b.apply(
            Report(NOW, current=[link("jperez", "https://community.secop.gov.co/1", 10)]),
            state,
            NOW,
        )
    assert rec2.events == []
    assert "community.secop.gov.co/2" not in (tmp_path / "state.json").read_text()


def test_suspicious_warned_once(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    rec = Recorder()
    a = Announcer(rec, "es", timedelta(hours=24))
    s = Suspicious(NOW, "Spam", "<x@evil>", "evil@x.org", "SECOP", "http://x", ("not_https",))
    for _ in range(3):
        with store.update() as state:
            a.apply(Report(NOW, suspicious=[s]), state, NOW)
    assert rec.events == [("warn", "not_https")]


def test_corrupt_state_is_rebuilt_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 1, "folders": {"INBOX": {"uidvalid')
    store = StateStore(path)
    assert store.read().folders == {}
    with store.update() as state:
        state.record_success(NOW)
    assert store.read().last_success == NOW.isoformat(timespec="seconds")
    assert path.stat().st_mode & 0o777 == 0o600


def test_mail_dates_in_colombian_time_still_replace_the_older_link(tmp_path: Path) -> None:
    """Dates carry the sender's offset (-05:00): comparing them as text would hide B."""
    from datetime import timezone

    bogota = timezone(timedelta(hours=-5))
    store = StateStore(tmp_path / "state.json")
    rec = Recorder()
    a = Announcer(rec, "es", timedelta(hours=24))
    first = Link(
        "jperez",
        "https://community.secop.gov.co/A",
        datetime(2026, 11, 25, 9, 0, tzinfo=bogota),
        "INBOX",
        "<a@secop.gov.co>",
        Status.CURRENT,
    )
    second = Link(
        "jperez",
        "https://community.secop.gov.co/B",
        datetime(2026, 11, 25, 9, 5, tzinfo=bogota),
        "Spam",
        "<b@secop.gov.co>",
        Status.CURRENT,
    )
    now = datetime(2026, 11, 25, 14, 10, tzinfo=UTC)
    for link in (first, second):
        with store.update() as state:
            a.apply(Report(now, current=[link]), state, now)
    assert [kind for kind, _ in rec.events] == ["announce", "withdraw", "announce"]
    assert rec.events[2][1].startswith("jperez:https://community.secop.gov.co/B")
    with store.update() as state:  # a rescan finds A again: older, stays quiet
        a.apply(Report(now, current=[first]), state, now)
    assert len(rec.events) == 3
