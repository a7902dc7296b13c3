"""The small exception hierarchy that the command line turns into messages.

Every error a user can cause or meet is a ``UserError``: it carries a message
key (translated in :mod:`watcher.i18n`), the values to fill in, and the exit
code. The CLI shows it as one paragraph, never with a traceback. Anything that
is not a ``UserError`` is a bug and is reported as such.

Messages must never contain secrets: callers pass only what is safe to show
(host names, file paths, key names), never passwords or server replies that
might echo them.
"""

from __future__ import annotations

from typing import Any

from watcher.exitcodes import ExitCode


class UserError(Exception):
    """An error with a clear message and a fix, shown without a traceback."""

    exit_code: ExitCode = ExitCode.INTERNAL
    key: str = "error.internal"

    def __init__(self, key: str | None = None, **params: Any) -> None:
        if key is not None:
            self.key = key
        self.params = params
        super().__init__(f"{self.key} {params}")


class ConfigError(UserError):
    """The configuration file is missing or has problems (all listed at once)."""

    exit_code = ExitCode.CONFIG
    key = "error.config"

    def __init__(
        self, path: str, problems: list[tuple[str, str, dict[str, Any]]], key: str | None = None
    ) -> None:
        super().__init__(key, path=path, problems=problems)
        self.path = path
        self.problems = problems


class UsageError(UserError):
    exit_code = ExitCode.USAGE
    key = "error.usage"


class CredentialsError(UserError):
    exit_code = ExitCode.CREDENTIALS
    key = "error.credentials"


class AuthError(UserError):
    exit_code = ExitCode.AUTH
    key = "error.auth"


class ConnectionFailed(UserError):
    exit_code = ExitCode.CONNECTION
    key = "error.connection"


class TLSError(UserError):
    exit_code = ExitCode.TLS
    key = "error.tls"


class ProtocolError(UserError):
    exit_code = ExitCode.PROTOCOL
    key = "error.protocol"


class InputError(UserError):
    exit_code = ExitCode.INPUT
    key = "error.input"


class UnsupportedAccount(UserError):
    exit_code = ExitCode.UNSUPPORTED
    key = "error.unsupported"
