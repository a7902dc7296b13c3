"""The mail layer against the three real servers: pipelining that never hangs, UIDNEXT
where EXAMINE lacks it, capabilities after login, and the round trips of a cold check.

Each server through :class:`benchmarks.proxy.LatencyProxy` (which only copies bytes
and counts the conversation's turns), in-process, with the code check-now runs.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from benchmarks.proxy import LatencyProxy
from tests import mailfactory as mf
from tests.mailfactory import reset_mail, reset_url
from watcher import paths
from watcher.check import run_check, scan_new_many
from watcher.config import Config, ImapConfig, WatchConfig
from watcher.errors import ConnectionFailed
from watcher.folders import Folder
from watcher.mail import ImapSession, login, scanning, translate_errors
from watcher.mail.learned import FILE, LOSES_AFTER_LOGIN, ServerNotes

pytestmark = pytest.mark.imapserver

# Issue 12: a cold check costs 6 round trips on Dovecot (SEARCHRES), 7 without SEARCHRES
# (Cyrus), and may cost one more on Courier (LOGIN alone; STATUS for UIDNEXT rides along
# with the envelopes). That is, after the TCP and TLS handshakes (the connection's own
# cost: Cyrus's TLS takes one turn more, measured in test_the_handshakes_...), IMAP turns:
IMAP_TURNS = {"Dovecot": 3, "Cyrus": 4, "Courier": 5}
HANDSHAKE = {"Dovecot": 3, "Cyrus": 4, "Courier": 3}  # TCP + TLS + greeting, measured


def spam_of(server: Any) -> str:
    return str(getattr(server, "spam_folder", "Spam"))


def imap_config(server: Any, port: int, **kw: Any) -> ImapConfig:
    return ImapConfig(
        host="127.0.0.1",
        username="jperez",
        port=port,
        ca_file=server.ca_file,
        timeout_seconds=20,
        **kw,
    )


def fill(server: Any) -> None:
    now = datetime.now(UTC)
    server.append(
        "jperez", "INBOX", reset_mail("ana", reset_url("t-old"), date=now - timedelta(minutes=30))
    )
    server.append(
        "jperez",
        spam_of(server),
        reset_mail("ana", reset_url("t-new"), date=now - timedelta(minutes=5)),
    )


def cold_check(
    server: Any, proxy: LatencyProxy | None = None, **kw: Any
) -> tuple[Any, dict[str, int]]:
    """One check, through ``proxy`` (the same one twice: what was learned about the
    server, keyed by host and port, is used the second time) or a new one."""
    with contextlib.ExitStack() as stack:
        if proxy is None:
            proxy = stack.enter_context(LatencyProxy("127.0.0.1", server.port_ssl, 0))
        imap = imap_config(server, proxy.port, **kw)
        config = Config(imap=imap, watch=WatchConfig())
        before = proxy.snapshot()
        started = time.monotonic()
        report = run_check(
            config, lambda: ImapSession.open(imap, server.password("jperez")), datetime.now(UTC)
        )
        stats = (proxy.snapshot() - before).as_dict()
    stats["ms"] = round((time.monotonic() - started) * 1000)  # printed for the record only
    stats["round_trips"] = stats["turns"] + stats["connections"]
    return report, stats


def test_a_cold_check_per_server_never_hangs_and_its_round_trips_are_counted(
    imap_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    kind = type(imap_server).__name__
    fill(imap_server)
    with LatencyProxy("127.0.0.1", imap_server.port_ssl, 0) as proxy:
        first, cold = cold_check(imap_server, proxy)
        second, learned = cold_check(imap_server, proxy)  # what the first one learned is used
    with capsys.disabled():
        print(f"\n{kind}: cold check {cold}; next {learned}")
    for report in (first, second):
        assert [link.url for link in report.current] == [reset_url("t-new")]
        assert [link.url for link in report.superseded] == [reset_url("t-old")]
    assert learned["round_trips"] <= HANDSHAKE[kind] + IMAP_TURNS[kind]
    notes = (
        json.loads((paths.state_dir() / FILE).read_text())
        if (paths.state_dir() / FILE).exists()
        else {}
    )
    lossy = [k for k, v in notes.items() if v.get(LOSES_AFTER_LOGIN)]
    # Only Courier loses what is sent behind LOGIN; the others keep LOGIN pipelined.
    assert bool(lossy) == (kind == "Courier")
    if kind != "Courier":
        assert cold["round_trips"] == learned["round_trips"]


def test_the_handshakes_before_any_imap_command(imap_server: Any) -> None:
    """TCP, TLS and the greeting: the part of a check the server's TLS decides."""
    kind = type(imap_server).__name__
    with LatencyProxy("127.0.0.1", imap_server.port_ssl, 0) as proxy:
        client = login.connect(imap_config(imap_server, proxy.port))
        stats = proxy.snapshot()
        login.drop(client)
    assert stats.turns + stats.connections == HANDSHAKE[kind]


def test_pipelining_off_sends_each_command_after_the_previous_answer(imap_server: Any) -> None:
    fill(imap_server)
    piped, with_pipelining = cold_check(imap_server)
    one_by_one, without = cold_check(imap_server, pipelining=False)
    assert [link.url for link in one_by_one.current] == [link.url for link in piped.current]
    assert [link.url for link in one_by_one.superseded] == [link.url for link in piped.superseded]
    assert without["turns"] > with_pipelining["turns"]


def test_a_server_that_answers_late_behind_login_is_not_harmed_by_the_resend(
    dovecot: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """If a slow server answers after the resend, the first answers are filed, not mixed."""
    monkeypatch.setattr(login, "answered_within", lambda _imap, _seconds: False)
    notes = ServerNotes(tmp_path / "servers.json")
    imap = imap_config(dovecot, dovecot.port_ssl)
    with ImapSession.open(imap, dovecot.password("jperez"), notes) as session:
        names = [name for _f, _d, name in session.listing()]
        assert sorted(names) == sorted(set(names))  # each folder once
        assert session.supports_idle()
        info = session.examine("INBOX")
        assert info[b"UIDVALIDITY"]
    assert notes.knows(imap, LOSES_AFTER_LOGIN)
    assert json.loads((tmp_path / "servers.json").read_text()) == {
        f"127.0.0.1:{dovecot.port_ssl}:ssl": {LOSES_AFTER_LOGIN: True}
    }
    # Noted: the next login sends LOGIN alone and never asks whether answers came.
    monkeypatch.setattr(login, "answered_within", lambda _imap, _seconds: pytest.fail("asked"))
    with ImapSession.open(imap, dovecot.password("jperez"), notes) as session:
        assert "INBOX" in [name for _f, _d, name in session.listing()]


def test_uidnext_comes_from_status_where_examine_lacks_it(imap_server: Any) -> None:
    uids = [
        imap_server.append(
            "jperez", "INBOX", reset_mail("ana", reset_url(f"t{i}"), date=datetime.now(UTC))
        )
        for i in range(3)
    ]
    imap = imap_config(imap_server, imap_server.port_ssl)
    with ImapSession.open(imap, imap_server.password("jperez")) as session:
        info = session.examine("INBOX")
        scans = session.scan(["INBOX"], "registro@secop.gov.co", datetime.now(UTC).date())
    assert info[b"UIDNEXT"] == max(uids) + 1
    assert scans[0].uidnext == max(uids) + 1


def test_idle_is_known_from_the_capabilities_after_login(imap_server: Any) -> None:
    """Cyrus's greeting lacks IDLE; its answer after LOGIN has it."""
    imap = imap_config(imap_server, imap_server.port_ssl)
    with ImapSession.open(imap, imap_server.password("jperez")) as session:
        assert session.supports_idle()


@pytest.mark.parametrize(
    "error",
    [
        ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
        ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed"),
    ],
)
def test_a_close_without_close_notify_is_a_dropped_connection(error: ssl.SSLError) -> None:
    imap = ImapConfig(host="h", username="u")
    with pytest.raises(ConnectionFailed) as caught, translate_errors(imap):
        raise error
    assert caught.value.key == "error.dropped"


def test_other_tls_errors_stay_tls_errors() -> None:
    from watcher.errors import TLSError

    with pytest.raises(TLSError), translate_errors(ImapConfig(host="h", username="u")):
        raise ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")


def test_mail_arriving_while_a_check_runs_is_found_by_the_next_one(
    courier: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Courier's EXAMINE has no UIDNEXT: the one STATUS gives must never be taken after the
    search (it would move the cursor past a mail the search did not see)."""
    imap = imap_config(courier, courier.port_ssl)
    config = Config(imap=imap, watch=WatchConfig())
    inbox = Folder("INBOX", False, "inbox")
    spam = Folder("INBOX.Spam", True, "name")
    folders = [spam, inbox]  # as the service and wait order them: INBOX examined last
    now = datetime.now(UTC)
    courier.append("jperez", "INBOX.Spam", mf.reset_mail("u0", mf.reset_url("t0"), date=now))
    session = ImapSession.open(imap, courier.password("jperez"))
    try:
        _, cursors, _ = scan_new_many(
            session, folders, {"INBOX": None, "INBOX.Spam": None}, config, now
        )
        original = scanning._fetch_envelopes_of

        def mail_arrives_first(*args: Any) -> None:  # between the SEARCH and the STATUS
            courier.append(
                "jperez", "INBOX.Spam", mf.reset_mail("u1", mf.reset_url("t1"), date=now)
            )
            original(*args)

        monkeypatch.setattr(scanning, "_fetch_envelopes_of", mail_arrives_first)
        found, cursors, _ = scan_new_many(session, folders, cursors, config, now)
        monkeypatch.setattr(scanning, "_fetch_envelopes_of", original)
        assert found == []  # not seen by that SEARCH: fine, the next check will …
        found, _, _ = scan_new_many(session, folders, cursors, config, now)
    finally:
        session.close()
    # … and it does: the cursor never stood past it.
    assert [f.verdict.username for f in found] == ["u1"], cursors
