"""One check of the mailbox: list, examine, search, fetch, parse, choose.

The connection comes from a factory and the time from ``now``, so the whole
check is a function of what the server holds and the clock; the tests give it
a real Dovecot, the service gives it the user's server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from watcher import parts
from watcher.choosing import choose
from watcher.config import Config
from watcher.imap import Envelope, Folder, ImapSession, choose_folders, missing_folders
from watcher.model import Found, Kind, Notice, Report, Verdict
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
    envelopes = session.search_envelopes(config.watch.sender, since)
    return fetch_and_parse(session, folder, envelopes, config, notices)


def scan_new(
    session: ImapSession,
    folder: Folder,
    cursor: Cursor | None,
    config: Config,
    now: datetime,
    recheck: int = 0,
) -> tuple[list[Found], Cursor, list[Notice]]:
    """Only what arrived in ``folder`` since ``cursor`` (all of it after a UIDVALIDITY change).

    ``recheck`` also searches again the last so many UIDs below the cursor: a
    server whose search index lags behind its UIDNEXT (seen with index-based
    servers) may not have matched a mail the first time it was counted.
    """
    info = session.examine(folder.name)
    validity = int(info.get(b"UIDVALIDITY", 0) or 0)
    uidnext = int(info.get(b"UIDNEXT", 0) or 0)
    same = cursor is not None and cursor.uidvalidity == validity
    if cursor is not None and same and 0 < uidnext <= cursor.highest_uid + 1 and not recheck:
        return [], cursor, []  # nothing new: no SEARCH, no FETCH
    if cursor is not None and not same:
        log.info("%s: UIDVALIDITY changed, rescanning the folder", folder.name)
    min_uid = max(1, cursor.highest_uid + 1 - recheck) if cursor is not None and same else None
    since = (now - timedelta(days=config.watch.lookback_days)).date()
    envelopes = session.search_envelopes(config.watch.sender, since, min_uid)
    uids = [e.uid for e in envelopes]
    notices: list[Notice] = []
    found = fetch_and_parse(session, folder, envelopes, config, notices)
    base = cursor.highest_uid if cursor is not None and same else 0
    highest = max(base, uidnext - 1, *uids) if uids else max(base, uidnext - 1)
    return found, Cursor(validity, highest), notices


def fetch_and_parse(
    session: ImapSession,
    folder: Folder,
    envelopes: list[Envelope],
    config: Config,
    notices: list[Notice],
) -> list[Found]:
    """Header fields and structure first, then only each message's text part.

    A message whose structure has no text part (or is unreadable) is fetched
    whole, capped, as before: the parser then decides.
    """
    log.info("%s: %d candidate message(s)", folder.name, len(envelopes))
    found = [_other_sender(folder, e, config) for e in envelopes if _sibling_sender(e, config)]
    skip = {f.uid for f in found}
    wanted = [
        (e.uid, leaf)
        for e in envelopes
        if e.uid not in skip and (leaf := parts.text_part(e.structure))
    ]
    fetched = session.fetch_parts(wanted)
    whole = [e.uid for e in envelopes if e.uid not in fetched and e.uid not in skip]
    for envelope in envelopes:
        part = fetched.get(envelope.uid)
        if part is None:
            continue
        raw = parts.assemble(envelope.headers, part.mime, part.body)
        found.append(_parsed(folder, envelope.uid, raw, envelope.internaldate, config))
        if part.truncated:
            notices.append(Notice("truncated", folder.name))
    for message in session.fetch(whole):
        if message.truncated:
            notices.append(Notice("truncated", folder.name))
        found.append(_parsed(folder, message.uid, message.data, message.internaldate, config))
    return found


def _sibling_sender(envelope: Envelope, config: Config) -> bool:
    """Another address of the sender's own domain (SECOP's process notices): not opened.

    They are the bulk of SECOP's mail and cannot be the reset mail, which comes
    from the one configured address; a forged reset mail uses that address
    (or a look-alike domain), and those are always opened and checked.
    """
    address = parts.sender_address(envelope.headers)
    if address is None or address == config.watch.sender:
        return False
    domain = config.watch.sender.rpartition("@")[2]
    host = address.rpartition("@")[2]
    return host == domain or host.endswith("." + domain)


def _other_sender(folder: Folder, envelope: Envelope, config: Config) -> Found:
    verdict = Verdict(Kind.OTHER, sender=parts.sender_address(envelope.headers))
    return Found(verdict, folder.name, envelope.uid)


def _parsed(
    folder: Folder, uid: int, raw: bytes, internaldate: datetime | None, config: Config
) -> Found:
    verdict = parse_message(
        raw,
        sender=config.watch.sender,
        internaldate=internaldate,
        trusted_authserv_ids=config.watch.trusted_authserv_ids,
    )
    log.debug("%s uid %d: %s", folder.name, uid, verdict.kind.value)
    return Found(verdict, folder.name, uid)
