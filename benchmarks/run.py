"""Run the secop-watcher benchmark (issue 5): ``python benchmarks/run.py [--quick] [--out F]``.

See benchmarks/README.md for what is measured and what each column means.
Needs root (it starts a throwaway Dovecot) and the product installed in this
interpreter's environment (``pip install -e '.[test]' -r benchmarks/requirements.txt``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # ``python benchmarks/run.py`` from anywhere
    sys.path.insert(0, str(REPO))

from benchmarks import measure  # noqa: E402
from benchmarks.mailbox import CACHE_ROOT, open_mailbox, purge_arrivals  # noqa: E402
from benchmarks.measure import Home, aggregate, write_config  # noqa: E402
from benchmarks.proxy import LatencyProxy  # noqa: E402

SCHEMA = 1
SIZES = (1_000, 10_000, 100_000)
LATENCIES_MS = (0, 100)
RUNS = {0: 5, 100: 3}
ARRIVALS = 20
BYTES_TARGET_RATIO = 5
SPEED_TARGET_RATIO = 20


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dovecot = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")
    version = ""
    if dovecot:
        done = subprocess.run([dovecot, "--version"], capture_output=True, text=True, check=False)
        version = done.stdout.strip()
    from importlib.metadata import version as pkg_version

    git = ["git", "-C", str(REPO)]
    commit = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no", "--", "watcher"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dovecot": version,
        "secop_watcher": pkg_version("secop-watcher"),
        "imapclient": pkg_version("imapclient"),
        "imap_tools": pkg_version("imap-tools"),
        "commit": os.environ.get("SECOP_BENCH_PRODUCT_REF")
        or (commit + ("+uncommitted watcher/ changes" if dirty else "") if commit else "unknown"),
    }


# --------------------------------------------------------------------------- one mailbox


def bench_checks(
    server: Any, n: int, rtt: int, runs: int, work: Path, commands: dict[str, Any]
) -> list[dict[str, Any]]:
    rows = []
    with LatencyProxy(server.host, server.port_ssl, rtt) as proxy:
        config = write_config(work / f"check-{n}-{rtt}.toml", proxy, server)
        meta = {"n": n, "rtt_ms": rtt}
        # cold: a fresh state folder every run
        home = Home.make(work, "cold")
        cold = []
        for _ in range(runs):
            home.reset_state()
            cold.append(measure.run_check_now(config, home, proxy))
        rows.append(aggregate("check-now cold", cold, **meta, **_cmds(commands, "cold")))
        # warm: the state folder of a previous run is kept
        home = Home.make(work, "warm")
        measure.run_check_now(config, home, proxy)
        warm = [measure.run_check_now(config, home, proxy) for _ in range(runs)]
        rows.append(aggregate("check-now warm", warm, **meta, **_cmds(commands, "warm")))
        bulk = [measure.bulk_imapclient(server, proxy) for _ in range(runs)]
        rows.append(aggregate("bulk (imapclient)", bulk, **meta))
        per = [measure.per_message_imap_tools(server, proxy) for _ in range(runs)]
        rows.append(aggregate("per-message (imap-tools)", per, **meta))
    for row in rows:
        log("  " + _check_line(row))
    return rows


def _cmds(commands: dict[str, Any], which: str) -> dict[str, Any]:
    summary = commands[which]
    return {
        "commands": summary["commands"],
        "fetch_commands": summary["fetch_commands"],
        "uids_fetched": summary["uids_fetched"],
        "command_verbs": summary["verbs"],
        "command_log": summary["log"],
    }


def count_commands(server: Any, n: int, work: Path) -> dict[str, Any]:
    """Commands of a cold and of a warm check-now (they do not depend on the latency)."""
    with LatencyProxy(server.host, server.port_ssl, 0) as proxy:
        config = write_config(work / f"count-{n}.toml", proxy, server)
        home = Home.make(work, "count")
        cold = measure.count_check_now_commands(config, home)
        warm = measure.count_check_now_commands(config, home)
    return {"cold": cold, "warm": warm}


def _check_line(row: dict[str, Any]) -> str:
    return (
        f"{row['subject']:26} N={row['n']:<7} rtt={row['rtt_ms']:<3} "
        f"{row['wall_s']:8.3f} s  {row['round_trips']:5.0f} RT  "
        f"{row['bytes_received'] / 1024:9.1f} KB  cmds {row.get('commands', '-')}"
    )


# --------------------------------------------------------------------------- targets


def _find(rows: list[dict[str, Any]], subject: str, n: int, rtt: int) -> dict[str, Any] | None:
    for row in rows:
        if row["subject"] == subject and row["n"] == n and row["rtt_ms"] == rtt:
            return row
    return None


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    checks = results["checks"]
    if not checks:
        return []
    big = max(r["n"] for r in checks)
    small = min(r["n"] for r in checks)
    rtt = max(r["rtt_ms"] for r in checks)
    where = f"N={big}, rtt={rtt} ms"
    out: list[dict[str, Any]] = []

    def add(name: str, target: str, measured: Any, met: bool | None, at: str = where) -> None:
        out.append({"name": name, "target": target, "measured": measured, "met": met, "at": at})

    cold = _find(checks, "check-now cold", big, rtt)
    warm = _find(checks, "check-now warm", big, rtt)
    bulk = _find(checks, "bulk (imapclient)", big, rtt)
    per = _find(checks, "per-message (imap-tools)", big, rtt)
    if cold:
        add("cold round trips", "<= 13", cold["round_trips"], cold["round_trips"] <= 13)
    if cold and bulk:
        ratio = round(bulk["bytes_received"] / max(cold["bytes_received"], 1), 2)
        add("bytes vs bulk", f">= {BYTES_TARGET_RATIO}x fewer", ratio, ratio >= BYTES_TARGET_RATIO)
    if cold and per:
        ratio = round(per["wall_s"] / max(cold["wall_s"], 1e-9), 2)
        add("speed vs per-message", f">= {SPEED_TARGET_RATIO}x faster", ratio,
            ratio >= SPEED_TARGET_RATIO)  # fmt: skip
    if warm:
        add("warm round trips (no change)", "<= 6", warm["round_trips"], warm["round_trips"] <= 6)
    small_cold = _find(checks, "check-now cold", small, rtt)
    if cold and small_cold and big != small:
        ratio = round(cold["wall_s"] / small_cold["wall_s"], 2)
        add("time N=max / N=min", "<= 1.5", ratio, ratio <= 1.5, f"N={big}/{small}, rtt={rtt} ms")
    for row in results.get("latency", []):
        if row["mode"] == "run" and row["rtt_ms"] == rtt:
            add(f"run IDLE p95 {row['folder']}", "< 1 s", row["p95_s"], row["p95_s"] < 1.0,
                f"rtt={rtt} ms")  # fmt: skip
    start = results.get("startup")
    if start:
        add("--help vs python -c pass", "<= 6x", start["ratio"], start["ratio"] <= 6, "-")
    idle = results.get("idle")
    if idle:
        add("idle RSS MB", "< 60", idle["rss_mb"], idle["rss_mb"] < 60, f"N={idle['n']}")
        add("idle wake-ups/min", "a few (<= 5)", idle["wakeups_per_min"],
            idle["wakeups_per_min"] <= 5, f"N={idle['n']}")  # fmt: skip
    return out


# --------------------------------------------------------------------------- table


def format_table(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"secop-watcher benchmark — {m['date']}",
        f"machine: {m['cpu_count']} CPU ({m['cpu_model']}), load {m['load_average']}, "
        f"Python {m['python']}, Dovecot {m['dovecot']}, "
        f"secop-watcher {m['secop_watcher']} ({m['commit']})",
        "",
        "Mailboxes: "
        + "; ".join(
            f"N={b['n']}: INBOX {b['inbox']}, Spam {b['spam']}, {b['bytes_total'] / 1e6:.0f} MB,"
            f" {b['secop'].get('registro_total', 0)} from {'registro@secop.gov.co'}"
            for b in results["mailboxes"]
        ),
        "",
        f"{'what':26} {'N':>7} {'RTT':>4} {'runs':>4} {'time s':>8} {'RT':>5} {'conn':>4} "
        f"{'KB recv':>9} {'KB sent':>8} {'cmds':>5} {'FETCH':>5} {'msgs':>5} {'RSS MB':>6}",
    ]
    for row in results["checks"]:
        msgs = row.get("uids_fetched", row.get("messages_fetched"))
        lines.append(
            f"{row['subject']:26} {row['n']:>7} {row['rtt_ms']:>4} {row['runs']:>4} "
            f"{row['wall_s']:>8.3f} {row['round_trips']:>5.0f} {row['connections']:>4.0f} "
            f"{row['bytes_received'] / 1024:>9.1f} {row['bytes_sent'] / 1024:>8.1f} "
            f"{_fmt(row.get('commands')):>5} {_fmt(row.get('fetch_commands')):>5} "
            f"{_fmt(msgs):>5} {_fmt(row.get('peak_rss_mb')):>6}"
        )
    if results.get("latency"):
        lines += ["", "Arrival → notification (s)", f"{'mode':6} {'folder':6} {'N':>7} "
                  f"{'RTT':>4} {'n':>3} {'p50':>7} {'p95':>7} {'max':>7}"]  # fmt: skip
        for row in results["latency"]:
            lines.append(
                f"{row['mode']:6} {row['folder']:6} {row['n']:>7} {row['rtt_ms']:>4} "
                f"{row['arrivals'] - row['missed']:>3} {row['p50_s']:>7.3f} {row['p95_s']:>7.3f} "
                f"{_fmt(row['max_s'], '.3f'):>7}"
            )
    s = results.get("startup")
    if s:
        lines += [
            "",
            f"Start-up ({s['tool']}, median of {s['runs']}): "
            f"python -c pass {s['python_s'] * 1000:.0f} ms, "
            f"secop-watcher --help {s['help_s'] * 1000:.0f} ms, ratio {s['ratio']:.1f}x",
        ]
    i = results.get("idle")
    if i:
        lines += [
            "",
            f"Idle service (N={i['n']}, rtt {i['rtt_ms']} ms, {i['window_s']:.0f} s without mail):"
            f" RSS {i['rss_mb']} MB (peak {i['hwm_mb']} MB), {i['threads']} threads, "
            f"{i['wakeups_per_min']} wake-ups/min, {i['window_connections']} connections and "
            f"{i['window_round_trips']} round trips in the window",
        ]
    if results.get("targets"):
        lines += ["", "Targets (issue 5)"]
        for t in results["targets"]:
            mark = "ok  " if t["met"] else "MISS"
            lines.append(
                f"  {mark} {t['name']:30} target {t['target']:16} measured {t['measured']}"
                f"  ({t['at']})"
            )
    return "\n".join(lines) + "\n"


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not spec:
        return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"
    return format(value, spec)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=1,000 and 0 ms only")
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "latest.json",
        help="JSON results (the table goes beside it, .txt)",
    )  # fmt: skip
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    parser.add_argument("--latencies", type=lambda s: [int(x) for x in s.split(",")], default=None)
    parser.add_argument("--cache", type=Path, default=CACHE_ROOT, help="mailbox cache folder")
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached mailboxes")
    parser.add_argument("--arrivals", type=int, default=ARRIVALS)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-idle", action="store_true")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        log("the benchmark starts its own Dovecot and needs root")
        return 2
    sizes = args.sizes or ([1_000] if args.quick else list(SIZES))
    latencies = args.latencies or ([0] if args.quick else list(LATENCIES_MS))
    idle_window = 20.0 if args.quick else 60.0
    started = time.monotonic()
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "machine": machine_info(),
        "settings": {
            "quick": args.quick,
            "sizes": sizes,
            "latencies_ms": latencies,
            "runs": {str(k): RUNS.get(k, 3) for k in latencies},
            "arrivals": args.arrivals,
            "idle_window_s": idle_window,
        },
        "mailboxes": [],
        "checks": [],
        "latency": [],
        "startup": None,
        "idle": None,
        "targets": [],
        "errors": [],
    }
    log("start-up: secop-watcher --help vs python -c pass …")
    results["startup"] = measure.startup()
    work = Path(tempfile.mkdtemp(prefix="secop-bench-"))
    work.chmod(0o755)
    try:
        for n in sizes:
            server, info = open_mailbox(n, args.cache, rebuild=args.rebuild, log=log)
            try:
                results["mailboxes"].append(info.as_dict())
                log(f"N={n}: warm-up check and command count …")
                commands = count_commands(server, n, work)
                for rtt in latencies:
                    runs = RUNS.get(rtt, 3)
                    log(f"N={n}, rtt={rtt} ms: {runs} runs of each …")
                    results["checks"] += bench_checks(server, n, rtt, runs, work, commands)
                if n == sizes[-1]:
                    _service_phase(server, n, latencies, idle_window, args, work, results)
            except Exception as e:  # noqa: BLE001 (keep what was measured; say what failed)
                log(f"N={n}: FAILED: {type(e).__name__}: {e}")
                results["errors"].append({"n": n, "error": f"{type(e).__name__}: {e}"[:2000]})
            finally:
                try:
                    purge_arrivals(server)
                finally:
                    server.stop()
                _save(results, args.out)  # partial results survive a later failure
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    table = _save(results, args.out)
    print(table)
    log(f"results: {args.out} and {args.out.with_suffix('.txt')} ({results['elapsed_s']:.0f} s)")
    return 1 if results["errors"] else 0


def _save(results: dict[str, Any], out: Path) -> str:
    results["targets"] = evaluate_targets(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    table = format_table(results)
    out.with_suffix(".txt").write_text(table)
    return table


def _service_phase(
    server: Any,
    n: int,
    latencies: list[int],
    idle_window: float,
    args: argparse.Namespace,
    work: Path,
    results: dict[str, Any],
) -> None:
    if not args.skip_idle:
        log(f"N={n}: idle service …")
        try:
            with LatencyProxy(server.host, server.port_ssl, latencies[-1]) as proxy:
                idle = measure.idle_service(server, proxy, work, idle_window, log)
            results["idle"] = {"n": n, **idle}
        except Exception as e:  # noqa: BLE001 (go on with the latency phase)
            log(f"  idle: FAILED: {type(e).__name__}: {e}")
            results["errors"].append({"n": n, "phase": "idle", "error": f"{e}"[:2000]})
    if args.skip_latency:
        return
    for rtt in latencies:
        log(f"N={n}, rtt={rtt} ms: arrival latency, {args.arrivals} arrivals per folder …")
        with LatencyProxy(server.host, server.port_ssl, rtt) as proxy:
            for name, fn, count in (
                ("idle-floor", measure.latency_idle_floor, max(5, args.arrivals // 2)),
                ("run", measure.latency_run, args.arrivals),
                ("wait", measure.latency_wait, args.arrivals),
            ):
                try:
                    rows = fn(server, proxy, work, count, log)
                except Exception as e:  # noqa: BLE001 (one broken mode must not lose the rest)
                    log(f"  {name}: FAILED: {type(e).__name__}: {e}")
                    results["errors"].append(
                        {"n": n, "rtt_ms": rtt, "phase": name, "error": f"{e}"[:2000]}
                    )
                    continue
                results["latency"] += [{"n": n, **row} for row in rows]
        purge_arrivals(server)


if __name__ == "__main__":
    sys.exit(main())
