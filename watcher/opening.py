"""What to open of the candidates a search found: a plan, decided without a server.

From each candidate's envelope (header fields, structure, size, arrival) and
the clock, every message gets one fate:

- **decided** without opening: another address of the sender's domain (SECOP's
  process notices), or mail from the sender older than a link lives and not
  among the newest old ones (:mod:`watcher.glance`): counted, never fetched;
- **complete**: already here whole (fetched with its envelope after an IDLE
  push): parsed as it is;
- **parts**: its text parts are fetched (every one, so that they can be
  compared); a **glance** (the first bytes of the smallest text part) for the
  newest old mails, so their links keep their SECOP user;
- **whole**: what has no usable text part in its structure is fetched whole,
  capped; the parser then decides. That is known only after the parts came
  back, so :func:`whole_after` decides it from the plan and what was fetched.

:mod:`watcher.check` carries the plan out: one FETCH write for all parts, then
parsing and choosing. Pure: tests give it envelopes and a clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from watcher import glance, parts
from watcher.config import Config
from watcher.folders import Folder
from watcher.mail import Envelope
from watcher.model import Found, Kind, Verdict

OPEN_MARGIN = timedelta(hours=1)


@dataclass
class Plan:
    decided: list[Found] = field(default_factory=list)  # counted, never opened
    complete: list[tuple[Folder, Envelope]] = field(default_factory=list)  # parsed as they are
    parts: dict[str, list[tuple[int, parts.Leaf]]] = field(default_factory=dict)  # to fetch
    glanced: dict[str, set[int]] = field(default_factory=dict)  # of those, only a glance
    settled: dict[str, set[int]] = field(default_factory=dict)  # decided or complete, per folder


def plan(scanned: Sequence[tuple[Folder, list[Envelope]]], config: Config, now: datetime) -> Plan:
    """Each candidate's fate (see the module's text)."""
    out = Plan()
    to_glance = _newest_old(scanned, config, now)
    for folder, envelopes in scanned:
        siblings = [
            _other_sender(folder, e, config) for e in envelopes if _sibling_sender(e, config)
        ]
        # An old mail with no text part to glance at is counted, never fetched whole.
        glanced = {
            e.uid
            for e in envelopes
            if (folder.name, e.uid) in to_glance and glance.leaves(e.structure)
        }
        unread = [
            _old(folder, e) for e in envelopes if too_old(e, config, now) and e.uid not in glanced
        ]
        skip = {f.uid for f in siblings + unread}
        complete = [e for e in envelopes if e.raw is not None and e.uid not in skip]
        out.decided += siblings + unread
        out.complete += [(folder, e) for e in complete]
        skip |= {e.uid for e in complete}
        out.settled[folder.name] = skip
        out.parts[folder.name] = [
            (e.uid, leaf)
            for e in envelopes
            if e.uid not in skip
            for leaf in (
                glance.leaves(e.structure) if e.uid in glanced else parts.text_parts(e.structure)
            )
        ]
        out.glanced[folder.name] = glanced
    return out


def whole_after(
    the_plan: Plan, folder: Folder, envelopes: Sequence[Envelope], got: Mapping[int, object]
) -> list[int]:
    """The messages to fetch whole: neither settled nor given parts by the server."""
    settled = the_plan.settled.get(folder.name, set())
    return [e.uid for e in envelopes if e.uid not in got and e.uid not in settled]


def _sibling_sender(envelope: Envelope, config: Config) -> bool:
    """Another address of the sender's own domain (SECOP's process notices): not opened.

    They are the bulk of SECOP's mail and cannot be the reset mail, which comes
    from the one configured address; a forged reset mail uses that address
    (or a look-alike domain), and those are always opened and checked.
    """
    address = envelope.sender
    if address is None or address == config.watch.sender:
        return False
    domain = config.watch.sender.rpartition("@")[2]
    host = address.rpartition("@")[2]
    return host == domain or host.endswith("." + domain)


def too_old(envelope: Envelope, config: Config, now: datetime) -> bool:
    """From the sender and older than a link lives (plus an hour for clocks): not opened.

    Whatever link it holds has expired, and a newer mail cannot be older, so
    leaving it closed never changes which link is current. It saves most of
    a check's bytes in a mailbox with weeks of SECOP mail. Any other sender
    claiming to be SECOP is still opened, however old: it may be a forgery
    to report.
    """
    if envelope.internaldate is None or envelope.sender != config.watch.sender:
        return False
    limit = timedelta(hours=config.watch.max_link_age_hours) + OPEN_MARGIN
    return now - envelope.internaldate > limit


def _newest_old(
    scanned: Sequence[tuple[Folder, list[Envelope]]], config: Config, now: datetime
) -> set[tuple[str, int]]:
    """``(folder, uid)`` of the old mails a check glances at (:func:`watcher.glance.newest`)."""
    return glance.newest(
        (e.internaldate, folder.name, e.uid)
        for folder, envelopes in scanned
        for e in envelopes
        if e.raw is None and too_old(e, config, now)
    )


def _old(folder: Folder, envelope: Envelope) -> Found:
    return Found(Verdict(Kind.OLD, received=envelope.internaldate), folder.name, envelope.uid)


def _other_sender(folder: Folder, envelope: Envelope, config: Config) -> Found:
    verdict = Verdict(Kind.OTHER, sender=envelope.sender)
    return Found(verdict, folder.name, envelope.uid)
