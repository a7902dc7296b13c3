"""doctor asks the provider whether the saved OAuth2 sign-in still works."""

from __future__ import annotations

from pathlib import Path

from tests.cliutil import run
from tests.servers.dovecot import Dovecot
from tests.servers.oauthserver import OAuthServer
from tests.test_oauth_e2e import login_microsoft, ms_config
from tests.test_oauth_e2e import oauth_dovecot as oauth_dovecot  # the fixture


def test_doctor_notices_a_revoked_refresh_token_while_an_access_token_is_still_valid(
    oauth_dovecot: Dovecot,
    oauth_server: OAuthServer,
    tmp_path: Path,
) -> None:
    """Microsoft's access tokens are JWTs good for an hour after the sign-in is revoked
    (password change, admin); the refresh token is refused at once, and doctor must say so
    (TokenSource.refreshed(), never the cached token)."""
    cfg = ms_config(tmp_path / "c.toml", oauth_dovecot, oauth_server)
    login_microsoft(cfg, oauth_server)
    with oauth_server._lock:
        for grant in oauth_server._grants.values():
            grant.revoked = True  # refresh tokens only; the access token still works
    doctor = run("--config", str(cfg), "doctor")
    assert "secop-watcher login" in doctor.stdout, doctor.stdout
