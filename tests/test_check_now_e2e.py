"""End-to-end: the installed ``secop-watcher check-now`` against a real Dovecot."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import mailfactory as mf
from tests.cliutil import check_json, run, write_config
from tests.servers.dovecot import Dovecot, free_port

NOW = datetime.now(UTC).replace(microsecond=0)


def ago(**kw: float) -> datetime:
    return NOW - timedelta(**kw)


def url(token: str) -> str:
    return mf.reset_url(token)


@pytest.fixture
def populated(dovecot: Dovecot) -> Dovecot:
    """Resets for two users over INBOX and Spam, an expired one, a spoof, other SECOP mail."""
    put = dovecot.append
    put(
        "jperez",
        "INBOX",
        mf.reset_mail("jperez", url("jp-old"), date=ago(hours=3)),
        date=ago(hours=3),
        flags=(b"\\Seen",),
    )
    put(
        "jperez",
        "Spam",
        mf.reset_mail("jperez", url("jp-new"), date=ago(minutes=10)),
        date=ago(minutes=10),
    )
    put(
        "jperez",
        "INBOX",
        mf.reset_mail("mgomez", url("mg-new"), date=ago(hours=1)),
        date=ago(hours=1),
    )
    put(
        "jperez",
        "Spam",
        mf.reset_mail("mgomez", url("mg-old"), date=ago(hours=30)),
        date=ago(hours=30),
    )
    put(
        "jperez",
        "INBOX",
        mf.reset_mail("lgarcia", url("lg-old"), date=ago(hours=24, minutes=30)),
        date=ago(hours=24, minutes=30),
    )
    spoof = mf.reset_mail(
        "jperez",
        "https://secop-gov-actualizacion.org/reset?t=x",
        date=ago(minutes=1),
        sender='"registro@secop.gov.co" <notificaciones@secop-gov-actualizacion.org>',
    )
    put("jperez", "INBOX", spoof, date=ago(minutes=1))
    put(
        "jperez",
        "INBOX",
        mf.recover_username_mail("jperez", date=ago(minutes=2)),
        date=ago(minutes=2),
    )
    put("jperez", "INBOX", mf.notice_mail(date=ago(minutes=3)), date=ago(minutes=3))
    return dovecot


def test_newest_per_user_current_older_superseded_old_expired_spoof_suspicious(
    populated: Dovecot, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "c.toml", populated)
    code, data, err = check_json(cfg, populated.password("jperez"))
    assert code == 0, err
    assert set(data) >= {"checked_at", "folders", "current", "expired", "superseded", "suspicious"}
    assert data["folders"] == ["INBOX", "Spam"]
    current = {(x["username"], x["folder"], x["url"]) for x in data["current"]}
    assert current == {("jperez", "Spam", url("jp-new")), ("mgomez", "INBOX", url("mg-new"))}
    superseded = {(x["username"], x["folder"], x["url"]) for x in data["superseded"]}
    # mg-old is 30 h old: older than max_link_age_hours + 1 h, so only its smallest text
    # part was glanced at, and it still names its user (issue 11)
    assert superseded == {("jperez", "INBOX", url("jp-old")), ("mgomez", "Spam", url("mg-old"))}
    assert [(x["username"], x["url"]) for x in data["expired"]] == [("lgarcia", url("lg-old"))]
    assert data["unopened"] == []
    assert len(data["suspicious"]) == 1
    spoof = data["suspicious"][0]
    assert spoof["sender"] == "notificaciones@secop-gov-actualizacion.org"
    assert "sender_mismatch" in spoof["reasons"]
    assert "host_not_allowed" in spoof["reasons"]
    assert "url" not in spoof
    every_url = str(data["current"]) + str(data["expired"]) + str(data["superseded"])
    assert "secop-gov-actualizacion" not in every_url
    for link in data["current"]:
        assert set(link) == {"username", "url", "received", "folder", "message_id", "verified"}
        assert datetime.fromisoformat(link["received"]).tzinfo is not None


def test_mailbox_unchanged_byte_for_byte_and_flag_for_flag(
    populated: Dovecot, tmp_path: Path
) -> None:
    before_imap = populated.snapshot("jperez")
    before_files = populated.maildir_snapshot("jperez")
    unseen_before = sum(
        1 for msgs in before_imap.values() for _u, flags, _h in msgs if b"\\Seen" not in flags
    )
    assert unseen_before >= 5  # the check must find unseen mail and leave it unseen
    cfg = write_config(tmp_path / "c.toml", populated)
    for _ in range(2):
        code, _data, err = check_json(cfg, populated.password("jperez"))
        assert code == 0, err
    assert (
        run(
            "--config",
            str(cfg),
            "check-now",
            env={"SECOP_WATCHER_PASSWORD": populated.password("jperez")},
        ).returncode
        == 0
    )
    assert populated.snapshot("jperez") == before_imap
    assert populated.maildir_snapshot("jperez") == before_files


def test_spanish_text_output_names_user_folder_and_link(populated: Dovecot, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", populated)
    done = run(
        "--config",
        str(cfg),
        "check-now",
        env={"SECOP_WATCHER_PASSWORD": populated.password("jperez"), "LANG": "es_CO.UTF-8"},
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Enlace vigente para el usuario jperez:" in out
    assert f"  {url('jp-new')}\n" in out
    assert "a la carpeta Spam" in out
    assert "Usuario lgarcia: el último enlace llegó" in out
    # each user's replaced links on a line of their own
    assert "Usuario jperez: 1 enlace anterior ya no sirve" in out
    assert "Usuario mgomez: 1 enlace anterior ya no sirve" in out
    assert "⚠ Correo sospechoso en INBOX" in out
    assert "notificaciones@secop-gov-actualizacion.org" in out
    assert url("jp-old") not in out  # a superseded link is never printed as text
    assert url("mg-old") not in out
    assert "secop-gov-actualizacion.org/reset" not in out
    english = run(
        "--config",
        str(cfg),
        "--lang",
        "en",
        "check-now",
        env={"SECOP_WATCHER_PASSWORD": populated.password("jperez")},
    )
    assert "Link to use for user jperez:" in english.stdout


def test_spam_folders_found_by_name_without_special_use(
    dovecot_names: Dovecot, tmp_path: Path
) -> None:
    server = dovecot_names
    server.append(
        "jperez",
        "Correo no deseado",
        mf.reset_mail("jperez", url("in-correo"), date=ago(minutes=5)),
        date=ago(minutes=5),
    )
    server.append(
        "jperez",
        "[Gmail]/Spam",
        mf.reset_mail("mgomez", url("in-gmail"), date=ago(minutes=7)),
        date=ago(minutes=7),
    )
    server.append(
        "jperez",
        "Archivo",
        mf.reset_mail("otro", url("in-archive"), date=ago(minutes=1)),
        date=ago(minutes=1),
    )
    cfg = write_config(tmp_path / "c.toml", server)
    code, data, err = check_json(cfg, server.password("jperez"))
    assert code == 0, err
    assert sorted(data["folders"]) == sorted(["INBOX", "Correo no deseado", "[Gmail]/Spam"])
    assert {(x["username"], x["folder"]) for x in data["current"]} == {
        ("jperez", "Correo no deseado"),
        ("mgomez", "[Gmail]/Spam"),
    }


def test_configured_folders_are_used_and_missing_ones_reported(
    dovecot_names: Dovecot, tmp_path: Path
) -> None:
    server = dovecot_names
    server.append(
        "jperez",
        "Archivo",
        mf.reset_mail("otro", url("in-archive"), date=ago(minutes=1)),
        date=ago(minutes=1),
    )
    cfg = write_config(tmp_path / "c.toml", server, extra_imap='folders = ["Archivo", "No existe"]')
    code, data, err = check_json(cfg, server.password("jperez"))
    assert code == 0, err
    assert data["folders"] == ["Archivo"]
    assert {"code": "folder_missing", "detail": "No existe"} in data["warnings"]


def test_starttls(populated: Dovecot, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", populated, security="starttls")
    code, data, err = check_json(cfg, populated.password("jperez"))
    assert code == 0, err
    assert len(data["current"]) == 2


def test_nothing_found_exits_1(dovecot: Dovecot, tmp_path: Path) -> None:
    dovecot.append("jperez", "INBOX", mf.notice_mail(date=ago(minutes=3)), date=ago(minutes=3))
    cfg = write_config(tmp_path / "c.toml", dovecot)
    code, data, err = check_json(cfg, dovecot.password("jperez"))
    assert code == 1, err
    assert data["current"] == [] and data["folders"] == ["INBOX", "Spam"]
    done = run(
        "--config",
        str(cfg),
        "check-now",
        env={"SECOP_WATCHER_PASSWORD": dovecot.password("jperez")},
    )
    assert "No hay ningún enlace vigente" in done.stdout


def test_wrong_password_exits_5_without_echoing_it(dovecot: Dovecot, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot)
    done = run("--config", str(cfg), "check-now", env={"SECOP_WATCHER_PASSWORD": "Wr0ngPass!"})
    assert done.returncode == 5
    assert "rechazó el usuario jperez o la contraseña" in done.stderr
    assert "Wr0ngPass!" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_server_down_exits_6(tmp_path: Path, dovecot: Dovecot) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot, port=free_port())
    done = run("--config", str(cfg), "check-now", env={"SECOP_WATCHER_PASSWORD": "x"})
    assert done.returncode == 6
    assert "rechazó la conexión" in done.stderr
    assert "Traceback" not in done.stderr


def test_untrusted_certificate_exits_7_and_names_ca_file(dovecot: Dovecot, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot, ca=False)
    done = run(
        "--config",
        str(cfg),
        "check-now",
        env={"SECOP_WATCHER_PASSWORD": dovecot.password("jperez")},
    )
    assert done.returncode == 7
    assert "ca_file" in done.stderr
    assert "no es de confianza" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("cert", ["wronghost", "expired", "selfsigned"])
def test_bad_certificates_exit_7(dovecot_factory: object, tmp_path: Path, cert: str) -> None:
    server: Dovecot = dovecot_factory(cert=cert)  # type: ignore[operator]
    cfg = write_config(tmp_path / "c.toml", server)
    done = run(
        "--config",
        str(cfg),
        "--lang",
        "en",
        "check-now",
        env={"SECOP_WATCHER_PASSWORD": server.password("jperez")},
    )
    assert done.returncode == 7, done.stderr
    assert "is not trusted" in done.stderr
    expected = {"wronghost": "mismatch", "expired": "expired", "selfsigned": "self"}[cert]
    assert expected in done.stderr.lower()


def test_starttls_refused_when_server_does_not_offer_it(
    dovecot_factory: object, tmp_path: Path
) -> None:
    server: Dovecot = dovecot_factory(no_tls=True)  # type: ignore[operator]
    cfg = write_config(tmp_path / "c.toml", server, security="starttls", port=server.port_plain)
    done = run(
        "--config", str(cfg), "check-now", env={"SECOP_WATCHER_PASSWORD": server.password("jperez")}
    )
    assert done.returncode == 7
    assert "no ofrece STARTTLS" in done.stderr


def test_an_html_attachment_before_the_body_is_not_taken_for_the_mail(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    """Only the text part is fetched: it must be the body, never an attached .html file."""
    import email
    import email.policy
    from email.message import EmailMessage

    genuine = email.message_from_bytes(
        mf.reset_mail("jperez", url("with-attachment"), date=ago(minutes=4)),
        policy=email.policy.default,
    )
    assert isinstance(genuine, EmailMessage)
    outer = EmailMessage()
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        outer[name] = genuine[name]
    outer.make_mixed()
    attached = EmailMessage()
    attached.set_content(
        "<p>Acta adjunta</p>", subtype="html", disposition="attachment", filename="acta.html"
    )
    outer.attach(attached)
    body = EmailMessage()
    body.make_alternative()
    for part in genuine.iter_parts():
        body.attach(part)
    outer.attach(body)
    raw = outer.as_bytes(policy=email.policy.SMTP)
    dovecot.append("jperez", "INBOX", raw, date=ago(minutes=4))
    cfg = write_config(tmp_path / "c.toml", dovecot)
    code, data, err = check_json(cfg, dovecot.password("jperez"))
    assert code == 0, err
    assert [x["url"] for x in data["current"]] == [url("with-attachment")]


@pytest.mark.parametrize("date_header", [None, b"Date: not a date at all"])
def test_a_reset_without_a_readable_date_header_is_still_found(
    dovecot: Dovecot, tmp_path: Path, date_header: bytes | None
) -> None:
    """The search goes by the ``Date:`` header (fast on the server's index): a mail
    with none, or an unreadable one, must still be found (``SENTBEFORE 2-Jan-1970``)."""
    raw = mf.reset_mail("jperez", url("no-date"), date=NOW)
    lines = [line for line in raw.split(b"\n") if not line.startswith(b"Date:")]
    if date_header is not None:
        lines.insert(1, date_header + b"\r")
    dovecot.append("jperez", "INBOX", b"\n".join(lines), date=ago(minutes=5))
    code, data, err = check_json(
        write_config(tmp_path / "c.toml", dovecot), dovecot.password("jperez")
    )
    assert code == 0, err
    assert [x["url"] for x in data["current"]] == [url("no-date")]


# --- --open, --copy and --user (issue 14) ----------------------------------------------


def browser_script(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in browser for ``BROWSER``: it writes the address it was given to a file."""
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{opened}"\n')
    browser.chmod(0o755)
    return browser, opened


def open_copy_env(populated: Dovecot, display: dict[str, str], browser: Path) -> dict[str, str]:
    return {
        **display,
        "SECOP_WATCHER_PASSWORD": populated.password("jperez"),
        "BROWSER": str(browser),
    }


def test_open_and_copy_the_link_of_the_user_named_case_insensitively(
    populated: Dovecot, notification_server: object, tmp_path: Path
) -> None:
    from tests.notifyserver import clipboard_text

    cfg = write_config(tmp_path / "c.toml", populated)
    browser, opened = browser_script(tmp_path)
    env = open_copy_env(populated, notification_server.env, browser)  # type: ignore[attr-defined]
    done = run(
        "--config", str(cfg), "check-now", "--open", "--copy", "--user", "MGomez",
        env=env, stdin="",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert opened.read_text() == url("mg-new")
    assert clipboard_text(env) == url("mg-new")
    lines = done.stdout.splitlines()
    assert lines[-2:] == ["Abierto en su navegador.", "Copiado al portapapeles."]
    assert "Enlace vigente para el usuario jperez:" in done.stdout  # the report is all there


def test_json_stays_one_object_and_the_notes_go_to_stderr(
    populated: Dovecot, notification_server: object, tmp_path: Path
) -> None:
    from tests.notifyserver import clipboard_text

    cfg = write_config(tmp_path / "c.toml", populated)
    browser, _opened = browser_script(tmp_path)
    env = open_copy_env(populated, notification_server.env, browser)  # type: ignore[attr-defined]
    done = run(
        "--config", str(cfg), "check-now", "--json", "--copy", "--user", "jperez",
        env=env, stdin="",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {x["username"] for x in json.loads(done.stdout)["current"]} == {"jperez", "mgomez"}
    assert "Copiado al portapapeles." in done.stderr
    assert clipboard_text(env) == url("jp-new")


def test_unknown_user_is_one_line_naming_the_users_and_exit_11(
    populated: Dovecot, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "c.toml", populated)
    browser, opened = browser_script(tmp_path)
    env = open_copy_env(populated, {"DISPLAY": ":99"}, browser)
    done = run("--config", str(cfg), "check-now", "--open", "--user", "lgarcia", env=env)
    assert done.returncode == 11, done.stderr
    [line] = [x for x in done.stdout.splitlines() if "lgarcia»" in x]
    assert re.fullmatch(
        r"No hay enlace vigente para el usuario «lgarcia»; los usuarios con enlace vigente "
        r"son: (jperez, mgomez|mgomez, jperez)\. No se abrió ni se copió nada\.",
        line,
    ), line
    assert not opened.exists()


def test_several_users_and_no_terminal_does_nothing_and_says_so(
    populated: Dovecot, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "c.toml", populated)
    browser, opened = browser_script(tmp_path)
    env = open_copy_env(populated, {"DISPLAY": ":99", "LANG": "en_US.UTF-8"}, browser)
    done = run("--config", str(cfg), "check-now", "--open", env=env, stdin="")
    assert done.returncode == 11, done.stderr
    assert "no terminal to ask which one: name it with --user NAME" in done.stdout
    assert "Nothing was opened or copied." in done.stdout
    assert not opened.exists()
    assert "Opened in your browser" not in done.stdout


def test_several_users_on_a_terminal_are_asked_which_one(
    populated: Dovecot, tmp_path: Path
) -> None:
    import pexpect

    from tests.cliutil import executable

    cfg = write_config(tmp_path / "c.toml", populated)
    browser, opened = browser_script(tmp_path)
    env = {**os.environ, **open_copy_env(populated, {"DISPLAY": ":99"}, browser)}
    child = pexpect.spawn(
        executable(), ["--config", str(cfg), "check-now", "--open"], env=env,
        encoding="utf-8", timeout=30,
    )  # fmt: skip
    try:
        child.expect("Hay enlaces vigentes para varios usuarios de SECOP:")
        child.expect(r"¿Cuál usar\? Escriba el número \(Enter: ninguno\): ")
        menu = child.before
        number = re.search(r"(\d)\) mgomez: llegó .* a la carpeta INBOX", menu)
        assert number, menu
        child.sendline("7")  # a typo: asked again, nothing opened
        child.expect("Escriba un número del 1 al 2, o solo Enter para ninguno.")
        child.expect(r"¿Cuál usar\?")
        child.sendline(number.group(1))
        child.expect("Abierto en su navegador.")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert opened.read_text() == url("mg-new")


def test_enter_on_the_terminal_means_none(populated: Dovecot, tmp_path: Path) -> None:
    import pexpect

    from tests.cliutil import executable

    cfg = write_config(tmp_path / "c.toml", populated)
    browser, opened = browser_script(tmp_path)
    env = {**os.environ, **open_copy_env(populated, {"DISPLAY": ":99"}, browser)}
    child = pexpect.spawn(
        executable(), ["--config", str(cfg), "check-now", "--copy"], env=env,
        encoding="utf-8", timeout=30,
    )  # fmt: skip
    try:
        child.expect(r"¿Cuál usar\?")
        child.sendline("")
        child.expect("No se abrió ni se copió ningún enlace.")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert not opened.exists()


def test_one_current_link_needs_no_user_and_no_display_is_said_plainly(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    dovecot.append(
        "jperez", "INBOX", mf.reset_mail("jperez", url("only"), date=ago(minutes=4)),
        date=ago(minutes=4),
    )  # fmt: skip
    cfg = write_config(tmp_path / "c.toml", dovecot)
    env = {
        "SECOP_WATCHER_PASSWORD": dovecot.password("jperez"),
        "DISPLAY": "",
        "WAYLAND_DISPLAY": "",
        "BROWSER": "",
    }
    done = run("--config", str(cfg), "check-now", "--open", "--copy", env=env, stdin="")
    assert done.returncode == 0, done.stderr
    assert f"  {url('only')}\n" in done.stdout
    assert "No se abrió el navegador: esta sesión no tiene pantalla gráfica" in done.stdout
    assert "No se copió: esta sesión no tiene pantalla gráfica" in done.stdout
    assert "Abierto en su navegador" not in done.stdout
    assert "xclip" not in done.stdout + done.stderr  # no display: no tool is to blame


def test_user_without_open_or_copy_is_a_usage_error(tmp_path: Path) -> None:
    done = run("check-now", "--user", "jperez")
    assert done.returncode == 2
    assert "--user elige qué enlace abrir o copiar: úselo con --open o --copy." in done.stderr
