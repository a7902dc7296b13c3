"""The ``[notify] command`` hook: a program run for each new link and suspicious mail."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from watcher.commandline import Argv
from watcher.model import Link, Suspicious

log = logging.getLogger("watcher.notify")

COMMAND_TIMEOUT_SECONDS = 30.0

# Environment of the [notify] command.
ENV_EVENT = "SECOP_WATCHER_EVENT"
ENV_URL = "SECOP_WATCHER_URL"
ENV_USERNAME = "SECOP_WATCHER_USERNAME"
ENV_FOLDER = "SECOP_WATCHER_FOLDER"
ENV_RECEIVED = "SECOP_WATCHER_RECEIVED"
ENV_MESSAGE_ID = "SECOP_WATCHER_MESSAGE_ID"
ENV_EXPIRES = "SECOP_WATCHER_EXPIRES"
ENV_SENDER = "SECOP_WATCHER_SENDER"
ENV_REASONS = "SECOP_WATCHER_REASONS"
ENV_LANG = "SECOP_WATCHER_LANG"
ENV_ACCOUNT = "SECOP_WATCHER_ACCOUNT"  # [accounts.NAME]; "" for the [imap] form
EVENT_VARS = (
    ENV_EVENT,
    ENV_URL,
    ENV_USERNAME,
    ENV_FOLDER,
    ENV_RECEIVED,
    ENV_MESSAGE_ID,
    ENV_EXPIRES,
    ENV_SENDER,
    ENV_REASONS,
    ENV_LANG,
    ENV_ACCOUNT,
)
# Never handed to the hook: the IMAP password.
HIDDEN_VARS = ("SECOP_WATCHER_PASSWORD",)


class CommandHook:
    """Runs ``[notify] command`` for each new link and each suspicious mail.

    The command is a list of arguments (:mod:`watcher.commandline`), run
    without a shell; the details travel only in environment variables (``SECOP_WATCHER_*``),
    never in the command line. Output is discarded, failures are logged with
    the program's name and exit code only, and nothing is raised.
    """

    def __init__(
        self, command: Argv, *, timeout: float = COMMAND_TIMEOUT_SECONDS, account: str = ""
    ) -> None:
        self._timeout = timeout
        self._account = account
        self._argv = list(command)
        if not self._argv:
            log.warning("[notify] command is empty; it will not run")
        self._program = Path(self._argv[0]).name if self._argv else ""

    def announce(self, link: Link, *, lang: str, expires_at: datetime) -> str | None:
        self._run(
            {
                ENV_EVENT: "link",
                ENV_URL: link.url or "",
                ENV_USERNAME: link.username or "",
                ENV_FOLDER: link.folder,
                ENV_RECEIVED: link.received.isoformat(),
                ENV_MESSAGE_ID: link.message_id or "",
                ENV_EXPIRES: expires_at.isoformat(),
                ENV_LANG: lang,
                ENV_ACCOUNT: self._account,
            }
        )
        return None

    def warn(self, suspicious: Suspicious, *, lang: str) -> str | None:
        # No SECOP_WATCHER_URL on purpose: a script must never pick a forged link.
        self._run(
            {
                ENV_EVENT: "suspicious",
                ENV_USERNAME: "",
                ENV_FOLDER: suspicious.folder,
                ENV_RECEIVED: suspicious.received.isoformat() if suspicious.received else "",
                ENV_MESSAGE_ID: suspicious.message_id or "",
                ENV_SENDER: suspicious.sender or "",
                ENV_REASONS: ",".join(suspicious.reasons),
                ENV_LANG: lang,
                ENV_ACCOUNT: self._account,
            }
        )
        return None

    def withdraw(self, handle: str) -> None:
        return None

    def problem(self, title: str, body: str) -> None:
        return None

    def close(self) -> None:
        return None

    def _run(self, values: Mapping[str, str]) -> None:
        if not self._argv:
            return
        env = {k: v for k, v in os.environ.items() if k not in EVENT_VARS and k not in HIDDEN_VARS}
        env.update(values)
        try:
            result = subprocess.run(
                self._argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                timeout=self._timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            log.warning(
                "[notify] command %s did not finish within %s s and was stopped",
                self._program,
                self._timeout,
            )
        except OSError as e:
            log.warning("[notify] command %s could not start: %s", self._program, e.strerror)
        except ValueError:  # an argument the OS cannot pass (a NUL); the config refuses those
            log.warning("[notify] command %s could not start: invalid argument", self._program)
        else:
            if result.returncode != 0:
                log.warning(
                    "[notify] command %s failed (exit code %s)", self._program, result.returncode
                )
            else:
                log.debug("[notify] command %s ran (%s)", self._program, values[ENV_EVENT])
