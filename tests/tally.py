"""Counts that the suite prints at the end (``pytest_terminal_summary`` in conftest):
how many hostile inputs and faults were tried, and how many crashed or leaked (must be 0)."""

from __future__ import annotations

from collections import Counter

COUNTS: Counter[str] = Counter()
MAXIMA: dict[str, float] = {}


def record(name: str, n: int = 1) -> None:
    COUNTS[name] += n


def record_max(name: str, value: float) -> None:
    MAXIMA[name] = max(value, MAXIMA.get(name, value))
