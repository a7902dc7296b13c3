"""Configuration loading: every problem at once, with the key and the file named."""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher import cli, config
from watcher.errors import ConfigError
from watcher.exitcodes import ExitCode

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_is_valid_and_documents_every_key() -> None:
    example = REPO / "config" / "example.toml"
    loaded = config.load(example)
    assert loaded.imap.host == "imap.gmail.com"
    assert loaded.imap.port == 993
    text = example.read_text(encoding="utf-8")
    for section, keys in config.SCHEMA.items():
        assert f"[{section}]" in text
        for key in keys:
            assert f"{key} =" in text, f"{section}.{key} is not documented in example.toml"


def test_minimal_config_gets_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, '[imap]\nhost = "h"\nusername = "u"\nsecurity = "starttls"\n')
    loaded = config.load(path)
    assert loaded.imap.port == 143
    assert loaded.watch.sender == "registro@secop.gov.co"
    assert loaded.watch.lookback_days == 7
    assert loaded.watch.max_link_age_hours == 24.0
    assert loaded.imap.folders == ()


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[imap]\nhots = 'x'\nport = 99999\nsecurity = 'plain'\npassword = 'hunter2'\n"
        "folders = 'INBOX'\nca_file = '/nonexistent/ca.pem'\n"
        "[watch]\nlookback_days = 0\nsender = 'not an address'\n[extra]\n",
    )
    with pytest.raises(ConfigError) as info:
        config.load(path)
    where = [p[0] for p in info.value.problems]
    assert where == [
        "[imap] hots",
        "[imap] port",
        "[imap] security",
        "[imap] password",
        "[imap] folders",
        "[imap] ca_file",
        "[watch] lookback_days",
        "[watch] sender",
        "[extra]",
        "[imap] host",
        "[imap] username",
    ]
    assert info.value.problems[0][2] == {"suggestion": "host"}


def test_cli_reports_config_problems_in_spanish_without_secret_or_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[imap]\nhost = 'h'\nusername = 'u'\npassword = 'hunter2'\nport = 'x'\n")
    code = cli.main(["--config", str(path), "--lang", "es", "check-now"])
    err = capsys.readouterr().err
    assert code == ExitCode.CONFIG == 3
    assert str(path) in err
    assert "[imap] password: las contraseñas no van" in err
    assert "[imap] port: debe ser un número entero de 1 a 65535" in err
    assert "hunter2" not in err
    assert "Traceback" not in err


def test_invalid_toml_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "[imap\nhost=")
    assert cli.main(["--config", str(path), "--lang", "en", "check-now"]) == 3
    err = capsys.readouterr().err
    assert f"The configuration {path} has problems" in err
    assert "not valid TOML" in err


def test_missing_config_says_run_setup(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--lang", "es", "check-now"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "secop-watcher setup" in err
    assert "config.toml" in err


def test_config_found_through_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "[imap]\nhost = 'h'\nusername = 'u'\n")
    monkeypatch.setenv("SECOP_WATCHER_CONFIG", str(path))
    from watcher import paths

    assert paths.config_file(None) == path
    assert paths.config_file(str(tmp_path / "other.toml")) == tmp_path / "other.toml"


ACCOUNTS = """
[accounts.trabajo]
host = "outlook.office365.com"
username = "compras@entidad.gov.co"
auth = "oauth2-microsoft"

[accounts.personal]
host = "imap.gmail.com"
username = "ana@gmail.com"
folders = ["INBOX", "[Gmail]/Spam"]

[watch]
lookback_days = 3
"""


def test_several_accounts_share_watch_and_notify(tmp_path: Path) -> None:
    loaded = config.load(write(tmp_path, ACCOUNTS))
    each = loaded.each()
    assert [c.account for c in each] == ["trabajo", "personal"]
    assert [c.imap.username for c in each] == ["compras@entidad.gov.co", "ana@gmail.com"]
    assert each[1].imap.folders == ("INBOX", "[Gmail]/Spam") and each[1].imap.port == 993
    assert {c.watch.lookback_days for c in each} == {3}
    assert loaded.only("personal").imap.host == "imap.gmail.com"
    with pytest.raises(ConfigError) as info:
        loaded.only("casa")
    assert info.value.problems == [
        ("--account casa", "config.unknown_account", {"names": "trabajo, personal"})
    ]


def test_the_single_imap_form_is_one_unnamed_account(tmp_path: Path) -> None:
    loaded = config.load(write(tmp_path, '[imap]\nhost = "h"\nusername = "u"\n'))
    assert [(c.account, c.imap.host) for c in loaded.each()] == [("", "h")]


def test_every_account_problem_is_listed_at_once(tmp_path: Path) -> None:
    broken = (
        '[accounts."mal nombre"]\nhost = "h"\n[accounts.b]\nport = 0\nhots = 1\npassword = \'x\'\n'
    )
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, broken))
    assert [(where, key) for where, key, _ in info.value.problems] == [
        ("[accounts.mal nombre]", "config.account_name"),
        ("[accounts.mal nombre] username", "config.missing"),
        ("[accounts.b] port", "config.int_range"),
        ("[accounts.b] hots", "config.unknown_key"),
        ("[accounts.b] password", "config.password"),
        ("[accounts.b] host", "config.missing"),
        ("[accounts.b] username", "config.missing"),
    ]


def test_imap_and_accounts_together_is_one_clear_problem(tmp_path: Path) -> None:
    both = '[imap]\nhost = "h"\nusername = "u"\n[accounts.a]\nhost = "h"\nusername = "u"\n'
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, both))
    assert info.value.problems == [("[accounts]", "config.both_forms", {})]


def test_account_names_equal_but_for_case_are_refused(tmp_path: Path) -> None:
    """One state file per account name, and some file systems ignore case."""
    text = (
        '[accounts.Work]\nhost = "h"\nusername = "u"\n[accounts.work]\nhost = "h"\nusername = "v"\n'
    )
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text))
    assert info.value.problems == [("[accounts.work]", "config.account_duplicate", {})]


def test_oauth2_settings_are_read(tmp_path: Path) -> None:
    text = (
        '[accounts.ms]\nhost = "outlook.office365.com"\nusername = "a@hotmail.com"\n'
        'auth = "oauth2-microsoft"\noauth_tenant = "consumers"\n'
        'oauth_authority = "https://login.microsoftonline.us/"\n'
        '[accounts.g]\nhost = "imap.gmail.com"\nusername = "b@gmail.com"\n'
        'auth = "oauth2-google"\noauth_client_file = "~/cliente.json"\n'
    )
    ms, google = config.load(write(tmp_path, text)).each()
    assert ms.imap.oauth and ms.imap.auth == "oauth2-microsoft"
    assert ms.imap.oauth_tenant == "consumers" and ms.imap.oauth_client_id is None
    assert ms.imap.oauth_authority == "https://login.microsoftonline.us"
    assert google.imap.oauth_client_file == Path("~/cliente.json").expanduser()
    assert not config.load(write(tmp_path, '[imap]\nhost = "h"\nusername = "u"\n')).imap.oauth


def test_sign_in_contradictions_are_listed_at_once(tmp_path: Path) -> None:
    text = (
        '[imap]\nhost = "outlook.office365.com"\nusername = "a@hotmail.com"\n'
        'oauth_tenant = "consumers"\noauth_client_file = "x.json"\n'
        'oauth_authority = "http://insecure.example"\n'
    )
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text))
    assert [(where, key) for where, key, _ in info.value.problems] == [
        ("[imap] oauth_authority", "config.https_url"),
        ("[imap] oauth_tenant", "config.oauth_key"),
        ("[imap] oauth_authority", "config.oauth_key"),
        ("[imap] oauth_client_file", "config.oauth_key"),
        ("[imap] auth", "config.microsoft_password"),
    ]


def test_oauth2_with_a_password_command_or_an_unknown_method_is_refused(tmp_path: Path) -> None:
    text = (
        '[accounts.a]\nhost = "h"\nusername = "u"\nauth = "oauth2-google"\n'
        'password_command = "pass x"\n[accounts.b]\nhost = "h"\nusername = "u"\n'
        'auth = "kerberos"\n'
    )
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text))
    assert [(where, key) for where, key, _ in info.value.problems] == [
        ("[accounts.a] password_command", "config.oauth_password"),
        ("[accounts.b] auth", "config.auth"),
    ]
