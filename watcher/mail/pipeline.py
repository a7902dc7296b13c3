"""Several IMAP commands in one write; their answers read back in order.

RFC 3501 §5.5 lets a client send commands without waiting for the previous
answers, and servers answer them in order. Over a link with a round trip of
100 ms this is what makes a check fast: every command not waited for is a
round trip saved. Only :mod:`watcher.mail` uses this module; it relies on
imaplib's own framing (tags, literals, response codes, through
:mod:`watcher.mail.adapter`) and reads every answer through the same bounded
reader as any other command.

Never used for a command that needs a continuation (a literal or SASL):
those have to wait for the server's "+" by nature. ``sequential=True`` (the
``[imap] pipelining = false`` key, for a server or proxy that mishandles
pipelined commands) sends each command only after the previous answer: same
answers, one round trip each.
"""

from __future__ import annotations

import imaplib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from watcher.mail import adapter


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
        sequential: bool = False,
    ) -> None:
        """``prefix`` goes out first in the same write (IDLE's ``DONE``); ``before`` then
        reads what it makes the server say, ahead of the queued commands' answers."""
        self._imap = imap
        self._queue: list[tuple[str, tuple[str | bytes, ...]]] = []
        self._sequential = sequential
        self._prefix = prefix
        self._before = before
        self._on_answer = on_answer  # sees every answer (e.g. to notice EXISTS)

    def add(self, name: str, *args: str | bytes) -> int:
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
        queue, self._queue = self._queue, []
        if self._sequential:
            if self._prefix:
                imap.send(self._prefix)
            self._ready()
            return self._one_by_one(queue)
        tags = self._send(queue)
        self._ready()
        return self._answers(tags)

    def _send(self, queue: list[tuple[str, tuple[str | bytes, ...]]]) -> list[tuple[str, bytes]]:
        imap = self._imap
        before = imap.state
        tags: list[tuple[str, bytes]] = []
        try:
            with corked(imap):
                if self._prefix:
                    imap.send(self._prefix)
                for name, args in queue:
                    tags.append((name, _command(imap, name, args)))
        except BaseException:
            imap.state = before
            raise
        return tags

    def _ready(self) -> None:
        if self._before is not None:
            self._before()
        self._imap.untagged_responses = {}  # what came before belongs to no command of ours

    def _one_by_one(self, queue: list[tuple[str, tuple[str | bytes, ...]]]) -> Iterator[Answer]:
        for name, args in queue:
            yield self._complete(name, _command(self._imap, name, args))

    def _answers(self, tags: list[tuple[str, bytes]]) -> Iterator[Answer]:
        for name, tag in tags:
            yield self._complete(name, tag)

    def _complete(self, name: str, tag: bytes) -> Answer:
        imap = self._imap
        typ, data = adapter.complete(imap, name, tag)
        untagged, imap.untagged_responses = imap.untagged_responses, {}
        answer = Answer(name, typ, data, untagged)
        if self._on_answer is not None:
            self._on_answer(answer)
        return answer


def _command(imap: imaplib.IMAP4, name: str, args: tuple[str | bytes, ...]) -> bytes:
    tag = adapter.send_command(imap, name, *args)
    imap.state = _STATE_AFTER.get(name, imap.state)
    if name == "EXAMINE":
        imap.is_readonly = True
    return tag


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
