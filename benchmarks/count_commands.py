"""Run ``secop-watcher`` in this process and record every IMAP command it sends.

Usage: ``python benchmarks/count_commands.py OUT.json ARGS...`` (ARGS as for
``secop-watcher``). Through TLS the proxy cannot read commands, so they are
taken here, where imaplib writes them: ``imaplib.IMAP4.send`` is wrapped for
every connection (imapclient and imap-tools both go through it). OUT gets
``{"exit_code": int, "sent": [str, ...]}`` with the raw lines (LOGIN's
arguments blanked).
"""

from __future__ import annotations

import imaplib
import json
import re
import sys
from pathlib import Path
from typing import Any

_LOGIN = re.compile(rb"^(\S+ (?:LOGIN|AUTHENTICATE))\b.*$", re.IGNORECASE)
_TAGGED = re.compile(rb"^[A-Za-z]+\d+ [A-Za-z]")


class Recorder:
    """Records what ``imaplib.IMAP4.send`` writes while active (a context manager)."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self._original: Any = None

    def __enter__(self) -> Recorder:
        original = imaplib.IMAP4.send
        sent = self.sent

        def send(client: imaplib.IMAP4, data: bytes) -> None:
            sent.append(bytes(data))
            original(client, data)

        self._original = original
        imaplib.IMAP4.send = send  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        imaplib.IMAP4.send = self._original  # type: ignore[method-assign]

    def lines(self) -> list[str]:
        out = []
        for line in b"".join(self.sent).split(b"\r\n"):
            if not line:
                continue
            if not (_TAGGED.match(line) or line.strip().upper() == b"DONE"):
                out.append("<literal or continuation data>")  # may hold a password
                continue
            line = _LOGIN.sub(rb"\1 ***", line)
            out.append(line.decode("utf-8", "replace"))
        return out


def main(argv: list[str]) -> int:
    out, args = Path(argv[0]), argv[1:]
    from watcher.cli import main as cli_main

    with Recorder() as rec:
        code = cli_main(args)
    out.write_text(json.dumps({"exit_code": code, "sent": rec.lines()}))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
