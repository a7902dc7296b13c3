"""Put text on the system clipboard with the platform's own tool.

Each tool is run by argument list (never through a shell) with the text on its
standard input, so the text (a one-time reset link) never appears in a command
line, a process listing or a log.

On Linux and the BSDs the clipboard belongs to the graphical session: ``wl-copy``
needs ``WAYLAND_DISPLAY``, ``xclip`` and ``xsel`` need ``DISPLAY`` (without it
both exit 1 with "Can't open display"; ``wl-copy`` with "Failed to connect to a
Wayland server"). So a session with neither (SSH, a text console, a container)
is told so, and no tool is blamed; a tool is named only when the display is
there and the tool is missing or fails. macOS (``pbcopy``) and Windows
(``clip``) always have theirs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass

TIMEOUT_SECONDS = 5.0

# What :attr:`Copied.problem` can be.
NO_DISPLAY, NO_TOOL, FAILED = "no_display", "no_tool", "failed"


@dataclass(frozen=True)
class Copied:
    """How a copy went: ``ok``, or why not (``problem``) and what to install or what failed."""

    ok: bool
    problem: str = ""  # "" | NO_DISPLAY | NO_TOOL | FAILED
    tool: str = ""  # FAILED: the tool that failed (the last one tried)
    reason: str = ""  # FAILED: its first line on stderr, or its exit status
    install: str = ""  # NO_TOOL: the package(s) to install, as a user would ask for them


def has_display(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """A graphical session to talk to: always on macOS and Windows; else (WAYLAND_)DISPLAY."""
    if platform in ("darwin", "win32"):
        return True
    return bool(environ.get("WAYLAND_DISPLAY") or environ.get("DISPLAY"))


def candidates(
    platform: str = sys.platform, environ: Mapping[str, str] | None = None
) -> list[tuple[list[str], str]]:
    """``(argv, stdin encoding)`` of the tools to try, in order, for ``platform``."""
    env = os.environ if environ is None else environ
    if platform == "darwin":
        return [(["pbcopy"], "utf-8")]
    if platform == "win32":
        # clip.exe reads UTF-16 correctly when the input starts with a BOM.
        return [(["clip"], "utf-16")]
    tools: list[tuple[list[str], str]] = []
    if env.get("WAYLAND_DISPLAY"):
        tools.append((["wl-copy"], "utf-8"))
    if env.get("DISPLAY"):  # X, or XWayland next to a Wayland session
        tools.append((["xclip", "-selection", "clipboard"], "utf-8"))
        tools.append((["xsel", "--clipboard", "--input"], "utf-8"))
    return tools


def _install_hint(environ: Mapping[str, str]) -> str:
    if environ.get("WAYLAND_DISPLAY") and not environ.get("DISPLAY"):
        return "wl-clipboard"
    if environ.get("WAYLAND_DISPLAY"):
        return "wl-clipboard, xclip, xsel"
    return "xclip, xsel"


def copy_text(
    text: str,
    *,
    environ: Mapping[str, str] | None = None,
    platform: str = sys.platform,
    which: Callable[[str], str | None] = shutil.which,
) -> Copied:
    """Copy ``text`` to the clipboard, and say how it went (never raises)."""
    env = os.environ if environ is None else environ
    if not has_display(env, platform):
        return Copied(False, NO_DISPLAY)
    failed: Copied | None = None
    for argv, encoding in candidates(platform, env):
        program = which(argv[0])
        if program is None:
            continue
        failed = _run(program, argv, text.encode(encoding))
        if failed is None:
            return Copied(True)
    return failed or Copied(False, NO_TOOL, install=_install_hint(env))


def _run(program: str, argv: list[str], data: bytes) -> Copied | None:
    """Run one tool; None when it worked, else what failed."""
    # stdout to DEVNULL and stderr to a file, not pipes: xclip and wl-copy leave a child
    # behind that serves the selection, and it would keep a captured pipe open forever.
    with tempfile.TemporaryFile() as errors:
        try:
            result = subprocess.run(
                [program, *argv[1:]],
                input=data,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Copied(False, FAILED, argv[0], f"> {TIMEOUT_SECONDS:g} s")
        except (OSError, subprocess.SubprocessError) as e:
            return Copied(False, FAILED, argv[0], type(e).__name__)
        if result.returncode == 0:
            return None
        errors.seek(0)
        said = errors.read(2000).decode("utf-8", "replace").strip().splitlines()
    reason = said[0].strip() if said else f"exit {result.returncode}"
    return Copied(False, FAILED, argv[0], reason)


def copy(text: str) -> bool:
    """Copy ``text`` to the clipboard; ``False`` when no tool worked."""
    return copy_text(text).ok
