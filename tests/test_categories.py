"""Each category of issue 11 as a real-shaped mail, through ``parse`` and through the
parts path against a real Dovecot: the IMAP path fetches the text parts separately
and must decide exactly as ``parse`` does on the whole message."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.categories import Case, cases
from tests.cliutil import check_json, write_config
from watcher import config as config_mod
from watcher.check import scan_new
from watcher.folders import Folder
from watcher.mail import ImapSession
from watcher.model import Kind, Verdict
from watcher.parsing import parse_message

if TYPE_CHECKING:
    from tests.servers.dovecot import Dovecot

CASES = cases()


def assert_outcome(case: Case, verdict: Verdict) -> None:
    assert verdict.kind is case.kind, (case.name, verdict)
    assert set(case.reasons) <= set(verdict.reasons), (case.name, verdict.reasons)
    if case.kind is Kind.RESET:
        assert verdict.reasons == ()
        assert verdict.url == case.url
    if case.kind is not Kind.OTHER:
        assert verdict.username == case.username


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_parse_gives_what_the_user_must_get(case: Case) -> None:
    assert_outcome(case, parse_message(case.raw))


@pytest.mark.dovecot
def test_the_parts_path_decides_as_parse_does(dovecot: Dovecot, tmp_path: Path) -> None:
    uids = {dovecot.append("jperez", "INBOX", case.raw): case for case in CASES}
    config = config_mod.load(write_config(tmp_path / "c.toml", dovecot))
    now = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)
    with ImapSession.open(config.imap, dovecot.password("jperez")) as session:
        found, _, _ = scan_new(session, Folder("INBOX", False, "inbox"), None, config, now)
    by_uid = {f.uid: f.verdict for f in found}
    assert set(by_uid) == set(uids)  # every mail was looked at
    for uid, case in uids.items():
        whole = parse_message(case.raw, internaldate=by_uid[uid].received)
        got = by_uid[uid]
        assert (got.kind, got.url, got.username, got.reasons) == (
            whole.kind,
            whole.url,
            whole.username,
            whole.reasons,
        ), case.name
        assert_outcome(case, got)


@pytest.mark.dovecot
def test_check_now_reports_each_category_as_parse_decides(dovecot: Dovecot, tmp_path: Path) -> None:
    """The installed ``check-now`` on a mailbox of every category: each reset's link is
    among the links (current, superseded or expired, by age and user), each suspicious
    mail among the suspicious ones with its reasons, and nothing else."""
    now = datetime.now(UTC)
    expected: dict[str, Case] = {}
    for n, case in enumerate(CASES):
        mid = f"<case-{n}@categories.test>"
        raw = re.sub(rb"(?im)^Message-ID:[^\r\n]*\r?\n", b"", case.raw, count=1)
        raw = f"Message-ID: {mid}\r\n".encode() + raw
        raw = re.sub(
            rb"(?im)^Date:[^\r\n]*", f"Date: {format_datetime(now)}".encode(), raw, count=1
        )
        dovecot.append("jperez", "INBOX", raw, date=now)
        expected[mid] = case
    code, data, err = check_json(
        write_config(tmp_path / "c.toml", dovecot), dovecot.password("jperez")
    )
    assert code == 0, err
    links = {x["message_id"]: x for key in ("current", "superseded", "expired") for x in data[key]}
    suspicious = {x["message_id"]: x for x in data["suspicious"]}
    for mid, case in expected.items():
        if case.kind is Kind.RESET:
            assert links[mid]["url"] == case.url, case.name
            assert links[mid]["username"] == case.username, case.name
        elif case.kind is Kind.SUSPICIOUS:
            assert set(case.reasons) <= set(suspicious[mid]["reasons"]), case.name
        else:
            assert mid not in links and mid not in suspicious, case.name
    assert set(links) | set(suspicious) <= set(expected)
