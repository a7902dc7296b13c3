"""Put text on the system clipboard with the platform's own tool.

Each tool is run by argument list (never through a shell) with the text on its
standard input, so the text (a one-time reset link) never appears in a command
line, a process listing or a log.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0


def candidates(platform: str = sys.platform) -> list[tuple[list[str], str]]:
    """``(argv, stdin encoding)`` of the tools to try, in order, for ``platform``."""
    if platform == "darwin":
        return [(["pbcopy"], "utf-8")]
    if platform == "win32":
        # clip.exe reads UTF-16 correctly when the input starts with a BOM.
        return [(["clip"], "utf-16")]
    tools: list[tuple[list[str], str]] = []
    if os.environ.get("WAYLAND_DISPLAY"):
        tools.append((["wl-copy"], "utf-8"))
    tools.append((["xclip", "-selection", "clipboard"], "utf-8"))
    tools.append((["xsel", "--clipboard", "--input"], "utf-8"))
    return tools


def copy(text: str) -> bool:
    """Copy ``text`` to the clipboard; ``False`` when no tool worked."""
    for argv, encoding in candidates():
        program = shutil.which(argv[0])
        if program is None:
            continue
        try:
            # stdout/stderr to DEVNULL: xclip and wl-copy leave a child behind that
            # serves the selection, and it would keep a captured pipe open forever.
            result = subprocess.run(
                [program, *argv[1:]],
                input=text.encode(encoding),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as e:
            log.debug("clipboard: %s failed: %s", argv[0], type(e).__name__)
            continue
        if result.returncode == 0:
            return True
        log.debug("clipboard: %s exited with %s", argv[0], result.returncode)
    return False
