"""End-to-end: ``check-now --json`` reports the provider's sender verification (Dovecot)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests import mailfactory as mf
from tests.cliutil import check_json, write_config
from tests.servers.dovecot import Dovecot

TEST_ID = "mx.secop-watcher.test"
NOW = datetime.now(UTC).replace(microsecond=0)
PASS = f"{TEST_ID}; spf=pass smtp.mailfrom=secop.gov.co; dkim=pass header.d=secop.gov.co"
NONE = f"{TEST_ID}; spf=pass smtp.mailfrom=relay.example; dmarc=none header.from=secop.gov.co"
FAIL = f"{TEST_ID}; dkim=none; dmarc=fail (p=REJECT) header.from=secop.gov.co"
FORGED = f"{TEST_ID}; dkim=pass header.d=secop.gov.co; dmarc=pass header.from=secop.gov.co"
UNTRUSTED = "mail.evil.example; dmarc=pass header.from=secop.gov.co"


def ago(**kw: float) -> datetime:
    return NOW - timedelta(**kw)


def test_check_now_json_reports_verified_unverified_and_auth_failed(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    def put(folder: str, user: str, token: str, minutes: int, auth: list[str] | None) -> None:
        raw = mf.reset_mail(user, mf.reset_url(token), date=ago(minutes=minutes), auth_results=auth)
        dovecot.append("jperez", folder, raw, date=ago(minutes=minutes))

    put("INBOX", "jperez", "jp-old", 30, [PASS])  # superseded, still says verified
    put("Spam", "jperez", "jp-new", 5, [PASS])  # current, verified
    put("INBOX", "mgomez", "mg-ok", 20, None)  # no header: current, unverified
    put("Spam", "mgomez", "mg-fail", 2, [FAIL])  # newest, but DMARC fails: suspicious
    put("INBOX", "lgarcia", "lg-forged", 8, [NONE, FORGED])  # forged pass below the real one
    put("INBOX", "acastro", "ac-untrusted", 9, [UNTRUSTED])  # foreign id on top

    cfg = write_config(
        tmp_path / "c.toml",
        dovecot,
        watch=f'trusted_authserv_ids = ["{TEST_ID}", "microsoft"]',
    )
    code, data, err = check_json(cfg, dovecot.password("jperez"))
    assert code == 0, err

    current = {x["username"]: (x["url"], x["verified"]) for x in data["current"]}
    assert current == {
        "jperez": (mf.reset_url("jp-new"), True),
        "mgomez": (mf.reset_url("mg-ok"), None),  # the failing newer mail does not supersede
        "lgarcia": (mf.reset_url("lg-forged"), None),
        "acastro": (mf.reset_url("ac-untrusted"), None),
    }
    assert [(x["url"], x["verified"]) for x in data["superseded"]] == [
        (mf.reset_url("jp-old"), True)
    ]
    [failed] = data["suspicious"]
    assert failed["reasons"] == ["auth_failed"]
    assert failed["folder"] == "Spam"
    assert "url" not in failed
    assert mf.reset_url("mg-fail") not in str(data)
