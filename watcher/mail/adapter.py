"""Every private imapclient and imaplib name the mail layer relies on, in one place.

imapclient wraps imaplib by composition (``client._imap``); it has no public
way to pipeline commands, to read an EXAMINE answer that was pipelined, or to
bound what imaplib reads. Those few needs go through the functions below and
nowhere else, so an upgrade that renames something breaks here, in one file,
and :data:`PRIVATE_NAMES` (checked by ``tests/test_mail_adapter.py`` against the
installed versions) says what to look at. ``pyproject.toml`` caps imapclient
below the next major version for the same reason.
"""

from __future__ import annotations

import imaplib
from collections.abc import Callable
from typing import Any

from imapclient import IMAPClient, imap4, tls
from imapclient.response_parser import parse_fetch_response, parse_message_list

# (owner, attribute): what must exist, with the reason. Overridden methods count too.
PRIVATE_NAMES: tuple[tuple[Any, str, str], ...] = (
    (imaplib.IMAP4, "_command", "send a command without waiting for its answer (pipelining)"),
    (imaplib.IMAP4, "_command_complete", "read one pipelined command's answer by its tag"),
    (imaplib.IMAP4, "_quote", "quote LOGIN's arguments as imaplib would"),
    (imaplib.IMAP4, "_connect", "overridden: know when the greeting is being read"),
    (imaplib.IMAP4, "_get_capabilities", "overridden: capabilities from the greeting"),
    (imaplib.IMAP4, "_get_line", "tests count lines read"),
    (imaplib, "_Authenticator", "SASL continuation answers for AUTHENTICATE"),
    (imap4.IMAP4WithTimeout, "_create_socket", "the plain transport with a timeout"),
    (tls.IMAP4_TLS, "_create_socket", "the TLS transport"),
    (IMAPClient, "_create_IMAP4", "overridden: our bounded imaplib underneath"),
    (IMAPClient, "_normalise_folder", "encode a folder name as imapclient does (UTF-7)"),
    (IMAPClient, "_checkok", "raise as imapclient does for a NO/BAD answer"),
    (IMAPClient, "_process_select_response", "read a pipelined EXAMINE's answer"),
    (IMAPClient, "_consume_until_tagged_response", "end an IDLE in the same write as more"),
    (IMAPClient, "_normalise_capabilites", "keep the capabilities stated after LOGIN"),
    (IMAPClient, "_proc_folder_list", "read a pipelined LIST's answer"),
)
# Instance attributes (set in __init__, so only checkable on a live object).
PRIVATE_ATTRIBUTES = (
    ("IMAPClient", "_imap"),
    ("IMAPClient", "_idle_tag"),
    ("IMAPClient", "_cached_capabilities"),
    ("IMAPClient", "_timeout"),
    ("IMAP4", "untagged_responses"),
    ("IMAP4", "tagged_commands"),
    ("IMAP4", "state"),
    ("IMAP4", "is_readonly"),
    ("IMAP4", "literal"),
    ("IMAP4", "_encoding"),
    ("IMAP4", "sock"),
    ("IMAP4", "file"),
)

__all__ = ["parse_fetch_response", "parse_message_list"]


def imap_of(client: IMAPClient) -> imaplib.IMAP4:
    """The imaplib connection under an IMAPClient."""
    imap: imaplib.IMAP4 = client._imap
    return imap


def send_command(imap: imaplib.IMAP4, name: str, *args: str | bytes) -> bytes:
    """Send one command now (no wait for its answer); its tag."""
    tag: bytes = imap._command(name, *args)
    return tag


def complete(imap: imaplib.IMAP4, name: str, tag: bytes) -> tuple[str, list[Any]]:
    """Read up to ``tag``'s tagged answer (imaplib files other tags' answers meanwhile)."""
    typ, data = imap._command_complete(name, tag)
    return typ, data


def quote(imap: imaplib.IMAP4, text: str) -> str:
    quoted: str = imap._quote(text)
    return quoted


def answer_challenges(imap: imaplib.IMAP4, reply: Callable[[bytes], bytes]) -> None:
    """Let imaplib answer the next command's SASL challenges with ``reply(challenge)``
    (base64 both ways), as ``IMAP4.authenticate`` does."""
    imap.literal = imaplib._Authenticator(reply).process  # type: ignore[assignment]


def send_literal(imap: imaplib.IMAP4, data: bytes) -> None:
    """The next command's last argument goes as a literal (``{n}``, then ``data`` after the
    server's "+"), as ``IMAP4.append`` does it."""
    imap.literal = data  # type: ignore[assignment]


def buffered(imap: imaplib.IMAP4) -> bytes:
    """What imaplib's reader already holds, without waiting (the socket must be
    non-blocking): ``peek`` reads at most once from the socket."""
    data: bytes = imap.file.peek(1)  # type: ignore[union-attr]
    return data


def normalise_folder(client: IMAPClient, name: str) -> str | bytes:
    """A folder name as imapclient sends it (modified UTF-7, quoted)."""
    folder: str | bytes = client._normalise_folder(name)
    return folder


def check_ok(client: IMAPClient, command: str, typ: str, data: list[Any]) -> None:
    client._checkok(command, typ, data)


def select_info(client: IMAPClient, untagged: dict[str, list[Any]]) -> dict[bytes, Any]:
    info: dict[bytes, Any] = client._process_select_response(untagged)
    return info


def end_idle_lines(client: IMAPClient) -> list[Any]:
    """The untagged lines up to IDLE's tagged end (after a DONE already sent)."""
    return list(client._consume_until_tagged_response(client._idle_tag, "IDLE")[1])


def keep_capabilities(client: IMAPClient, advertised: bytes | None) -> None:
    """Cache the capabilities stated after LOGIN (``None``: ask the server when needed)."""
    client._cached_capabilities = (
        client._normalise_capabilites(advertised) if advertised is not None else None
    )


def folder_list(client: IMAPClient, lines: list[Any]) -> list[tuple[Any, Any, Any]]:
    folders: list[tuple[Any, Any, Any]] = client._proc_folder_list(lines)
    return folders


def connect_timeout(client: IMAPClient) -> float | None:
    timeout: float | None = getattr(client._timeout, "connect", None)
    return timeout
