"""A real, throwaway Courier IMAP 5.0 (Debian ``courier-imap``) in a cached chroot (root).

Layout: Maildir++, ``.`` separator, ``INBOX`` and ``INBOX.Spam`` (the
``.Spam`` Maildir) with no special-use at all (Courier has no SPECIAL-USE).
Users come from ``authuserdb`` (``/etc/courier/userdb`` + ``makeuserdb``)
through ``authdaemond``; both paths are compiled in, so one Courier runs per
chroot at a time: ``start`` takes an ``flock`` (waiting up to
``lock_timeout``) that ``stop`` releases.

Processes, all in the foreground and killed by ``stop``: ``authdaemond``,
``couriertcpd … imaplogin imapd`` on ``port_starttls`` (STARTTLS required,
``LOGINDISABLED`` until then) and ``couriertcpd … couriertls -server -tcpd
imaplogin imapd`` on ``port_ssl``.

Known differences from Dovecot: no ``[UIDNEXT]`` in SELECT/EXAMINE; a wrong
password is refused after a fixed 5 s delay; ``imaplogin`` drops bytes sent
after LOGIN before its answer; IDLE polls every 60 s
(``IMAP_ENHANCEDIDLE=0``, Debian's default).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import time
from collections.abc import Mapping
from typing import Any

from tests.servers.certs import Certs
from tests.servers.chroot import Chroot, ChrootError, ChrootServer, ChrootSpec, ensure, flock

SPEC = ChrootSpec(
    name="courier",
    packages=("courier-imap", "ca-certificates"),
    recipe="1",
    setup=(
        (
            "sed",
            "-i",
            "-e",
            's/^authmodulelist=.*/authmodulelist="authuserdb"/',
            "-e",
            "s/^daemons=.*/daemons=2/",
            "/etc/courier/authdaemonrc",
        ),
    ),
)
CAPABILITY = (
    "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE"
)


def build(**kwargs: Any) -> Chroot:
    """The cached Courier chroot (built on first use, a minute or two)."""
    return ensure(SPEC, **kwargs)


class Courier(ChrootServer):
    product = "Courier IMAP"
    prefix = "courier"

    def __init__(
        self,
        chroot: Chroot,
        users: Mapping[str, str],
        *,
        certs: Certs,
        lock_timeout: float = 300.0,
        enhanced_idle: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(chroot, users, certs=certs, **kwargs)
        self.lock_timeout = lock_timeout
        self.enhanced_idle = enhanced_idle
        self.uid = chroot.uid("courier")
        self.gid = chroot.gid("courier")
        self._lock: contextlib.ExitStack | None = None

    def _acquire(self) -> None:
        self._lock = contextlib.ExitStack()
        lock = self.chroot.host_path("/run/secop-courier.lock")
        self._lock.enter_context(flock(lock, self.lock_timeout))

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def maildir(self, user: str, folder: str = "INBOX") -> str:
        """The Maildir (path inside the chroot) of ``folder`` (``INBOX`` or ``INBOX.X``)."""
        root = f"{self.inside}/{user}/Maildir"
        return root if folder == "INBOX" else f"{root}/.{folder.removeprefix('INBOX.')}"

    def _prepare(self) -> None:
        self._acquire()
        for user in self.users:
            self._make_maildirs(user)
        pem = self.base / "imapd.pem"
        pem.write_bytes(self.key_file.read_bytes() + self.cert_file.read_bytes())
        pem.chmod(0o600)
        self.chroot.run(["chown", "-R", "courier:courier", self.inside])
        self._write_userdb()
        sockdir = self.chroot.host_path("/run/courier/authdaemon")
        sockdir.mkdir(parents=True, exist_ok=True)
        (sockdir / "socket").unlink(missing_ok=True)  # a stale one from an earlier run

    def _make_maildirs(self, user: str) -> None:
        home = self.base / user
        if not home.exists():
            home.mkdir()
            self.chroot.run(["maildirmake", self.maildir(user)])
            self.chroot.run(["maildirmake", "-f", "Spam", self.maildir(user)])

    def _write_userdb(self) -> None:
        lines = []
        for user, password in self.users.items():
            digest = base64.b64encode(hashlib.sha256(password.encode()).digest()).decode()
            inside_home = f"{self.inside}/{user}"
            lines.append(
                f"{user}\tuid={self.uid}|gid={self.gid}|home={inside_home}"
                f"|mail={self.maildir(user)}|systempw={{SHA256}}{digest}\n"
            )
        userdb = self.chroot.host_path("/etc/courier/userdb")
        userdb.unlink(missing_ok=True)
        userdb.touch(mode=0o600)
        userdb.write_text("".join(lines))
        self.chroot.run(["makeuserdb"])

    def add_user(self, user: str, password: str) -> None:
        """A new user (Maildir with ``.Spam``) on the running server: authdaemond reads
        the rebuilt ``userdb.dat`` at the next login, no restart."""
        if user in self.users or not user.isalnum():
            raise ValueError(f"unsupported or existing user: {user!r}")
        self.users[user] = password
        self._make_maildirs(user)
        self.chroot.run(["chown", "-R", "courier:courier", f"{self.inside}/{user}"])
        self._write_userdb()

    def maildir_snapshot(self, user: str) -> dict[str, str]:
        """Every message file in ``cur/`` and ``new/`` of the user's Maildir++ →
        sha256 of its contents. Keys are paths relative to the Maildir with the
        ``:2,FLAGS`` suffix, where Courier keeps the system flags (keywords are in
        ``courierimapkeywords/``, whose files are included as they are)."""
        root = self.chroot.host_path(self.maildir(user))
        out: dict[str, str] = {}
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            in_msgdir = path.parent.name in ("cur", "new")
            in_keywords = "courierimapkeywords" in rel.parts
            if path.is_file() and (in_msgdir or in_keywords):
                out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
        return out

    def _after_start(self) -> None:
        socket_path = self.chroot.host_path("/run/courier/authdaemon/socket")
        deadline = time.monotonic() + self.start_timeout
        while not socket_path.exists():
            if time.monotonic() > deadline:
                raise ChrootError(f"authdaemond made no {socket_path}\n{self.logs()}")
            time.sleep(0.05)

    def _env(self, tls: bool) -> list[str]:
        env = {
            "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
            "IMAP_CAPABILITY": CAPABILITY,
            "IMAP_CAPABILITY_TLS": CAPABILITY + " AUTH=PLAIN",
            "IMAP_KEYWORDS": "1",
            "IMAP_ACL": "1",
            "IMAP_IDLE_TIMEOUT": "60",
            "IMAP_ENHANCEDIDLE": "1" if self.enhanced_idle else "0",
            "IMAP_USELOCKS": "1",
            "IMAP_UMASK": "022",
            "IMAP_MAILBOX_SANITY_CHECK": "1",
            "COURIERTLS": "/usr/bin/couriertls",
            "TLS_CERTFILE": f"{self.inside}/imapd.pem",
            "TLS_VERIFYPEER": "NONE",
        }
        if tls:
            env["IMAP_TLS"] = "1"
        else:
            env["IMAP_STARTTLS"] = "YES"
            env["IMAP_TLS_REQUIRED"] = "1"
        return ["env", "-i", *(f"{k}={v}" for k, v in env.items())]

    def _launch(self) -> None:
        tcpd = [
            "/usr/sbin/couriertcpd",
            f"-address={self.host}",
            "-maxprocs=40",
            "-maxperip=40",
            "-nodnslookup",
            "-noidentlookup",
        ]
        login = ["/usr/lib/courier/courier/imaplogin", "/usr/bin/imapd", "Maildir"]
        with self.log_path.open("ab") as log:
            for argv in (
                ["env", "-i", "/usr/lib/courier/courier-authlib/authdaemond"],
                [*self._env(tls=False), *tcpd, str(self.port_starttls), *login],
                [
                    *self._env(tls=True),
                    *tcpd,
                    str(self.port_ssl),
                    "/usr/bin/couriertls",
                    "-server",
                    "-tcpd",
                    *login,
                ],
            ):
                self._procs.append(self.chroot.popen(argv, stdout=log, stderr=log))
