"""One check of the mailbox: list, examine, search, fetch, parse, choose.

The connection comes from a factory and the time from ``now``, so the whole
check is a function of what the server holds and the clock; the tests give it
a real Dovecot, the service gives it the user's server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
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
        # INBOX, usually the big one, examined last: its parts are then fetched
        # without examining it a second time.
        order = sorted(folders, key=lambda f: f.how == "inbox")
        since = (now - timedelta(days=config.watch.lookback_days)).date()
        scans = session.scan([f.name for f in order], config.watch.sender, since)
        found = parse_folders(
            session,
            now,
            [(f, s.envelopes) for f, s in zip(order, scans, strict=True)],
            config,
            notices,
        )
    report = choose(found, now=now, max_age=timedelta(hours=config.watch.max_link_age_hours))
    report.folders = [f.name for f in folders]
    report.warnings = notices
    return report


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
    found = fetch_and_parse(session, folder, envelopes, config, notices, now)
    base = cursor.highest_uid if cursor is not None and same else 0
    highest = max(base, uidnext - 1, *uids) if uids else max(base, uidnext - 1)
    return found, Cursor(validity, highest), notices


def fetch_and_parse(
    session: ImapSession,
    folder: Folder,
    envelopes: list[Envelope],
    config: Config,
    notices: list[Notice],
    now: datetime,
) -> list[Found]:
    """:func:`parse_folders` for one folder (the selected one)."""
    return parse_folders(session, now, [(folder, envelopes)], config, notices)


def parse_folders(
    session: ImapSession,
    now: datetime,
    scanned: Sequence[tuple[Folder, list[Envelope]]],
    config: Config,
    notices: list[Notice],
) -> list[Found]:
    """Header fields and structure were fetched; now only each message's text part.

    The parts of every folder are fetched in one write. A message whose
    structure has no text part (or is unreadable) is fetched whole, capped:
    the parser then decides. Mail from the sender that arrived longer ago
    than a link lives is not opened at all (:func:`_too_old`).
    """
    found: list[Found] = []
    wanted: dict[str, list[tuple[int, parts.Leaf]]] = {}
    skipped: dict[str, set[int]] = {}
    for folder, envelopes in scanned:
        log.info("%s: %d candidate message(s)", folder.name, len(envelopes))
        siblings = [
            _other_sender(folder, e, config) for e in envelopes if _sibling_sender(e, config)
        ]
        old = [_old(folder, e) for e in envelopes if _too_old(e, config, now)]
        found += siblings + old
        skip = skipped[folder.name] = {f.uid for f in siblings + old}
        wanted[folder.name] = [
            (e.uid, leaf)
            for e in envelopes
            if e.uid not in skip and (leaf := parts.text_part(e.structure))
        ]
    fetched = session.fetch_parts_in(wanted)
    for folder, envelopes in scanned:
        got = fetched.get(folder.name, {})
        for envelope in envelopes:
            part = got.get(envelope.uid)
            if part is None:
                continue
            raw = parts.assemble(envelope.headers, part.mime, part.body)
            found.append(_parsed(folder, envelope.uid, raw, envelope.internaldate, config))
            if part.truncated:
                notices.append(Notice("truncated", folder.name))
        whole = [e.uid for e in envelopes if e.uid not in got and e.uid not in skipped[folder.name]]
        found += _whole(session, folder, whole, config, notices)
    return found


def _whole(
    session: ImapSession, folder: Folder, uids: list[int], config: Config, notices: list[Notice]
) -> list[Found]:
    """Messages without a usable text part, fetched whole (capped); rare."""
    if not uids:
        return []
    session.reopen(folder.name)
    found = []
    for message in session.fetch(uids):
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


def _too_old(envelope: Envelope, config: Config, now: datetime) -> bool:
    """From the sender and older than a link lives (plus an hour for clocks): not opened.

    Whatever link it holds has expired, and a newer mail cannot be older, so
    leaving it closed never changes which link is current. It saves most of
    a check's bytes in a mailbox with weeks of SECOP mail. Any other sender
    claiming to be SECOP is still opened, however old: it may be a forgery
    to report.
    """
    if (
        envelope.internaldate is None
        or parts.sender_address(envelope.headers) != config.watch.sender
    ):
        return False
    limit = timedelta(hours=config.watch.max_link_age_hours) + OPEN_MARGIN
    return now - envelope.internaldate > limit


OPEN_MARGIN = timedelta(hours=1)


def _old(folder: Folder, envelope: Envelope) -> Found:
    return Found(Verdict(Kind.OLD, received=envelope.internaldate), folder.name, envelope.uid)


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
