"""What a check opens, decided from envelopes and a clock alone (watcher.opening): no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.test_mut_parts import HTML, PLAIN, PNG, multipart, structure
from watcher import glance, opening
from watcher.config import Config, ImapConfig, WatchConfig
from watcher.folders import Folder
from watcher.mail import Envelope
from watcher.model import Kind

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CONFIG = Config(imap=ImapConfig(host="h", username="u"), watch=WatchConfig(max_link_age_hours=24))
INBOX = Folder("INBOX", False, "inbox")
SPAM = Folder("Spam", True, "special-use")
ALTERNATIVE = structure(multipart(b"ALTERNATIVE", PLAIN, HTML))


def env(
    uid: int,
    *,
    hours_ago: float = 1,
    sender: str = "registro@secop.gov.co",
    body: object = ALTERNATIVE,
    raw: bytes | None = None,
) -> Envelope:
    return Envelope(
        uid=uid,
        internaldate=NOW - timedelta(hours=hours_ago),
        size=1000,
        headers=f"From: {sender}\r\n\r\n".encode(),
        structure=body,
        raw=raw,
    )


def test_every_text_part_of_a_recent_mail_is_fetched() -> None:
    plan = opening.plan([(INBOX, [env(1)])], CONFIG, NOW)
    assert [(uid, leaf.section) for uid, leaf in plan.parts["INBOX"]] == [(1, "1"), (1, "2")]
    assert plan.decided == [] and plan.complete == []


def test_siblings_of_the_sender_domain_are_counted_never_opened() -> None:
    notices = env(2, sender="notificaciones@secop.gov.co")
    lookalike = env(3, sender="registro@secop-gov.co")
    plan = opening.plan([(INBOX, [notices, lookalike])], CONFIG, NOW)
    assert [(f.uid, f.verdict.kind) for f in plan.decided] == [(2, Kind.OTHER)]
    assert {uid for uid, _ in plan.parts["INBOX"]} == {3}  # a look-alike is always opened


def test_old_mail_beyond_the_glanced_ones_is_counted_and_the_newest_old_are_glanced() -> None:
    old = [env(10 + i, hours_ago=30 + i) for i in range(glance.GLANCE_MAX + 3)]
    plan = opening.plan([(INBOX, old[:5]), (SPAM, old[5:])], CONFIG, NOW)
    glanced = plan.glanced["INBOX"] | plan.glanced["Spam"]
    assert len(glanced) == glance.GLANCE_MAX
    assert glanced == {e.uid for e in old[: glance.GLANCE_MAX]}  # the newest, both folders together
    counted = {f.uid for f in plan.decided if f.verdict.kind is Kind.OLD}
    assert counted == {e.uid for e in old[glance.GLANCE_MAX :]}
    # A glance fetches one text part per glanced mail, never all of them.
    per_mail = [uid for folder in ("INBOX", "Spam") for uid, _ in plan.parts[folder]]
    assert sorted(per_mail) == sorted(glanced)


def test_an_old_mail_of_another_sender_is_opened_however_old() -> None:
    forged = env(4, hours_ago=24 * 6, sender="registro@secop.gov.co.evil.example")
    plan = opening.plan([(INBOX, [forged])], CONFIG, NOW)
    assert {uid for uid, _ in plan.parts["INBOX"]} == {4}


def test_a_mail_already_here_whole_is_parsed_as_it_is() -> None:
    pushed = env(5, raw=b"From: registro@secop.gov.co\r\n\r\nhola")
    plan = opening.plan([(INBOX, [pushed])], CONFIG, NOW)
    assert plan.complete == [(INBOX, pushed)] and plan.parts["INBOX"] == []
    assert opening.whole_after(plan, INBOX, [pushed], {}) == []


def test_a_mail_without_text_parts_is_fetched_whole_after_the_parts() -> None:
    image_only = env(6, body=structure(PNG))
    plan = opening.plan([(INBOX, [image_only, env(7)])], CONFIG, NOW)
    assert {uid for uid, _ in plan.parts["INBOX"]} == {7}
    assert opening.whole_after(plan, INBOX, [image_only, env(7)], {7: []}) == [6]


def test_an_old_mail_with_nothing_to_glance_at_is_counted_not_fetched_whole() -> None:
    old_image = env(8, hours_ago=40, body=structure(PNG))
    plan = opening.plan([(INBOX, [old_image])], CONFIG, NOW)
    assert [(f.uid, f.verdict.kind) for f in plan.decided] == [(8, Kind.OLD)]
    assert opening.whole_after(plan, INBOX, [old_image], {}) == []
