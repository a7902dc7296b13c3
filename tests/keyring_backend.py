"""A file-backed keyring backend for tests only (never for users).

Selected with ``PYTHON_KEYRING_BACKEND=tests.keyring_backend.FileKeyring`` so
that subprocesses started by the tests share it; the file lives in the test's
temporary folder (``SECOP_WATCHER_TEST_KEYRING``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def _path(self) -> Path:
        return Path(os.environ["SECOP_WATCHER_TEST_KEYRING"])

    def _load(self) -> dict[str, str]:
        path = self._path()
        if not path.exists():
            return {}
        data: dict[str, str] = json.loads(path.read_text())
        return data

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\0{username}"] = password
        self._path().write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError(username)
        self._path().write_text(json.dumps(data))


class WindowsLimitKeyring(FileKeyring):
    """Windows Credential Manager's limit: a secret of at most 2,560 bytes, which keyring
    writes as UTF-16 (CRED_MAX_CREDENTIAL_BLOB_SIZE; keyring.backends.Windows)."""

    LIMIT = 2560

    def set_password(self, service: str, username: str, password: str) -> None:
        if len(password.encode("utf-16-le")) > self.LIMIT:
            raise OSError(1783, "CredWrite", "The stub received bad data.")
        super().set_password(service, username, password)
