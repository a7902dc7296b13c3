"""``secop-watcher doctor`` against the real Dovecot and the real notification server."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from desktop_notifier import Capability, Notification
from desktop_notifier.backends.base import DesktopNotifierBackend
from desktop_notifier.backends.dummy import DummyNotificationCenter

from tests.cliutil import run, write_config
from tests.servers.dovecot import Dovecot
from watcher import credentials, diagnose, render
from watcher.notify import platforms


def doctor(cfg: Path | None, env: dict[str, str], *extra: str) -> tuple[int, str, str]:
    args = ["--config", str(cfg)] if cfg else []
    done = run(*args, "doctor", *extra, env=env)
    return done.returncode, done.stdout, done.stderr


def test_all_good_except_the_service(
    dovecot: Dovecot, notification_server: Any, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot)
    credentials.store_password("jperez", dovecot.password("jperez"))
    code, out, err = doctor(cfg, notification_server.env)
    assert code == 0, out + err  # mail can be checked; the missing service is only ⚠
    assert f"✓ Configuración: {cfg}" in out
    assert "✓ Contraseña: disponible (de keyring)" in out
    assert "✓ DNS: 127.0.0.1 → 127.0.0.1" in out
    assert re.search(r"✓ Conexión TCP: 127\.0\.0\.1:\d+ \(\d+ ms\)", out)
    assert re.search(
        r"✓ TLS \(certificado\): ssl; certificado de .+, vence el \d{4}-\d\d-\d\d", out
    )
    assert "✓ Inicio de sesión IMAP: jperez" in out
    assert "✓ Carpetas: INBOX, Spam — spam: Spam (por su atributo \\Junk)" in out
    assert "✓ Avisos al instante (IMAP IDLE): IDLE" in out
    assert re.search(r"✓ Servidor de notificaciones: dunst", out)
    assert "⚠ Servicio de sesión" in out and "secop-watcher service install" in out
    assert "– Última revisión del servicio: el servicio aún no ha revisado" in out
    assert "✗" not in out
    assert out.rstrip().endswith("Las líneas con ⚠ no lo impiden, pero conviene atenderlas "
                                 "(avisos en el escritorio, servicio de sesión).")  # fmt: skip
    assert dovecot.password("jperez") not in out + err
    assert "Traceback" not in err


def test_untrusted_certificate_names_ca_file_and_skips_the_rest(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot, ca=False)
    env = {"SECOP_WATCHER_PASSWORD": dovecot.password("jperez"), "LANG": "en_US.UTF-8"}
    code, out, err = doctor(cfg, env)
    assert code == 1
    assert "✗ TLS (certificate): ssl" in out
    assert "ca_file" in out
    assert "– IMAP login" in out and "– Folders" in out
    assert "✓ Password: available (from SECOP_WATCHER_PASSWORD)" in out
    assert dovecot.password("jperez") not in out + err


def test_wrong_password_is_one_clear_line(dovecot: Dovecot, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot)
    code, out, err = doctor(cfg, {"SECOP_WATCHER_PASSWORD": "Not-Right-123"})
    assert code == 1
    assert "✗ Inicio de sesión IMAP: jperez" in out
    assert "rechazó el usuario jperez o la contraseña" in out
    assert "Not-Right-123" not in out + err


def test_missing_config_and_json(tmp_path: Path) -> None:
    code, out, err = doctor(tmp_path / "none.toml", {}, "--json")
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False
    statuses = {c["check"]: c["status"] for c in data["checks"]}
    assert statuses["config"] == "fail"
    assert statuses["login"] == "skip" and statuses["tls"] == "skip"
    assert "secop-watcher setup" in data["checks"][0]["fix"]
    assert "Traceback" not in err


def test_no_keyring_backend_is_flagged_with_the_alternatives(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot)
    env = {
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "SECOP_WATCHER_PASSWORD": dovecot.password("jperez"),
    }
    code, out, _err = doctor(cfg, env)
    assert code == 0, out  # the variable works: mail can be checked
    assert "⚠ Llavero (keyring): Keyring" in out
    assert "password_command" in out
    assert "✓ Inicio de sesión IMAP: jperez" in out  # the variable still works


def test_keyring_missing_and_needed_is_a_failure(dovecot: Dovecot, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", dovecot)
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    code, out, _err = doctor(cfg, env, "--json")
    assert code == 1
    data = json.loads(out)
    statuses = {c["check"]: c["status"] for c in data["checks"]}
    assert statuses["keyring"] == "warn" and statuses["password"] == "fail"
    assert data["ok"] is False


def test_headless_machine_with_working_mail_exits_0(dovecot: Dovecot, tmp_path: Path) -> None:
    """No desktop session (no session bus, no display, no systemd user manager): the
    desktop lines are ⚠, and exit 0 says that mail can be checked."""
    cfg = write_config(tmp_path / "c.toml", dovecot)
    env = {
        "SECOP_WATCHER_PASSWORD": dovecot.password("jperez"),
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus'}",
        "DISPLAY": "",
        "WAYLAND_DISPLAY": "",
        "XDG_RUNTIME_DIR": str(tmp_path / "no-runtime"),
        "LANG": "en_US.UTF-8",
    }
    code, out, err = doctor(cfg, env, "--json")
    assert code == 0, out + err
    data = json.loads(out)
    statuses = {c["check"]: c["status"] for c in data["checks"]}
    for check in ("config", "password", "dns", "tcp", "tls", "login", "folders"):
        assert statuses[check] == "ok", (check, data)
    assert statuses["notifications"] == "warn"
    assert statuses["service"] == "warn"
    assert data["ok"] is True and data["warnings"] >= 2
    text = doctor(cfg, env)[1]
    assert "⚠ Notification server" in text and "⚠ Login service" in text
    assert "Result: mail can be checked. The lines marked ⚠ do not stop it" in text


def test_only_the_mail_checks_can_fail() -> None:
    """Whatever a caller says, only the mail checks can be ✗ (so exit 0 keeps its meaning)."""
    report = diagnose.DoctorReport()
    for check in ("notifications", "service", "keyring", "idle", "last_check"):
        report.add(check, diagnose.FAIL, "x")
    assert {line.status for line in report.lines} == {diagnose.WARN}
    mail_ok = report.ok
    report.add("folders", diagnose.FAIL, "x")
    assert mail_ok and not report.ok
    text = render.render(report, as_json=False, lang="es", config=None)
    assert "✗ Carpetas: x" in text and "⚠ Servicio de sesión: x" in text
    assert text.endswith("el correo NO se puede revisar; corrija primero las líneas con ✗.")


# --- the service's state: the same words in doctor and in service status --------------


def test_doctor_and_service_status_say_the_same_about_an_installed_service(
    tmp_path: Path,
) -> None:
    """Here systemctl --user has no bus: state unknown. Both must say so, in one wording
    (doctor used to say "Instalado pero detenido" where status said "desconocido")."""
    units = tmp_path / "units"
    units.mkdir()
    (units / "secop-watcher.service").write_text("[Service]\nExecStart=/bin/true\n")
    env = {"SECOP_WATCHER_SYSTEMD_DIR": str(units)}
    status = run("service", "status", env=env)
    [state] = [line for line in status.stdout.splitlines() if line.startswith("Estado: ")]
    _code, out, _err = doctor(tmp_path / "none.toml", env)
    [line] = [x for x in out.splitlines() if "Servicio de sesión" in x]
    assert line.endswith(f"{units / 'secop-watcher.service'} — {state}"), (line, state)
    if "desconocido" in state:
        assert "Instalado pero detenido" not in out
        assert "secop-watcher service status" in out


@pytest.mark.parametrize(
    ("answer", "word"),
    [
        (None, "Estado: desconocido (systemctl --user no se puede usar aquí)"),
        ("inactive", "Estado: detenido"),
        ("failed", "Estado: detenido (failed)"),
        ("active", "Estado: en ejecución"),
    ],
)
def test_service_state_words_are_shared(
    answer: str | None, word: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watcher.install import control
    from watcher.install import render as service_render

    def systemctl(argv: Sequence[str]) -> control.Called:
        assert list(argv[:3]) == ["systemctl", "--user", "is-active"]
        if answer is None:
            return control.Called(False, "", ("service.no_program", {"program": "x"}), True)
        return control.Called(answer == "active", answer + "\n")

    units = tmp_path / "units"
    units.mkdir()
    (units / "secop-watcher.service").write_text("[Service]\n")
    host = control.Host(
        platform="linux",
        environ={"SECOP_WATCHER_SYSTEMD_DIR": str(units)},
        home=tmp_path,
        uid=1000,
        argv0=None,
        executable="python",
        run=systemctl,
    )
    monkeypatch.setattr(control.Host, "current", classmethod(lambda cls: host))
    status_text = service_render.service_status_text(control.status(host).data, "es")
    assert word in status_text.splitlines()
    report = diagnose.DoctorReport()
    diagnose._service(report, "es")
    [line] = report.lines
    assert line.detail == f"{units / 'secop-watcher.service'} — {word}"
    assert line.status == ("ok" if answer == "active" else "warn")
    if answer is None:
        assert "Instalado pero detenido" not in line.fix
        assert "systemctl --user" in line.fix
    elif answer != "active":
        assert "Instalado pero detenido" in line.fix


# --- the notification line on Windows and macOS (their facts injected) ----------------


class Native(DesktopNotifierBackend):
    """Stands in for WinRTDesktopNotifier / CocoaNotificationCenter."""

    granted = True

    async def request_authorisation(self) -> bool:
        return self.granted

    async def has_authorisation(self) -> bool:
        return self.granted

    async def _send(self, notification: Notification) -> None:
        return None

    async def _clear(self, identifier: str) -> None:
        return None

    async def _clear_all(self) -> None:
        return None

    async def _get_capabilities(self) -> frozenset[Capability]:
        return frozenset()


class Refused(Native):
    granted = False


def raising(error: Exception) -> Callable[[], type[DesktopNotifierBackend]]:
    def native() -> type[DesktopNotifierBackend]:
        raise error

    return native


def notification_line(
    platform: str,
    native: Callable[[], type[DesktopNotifierBackend]],
    lang: str = "es",
    osascript: str | None = "/usr/bin/osascript",
) -> tuple[diagnose.Line, str]:
    def prober(name: str) -> platforms.Probe:
        assert name == platform
        facts = platforms.facts(name)
        return asyncio.run(platforms.probe(facts, native=native, which=lambda _: osascript))

    report = diagnose.DoctorReport()
    diagnose._notifications(report, lang, platform=platform, prober=prober)
    [line] = report.lines
    assert line.check == "notifications"
    text = render.render(report, as_json=False, lang=lang, config=None)
    return line, text


def test_windows_notifications_that_work() -> None:
    line, text = notification_line("win32", lambda: Native)
    assert line.status == "ok"
    assert "✓ Servidor de notificaciones: notificaciones de Windows (WinRT" in text


def test_windows_without_the_winrt_packages_says_how_to_fix_it() -> None:
    error = ModuleNotFoundError("No module named 'winrt'")
    line, text = notification_line("win32", raising(error), lang="en")
    assert line.status == "warn"
    assert "⚠ Notification server: WinRT (ModuleNotFoundError: No module named 'winrt')" in text
    assert "→ The winrt packages desktop-notifier needs on Windows are missing." in text
    assert "pipx reinstall secop-watcher" in line.fix
    assert "The service still works" in line.fix


def test_windows_notifications_turned_off_in_settings() -> None:
    line, _text = notification_line("win32", lambda: Refused)
    assert line.status == "warn"
    assert "Configuración → Sistema → Notificaciones" in line.fix


def test_old_windows_without_toasts() -> None:
    line, _text = notification_line("win32", lambda: DummyNotificationCenter, lang="en")
    assert line.status == "warn"
    assert "Windows 10 or later" in line.fix


def test_macos_python_outside_an_app_bundle_is_flagged_with_the_fallback() -> None:
    # desktop-notifier's answer on macOS when NSBundle.mainBundle has no identifier.
    line, text = notification_line("darwin", lambda: DummyNotificationCenter)
    assert line.status == "warn"  # no longer a ✓ while nothing would show
    assert "⚠ Servidor de notificaciones: osascript" in text
    assert "python.org" in line.fix and "docs/macos.md" in line.fix
    assert "osascript (sin botones" in line.fix


def test_macos_without_rubicon_or_the_framework_is_the_same_advice() -> None:
    line, _text = notification_line("darwin", raising(ImportError("rubicon")), lang="en")
    assert line.status == "warn"
    assert line.detail == "osascript (ImportError: rubicon)"
    assert "Install Python from python.org" in line.fix


def test_macos_notifications_not_allowed_for_python() -> None:
    line, _text = notification_line("darwin", lambda: Refused)
    assert line.status == "warn"
    assert line.detail == "osascript"
    assert "Ajustes del Sistema → Notificaciones → Python" in line.fix


def test_macos_without_any_way_to_show_them() -> None:
    line, _text = notification_line("darwin", lambda: DummyNotificationCenter, osascript=None)
    assert line.status == "warn"
    assert line.detail == "macOS Notification Center"
    assert "[notify] command" in line.fix


def test_macos_notification_center_that_works_says_there_are_no_buttons() -> None:
    line, text = notification_line("darwin", lambda: Native, lang="en")
    assert line.status == "ok"
    assert "✓ Notification server: macOS Notification Center (no buttons: see the link " in text
    assert 'with "secop-watcher check-now")' in text
