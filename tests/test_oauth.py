"""Access tokens from the saved sign-in: when they are refreshed, what is kept, and the SASL
strings. The provider here is a stand-in for speed; tests/test_oauth_e2e.py runs the same
paths against a real token endpoint and a real Dovecot."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from watcher import credentials, oauth
from watcher.config import ImapConfig
from watcher.errors import AuthError, ConnectionFailed, CredentialsError

IMAP = ImapConfig(host="outlook.office365.com", username="ana@hotmail.com", auth="oauth2-microsoft")
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Provider:
    """Gives tokens valid one hour; rotates the refresh token like Microsoft."""

    def __init__(self, account: str = "") -> None:
        self.calls = 0
        self.revoked = False
        self.account = account

    def refresh(self, record: oauth.Record, now: datetime) -> oauth.Grant:
        if self.revoked:
            raise oauth.reauth(IMAP, self.account, "invalid_grant")
        self.calls += 1
        return oauth.Grant(
            access_token=f"access-{self.calls}",
            expires_at=now + timedelta(hours=1),
            record={**record, "refresh_token": f"refresh-{self.calls}"},
        )


def source(provider: Provider, clock: Clock) -> oauth.TokenSource:
    return oauth.TokenSource(IMAP, provider, clock=clock)


def test_a_token_is_reused_until_five_minutes_before_it_ends() -> None:
    oauth.save_record(IMAP, {"refresh_token": "refresh-0"})
    provider, clock = Provider(), Clock()
    tokens = source(provider, clock)
    assert tokens.access_token() == "access-1"
    clock.now = START + timedelta(minutes=54)
    assert tokens.access_token() == "access-1"
    clock.now = START + timedelta(minutes=55)  # 5 minutes left: not used any more
    assert tokens.access_token() == "access-2"
    assert provider.calls == 2 == tokens.refreshes


def test_a_rotated_refresh_token_replaces_the_saved_one() -> None:
    oauth.save_record(IMAP, {"refresh_token": "refresh-0", "client_id": "c"})
    source(Provider(), Clock()).access_token()
    assert oauth.load_record(IMAP) == {"refresh_token": "refresh-1", "client_id": "c"}


def test_renew_after_a_refusal_asks_once_even_from_two_threads() -> None:
    oauth.save_record(IMAP, {"refresh_token": "refresh-0"})
    provider = Provider()
    tokens = source(provider, Clock())
    refused = tokens.access_token()
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(tokens.renew(refused))) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["access-2", "access-2"]
    assert provider.calls == 2


def test_a_revoked_sign_in_says_how_to_sign_in_again() -> None:
    oauth.save_record(IMAP, {"refresh_token": "refresh-0"})
    provider = Provider("hotmail")
    provider.revoked = True
    with pytest.raises(oauth.ReauthRequired) as info:
        oauth.TokenSource(IMAP, provider, account="hotmail", clock=Clock()).access_token()
    assert info.value.params["command"] == "secop-watcher login --account hotmail"
    assert info.value.exit_code == 5


def test_no_saved_sign_in_is_a_credentials_error() -> None:
    with pytest.raises(CredentialsError) as info:
        source(Provider(), Clock()).access_token()
    assert info.value.key == "error.oauth_no_token"
    assert info.value.params["command"] == "secop-watcher login"


def test_a_damaged_keyring_entry_counts_as_no_sign_in() -> None:
    credentials.keyring_set(oauth.entry(IMAP), "{not json", username=IMAP.username)
    with pytest.raises(CredentialsError):
        oauth.load_record(IMAP)
    credentials.keyring_set(oauth.entry(IMAP), json.dumps({"x": 1}), username=IMAP.username)
    with pytest.raises(CredentialsError):
        oauth.load_record(IMAP)


def test_the_fingerprint_changes_with_a_new_sign_in() -> None:
    tokens = source(Provider(), Clock())
    before = tokens.fingerprint()
    oauth.save_record(IMAP, {"refresh_token": "new"})
    assert tokens.fingerprint() != before


def test_sasl_strings() -> None:
    assert oauth.xoauth2("a@b.co", "T") == b"user=a@b.co\x01auth=Bearer T\x01\x01"
    bearer = oauth.oauthbearer("a,=b@c.co", "T", "imap.example", 993)
    assert bearer == b"n,a=a=2C=3Db@c.co,\x01host=imap.example\x01port=993\x01auth=Bearer T\x01\x01"
    assert base64.b64decode(base64.b64encode(bearer)) == bearer


def test_expires_in_odd_values_count_as_one_hour() -> None:
    assert oauth.expires_at(START, "3599") == START + timedelta(seconds=3599)
    assert oauth.expires_at(START, None) == START + timedelta(hours=1)


def test_an_access_token_left_by_another_run_is_used_until_near_its_end() -> None:
    oauth.save_record(IMAP, {"refresh_token": "refresh-0"})
    oauth.save_access(IMAP, oauth.Grant("left-by-login", START + timedelta(minutes=30), {}))
    provider, clock = Provider(), Clock()
    assert source(provider, clock).access_token() == "left-by-login"
    assert provider.calls == 0
    clock.now = START + timedelta(minutes=26)  # a new process, 4 minutes left: refreshed
    assert source(provider, clock).access_token() == "access-1"
    assert source(provider, clock).access_token() == "access-1"  # and that one is kept
    assert provider.calls == 1


def test_doctor_style_refresh_always_asks_the_provider() -> None:
    oauth.save_record(IMAP, {"refresh_token": "refresh-0"})
    oauth.save_access(IMAP, oauth.Grant("cached", START + timedelta(hours=1), {}))
    provider = Provider()
    assert source(provider, Clock()).refreshed() == "access-1"


def test_the_fingerprint_ignores_a_rotated_refresh_token_but_not_a_new_sign_in() -> None:
    oauth.save_record(IMAP, {"refresh_token": "refresh-0", "signed_in": "a1"})
    tokens = source(Provider(), Clock())
    before = tokens.fingerprint()
    tokens.access_token()  # Microsoft hands out a new refresh token: the same sign-in
    assert oauth.load_record(IMAP) == {"refresh_token": "refresh-1", "signed_in": "a1"}
    assert tokens.fingerprint() == before
    oauth.save_record(IMAP, {"refresh_token": "refresh-9", "signed_in": "b2"})
    assert tokens.fingerprint() != before


@pytest.mark.parametrize(
    ("answer", "kind", "key"),
    [
        ({"error": "invalid_grant"}, oauth.ReauthRequired, "error.oauth_revoked"),
        ({"error": "interaction_required"}, oauth.ReauthRequired, "error.oauth_revoked"),
        ({"error": "invalid_client"}, AuthError, "error.oauth_provider"),
        ({"error": "temporarily_unavailable"}, ConnectionFailed, "error.oauth_unavailable"),
        ({"error": "slow_down"}, ConnectionFailed, "error.oauth_unavailable"),
        ({}, ConnectionFailed, "error.oauth_unavailable"),
    ],
)
def test_only_a_gone_sign_in_asks_to_sign_in_again(
    answer: dict[str, object], kind: type, key: str
) -> None:
    error = oauth.refused(IMAP, "", answer, "login.example")
    assert type(error) is kind and error.key == key


def test_absurd_lifetimes_are_held_to_bounds() -> None:
    assert oauth.expires_at(START, "inf") == START + timedelta(days=1)
    assert oauth.expires_at(START, 1e20) == START + timedelta(days=1)
    assert oauth.expires_at(START, -5) == START + timedelta(minutes=1)
    assert oauth.expires_at(START, "nan") == START + timedelta(hours=1)
