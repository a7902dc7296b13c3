"""Waiting for the stop signal, on every platform.

- POSIX: SIGTERM and SIGINT are blocked in worker threads (they inherit the
  mask) so that only the main thread takes them, and the main thread waits
  without a timeout: zero wake-ups at rest.
- Windows has no ``pthread_sigmask`` nor ``SIG_BLOCK``, delivers Ctrl-C to the
  main thread anyway, and before Python 3.14 a ``threading.Event.wait()``
  without a timeout cannot be interrupted by Ctrl-C: the main thread wakes
  once a second there to let the handler run.

The ``signal`` module and the Python version are parameters, so the tests
can hand in Windows' facts on Linux.
"""

from __future__ import annotations

import signal as _signal
import sys
import threading
from types import ModuleType

__all__ = ["block_stop_signals", "stop_wait_timeout", "unblock_stop_signals", "wait_for_stop"]

WINDOWS_WAKE_SECONDS = 1.0


def _mask(how_name: str, module: ModuleType) -> None:
    how = getattr(module, how_name, None)
    mask = getattr(module, "pthread_sigmask", None)
    if how is None or mask is None:  # Windows
        return
    mask(how, {module.SIGTERM, module.SIGINT})


def block_stop_signals(module: ModuleType = _signal) -> None:
    """Keep SIGTERM/SIGINT away from threads started from now on (POSIX only)."""
    _mask("SIG_BLOCK", module)


def unblock_stop_signals(module: ModuleType = _signal) -> None:
    _mask("SIG_UNBLOCK", module)


def stop_wait_timeout(
    module: ModuleType = _signal, version: tuple[int, int] = sys.version_info[:2]
) -> float | None:
    """None (wait forever) where Ctrl-C interrupts a wait, else a short wake-up."""
    if hasattr(module, "pthread_sigmask") or version >= (3, 14):
        return None
    return WINDOWS_WAKE_SECONDS


def wait_for_stop(stop: threading.Event, timeout: float | None = None) -> None:
    """Return once ``stop`` is set, waking every ``timeout`` seconds if one is given."""
    while not stop.wait(timeout):
        pass
