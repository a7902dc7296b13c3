"""What a server was seen to do wrong, remembered across runs (``servers.json``).

Two facts, each learned on the first connection that shows it and kept in
the state directory. Nothing secret is stored: host, port and security mode.

- :data:`LOSES_AFTER_LOGIN`: the server loses commands sent behind LOGIN
  (Courier's ``imaplogin`` hands the connection to ``imapd`` and drops the
  bytes it had not read yet). Later connections send LOGIN alone and never
  wait for answers that will not come.
- :data:`NO_UIDNEXT`: EXAMINE's answer lacks UIDNEXT (Courier). Later
  EXAMINEs are preceded by STATUS in the same write, so the UIDNEXT it gives
  was taken before the folder was searched: a lower bound that never skips
  a mail arriving meanwhile.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path

from watcher import paths
from watcher.config import ImapConfig

log = logging.getLogger(__name__)

FILE = "servers.json"
LOSES_AFTER_LOGIN = "loses_commands_after_login"
NO_UIDNEXT = "no_uidnext_in_examine"


class ServerNotes:
    """Facts per server, read once per process and written when one is learned."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._notes: dict[str, dict[str, bool]] | None = None
        self._read_from: Path | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path or paths.state_dir() / FILE

    def knows(self, imap: ImapConfig, fact: str) -> bool:
        return self._read().get(_key(imap), {}).get(fact, False)

    def note(self, imap: ImapConfig, fact: str) -> None:
        with self._lock:
            notes = self._read()
            if notes.get(_key(imap), {}).get(fact):
                return
            notes.setdefault(_key(imap), {})[fact] = True
            self._write(notes)

    def _read(self) -> dict[str, dict[str, bool]]:
        path = self.path
        if self._notes is None or self._read_from != path:  # the state directory moved (tests)
            self._read_from = path
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                loaded = {}  # none yet, or unreadable: learned again, at the cost of one wait
            self._notes = {
                str(k): {str(f): v for f, v in v.items() if isinstance(v, bool)}
                for k, v in (loaded.items() if isinstance(loaded, dict) else [])
                if isinstance(v, dict)
            }
        return self._notes

    def _write(self, notes: dict[str, dict[str, bool]]) -> None:
        target = self.path
        try:
            paths.ensure_private_dir(target.parent)
            fd, tmp = tempfile.mkstemp(prefix=".servers-", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(notes, f, indent=1, sort_keys=True)
            Path(tmp).replace(target)
        except OSError as e:  # kept in memory for this process; learned again next time
            log.warning("could not save what was learned about the server: %s", e.strerror)


def _key(imap: ImapConfig) -> str:
    return f"{imap.host.lower()}:{imap.port}:{imap.security}"


NOTES = ServerNotes()  # the process's own; tests point the state directory elsewhere
