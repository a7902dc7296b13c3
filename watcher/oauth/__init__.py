"""OAuth2 sign-in (Microsoft, Google): the shared part in :mod:`watcher.oauth.base`,
one module per provider, and the factory here.

The providers import only the base module; this package imports the base and,
when one is asked for, the provider's module (and its library: MSAL or
google-auth), so no module imports one that imports it back.
"""

from __future__ import annotations

from watcher.config import OAUTH2_MICROSOFT, ImapConfig
from watcher.oauth.base import (
    CONFIG_ERRORS,
    LIFETIME_BOUNDS,
    PROVIDER_NAMES,
    REAUTH_ERRORS,
    REFRESH_MARGIN,
    Clock,
    Grant,
    Provider,
    ReauthRequired,
    Record,
    TokenSource,
    access_entry,
    entry,
    expires_at,
    host_of,
    load_access,
    load_record,
    login_command,
    oauthbearer,
    reauth,
    refused,
    sanitize,
    save_access,
    save_record,
    translate_http,
    utcnow,
    xoauth2,
)

__all__ = [
    "CONFIG_ERRORS",
    "LIFETIME_BOUNDS",
    "PROVIDER_NAMES",
    "REAUTH_ERRORS",
    "REFRESH_MARGIN",
    "Clock",
    "Grant",
    "Provider",
    "ReauthRequired",
    "Record",
    "TokenSource",
    "access_entry",
    "entry",
    "expires_at",
    "host_of",
    "load_access",
    "load_record",
    "login_command",
    "oauthbearer",
    "provider_for",
    "reauth",
    "refused",
    "sanitize",
    "save_access",
    "save_record",
    "translate_http",
    "utcnow",
    "xoauth2",
]


def provider_for(imap: ImapConfig, account: str = "") -> Provider:
    """The provider of ``imap.auth`` (its library is imported only now)."""
    if imap.auth == OAUTH2_MICROSOFT:
        from watcher.oauth.microsoft import Microsoft

        return Microsoft(imap, account)
    from watcher.oauth.google import Google

    return Google(imap, account)
