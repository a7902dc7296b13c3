"""``secop-watcher-service``: the Windows login task's process, without a console window.

The task starts the windowed launcher that pip and pipx make of the
``gui-scripts`` entry (``pythonw.exe``), or ``pythonw.exe -m
watcher.install.windowed``. ``service uninstall`` asks it to stop through a
file in the state folder (:func:`stop_request_file`), since ``schtasks /End``
only kills a process that has no window, so no clean stop would run.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from watcher import paths
from watcher.install import files as sf

log = logging.getLogger(__name__)


def stop_request_file() -> Path:
    return paths.state_dir() / sf.STOP_FILE


def watch_stop_requests(
    request: Path,
    on_request: Callable[[], None],
    done: threading.Event,
    interval: float = 1.0,
) -> None:
    """Until ``done``: when ``request`` appears, remove it and call ``on_request``."""
    while not done.wait(interval):
        if request.exists():
            with contextlib.suppress(OSError):
                request.unlink()
            log.warning("stop requested (service uninstall or reinstall)")
            on_request()
            return


def _interrupt() -> None:
    # The run command's SIGINT handler sets its stop event: the normal stop path, which
    # withdraws the notifications. raise() reaches the C handler in any thread, and on
    # Windows SIGINT also wakes the main thread's wait.
    signal.raise_signal(signal.SIGINT)


def service_main(argv: Sequence[str] | None = None) -> int:
    """``secop-watcher-service``: ``secop-watcher ... run`` without a console window.

    The windowed launcher runs under ``pythonw``, where ``sys.stdout`` and
    ``sys.stderr`` are None: they are pointed at the log instead, the log goes to
    the service's own file (:func:`watcher.logsetup.use_service_log`), and a
    thread waits for the stop request of ``service uninstall``.
    """
    from watcher import cli, logsetup

    logsetup.windowless_streams()
    logsetup.use_service_log()
    request = stop_request_file()
    with contextlib.suppress(OSError):
        request.unlink(missing_ok=True)  # a stale request from before this start
    done = threading.Event()
    watcher = threading.Thread(
        target=watch_stop_requests, args=(request, _interrupt, done), daemon=True
    )
    watcher.start()
    try:
        return cli.main(sys.argv[1:] if argv is None else list(argv))
    finally:
        done.set()


if __name__ == "__main__":  # pythonw.exe -m watcher.install.windowed ... run
    sys.exit(service_main())
