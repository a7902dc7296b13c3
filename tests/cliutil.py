"""Run the installed ``secop-watcher`` and write configs for a test server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # needs POSIX; the platform tests run on Windows too
    from tests.servers.dovecot import Dovecot


def executable() -> str:
    """The installed console script (next to this interpreter), as a user runs it."""
    beside = Path(sys.executable).parent / "secop-watcher"
    if beside.exists():
        return str(beside)
    found = shutil.which("secop-watcher")
    if not found:
        raise RuntimeError("secop-watcher is not installed: pip install -e .")
    return found


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [executable(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def write_config(
    path: Path,
    server: Dovecot,
    user: str = "jperez",
    *,
    security: str = "ssl",
    port: int | None = None,
    ca: bool = True,
    extra_imap: str = "",
    watch: str = "",
) -> Path:
    if port is None:
        port = server.port_ssl if security == "ssl" else server.port_starttls
    lines = [
        "[imap]",
        f'host = "{server.host}"',
        f"port = {port}",
        f'security = "{security}"',
        f'username = "{user}"',
        "timeout_seconds = 10",
    ]
    if ca:
        lines.append(f'ca_file = "{server.ca_file}"')
    lines += [extra_imap, "[watch]", watch, ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def check_json(config: Path, password: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = run(
        "--config",
        str(config),
        "check-now",
        "--json",
        *extra,
        env={"SECOP_WATCHER_PASSWORD": password},
    )
    data = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, data, done.stderr


RUNNING: list[Background] = []  # killed after each test (tests/conftest.py), even on failure


class Background:
    """The installed CLI running in the background, its stderr read line by line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, merged: bool = False) -> None:
        """``merged``: stdout goes with stderr into :attr:`lines` (prompts a command prints)."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [executable(), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merged else subprocess.PIPE,
            text=True,
            env=full_env,
        )
        self._stream = self.proc.stdout if merged else self.proc.stderr
        RUNNING.append(self)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._stream is not None
        for line in self._stream:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 20, count: int = 1) -> None:
        import time

        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(text in line for line in self.lines) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"{text!r} not seen on stderr:\n" + "\n".join(self.lines))
                self._changed.wait(min(remaining, 0.2))

    def stop(self, timeout: float = 15) -> int:
        import signal
        import time

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGUSR1)  # the service dumps its threads to stderr
            time.sleep(1)
            self.proc.kill()
            self.proc.wait()
            self._reader.join(5)
            raise AssertionError("did not stop:\n" + "\n".join(self.lines)) from None

    def wait(self, timeout: float) -> int:
        """Wait for the exit (all output read into :attr:`lines`); the exit code."""
        code = self.proc.wait(timeout)
        self._reader.join(timeout=5)
        return code

    def communicate(self, timeout: float) -> tuple[int, str]:
        """Wait for the exit; (exit code, stdout). Not ``Popen.communicate``: that would
        read stderr too, racing the line reader, and the last lines could be lost."""
        out: list[str] = []
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        reader = threading.Thread(target=lambda: out.append(stdout.read()), daemon=True)
        reader.start()
        self.proc.wait(timeout)
        reader.join(timeout=5)
        self._reader.join(timeout=5)
        return self.proc.returncode, "".join(out)
