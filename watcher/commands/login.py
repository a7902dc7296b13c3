"""``secop-watcher login``: sign in with Microsoft or Google (OAuth2) and keep the sign-in.

The refresh token goes to the keyring, never to a file. The sign-in is
tested against the IMAP server before it is kept, so a sign-in with the
wrong account (the browser was logged in as someone else) is caught here,
not at the first check. ``setup`` uses the same steps.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from watcher import i18n
from watcher.commands import Outcome, add_account_option, load_config
from watcher.config import OAUTH2_MICROSOFT, ImapConfig
from watcher.errors import UsageError

if TYPE_CHECKING:
    from watcher.folders import Folder
    from watcher.oauth import Grant

HELP = "iniciar sesión con Microsoft o Google (OAuth2) / sign in with Microsoft or Google (OAuth2)"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("login", help=HELP, description=HELP)
    add_account_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    config = load_config(args)
    chosen = [c for c in config.each() if c.imap.oauth]
    if not chosen:
        raise UsageError("error.login_password_account", username=config.imap.username)
    for one in chosen:
        folders = sign_in(one.imap, one.account, args.lang)
        _echo(i18n.t("login.done", args.lang, username=one.imap.username))
        report_spam(folders, args.lang)
    _echo(i18n.t("setup.next", args.lang))
    return Outcome(None, config=config)


def sign_in(
    imap: ImapConfig,
    account: str,
    lang: str,
    *,
    before_keeping: Callable[[list[Folder]], None] | None = None,
) -> list[Folder]:
    """Sign in, test the token on the IMAP server, then keep the sign-in; the folders found.

    The order is the point: no sign-in without a keyring to keep it, nothing kept that the
    server refused. ``before_keeping`` runs between the test and the keeping (``setup``
    writes the config there).
    """
    need_keyring(imap)
    grant = obtain(imap, account, lang)
    folders = try_token(imap, grant.access_token, lang)
    if before_keeping is not None:
        before_keeping(folders)
    keep(imap, grant)
    return folders


def keep(imap: ImapConfig, grant: Grant) -> None:
    """The sign-in to the keyring, and its access token too: the first check needs no refresh.

    ``signed_in`` marks this sign-in: the service resumes when it changes, and only then
    (Microsoft's refresh token changes with every refresh).
    """
    import secrets

    from watcher import oauth

    oauth.save_record(imap, {**grant.record, "signed_in": secrets.token_hex(8)})
    oauth.save_access(imap, grant)


def need_keyring(imap: ImapConfig) -> None:
    """Before the sign-in, not after: without a keyring it could not be kept."""
    from watcher import credentials
    from watcher.errors import CredentialsError

    if not credentials.keyring_usable():
        raise CredentialsError("error.oauth_no_keyring", username=imap.username)


def obtain(imap: ImapConfig, account: str, lang: str) -> Grant:
    """The provider's sign-in flow, with its instructions printed for the user."""
    from watcher.oauth import utcnow

    if imap.auth == OAUTH2_MICROSOFT:
        from watcher.oauth.microsoft import DevicePrompt, Microsoft

        def show(prompt: DevicePrompt) -> None:
            minutes = max(1, prompt.expires_in // 60)
            text = i18n.t(
                "login.device",
                lang,
                url=prompt.url,
                code=prompt.code,
                minutes=minutes,
                username=imap.username,
            )
            _echo(text)

        return Microsoft(imap, account).sign_in(show, utcnow)
    from watcher.oauth.google import Google

    # google-auth-oauthlib prints this, with the address in place of {url}.
    prompt = i18n.t("login.browser", lang, username=imap.username)  # "{{url}}" → "{url}"
    return Google(imap, account).sign_in(prompt, utcnow)


def try_token(imap: ImapConfig, token: str, lang: str) -> list[Folder]:
    """Log in with the new token and list the folders (the sign-in is kept only if this works)."""
    from watcher.folders import choose_folders
    from watcher.mail import ImapSession

    _echo(i18n.t("setup.trying", lang, host=imap.host, port=imap.port))
    with ImapSession.open_oauth(imap, token) as session:
        return choose_folders(session.listing(), imap.folders)


def report_spam(folders: list[Folder], lang: str) -> None:
    spam = [f for f in folders if f.spam]
    for f in spam:
        how = i18n.t(f"setup.how.{f.how}", lang)
        _echo(i18n.t("setup.spam_found", lang, folder=f.name, how=how))
    if not spam:
        _echo(i18n.t("setup.spam_missing", lang, inbox="INBOX"))


def _echo(text: str) -> None:
    print(text, flush=True)
