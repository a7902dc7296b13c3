"""Old reset mail keeps its SECOP user (issue 11), read from a glance, on a real Dovecot.

Mail from the sender older than ``max_link_age_hours`` + 1 h is read only in
part: the first ``GLANCE_BYTES`` of its smallest text part, for the newest
``GLANCE_MAX`` such mails of a check. What the glance shows is all it may tell:
a user whose name came before the cut, a link only when it was read whole.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import mailfactory as mf
from tests.cliutil import check_json, write_config
from tests.servers.dovecot import Dovecot
from watcher.glance import GLANCE_BYTES, GLANCE_MAX

pytestmark = pytest.mark.dovecot

NOW = datetime.now(UTC).replace(microsecond=0)
PHRASE = "Haga clic aquí para cambiar la contraseña de usuario"


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def put(server: Dovecot, raw: bytes, when: datetime, folder: str = "INBOX") -> None:
    server.append("jperez", folder, raw, date=when)


def test_the_newest_old_mails_name_their_users_and_the_rest_are_counted(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    extra = 2
    for n in range(GLANCE_MAX + extra):  # user0 is the newest, 26 h old
        when = ago(26 + n)
        put(dovecot, mf.reset_mail(f"user{n}", mf.reset_url(f"tok{n}"), date=when), when)
    put(dovecot, mf.reset_mail("fresh", mf.reset_url("new"), date=ago(0.1)), ago(0.1))
    code, data, err = check_json(
        write_config(tmp_path / "c.toml", dovecot), dovecot.password("jperez")
    )
    assert code == 0, err
    assert [x["username"] for x in data["current"]] == ["fresh"]
    named = [(x["username"], x["url"]) for x in data["expired"]]
    assert named == [(f"user{n}", mf.reset_url(f"tok{n}")) for n in range(GLANCE_MAX)]
    assert len(data["unopened"]) == extra
    assert data["suspicious"] == []


def _text_mail(user: str, token: str, when: datetime, preamble: str = "") -> bytes:
    body = f"{preamble}{PHRASE} {user}\n<{mf.reset_url(token)}>\n\nGracias.\n"
    return mf.reset_mail(user, mf.reset_url(token), date=when, html=False, text_body=body)


def test_a_link_cut_by_the_glance_is_no_link_but_the_user_is_named(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    token = "x" * GLANCE_BYTES  # the link runs past the glance
    put(dovecot, _text_mail("mgomez", token, ago(30)), ago(30))
    code, data, err = check_json(
        write_config(tmp_path / "c.toml", dovecot), dovecot.password("jperez")
    )
    assert code == 1, err  # no current link
    assert [(x["username"], x["url"]) for x in data["expired"]] == [("mgomez", None)]
    assert data["suspicious"] == [] and data["unopened"] == []


def test_a_user_beyond_the_glance_is_counted_not_guessed(dovecot: Dovecot, tmp_path: Path) -> None:
    put(dovecot, _text_mail("lgarcia", "t", ago(30), preamble="Estimado usuario.\n" * 60), ago(30))
    code, data, err = check_json(
        write_config(tmp_path / "c.toml", dovecot), dovecot.password("jperez")
    )
    assert code == 1, err
    assert data["expired"] == [] and data["superseded"] == [] and data["suspicious"] == []
    assert len(data["unopened"]) == 1


def test_an_old_forgery_is_still_suspicious(dovecot: Dovecot, tmp_path: Path) -> None:
    forged = mf.reset_mail(
        "jperez",
        mf.reset_url("f"),
        date=ago(40),
        auth_results=["mx.google.com; dmarc=fail header.from=secop.gov.co"],
    )
    put(dovecot, forged, ago(40))
    code, data, err = check_json(
        write_config(tmp_path / "c.toml", dovecot), dovecot.password("jperez")
    )
    assert code == 1, err
    assert [x["reasons"] for x in data["suspicious"]] == [["auth_failed"]]
    assert data["expired"] == []


def test_an_old_forgery_cut_by_the_glance_stays_suspicious_and_supersedes_nothing(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    """Arrived 26 h ago (so it is glanced at) but dated an hour ago, pointing elsewhere and
    longer than the glance: it must neither become a link of ana's nor hide her real one."""
    forged_url = "https://secop.gov.co.actualizar.example/reset?t=forged"
    body = f"{PHRASE} ana\n<{forged_url}>\n\n" + "Relleno. " * 100
    forged = mf.reset_mail("ana", forged_url, date=ago(1), html=False, text_body=body)
    put(dovecot, forged, ago(26))
    put(dovecot, mf.reset_mail("ana", mf.reset_url("real"), date=ago(2)), ago(2))
    code, data, err = check_json(
        write_config(tmp_path / "c.toml", dovecot), dovecot.password("jperez")
    )
    assert code == 0, err
    assert [(x["username"], x["url"]) for x in data["current"]] == [("ana", mf.reset_url("real"))]
    assert data["superseded"] == [] and data["expired"] == []
    assert [x["reasons"] for x in data["suspicious"]] == [["host_not_allowed"]]


def test_an_old_mail_without_a_text_part_is_counted_not_fetched(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    pdf = mf.reset_mail("x", mf.reset_url("x"), date=ago(30)).split(b"\r\n\r\n", 1)[0]
    pdf = re.sub(
        rb"(?im)^Content-Type:[^\r\n]*(\r\n[ \t][^\r\n]*)*", b"Content-Type: application/pdf", pdf
    )
    pdf = re.sub(
        rb"(?im)^Content-Transfer-Encoding:[^\r\n]*", b"Content-Transfer-Encoding: base64", pdf
    )
    put(dovecot, pdf + b"\r\n\r\n" + b"JVBERi0xLjQK" * 2000 + b"\r\n", ago(30))
    code, data, err = check_json(
        write_config(tmp_path / "c.toml", dovecot), dovecot.password("jperez")
    )
    assert code == 1, err
    assert len(data["unopened"]) == 1
    assert data["expired"] == [] and data["suspicious"] == []
