"""Hostile or broken servers: every stage × every fault, through the fault proxy.

The installed ``secop-watcher`` talks to :class:`tests.servers.faultproxy.FaultProxy`
(TLS, test CA), which forwards to a real Dovecot and breaks the conversation at
one stage. Whatever the server does, the command must end within
``timeout_seconds`` (+ a margin for the interpreter and the TLS handshake)
with exactly one clear message, the documented exit code, bounded memory and
the mailbox untouched. The service must survive the same faults and reconnect.

Exit codes (README "Códigos de salida"): a connection that is closed or goes
silent is a connection error (6, messages ``error.dropped``/``error.timeout``);
anything the server says that is not usable IMAP (noise, malformed responses,
a literal larger than we ever read) is a protocol error (8, ``error.protocol``).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests import mailfactory as mf
from tests.cliutil import Background, write_config
from tests.conftest import REPO_ROOT, random_users, require_dovecot
from tests.servers.certs import Certs
from tests.servers.dovecot import Dovecot
from tests.servers.faultproxy import FaultProxy

TIMEOUT = 3  # [imap] timeout_seconds for every run here
MARGIN = 10  # interpreter start, TLS handshakes, a second connection …
MAX_RSS_MB = 200  # the huge literal alone would be 2000 MB
DEAD_BUS = "unix:path=/nonexistent/secop-watcher-test-bus"

CONNECTION, PROTOCOL = 6, 8  # (7, TLS, cannot happen: the proxy's certificate is good)
STAGES = ("greeting", "login", "list", "examine", "search", "fetch")
# fault → (exit code, the start of the English message)
OUTCOME = {
    "drop": (CONNECTION, "Server 127.0.0.1 closed the connection."),
    "stall": (CONNECTION, f"did not answer within {TIMEOUT:g} s"),
    "garbage": (PROTOCOL, "Unexpected answer from server 127.0.0.1:"),
    "huge_literal": (PROTOCOL, "Unexpected answer from server 127.0.0.1: announced a literal"),
    "malformed": (PROTOCOL, "Unexpected answer from server 127.0.0.1:"),
}
CASES = [
    (stage, fault) for stage in STAGES for fault in ("drop", "stall", "garbage", "huge_literal")
]
# IMAP-shaped but broken answers reach imapclient's parser (not meaningful before LOGIN).
CASES += [(stage, "malformed") for stage in ("list", "examine", "search", "fetch")]

# Runs the installed CLI (tests.cliutil.run) in a fresh interpreter, so that
# RUSAGE_CHILDREN there is exactly the CLI's own peak memory.
MEASURE = """
import json, resource, subprocess, sys, time
from tests.cliutil import run
started = time.monotonic()
try:
    done = run(*sys.argv[2:], timeout=float(sys.argv[1]))
    out = {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
except subprocess.TimeoutExpired as e:
    out = {"rc": None, "stdout": "", "stderr": f"killed after {e.timeout} s"}
out["seconds"] = time.monotonic() - started
out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(out))
"""


def measured_run(*args: str, password: str, kill_after: float = 40) -> dict[str, Any]:
    env = dict(os.environ, SECOP_WATCHER_PASSWORD=password)
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(kill_after), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=kill_after + 20,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def proxy_config(path: Path, server: Dovecot, port: int, *, watch: str = "") -> Path:
    path.write_text(
        "\n".join(
            [
                "[imap]",
                f'host = "{server.host}"',
                f"port = {port}",
                'security = "ssl"',
                'username = "jperez"',
                f"timeout_seconds = {TIMEOUT}",
                f'ca_file = "{server.ca_file}"',
                "[watch]",
                watch,
                "[notify]",
                "desktop = false",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


def reset(user: str, token: str) -> bytes:
    return mf.reset_mail(user, mf.reset_url(token), date=datetime.now(UTC))


@pytest.fixture(scope="module")
def mailbox(certs: Certs, dovecot_root: Path) -> Iterator[Dovecot]:
    """One Dovecot for the whole matrix, with a reset mail in INBOX and in Spam.

    Both folders hold a candidate, so every connection goes through LIST,
    EXAMINE, UID SEARCH and UID FETCH.
    """
    require_dovecot()
    server = Dovecot(
        Path(tempfile.mkdtemp(prefix="dc-", dir=dovecot_root)), random_users(), certs=certs
    )
    server.start()
    try:
        server.append("jperez", "INBOX", reset("jperez", "inbox-token"))
        server.append("jperez", "Spam", reset("mgomez", "spam-token"))
        yield server
    finally:
        server.stop(graceful=False)


@pytest.mark.parametrize(("stage", "fault"), CASES, ids=[f"{s}-{f}" for s, f in CASES])
def test_check_now_against_a_broken_server(
    mailbox: Dovecot, certs: Certs, tmp_path: Path, stage: str, fault: str
) -> None:
    before = mailbox.snapshot("jperez")
    with FaultProxy(mailbox.port_plain, certs, stage, fault) as proxy:
        cfg = proxy_config(tmp_path / "c.toml", mailbox, proxy.port)
        result = measured_run(
            "--lang",
            "en",
            "--config",
            str(cfg),
            "check-now",
            "--json",
            password=mailbox.password("jperez"),
        )
    code, message = OUTCOME[fault]
    stderr = result["stderr"]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert result["rc"] == code, result
    # A check sends two FETCHes (header fields, then text parts): a fault the client can
    # still read past may be met at both; never at any other stage.
    assert proxy.faults and set(proxy.faults) == {f"{stage}/{fault}"}, (proxy.faults, result)
    assert len(proxy.faults) <= 2
    assert len(lines) == 1, stderr
    assert message in lines[0], stderr
    assert "Traceback" not in stderr
    assert mailbox.password("jperez") not in stderr  # the garbage echoes the LOGIN command
    assert result["stdout"] == ""
    assert result["seconds"] < TIMEOUT + MARGIN, result
    assert result["maxrss_mb"] < MAX_RSS_MB, result
    assert mailbox.snapshot("jperez") == before
    print(
        f"\n{stage}/{fault}: exit {result['rc']} in {result['seconds']:.1f} s, "
        f"peak {result['maxrss_mb']:.0f} MB, streamed {proxy.streamed} B: {lines[0]}"
    )


def test_a_transparent_proxy_changes_nothing(
    mailbox: Dovecot, certs: Certs, tmp_path: Path
) -> None:
    """The proxy itself is sound: without a fault, check-now finds the link."""
    with FaultProxy(mailbox.port_plain, certs) as proxy:
        cfg = proxy_config(tmp_path / "c.toml", mailbox, proxy.port)
        result = measured_run(
            "--config", str(cfg), "check-now", "--json", password=mailbox.password("jperez")
        )
    assert result["rc"] == 0, result
    data = json.loads(result["stdout"])
    assert {link["username"] for link in data["current"]} == {"jperez", "mgomez"}
    assert proxy.connections == 1 and proxy.faults == []


@pytest.mark.parametrize(
    ("fault", "rc", "start"),
    [
        ("refuse_temporary", CONNECTION, "Server 127.0.0.1 closed the connection."),
        ("refuse", 5, "The server 127.0.0.1 rejected user jperez"),
    ],
)
def test_a_temporary_login_refusal_is_not_a_wrong_password(
    mailbox: Dovecot, certs: Certs, tmp_path: Path, fault: str, rc: int, start: str
) -> None:
    """RFC 5530 ``NO [UNAVAILABLE]`` to LOGIN: retry later (the service does), no new password.

    A plain ``NO [AUTHENTICATIONFAILED]`` is the wrong password (exit 5), and the
    pipelined commands behind the refused LOGIN are never taken for answers.
    """
    with FaultProxy(mailbox.port_plain, certs, "login", fault) as proxy:
        cfg = proxy_config(tmp_path / "c.toml", mailbox, proxy.port)
        result = measured_run("--lang", "en", "--config", str(cfg), "check-now", password="pw")
    assert (result["rc"], result["stderr"][: len(start)]) == (rc, start), result
    assert proxy.faults == [f"login/{fault}"]
    assert "Traceback" not in result["stderr"]


def test_garbage_is_quoted_short_and_printable(
    mailbox: Dovecot, certs: Certs, tmp_path: Path
) -> None:
    with FaultProxy(mailbox.port_plain, certs, "greeting", "garbage") as proxy:
        cfg = proxy_config(tmp_path / "c.toml", mailbox, proxy.port)
        result = measured_run(
            "--lang", "en", "--config", str(cfg), "check-now", password="irrelevant"
        )
    message = result["stderr"].strip()
    assert result["rc"] == PROTOCOL
    assert message.isprintable(), message  # no control characters, no raw bytes
    assert len(message) < 200, message


# --------------------------------------------------------------------------- the service


def start_service(cfg: Path, password: str) -> Background:
    env = {"SECOP_WATCHER_PASSWORD": password, "DBUS_SESSION_BUS_ADDRESS": DEAD_BUS}
    return Background("--config", str(cfg), "-v", "run", env=env)


def stop_and_check(svc: Background, home: Path) -> None:
    assert svc.stop() == 0
    text = "\n".join(svc.lines)
    assert "Traceback" not in text
    print("", *(line for line in svc.lines if "WARNING" in line or "announced" in line), sep="\n")
    state = json.loads((home / "state" / "state.json").read_text())
    assert state["version"] == 1
    assert set(state["folders"]) == {"INBOX", "Spam"}


IDLE_KEYS = {  # what the log line says of each (in words: it shows on wait's stderr)
    "drop": "closed the connection",
    "stall": "did not answer within",
    "garbage": "Unexpected answer",
    "huge_literal": "Unexpected answer",
}


@pytest.mark.parametrize("fault", list(IDLE_KEYS))
def test_service_reconnects_after_a_broken_idle(
    dovecot: Dovecot, certs: Certs, tmp_path: Path, isolated_env: Path, fault: str
) -> None:
    """Both IDLE connections (INBOX, Spam) break once; the service reconnects and hears mail."""
    with FaultProxy(dovecot.port_plain, certs, "idle", fault, times=2) as proxy:
        cfg = proxy_config(tmp_path / "c.toml", dovecot, proxy.port, watch="poll_seconds = 3600")
        svc = start_service(cfg, dovecot.password("jperez"))
        try:
            svc.wait_for("connection lost (", count=2, timeout=20)
            assert sum(IDLE_KEYS[fault] in line for line in svc.lines) >= 2
            assert not any("error." in line for line in svc.lines if "connection lost" in line)
            svc.wait_for("IDLE connection ready", count=4, timeout=20)
            assert proxy.faults == [f"idle/{fault}"] * 2
            dovecot.append("jperez", "INBOX", reset("jperez", f"after-{fault}"))
            svc.wait_for("announced a new link for jperez (INBOX)", timeout=20)
        finally:
            stop_and_check(svc, isolated_env)


@pytest.mark.parametrize(
    ("stage", "fault", "key"),
    [("fetch", "drop", "closed the connection"), ("examine", "garbage", "Unexpected answer")],
)
def test_service_recovers_from_a_failed_check(
    dovecot: Dovecot,
    certs: Certs,
    tmp_path: Path,
    isolated_env: Path,
    stage: str,
    fault: str,
    key: str,
) -> None:
    """The first check breaks; a retry with backoff (not the hourly poll) announces the link."""
    dovecot.append("jperez", "Spam", reset("jperez", f"waiting-{stage}"))
    with FaultProxy(dovecot.port_plain, certs, stage, fault, times=1) as proxy:
        cfg = proxy_config(tmp_path / "c.toml", dovecot, proxy.port, watch="poll_seconds = 3600")
        svc = start_service(cfg, dovecot.password("jperez"))
        try:
            svc.wait_for("check failed", timeout=15)
            assert any("check failed" in line and key in line for line in svc.lines), svc.lines
            svc.wait_for("next attempt in", timeout=5)
            svc.wait_for("announced a new link for jperez (Spam)", timeout=15)
            svc.wait_for("connection is back", timeout=5)
            assert proxy.faults == [f"{stage}/{fault}"]
        finally:
            stop_and_check(svc, isolated_env)


# --------------------------------------------------------------------------- big mail


def test_a_message_above_the_cap_is_cut_and_reported(dovecot: Dovecot, tmp_path: Path) -> None:
    """A 12 MB attachment is never fetched (only the HTML part is); a 12 MB HTML part is
    read up to the cap, the link in it found, and the cut reported."""
    msg = email.message_from_bytes(reset("jperez", "big-mail"), policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    msg.add_attachment(
        os.urandom(12 * 1024 * 1024),
        maintype="application",
        subtype="octet-stream",
        filename="anexo.bin",
    )
    raw = msg.as_bytes(policy=email.policy.SMTP)
    assert len(raw) > 12 * 1024 * 1024
    dovecot.append("jperez", "INBOX", raw)
    padding = "<p>" + "relleno " * (12 * 1024 * 1024 // 8) + "</p>"
    html = mf.reset_html("mgomez", mf.reset_url("huge-html")) + padding
    huge = mf.reset_mail(
        "mgomez",
        mf.reset_url("huge-html"),
        date=datetime.now(UTC),
        html_body=html,
        text=False,
        cte="8bit",
    )
    assert len(huge) > 12 * 1024 * 1024
    dovecot.append("jperez", "Spam", huge)
    before = dovecot.snapshot("jperez")
    cfg = write_config(tmp_path / "c.toml", dovecot)
    result = measured_run(
        "--config", str(cfg), "check-now", "--json", password=dovecot.password("jperez")
    )
    assert result["rc"] == 0, result
    data = json.loads(result["stdout"])
    urls = {link["username"]: link["url"] for link in data["current"]}
    assert urls == {"jperez": mf.reset_url("big-mail"), "mgomez": mf.reset_url("huge-html")}
    assert data["warnings"] == [{"code": "truncated", "detail": "Spam"}]
    assert result["maxrss_mb"] < MAX_RSS_MB, result
    assert dovecot.snapshot("jperez") == before
    print(f"\n12 MB mail: peak {result['maxrss_mb']:.0f} MB in {result['seconds']:.1f} s")
