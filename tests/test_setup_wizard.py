"""``secop-watcher setup`` as a user meets it: the installed command in a pseudo-terminal,
inside a network namespace whose DNS, autoconfig web servers and Dovecot are the tests'
own (tests/servers/dnsworld.py). Nothing is mocked: the names are looked up by dnspython
and getaddrinfo through the namespace's resolv.conf, the files fetched over https."""

from __future__ import annotations

import json
import subprocess
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pexpect
import pytest

from tests import mailfactory as mf
from tests.cliutil import executable
from tests.servers.dnsworld import HOSPITAL_PORT, World, world

__all__ = ["world"]  # the fixture

pytestmark = pytest.mark.dovecot


def spawn(w: World, *args: str) -> pexpect.spawn:
    """The installed command inside the namespace, on a pseudo-terminal, as a user runs it."""
    child = pexpect.spawn(
        w.command(executable(), *args)[0],
        w.command(executable(), *args)[1:],
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    child.delaybeforesend = 0.05
    return child


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    return int(child.exitstatus if child.exitstatus is not None else -1)


def config(home: Path) -> dict[str, object]:
    return tomllib.loads((home / "config" / "config.toml").read_text())


def keyring(home: Path) -> dict[str, str]:
    path = home / "keyring.json"
    return json.loads(path.read_text()) if path.exists() else {}


def check_now(w: World) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        w.command(executable(), "check-now", "--json"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_new_user_with_only_address_and_password_reaches_the_first_link(
    world: World, isolated_env: Path
) -> None:
    """The issue's "done when": nothing configured, the user knows their address and
    password; the entity publishes an autoconfig file; setup, then check-now, gives the link."""
    password = world.imap.password("jperez")
    child = spawn(world, "setup")
    child.expect_exact("Solo necesita su correo electrónico y su contraseña.")
    child.expect_exact("Su correo electrónico (p. ej. ana.gomez@entidad.gov.co): ")
    child.sendline("jperez@alcaldia.gov.co")
    child.expect_exact("Su entidad publica los datos de su correo: el servidor es imap.alcaldia")
    child.expect_exact("Contraseña de su correo (no se ve mientras la escribe): ")
    child.sendline(password)
    child.expect_exact("Inicio de sesión correcto.")
    child.expect_exact("Carpeta de spam: Spam")
    child.expect_exact("Listo. Pruebe ahora: secop-watcher check-now")
    transcript = child.before or ""
    assert finish(child) == 0
    assert password not in transcript  # not echoed
    assert config(isolated_env)["imap"] == {
        "host": "imap.alcaldia.gov.co",
        "port": 993,
        "security": "ssl",
        "username": "jperez",  # the file's %EMAILLOCALPART%
        "folders": [],
    }
    assert keyring(isolated_env) == {"secop-watcher\0jperez": password}
    # What discovery asked: the address to the entity's own https server, never the password.
    asked = [(r["scheme"], r["host"], r["query"]) for r in world.web.requests]
    assert ("https", "autoconfig.alcaldia.gov.co", "emailaddress=jperez%40alcaldia.gov.co") in asked
    assert all(r["query"] == "" for r in world.web.requests if r["scheme"] == "http")
    assert not any(password in json.dumps(r) for r in world.web.requests)

    now = datetime.now(UTC)
    url = mf.reset_url("primer-enlace")
    world.imap.append("jperez", "Spam", mf.reset_mail("jperez", url, date=now), date=now)
    done = check_now(world)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["current"][0]["url"] == url


def test_typos_are_asked_again_and_an_unfound_server_is_asked_with_help(
    world: World, isolated_env: Path
) -> None:
    """Every wrong answer is asked again with its reason; nothing found, so the menu, then
    the server's name, and (it answers on no usual port) the encryption and the port."""
    password = world.imap.password("jperez")
    child = spawn(world, "setup")
    for typo, reason in [
        ("ana.gomez", "una sola @"),
        ("ana gomez@hospital.gov.co", "no lleva espacios"),
        ("", "No escribió nada"),
        ("ana@hospital", "el dominio completo"),
    ]:
        child.expect_exact("Su correo electrónico")
        child.sendline(typo)
        child.expect_exact(reason)
        child.expect_exact("Inténtelo de nuevo.")
    child.expect_exact("Su correo electrónico")
    child.sendline("jperez@hospital.gov.co")
    child.expect_exact("No se pudo averiguar solo dónde está su correo.")
    for answer in ("5", "", "dos"):
        child.expect_exact("4) Otro: el de su entidad")
        child.expect_exact("Escriba el número: ")
        child.sendline(answer)
        child.expect_exact("Escriba solo el número de una opción.")
    child.expect_exact("Escriba el número: ")
    child.sendline("4")
    child.expect_exact("pregúntele al área de sistemas de su entidad")
    child.sendline("https://correo.hospital.gov.co/")
    child.expect_exact("sin https://")
    child.sendline("correo.hospital.gov.co")
    child.expect_exact("no respondió en los puertos de siempre (993 y 143)")
    child.expect_exact("pregúntele al área de sistemas de su entidad.")
    child.expect_exact("1) desde el primer momento: lo más común (SSL/TLS, puerto 993)")
    child.expect_exact("Escriba el número [1]: ")
    child.sendline("3")
    child.expect_exact("Escriba solo el número de una opción.")
    child.sendline("1")
    child.expect_exact("Número de puerto del servidor [993]: ")
    child.sendline("noventa")
    child.expect_exact("El puerto es un número")
    child.sendline(str(HOSPITAL_PORT))
    child.expect_exact("Contraseña de su correo")
    child.sendline("")
    child.expect_exact("La contraseña está vacía.")
    child.expect_exact("Contraseña de su correo")
    child.sendline(password)
    # The server's user is "jperez", not the address: refused, and the user name asked.
    child.expect_exact("no aceptó el usuario jperez@hospital.gov.co")
    child.expect_exact("2) cambiar el usuario (ahora: jperez@hospital.gov.co) y la contraseña")
    child.sendline("2")
    child.expect_exact("Usuario con el que entra a su correo")
    child.sendline("j perez")
    child.expect_exact("El usuario no lleva espacios.")
    child.sendline("jperez")
    child.expect_exact("Contraseña de su correo")
    child.sendline(password)
    child.expect_exact("Inicio de sesión correcto.")
    assert finish(child) == 0
    imap = config(isolated_env)["imap"]
    assert isinstance(imap, dict)
    assert (imap["host"], imap["port"], imap["security"], imap["username"]) == (
        "correo.hospital.gov.co",
        HOSPITAL_PORT,
        "ssl",
        "jperez",
    )


def test_wrong_password_is_asked_again_inside_setup(world: World, isolated_env: Path) -> None:
    password = world.imap.password("jperez")
    child = spawn(world, "setup", "--email", "jperez@alcaldia.gov.co")
    child.expect_exact("Contraseña de su correo")
    child.sendline("no-es-esta")
    child.expect_exact("El servidor imap.alcaldia.gov.co no aceptó el usuario jperez")
    child.expect_exact("1) escribir la contraseña otra vez")
    child.expect_exact("Escriba el número: ")
    child.sendline("1")
    child.expect_exact("Contraseña de su correo")  # only that is asked again
    child.sendline(password)
    child.expect_exact("Inicio de sesión correcto.")
    assert finish(child) == 0
    assert keyring(isolated_env) == {"secop-watcher\0jperez": password}
    assert config(isolated_env)["imap"]["host"] == "imap.alcaldia.gov.co"  # type: ignore[index]


def test_giving_up_after_a_wrong_password_writes_nothing(world: World, isolated_env: Path) -> None:
    child = spawn(world, "setup", "--email", "jperez@alcaldia.gov.co")
    child.expect_exact("Contraseña de su correo")
    child.sendline("no-es-esta")
    child.expect_exact("3) salir sin guardar nada")
    child.sendline("3")
    child.expect_exact("No se guardó nada.")
    assert finish(child) == 5
    assert not (isolated_env / "config" / "config.toml").exists()
    assert keyring(isolated_env) == {}


def test_well_known_autoconfig_and_starttls_in_english(world: World, isolated_env: Path) -> None:
    """Only https://<domain>/.well-known/autoconfig/… is published, for STARTTLS on 143."""
    child = spawn(world, "--lang", "en", "setup")
    child.expect_exact("Your e-mail address")
    child.sendline("jperez@gobernacion.gov.co")
    child.expect_exact("Your organisation publishes its mail settings: the server is imap.gob")
    child.expect_exact("Your mail password (not shown while you type): ")
    child.sendline(world.imap.password("jperez"))
    child.expect_exact("Login succeeded.")
    assert finish(child) == 0
    imap = config(isolated_env)["imap"]
    assert isinstance(imap, dict)
    assert (imap["host"], imap["port"], imap["security"]) == (
        "imap.gobernacion.gov.co",
        143,
        "starttls",
    )
    paths = [(r["host"], r["path"]) for r in world.web.requests if r["scheme"] == "https"]
    assert ("gobernacion.gov.co", "/.well-known/autoconfig/mail/config-v1.1.xml") in paths


def test_microsoft_365_by_mx_goes_straight_to_the_microsoft_sign_in(
    world: World, isolated_env: Path
) -> None:
    """MX at *.mail.protection.outlook.com: no menu, no password; Microsoft's sign-in starts
    (login.microsoftonline.com does not exist in the namespace: it stops there)."""
    child = spawn(world, "setup", "--email", "jperez@ministerio.gov.co")
    child.expect_exact("El correo de su entidad está en Outlook, Hotmail o Microsoft 365.")
    child.expect_exact("no se escribe la contraseña aquí")
    code = finish(child)
    out = child.before or ""
    assert "Contraseña de su correo" not in out and "¿Quién le da el correo?" not in out
    assert code == 6, out
    assert "login.microsoftonline.com" in out and "Traceback" not in out
    assert not (isolated_env / "config" / "config.toml").exists()
    assert ("ministerio.gov.co", "MX") in world.dns.asked


def test_google_by_mx_and_an_unreachable_server_offers_to_change_it(
    world: World, isolated_env: Path
) -> None:
    """MX at aspmx.l.google.com: Gmail's questions; imap.gmail.com does not exist in the
    namespace, so the login fails and setup says what to change, in plain words."""
    child = spawn(world, "setup", "--email", "jperez@colegio.edu.co")
    child.expect_exact("El correo de su entidad está en Gmail / Google.")
    child.expect_exact("¿Cómo entrar a Gmail?")
    child.sendline("1")
    child.expect_exact("myaccount.google.com/apppasswords")
    child.expect_exact("Contraseña de su correo")
    child.sendline("abcd efgh ijkl mnop")
    child.expect_exact("No se encontró el servidor imap.gmail.com")
    child.expect_exact("1) cambiar el servidor, el puerto o la forma de cifrar")
    child.sendline("3")
    child.expect_exact("No se guardó nada.")
    out = child.before or ""
    assert finish(child) == 6  # a connection problem
    assert "[imap]" not in out  # no keys of a file that does not exist


def test_a_certificate_of_the_entitys_own_ca_is_asked_for(
    world: World, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This machine does not trust the server's CA (as with an entity's private CA): setup
    says so, asks for the file, and tries again with it."""
    monkeypatch.delenv("SSL_CERT_FILE")
    password = world.imap.password("jperez")
    child = spawn(world, "setup", "--email", "jperez@hospital.gov.co", "--username", "jperez")
    child.expect_exact("Escriba el número: ")
    child.sendline("4")
    child.expect_exact("servidor de correo de su entidad")
    child.sendline("correo.hospital.gov.co")
    child.expect_exact("Escriba el número [1]: ")
    child.sendline("1")
    child.expect_exact("[993]: ")
    child.sendline(str(HOSPITAL_PORT))
    child.expect_exact("Contraseña de su correo")
    child.sendline(password)
    child.expect_exact("un certificado que este equipo no reconoce")
    child.expect_exact("1) indicar el archivo del certificado")
    child.sendline("1")
    child.expect_exact("Ruta del archivo del certificado")
    child.sendline("/no/existe.pem")
    child.expect_exact("No se encontró ese archivo")
    child.sendline(f'"{world.ca}"')  # pasted with quotes, as Windows' «Copiar como ruta»
    child.expect_exact("Inicio de sesión correcto.")
    assert finish(child) == 0
    assert config(isolated_env)["imap"]["ca_file"] == str(world.ca)  # type: ignore[index]
