"""Which folders to watch, from the server's LIST answer. Pure: no server, no clock.

INBOX, plus every folder with the RFC 6154 ``\\Junk`` attribute; when no
folder carries it (Courier, Microsoft, many entity servers), the known spam
names in the users' languages (case-insensitive, also under an ``INBOX.``
prefix: Courier and Cyrus put every folder there). Configured folders win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# (flags, delimiter, decoded name) of one folder, as LIST answered it
ListEntry = tuple[tuple[bytes, ...], bytes | None, str]

SPAM_NAMES = (
    "[gmail]/spam",
    "[google mail]/spam",
    "junk",
    "junk email",
    "junk e-mail",
    "spam",
    "bulk mail",
    "correo no deseado",
    "correo electrónico no deseado",
)


@dataclass(frozen=True)
class Folder:
    name: str
    spam: bool
    how: str  # "inbox", "special-use", "name" or "configured": how it was recognised


def choose_folders(
    listing: Sequence[tuple[Sequence[bytes], bytes | None, str]], configured: Sequence[str]
) -> list[Folder]:
    """Pick the folders to watch from a LIST answer."""
    selectable = [
        (name, {f.decode("ascii", "replace").lower() for f in flags})
        for flags, _delim, name in listing
        if not _unselectable(flags)
    ]
    if configured:
        names = {n for n, _ in selectable}
        return [Folder(n, _is_spam(n, selectable), "configured") for n in configured if n in names]
    folders = [Folder(n, False, "inbox") for n, _ in selectable if n.upper() == "INBOX"][:1]
    if not folders:
        # RFC 3501: INBOX always exists. A server that left it out of LIST (or listed
        # nothing) is asked anyway: an error then says more than a check of no folder.
        folders = [Folder("INBOX", False, "inbox")]
    junk = [Folder(n, True, "special-use") for n, flags in selectable if "\\junk" in flags]
    if not junk:
        junk = [Folder(n, True, "name") for n, _ in selectable if _spam_name(n)]
    return folders + _unique(junk)


def missing_folders(
    listing: Sequence[tuple[Sequence[bytes], bytes | None, str]], configured: Sequence[str]
) -> list[str]:
    names = {name for _flags, _delim, name in listing}
    return [n for n in configured if n not in names]


def _unique(folders: list[Folder]) -> list[Folder]:
    """Each name once (a server that lists a folder twice, or two answers merged)."""
    seen: set[str] = set()
    out = []
    for folder in folders:
        if folder.name not in seen:
            seen.add(folder.name)
            out.append(folder)
    return out


def _unselectable(flags: Sequence[bytes]) -> bool:
    lowered = {f.lower() for f in flags}
    return b"\\noselect" in lowered or b"\\nonexistent" in lowered


def _spam_name(name: str) -> bool:
    folded = name.casefold()
    for prefix in ("inbox.", "inbox/"):
        if folded.startswith(prefix):
            folded = folded[len(prefix) :]
    return folded in SPAM_NAMES


def _is_spam(name: str, selectable: list[tuple[str, set[str]]]) -> bool:
    flags = dict(selectable).get(name, set())
    return "\\junk" in flags or _spam_name(name)
