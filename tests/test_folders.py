"""Which folders a check looks at, from the server's LIST answer (pure: no server needed)."""

from __future__ import annotations

from watcher.folders import Folder, choose_folders


def entry(name: str, *flags: bytes) -> tuple[tuple[bytes, ...], bytes, str]:
    return (flags, b"/", name)


def test_inbox_and_every_junk_folder() -> None:
    listing = [entry("INBOX"), entry("[Gmail]/Spam", b"\\Junk"), entry("Archivo")]
    assert choose_folders(listing, ()) == [
        Folder("INBOX", False, "inbox"),
        Folder("[Gmail]/Spam", True, "special-use"),
    ]


def test_spam_by_name_when_nothing_is_marked_junk() -> None:
    listing = [entry("INBOX"), entry("Correo no deseado"), entry("INBOX.Junk E-mail")]
    assert [f.name for f in choose_folders(listing, ())] == [
        "INBOX",
        "Correo no deseado",
        "INBOX.Junk E-mail",
    ]


def test_inbox_is_looked_at_even_when_the_server_did_not_list_it() -> None:
    assert choose_folders([], ()) == [Folder("INBOX", False, "inbox")]
    assert choose_folders([entry("Spam", b"\\Junk")], ()) == [
        Folder("INBOX", False, "inbox"),
        Folder("Spam", True, "special-use"),
    ]


def test_configured_folders_win_and_unselectable_ones_are_skipped() -> None:
    listing = [entry("INBOX"), entry("Spam", b"\\Junk"), entry("Padre", b"\\Noselect")]
    assert choose_folders(listing, ("Spam", "Padre")) == [Folder("Spam", True, "configured")]
