"""The measurements: check-now, the two baselines, arrival latency, start-up, idle service.

Every network measurement goes through a :class:`~benchmarks.proxy.LatencyProxy`
in front of the real Dovecot; the product always runs as the installed
console script (``secop-watcher``), as a user runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.count_commands import Recorder
from benchmarks.mailbox import PASSWORD, SECOP_SENDER, SPAM, USER, arrival_mail
from benchmarks.proxy import LatencyProxy, Stats
from tests.cliutil import Background, executable
from tests.servers.dovecot import Dovecot

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
_TAG_VERB = re.compile(r"^[A-Za-z]+\d+ (?:UID )?([A-Za-z]+)")
_UID_SET = re.compile(r"(?<= )[0-9][0-9,:*]*(?= )")


# --------------------------------------------------------------------------- helpers


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 100)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize_commands(lines: list[str]) -> dict[str, Any]:
    """Count the tagged commands and shorten the log (UID sets → their size)."""
    verbs: Counter[str] = Counter()
    log: list[str] = []
    uids_fetched = 0
    for line in lines:
        m = _TAG_VERB.match(line)
        if not m:
            if line.strip().upper() == "DONE":
                log.append("DONE")
            continue
        verb = m.group(1).upper()
        verbs[verb] += 1
        short = line.split(" ", 1)[1]
        if verb == "FETCH":
            for s in _UID_SET.findall(short):
                uids_fetched += _set_size(s)
        short = _UID_SET.sub(lambda mm: f"<{_set_size(mm.group(0))} uids>", short)
        log.append(short if len(short) <= 160 else short[:157] + "…")
    return {
        "commands": sum(verbs.values()),
        "verbs": dict(sorted(verbs.items())),
        "fetch_commands": verbs.get("FETCH", 0),
        "uids_fetched": uids_fetched,
        "log": log,
    }


def _set_size(text: str) -> int:
    total = 0
    for part in text.split(","):
        if ":" in part:
            a, b = part.split(":", 1)
            if a.isdigit() and b.isdigit():
                total += abs(int(b) - int(a)) + 1
            else:
                total += 1
        elif part:
            total += 1
    return total


def write_config(
    path: Path,
    proxy: LatencyProxy,
    server: Dovecot,
    *,
    notify_command: str | None = None,
) -> Path:
    lines = [
        "[imap]",
        f'host = "{proxy.host}"',
        f"port = {proxy.port}",
        'security = "ssl"',
        f'username = "{USER}"',
        "timeout_seconds = 120",
        f'ca_file = "{server.ca_file}"',
        "",
        "[notify]",
        "desktop = false",
    ]
    if notify_command:
        lines.append(f"command = {json.dumps(notify_command)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Home:
    """Isolated config/state/log folders for one series of product runs."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def make(cls, parent: Path, name: str) -> Home:
        root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=parent))
        home = cls(root)
        for sub in ("config", "state", "logs"):
            (root / sub).mkdir()
        home.env = {
            "SECOP_WATCHER_CONFIG_DIR": str(root / "config"),
            "SECOP_WATCHER_STATE_DIR": str(root / "state"),
            "SECOP_WATCHER_LOG_DIR": str(root / "logs"),
            "SECOP_WATCHER_PASSWORD": PASSWORD,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "LANG": "C.UTF-8",
        }
        return home

    def full_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SECOP_WATCHER_")}
        env.pop("PYTHONPATH", None)  # the installed product, nothing from the work tree
        env.update(self.env)
        return env

    def reset_state(self) -> None:
        shutil.rmtree(self.root / "state")
        (self.root / "state").mkdir()


# --------------------------------------------------------------------------- check-now


@dataclass
class Sample:
    wall_s: float
    stats: Stats
    peak_rss_kb: int | None = None
    exit_code: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_check_now(config: Path, home: Home, proxy: LatencyProxy) -> Sample:
    """One ``secop-watcher check-now --json`` as a child process.

    Started through ``peakmem.py`` so that its ``ru_maxrss`` is its own (see
    there); the wall time is taken by that launcher around the child alone.
    """
    stats_file = home.root / f"peak-{secrets.token_hex(4)}.json"
    argv = [
        sys.executable, "-I", "-S", str(HERE / "peakmem.py"), str(stats_file),
        executable(), "--config", str(config), "check-now", "--json",
    ]  # fmt: skip
    before = proxy.snapshot()
    with tempfile.TemporaryFile() as err:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
            env=home.full_env(), check=False,
        )  # fmt: skip
        err.seek(0)
        errtext = err.read().decode("utf-8", "replace")
    stats = proxy.snapshot() - before
    try:
        measured = json.loads(stats_file.read_text())
        report = json.loads(done.stdout)
    except (OSError, ValueError):
        raise RuntimeError(f"check-now printed no JSON: {errtext}") from None
    finally:
        stats_file.unlink(missing_ok=True)
    return Sample(
        measured["wall_s"],
        stats,
        peak_rss_kb=int(measured["maxrss_kb"]),
        exit_code=int(measured["exit_code"]),
        extra={
            "current": len(report.get("current", [])),
            "superseded": len(report.get("superseded", [])),
            "expired": len(report.get("expired", [])),
            "suspicious": len(report.get("suspicious", [])),
        },
    )


def count_check_now_commands(config: Path, home: Home) -> dict[str, Any]:
    """The IMAP commands of one check-now, recorded inside the product's process."""
    out = home.root / f"commands-{secrets.token_hex(4)}.json"
    argv = [
        sys.executable,
        str(HERE / "count_commands.py"),
        str(out),
        "--config",
        str(config),
        "check-now",
        "--json",
    ]
    env = home.full_env()
    env["PYTHONPATH"] = str(REPO)  # for benchmarks.count_commands only
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    data = json.loads(out.read_text())
    return summarize_commands(data["sent"])


def aggregate(subject: str, samples: list[Sample], **meta: Any) -> dict[str, Any]:
    """Medians of a series (each metric on its own), plus the raw wall times."""

    def med(get: Callable[[Sample], float | None]) -> float | None:
        values = [v for v in (get(s) for s in samples) if v is not None]
        if not values:
            return None
        m = median(values)
        return int(m) if m.is_integer() and all(isinstance(v, int) for v in values) else m

    rss = med(lambda s: s.peak_rss_kb)
    row: dict[str, Any] = {
        "subject": subject,
        **meta,
        "runs": len(samples),
        "wall_s": round(med(lambda s: s.wall_s) or 0.0, 4),
        "wall_s_all": [round(s.wall_s, 4) for s in samples],
        "round_trips": med(lambda s: s.stats.round_trips),
        "turns": med(lambda s: s.stats.turns),
        "connections": med(lambda s: s.stats.connections),
        "bytes_received": med(lambda s: s.stats.bytes_down),
        "bytes_sent": med(lambda s: s.stats.bytes_up),
        "peak_rss_mb": round(rss / 1024, 1) if rss is not None else None,
    }
    for key in samples[0].extra if samples else {}:
        if all(isinstance(s.extra.get(key), int | float) for s in samples):
            row[key] = med(lambda s, k=key: s.extra[k])
    return row


# --------------------------------------------------------------------------- baselines


def _client_context(server: Dovecot) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.ca_file))


def bulk_imapclient(server: Dovecot, proxy: LatencyProxy) -> Sample:
    """Baseline (a): login; per folder EXAMINE, SEARCH FROM, one FETCH of every match."""
    from imapclient import IMAPClient

    before = proxy.snapshot()
    fetched = 0
    with Recorder() as rec:
        started = time.perf_counter()
        client = IMAPClient(
            proxy.host, proxy.port, ssl=True, ssl_context=_client_context(server), timeout=300
        )
        client.login(USER, PASSWORD)
        for folder in ("INBOX", SPAM):
            # Read-only (EXAMINE) so that RFC822 cannot set \Seen in the cached mailbox;
            # the same round trips as SELECT.
            client.select_folder(folder, readonly=True)
            uids = client.search(["FROM", SECOP_SENDER])
            if uids:
                fetched += len(client.fetch(uids, ["RFC822"]))
        client.logout()
        wall = time.perf_counter() - started
    sample = Sample(wall, proxy.snapshot() - before, extra={"messages_fetched": fetched})
    sample.extra.update(_cmd_extra(rec))
    return sample


def per_message_imap_tools(server: Dovecot, proxy: LatencyProxy) -> Sample:
    """Baseline (b): imap-tools' default ``fetch`` (``bulk=False``): one FETCH per message.

    ``mark_seen=False`` only turns ``BODY[]`` into ``BODY.PEEK[]`` (same commands,
    same round trips) so that the cached mailbox keeps its flags.
    """
    from imap_tools import AND, MailBox

    before = proxy.snapshot()
    fetched = 0
    with Recorder() as rec:
        started = time.perf_counter()
        mailbox = MailBox(proxy.host, proxy.port, timeout=300, ssl_context=_client_context(server))
        mailbox.login(USER, PASSWORD)  # selects INBOX
        for folder in ("INBOX", SPAM):
            mailbox.folder.set(folder)
            for _msg in mailbox.fetch(AND(from_=SECOP_SENDER), mark_seen=False):
                fetched += 1
        mailbox.logout()
        wall = time.perf_counter() - started
    sample = Sample(wall, proxy.snapshot() - before, extra={"messages_fetched": fetched})
    sample.extra.update(_cmd_extra(rec))
    return sample


def _cmd_extra(rec: Recorder) -> dict[str, Any]:
    summary = summarize_commands(rec.lines())
    return {
        "commands": summary["commands"],
        "fetch_commands": summary["fetch_commands"],
        "uids_fetched": summary["uids_fetched"],
    }


# --------------------------------------------------------------------------- arrival latency


def _hook_command(hook_file: Path) -> str:
    return shlex.join([sys.executable, "-I", "-S", str(HERE / "hook.py"), str(hook_file)])


def _hook_lines(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [line.split("\t") for line in text.splitlines() if line.count("\t") >= 3]


def _wait_hook(path: Path, username: str, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for stamp, event, user, _folder in _hook_lines(path):
            if event == "link" and user == username:
                return float(stamp)
        time.sleep(0.005)
    return None


@contextlib.contextmanager
def _appender(server: Dovecot) -> Iterator[Callable[[str, bytes], None]]:
    """A logged-in connection straight to Dovecot (not through the proxy)."""
    with server.connect(USER) as client:

        def append(folder: str, raw: bytes) -> None:
            client.append(folder, raw)

        yield append


def _stop(bg: Background) -> None:
    with contextlib.suppress(Exception):
        bg.stop(timeout=20)


def latency_run(
    server: Dovecot, proxy: LatencyProxy, work: Path, arrivals: int, log: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Arrival (APPEND) → ``[notify] command`` of ``secop-watcher run`` (IDLE)."""
    home = Home.make(work, "run")
    hook_file = home.root / "hook.log"
    config = write_config(
        home.root / "config.toml", proxy, server, notify_command=_hook_command(hook_file)
    )
    bg = Background("--config", str(config), "-v", "run", env=home.full_env())
    rows = []
    try:
        bg.wait_for("IDLE connection ready", timeout=300, count=2)
        time.sleep(1.0 + proxy.rtt * 2)  # the IDLE commands are on their way
        with _appender(server) as append:
            for folder in ("INBOX", SPAM):
                samples: list[float] = []
                missed = 0
                for i in range(arrivals):
                    user = f"lat-run-{int(proxy.rtt * 1000)}-{folder.lower()}-{i}"
                    raw = arrival_mail(user, secrets.token_urlsafe(24), datetime.now(UTC))
                    t0 = time.time()
                    append(folder, raw)
                    t1 = _wait_hook(hook_file, user, timeout=30)
                    if t1 is None:
                        missed += 1
                        log(f"  run/{folder}: arrival {i} ({user}) not notified within 30 s")
                        for line in bg.lines[-12:]:
                            log(f"    service: {line}")
                    else:
                        samples.append(t1 - t0)
                        if t1 - t0 > 5:
                            log(f"  run/{folder}: arrival {i} took {t1 - t0:.1f} s; service log:")
                            for line in bg.lines[-12:]:
                                log(f"    service: {line}")
                    time.sleep(0.7 + 0.3 * secrets.randbelow(100) / 100)
                rows.append(_latency_row("run", folder, proxy, samples, missed))
                log(_latency_line(rows[-1]))
    finally:
        _stop(bg)
    return rows


def latency_idle_floor(
    server: Dovecot, proxy: LatencyProxy, _work: Path, samples: int, log: Callable[[str], None]
) -> list[dict[str, Any]]:
    """The floor under any IDLE client: APPEND → ``* n EXISTS`` on a bare imapclient IDLE
    through the same proxy (Dovecot itself waits about 0.5 s before it tells)."""
    from imapclient import IMAPClient

    rows = []
    client = IMAPClient(
        proxy.host, proxy.port, ssl=True, ssl_context=_client_context(server), timeout=60
    )
    try:
        client.login(USER, PASSWORD)
        with _appender(server) as append:
            for folder in ("INBOX", SPAM):
                client.select_folder(folder, readonly=True)
                values: list[float] = []
                missed = 0
                for i in range(samples):
                    client.idle()
                    time.sleep(0.2 + proxy.rtt * 2)
                    user = f"lat-floor-{int(proxy.rtt * 1000)}-{folder.lower()}-{i}"
                    raw = arrival_mail(user, secrets.token_urlsafe(24), datetime.now(UTC))
                    t0 = time.time()
                    append(folder, raw)
                    got = None
                    deadline = time.monotonic() + 30
                    while got is None and time.monotonic() < deadline:
                        for resp in client.idle_check(timeout=1):
                            if isinstance(resp, tuple) and len(resp) > 1 and resp[1] == b"EXISTS":
                                got = time.time()
                    client.idle_done()
                    if got is None:
                        missed += 1
                    else:
                        values.append(got - t0)
                rows.append(_latency_row("idle-floor", folder, proxy, values, missed))
                log(_latency_line(rows[-1]))
        client.logout()
    finally:
        with contextlib.suppress(Exception):
            client.shutdown()
    return rows


def latency_wait(
    server: Dovecot, proxy: LatencyProxy, work: Path, arrivals: int, log: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Arrival (APPEND) → exit of ``secop-watcher wait --json --timeout 1``."""
    home = Home.make(work, "wait")
    config = write_config(home.root / "config.toml", proxy, server)
    rows = []
    with _appender(server) as append:
        for folder in ("INBOX", SPAM):
            samples: list[float] = []
            missed = 0
            for i in range(arrivals):
                user = f"lat-wait-{int(proxy.rtt * 1000)}-{folder.lower()}-{i}"
                bg = Background(
                    "--config", str(config), "-v", "wait", "--json", "--timeout", "1",
                    env=home.full_env(),
                )  # fmt: skip
                try:
                    bg.wait_for("IDLE connection ready", timeout=120, count=2)
                    time.sleep(0.3 + proxy.rtt * 2)
                    raw = arrival_mail(user, secrets.token_urlsafe(24), datetime.now(UTC))
                    t0 = time.time()
                    append(folder, raw)
                    code, out = bg.communicate(timeout=90)
                    t1 = time.time()
                    link = (json.loads(out) if out.strip() else {}).get("link") or {}
                    if code == 0 and link.get("username") == user:
                        samples.append(t1 - t0)
                    else:
                        missed += 1
                        got = link.get("username")
                        log(f"  wait/{folder}: arrival {i}: exit {code}, link for {got}")
                finally:
                    if bg.proc.poll() is None:
                        _stop(bg)
            rows.append(_latency_row("wait", folder, proxy, samples, missed))
            log(_latency_line(rows[-1]))
    return rows


def _latency_row(
    mode: str, folder: str, proxy: LatencyProxy, samples: list[float], missed: int
) -> dict[str, Any]:
    return {
        "mode": mode,
        "folder": folder,
        "rtt_ms": round(proxy.rtt * 1000),
        "arrivals": len(samples) + missed,
        "missed": missed,
        "p50_s": round(percentile(samples, 50), 4),
        "p95_s": round(percentile(samples, 95), 4),
        "max_s": round(max(samples), 4) if samples else None,
        "samples_s": [round(s, 4) for s in samples],
    }


def _latency_line(row: dict[str, Any]) -> str:
    return (
        f"  {row['mode']:4} {row['folder']:5} rtt {row['rtt_ms']:3} ms: "
        f"p50 {row['p50_s'] * 1000:.0f} ms, p95 {row['p95_s'] * 1000:.0f} ms "
        f"({row['arrivals'] - row['missed']}/{row['arrivals']})"
    )


# --------------------------------------------------------------------------- start-up


def startup(runs: int = 10) -> dict[str, Any]:
    """``secop-watcher --help`` against ``python -c pass`` (same interpreter, same venv).

    Issue 14's target: ``ratio`` (help / python) at most 6. ``check_now_help``, a
    command's own help, imports that command's module too (not a target; for scale).
    Alone: ``python -m benchmarks.measure startup [RUNS]``.
    """
    commands = {
        "python": [sys.executable, "-c", "pass"],
        "help": [executable(), "--help"],
        "check_now_help": [executable(), "check-now", "--help"],
    }
    hyperfine = shutil.which("hyperfine")
    result: dict[str, Any] = {"runs": runs, "tool": "hyperfine" if hyperfine else "subprocess"}
    for name, argv in commands.items():
        if hyperfine:
            with tempfile.NamedTemporaryFile(suffix=".json") as f:
                subprocess.run(
                    [hyperfine, "-N", "--warmup", "2", "--runs", str(runs), "--export-json",
                     f.name, shlex.join(argv)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                )  # fmt: skip
                times = json.loads(Path(f.name).read_text())["results"][0]["times"]
        else:
            times = []
            for i in range(runs + 2):
                t = time.perf_counter()
                subprocess.run(
                    argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
                )
                if i >= 2:  # two warm-up runs
                    times.append(time.perf_counter() - t)
        result[f"{name}_s"] = round(median(times), 4)
        result[f"{name}_s_all"] = [round(t, 4) for t in times]
    result["ratio"] = round(result["help_s"] / result["python_s"], 2)
    result["check_now_help_ratio"] = round(result["check_now_help_s"] / result["python_s"], 2)
    return result


# --------------------------------------------------------------------------- idle service


def _proc_status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def context_switches(pid: int) -> dict[int, int]:
    """Voluntary + involuntary context switches of each thread of ``pid`` (tid → count)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        out[int(task.name)] = sum(
            int(value)
            for key, _, value in (line.partition(":") for line in text.splitlines())
            if key in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")
        )
    return out


def count_wakeups(pid: int, window_s: float, every: float = 1.0) -> tuple[int, int]:
    """Context switches of all threads during ``window_s`` (sampled each ``every`` s, so a
    thread that ends mid-window still counts up to its last sample); (switches, max threads)."""
    last = context_switches(pid)
    total = 0
    threads = len(last)
    deadline = time.monotonic() + window_s
    while (remaining := deadline - time.monotonic()) > 0:
        time.sleep(min(every, remaining))
        now = context_switches(pid)
        total += sum(count - last.get(tid, 0) for tid, count in now.items())
        threads = max(threads, len(now))
        last = {**last, **now}
    return total, threads


def idle_service(
    server: Dovecot, proxy: LatencyProxy, work: Path, window_s: float, log: Callable[[str], None]
) -> dict[str, Any]:
    """RSS and wake-ups of ``secop-watcher run`` while no mail arrives."""
    home = Home.make(work, "idle")
    config = write_config(home.root / "config.toml", proxy, server)
    bg = Background("--config", str(config), "-v", "run", env=home.full_env())
    try:
        bg.wait_for("IDLE connection ready", timeout=300, count=2)
        time.sleep(5)
        pid = bg.proc.pid
        before_stats = proxy.snapshot()
        log(f"  idle: watching pid {pid} for {window_s:.0f} s …")
        switches, threads = count_wakeups(pid, window_s)
        status = _proc_status(pid)
        traffic = proxy.snapshot() - before_stats
    finally:
        _stop(bg)
    per_min = switches * 60.0 / window_s
    return {
        "rtt_ms": round(proxy.rtt * 1000),
        "window_s": window_s,
        "rss_mb": round(int(status["VmRSS"].split()[0]) / 1024, 1),
        "hwm_mb": round(int(status["VmHWM"].split()[0]) / 1024, 1),
        "threads": threads,
        "context_switches": switches,
        "wakeups_per_min": round(per_min, 1),
        "window_connections": traffic.connections,
        "window_round_trips": traffic.round_trips,
        "window_bytes_received": traffic.bytes_down,
    }


if __name__ == "__main__":  # python -m benchmarks.measure startup [RUNS]
    if sys.argv[1:2] != ["startup"]:
        sys.exit(
            "usage: python -m benchmarks.measure startup [RUNS]  (the rest: benchmarks/run.py)"
        )
    print(json.dumps(startup(int(sys.argv[2]) if len(sys.argv) > 2 else 20), indent=2))
