"""IMAP settings of the mail providers SECOP II users have."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    name: str
    host: str
    port: int = 993
    security: str = "ssl"
    needs_oauth2: bool = False  # Microsoft: no passwords over IMAP any more
    app_password_url: str | None = None
    key: str = ""  # its name in the users' words: i18n "setup.provider.<key>"


GMAIL = Provider(
    "Gmail / Google Workspace",
    "imap.gmail.com",
    app_password_url="https://myaccount.google.com/apppasswords",
    key="gmail",
)
MICROSOFT = Provider(
    "Microsoft (Outlook.com, Hotmail, Microsoft 365)",
    "outlook.office365.com",
    needs_oauth2=True,
    key="microsoft",
)
YAHOO = Provider(
    "Yahoo",
    "imap.mail.yahoo.com",
    app_password_url="https://login.yahoo.com/myaccount/security/app-password",
    key="yahoo",
)
# setup's menu, in this order (then "another: your entity's").
MENU = (GMAIL, MICROSOFT, YAHOO)

BY_DOMAIN: dict[str, Provider] = {
    **dict.fromkeys(["gmail.com", "googlemail.com"], GMAIL),
    **dict.fromkeys(
        [
            "outlook.com",
            "outlook.es",
            "hotmail.com",
            "hotmail.es",
            "live.com",
            "live.com.co",
            "msn.com",
        ],
        MICROSOFT,
    ),
    **dict.fromkeys(
        ["yahoo.com", "yahoo.es", "yahoo.com.co", "ymail.com", "rocketmail.com"], YAHOO
    ),
}
MICROSOFT_HOSTS = {"outlook.office365.com", "imap-mail.outlook.com", "outlook.office.com"}


def by_email(address: str) -> Provider | None:
    domain = address.rpartition("@")[2].strip().lower()
    return BY_DOMAIN.get(domain)


def by_host(host: str) -> Provider | None:
    """The known provider whose IMAP server ``host`` is (None for any other server)."""
    host = host.strip().lower().rstrip(".")
    if is_microsoft_host(host):
        return MICROSOFT
    return next((p for p in MENU if p.host == host), None)


def is_microsoft_host(host: str) -> bool:
    return host.strip().lower().rstrip(".") in MICROSOFT_HOSTS
