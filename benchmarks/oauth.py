"""What signing in with OAuth2 costs a ``check-now``, against a password (issue 6).

Real parts, as in the tests: Dovecot with the ``oauth2`` passdb, the local OAuth2
server (tests/servers/oauthserver.py) as Microsoft, and the installed
``secop-watcher``. Both the IMAP server and the token endpoint sit behind a
latency proxy (benchmarks/proxy.py), so the HTTPS refresh pays its round trips
like the IMAP conversation does. Three cases, ``--runs`` times each:

* password: the baseline (LOGIN, CAPABILITY and LIST in one write);
* oauth2, cached: the access token another run left in the keyring;
* oauth2, refresh: no cached access token, so one refresh at the token endpoint.

    .venv/bin/python -m benchmarks.oauth --rtt 100 --runs 5 --out results/F.txt
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.proxy import LatencyProxy
from tests import mailfactory as mf
from tests.cliutil import executable
from tests.servers.certs import make_certs
from tests.servers.dovecot import Dovecot
from tests.servers.oauthserver import OAuthServer

REPO = Path(__file__).resolve().parent.parent
USER = "jperez"


def env_for(home: Path, ca: Path, password: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECOP_WATCHER_")}
    for sub in ("config", "state", "logs"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env.update(
        SECOP_WATCHER_CONFIG_DIR=str(home / "config"),
        SECOP_WATCHER_STATE_DIR=str(home / "state"),
        SECOP_WATCHER_LOG_DIR=str(home / "logs"),
        SECOP_WATCHER_TEST_KEYRING=str(home / "keyring.json"),
        PYTHON_KEYRING_BACKEND="tests.keyring_backend.FileKeyring",
        PYTHONPATH=str(REPO),
        REQUESTS_CA_BUNDLE=str(ca),
        LANG="C.UTF-8",
    )
    env.pop("CURL_CA_BUNDLE", None)
    if password is not None:
        env["SECOP_WATCHER_PASSWORD"] = password
    return env


def config(path: Path, imap: LatencyProxy, ca: Path, extra: str = "") -> Path:
    path.write_text(
        f'[imap]\nhost = "{imap.host}"\nport = {imap.port}\nusername = "{USER}"\n'
        f'ca_file = "{ca}"\ntimeout_seconds = 60\n{extra}\n[notify]\ndesktop = false\n'
    )
    return path


def sign_in(cfg: Path, env: dict[str, str], server: OAuthServer) -> None:
    """``secop-watcher login``, the device code typed by a stand-in user."""
    proc = subprocess.Popen(
        [executable(), "--config", str(cfg), "login"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    for line in proc.stdout or ():
        if "code " in line:
            code = line.split("code ", 1)[1].split(".", 1)[0]
            threading.Thread(target=server.submit_device_login, args=(code, USER)).start()
    if proc.wait(60) != 0:
        raise RuntimeError("login failed")


def drop_access(home: Path) -> None:
    path = home / "keyring.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({k: v for k, v in data.items() if "oauth2-access:" not in k}))


def one(cfg: Path, env: dict[str, str], proxies: list[LatencyProxy]) -> dict[str, Any]:
    before = [p.snapshot() for p in proxies]
    started = time.perf_counter()
    done = subprocess.run(
        [executable(), "--config", str(cfg), "check-now", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    stats = [p.snapshot() - b for p, b in zip(proxies, before, strict=True)]
    return {
        "wall_s": wall,
        "imap_round_trips": stats[0].round_trips,
        "token_round_trips": stats[1].round_trips if len(stats) > 1 else 0,
        "token_connections": stats[1].connections if len(stats) > 1 else 0,
    }


def summary(name: str, samples: list[dict[str, Any]]) -> str:
    med = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
    return (
        f"{name:<18} wall {med['wall_s']:.3f} s (min {min(s['wall_s'] for s in samples):.3f}), "
        f"IMAP round trips {med['imap_round_trips']:.0f}, token endpoint: "
        f"{med['token_connections']:.0f} connection(s), {med['token_round_trips']:.0f} round trips"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rtt", type=float, default=100.0, help="added round trip, ms")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="bench-oauth-"))
    root.chmod(0o755)
    certs = make_certs(root / "certs")
    lines: list[str] = []
    try:
        with OAuthServer(certs) as oauth:
            dovecot = Dovecot(
                root / "dc", {USER: "pw-" + os.urandom(6).hex()},
                certs=certs, oauth2_introspection_url=oauth.introspection_url,
            ).start()  # fmt: skip
            try:
                now = datetime.now(UTC)
                dovecot.append(USER, "Spam", mf.reset_mail(USER, mf.reset_url("b1"), date=now))
                https_port = int(oauth.base_url.rsplit(":", 1)[1])
                with (
                    LatencyProxy(dovecot.host, dovecot.port_ssl or 0, args.rtt) as imap,
                    LatencyProxy("127.0.0.1", https_port, args.rtt) as token,
                ):
                    authority = f'auth = "oauth2-microsoft"\noauth_authority = "https://127.0.0.1:{token.port}"'
                    lines += run_cases(root, certs.ca, dovecot, oauth, imap, token, authority, args)
            finally:
                dovecot.stop(graceful=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    header = (
        f"# benchmarks/oauth.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"RTT {args.rtt:g} ms, {args.runs} runs each (median)"
    )
    text = "\n".join([header, *lines]) + "\n"
    print(text, end="")
    if args.out:
        args.out.write_text(text)
    return 0


def run_cases(
    root: Path,
    ca: Path,
    dovecot: Dovecot,
    oauth: OAuthServer,
    imap: LatencyProxy,
    token: LatencyProxy,
    authority: str,
    args: argparse.Namespace,
) -> list[str]:
    pw_home, ms_home = root / "pw", root / "ms"
    pw_env = env_for(pw_home, ca, dovecot.password(USER))
    ms_env = env_for(ms_home, ca, None)
    pw_cfg = config(root / "pw.toml", imap, ca)
    ms_cfg = config(root / "ms.toml", imap, ca, authority)
    sign_in(ms_cfg, ms_env, oauth)
    password = [one(pw_cfg, pw_env, [imap, token]) for _ in range(args.runs)]
    cached = [one(ms_cfg, ms_env, [imap, token]) for _ in range(args.runs)]
    refreshed = []
    for _ in range(args.runs):
        drop_access(ms_home)
        refreshed.append(one(ms_cfg, ms_env, [imap, token]))
    return [
        summary("password", password),
        summary("oauth2, cached", cached),
        summary("oauth2, refresh", refreshed),
    ]


if __name__ == "__main__":
    sys.exit(main())
