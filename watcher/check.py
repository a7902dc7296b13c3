"""One check of the mailbox: list, examine, search, fetch, parse, choose.

The connection comes from a factory and the time from ``now``, so the whole
check is a function of what the server holds and the clock; the tests give it
a real Dovecot, the service gives it the user's server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from watcher.choosing import choose
from watcher.config import Config
from watcher.imap import Folder, ImapSession, choose_folders, missing_folders
from watcher.model import Found, Notice, Report
from watcher.parsing import parse_message
from watcher.state import Cursor

log = logging.getLogger(__name__)

Connect = Callable[[], ImapSession]


def run_check(config: Config, connect: Connect, now: datetime) -> Report:
    """Look through INBOX and the spam folders and decide which link to use."""
    notices: list[Notice] = []
    found: list[Found] = []
    with connect() as session:
        listing = session.listing()
        folders = choose_folders(listing, config.imap.folders)
        notices += [
            Notice("folder_missing", n) for n in missing_folders(listing, config.imap.folders)
        ]
        if not any(f.spam for f in folders):
            notices.append(Notice("no_spam_folder"))
        for folder in folders:
            found += _scan(session, folder, config, now, notices)
    report = choose(found, now=now, max_age=timedelta(hours=config.watch.max_link_age_hours))
    report.folders = [f.name for f in folders]
    report.warnings = notices
    return report


def _scan(
    session: ImapSession, folder: Folder, config: Config, now: datetime, notices: list[Notice]
) -> list[Found]:
    session.examine(folder.name)
    since = (now - timedelta(days=config.watch.lookback_days)).date()
    uids = session.search_sender(config.watch.sender, since)
    return fetch_and_parse(session, folder, uids, config, notices)


def scan_new(
    session: ImapSession, folder: Folder, cursor: Cursor | None, config: Config, now: datetime
) -> tuple[list[Found], Cursor, list[Notice]]:
    """Only what arrived in ``folder`` since ``cursor`` (all of it after a UIDVALIDITY change)."""
    info = session.examine(folder.name)
    validity = int(info.get(b"UIDVALIDITY", 0) or 0)
    uidnext = int(info.get(b"UIDNEXT", 0) or 0)
    same = cursor is not None and cursor.uidvalidity == validity
    if cursor is not None and same and 0 < uidnext <= cursor.highest_uid + 1:
        return [], cursor, []  # nothing new: no SEARCH, no FETCH
    if cursor is not None and not same:
        log.info("%s: UIDVALIDITY changed, rescanning the folder", folder.name)
    min_uid = cursor.highest_uid + 1 if cursor is not None and same else None
    since = (now - timedelta(days=config.watch.lookback_days)).date()
    uids = session.search_sender(config.watch.sender, since, min_uid)
    notices: list[Notice] = []
    found = fetch_and_parse(session, folder, uids, config, notices)
    base = cursor.highest_uid if cursor is not None and same else 0
    highest = max(base, uidnext - 1, *uids) if uids else max(base, uidnext - 1)
    return found, Cursor(validity, highest), notices


def fetch_and_parse(
    session: ImapSession,
    folder: Folder,
    uids: list[int],
    config: Config,
    notices: list[Notice],
) -> list[Found]:
    log.info("%s: %d candidate message(s)", folder.name, len(uids))
    found = []
    for raw in session.fetch(uids):
        if raw.truncated:
            notices.append(Notice("truncated", folder.name))
        verdict = parse_message(
            raw.data,
            sender=config.watch.sender,
            internaldate=raw.internaldate,
            trusted_authserv_ids=config.watch.trusted_authserv_ids,
        )
        log.debug("%s uid %d: %s", folder.name, raw.uid, verdict.kind.value)
        found.append(Found(verdict, folder.name, raw.uid))
    return found
