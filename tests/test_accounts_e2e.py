"""Several mailboxes in one configuration (``[accounts.NAME]``), against a real Dovecot.

Two Dovecot users are two accounts; a third account points at a port where
nothing listens (its server is down). One account's failure never hides
another account's link.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests import mailfactory as mf
from tests.cliutil import Background, run
from tests.servers.dovecot import Dovecot, free_port

CONNECTION = 6


def account(name: str, server: Dovecot, user: str, *, port: int | None = None) -> str:
    password = server.users[user]  # URL-safe characters only: no quoting trouble
    command = f"{sys.executable} -c \"print('{password}')\""
    return (
        f"[accounts.{name}]\n"
        f'host = "{server.host}"\n'
        f"port = {port or server.port_ssl}\n"
        f'username = "{user}"\n'
        f'ca_file = "{server.ca_file}"\n'
        "timeout_seconds = 5\n"
        # no shell: the password comes from this little program, per account
        f"password_command = {json.dumps(command)}\n"
    )


def config(tmp_path: Path, *tables: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("\n".join(tables) + "\n[notify]\ndesktop = false\n", encoding="utf-8")
    return path


def reset(server: Dovecot, mailbox_user: str, secop_user: str, token: str) -> None:
    now = datetime.now(UTC)
    mail = mf.reset_mail(secop_user, mf.reset_url(token), date=now)
    server.append(mailbox_user, "INBOX", mail, date=now)


def check(cfg: Path, *extra: str, lang: str = "es") -> tuple[int, str, str]:
    done = run("--config", str(cfg), "--lang", lang, "check-now", *extra)
    return done.returncode, done.stdout, done.stderr


def test_two_mailboxes_one_down_the_other_still_reports(dovecot: Dovecot, tmp_path: Path) -> None:
    reset(dovecot, "jperez", "jperez", "work-token")
    reset(dovecot, "other", "contratos", "home-token")
    cfg = config(
        tmp_path,
        account("trabajo", dovecot, "jperez"),
        account("personal", dovecot, "other"),
        account("caido", dovecot, "other", port=free_port(dovecot.host)),
    )
    code, out, err = check(cfg, "--json")
    assert code == 0, err  # some account has a link: found
    data = json.loads(out)
    assert [a["name"] for a in data["accounts"]] == ["trabajo", "personal", "caido"]
    assert {(x["account"], x["username"], x["url"]) for x in data["current"]} == {
        ("trabajo", "jperez", mf.reset_url("work-token")),
        ("personal", "contratos", mf.reset_url("home-token")),
    }
    down = data["accounts"][2]
    assert down["report"] is None
    assert (down["error"]["code"], down["error"]["exit_code"]) == ("error.refused", CONNECTION)
    assert data["accounts"][0]["error"] is None
    assert data["accounts"][0]["report"]["folders"] == ["INBOX", "Spam"]

    code, out, _ = check(cfg)
    assert code == 0
    assert "== Cuenta «trabajo» (jperez) ==" in out
    assert "Enlace vigente para el usuario contratos:" in out
    assert "== Cuenta «caido» (other) ==\n✗ No se pudo revisar esta cuenta:" in out
    assert "Traceback" not in out


def test_no_link_anywhere_and_one_account_down_exits_with_its_error(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    cfg = config(
        tmp_path,
        account("trabajo", dovecot, "jperez"),
        account("caido", dovecot, "other", port=free_port(dovecot.host)),
    )
    code, _out, _err = check(cfg, "--json")
    assert code == CONNECTION  # nothing found, and a mailbox could not be looked at


def test_one_password_variable_for_several_accounts_is_refused(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    """It would send one account's password to the other account's server."""
    cfg = config(
        tmp_path, account("trabajo", dovecot, "jperez"), account("personal", dovecot, "other")
    )
    env = {"SECOP_WATCHER_PASSWORD": dovecot.users["jperez"]}
    done = run("--config", str(cfg), "--lang", "en", "check-now", env=env)
    assert done.returncode == 4
    assert "SECOP_WATCHER_PASSWORD is one password" in done.stderr
    done = run("--config", str(cfg), "check-now", "--account", "trabajo", env=env)
    assert done.returncode == 1, done.stderr  # one account: the variable is fine


def test_one_account_by_name(dovecot: Dovecot, tmp_path: Path) -> None:
    reset(dovecot, "other", "contratos", "home-token")
    cfg = config(
        tmp_path, account("trabajo", dovecot, "jperez"), account("personal", dovecot, "other")
    )
    code, out, err = check(cfg, "--json", "--account", "personal")
    assert code == 0, err
    data = json.loads(out)
    assert "accounts" not in data  # one account: the usual report
    assert [x["url"] for x in data["current"]] == [mf.reset_url("home-token")]
    code, out, err = check(cfg, "--account", "casa", lang="en")
    assert code == 3
    assert "there is no account by that name; the accounts are: trabajo, personal" in err


def test_wait_watches_every_account_and_names_the_one_the_link_came_to(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    no_password = account("sinclave", dovecot, "jperez").replace(
        "password_command = ", 'password_command = "false"\n# '
    )
    cfg = config(
        tmp_path,
        account("trabajo", dovecot, "jperez"),
        account("personal", dovecot, "other"),
        account("caido", dovecot, "other", port=free_port(dovecot.host)),
        no_password,  # its password cannot be had: only this account is given up
    )
    waiter = Background("--config", str(cfg), "-v", "wait", "--json", "--timeout", "1")
    waiter.wait_for("IDLE connection ready", count=4)  # two folders × two live accounts
    reset(dovecot, "other", "contratos", "arrived")
    code, out = waiter.communicate(timeout=30)
    assert code == 0, "\n".join(waiter.lines)
    data = json.loads(out)
    assert (data["account"], data["link"]["url"]) == ("personal", mf.reset_url("arrived"))
    assert any("Connection refused" in x or "rechaz" in x for x in waiter.lines), waiter.lines
    assert any("password_command" in x for x in waiter.lines), waiter.lines


def test_run_serves_every_account_one_down(
    dovecot: Dovecot, tmp_path: Path, isolated_env: Path
) -> None:
    cfg = config(
        tmp_path,
        account("trabajo", dovecot, "jperez"),
        account("caido", dovecot, "other", port=free_port(dovecot.host)),
    )
    svc = Background("--config", str(cfg), "-v", "run")
    try:
        svc.wait_for("IDLE connection ready", count=2)
        # the dead account says so (its log lines name it), and is retried on its own
        svc.wait_for("[caido] check failed")
        reset(dovecot, "jperez", "jperez", "service-token")
        svc.wait_for("[trabajo] announced a new link for jperez (INBOX)")
    finally:
        assert svc.stop() == 0
    assert (isolated_env / "state" / "state-trabajo.json").is_file()
    assert (isolated_env / "state" / "state-caido.json").is_file()  # its error is recorded


def test_doctor_checks_every_mailbox_and_names_each(dovecot: Dovecot, tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        account("trabajo", dovecot, "jperez"),
        account("caido", dovecot, "other", port=free_port()),
    )
    done = run("--config", str(cfg), "--lang", "es", "doctor")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "✓ Inicio de sesión IMAP [trabajo]: jperez" in done.stdout
    assert "✗ Conexión TCP [caido]" in done.stdout
    assert "– Inicio de sesión IMAP [caido]" in done.stdout
    assert "Última revisión del servicio [trabajo]" in done.stdout
    data = json.loads(run("--config", str(cfg), "doctor", "--json").stdout)
    logins = {c["account"]: c["status"] for c in data["checks"] if c["check"] == "login"}
    assert logins == {"trabajo": "ok", "caido": "skip"}
    only = run("--config", str(cfg), "--lang", "es", "doctor", "--account", "trabajo")
    assert "[caido]" not in only.stdout and "✓ Inicio de sesión IMAP [trabajo]" in only.stdout


def test_with_several_mailboxes_notifications_and_the_hook_name_the_mailbox(
    dovecot: Dovecot, notification_server: Any, tmp_path: Path
) -> None:
    hook_out = tmp_path / "hook.txt"
    hook = tmp_path / "hook.py"
    hook.write_text(
        "import os, sys\n"
        f"open({str(hook_out)!r}, 'a').write(os.environ['SECOP_WATCHER_ACCOUNT'] + '\\n')\n"
    )
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        account("trabajo", dovecot, "jperez")
        + account("personal", dovecot, "other")
        + f"[notify]\ndesktop = true\ncommand = {json.dumps(f'{sys.executable} {hook}')}\n"
    )
    svc = Background("--config", str(cfg), "-v", "run", env=dict(notification_server.env))
    try:
        svc.wait_for("IDLE connection ready", count=4)
        reset(dovecot, "other", "contratos", "home-token")
        shown = notification_server.wait_for_notifications(1, timeout=15)[0]
        assert shown.summary == "SECOP II: enlace para contratos"
        assert "Buzón «personal»." in shown.body
        svc.wait_for("[personal] announced a new link for contratos (INBOX)")
    finally:
        assert svc.stop() == 0
    assert hook_out.read_text() == "personal\n"
