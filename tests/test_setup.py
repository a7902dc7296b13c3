"""``secop-watcher setup`` against a real Dovecot, with the test keyring."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from tests import mailfactory as mf
from tests.cliutil import run
from tests.servers.dovecot import Dovecot


def setup_args(server: Dovecot, *extra: str) -> list[str]:
    return [
        "setup",
        "--email",
        "jperez@entidad.gov.co",
        "--username",
        "jperez",
        "--host",
        server.host,
        "--port",
        str(server.port_ssl),
        "--security",
        "ssl",
        "--ca-file",
        str(server.ca_file),
        "--password-stdin",
        *extra,
    ]


def keyring_file(home: Path) -> dict[str, str]:
    path = home / "keyring.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_setup_stores_password_in_keyring_writes_config_and_reports_spam(
    dovecot: Dovecot, isolated_env: Path
) -> None:
    password = dovecot.password("jperez")
    done = run(*setup_args(dovecot), stdin=password + "\n")
    assert done.returncode == 0, done.stderr
    assert "Inicio de sesión correcto." in done.stdout
    assert "Carpeta de spam: Spam (reconocida por su atributo \\Junk)." in done.stdout
    config_path = isolated_env / "config" / "config.toml"
    text = config_path.read_text()
    assert password not in text
    data = tomllib.loads(text)
    assert data["imap"] == {
        "host": dovecot.host,
        "port": dovecot.port_ssl,
        "security": "ssl",
        "username": "jperez",
        "ca_file": str(dovecot.ca_file),
        "folders": [],
    }
    assert config_path.stat().st_mode & 0o777 == 0o600
    assert keyring_file(isolated_env) == {"secop-watcher\0jperez": password}
    # The stored password now works for check-now, with no variable set.
    now = datetime.now(UTC)
    dovecot.append(
        "jperez", "Spam", mf.reset_mail("jperez", mf.reset_url("kr"), date=now), date=now
    )
    check = run("check-now", "--json")
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["current"][0]["url"] == mf.reset_url("kr")


def test_setup_refuses_to_overwrite_without_force(dovecot: Dovecot, isolated_env: Path) -> None:
    config_path = isolated_env / "config" / "config.toml"
    config_path.write_text("# mine\n")
    done = run(*setup_args(dovecot), stdin=dovecot.password("jperez") + "\n")
    assert done.returncode == 3
    assert "--force" in done.stderr
    assert config_path.read_text() == "# mine\n"
    forced = run(*setup_args(dovecot, "--force"), stdin=dovecot.password("jperez") + "\n")
    assert forced.returncode == 0, forced.stderr


def test_setup_wrong_password_writes_nothing(dovecot: Dovecot, isolated_env: Path) -> None:
    done = run(*setup_args(dovecot), stdin="not-the-password\n")
    assert done.returncode == 5
    assert not (isolated_env / "config" / "config.toml").exists()
    assert keyring_file(isolated_env) == {}
    assert "not-the-password" not in done.stderr + done.stdout


def test_setup_without_keyring_backend_names_alternatives(
    dovecot: Dovecot, isolated_env: Path
) -> None:
    done = run(
        *setup_args(dovecot),
        stdin=dovecot.password("jperez") + "\n",
        env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    assert done.returncode == 4
    assert "password_command" in done.stderr
    assert "SECOP_WATCHER_PASSWORD" in done.stderr
    assert (isolated_env / "config" / "config.toml").exists()  # nothing lost
    assert "Traceback" not in done.stderr


def test_microsoft_accounts_are_told_plainly(isolated_env: Path) -> None:
    done = run("setup", "--email", "jperez@hotmail.com", "--password-stdin", stdin="x\n")
    assert done.returncode == 10
    assert "OAuth2" in done.stderr and "Microsoft" in done.stderr
    assert not (isolated_env / "config" / "config.toml").exists()


def test_gmail_is_recognised_and_app_password_explained(isolated_env: Path) -> None:
    # An empty password stops setup before any connection is made.
    done = run("setup", "--email", "jperez@gmail.com", "--password-stdin", stdin="\n")
    assert "Su correo es de Gmail / Google." in done.stdout
    assert "contraseña de aplicación" in done.stdout
    assert "myaccount.google.com/apppasswords" in done.stdout
    assert done.returncode == 4
    assert "vacía" in done.stderr
    assert "Traceback" not in done.stderr


def test_setup_adds_mailboxes_as_accounts(dovecot: Dovecot, isolated_env: Path) -> None:
    """Several mailboxes: each setup --account adds one [accounts.NAME], the file grows."""
    config_path = isolated_env / "config" / "config.toml"
    first = run(
        *setup_args(dovecot, "--account", "trabajo"), stdin=dovecot.password("jperez") + "\n"
    )
    assert first.returncode == 0, first.stderr
    other = [a if a != "jperez" else "other" for a in setup_args(dovecot, "--account", "casa")]
    second = run(*other, stdin=dovecot.password("other") + "\n")
    assert second.returncode == 0, second.stderr
    data = tomllib.loads(config_path.read_text())
    assert "imap" not in data
    assert {name: t["username"] for name, t in data["accounts"].items()} == {
        "trabajo": "jperez",
        "casa": "other",
    }
    assert config_path.stat().st_mode & 0o777 == 0o600
    assert keyring_file(isolated_env) == {
        "secop-watcher\0jperez": dovecot.password("jperez"),
        "secop-watcher\0other": dovecot.password("other"),
    }
    now = datetime.now(UTC)
    dovecot.append("other", "INBOX", mf.reset_mail("c", mf.reset_url("casa"), date=now), date=now)
    check = run("check-now", "--json")  # each account's password from the keyring
    assert check.returncode == 0, check.stderr
    assert [x["account"] for x in json.loads(check.stdout)["current"]] == ["casa"]

    before = config_path.read_text()
    again = run(*setup_args(dovecot, "--account", "TRABAJO"), stdin="x\n")
    assert (
        again.returncode == 3
        and "already has an account"
        in run("--lang", "en", *setup_args(dovecot, "--account", "trabajo"), stdin="x\n").stderr
    )
    assert config_path.read_text() == before  # nothing rewritten


def test_setup_account_on_a_single_mailbox_config_says_how(
    dovecot: Dovecot, isolated_env: Path
) -> None:
    assert run(*setup_args(dovecot), stdin=dovecot.password("jperez") + "\n").returncode == 0
    config_path = isolated_env / "config" / "config.toml"
    before = config_path.read_text()
    done = run("--lang", "en", *setup_args(dovecot, "--account", "casa"), stdin="x\n")
    assert done.returncode == 3
    assert "rename [imap] to [accounts.NAME]" in done.stderr
    assert config_path.read_text() == before


def test_a_question_with_stdin_closed_is_a_usage_error(isolated_env: Path) -> None:
    done = run("setup", "--email", "jperez@entidad.gov.co", "--host", "imap.x.co", stdin="")
    assert done.returncode == 2, done.stderr
    assert "la entrada estándar está cerrada" in done.stderr and "Traceback" not in done.stderr
    assert not (isolated_env / "config" / "config.toml").exists()


def test_setup_force_edits_the_file_in_place_keeping_the_users_keys(
    dovecot: Dovecot, isolated_env: Path
) -> None:
    """--force changes only what setup tested (server, user, certificate): the user's
    password_command, other keys and comments stay, byte for byte."""
    config_path = isolated_env / "config" / "config.toml"
    password = dovecot.password("jperez")
    mine = (
        "# Mi configuración: no la borre\n"
        "[imap]\n"
        'host = "viejo.entidad.gov.co"  # el servidor de antes\n'
        "port = 143\n"
        'security = "starttls"\n'
        'username = "jperez"\n'
        f'password_command = ["/bin/echo", "{password}"]  # mi llavero\n'
        "timeout_seconds = 12\n"
        "\n"
        "[watch]\n"
        "lookback_days = 3  # tres días\n"
    )
    config_path.write_text(mine)
    done = run(*setup_args(dovecot, "--force"), stdin=password + "\n")
    assert done.returncode == 0, done.stderr
    text = config_path.read_text()
    for kept in (
        "# Mi configuración: no la borre\n",
        "  # el servidor de antes\n",
        f'password_command = ["/bin/echo", "{password}"]  # mi llavero\n',
        "timeout_seconds = 12\n",
        "lookback_days = 3  # tres días\n",
    ):
        assert kept in text
    imap = tomllib.loads(text)["imap"]
    assert (imap["host"], imap["port"], imap["security"], imap["ca_file"]) == (
        dovecot.host,
        dovecot.port_ssl,
        "ssl",
        str(dovecot.ca_file),
    )
    check = run("check-now", "--json")  # the password_command still works
    assert check.returncode in (0, 1), check.stderr


def test_setup_account_keeps_the_file_and_force_updates_that_account_only(
    dovecot: Dovecot, isolated_env: Path
) -> None:
    config_path = isolated_env / "config" / "config.toml"
    mine = (
        "# dos buzones\n"
        "[accounts.casa]  # el personal\n"
        'host = "imap.gmail.com"\n'
        'username = "yo@gmail.com"\n'
        'password_command = "pass show gmail"\n'
        "\n"
        "[accounts.trabajo]\n"
        'host = "viejo.entidad.gov.co"\n'
        'username = "jperez"\n'
        'password_command = "pass show trabajo"  # el de la entidad\n'
    )
    config_path.write_text(mine)
    refused = run(*setup_args(dovecot, "--account", "trabajo"), stdin="x\n")
    assert refused.returncode == 3 and config_path.read_text() == mine
    done = run(
        *setup_args(dovecot, "--account", "trabajo", "--force"),
        stdin=dovecot.password("jperez") + "\n",
    )
    assert done.returncode == 0, done.stderr
    text = config_path.read_text()
    assert text.startswith("# dos buzones\n[accounts.casa]  # el personal\n")
    assert 'password_command = "pass show trabajo"  # el de la entidad\n' in text
    data = tomllib.loads(text)
    assert data["accounts"]["casa"] == {
        "host": "imap.gmail.com",
        "username": "yo@gmail.com",
        "password_command": "pass show gmail",
    }
    assert data["accounts"]["trabajo"]["host"] == dovecot.host
    assert data["accounts"]["trabajo"]["port"] == dovecot.port_ssl


def test_setup_force_on_several_accounts_asks_which(dovecot: Dovecot, isolated_env: Path) -> None:
    config_path = isolated_env / "config" / "config.toml"
    mine = '[accounts.casa]\nhost = "imap.gmail.com"\nusername = "yo@gmail.com"\n'
    config_path.write_text(mine)
    done = run(*setup_args(dovecot, "--force"), stdin="x\n")
    assert done.returncode == 3
    assert "--account NOMBRE" in done.stderr
    assert config_path.read_text() == mine


def test_setup_force_on_a_broken_file_keeps_it_beside(dovecot: Dovecot, isolated_env: Path) -> None:
    config_path = isolated_env / "config" / "config.toml"
    broken = '[imap]\nca_file = "C:\\Users\\ana"x\n'
    config_path.write_text(broken)
    done = run(*setup_args(dovecot, "--force"), stdin=dovecot.password("jperez") + "\n")
    assert done.returncode == 0, done.stderr
    assert (isolated_env / "config" / "config.toml.bak").read_text() == broken
    assert tomllib.loads(config_path.read_text())["imap"]["host"] == dovecot.host


def test_setup_scripted_failures_name_the_options_not_the_file(
    dovecot: Dovecot, isolated_env: Path
) -> None:
    args = [
        a if a != str(dovecot.port_ssl) else str(dovecot.port_starttls) for a in setup_args(dovecot)
    ]
    done = run(*args, stdin=dovecot.password("jperez") + "\n")
    assert done.returncode == 7, done.stderr
    assert "--port" in done.stderr and "[imap]" not in done.stderr
    assert not (isolated_env / "config" / "config.toml").exists()


def test_a_malformed_email_option_is_refused(isolated_env: Path) -> None:
    done = run("setup", "--email", "ana gomez@entidad.gov.co", "--host", "x.co", stdin="")
    assert done.returncode == 2
    assert "no lleva espacios" in done.stderr
