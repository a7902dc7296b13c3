"""Several mailboxes (``[accounts.NAME]``): the same work for each, side by side.

Each account runs in its own thread, so one slow or dead server does not
hold up the others, and one account's failure is reported as that account's
result: it never stops the others (issue 6).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from watcher import i18n, render
from watcher.config import Config, WatchConfig
from watcher.errors import UserError
from watcher.model import Report

T = TypeVar("T")


@dataclass(frozen=True)
class AccountResult(Generic[T]):
    """What ``work`` gave for one account, or the user error it ended with."""

    name: str
    username: str
    value: T | None
    error: UserError | None = None


def run_each(configs: Sequence[Config], work: Callable[[Config], T]) -> list[AccountResult[T]]:
    """``work(config)`` for every account at once; results in the accounts' order."""

    def one(config: Config) -> AccountResult[T]:
        try:
            return AccountResult(config.account, config.imap.username, work(config))
        except UserError as e:
            return AccountResult(config.account, config.imap.username, None, e)

    with ThreadPoolExecutor(max_workers=max(1, len(configs)), thread_name_prefix="account") as pool:
        return list(pool.map(one, configs))


@dataclass(frozen=True)
class AccountReports:
    """check-now over several accounts: one report (or error) each."""

    results: list[AccountResult[Report]]


@render.render.register
def _(data: AccountReports, *, as_json: bool, lang: str, config: Config | None) -> str:
    if as_json:
        return json.dumps(_as_dict(data, lang), ensure_ascii=False, indent=2)
    watch = config.watch if config else WatchConfig()
    blocks = []
    for r in data.results:
        head = i18n.t("accounts.header", lang, name=r.name, username=r.username)
        body = ""
        if r.error is not None:
            body = i18n.t("accounts.failed", lang, error=i18n.error_text(r.error, lang))
        elif r.value is not None:
            body = render.report_text(
                r.value, lang, sender=watch.sender, max_age_hours=watch.max_link_age_hours
            )
        blocks.append(f"{head}\n{body}")
    return "\n\n".join(blocks)


def _as_dict(data: AccountReports, lang: str) -> dict[str, Any]:
    """Each account's report as ``check-now --json`` gives it, plus every current
    link of every account in one list (each naming its account), for scripts."""
    accounts: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for r in data.results:
        entry: dict[str, Any] = {"name": r.name, "username": r.username}
        if r.value is not None:
            report = render.report_dict(r.value)
            entry.update(error=None, report=report)
            current += [{"account": r.name, **link} for link in report["current"]]
        elif (e := r.error) is not None:
            entry.update(
                error={
                    "code": e.key,
                    "exit_code": int(e.exit_code),
                    "message": i18n.error_text(e, lang),
                },
                report=None,
            )
        accounts.append(entry)
    return {"accounts": accounts, "current": current}
