"""``secop-watcher --help`` imports nothing heavy (a count, not a timing: the time is
measured by ``benchmarks/measure.py`` ``startup()``, see benchmarks/README.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cliutil import executable

# Modules the help must not need: each costs milliseconds at every start.
HEAVY = (
    "logging",
    "platformdirs",
    "watcher.config",
    "watcher.i18n",
    "watcher.commands",
    "watcher.paths",
    "watcher.logsetup",
    "tomllib",
    "json",
    "subprocess",
    "ssl",
    "socket",
)


# Runs the installed console script as Python would, then writes down sys.modules. (Not
# ``python -X importtime``: it prints through sys.stderr, which the CLI re-wraps, and the
# lines after that are lost.)
PROBE = """
import runpy, sys
script, out, *argv = sys.argv[1:]
sys.argv = [script, *argv]
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit:
    pass
with open(out, "w", encoding="utf-8") as f:
    f.write("\\n".join(sorted(sys.modules)))
"""


def imported_by(tmp_path: Path, *argv: str) -> set[str]:
    """Every module the installed console script has imported by the end of ``argv``."""
    out = tmp_path / "modules.txt"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, executable(), str(out), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = set(out.read_text(encoding="utf-8").splitlines())
    assert "watcher.cli" in names  # the list is real
    return names


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_help_and_version_import_nothing_heavy(argv: list[str], tmp_path: Path) -> None:
    names = imported_by(tmp_path, *argv)
    assert not [m for m in HEAVY if m in names]


def test_a_command_imports_only_its_own_module(tmp_path: Path) -> None:
    names = imported_by(tmp_path, "doctor", "--help")
    assert "watcher.commands.doctor" in names
    others = [f"watcher.commands.{m}" for m in ("setup", "login", "run", "wait", "check_now")]
    assert not [m for m in others if m in names]
    assert "logging" not in names  # still only parsing
