"""A real, throwaway Dovecot 2.3 IMAP server for the tests (needs root).

Everything lives under one base directory (config, sockets, state, log, mail),
the listeners are on free loopback ports and stay the same across
``stop()``/``start()``, so a test can restart the server under a connected
client and keep the mail.

The helpers talk real IMAP (imapclient) over TLS, trusting the test CA.
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from imapclient import IMAPClient, imap_utf7

from tests.servers.certs import Certs, make_certs

SPAM_LAYOUTS = ("special-use", "names")
# "Correo no deseado" is plain ASCII, so the "names" layout also has this
# folder, whose name travels as modified UTF-7 ("Informaci&APM-n").
NON_ASCII_FOLDER = "Información"

# Dovecot 2.3.19's default post-login CAPABILITY, minus IDLE. Dovecot 2.3 has no
# syntax to *remove* one capability (``imap_capability`` either replaces the
# whole list or, with a leading ``+``, adds to it), so ``idle=False`` (and
# ``searchres=False``) replaces the list. Pre-login, imap-login uses the same
# list and appends STARTTLS, LOGINDISABLED and AUTH=... itself.
CAPABILITY_WITHOUT_IDLE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES"
    " THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN"
    " NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES"
    " WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW"
    " STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"
)

# Maildir info flags (must be written in ASCII order).
_MAILDIR_FLAGS = {
    b"\\Draft": "D",
    b"\\Flagged": "F",
    b"\\Answered": "R",
    b"\\Seen": "S",
    b"\\Deleted": "T",
}

_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]", re.IGNORECASE)

Snapshot = dict[str, list[tuple[int, tuple[bytes, ...], str]]]


def _dovecot_binary() -> str:
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin") or "dovecot"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


_PR_SET_CHILD_SUBREAPER = 36
# Dovecot considers loopback connections "secured" only when remote IP == local IP.
_UNTRUSTED_SOURCE_IP = "127.0.0.2"


def _become_subreaper() -> None:
    """Adopt the daemonized Dovecot processes so that we can reap them.

    ``dovecot`` forks into the background; when its master exits, the zombie
    belongs to whoever adopted it, and a container's PID 1 may never reap it
    (``pgrep dovecot`` would keep listing it). As a child subreaper, the test
    process adopts the orphans and ``stop()`` reaps exactly those PIDs.
    """
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap(pids: Iterable[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def _alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie (our PID 1 may not reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def _descendants(pid: int) -> set[int]:
    """All live descendants of ``pid`` (found through /proc ppid links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Relay:
    """Forward ``host:listen_port`` to ``host:target_port`` from another source IP.

    Dovecot treats a connection whose remote IP equals its local IP as
    "secured" and then allows plaintext LOGIN without STARTTLS (no
    LOGINDISABLED), whatever ``disable_plaintext_auth``/``ssl`` say. Loopback
    clients always hit that rule, so the STARTTLS port is this relay: it
    connects to Dovecot from ``127.0.0.2``, which Dovecot does not trust. It
    only copies bytes (STARTTLS and TLS happen end to end through it).
    """

    def __init__(self, host: str, listen_port: int, target_port: int, source_ip: str) -> None:
        self.host = host
        self.listen_port = listen_port
        self.target_port = target_port
        self.source_ip = source_ip
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.listen_port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        self._stopping.clear()
        t = threading.Thread(target=self._accept_loop, name="dovecot-relay", daemon=True)
        t.start()
        self._threads = [t]

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                upstream.bind((self.source_ip, 0))
                upstream.connect((self.host, self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._stopping.is_set():
                    client.close()
                    upstream.close()
                    return
                self._socks |= {client, upstream}
                for src, dst in ((client, upstream), (upstream, client)):
                    t = threading.Thread(target=self._pump, args=(src, dst), daemon=True)
                    t.start()
                    self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (dst, src):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            for sock in (src, dst):
                if sock in self._socks:
                    self._socks.discard(sock)
                    sock.close()

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._socks:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []


# --- shared by every test server (Dovecot here, Cyrus and Courier in tests/servers/chroot.py)


@contextlib.contextmanager
def logged_in(client: IMAPClient, user: str, password: str) -> Iterator[IMAPClient]:
    """``client`` logged in as ``user``; logged out and shut down afterwards."""
    try:
        client.login(user, password)
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.logout()
        with contextlib.suppress(Exception):
            client.shutdown()


def append_uid(
    client: IMAPClient,
    folder: str,
    raw: bytes,
    *,
    flags: Iterable[bytes | str] = (),
    date: datetime | None = None,
    error: type[Exception] = RuntimeError,
) -> int:
    """APPEND ``raw`` to ``folder``; the new UID (from APPENDUID), else ``error``."""
    resp = client.append(folder, raw, flags=tuple(flags), msg_time=date)
    if isinstance(resp, str):
        resp = resp.encode()
    m = _APPENDUID.search(resp)
    if not m:
        raise error(f"no APPENDUID in APPEND response: {resp!r}")
    return int(m.group(1))


def _selectable(flags: Iterable[bytes]) -> bool:
    lowered = {f.lower() for f in flags}
    return not lowered & {b"\\noselect", b"\\nonexistent"}


def read_snapshot(client: IMAPClient) -> Snapshot:
    """Every selectable folder → sorted ``(uid, sorted flags, sha256 of message)``.

    EXAMINE and ``FETCH (FLAGS BODY.PEEK[])`` only; ``\\Recent`` is left out.
    """
    out: Snapshot = {}
    for flags, _sep, name in client.list_folders():
        if not _selectable(flags):
            continue
        client.select_folder(name, readonly=True)
        rows: list[tuple[int, tuple[bytes, ...], str]] = []
        uids = sorted(client.search("ALL"))
        for i in range(0, len(uids), 500):
            data: dict[int, dict[bytes, Any]] = client.fetch(
                uids[i : i + 500], ["FLAGS", "BODY.PEEK[]"]
            )
            for uid, item in data.items():
                msg_flags = tuple(sorted(f for f in item[b"FLAGS"] if f.lower() != b"\\recent"))
                rows.append((int(uid), msg_flags, _sha256(item[b"BODY[]"])))
        out[name] = sorted(rows)
    return out


def folder_status(client: IMAPClient) -> dict[str, dict[str, int]]:
    """Folder → ``MESSAGES``, ``UIDNEXT``, ``UIDVALIDITY`` (STATUS, nothing selected),
    ``HIGHESTMODSEQ`` when the server has CONDSTORE (it moves on every flag change,
    even one no FETCH shows), and ``EXISTS`` (EXAMINE, which must agree)."""
    condstore = b"CONDSTORE" in {c.upper() for c in client.capabilities()}
    items = [b"MESSAGES", b"UIDNEXT", b"UIDVALIDITY", *([b"HIGHESTMODSEQ"] if condstore else [])]
    names = [name for flags, _sep, name in client.list_folders() if _selectable(flags)]
    out = {
        name: {k.decode(): int(v) for k, v in client.folder_status(name, items).items()}
        for name in names
    }
    for name in names:
        out[name]["EXISTS"] = int(client.select_folder(name, readonly=True)[b"EXISTS"])
    return out


class DovecotError(RuntimeError):
    pass


class Dovecot:
    """One Dovecot instance rooted at ``base``.

    ``spam_layout``:
      * ``"special-use"``: INBOX, ``Spam`` (``\\Junk``), ``Sent`` (``\\Sent``),
        ``Trash`` (``\\Trash``);
      * ``"names"``: no special-use at all; ``Correo no deseado``, ``[Gmail]/Spam``,
        ``Archivo`` and ``Información`` (non-ASCII, mUTF-7 on the wire) exist.

    ``extra_folders``: more folders (``auto = create``, no special-use).

    ``cert``: one of ``"good"``, ``"selfsigned"``, ``"wronghost"``, ``"expired"``.
    ``idle=False`` removes IDLE from CAPABILITY (the command itself still works).
    Ports (all on ``host`` = 127.0.0.1, fixed for the object's lifetime):

    * ``port_ssl``: implicit TLS (``None`` with ``no_tls``);
    * ``port_starttls``: plain, advertises STARTTLS and LOGINDISABLED; LOGIN
      works only after STARTTLS (a relay makes Dovecot see the client as
      127.0.0.2, see :class:`_Relay`);
    * ``port_plain``: Dovecot's own plain listener. Loopback clients reaching it
      directly count as "secured" for Dovecot, so plaintext LOGIN works there
      without STARTTLS; use ``port_starttls`` to test STARTTLS.

    ``no_tls=True`` runs with ``ssl = no``: one plain listener (``port_plain``,
    which is also ``port_starttls``) that does not offer STARTTLS and allows
    plaintext LOGIN; ``port_ssl`` is then ``None``.

    ``oauth2_introspection_url`` (e.g. :attr:`OAuthServer.introspection_url
    <tests.servers.oauthserver.OAuthServer.introspection_url>`) also offers
    XOAUTH2 and OAUTHBEARER: an ``oauth2`` passdb POSTs each bearer token to
    that RFC 7662 endpoint and accepts it when the answer is ``"active": true``
    with ``"username"`` equal to the login name. Passwords (PLAIN/LOGIN) still
    go to the passwd-file only, tokens to the introspection only, and nothing
    is cached: a revoked token fails at the next login.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        base: Path,
        users: Mapping[str, str],
        *,
        spam_layout: str = "special-use",
        cert: str = "good",
        idle: bool = True,
        searchres: bool = True,
        idle_notify_seconds: int | None = None,
        no_tls: bool = False,
        extra_folders: Iterable[str] = (),
        certs: Certs | None = None,
        start_timeout: float = 10.0,
        oauth2_introspection_url: str | None = None,
        oauth2_mechanisms: str = "xoauth2 oauthbearer",
    ) -> None:
        if spam_layout not in SPAM_LAYOUTS:
            raise ValueError(f"spam_layout must be one of {SPAM_LAYOUTS}, not {spam_layout!r}")
        for name, password in users.items():
            if not name or any(c in name for c in ":/ \n") or any(c in password for c in ":\n"):
                raise ValueError(f"unsupported user/password for passwd-file: {name!r}")
        self.base = Path(base).resolve()
        self.users = dict(users)
        self.spam_layout = spam_layout
        self.cert = cert
        self.idle = idle
        self.searchres = searchres
        self.idle_notify_seconds = idle_notify_seconds
        self.no_tls = no_tls
        self.extra_folders = tuple(extra_folders)
        self.oauth2_introspection_url = oauth2_introspection_url
        self.oauth2_mechanisms = oauth2_mechanisms  # e.g. "xoauth2" alone, like Outlook
        self.start_timeout = start_timeout
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)
        self._check_traversable(self.base)
        self.certs = certs if certs is not None else make_certs(self.base / "certs")
        self.ca_file = self.certs.ca
        self.cert_file, self.key_file = self.certs.server(cert)

        self.run_dir = self.base / "run"
        self.state_dir = self.base / "state"
        self.mail_dir = self.base / "mail"
        self.conf_path = self.base / "dovecot.conf"
        self.passwd_path = self.base / "passwd"
        self.oauth2_conf_path = self.base / "dovecot-oauth2.conf.ext"
        self.log_path = self.base / "dovecot.log"
        self.stderr_path = self.base / "dovecot.stderr"
        self.pid_path = self.run_dir / "master.pid"

        self.port_plain = free_port(self.host)
        self.port_ssl: int | None = None if no_tls else free_port(self.host)
        self._relay = (
            None
            if no_tls
            else _Relay(self.host, free_port(self.host), self.port_plain, _UNTRUSTED_SOURCE_IP)
        )
        self._pid: int | None = None
        self._uid = pwd.getpwnam("dovecot").pw_uid
        self._gid = grp.getgrnam("dovecot").gr_gid
        self._seq = 0
        self._write_files()

    # ------------------------------------------------------------------ config
    @property
    def port_starttls(self) -> int:
        """Plain port offering STARTTLS, with LOGINDISABLED until STARTTLS is done.

        With ``no_tls`` it is the plain listener (no STARTTLS, LOGIN allowed).
        """
        return self.port_plain if self._relay is None else self._relay.listen_port

    @property
    def running(self) -> bool:
        return self._pid is not None and _alive(self._pid)

    def password(self, user: str) -> str:
        return self.users[user]

    @staticmethod
    def _check_traversable(path: Path) -> None:
        for p in [path, *path.parents]:
            if not p.stat().st_mode & 0o001:
                raise DovecotError(
                    f"{p} is not traversable by other users (mode {p.stat().st_mode & 0o777:o});"
                    " Dovecot's unprivileged processes need to reach the base directory"
                )

    def _mailboxes_conf(self) -> str:
        if self.spam_layout == "special-use":
            boxes = [("Spam", "\\Junk"), ("Sent", "\\Sent"), ("Trash", "\\Trash")]
        else:
            boxes = [
                ("Correo no deseado", ""),
                ("[Gmail]/Spam", ""),
                ("Archivo", ""),
                (NON_ASCII_FOLDER, ""),
            ]
        boxes += [(name, "") for name in self.extra_folders]
        out = []
        for name, special in boxes:
            out.append(f"  mailbox {_quote(name)} {{")
            out.append("    auto = create")
            if special:
                out.append(f"    special_use = {special}")
            out.append("  }")
        return "\n".join(out)

    def _passdb_conf(self) -> str:
        passwd = (
            "passdb {\n  driver = passwd-file\n"
            f"  args = scheme=PLAIN username_format=%u {self.passwd_path}\n"
        )
        if self.oauth2_introspection_url is None:
            return passwd + "}"
        # Each passdb only for its mechanisms: otherwise Dovecot would also try
        # a bearer token as a password and POST passwords to the introspection.
        return (
            passwd
            + "  mechanisms = plain login\n}\n"
            + f"passdb {{\n  driver = oauth2\n  mechanisms = {self.oauth2_mechanisms}\n"
            + f"  args = {self.oauth2_conf_path}\n}}"
        )

    def _penalty_conf(self) -> str:
        """With OAuth2, no growing delay after failed logins.

        Dovecot's anvil delays every authentication from an IP after a failure
        (2, 4, 8, then 15 s), even one with a good token. Revoked and expired
        tokens are the point of the OAuth2 tests, so the penalty is switched
        off the documented way (auth cannot reach anvil's penalty socket).
        Putting 127.0.0.1 in ``login_trusted_networks`` does not help in
        2.3.19: imap-login still sends no ``no-penalty`` to auth.
        """
        if self.oauth2_introspection_url is None:
            return ""
        return "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n"

    def _oauth2_conf(self) -> str:
        """The ``oauth2`` passdb's settings (RFC 7662 introspection by POST)."""
        return (
            "# Generated by tests/servers/dovecot.py\n"
            f"introspection_url = {self.oauth2_introspection_url}\n"
            "introspection_mode = post\n"
            # Without a tokeninfo_url there is nothing else to check the token with,
            # and active_attribute is only read from the introspection answer.
            "force_introspection = yes\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
            "timeout_msecs = 10000\n"
        )

    def _conf(self) -> str:
        if self.no_tls:
            ssl_conf = "ssl = no\ndisable_plaintext_auth = no\n"
            listeners = (
                f"  inet_listener imap {{\n    address = {self.host}\n"
                f"    port = {self.port_plain}\n  }}\n"
                "  inet_listener imaps {\n    port = 0\n  }\n"
            )
        else:
            dh = Path("/usr/share/dovecot/dh.pem")
            ssl_conf = (
                "ssl = yes\n"
                "disable_plaintext_auth = yes\n"
                f"ssl_cert = <{self.cert_file}\n"
                f"ssl_key = <{self.key_file}\n"
                + (f"ssl_dh = <{dh}\n" if dh.exists() else "")
                + "ssl_min_protocol = TLSv1.2\n"
            )
            listeners = (
                f"  inet_listener imap {{\n    address = {self.host}\n"
                f"    port = {self.port_plain}\n  }}\n"
                f"  inet_listener imaps {{\n    address = {self.host}\n"
                f"    port = {self.port_ssl}\n    ssl = yes\n  }}\n"
            )
        capability = ""
        if not (self.idle and self.searchres):  # advertised only: Dovecot still supports them
            caps = CAPABILITY_WITHOUT_IDLE + (" IDLE" if self.idle else "")
            if not self.searchres:  # like Gmail and Microsoft 365
                caps = caps.replace(" SEARCHRES", "")
            capability = f"imap_capability = {caps}\n"
        if self.idle_notify_seconds is not None:  # "* OK Still here" this often (default 2 min)
            capability += f"imap_idle_notify_interval = {self.idle_notify_seconds} secs\n"
        return f"""# Generated by tests/servers/dovecot.py
protocols = imap
listen = {self.host}
base_dir = {self.run_dir}
state_dir = {self.state_dir}
log_path = {self.log_path}
info_log_path = {self.log_path}
instance_name = secop-test-{self.port_plain}
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{self.mail_dir}/%u/Maildir:LAYOUT=fs
mail_fsync = never
mail_max_userip_connections = 100
auth_mechanisms = plain login{" " + self.oauth2_mechanisms if self.oauth2_introspection_url else ""}
auth_failure_delay = 0
auth_cache_size = 0
shutdown_clients = yes
{ssl_conf}{capability}{self._penalty_conf()}
{self._passdb_conf()}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={self.mail_dir}/%u
}}

namespace inbox {{
  inbox = yes
  separator = /
{self._mailboxes_conf()}
}}

service imap-login {{
{listeners}}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0600
  }}
}}
"""

    def _write_files(self) -> None:
        for d in (self.run_dir, self.state_dir):
            d.mkdir(exist_ok=True)
            d.chmod(0o755)
        self.mail_dir.mkdir(exist_ok=True)
        os.chown(self.mail_dir, self._uid, self._gid)
        self.mail_dir.chmod(0o750)
        self.passwd_path.write_text(
            "".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in self.users.items())
        )
        os.chown(self.passwd_path, 0, self._gid)
        self.passwd_path.chmod(0o640)
        self.conf_path.write_text(self._conf())
        self.conf_path.chmod(0o644)
        if self.oauth2_introspection_url is not None:
            self.oauth2_conf_path.write_text(self._oauth2_conf())
            self.oauth2_conf_path.chmod(0o644)

    # --------------------------------------------------------------- lifecycle
    def _logs(self) -> str:
        parts = []
        for p in (self.stderr_path, self.log_path):
            if p.exists():
                parts.append(f"--- {p.name} ---\n{p.read_text(errors='replace')[-8000:]}")
        return "\n".join(parts)

    def _greets(self) -> bool:
        port = self.port_plain if self.port_ssl is None else self.port_ssl
        try:
            with socket.create_connection((self.host, port), timeout=2) as raw:
                sock: socket.socket = raw
                if self.port_ssl is not None:
                    ctx = ssl.create_default_context()
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                    sock = ctx.wrap_socket(raw, server_hostname=self.host)
                greeting = sock.recv(4096)
                return greeting.startswith(b"* OK")
        except (OSError, ssl.SSLError):
            return False

    def start(self) -> Dovecot:
        if self.running:
            return self
        _become_subreaper()
        self.pid_path.unlink(missing_ok=True)
        with self.stderr_path.open("ab") as err:
            proc = subprocess.run(
                [_dovecot_binary(), "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                check=False,
            )
        if proc.returncode != 0:
            raise DovecotError(f"dovecot exited with {proc.returncode}\n{self._logs()}")
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._pid is None and self.pid_path.exists():
                with contextlib.suppress(ValueError):
                    self._pid = int(self.pid_path.read_text().strip())
            if self._pid is not None and self._greets():
                if self._relay is not None:
                    self._relay.start()
                return self
            time.sleep(0.05)
        self.stop()
        raise DovecotError(
            f"dovecot did not greet on {self.host}:{self.port_ssl or self.port_plain} within "
            f"{self.start_timeout} s\n{self._logs()}"
        )

    def stop(self, *, graceful: bool = True, timeout: float = 10.0) -> None:
        """SIGTERM the master, then whatever it leaves behind; wait for the ports.

        The master kills the mail (``imap``) processes (clients get
        ``* BYE Server shutting down.``), but Dovecot deliberately lets login
        processes keep proxying their established TLS connections (and
        log/auth/anvil serve them) after the master is gone; those get a SIGTERM
        once the master has exited, so a stopped server really is gone. The
        master needs about 1 s for this. ``graceful=False`` SIGTERMs every
        process at once (~0.1 s; clients just see the connection close); the
        fixtures use it for teardown.
        """
        pid, self._pid = self._pid, None
        if self._relay is not None:
            self._relay.stop()
        if pid is None:
            return
        deadline = time.monotonic() + timeout
        procs = {pid, *_descendants(pid)}
        for p in [pid, *procs - {pid}] if not graceful else [pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGTERM)
        while time.monotonic() < deadline:
            procs |= _descendants(pid)
            _reap(procs)
            if not _alive(pid):
                break
            time.sleep(0.02)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for p in procs:
                if _alive(p):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p, sig)
            until = min(deadline, time.monotonic() + timeout / 2)
            while time.monotonic() < until:
                _reap(procs)
                if not any(_alive(p) for p in procs):
                    break
                time.sleep(0.02)
        _reap(procs)
        ports = [p for p in (self.port_plain, self.port_ssl, self.port_starttls) if p is not None]
        until = time.monotonic() + 2
        while time.monotonic() < until and not all(_port_is_free(self.host, p) for p in ports):
            time.sleep(0.02)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- clients
    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting the test CA (unverified for bad cert kinds)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        if self.cert != "good":
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def client(self, *, timeout: float = 30.0) -> IMAPClient:
        """A connected, not yet authenticated IMAPClient (implicit TLS, or plain when
        ``no_tls``); the caller logs in (e.g. ``oauth2_login``) and logs out."""
        if self.port_ssl is not None:
            return IMAPClient(
                self.host, self.port_ssl, ssl=True, ssl_context=self.ssl_context(), timeout=timeout
            )
        return IMAPClient(self.host, self.port_plain, ssl=False, timeout=timeout)

    def connect(
        self, user: str, *, timeout: float = 30.0
    ) -> contextlib.AbstractContextManager[IMAPClient]:
        """A logged-in IMAPClient (implicit TLS, or plain when ``no_tls``)."""
        return logged_in(self.client(timeout=timeout), user, self.users[user])

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
            return append_uid(c, folder, raw, flags=flags, date=date, error=DovecotError)

    def create_folder(self, user: str, name: str) -> None:
        with self.connect(user) as c:
            c.create_folder(name)

    def list_folders(self, user: str) -> list[tuple[tuple[bytes, ...], str]]:
        """LIST "" "*" as ``(flags, decoded name)``."""
        with self.connect(user) as c:
            return [(tuple(flags), name) for flags, _sep, name in c.list_folders()]

    def snapshot(self, user: str) -> Snapshot:
        """Every selectable folder → sorted ``(uid, sorted flags, sha256 of message)``.

        Read-only: EXAMINE and BODY.PEEK[] only; ``\\Recent`` is left out.
        """
        with self.connect(user) as c:
            return read_snapshot(c)

    def folder_status(self, user: str) -> dict[str, dict[str, int]]:
        """See :func:`folder_status` (a fresh connection)."""
        with self.connect(user) as c:
            return folder_status(c)

    def add_user(self, user: str, password: str) -> None:
        """One more user (its mail folders appear at its first login); no restart.

        The auth process looks at the passwd-file's stamp at most once a second
        (``ioloop_time``), so this waits for the next second before it returns. (A
        login that failed meanwhile would cost more: anvil's penalty delays every
        later login from 127.0.0.1 by 2 s and more.)
        """
        if user in self.users or not user.isalnum() or ":" in password or "\n" in password:
            raise ValueError(f"unsupported or existing user: {user!r}")
        self.users[user] = password
        self._write_files()
        time.sleep(1.05 - time.time() % 1)

    def restart(self, graceful: bool = True) -> None:
        """Stop and start again on the same ports with the same mail.

        ``graceful``: :meth:`stop` (SIGTERM to the master, which says BYE to its
        clients). Otherwise SIGKILL to the master and every process at once (a crash:
        nobody says goodbye), then the same clean-up and start.
        """
        if not graceful and self._pid is not None:
            procs = {self._pid, *_descendants(self._pid)}
            for p in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)
            until = time.monotonic() + 5
            while any(_alive(p) for p in procs) and time.monotonic() < until:
                time.sleep(0.02)
            _reap(procs)  # orphans came to us, the subreaper
        self.stop(graceful=graceful)
        self.start()

    def count(self, user: str, folder: str) -> int:
        """Number of messages SEARCH ALL finds in ``folder`` (read-only)."""
        with self.connect(user) as c:
            c.select_folder(folder, readonly=True)
            return len(c.search("ALL"))

    # ----------------------------------------------------------------- maildir
    def maildir_root(self, user: str) -> Path:
        return self.mail_dir / user / "Maildir"

    def folder_path(self, user: str, folder: str) -> Path:
        """The Maildir directory of an IMAP folder (LAYOUT=fs, names in mUTF-7)."""
        root = self.maildir_root(user)
        if folder.upper() == "INBOX":
            return root
        encoded = imap_utf7.encode(folder).decode("ascii")
        return root.joinpath(*encoded.split("/"))

    def maildir_snapshot(self, user: str) -> dict[str, str]:
        """Every message file in ``cur/`` and ``new/`` → sha256 of its contents.

        Keys are paths relative to the user's Maildir, including the ``:2,FLAGS``
        suffix; Dovecot's own index/uidlist/keyword files are ignored.
        """
        root = self.maildir_root(user)
        out: dict[str, str] = {}
        if not root.exists():
            return out
        for dirpath, _dirnames, filenames in os.walk(root):
            d = Path(dirpath)
            if d.name not in ("cur", "new"):
                continue
            for fn in filenames:
                if fn.startswith("dovecot"):
                    continue
                p = d / fn
                out[str(p.relative_to(root))] = _sha256(p.read_bytes())
        return out

    def _ensure_maildir(self, path: Path) -> None:
        root = self.mail_dir
        rel = path.relative_to(root)
        cur = root
        for part in rel.parts:
            cur = cur / part
            if not cur.exists():
                cur.mkdir(mode=0o700)
                os.chown(cur, self._uid, self._gid)
        for sub in ("cur", "new", "tmp"):
            d = path / sub
            if not d.exists():
                d.mkdir(mode=0o700)
                os.chown(d, self._uid, self._gid)

    def fill_maildir(
        self,
        user: str,
        folder: str,
        messages: list[tuple[bytes, datetime]],
        *,
        flags: Iterable[bytes | str] = (),
        verify: bool = True,
    ) -> int:
        """Write messages straight into ``folder``'s ``cur/`` (fast, for bulk data).

        File names are ``<time>.M<n>P<pid>.<host>:2,<flags>``, mtime = the date
        (Dovecot's INTERNALDATE). ``flags`` (IMAP system flags) apply to all.
        With ``verify`` (default), a SEARCH ALL afterwards must see them all;
        returns the folder's message count as Dovecot reports it (or -1).
        """
        path = self.folder_path(user, folder)
        self._ensure_maildir(path)
        before = self.count(user, folder) if verify and self.running else None
        wanted = {f.encode() if isinstance(f, str) else f for f in flags}
        unknown = wanted - set(_MAILDIR_FLAGS)
        if unknown:
            raise ValueError(f"only system flags can be written to a maildir: {unknown}")
        info = "".join(sorted(_MAILDIR_FLAGS[f] for f in wanted))
        tmp, cur = path / "tmp", path / "cur"
        pid, host = os.getpid(), "secoptest"
        uid, gid = self._uid, self._gid
        for raw, date in messages:
            self._seq += 1
            ts = int(date.timestamp())
            name = f"{ts}.M{self._seq}P{pid}.{host}"
            tmp_file = tmp / name
            with open(tmp_file, "wb") as fh:
                fh.write(raw)
            os.chown(tmp_file, uid, gid)
            os.utime(tmp_file, (ts, ts))
            tmp_file.rename(cur / f"{name}:2,{info}")
        if not verify or not self.running:
            return -1
        after = self.count(user, folder)
        if before is not None and after != before + len(messages):
            raise DovecotError(
                f"Dovecot sees {after} messages in {folder!r}, expected {before + len(messages)}"
            )
        return after
