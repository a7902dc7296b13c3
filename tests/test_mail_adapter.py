"""The private imapclient and imaplib names the mail layer relies on exist in the
installed versions (watcher/mail/adapter.py lists them; pyproject.toml caps imapclient)."""

from __future__ import annotations

import imaplib
import inspect
import re
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.servers.dovecot import Dovecot
from watcher.mail import adapter

MAIL = Path(adapter.__file__).parent


@pytest.mark.parametrize(
    ("owner", "name"), [(o, n) for o, n, _why in adapter.PRIVATE_NAMES], ids=lambda v: str(v)
)
def test_each_listed_private_name_exists(owner: object, name: str) -> None:
    assert hasattr(owner, name), f"{owner!r} has no {name}: see watcher/mail/adapter.py"
    if inspect.isclass(owner):
        assert callable(getattr(owner, name))


def test_the_instance_attributes_exist_on_a_live_connection(dovecot: Dovecot) -> None:
    with dovecot.connect("jperez") as client:
        objects = {"IMAPClient": client, "IMAP4": client._imap}
        for kind, name in adapter.PRIVATE_ATTRIBUTES:
            assert hasattr(objects[kind], name), f"{kind} has no {name}"


def test_no_private_name_is_used_outside_the_adapter() -> None:
    """Other modules reach private names only through the adapter's functions."""
    private = re.compile(r"\.(_[a-z][a-z_]*)\b")
    # Methods the transport overrides (listed as such in the adapter) are named there.
    overridden = {n for _o, n, why in adapter.PRIVATE_NAMES if why.startswith("overridden")}
    found = {}
    for path in MAIL.glob("*.py"):
        if path.name == "adapter.py":
            continue
        text = path.read_text(encoding="utf-8")
        names = {
            m.group(1)
            for m in private.finditer(text)
            if not m.group(1).startswith("__")
            and not (path.name == "transport.py" and m.group(1) in overridden)
            and hasattr(imaplib.IMAP4, m.group(1)) | hasattr(IMAPClient, m.group(1))
        }
        if names:
            found[path.name] = sorted(names)
    assert found == {}
