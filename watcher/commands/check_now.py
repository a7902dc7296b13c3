"""``secop-watcher check-now``: which link to use, right now.

``--open`` and ``--copy`` hand the current link to the browser or the clipboard,
as ``wait --open/--copy`` do (:mod:`watcher.handover`). When several SECOP users
have a current link, ``--user NAME`` says which (case-insensitively); without it
the command asks when standard input is a terminal, and otherwise says so and
does nothing rather than guess (exit 11, as for a ``--user`` with no current link).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from watcher.commands import Outcome, add_account_option, load_config
from watcher.errors import UsageError
from watcher.exitcodes import ExitCode

if TYPE_CHECKING:
    from watcher.accounts import AccountResult
    from watcher.config import Config
    from watcher.model import Link, Report


HELP = "revisa ahora la bandeja y el spam / check inbox and spam now"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-now", help=HELP, description=HELP)
    p.add_argument("--json", action="store_true", help="salida JSON / JSON output")
    p.add_argument(
        "--open",
        action="store_true",
        help="abrir el enlace vigente en el navegador / open the current link in the browser",
    )
    p.add_argument(
        "--copy",
        action="store_true",
        help="copiar el enlace vigente al portapapeles / copy the current link to the clipboard",
    )
    p.add_argument(
        "--user",
        metavar="NAME",
        help="con --open/--copy: el enlace de este usuario de SECOP / with --open/--copy: "
        "this SECOP user's link",
    )
    add_account_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    open_it, copy_it = bool(getattr(args, "open", False)), bool(getattr(args, "copy", False))
    user = getattr(args, "user", None)
    if user is not None and not (open_it or copy_it):
        raise UsageError("choose.user_needs_action")
    config = load_config(args)
    configs = config.each()
    if len(configs) == 1:
        report = check(configs[0])
        code = ExitCode.FOUND if report.current else ExitCode.NOT_FOUND
        found = [Candidate("", link) for link in report.current]
        data: object = report
    else:
        from watcher.accounts import AccountReports, run_each
        from watcher.credentials import refuse_shared_password

        refuse_shared_password([c.imap for c in configs])
        results = run_each(configs, check)
        code = _exit_code(results)
        found = [
            Candidate(r.name, link)
            for r in results
            if r.value is not None
            for link in r.value.current
        ]
        data = AccountReports(results)
    if not (open_it or copy_it) or not found:  # nothing current: the report says so
        return Outcome(data, code, config)
    from watcher import handover, i18n, render

    lang = args.lang
    ask = _terminal_question if sys.stdin.isatty() else None
    chosen, notes, refused = choose(found, user, lang, ask=ask)
    if chosen is not None and chosen.link.url:
        notes = handover.hand_over(chosen.link.url, lang, open_it=open_it, copy_it=copy_it)
    elif refused is None and not notes:
        notes = [i18n.t("choose.none", lang)]
    return Outcome(render.Noted(data, notes), refused or code, config)


@dataclass(frozen=True)
class Candidate:
    account: str  # [accounts.NAME] ("" for the [imap] form)
    link: Link


Ask = Callable[[str], str | None]  # shows a prompt, returns the answer (None: end of input)


def choose(
    found: Sequence[Candidate], user: str | None, lang: str, *, ask: Ask | None
) -> tuple[Candidate | None, list[str], ExitCode | None]:
    """Which current link to hand over: (the one, notes to show, the exit code if refused).

    ``user``: --user, compared case-insensitively. ``ask``: None when nobody can be asked
    (standard input is not a terminal); then several candidates are refused, not guessed.
    """
    from watcher import i18n, render

    if user is not None:
        wanted = user.casefold()
        matching = [c for c in found if c.link.username and c.link.username.casefold() == wanted]
        if not matching:
            users = _names(found, lang)
            text = i18n.t("choose.unknown_user", lang, user=user, users=users)
            return None, [text], ExitCode.NO_CHOICE
        found = matching
    if len(found) == 1:
        return found[0], [], None
    if ask is None:
        text = i18n.t("choose.not_a_terminal", lang, users=_names(found, lang))
        return None, [text], ExitCode.NO_CHOICE
    several_accounts = len({c.account for c in found}) > 1
    lines = [i18n.t("choose.header", lang)]
    for n, c in enumerate(found, 1):
        account = i18n.t("choose.account", lang, name=c.account) if several_accounts else ""
        lines.append(
            i18n.t(
                "choose.item",
                lang,
                n=n,
                user=c.link.username or i18n.t("user.unknown", lang),
                account=account,
                when=render.local(c.link.received),
                folder=c.link.folder,
            )
        )
    prompt = "\n".join(lines) + "\n" + i18n.t("choose.ask", lang)
    while True:
        answer = ask(prompt)
        if answer is None or not answer.strip():
            return None, [], None
        text = answer.strip()
        if text.isdigit() and 1 <= int(text) <= len(found):
            return found[int(text) - 1], [], None
        prompt = i18n.t("choose.again", lang, count=len(found)) + "\n" + i18n.t("choose.ask", lang)


def _names(found: Sequence[Candidate], lang: str) -> str:
    from watcher import i18n

    several_accounts = len({c.account for c in found}) > 1
    names: list[str] = []
    for c in found:
        name = c.link.username or i18n.t("user.unknown", lang)
        if several_accounts:
            name += i18n.t("choose.account", lang, name=c.account)
        if name not in names:
            names.append(name)
    return ", ".join(names)


def _terminal_question(prompt: str) -> str | None:
    """Ask on the terminal: the prompt on stderr (stdout may be JSON), the answer from stdin."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line if line else None


def check(config: Config) -> Report:
    """One account's check-now."""
    # Imported here, not at start-up: `secop-watcher --help` stays fast.
    from watcher.check import run_check
    from watcher.connect import Connector

    connect = Connector(config, clock=lambda: datetime.now(UTC))
    return run_check(config, connect, now=datetime.now(UTC))


def _exit_code(results: list[AccountResult[Report]]) -> ExitCode:
    """0 when any account has a current link; else the first account's error; else 1."""
    if any(r.value is not None and r.value.current for r in results):
        return ExitCode.FOUND
    for r in results:
        if r.error is not None:
            return r.error.exit_code
    return ExitCode.NOT_FOUND
