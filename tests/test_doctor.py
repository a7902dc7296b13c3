"""``secop-watcher doctor`` against the real Dovecot and the real notification server."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    assert code == 1, out + err  # the login service is not installed here
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
    assert "✗ Servicio de sesión" in out and "secop-watcher service install" in out
    assert "– Última revisión del servicio: el servicio aún no ha revisado" in out
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
    assert code == 1
    assert "✗ Llavero (keyring): Keyring" in out
    assert "password_command" in out
    assert "✓ Inicio de sesión IMAP: jperez" in out  # the variable still works


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
    assert line.status == "fail"
    assert "✗ Notification server: WinRT (ModuleNotFoundError: No module named 'winrt')" in text
    assert "→ The winrt packages desktop-notifier needs on Windows are missing." in text
    assert "pipx reinstall secop-watcher" in line.fix
    assert "The service still works" in line.fix


def test_windows_notifications_turned_off_in_settings() -> None:
    line, _text = notification_line("win32", lambda: Refused)
    assert line.status == "fail"
    assert "Configuración → Sistema → Notificaciones" in line.fix


def test_old_windows_without_toasts() -> None:
    line, _text = notification_line("win32", lambda: DummyNotificationCenter, lang="en")
    assert line.status == "fail"
    assert "Windows 10 or later" in line.fix


def test_macos_python_outside_an_app_bundle_is_flagged_with_the_fallback() -> None:
    # desktop-notifier's answer on macOS when NSBundle.mainBundle has no identifier.
    line, text = notification_line("darwin", lambda: DummyNotificationCenter)
    assert line.status == "fail"  # no longer a ✓ while nothing would show
    assert "✗ Servidor de notificaciones: osascript" in text
    assert "python.org" in line.fix and "docs/macos.md" in line.fix
    assert "osascript (sin botones" in line.fix


def test_macos_without_rubicon_or_the_framework_is_the_same_advice() -> None:
    line, _text = notification_line("darwin", raising(ImportError("rubicon")), lang="en")
    assert line.status == "fail"
    assert line.detail == "osascript (ImportError: rubicon)"
    assert "Install Python from python.org" in line.fix


def test_macos_notifications_not_allowed_for_python() -> None:
    line, _text = notification_line("darwin", lambda: Refused)
    assert line.status == "fail"
    assert line.detail == "osascript"
    assert "Ajustes del Sistema → Notificaciones → Python" in line.fix


def test_macos_without_any_way_to_show_them() -> None:
    line, _text = notification_line("darwin", lambda: DummyNotificationCenter, osascript=None)
    assert line.status == "fail"
    assert line.detail == "macOS Notification Center"
    assert "[notify] command" in line.fix


def test_macos_notification_center_that_works_says_there_are_no_buttons() -> None:
    line, text = notification_line("darwin", lambda: Native, lang="en")
    assert line.status == "ok"
    assert "✓ Notification server: macOS Notification Center (no buttons: see the link " in text
    assert 'with "secop-watcher check-now")' in text
