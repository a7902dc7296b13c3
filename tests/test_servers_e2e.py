"""End to end against every real IMAP server: Dovecot, Cyrus and Courier.

The installed ``secop-watcher`` (``check-now``, ``wait``, ``run``, ``doctor``) as a
user runs it, against each server in its own layout: Dovecot ``Spam`` ("/", \\Junk),
Cyrus ``INBOX.Spam`` (".", \\Junk), Courier ``INBOX.Spam`` (".", no special-use).
One server of each kind serves the whole module (``shared_imap_server``, Courier
with enhanced IDLE); each test adds a random user of its own, so no test sees
another's mail. The restart tests restart that shared server in place (same ports,
same mail).

Every test ends by asserting what the server or the CLI said, never a constant:
the mailbox is compared before and after, link for link, UID for UID.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import mailfactory as mf
from tests.cliutil import Background, check_json, run, write_config
from watcher.exitcodes import ExitCode

pytestmark = pytest.mark.imapserver

SPAM = {"Dovecot": "Spam", "Cyrus": "INBOX.Spam", "Courier": "INBOX.Spam"}
# A run that waits for the server longer than this is stuck (the config says 10 s).
CLI_TIMEOUT = 90.0

HOOK = """\
import json, os, sys
with open(sys.argv[1], "a") as out:
    out.write(json.dumps({k: v for k, v in os.environ.items() if k.startswith("SECOP_")}) + "\\n")
"""


@dataclass
class Account:
    """One random user on the shared server of one kind."""

    server: Any
    kind: str
    user: str
    password: str
    spam: str
    tmp: Path

    @property
    def folders(self) -> list[str]:
        return ["INBOX", self.spam]

    def config(self, *, watch: str = "", notify: str = "") -> Path:
        return write_config(
            self.tmp / "c.toml",
            self.server,
            self.user,
            watch=watch + (f"\n\n[notify]\n{notify}" if notify else ""),
        )

    def env(self, password: str | None = None) -> dict[str, str]:
        return {"SECOP_WATCHER_PASSWORD": self.password if password is None else password}

    def put(
        self,
        folder: str,
        secop_user: str,
        token: str,
        *,
        minutes_ago: float = 0,
        flags: tuple[bytes, ...] = (),
    ) -> tuple[int, bytes]:
        """A reset mail for ``secop_user`` (``Date`` and INTERNALDATE ``minutes_ago``)."""
        when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
        raw = mf.reset_mail(secop_user, mf.reset_url(token), date=when)
        return self.server.append(self.user, folder, raw, flags=flags, date=when), raw


@pytest.fixture
def account(shared_imap_server: Any, tmp_path: Path) -> Account:
    server = shared_imap_server
    if not server.running:  # an earlier test's restart failed half-way
        server.start()
    user = "u" + secrets.token_hex(5)
    password = secrets.token_urlsafe(16)
    server.add_user(user, password)
    kind = type(server).__name__
    return Account(server, kind, user, password, SPAM[kind], tmp_path)


def url(token: str) -> str:
    return mf.reset_url(token)


def triples(links: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(x["username"], x["folder"], x["url"]) for x in links}


def said(proc: Background) -> str:
    return f"exit {proc.proc.poll()}; stderr:\n" + "\n".join(proc.lines)


# --------------------------------------------------------------------------- evidence
def mailbox_state(acc: Account) -> dict[str, Any]:
    """What the server holds, read on fresh connections after EXAMINE: every message's
    UID, FLAGS and content hash; per folder MESSAGES, EXISTS, UIDVALIDITY, UIDNEXT and
    (CONDSTORE: Dovecot, Cyrus) HIGHESTMODSEQ; and where the server keeps flags in
    file names (Maildir: Dovecot, Courier) every message file's name and hash.

    The IMAP part comes first: should an EXAMINE move files from ``new/`` to ``cur/``,
    it has happened before the file names are read, every time.
    """
    server, user = acc.server, acc.user
    state: dict[str, Any] = {
        "messages": server.snapshot(user),
        "status": server.folder_status(user),
    }
    if hasattr(server, "maildir_snapshot"):
        state["files"] = server.maildir_snapshot(user)
    assert set(acc.folders) <= set(state["messages"]), state["messages"]  # Dovecot: +Sent, Trash
    if acc.kind == "Cyrus":  # the server-side proof there: every flag change moves it
        assert all("HIGHESTMODSEQ" in st for st in state["status"].values()), state
    if acc.kind in ("Dovecot", "Courier"):
        assert state["files"], "no message files found: the evidence would prove nothing"
    return state


def modseq(acc: Account, folder: str, uid: int) -> int:
    with acc.server.connect(acc.user) as c:
        c.select_folder(folder, readonly=True)
        value = c.fetch([uid], ["MODSEQ"])[uid][b"MODSEQ"]
    return int(value[0])


def maildir_flags(name: str) -> str:
    """The flag letters of a Maildir file name (``new/`` files have none)."""
    return name.rpartition(":2,")[2] if ":2," in name else ""


def assert_only_arrival(
    acc: Account, before: dict[str, Any], after: dict[str, Any], folder: str, uid: int, raw: bytes
) -> None:
    """``after`` is ``before`` plus the one unflagged message ``uid`` in ``folder``."""
    messages = copy.deepcopy(before["messages"])
    messages[folder] = sorted([*messages[folder], (uid, (), hashlib.sha256(raw).hexdigest())])
    assert after["messages"] == messages
    status = copy.deepcopy(before["status"])
    st = status[folder]
    st["MESSAGES"] += 1
    st["EXISTS"] += 1
    st["UIDNEXT"] = uid + 1
    if "HIGHESTMODSEQ" in st:  # nothing changed after the APPEND: it holds the top modseq
        st["HIGHESTMODSEQ"] = modseq(acc, folder, uid)
    assert after["status"] == status
    if "files" in before:
        assert not set(before["files"]) - set(after["files"]), "a message file was renamed"
        for name in before["files"]:
            assert after["files"][name] == before["files"][name], name
        added = sorted(set(after["files"]) - set(before["files"]))
        assert len(added) == 1, added
        assert maildir_flags(added[0]) == "", added


# --------------------------------------------------------------------------- CLI
def start_wait(acc: Account, *extra: str) -> Background:
    return Background("--config", str(acc.config()), "-v", "wait", "--json", *extra, env=acc.env())


def start_service(acc: Account, hook_out: Path) -> Background:
    hook = acc.tmp / "hook.py"
    hook.write_text(HOOK)
    command = json.dumps([sys.executable, str(hook), str(hook_out)])
    cfg = acc.config(watch="poll_seconds = 3600", notify=f"command = {command}")
    env = acc.env()
    env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={acc.tmp}/no-bus"  # the hook is the witness
    env["DISPLAY"] = ""
    return Background("--config", str(cfg), "-v", "run", env=env)


def hook_runs(out: Path, count: int, timeout: float, svc: Background) -> list[dict[str, str]]:
    """The first ``count`` runs of the notification hook, waiting up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        runs = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
        if len(runs) >= count:
            return runs
        if time.monotonic() > deadline or svc.proc.poll() is not None:
            raise AssertionError(f"{len(runs)} hook run(s) of {count}: {runs}\n{said(svc)}")
        time.sleep(0.05)


def wait_ready(proc: Background, count: int = 2, timeout: float = 45) -> None:
    """Both folders' IDLE connections are up (after ``count`` - 2 earlier ones)."""
    proc.wait_for("IDLE connection ready", timeout=timeout, count=count)


# --------------------------------------------------------------------------- 1. check-now
def test_check_now_the_newest_link_is_current_the_older_ones_superseded(
    account: Account,
) -> None:
    acc = account
    acc.put("INBOX", "jperez", "inbox-3h", minutes_ago=180, flags=(b"\\Seen",))
    acc.put(acc.spam, "jperez", "spam-2h", minutes_ago=120)
    acc.put("INBOX", "jperez", "inbox-1h", minutes_ago=60)
    acc.put(acc.spam, "jperez", "spam-10m", minutes_ago=10)
    started = time.monotonic()
    code, data, err = check_json(acc.config(), acc.password)
    took = time.monotonic() - started
    assert code == ExitCode.FOUND, f"exit {code} after {took:.1f} s: {err}"
    assert data["folders"] == acc.folders
    assert triples(data["current"]) == {("jperez", acc.spam, url("spam-10m"))}
    assert triples(data["superseded"]) == {
        ("jperez", "INBOX", url("inbox-3h")),
        ("jperez", acc.spam, url("spam-2h")),
        ("jperez", "INBOX", url("inbox-1h")),
    }
    assert data["suspicious"] == [] and data["expired"] == []
    assert took < 15, f"check-now took {took:.1f} s"


# --------------------------------------------------------------------------- 2. wait
def test_wait_ignores_what_was_there_and_reports_what_arrives(account: Account) -> None:
    acc = account
    acc.put(acc.spam, "jperez", "before-spam", minutes_ago=2)
    acc.put("INBOX", "mgomez", "before-inbox", minutes_ago=1)
    waiter = start_wait(acc, "--timeout", "2")
    waiter.wait_for(f"Esperando el correo de SECOP II en INBOX, {acc.spam}", timeout=45)
    wait_ready(waiter)
    time.sleep(1.5)
    assert waiter.proc.poll() is None, "reported mail that was there before it started: " + said(
        waiter
    )
    before = mailbox_state(acc)
    uid, raw = acc.put(acc.spam, "jperez", "after")
    appended = time.monotonic()
    code, out = waiter.communicate(timeout=CLI_TIMEOUT)
    latency = time.monotonic() - appended
    assert code == ExitCode.FOUND, said(waiter)
    data = json.loads(out)
    assert data["link"]["url"] == url("after")
    assert data["link"]["folder"] == acc.spam
    assert data["folders"] == acc.folders
    assert "before-" not in out + "\n".join(waiter.lines)
    assert latency < 5, f"{latency:.1f} s from APPEND to the answer: no IDLE push?"
    assert_only_arrival(acc, before, mailbox_state(acc), acc.spam, uid, raw)


# --------------------------------------------------------------------------- 3. run
def test_run_announces_a_pushed_mail_from_inbox_and_from_spam(account: Account) -> None:
    acc = account
    out = acc.tmp / "runs.jsonl"
    svc = start_service(acc, out)
    wait_ready(svc)
    latencies = []
    for n, (folder, who) in enumerate([("INBOX", "jperez"), (acc.spam, "mgomez")], start=1):
        t0 = time.monotonic()
        acc.put(folder, who, f"run-{n}")
        runs = hook_runs(out, n, timeout=20, svc=svc)
        latencies.append(time.monotonic() - t0)
        last = runs[n - 1]
        assert last["SECOP_WATCHER_EVENT"] == "link"
        assert last["SECOP_WATCHER_USERNAME"] == who
        assert last["SECOP_WATCHER_URL"] == url(f"run-{n}")
        assert last["SECOP_WATCHER_FOLDER"] == folder
    # poll_seconds = 3600: only IDLE can have brought them this fast.
    assert max(latencies) < 5, latencies
    assert svc.proc.poll() is None
    assert svc.stop() == 0, said(svc)
    assert len(hook_runs(out, 2, 0, svc)) == 2  # nothing announced twice
    print(f"\n{acc.kind}: APPEND to hook, INBOX {latencies[0]:.2f} s, spam {latencies[1]:.2f} s")


# --------------------------------------------------------------------------- 4. restarts
@pytest.mark.parametrize("graceful", [True, False], ids=["sigterm", "sigkill"])
def test_wait_survives_a_server_restart(account: Account, graceful: bool) -> None:
    acc = account
    waiter = start_wait(acc, "--timeout", "2")
    wait_ready(waiter)
    acc.server.restart(graceful)
    acc.put(acc.spam, "jperez", "after-restart")
    code, out = waiter.communicate(timeout=CLI_TIMEOUT)
    assert code != ExitCode.CONNECTION, "gave up on the restart: " + said(waiter)
    assert code == ExitCode.FOUND, said(waiter)
    data = json.loads(out)
    assert data["link"]["url"] == url("after-restart")
    assert data["link"]["folder"] == acc.spam


@pytest.mark.parametrize("graceful", [True, False], ids=["sigterm", "sigkill"])
def test_run_survives_a_server_restart(account: Account, graceful: bool) -> None:
    acc = account
    out = acc.tmp / "runs.jsonl"
    svc = start_service(acc, out)
    wait_ready(svc)
    acc.server.restart(graceful)
    acc.put("INBOX", "jperez", "after-restart")
    runs = hook_runs(out, 1, timeout=45, svc=svc)
    assert runs[0]["SECOP_WATCHER_URL"] == url("after-restart")
    assert runs[0]["SECOP_WATCHER_FOLDER"] == "INBOX"
    wait_ready(svc, count=4)  # both folders back on IDLE
    acc.put(acc.spam, "mgomez", "pushed-after-restart")
    runs = hook_runs(out, 2, timeout=20, svc=svc)
    assert runs[1]["SECOP_WATCHER_URL"] == url("pushed-after-restart")
    assert svc.stop() == 0, said(svc)


# --------------------------------------------------------------------------- 5. read-only
def test_the_mailbox_is_unchanged_by_check_now_wait_doctor_and_run(account: Account) -> None:
    acc = account
    acc.put("INBOX", "jperez", "ro-old", minutes_ago=90)
    acc.put("INBOX", "mgomez", "ro-seen", minutes_ago=50, flags=(b"\\Seen",))
    acc.put("INBOX", "lgarcia", "ro-flagged", minutes_ago=40, flags=(b"\\Flagged",))
    acc.put(acc.spam, "jperez", "ro-spam", minutes_ago=20)
    acc.put(acc.spam, "otro", "ro-answered", minutes_ago=5, flags=(b"\\Answered", b"\\Seen"))
    before = mailbox_state(acc)
    rows = [row for folder_rows in before["messages"].values() for row in folder_rows]
    unseen = [uid for uid, flags, _sha in rows if b"\\Seen" not in flags]
    assert len(unseen) == 3  # the watcher reads these; they must stay unseen
    cfg = acc.config()

    code, data, err = check_json(cfg, acc.password)
    assert code == ExitCode.FOUND, err
    assert len(data["current"]) == 4
    done = run("--config", str(cfg), "check-now", env=acc.env(), timeout=CLI_TIMEOUT)
    assert done.returncode == ExitCode.FOUND, done.stderr
    since = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    done = run(
        "--config",
        str(cfg),
        "wait",
        "--since",
        since,
        "--timeout",
        "0.2",
        env=acc.env(),
        timeout=CLI_TIMEOUT,
    )
    assert done.returncode == ExitCode.FOUND, done.stderr
    done = run("--config", str(cfg), "doctor", "--json", env=acc.env(), timeout=CLI_TIMEOUT)
    assert {c["check"]: c["status"] for c in json.loads(done.stdout)["checks"]}["login"] == "ok"
    assert mailbox_state(acc) == before

    out = acc.tmp / "runs.jsonl"
    svc = start_service(acc, out)
    assert len(hook_runs(out, 4, timeout=45, svc=svc)) == 4  # the first check's links
    wait_ready(svc)
    uid, raw = acc.put(acc.spam, "nuevo", "ro-pushed")  # read on the IDLE connection
    runs = hook_runs(out, 5, timeout=20, svc=svc)
    assert runs[4]["SECOP_WATCHER_URL"] == url("ro-pushed")
    assert svc.stop() == 0, said(svc)
    assert_only_arrival(acc, before, mailbox_state(acc), acc.spam, uid, raw)


# --------------------------------------------------------------------------- 6. doctor
def doctor_checks(acc: Account, password: str) -> tuple[dict[str, dict[str, Any]], str]:
    done = run(
        "--config",
        str(acc.config()),
        "doctor",
        "--json",
        env=acc.env(password),
        timeout=CLI_TIMEOUT,
    )
    assert done.stdout.strip(), done.stderr
    return {c["check"]: c for c in json.loads(done.stdout)["checks"]}, done.stdout + done.stderr


def test_doctor_and_check_now_agree_with_the_right_password(account: Account) -> None:
    acc = account
    acc.put(acc.spam, "jperez", "doctor-ok", minutes_ago=3)
    checks, text = doctor_checks(acc, acc.password)
    for name in ("login", "folders", "idle"):
        assert checks[name]["status"] == "ok", (name, checks[name])
    assert checks["login"]["detail"] == acc.user
    assert acc.spam in checks["folders"]["detail"]
    assert acc.password not in text
    code, data, err = check_json(acc.config(), acc.password)
    assert code == ExitCode.FOUND, err
    assert triples(data["current"]) == {("jperez", acc.spam, url("doctor-ok"))}


def test_doctor_and_check_now_agree_with_a_wrong_password(account: Account) -> None:
    acc = account
    wrong = "Wr0ng-" + secrets.token_urlsafe(8)
    checks, text = doctor_checks(acc, wrong)
    assert checks["login"]["status"] == "fail", checks["login"]
    assert checks["folders"]["status"] == "skip" and checks["idle"]["status"] == "skip"
    assert "rechazó el usuario" in checks["login"]["fix"]
    assert wrong not in text
    done = run("--config", str(acc.config()), "check-now", env=acc.env(wrong), timeout=CLI_TIMEOUT)
    assert done.returncode == ExitCode.AUTH, done.stderr
    assert f"rechazó el usuario {acc.user} o la contraseña" in done.stderr
    assert wrong not in done.stdout + done.stderr
