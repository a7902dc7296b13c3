"""Where the IMAP password comes from, in order.

1. ``$SECOP_WATCHER_PASSWORD`` (for containers and scripts);
2. ``password_command`` from the config, run without a shell;
3. the system keyring, service ``secop-watcher``, user = the IMAP user name.

Accounts that sign in with OAuth2 have no password: :mod:`watcher.oauth` keeps
their sign-in in the same keyring through :func:`keyring_get` / :func:`keyring_set`.

Nothing here prompts: a daemon has no terminal. ``setup`` asks, then calls
:func:`store_password`. No error message ever contains the password or what
the command printed.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess

from watcher.commandline import Argv
from watcher.config import ImapConfig
from watcher.errors import CredentialsError

SERVICE = "secop-watcher"
ENV_PASSWORD = "SECOP_WATCHER_PASSWORD"
COMMAND_TIMEOUT = 30.0

log = logging.getLogger(__name__)


FROM_ENV, FROM_COMMAND, FROM_KEYRING = "env", "command", "keyring"


def password_source(imap: ImapConfig) -> str:
    """Where :func:`get_password` takes the password from, in its order."""
    if os.environ.get(ENV_PASSWORD):
        return FROM_ENV
    return FROM_COMMAND if imap.password_command else FROM_KEYRING


def get_password(imap: ImapConfig) -> str:
    env = os.environ.get(ENV_PASSWORD)
    if env:
        log.debug("password taken from $%s", ENV_PASSWORD)
        return env
    if imap.password_command:
        return run_password_command(imap.password_command)
    return keyring_password(imap.username)


def refuse_shared_password(imaps: list[ImapConfig]) -> None:
    """``$SECOP_WATCHER_PASSWORD`` is one password: with several accounts that log in with
    a password it would be sent to each one's server. Refused, with the way out. (Accounts
    that sign in with OAuth2 never read it.)"""
    if sum(not imap.oauth for imap in imaps) > 1 and os.environ.get(ENV_PASSWORD):
        raise CredentialsError("error.shared_env_password", variable=ENV_PASSWORD)


def run_password_command(argv: Argv) -> str:
    """Run ``argv`` (never through a shell); its first line."""
    if not argv:
        raise CredentialsError("error.password_command_syntax", reason="empty")
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # may echo secrets; never shown
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except FileNotFoundError as e:
        raise CredentialsError("error.password_command_missing", program=argv[0]) from e
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:  # ValueError: a NUL
        raise CredentialsError("error.password_command_failed", program=argv[0], code="-") from e
    password = done.stdout.decode("utf-8", "replace").split("\n", 1)[0].rstrip("\r")
    if done.returncode != 0 or not password:
        raise CredentialsError(
            "error.password_command_failed", program=argv[0], code=str(done.returncode)
        )
    log.debug("password taken from password_command (%s)", argv[0])
    return password


def keyring_usable() -> bool:
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    chainer = getattr(backend, "backends", None)
    if chainer is not None and not chainer:
        return False
    return not isinstance(backend, fail.Keyring)


def keyring_password(username: str) -> str:
    password = keyring_get(username, username=username)
    if not password:
        raise CredentialsError("error.no_password", username=username)
    log.debug("password taken from the keyring (%s)", keyring_backend_name())
    return password


def store_password(username: str, password: str) -> None:
    keyring_set(username, password, username=username)


# Windows' Credential Manager holds at most 2,560 bytes per secret, and keyring writes
# UTF-16 there: 1,280 characters. A Microsoft sign-in record is often longer (its refresh
# token alone is about 1,500 characters), so a long secret is kept in pieces of at most
# CHUNK UTF-16 code units, on every platform alike, under entries named after the secret's own:
# the first holds "<MARKER><pieces>:<generation>", piece i is "<entry>#<generation>.<i>".
# Pieces are written first and the marker last, so a reader never sees half a record.
CHUNK = 1000
MARKER = "secop-watcher-pieces:"


def _utf16_units(text: str) -> int:
    """Length in UTF-16 code units, what Windows counts (a character outside the BMP is 2)."""
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def _split_utf16(text: str, units: int) -> list[str]:
    """Pieces of at most ``units`` UTF-16 code units, never splitting a character."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if current and size + width > units:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    if current:
        pieces.append("".join(current))
    return pieces


def _chunk_name(entry: str, generation: str, index: int) -> str:
    return f"{entry}#{generation}.{index}"


def _raw_get(entry: str, username: str) -> str | None:
    import keyring

    try:
        return keyring.get_password(SERVICE, entry)
    except Exception as e:  # backends raise their own types (D-Bus, Windows), not KeyringError
        raise CredentialsError("error.keyring_failed", username=username) from e


def _raw_set(entry: str, secret: str, username: str) -> None:
    import keyring

    try:
        keyring.set_password(SERVICE, entry, secret)
    except Exception as e:  # e.g. Windows' 2,560-byte limit: a pywintypes.error
        raise CredentialsError("error.keyring_failed", username=username) from e


def _raw_delete(entry: str) -> None:
    import keyring

    try:
        keyring.delete_password(SERVICE, entry)
    except Exception:  # noqa: BLE001 - an old piece left behind is harmless, never fatal
        log.debug("keyring: could not remove an old piece of a secret")


def _pieces(value: str) -> tuple[int, str] | None:
    """``(count, generation)`` when ``value`` is the marker of a secret kept in pieces."""
    if not value.startswith(MARKER):
        return None
    count, _, generation = value[len(MARKER) :].partition(":")
    return (int(count), generation) if count.isdigit() and generation else None


def keyring_get(entry: str, *, username: str) -> str | None:
    """The keyring's secret for ``entry`` (None when there is none); ``username`` is
    only for the messages."""
    if not keyring_usable():
        raise CredentialsError("error.no_keyring", username=username)
    for _attempt in range(3):  # a writer may replace the pieces while they are read
        value = _raw_get(entry, username)
        pieces = _pieces(value) if value is not None else None
        if pieces is None:
            return value
        parts = [_raw_get(_chunk_name(entry, pieces[1], i), username) for i in range(pieces[0])]
        if all(part is not None for part in parts):
            return "".join(part or "" for part in parts)
    raise CredentialsError("error.keyring_failed", username=username)


def keyring_set(entry: str, secret: str, *, username: str) -> None:
    if not keyring_usable():
        raise CredentialsError("error.no_keyring", username=username)
    old = _raw_get(entry, username)
    old_pieces = _pieces(old) if old is not None else None
    if _utf16_units(secret) <= CHUNK and not secret.startswith(MARKER):
        _raw_set(entry, secret, username)
    else:
        generation = secrets.token_hex(4)
        parts = _split_utf16(secret, CHUNK)
        for index, part in enumerate(parts):
            _raw_set(_chunk_name(entry, generation, index), part, username)
        _raw_set(entry, f"{MARKER}{len(parts)}:{generation}", username)
    if old_pieces is not None:
        for index in range(old_pieces[0]):
            _raw_delete(_chunk_name(entry, old_pieces[1], index))


def keyring_backend_name() -> str:
    import keyring

    return type(keyring.get_keyring()).__name__
