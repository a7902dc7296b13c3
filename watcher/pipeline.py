"""Several IMAP commands in one write; their answers read back in order.

RFC 3501 §5.5 lets a client send commands without waiting for the previous
answers, and servers answer them in order. Over a link with a round trip of
100 ms this is what makes a check fast: every command not waited for is a
round trip saved. Only :mod:`watcher.imap` uses this module; it relies on
imaplib's own framing (tags, literals, response codes) and reads every answer
through the same bounded reader as any other command.

Never used for a command that needs a continuation (a literal or SASL):
those have to wait for the server's "+" by nature.
"""

from __future__ import annotations

import imaplib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    """One command's answer: the tagged status, its text, and the untagged lines before it."""

    name: str
    typ: str
    data: list[Any]
    untagged: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.typ == "OK"


# imaplib checks the client's state before it lets a command be sent; in a
# pipeline the state the earlier commands will lead to is the one that counts.
_STATE_AFTER = {"LOGIN": "AUTH", "EXAMINE": "SELECTED"}


class Pipeline:
    """Queue commands with :meth:`add`, then :meth:`run` sends them all in one write."""

    def __init__(
        self,
        imap: imaplib.IMAP4,
        *,
        prefix: bytes = b"",
        before: Callable[[], object] | None = None,
        on_answer: Callable[[Answer], None] | None = None,
    ) -> None:
        """``prefix`` goes out first in the same write (IDLE's ``DONE``); ``before`` then
        reads what it makes the server say, ahead of the queued commands' answers."""
        self._imap = imap
        self._queue: list[tuple[str, tuple[str, ...]]] = []
        self._prefix = prefix
        self._before = before
        self._on_answer = on_answer  # sees every answer (e.g. to notice EXISTS)

    def add(self, name: str, *args: str) -> int:
        """Queue ``name args``; the returned index finds its answer in :meth:`run`'s list."""
        self._queue.append((name.upper(), args))
        return len(self._queue) - 1

    def __len__(self) -> int:
        return len(self._queue)

    def run(self) -> Iterator[Answer]:
        """Send everything queued at once (now), then read the answers one by one, in order.

        The answers come from an iterator: the caller may stop early (say after a refused LOGIN);
        imaplib then keeps the tags still pending and files their answers
        when it reads on. ``BAD`` raises, as everywhere in imaplib.
        """
        imap = self._imap
        before = imap.state
        tags: list[tuple[str, bytes]] = []
        try:
            with corked(imap):
                if self._prefix:
                    imap.send(self._prefix)
                for name, args in self._queue:
                    tags.append((name, imap._command(name, *args)))
                    imap.state = _STATE_AFTER.get(name, imap.state)
                    if name == "EXAMINE":
                        imap.is_readonly = True
        except BaseException:
            imap.state = before
            raise
        self._queue = []
        if self._before is not None:
            self._before()
        imap.untagged_responses = {}  # what came before belongs to no command of ours
        return self._answers(tags)

    def _answers(self, tags: list[tuple[str, bytes]]) -> Iterator[Answer]:
        for name, tag in tags:
            yield self._complete(name, tag)

    def _complete(self, name: str, tag: bytes) -> Answer:
        imap = self._imap
        typ, data = imap._command_complete(name, tag)
        untagged, imap.untagged_responses = imap.untagged_responses, {}
        answer = Answer(name, typ, data, untagged)
        if self._on_answer is not None:
            self._on_answer(answer)
        return answer


@contextmanager
def corked(imap: imaplib.IMAP4) -> Iterator[None]:
    """Collect what imaplib sends inside the block and write it at once at the end."""
    pending: list[bytes] = []
    own = imap.__dict__.get("send")  # a wrapper set on this instance (tests), if any
    send = imap.send
    imap.__dict__["send"] = pending.append
    try:
        yield
    finally:
        if own is None:
            del imap.__dict__["send"]
        else:
            imap.__dict__["send"] = own
        if pending:
            send(b"".join(pending))
