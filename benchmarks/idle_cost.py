"""What an idle ``secop-watcher run`` costs: wake-ups per minute and bytes per hour on the wire.

Starts its own Dovecot (needs root) and, in front of it, the tests' TLS-terminating
:class:`~tests.servers.faultproxy.FaultProxy` (which sees every command, per
connection), then the installed ``secop-watcher run`` with the product's default
settings. Once both IDLE connections are ready (and 10 s more), it watches for
``--minutes`` (default 3) while no mail arrives and reports:

- wake-ups: voluntary + involuntary context switches of all the process's threads
  (``/proc/<pid>/task/*/status``), per minute, in total and per thread;
- per connection (INBOX, Spam, the checker's kept one): the commands sent, the
  IMAP bytes each way (what the proxy forwarded, plaintext), and from the kernel
  (``ss -ti`` on the service's own sockets) the TLS bytes and TCP segments each
  way; scaled to an hour, plus an estimate of IP bytes (payload + 52 bytes of
  IPv4/TCP headers with timestamps per segment; a real link adds its own framing).

::

    .venv/bin/python -m benchmarks.idle_cost                  # 3 minutes
    .venv/bin/python -m benchmarks.idle_cost --minutes 10 --json out.json
    .venv/bin/python -m benchmarks.idle_cost --pythonpath /tmp/other-checkout

``--pythonpath DIR`` runs the service from another checkout's ``watcher/`` (put
first on ``PYTHONPATH``), e.g. an exported older commit, to compare.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.measure import context_switches  # noqa: E402
from tests.cliutil import Background  # noqa: E402
from tests.servers.certs import make_certs  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402
from tests.servers.faultproxy import Conn, FaultProxy  # noqa: E402

HEADERS = 52  # IPv4 (20) + TCP (20) + the timestamps option (12), per segment
_SS_FIELDS = ("bytes_acked", "bytes_received", "segs_out", "segs_in")


def ss_counters(proxy_port: int) -> dict[int, dict[str, int]]:
    """The kernel's counters of every socket connected to the proxy: local port → fields."""
    done = subprocess.run(
        ["ss", "-tinH", "state", "established", "dst", f"127.0.0.1:{proxy_port}"],
        capture_output=True,
        text=True,
        check=False,
    )
    out: dict[int, dict[str, int]] = {}
    port: int | None = None
    for line in done.stdout.splitlines():
        head = re.match(r"\s*\d+\s+\d+\s+\S+:(\d+)\s+\S+:\d+", line)
        if head:
            port = int(head.group(1))
            continue
        if port is not None:
            fields = dict(re.findall(r"(\w+):(\d+)", line))
            out[port] = {k: int(fields.get(k, 0)) for k in _SS_FIELDS}
            port = None
    return out


def sample_switches(pid: int, window_s: float, every: float = 1.0) -> dict[int, int]:
    """Context switches of each thread during ``window_s`` (tid → count; a thread that
    ends counts up to its last sample)."""
    first = context_switches(pid)
    last = dict(first)
    deadline = time.monotonic() + window_s
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(every, left))
        with contextlib.suppress(FileNotFoundError):
            last.update(context_switches(pid))
    return {tid: last[tid] - first.get(tid, 0) for tid in last}


def write_config(path: Path, port: int, server: Dovecot) -> Path:
    path.write_text(
        "\n".join(
            [
                "[imap]",
                'host = "127.0.0.1"',
                f"port = {port}",
                'security = "ssl"',
                'username = "jperez"',
                f'ca_file = "{server.ca_file}"',
                "[notify]",
                "desktop = false",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


def conn_row(
    conn: Conn, start: float, end: float, before: dict[str, int], after: dict[str, int],
    plain_before: tuple[int, int], window_s: float,
) -> dict[str, Any]:  # fmt: skip
    per_hour = 3600.0 / window_s
    folder = (conn.folder or "-").strip('"')
    sent = [(round(t - start, 1), v.decode()) for t, v in conn.commands if start <= t <= end]
    tls_up = after.get("bytes_acked", 0) - before.get("bytes_acked", 0)
    tls_down = after.get("bytes_received", 0) - before.get("bytes_received", 0)
    segs = (after.get("segs_out", 0) - before.get("segs_out", 0)) + (
        after.get("segs_in", 0) - before.get("segs_in", 0)
    )
    return {
        "connection": conn.number,
        "folder": (
            f"IDLE {folder}"
            if conn.commands and conn.commands[-1][1] == b"IDLE"
            else f"checker (last examined {folder})"
        ),
        "commands": len(sent),
        "command_log": sent,
        "imap_bytes_up": conn.bytes_up - plain_before[0],
        "imap_bytes_down": conn.bytes_down - plain_before[1],
        "tls_bytes_up": tls_up,
        "tls_bytes_down": tls_down,
        "segments": segs,
        "tls_bytes_per_hour": round((tls_up + tls_down) * per_hour),
        "ip_bytes_per_hour": round((tls_up + tls_down + segs * HEADERS) * per_hour),
        "measured_by_kernel": bool(after),
    }


def run(minutes: float, pythonpath: str | None, log: Any = print) -> dict[str, Any]:
    if os.geteuid() != 0:
        raise SystemExit("run as root: it starts its own Dovecot")
    root = Path(tempfile.mkdtemp(prefix="secop-idlecost-"))
    root.chmod(0o755)
    window_s = minutes * 60.0
    server = Dovecot(
        root / "dc", {"jperez": secrets.token_urlsafe(16)}, certs=make_certs(root / "certs")
    )
    home = root / "home"
    env = {
        "SECOP_WATCHER_PASSWORD": server.password("jperez"),
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={root}/no-bus",
        "SECOP_WATCHER_CONFIG_DIR": str(home / "config"),
        "SECOP_WATCHER_STATE_DIR": str(home / "state"),
        "SECOP_WATCHER_LOG_DIR": str(home / "logs"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    for sub in ("config", "state", "logs"):
        (home / sub).mkdir(parents=True)
    server.start()
    bg: Background | None = None
    try:
        with FaultProxy(server.port_plain, server.certs) as proxy:
            cfg = write_config(root / "config.toml", proxy.port, server)
            bg = Background("--config", str(cfg), "-v", "run", env=env)
            bg.wait_for("IDLE connection ready", timeout=60, count=2)
            time.sleep(10)  # the first checks asked for by both IDLE connections are over
            pid = bg.proc.pid
            conns = [c for c in proxy.conns if c.open]
            kernel_before = ss_counters(proxy.port)
            plain_before = {c.number: (c.bytes_up, c.bytes_down) for c in conns}
            opened_before = proxy.connections
            log(f"watching pid {pid} for {window_s:.0f} s ({len(conns)} connections open) …")
            start = time.monotonic()
            switches = sample_switches(pid, window_s)
            end = time.monotonic()
            kernel_after = ss_counters(proxy.port)
            rows = [
                conn_row(
                    c,
                    start,
                    end,
                    kernel_before.get(c.client_port, {}),
                    kernel_after.get(c.client_port, {}),
                    plain_before[c.number],
                    window_s,
                )
                for c in conns
            ]
            opened = proxy.connections - opened_before
            service_lines = [line for line in bg.lines if "WARNING" in line or "lost" in line]
    finally:
        if bg is not None:
            with contextlib.suppress(Exception):
                bg.stop(timeout=20)
        server.stop(graceful=False)
        shutil.rmtree(root, ignore_errors=True)
    total = sum(switches.values())
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "window_s": window_s,
        "pythonpath": pythonpath,
        "wakeups_per_min": round(total * 60.0 / window_s, 2),
        "context_switches": total,
        "per_thread": {str(tid): n for tid, n in sorted(switches.items()) if n},
        "threads": len(switches),
        "connections_opened_in_window": opened,
        "connections": rows,
        "service_warnings": service_lines,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"idle service over {result['window_s'] / 60:g} min: "
        f"{result['wakeups_per_min']} wake-ups/min "
        f"({result['context_switches']} context switches, {result['threads']} threads; "
        f"per thread: {result['per_thread']}); "
        f"connections opened: {result['connections_opened_in_window']}",
        f"{'conn':>4}  {'folder':32} {'cmds':>4} {'IMAP up/down B':>15} {'TLS up/down B':>14} "
        f"{'segs':>5} {'TLS B/h':>8} {'IP B/h':>8}",
    ]
    for r in result["connections"]:
        lines.append(
            f"{r['connection']:>4}  {r['folder'][:32]:32} {r['commands']:>4} "
            f"{r['imap_bytes_up']:>7}/{r['imap_bytes_down']:<7} "
            f"{r['tls_bytes_up']:>6}/{r['tls_bytes_down']:<7} {r['segments']:>5} "
            f"{r['tls_bytes_per_hour']:>8} {r['ip_bytes_per_hour']:>8}"
        )
        if r["command_log"]:
            lines.append(f"      commands: {r['command_log']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="window (default 3)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--pythonpath", help="run the service from this checkout's watcher/")
    args = parser.parse_args(argv)
    result = run(args.minutes, args.pythonpath)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
