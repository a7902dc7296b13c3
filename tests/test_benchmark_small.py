"""The small form of the benchmark (issue 5): N = 1,000, no added latency, counts only.

A real Dovecot holds the benchmark's mailbox (benchmarks/mailbox.py: 1,000
messages in INBOX, 50 in Spam, among them the SECOP mails), the latency proxy
(benchmarks/proxy.py, 0 ms) counts round trips and bytes, and the installed
``secop-watcher check-now`` runs against it. Timings are never asserted here,
only counts, so that a later change cannot undo the optimisation silently.

Measured when these guards were set (loopback, 0 ms): cold and warm check 6
round trips (13 before pipelining), 86 KB received against 571 KB for the
bulk baseline (6.6 times fewer). After issue 11 (every text part of a recent mail, so
that they can be compared, and a 512-byte glance at the 12 newest old ones, so that
they keep their user): 5 round trips, 109 KB against 572 KB (5.3 times fewer).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks import measure
from benchmarks.mailbox import open_mailbox
from benchmarks.measure import Home, write_config
from benchmarks.proxy import LatencyProxy
from tests.conftest import require_dovecot

pytestmark = pytest.mark.dovecot

N = 1_000
COLD_ROUND_TRIPS = 13  # issue 5: 1.3 times the physics of a cold check (about 10)
WARM_ROUND_TRIPS = 6  # issue 5: a warm check with no change
BYTES_RATIO = 5  # issue 5: at least 5 times fewer bytes than the bulk baseline


@pytest.fixture(scope="module")
def measured(dovecot_root: Path) -> Iterator[dict[str, Any]]:
    require_dovecot()
    cache = Path(tempfile.mkdtemp(prefix="bench-", dir=dovecot_root))
    cache.chmod(0o755)
    server, info = open_mailbox(N, cache, log=lambda _msg: None)
    try:
        with LatencyProxy(server.host, server.port_ssl or 0, 0) as proxy:
            config = write_config(cache / "check.toml", proxy, server)
            home = Home.make(cache, "home")
            cold = measure.run_check_now(config, home, proxy)
            warm = measure.run_check_now(config, home, proxy)  # state kept, nothing new
            bulk = measure.bulk_imapclient(server, proxy)
        yield {"info": info, "cold": cold, "warm": warm, "bulk": bulk}
    finally:
        server.stop(graceful=False)
        shutil.rmtree(cache, ignore_errors=True)


def test_the_check_finds_one_current_link_per_user(measured: dict[str, Any]) -> None:
    cold = measured["cold"]
    assert cold.exit_code == 0
    assert cold.extra["current"] == 3  # three SECOP users, each with a reset < 2 h old
    assert cold.stats.connections >= 1
    assert measured["warm"].extra["current"] == 3


def test_the_bulk_baseline_fetches_every_mail_from_the_sender(measured: dict[str, Any]) -> None:
    bulk = measured["bulk"]
    assert bulk.extra["messages_fetched"] == measured["info"].secop["registro_total"] == 200
    assert bulk.extra["fetch_commands"] == 2  # one per folder
    assert bulk.stats.bytes_down > 200 * 2_000


def test_cold_check_round_trips(measured: dict[str, Any]) -> None:
    assert measured["cold"].stats.round_trips <= COLD_ROUND_TRIPS


def test_cold_check_bytes(measured: dict[str, Any]) -> None:
    limit = measured["bulk"].stats.bytes_down / BYTES_RATIO
    assert measured["cold"].stats.bytes_down <= limit


def test_warm_check_round_trips(measured: dict[str, Any]) -> None:
    assert measured["warm"].stats.round_trips <= WARM_ROUND_TRIPS
