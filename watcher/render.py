"""The one place where results become text or JSON.

Commands return data (:class:`~watcher.model.Report`, parse results, ...);
this module turns it into what the user reads, in Spanish or English.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import singledispatch
from typing import Any
from urllib.parse import urlsplit

from watcher.config import DEFAULT_SENDER, Config, WatchConfig
from watcher.i18n import nt, t
from watcher.model import Kind, Link, Report, Suspicious, Verdict


@dataclass(frozen=True)
class ParsedFile:
    file: str
    verdict: Verdict


@dataclass(frozen=True)
class ParsedFiles:
    items: list[ParsedFile]


@dataclass(frozen=True)
class Noted:
    """A command's result and what it did besides (``check-now --open``: "Abierto en su
    navegador"). Text: the result, then the notes; JSON: the result alone (the CLI
    writes the notes to stderr, so that stdout stays one JSON object)."""

    data: object
    notes: list[str]


@singledispatch
def render(data: object, *, as_json: bool, lang: str, config: Config | None) -> str:
    """Render a command's result; each result type registers its own renderer."""
    raise TypeError(f"no renderer for {type(data).__name__}")


@render.register
def _(data: Report, *, as_json: bool, lang: str, config: Config | None) -> str:
    if as_json:
        return report_json(data)
    watch = config.watch if config else WatchConfig()
    return report_text(data, lang, sender=watch.sender, max_age_hours=watch.max_link_age_hours)


@render.register
def _(data: ParsedFiles, *, as_json: bool, lang: str, config: Config | None) -> str:
    sender = config.watch.sender if config else DEFAULT_SENDER
    return parsed_json(data.items) if as_json else parsed_text(data.items, lang, sender=sender)


@render.register
def _(data: Noted, *, as_json: bool, lang: str, config: Config | None) -> str:
    text = render(data.data, as_json=as_json, lang=lang, config=config)
    if as_json or not data.notes:
        return text
    return "\n".join([text, *data.notes]) if text else "\n".join(data.notes)


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="seconds") if dt else None


def local(dt: datetime | None, lang: str = "en") -> str:
    """A local date and time as ``lang`` writes it (:func:`watcher.i18n.when`: Colombia's
    ``5/03/2024 2:07 p. m.`` in Spanish; ``2024-03-05 14:07`` in English and for logs)."""
    from watcher import i18n

    return i18n.when(dt, lang) if dt else "?"


def age(dt: datetime, now: datetime, lang: str) -> str:
    seconds = (now - dt).total_seconds()
    minutes = int(seconds // 60)
    if seconds < -60:  # a minute of clock skew is still "now"
        return t("age.future", lang)
    if minutes < 1:
        return t("age.moment", lang)
    if minutes < 120:
        return nt("age.minutes", minutes, lang, n=minutes)
    if minutes < 48 * 60:
        return nt("age.hours", minutes // 60, lang, n=minutes // 60)
    days = minutes // (24 * 60)
    return nt("age.days", days, lang, n=days)


# --- JSON --------------------------------------------------------------------


def link_json(link: Link) -> dict[str, Any]:
    return {
        "username": link.username,
        "url": link.url,
        "received": iso(link.received),
        "folder": link.folder,
        "message_id": link.message_id,
        "verified": link.verified,
    }


def suspicious_json(s: Suspicious) -> dict[str, Any]:
    """No ``url`` key on purpose: a script must never pick a suspicious link."""
    return {
        "received": iso(s.received),
        "folder": s.folder,
        "message_id": s.message_id,
        "sender": s.sender,
        "subject": s.subject,
        "link_host": _host(s.url),
        "reasons": list(s.reasons),
    }


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def report_json(report: Report) -> str:
    return json.dumps(report_dict(report), ensure_ascii=False, indent=2)


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "checked_at": iso(report.checked_at),
        "folders": report.folders,
        "current": [link_json(x) for x in report.current],
        "expired": [link_json(x) for x in report.expired],
        "superseded": [link_json(x) for x in report.superseded],
        "suspicious": [suspicious_json(x) for x in report.suspicious],
        "unopened": [{"received": iso(u.received), "folder": u.folder} for u in report.unopened],
        "warnings": [{"code": w.code, "detail": w.detail} for w in report.warnings],
    }


def parsed_json(items: Sequence[ParsedFile]) -> str:
    return json.dumps(
        [
            {
                "file": p.file,
                "kind": p.verdict.kind.value,
                "username": p.verdict.username,
                "url": p.verdict.url if p.verdict.kind is Kind.RESET else None,
                "received": iso(p.verdict.received),
                "reasons": list(p.verdict.reasons),
            }
            for p in items
        ],
        ensure_ascii=False,
        indent=2,
    )


# --- text --------------------------------------------------------------------


def reasons_text(reasons: Sequence[str], lang: str, sender: str) -> str:
    words = []
    from watcher import i18n

    for code in reasons:
        key = f"reason.{code}"
        words.append(t(key, lang, sender=sender) if i18n.has(key) else code)
    return "; ".join(words)


def report_text(report: Report, lang: str, *, sender: str, max_age_hours: float) -> str:
    now = report.checked_at
    lines: list[str] = []
    for link in report.current:
        lines += [*link_lines(link, now, lang), ""]
    if report.current:
        lines += [t("current.warn_once", lang)]
    else:
        lines += [t("none", lang)]
    for link in report.expired:
        user = link.username or t("user.unknown", lang)
        lines.append(
            t(
                "expired.line",
                lang,
                user=user,
                when=local(link.received, lang),
                age=age(link.received, now, lang),
                hours=float(max_age_hours),
            )
        )
    lines += superseded_lines(report.superseded, lang)
    if report.unopened:
        newest = report.unopened[0].received
        lines.append(
            nt(
                "unopened.line",
                len(report.unopened),
                lang,
                count=len(report.unopened),
                sender=sender,
                hours=float(max_age_hours),
                when=local(newest, lang),
                age=age(newest, now, lang) if newest else "?",
            )
        )
    lines += [suspicious_line(s, lang, sender) for s in report.suspicious]
    lines += [t(f"notice.{w.code}", lang, detail=w.detail) for w in report.warnings]
    lines.append(t("checked.folders", lang, folders=", ".join(report.folders) or "-"))
    return "\n".join(lines)


def superseded_lines(links: Sequence[Link], lang: str) -> list[str]:
    """One line per SECOP user whose older links were replaced, newest user first."""
    counts: dict[str | None, list[Link]] = {}
    for link in links:
        counts.setdefault(link.username.casefold() if link.username else None, []).append(link)
    return [
        nt(
            "superseded.line",
            len(same),
            lang,
            user=same[0].username or t("user.unknown", lang),
            count=len(same),
        )
        for same in counts.values()
    ]


def suspicious_line(s: Suspicious, lang: str, sender: str) -> str:
    return t(
        "suspicious.line",
        lang,
        folder=s.folder,
        when=local(s.received, lang),
        sender=s.sender or t("sender.unknown", lang),
        reasons=reasons_text(s.reasons, lang, sender),
    )


def link_lines(link: Link, now: datetime, lang: str) -> list[str]:
    user = link.username or t("user.unknown", lang)
    meta = t(
        "current.meta",
        lang,
        when=local(link.received, lang),
        age=age(link.received, now, lang),
        folder=link.folder,
    )
    if link.verified is True:
        meta += " " + t("verify.verified", lang)
    elif link.verified is None:
        meta += " " + t("verify.unverified", lang)
    return [t("current.title", lang, user=user), f"  {link.url}", f"  {meta}"]


def wait_text(link: Link | None, notes: Sequence[str], lang: str) -> str:
    if link is None:
        return ""
    lines = link_lines(link, datetime.now(link.received.tzinfo), lang)
    return "\n".join([*lines, *notes])


def wait_json(link: Link | None, folders: Sequence[str], waited: float, account: str = "") -> str:
    data: dict[str, Any] = {
        "link": link_json(link) if link else None,
        "folders": list(folders),
        "waited_seconds": round(waited, 1),
    }
    if account:  # several accounts: the one where the link came
        data["account"] = account
    return json.dumps(data, ensure_ascii=False, indent=2)


def parsed_text(items: Sequence[ParsedFile], lang: str, *, sender: str) -> str:
    lines = []
    for p in items:
        v = p.verdict
        if v.kind is Kind.RESET:
            user = v.username or t("user.unknown", lang)
            lines.append(
                t(
                    "parse.reset",
                    lang,
                    file=p.file,
                    user=user,
                    when=local(v.received, lang),
                    url=v.url,
                )
            )
        elif v.kind is Kind.SUSPICIOUS:
            lines.append(
                t(
                    "parse.suspicious",
                    lang,
                    file=p.file,
                    reasons=reasons_text(v.reasons, lang, sender),
                )
            )
        else:
            lines.append(t("parse.other", lang, file=p.file))
    return "\n".join(lines)
