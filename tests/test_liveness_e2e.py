"""A connection that goes silent is noticed, and mail that arrived meanwhile announced in time.

A NAT box that forgets the mapping, or a Wi-Fi change, leaves the service's
open connections dead without closing them: nothing is closed, nothing gets
through, the client's writes still succeed. The promise: a reset mail that
arrives while the open connections are frozen is announced within
:data:`PROMISE` seconds of its arrival (with the product's default settings,
no timer shortened), and the service sends nothing extra at rest beyond a
liveness probe every :data:`LIVENESS` seconds or so per connection.

- (a) :meth:`FaultProxy.freeze <tests.servers.faultproxy.FaultProxy.freeze>`:
  the application-level freeze (the proxy holds every byte; the kernel still
  ACKs, so only the service's own liveness check can notice);
- (b) :class:`~tests.servers.blackhole.Blackhole`: a real kernel blackhole (an
  nftables DROP of the open flows between two network namespaces; ACKs and TCP
  keepalive probes are lost too, as across a dead NAT);
- (c) at rest, the commands the service sends are counted.

The service runs in-process (:class:`watcher.service.Service`, the product's
:class:`~watcher.connect.Connector`), so its log can be watched line by line.
``SECOP_LIVENESS_WAIT=<s>`` waits longer than the promise (the test still
fails past it) to see when, if at all, the link comes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests import mailfactory as mf
from tests.conftest import APT_PACKAGES, missing_requirement, random_users, require_binaries
from tests.servers import blackhole
from tests.servers.certs import Certs
from tests.servers.dovecot import Dovecot
from tests.servers.faultproxy import Conn, FaultProxy
from watcher import config as config_mod
from watcher.connect import Connector
from watcher.mail.session import LIVENESS_SECONDS
from watcher.model import Link
from watcher.notify import NullNotifier
from watcher.service import Service
from watcher.state import StateStore

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]
APT_PACKAGES.setdefault("nft", "nftables")

PROMISE = 120.0  # s from the arrival to the announcement, connections frozen (product promise)
LIVENESS = LIVENESS_SECONDS  # s of silence before the service probes an IDLE connection
WAIT = max(PROMISE, float(os.environ.get("SECOP_LIVENESS_WAIT", "0") or 0))
REST_WINDOW = 130.0  # s of rest counted in (c): more than a liveness period, less than two
BURST_GAP = 5.0  # client lines closer than this are one exchange (DONE, NOOP, IDLE …)
LINES_PER_BURST = 3  # a probe is at most DONE, a health-check NOOP and IDLE again


def reset(user: str, token: str) -> bytes:
    return mf.reset_mail(user, mf.reset_url(token), date=datetime.now(UTC))


# --------------------------------------------------------------------------- the service


class Announcements(NullNotifier):
    """A notifier that records when each link was announced (the rest: switched off)."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, Link]] = []
        self._changed = threading.Condition()

    def announce(self, link: Link, *, lang: str, expires_at: datetime) -> str | None:
        with self._changed:
            self.seen.append((time.monotonic(), link))
            self._changed.notify_all()
        return f"h{len(self.seen)}"

    def wait_for(self, user: str, timeout: float) -> float | None:
        """When ``user``'s link was announced (time.monotonic()), or None after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for when, link in self.seen:
                    if link.username == user:
                        return when
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(min(left, 1.0))


class LogWatch(logging.Handler):
    """The service's log lines (``watcher.*``), with their times, for waiting and printing."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[float, str]] = []
        self._changed = threading.Condition()
        self.started = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        with self._changed:
            self.lines.append((time.monotonic(), f"{record.levelname} {record.getMessage()}"))
            self._changed.notify_all()

    def count(self, text: str) -> int:
        return sum(text in line for _, line in list(self.lines))

    def wait_for(self, text: str, *, count: int = 1, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.count(text) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{text!r} ×{count} not logged:\n{self.text()}")
                self._changed.wait(min(left, 0.5))

    def text(self, since: float | None = None) -> str:
        t0 = self.started if since is None else since
        return "\n".join(f"{t - t0:8.1f} s  {line}" for t, line in list(self.lines) if t >= t0)


def write_config(path: Path, host: str, port: int, ca_file: Path) -> Path:
    """The product's defaults for everything but where the server is."""
    path.write_text(
        "\n".join(
            [
                "[imap]",
                f'host = "{host}"',
                f"port = {port}",
                'security = "ssl"',
                'username = "jperez"',
                f'ca_file = "{ca_file}"',
                "[notify]",
                "desktop = false",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


@contextmanager
def running_service(
    cfg: Path,
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
    password: str,
    *,
    thread: Callable[..., threading.Thread] | None = None,
) -> Iterator[tuple[Announcements, LogWatch]]:
    """``secop-watcher run`` in-process (in a thread made by ``thread``, e.g. in a netns)."""
    monkeypatch.setenv("SECOP_WATCHER_PASSWORD", password)
    config = config_mod.load(cfg)
    connector = Connector(config, clock=lambda: datetime.now(UTC))
    notes = Announcements()
    logs = LogWatch()
    logger = logging.getLogger("watcher")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(logs)
    service = Service(config, connector, notes, lang="en", store=StateStore(state))
    stop = threading.Event()
    make = thread or (lambda target, *args: threading.Thread(target=target, args=args))
    runner = make(service.run, stop)
    runner.daemon = True
    runner.start()
    try:
        yield notes, logs
    finally:
        stop.set()
        runner.join(15)
        logger.removeHandler(logs)
        logger.setLevel(old_level)
        print(f"\nservice log:\n{logs.text()}")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def idling(conns: list[Conn]) -> list[Conn]:
    """Open connections whose last command was IDLE (the folder connections at rest)."""
    return [c for c in conns if c.open and c.commands and c.commands[-1][1] == b"IDLE"]


def arrive_and_measure(
    server: Dovecot, notes: Announcements, logs: LogWatch, frozen_at: float, label: str
) -> None:
    """A reset mail in INBOX and one in Spam, appended straight to Dovecot (not through the
    frozen path); both must be announced within PROMISE s of their arrival."""
    token = label.replace(" ", "-")  # a space would break the link (then: suspicious mail)
    t0 = time.monotonic()
    server.append("jperez", "INBOX", reset("jperez", f"{token}-inbox"))
    server.append("jperez", "Spam", reset("mgomez", f"{token}-spam"))
    got = {
        user: notes.wait_for(user, t0 + WAIT - time.monotonic()) for user in ("jperez", "mgomez")
    }
    delays = {user: None if when is None else when - t0 for user, when in got.items()}
    shown = ", ".join(
        f"{user}: " + ("not announced" if d is None else f"{d:.1f} s") for user, d in delays.items()
    )
    print(f"\n{label}: arrival → announcement ({shown}; waited up to {WAIT:.0f} s)")
    print(f"service log since the freeze:\n{logs.text(since=frozen_at)}")
    assert logs.count("suspicious mail") == 0, "the test's mail was taken for a forgery"
    for user, delay in delays.items():
        assert delay is not None, f"{user}'s link not announced within {WAIT:.0f} s ({label})"
        assert delay <= PROMISE, f"{user}'s link announced after {delay:.1f} s ({label})"


# --------------------------------------------------------------------------- (a) frozen proxy


def test_frozen_connections_are_noticed_and_the_mail_announced_within_120_s(
    dovecot: Dovecot, certs: Certs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FaultProxy(dovecot.port_plain, certs) as proxy:
        cfg = write_config(tmp_path / "c.toml", "127.0.0.1", proxy.port, dovecot.ca_file)
        with running_service(
            cfg, tmp_path / "state.json", monkeypatch, dovecot.password("jperez")
        ) as (notes, logs):
            logs.wait_for("IDLE connection ready", count=2)
            wait_until(lambda: len(idling(proxy.conns)) >= 2, 10, "both IDLE commands")
            time.sleep(1)  # Dovecot's "+ idling" is back
            before = proxy.connections
            frozen_at = time.monotonic()
            frozen = proxy.freeze()
            assert frozen >= 2 and proxy.frozen_now == frozen  # INBOX, Spam (+ the checker's)
            arrive_and_measure(dovecot, notes, logs, frozen_at, "frozen proxy")
            assert proxy.connections > before  # it got there over new connections
            stale = [c.commands[-3:] for c in proxy.conns if c.frozen and c.open]
            print(f"frozen {frozen}, still open {len(stale)}, their last commands: {stale}")


# --------------------------------------------------------------------------- (b) kernel


@pytest.fixture
def link() -> Iterator[blackhole.Blackhole]:
    why = blackhole.missing()
    if why:
        require_binaries("ip", "nft")
        missing_requirement(f"no kernel blackhole here: {why}")
    with blackhole.Blackhole(0) as bh:  # the target is set once Dovecot has its port
        yield bh


def test_a_kernel_blackhole_is_noticed_and_the_mail_announced_within_120_s(
    dovecot_factory: Callable[..., Dovecot],
    certs: Certs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    link: blackhole.Blackhole,
) -> None:
    own = blackhole.certs_for(certs, link.host, tmp_path / "certs")
    server = dovecot_factory(users=random_users(), certs=own)
    assert server.port_ssl is not None
    link.target = ("127.0.0.1", server.port_ssl)
    cfg = write_config(tmp_path / "c.toml", link.host, link.port, own.ca)
    with running_service(
        cfg, tmp_path / "state.json", monkeypatch, server.password("jperez"), thread=link.thread
    ) as (notes, logs):
        logs.wait_for("IDLE connection ready", count=2)
        time.sleep(2)  # the IDLE commands went out, "+ idling" is back
        before = link.connections
        frozen_at = time.monotonic()
        dropped = link.drop()
        assert len(dropped) >= 2, dropped  # INBOX, Spam (+ the checker's)
        arrive_and_measure(server, notes, logs, frozen_at, "kernel blackhole")
        assert link.connections > before
        print(f"dropped {len(dropped)} flows; packets eaten: {link.dropped_packets()}")


# --------------------------------------------------------------------------- (c) at rest


def bursts(times: list[float]) -> int:
    """Exchanges: client lines closer together than BURST_GAP count as one."""
    count, last = 0, None
    for t in times:
        if last is None or t - last > BURST_GAP:
            count += 1
        last = t
    return count


def test_at_rest_only_liveness_probes_go_out(
    dovecot: Dovecot, certs: Certs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over :data:`REST_WINDOW` s without mail, each connection sends at most
    ``REST_WINDOW / LIVENESS + 1`` exchanges (a probe: DONE, perhaps a NOOP, IDLE again),
    each IDLE connection at least one (the probe runs), and no connection is opened."""
    limit = int(REST_WINDOW // LIVENESS) + 1
    with FaultProxy(dovecot.port_plain, certs) as proxy:
        cfg = write_config(tmp_path / "c.toml", "127.0.0.1", proxy.port, dovecot.ca_file)
        with running_service(
            cfg, tmp_path / "state.json", monkeypatch, dovecot.password("jperez")
        ) as (_notes, logs):
            logs.wait_for("IDLE connection ready", count=2)
            wait_until(lambda: len(idling(proxy.conns)) >= 2, 10, "both IDLE commands")
            time.sleep(5)  # the checks asked for by the connections' first look are done
            start, connections = time.monotonic(), proxy.connections
            watched = {c.number for c in idling(proxy.conns)}
            time.sleep(REST_WINDOW)
            end = time.monotonic()
            opened = proxy.connections - connections
        rows = []
        for conn in proxy.conns:
            if conn.opened > end or (conn.closed is not None and conn.closed < start):
                continue
            sent = [(t, verb) for t, verb in conn.commands if start <= t <= end]
            rows.append((conn, len(sent), bursts([t for t, _ in sent])))
            print(
                f"conn {conn.number} ({conn.folder or 'no folder'}): {len(sent)} lines in "
                f"{rows[-1][2]} exchanges over {REST_WINDOW:.0f} s: "
                f"{[(round(t - start), v.decode()) for t, v in sent]}"
            )
    assert opened == 0, f"{opened} connection(s) opened at rest"
    assert len(rows) >= 2  # INBOX and Spam at least
    for conn, lines, exchanges in rows:
        assert exchanges <= limit, (conn.number, conn.folder, exchanges, limit)
        if conn.number in watched:  # the liveness check did run: at least once in the window
            assert exchanges >= 1, (conn.number, conn.folder)
        assert lines <= LINES_PER_BURST * limit, (conn.number, conn.folder, lines)
