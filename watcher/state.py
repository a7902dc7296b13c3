"""What the watcher remembers between runs, shared safely by ``run`` and ``check-now``.

- per folder: UIDVALIDITY and the highest UID seen (the cursor for incremental checks);
- which links were already announced (by a hash of the link: the token itself is never
  written to disk), so a link is notified exactly once, across restarts;
- when the last check succeeded and the last error, for ``service status``.

Writes are atomic (temporary file, fsync, rename) under a file lock. A missing or
corrupt file is not an error: the state is rebuilt from the mailbox.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from watcher import paths

log = logging.getLogger(__name__)

STATE_FILE = "state.json"


def state_file(account: str = "") -> Path:
    """``state.json``, or ``state-NAME.json`` for the account ``[accounts.NAME]``."""
    return paths.state_dir() / (f"state-{account}.json" if account else STATE_FILE)


VERSION = 1
LOCK_TIMEOUT = 60.0


def link_key(url: str) -> str:
    """A stable, non-reversible name for a link (the token never reaches the disk)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]


@dataclass
class Cursor:
    uidvalidity: int
    highest_uid: int


@dataclass
class Announced:
    username: str | None
    received: str  # ISO 8601
    folder: str
    message_id: str | None
    announced_at: str


@dataclass
class State:
    folders: dict[str, Cursor] = field(default_factory=dict)
    announced: dict[str, Announced] = field(default_factory=dict)
    last_success: str | None = None
    last_error: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        if data.get("version") != VERSION:
            raise ValueError(f"state version {data.get('version')!r}")
        return cls(
            folders={k: Cursor(**v) for k, v in data.get("folders", {}).items()},
            announced={k: Announced(**v) for k, v in data.get("announced", {}).items()},
            last_success=data.get("last_success"),
            last_error=data.get("last_error"),
        )

    def record_success(self, now: datetime) -> None:
        self.last_success = now.isoformat(timespec="seconds")
        self.last_error = None

    def record_error(self, now: datetime, key: str, message: str) -> None:
        self.last_error = {"at": now.isoformat(timespec="seconds"), "key": key, "message": message}


class StateStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_file()
        from filelock import FileLock  # imported on first use: start-up stays fast

        self._lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT, mode=0o600)

    def read(self) -> State:
        """A snapshot, without the lock: writes are atomic renames, so a reader sees the
        old file or the new one, never half of one; ``service status`` and ``doctor``
        never wait for a service that holds the lock while it notifies."""
        return self._load()

    @contextmanager
    def update(self) -> Iterator[State]:
        """Hold the lock, yield the state, write it back atomically when the block ends."""
        paths.ensure_private_dir(self.path.parent)
        with self._lock:
            state = self._load()
            yield state
            self._save(state)

    def _load(self) -> State:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return State()
        except OSError as e:
            log.warning("state file %s unreadable (%s); starting afresh", self.path, e.strerror)
            return State()
        try:
            return State.from_json(json.loads(raw))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            log.warning(
                "state file %s is damaged (%s); rebuilding it from the mailbox",
                self.path,
                type(e).__name__,
            )
            return State()

    def _save(self, state: State) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(state.to_json(), f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
