"""What is known of the big providers, played by Dovecot where no real server can be had
(FIELD-NOTES, "Mail providers"): their spam folder names without special-use, and no
SEARCHRES. Their silent IDLE drops are played by the freezing proxy in
tests/test_liveness_e2e.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import mailfactory as mf
from tests.cliutil import check_json, write_config

pytestmark = pytest.mark.dovecot

PROVIDERS = {
    # Microsoft 365 / Exchange Online: no SPECIAL-USE (or no attributes), no SEARCHRES.
    "microsoft": {"folder": "Junk Email", "searchres": False},
    # Outlook.com / Hotmail.
    "outlook": {"folder": "Junk", "searchres": False},
    # Yahoo: spam is "Bulk Mail", no SPECIAL-USE, no XLIST.
    "yahoo": {"folder": "Bulk Mail", "searchres": True},
}


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_the_providers_spam_folder_is_watched_without_special_use(
    provider: str, dovecot_factory: Any, tmp_path: Path
) -> None:
    profile = PROVIDERS[provider]
    server = dovecot_factory(
        spam_layout="names", extra_folders=[profile["folder"]], searchres=profile["searchres"]
    )
    now = datetime.now(UTC)
    server.append(
        "jperez",
        "INBOX",
        mf.reset_mail("ana", mf.reset_url("old"), date=now - timedelta(minutes=20)),
    )
    server.append(
        "jperez",
        str(profile["folder"]),
        mf.reset_mail("ana", mf.reset_url("new"), date=now - timedelta(minutes=2)),
    )
    before = server.snapshot("jperez")
    code, data, err = check_json(
        write_config(tmp_path / "c.toml", server), server.password("jperez")
    )
    assert code == 0, err
    assert profile["folder"] in data["folders"]
    current = data["current"]
    assert [(c["url"], c["folder"]) for c in current] == [(mf.reset_url("new"), profile["folder"])]
    assert server.snapshot("jperez") == before
