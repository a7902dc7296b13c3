"""``secop-watcher doctor`` against the real Dovecot and the real notification server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.cliutil import run, write_config
from tests.servers.dovecot import Dovecot
from watcher import credentials


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
