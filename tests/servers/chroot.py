"""Cached Debian chroots (mmdebstrap) for the IMAP servers that conflict with Dovecot.

``ensure(spec)`` builds a bookworm chroot once from the host's own apt sources
and caches it under ``/var/tmp/secop-chroots/<name>-<key>`` (``SECOP_CHROOT_CACHE``),
keyed by a sha256 of its inputs; builds are atomic (``.partial`` dir, marker,
rename) and locked (``flock``). ``ChrootServer`` is the shared base of
:mod:`tests.servers.cyrus` and :mod:`tests.servers.courier`. The chroots share
the host's loopback. Recipe and findings: tests/servers/README.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from tests.servers.certs import Certs
from tests.servers.dovecot import (
    Snapshot,
    _alive,
    _become_subreaper,
    _descendants,
    _port_is_free,
    _reap,
    append_uid,
    folder_status,
    free_port,
    logged_in,
    read_snapshot,
)

CACHE_ENV = "SECOP_CHROOT_CACHE"
DEFAULT_CACHE = Path("/var/tmp/secop-chroots")
MARKER = ".secop-chroot-complete"
INSTANCES = "srv/secop"  # per-server-instance directories, inside the chroot
BUILD_TIMEOUT = 1800.0


class ChrootError(RuntimeError):
    pass


@dataclass(frozen=True)
class ChrootSpec:
    """What goes into one chroot. Change ``recipe`` when anything else changes."""

    name: str
    packages: tuple[str, ...]
    suite: str = "bookworm"
    variant: str = "apt"
    recipe: str = "1"
    # argv commands run inside the new chroot after mmdebstrap, before it is published
    setup: tuple[tuple[str, ...], ...] = field(default=())


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def host_sources() -> list[Path]:
    """The host's active apt source files (one-line ``.list`` and deb822 ``.sources``)."""
    found: list[Path] = []
    main = Path("/etc/apt/sources.list")
    if main.is_file() and any(
        line.strip() and not line.lstrip().startswith("#") for line in main.read_text().splitlines()
    ):
        found.append(main)
    parts = Path("/etc/apt/sources.list.d")
    if parts.is_dir():
        found += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    return found


def can_mount() -> bool:
    """False without CAP_SYS_ADMIN (e.g. an unprivileged Docker container, as in CI) or
    with ``SECOP_CHROOT_NO_MOUNT=1``: mmdebstrap then skips mounting /dev, /proc, /sys."""
    if os.environ.get("SECOP_CHROOT_NO_MOUNT", "") in ("1", "true"):
        return False
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) & (1 << 21))
    return True


def cache_key(spec: ChrootSpec, sources: Sequence[Path]) -> str:
    material = {
        "name": spec.name,
        "packages": sorted(spec.packages),
        "suite": spec.suite,
        "variant": spec.variant,
        "recipe": spec.recipe,
        "setup": [list(cmd) for cmd in spec.setup],
        "arch": platform.machine(),
        "sources": {str(p): p.read_text(errors="replace") for p in sources},
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    out = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point == str(path) or point.startswith(prefix):
                out.append(point)
    return sorted(out, key=len, reverse=True)


def remove_tree(path: Path) -> None:
    """Remove a (partial) chroot, unmounting whatever an interrupted build left mounted."""
    for point in _mounts_under(path):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    left = _mounts_under(path)
    if left:  # never rmtree through a bind mount of the host's /dev or /proc
        raise ChrootError(f"cannot remove {path}: still mounted: {left}")
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def flock(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``, waiting at most ``timeout`` seconds."""
    with path.open("a") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ChrootError(
                        f"timed out after {timeout:.0f} s waiting for {path}"
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class Chroot:
    """A built chroot directory; ``run``/``popen`` execute argv inside it."""

    root: Path
    spec: ChrootSpec
    built_seconds: float | None = None  # None: taken from the cache

    def host_path(self, inside: str | Path) -> Path:
        """``/srv/x`` inside the chroot → its path on the host."""
        return self.root / str(inside).lstrip("/")

    def argv(self, argv: Sequence[str | Path]) -> list[str]:
        if not argv or isinstance(argv, str):
            raise TypeError("argv must be a non-empty list of arguments, not a shell string")
        return [_chroot_binary(), str(self.root), *(str(a) for a in argv)]

    def run(
        self, argv: Sequence[str | Path], *, check: bool = True, timeout: float = 120.0, **kw: Any
    ) -> subprocess.CompletedProcess[bytes]:
        """Run argv in the chroot; with ``check``, a failure raises ChrootError with its output."""
        if "input" not in kw:
            kw.setdefault("stdin", subprocess.DEVNULL)
        if "stdout" not in kw and "stderr" not in kw and "capture_output" not in kw:
            kw["capture_output"] = True
        proc = subprocess.run(self.argv(argv), check=False, timeout=timeout, **kw)
        if check and proc.returncode != 0:
            out = (proc.stdout or b"") + (proc.stderr or b"")
            raise ChrootError(
                f"`{' '.join(map(str, argv))}` in {self.root} exited with {proc.returncode}:\n"
                + out.decode(errors="replace")[-4000:]
            )
        return proc

    def popen(self, argv: Sequence[str | Path], **kw: Any) -> subprocess.Popen[bytes]:
        """Start argv in the chroot, in a new session: Courier's daemons signal their
        whole process group when they stop, which would otherwise include pytest."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("start_new_session", True)
        return subprocess.Popen(self.argv(argv), **kw)

    def _id(self, db: str, name: str) -> int:
        for line in self.host_path(f"/etc/{db}").read_text().splitlines():
            parts = line.split(":")
            if parts[0] == name:
                return int(parts[2])
        raise ChrootError(f"no {name!r} in {self.root}/etc/{db}")

    def uid(self, user: str) -> int:
        return self._id("passwd", user)

    def gid(self, group: str) -> int:
        return self._id("group", group)

    def new_instance_dir(self, prefix: str) -> tuple[str, Path]:
        """A fresh ``/srv/secop/<prefix>-<pid>-<rand>`` (inside path, host path).

        Directories of test processes that no longer run are removed first.
        """
        parent = self.host_path(INSTANCES)
        parent.mkdir(parents=True, exist_ok=True)
        parent.chmod(0o755)
        for old in parent.iterdir():
            bits = old.name.rsplit("-", 2)
            if len(bits) == 3 and bits[1].isdigit() and not Path(f"/proc/{bits[1]}").exists():
                shutil.rmtree(old, ignore_errors=True)
        name = f"{prefix}-{os.getpid()}-{secrets.token_hex(4)}"
        path = parent / name
        path.mkdir(mode=0o755)
        path.chmod(0o755)
        return f"/{INSTANCES}/{name}", path


def _chroot_binary() -> str:
    return shutil.which("chroot") or shutil.which("chroot", path="/usr/sbin:/sbin") or "chroot"


def mmdebstrap_binary() -> str | None:
    return shutil.which("mmdebstrap")


def ensure(
    spec: ChrootSpec, *, cache: Path | None = None, timeout: float = BUILD_TIMEOUT
) -> Chroot:
    """Return the cached chroot for ``spec``, building it first if needed (needs root)."""
    if os.geteuid() != 0:
        raise ChrootError("building and entering chroots needs root")
    sources = host_sources()
    if not sources:
        raise ChrootError("no apt sources on this host (/etc/apt/sources.list{,.d}) to build from")
    if not any(spec.suite in p.read_text(errors="replace") for p in sources):
        raise ChrootError(
            f"the host's apt sources {[str(p) for p in sources]} do not mention suite "
            f"{spec.suite!r}; the chroots are built from the host's own Debian mirror"
        )
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    cache.chmod(0o755)
    key = cache_key(spec, sources)
    final = cache / f"{spec.name}-{key[:20]}"
    if (final / MARKER).is_file():
        return Chroot(final, spec)
    binary = mmdebstrap_binary()
    if binary is None:
        raise ChrootError("mmdebstrap is missing; install it with `apt-get install mmdebstrap`")
    with flock(cache / f".{final.name}.lock", timeout):
        if (final / MARKER).is_file():  # another process built it while we waited
            return Chroot(final, spec)
        for stale in cache.glob(f".{final.name}.partial-*"):
            remove_tree(stale)
        if final.exists():  # no marker: an incomplete or damaged copy
            remove_tree(final)
        partial = cache / f".{final.name}.partial-{os.getpid()}"
        log = cache / f"{final.name}.log"
        started = time.monotonic()
        try:
            _build(binary, spec, sources, partial, log, timeout)
            chroot = Chroot(partial, spec)
            for cmd in spec.setup:
                chroot.run(cmd)
            (partial / MARKER).write_text(json.dumps({"key": key, "spec": repr(spec)}) + "\n")
            partial.rename(final)
        except BaseException:
            remove_tree(partial)
            raise
        return Chroot(final, spec, built_seconds=time.monotonic() - started)


def _build(
    binary: str, spec: ChrootSpec, sources: Sequence[Path], target: Path, log: Path, timeout: float
) -> None:
    argv = [
        binary,
        f"--variant={spec.variant}",
        f"--include={','.join(spec.packages)}",
        '--aptopt=Acquire::Retries "3"',
        *([] if can_mount() else ["--skip=chroot/mount"]),
        spec.suite,
        str(target),
        *(str(p) for p in sources),
    ]
    with log.open("wb") as out:
        try:
            kw: dict[str, Any] = {"stdout": out, "stderr": subprocess.STDOUT}
            proc = subprocess.run(
                argv, stdin=subprocess.DEVNULL, timeout=timeout, check=False, **kw
            )
        except subprocess.TimeoutExpired:
            raise ChrootError(f"mmdebstrap took more than {timeout:.0f} s; log: {log}") from None
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-4000:]
        raise ChrootError(f"mmdebstrap failed ({proc.returncode}): {' '.join(argv)}\n{tail}")


class ChrootServer:
    """Shared shape of the chroot IMAP servers (like :class:`tests.servers.dovecot.Dovecot`).

    Subclasses set ``product``/``prefix`` and implement ``_launch`` (start the
    processes, recording ``Popen`` objects in ``self._procs``) and
    ``_prepare`` (config, users, mailboxes; once per start). ``stop`` kills
    every process it started: the launched ones, their descendants, and any
    that daemonized away (the test process is a child subreaper, so those
    are re-parented to it and still found as descendants).
    """

    host = "127.0.0.1"
    product = "imap"
    prefix = "srv"
    spam_folder = "INBOX.Spam"
    separator = "."

    def __init__(
        self,
        chroot: Chroot,
        users: Mapping[str, str],
        *,
        certs: Certs,
        cert: str = "good",
        start_timeout: float = 20.0,
    ) -> None:
        for user, password in users.items():
            if not user.isalnum() or not password or any(c in password for c in '\r\n\t|"\\ '):
                raise ValueError(f"unsupported user/password: {user!r}")
        self.chroot = chroot
        self.users = dict(users)
        self.certs = certs
        self.cert = cert
        self.ca_file = certs.ca
        self.cert_file, self.key_file = certs.server(cert)
        self.start_timeout = start_timeout
        self.inside, self.base = chroot.new_instance_dir(self.prefix)
        self.log_path = self.base / "server.log"
        self.port_ssl = free_port(self.host)
        self.port_starttls = free_port(self.host)
        self._procs: list[subprocess.Popen[bytes]] = []
        self._sessions: set[int] = set()  # every session started, across restarts
        self._seen_strays: set[int] = set()  # a zombie's /proc/<pid>/root is unreadable

    # ---------------------------------------------------------------- lifecycle
    def _launch(self) -> None:
        raise NotImplementedError

    def _prepare(self) -> None:
        raise NotImplementedError

    def _after_start(self) -> None:
        """Runs once the server greets (e.g. create folders over IMAP)."""

    def _release(self) -> None:
        """Runs after stop (e.g. drop a lock)."""

    @property
    def running(self) -> bool:
        return any(p.poll() is None for p in self._procs)

    def password(self, user: str) -> str:
        return self.users[user]

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def _greets(self, port: int, tls: bool) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=2) as raw:
                sock: socket.socket = raw
                if tls:
                    ctx = ssl.create_default_context()
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                    sock = ctx.wrap_socket(raw, server_hostname=self.host)
                return sock.recv(4096).startswith(b"* OK")
        except (OSError, ssl.SSLError):
            return False

    def start(self) -> ChrootServer:
        if self.running:
            return self
        _become_subreaper()
        try:
            self._prepare()
            self._launch()
            self._sessions |= {p.pid for p in self._procs}
            deadline = time.monotonic() + self.start_timeout
            while not (
                self._greets(self.port_ssl, tls=True) and self._greets(self.port_starttls, False)
            ):
                dead = [p.args for p in self._procs if p.poll() is not None]
                if dead or time.monotonic() > deadline:
                    why = f"exited: {dead}" if dead else f"no greeting in {self.start_timeout} s"
                    raise ChrootError(
                        f"{self.product} on {self.host}:{self.port_ssl}/{self.port_starttls} "
                        f"({why})\n--- {self.log_path} ---\n{self.logs()}"
                    )
                time.sleep(0.05)
            self._after_start()
        except BaseException:
            self.stop()
            raise
        return self

    def _tracked(self) -> set[int]:
        pids = {p.pid for p in self._procs}
        for pid in list(pids):
            pids |= _descendants(pid)
        return pids | self._strays()

    def _strays(self) -> set[int]:
        """Orphans re-parented to this process (a child subreaper): in one of the
        sessions this server started (Courier's ``imapd`` once its ``couriertls`` is
        gone: zombies until reaped), or running inside the chroot (gamin's
        ``gam_server``, daemonized into a session of its own, which would live on
        for about 30 s after the server). Never the test's other children."""
        me, root = os.getpid(), self.chroot.root.resolve()
        found: set[int] = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) != me:  # ppid
                continue
            pid = int(entry.name)
            if int(fields[3]) in self._sessions or pid in self._seen_strays:  # session id
                found.add(pid)
                continue
            with contextlib.suppress(OSError):
                if (entry / "root").readlink() == root:
                    found.add(pid)
        self._seen_strays = found  # still our children: their pids cannot be reused
        return found

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL, every process started; reap them; wait for the ports."""
        procs = self._tracked()
        deadline = time.monotonic() + timeout
        groups = {p.pid for p in self._procs}  # each started in its own session
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            for pgid in groups:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, sig)
            until = min(deadline, time.monotonic() + timeout / 2)
            while time.monotonic() < until:
                procs |= self._tracked()
                _reap(procs)
                for p in self._procs:
                    p.poll()
                if not any(_alive(pid) for pid in procs):
                    break
                time.sleep(0.02)
        _reap(procs)
        for p in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(1)
        left = [pid for pid in procs if _alive(pid)]
        self._procs = []
        self._release()
        if left:
            raise ChrootError(f"{self.product}: processes {left} survived SIGKILL")
        until = time.monotonic() + 2
        while time.monotonic() < until and not all(
            _port_is_free(self.host, p) for p in (self.port_ssl, self.port_starttls)
        ):
            time.sleep(0.02)

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL every process at once (a crash, the OOM killer, a power cut): no
        process gets to say BYE or clean up (stale pid files and sockets stay); then
        reap them and wait for the ports like :meth:`stop`."""
        groups = {p.pid for p in self._procs}
        for pid in self._tracked():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        self.stop(timeout)

    def restart(self, graceful: bool = True) -> None:
        """Stop (``graceful``: SIGTERM, like ``systemctl stop``; else SIGKILL, see
        :meth:`kill`) and start again on the same ports, with the same users and mail."""
        ports = (self.port_ssl, self.port_starttls)
        if graceful:
            self.stop()
        else:
            self.kill()
        self.start()
        if (self.port_ssl, self.port_starttls) != ports:  # pragma: no cover - a bug here
            raise ChrootError(f"{self.product} came back on other ports")

    def add_user(self, user: str, password: str) -> None:
        """A new user with the same folders as the others, on the running server."""
        raise NotImplementedError

    def cleanup(self) -> None:
        """Stop and remove the instance directory (mail, config) from the chroot."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> ChrootServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # ------------------------------------------------------------------ clients
    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        if self.cert != "good":
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def client(self, *, timeout: float = 30.0) -> IMAPClient:
        """Connected over implicit TLS, not logged in."""
        return IMAPClient(
            self.host, self.port_ssl, ssl=True, ssl_context=self.ssl_context(), timeout=timeout
        )

    def connect(
        self, user: str, *, timeout: float = 30.0
    ) -> contextlib.AbstractContextManager[IMAPClient]:
        """A logged-in IMAPClient over implicit TLS (logged out afterwards)."""
        return self.connect_as(user, self.users[user], timeout=timeout)

    def connect_as(
        self, user: str, password: str, *, timeout: float = 30.0
    ) -> contextlib.AbstractContextManager[IMAPClient]:
        return logged_in(self.client(timeout=timeout), user, password)

    def append(
        self,
        user: str,
        folder: str,
        raw: bytes,
        *,
        flags: Iterable[bytes | str] = (),
        date: datetime | None = None,
    ) -> int:
        """APPEND ``raw`` to ``folder``; return the new UID (from APPENDUID)."""
        with self.connect(user) as c:
            return append_uid(c, folder, raw, flags=flags, date=date, error=ChrootError)

    def list_folders(self, user: str) -> list[tuple[tuple[bytes, ...], bytes, str]]:
        """LIST "" "*" as ``(flags, separator, decoded name)``."""
        with self.connect(user) as c:
            return [(tuple(flags), sep, name) for flags, sep, name in c.list_folders()]

    def snapshot(self, user: str) -> Snapshot:
        """Every selectable folder → sorted ``(uid, sorted flags, sha256 of message)``,
        like :meth:`tests.servers.dovecot.Dovecot.snapshot` (EXAMINE, BODY.PEEK[] only;
        ``\\Recent`` left out), on a fresh connection."""
        with self.connect(user) as c:
            return read_snapshot(c)

    def folder_status(self, user: str) -> dict[str, dict[str, int]]:
        """Folder → ``EXISTS``, ``UIDVALIDITY``, ``UIDNEXT`` (and ``HIGHESTMODSEQ`` with
        CONDSTORE), see :func:`tests.servers.dovecot.folder_status`."""
        with self.connect(user) as c:
            return folder_status(c)
