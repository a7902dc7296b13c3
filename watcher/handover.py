"""``--open`` and ``--copy`` for ``wait`` and ``check-now``: hand the link over, and say
plainly what happened (never "opened" when no browser was found).

How Python's :mod:`webbrowser` says "no browser": ``webbrowser.open`` tries every
browser it registered, in order, and returns ``False`` when none took the
address; it registers nothing at all on Linux without ``DISPLAY`` or
``WAYLAND_DISPLAY`` except text browsers (lynx, w3m, … when ``TERM`` is set),
which SECOP II's pages (JavaScript) do not work in, and which would take over
the terminal. So without a graphical session (and without ``BROWSER``, which
the user may point anywhere) nothing is started and the message says why.
Note that for ``xdg-open`` and the like ``True`` means "started", not "shown".
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

from watcher import clipboard
from watcher.i18n import t


def open_link(
    url: str,
    lang: str,
    *,
    environ: Mapping[str, str] | None = None,
    platform: str = sys.platform,
    opener: Callable[[str], bool] | None = None,
) -> str:
    """Give ``url`` to the browser; the sentence that says how it went."""
    env = os.environ if environ is None else environ
    if not clipboard.has_display(env, platform) and not env.get("BROWSER"):
        return t("open.no_display", lang)
    if opener is None:
        import webbrowser

        def opener(address: str) -> bool:
            try:
                return webbrowser.open(address)
            except webbrowser.Error:
                return False

    return t("wait.opened" if opener(url) else "open.no_browser", lang)


def copy_link(
    url: str,
    lang: str,
    *,
    copier: Callable[[str], clipboard.Copied] | None = None,
) -> str:
    """Put ``url`` on the clipboard; the sentence that says how it went."""
    return copied_text((copier or clipboard.copy_text)(url), lang)


def copied_text(done: clipboard.Copied, lang: str) -> str:
    """How a copy went, in the user's words (also the notification's "Copiar enlace")."""
    if done.ok:
        return t("wait.copied", lang)
    if done.problem == clipboard.NO_DISPLAY:
        return t("copy.no_display", lang)
    if done.problem == clipboard.NO_TOOL:
        return t("copy.no_tool", lang, install=done.install)
    return t("copy.failed", lang, tool=done.tool, reason=done.reason)


def hand_over(url: str, lang: str, *, open_it: bool, copy_it: bool) -> list[str]:
    """``--open`` and/or ``--copy``: one sentence for each."""
    notes = []
    if open_it:
        notes.append(open_link(url, lang))
    if copy_it:
        notes.append(copy_link(url, lang))
    return notes
