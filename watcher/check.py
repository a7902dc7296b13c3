"""One check of the mailbox: list, examine, search, fetch, parse, choose.

The connection comes from a factory and the time from ``now``, so the whole
check is a function of what the server holds and the clock; the tests give it
a real Dovecot, the service gives it the user's server.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from watcher import glance, opening, parts
from watcher.choosing import choose
from watcher.config import Config
from watcher.folders import Folder, choose_folders, missing_folders
from watcher.mail import Envelope, FolderScan, ImapSession
from watcher.model import Found, Notice, Report
from watcher.state import Cursor

log = logging.getLogger(__name__)

Connect = Callable[[], ImapSession]


def preload() -> None:
    """Import the parser (BeautifulSoup: ~60 ms) and the renderer in the background.

    A check spends most of its time waiting for the server; the first
    import of the parser would otherwise come after the last answer and
    add its whole time to the check. Harmless if already imported.
    """
    for name in ("watcher.parsing", "watcher.render"):
        threading.Thread(target=importlib.import_module, args=(name,), daemon=True).start()


def run_check(config: Config, connect: Connect, now: datetime) -> Report:
    """Look through INBOX and the spam folders and decide which link to use."""
    preload()
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
    """:func:`scan_new_many` for one folder."""
    found, cursors, notices = scan_new_many(
        session, [folder], {folder.name: cursor}, config, now, recheck
    )
    return found, cursors[folder.name], notices


def scan_new_many(
    session: ImapSession,
    folders: Sequence[Folder],
    cursors: Mapping[str, Cursor | None],
    config: Config,
    now: datetime,
    recheck: int = 0,
    *,
    examine: bool = True,
) -> tuple[list[Found], dict[str, Cursor], list[Notice]]:
    """Only what arrived in each folder since its cursor, all folders in one round trip
    (two when the server lacks SEARCHRES).

    ``examine=False``: the one folder is the session's selected one, searched
    as it is (see :meth:`ImapSession.scan`).

    The search is sent with the EXAMINE, before its UIDVALIDITY is known: it
    assumes the cursor still holds (as it nearly always does); a folder whose
    UIDVALIDITY changed is searched again from the start (logged).
    ``recheck`` also searches again the last so many UIDs below the cursor: a
    server whose search index lags behind its UIDNEXT (seen with index-based
    servers) may not have matched a mail the first time it was counted.
    """
    since = (now - timedelta(days=config.watch.lookback_days)).date()
    lows = {f.name: _low(cursors.get(f.name), recheck) for f in folders}
    names = [f.name for f in folders]
    scans = {
        s.folder: s for s in session.scan(names, config.watch.sender, since, lows, examine=examine)
    }
    stale = [f for f in folders if not _same_validity(cursors.get(f.name), scans[f.name])]
    for folder in stale:
        log.info("%s: UIDVALIDITY changed, rescanning the folder", folder.name)
    if stale:
        again = session.scan([f.name for f in stale], config.watch.sender, since)
        scans.update({s.folder: s for s in again})
    notices: list[Notice] = []
    scanned = [(f, scans[f.name].envelopes) for f in folders]
    found = parse_folders(session, now, scanned, config, notices)
    out = {}
    for folder in folders:
        cursor, scan = cursors.get(folder.name), scans[folder.name]
        base = cursor.highest_uid if _same_validity(cursor, scan) and cursor else 0
        uids = [e.uid for e in scan.envelopes]
        out[folder.name] = Cursor(scan.uidvalidity, max(base, scan.uidnext - 1, *uids))
    return found, out, notices


def _low(cursor: Cursor | None, recheck: int) -> int | None:
    return None if cursor is None else max(1, cursor.highest_uid + 1 - recheck)


def _same_validity(cursor: Cursor | None, scan: FolderScan) -> bool:
    return cursor is None or cursor.uidvalidity == scan.uidvalidity


def parse_folders(
    session: ImapSession,
    now: datetime,
    scanned: Sequence[tuple[Folder, list[Envelope]]],
    config: Config,
    notices: list[Notice],
) -> list[Found]:
    """Header fields and structure were fetched; now carry out :func:`watcher.opening.plan`.

    The parts of every folder are fetched in one write; a message whose
    structure has no text part (or is unreadable) is then fetched whole,
    capped: the parser decides.
    """
    for folder, envelopes in scanned:
        log.info("%s: %d candidate message(s)", folder.name, len(envelopes))
    the_plan = opening.plan(scanned, config, now)
    found = list(the_plan.decided)
    found += [_parsed(f, e.uid, e.raw or b"", e.internaldate, config) for f, e in the_plan.complete]
    fetched = session.fetch_parts_in(the_plan.parts)
    for folder, envelopes in scanned:
        got = fetched.get(folder.name, {})
        glanced = the_plan.glanced.get(folder.name, set())
        for envelope in envelopes:
            got_parts = got.get(envelope.uid)
            if not got_parts:
                continue
            raw = parts.assemble(envelope.headers, [(p.mime, p.body) for p in got_parts])
            item = _parsed(folder, envelope.uid, raw, envelope.internaldate, config)
            cut = any(p.truncated for p in got_parts)
            if envelope.uid in glanced:
                item = glance.judged(item, raw, cut, envelope.internaldate)
            elif cut:
                notices.append(Notice("truncated", folder.name))
            found.append(item)
        whole = opening.whole_after(the_plan, folder, envelopes, got)
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


def _parsed(
    folder: Folder, uid: int, raw: bytes, internaldate: datetime | None, config: Config
) -> Found:
    from watcher.parsing import parse_message  # see preload()

    verdict = parse_message(
        raw,
        sender=config.watch.sender,
        internaldate=internaldate,
        trusted_authserv_ids=config.watch.trusted_authserv_ids,
    )
    log.debug("%s uid %d: %s", folder.name, uid, verdict.kind.value)
    return Found(verdict, folder.name, uid)
