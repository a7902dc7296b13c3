"""Where the password comes from, and that it never leaks into messages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from watcher import credentials
from watcher.commandline import split
from watcher.config import ImapConfig
from watcher.errors import CredentialsError

IMAP = ImapConfig(host="h", username="jperez@example.org")


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "pw.py"
    path.write_text(body)
    return f"{sys.executable} {path}"


def test_environment_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials.store_password(IMAP.username, "from-keyring")
    monkeypatch.setenv("SECOP_WATCHER_PASSWORD", "from-env")
    assert credentials.get_password(IMAP) == "from-env"


def test_keyring_is_used_last() -> None:
    credentials.store_password(IMAP.username, "from-keyring")
    assert credentials.get_password(IMAP) == "from-keyring"


def test_password_command_first_line_without_shell(tmp_path: Path) -> None:
    marker = tmp_path / "shell-ran"
    cmd = script(tmp_path, "print('s3cret pw')\nprint('second line')\n")
    # A shell would run the part after ';' and create the marker file.
    imap = ImapConfig(host="h", username="u", password_command=split(f"{cmd} ; touch {marker}"))
    assert credentials.get_password(imap) == "s3cret pw"
    assert not marker.exists()


def test_password_command_failure_hides_its_output(tmp_path: Path) -> None:
    cmd = script(
        tmp_path,
        "import sys\nprint('leaked-secret')\n"
        "print('stderr-secret', file=sys.stderr)\nsys.exit(3)\n",
    )
    imap = ImapConfig(host="h", username="u", password_command=split(cmd))
    with pytest.raises(CredentialsError) as info:
        credentials.get_password(imap)
    assert info.value.key == "error.password_command_failed"
    assert info.value.params["code"] == "3"
    assert "secret" not in str(info.value)


def test_password_command_missing_program() -> None:
    imap = ImapConfig(host="h", username="u", password_command=split("/nonexistent/pass show x"))
    with pytest.raises(CredentialsError) as info:
        credentials.get_password(imap)
    assert info.value.key == "error.password_command_missing"


def test_no_password_stored() -> None:
    with pytest.raises(CredentialsError) as info:
        credentials.get_password(IMAP)
    assert info.value.key == "error.no_password"


def test_no_keyring_backend_names_the_alternatives(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    with pytest.raises(CredentialsError) as info:
        credentials.get_password(IMAP)
    assert info.value.key == "error.no_keyring"
    from watcher.i18n import error_text

    text = error_text(info.value, "es")
    assert "password_command" in text
    assert "SECOP_WATCHER_PASSWORD" in text


def test_the_shared_password_variable_counts_only_password_accounts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECOP_WATCHER_PASSWORD", "one")
    oauth_account = ImapConfig(host="outlook.office365.com", username="a", auth="oauth2-microsoft")
    credentials.refuse_shared_password([IMAP, oauth_account])  # one password account: fine
    with pytest.raises(CredentialsError) as info:
        credentials.refuse_shared_password([IMAP, IMAP, oauth_account])
    assert info.value.key == "error.shared_env_password"
