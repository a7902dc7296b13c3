"""Every fault the test proxy injected in this run, for the terminal summary.

:class:`tests.servers.faultproxy.FaultProxy` appends ``"stage/fault"`` to
:data:`FAULTS_INJECTED` each time it breaks a connection on purpose.
"""

from __future__ import annotations

FAULTS_INJECTED: list[str] = []


def summary() -> str:
    """``"N faults injected (fetch/drop ×2, …)"``, or an empty string."""
    if not FAULTS_INJECTED:
        return ""
    counts: dict[str, int] = {}
    for name in FAULTS_INJECTED:
        counts[name] = counts.get(name, 0) + 1
    parts = ", ".join(f"{name} ×{n}" for name, n in sorted(counts.items()))
    return f"{len(FAULTS_INJECTED)} faults injected ({parts})"
