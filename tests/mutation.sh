#!/usr/bin/env bash
# Mutation testing of the pure core: opt-in, like the slow fuzz tier; not in the default CI run.
#
#     bash tests/mutation.sh [module ...]     # e.g. bash tests/mutation.sh links authresults
#
# Modules: choosing links authresults parsing parts bodies htmlbody encoding urls plaintext
# phrase senders (default: all). mutmut 3.8 (from .venv, configured in pyproject.toml's
# [tool.mutmut]) mutates them and runs the unit tests only: no Dovecot, no browser, no network.
# Each mutant runs only the tests that call the mutated function, stopping at the first failure.
#
# The run works on a snapshot (mutants/run/: watcher/, tests/, pyproject.toml copied first), so
# edits made while it runs do not mix into it. It prints one line per module (killed, survived,
# documented equivalents, score) and every surviving mutant that docs/mutation.md does not list as
# equivalent, with its diff; it exits 1 when a module scores below 95 % once the documented
# equivalents are discounted, 2 when the unmutated tests fail. Browse the results afterwards with
#     cd mutants/run && ../../.venv/bin/mutmut browse
# MUTATION_JOBS sets the number of parallel workers (default: the number of CPUs).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
MUTMUT=$ROOT/.venv/bin/mutmut
WORK=$ROOT/mutants/run
ALL=(choosing links authresults parsing parts bodies htmlbody encoding urls plaintext phrase senders)
# The same order of tests for each mutant, run after run (sets are ordered by hash).
export PYTHONHASHSEED=0
JOBS=${MUTATION_JOBS:-$(nproc 2>/dev/null || echo 2)}

say() { printf '==> %s\n' "$*"; }

if [[ ! -x $MUTMUT ]]; then
    echo "mutmut is missing: .venv/bin/pip install 'mutmut>=3.8,<3.9'" >&2
    exit 2
fi
modules=("$@")
if [[ ${#modules[@]} -eq 0 ]]; then
    modules=("${ALL[@]}")
fi
patterns=()
for module in "${modules[@]}"; do
    module=${module#watcher/}
    module=${module#watcher.}
    module=${module%.py}
    if [[ " ${ALL[*]} " != *" $module "* ]]; then
        echo "unknown module '$module'; one of: ${ALL[*]}" >&2
        exit 2
    fi
    patterns+=("watcher.$module.*")
done

started=$(date +%s)
say "snapshot of watcher/, tests/ and pyproject.toml in mutants/run"
rm -rf "$WORK"
mkdir -p "$WORK"
cp -rp watcher tests pyproject.toml "$WORK"/
find "$WORK" -name __pycache__ -prune -exec rm -rf {} +
rm -rf "$WORK/tests/.hypothesis"
cd "$WORK"

# The test selection of [tool.mutmut], so that a broken tree fails here, with pytest's own words.
mapfile -t selection < <("$PY" -c '
import tomllib
config = tomllib.load(open("pyproject.toml", "rb"))["tool"]["mutmut"]
print("\n".join(config["pytest_add_cli_args_test_selection"] + config["pytest_add_cli_args"]))
')
say "unit tests on the unmutated snapshot"
if ! "$PY" -m pytest -q --no-header -p no:randomly "${selection[@]}" >"$WORK/clean-run.log" 2>&1; then
    tail -n 30 "$WORK/clean-run.log"
    echo "the unit tests fail without any mutation (log: mutants/run/clean-run.log)" >&2
    exit 2
fi
rm -rf .hypothesis

say "mutmut run --max-children $JOBS ${patterns[*]}"
set +e
if [[ ${#modules[@]} -eq ${#ALL[@]} ]]; then
    "$MUTMUT" run --max-children "$JOBS" >"$WORK/mutmut.log" 2>&1
else
    "$MUTMUT" run --max-children "$JOBS" "${patterns[@]}" >"$WORK/mutmut.log" 2>&1
fi
status=$?
set -e
if [[ $status -ne 0 ]]; then
    tr '\r' '\n' <"$WORK/mutmut.log" | grep -v '^\s*$' | tail -n 30
    echo "mutmut failed (exit $status; log: mutants/run/mutmut.log)" >&2
    exit 2
fi
tr '\r' '\n' <"$WORK/mutmut.log" | grep -E 'mutations/second' || true

"$PY" - "$ROOT/docs/mutation.md" "$(($(date +%s) - started))" "${modules[@]}" <<'PY'
"""Per-module table; survivors not documented as equivalent in docs/mutation.md."""

import json
import re
import sys
from difflib import unified_diff
from pathlib import Path

doc, seconds, modules = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
THRESHOLD = 95.0
KILLED = {1, 3, 24, -24, 36, 152, 255, -9, -11}  # failed, pytest error, timeout, killed
LABEL = {0: "survived", 5: "no tests", 33: "no tests", None: "not checked"}

# "- `watcher/links.py:71` `_host_of`: `old line` → `new line` — why". Where the function has
# the old line more than once, the function is written `_name#N`: the Nth of those lines.
ENTRY = re.compile(
    r"^- `(?P<file>watcher/\w+\.py):\d+` `(?P<func>[\w.]+(?:#\d+)?)`: `(?P<old>.+?)` → "
    r"`(?P<new>.+?)` — "
)
equivalent: dict[tuple[str, str, str, str], int] = {}
for line in doc.read_text(encoding="utf-8").splitlines():
    if m := ENTRY.match(line):
        key = (Path(m["file"]).stem, m["func"], m["old"].strip(), m["new"].strip())
        equivalent[key] = equivalent.get(key, 0) + 1


def functions(path: Path) -> dict[str, list[str]]:
    """Each generated function (``x_name__mutmut_N``, ``xǁClassǁname__mutmut_N``), as lines."""
    found: dict[str, list[str]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"(\s*)def (x\w+__mutmut_\w+)\(", lines[i])
        i += 1
        if not m:
            continue
        indent, body = len(m[1]), found.setdefault(m[2], [lines[i - 1]])
        while i < len(lines):
            text = lines[i]
            deeper = len(text) - len(text.lstrip()) > indent
            if text.strip() and not deeper and not text.lstrip().startswith((")", "]")):
                break
            body.append(text)
            i += 1
        while body and not body[-1].strip():
            body.pop()
    return found


def diff(code: dict[str, list[str]], key: str) -> tuple[str, str, list[str], str]:
    """The removed and added lines (stripped, joined by " / "), the hunks, and ``#N`` when
    the first removed line occurs more than once in the function (else "")."""
    mangled = key.rpartition(".")[2]
    base = mangled.rsplit("__mutmut_", 1)[0]
    orig = [line.replace(base + "__mutmut_orig", "f") for line in code.get(base + "__mutmut_orig", [])]
    mutant = [line.replace(mangled, "f") for line in code.get(mangled, [])]
    lines = list(unified_diff(orig, mutant, lineterm="", n=0))[2:]
    old = " / ".join(x[1:].strip() for x in lines if x.startswith("-"))
    new = " / ".join(x[1:].strip() for x in lines if x.startswith("+"))
    occurrence = ""
    hunk = re.match(r"@@ -(\d+)", lines[0]) if lines else None
    if hunk and old:
        at = int(hunk[1]) - 1
        same = [i for i, line in enumerate(orig) if line.strip() == orig[at].strip()]
        if len(same) > 1:
            occurrence = f"#{same.index(at) + 1}"
    return old, new, lines, occurrence


def function_name(key: str) -> str:
    mangled = key.rpartition(".")[2].rsplit("__mutmut_", 1)[0]
    if "ǁ" in mangled:  # a method: xǁClassǁname
        _, cls, name = mangled.split("ǁ")
        return f"{cls}.{name}"
    return mangled.removeprefix("x_")


rows, unexplained, used = [], [], set()
failing = False
for module in modules:
    meta = json.loads(Path(f"mutants/watcher/{module}.py.meta").read_text())["exit_code_by_key"]
    code = functions(Path(f"mutants/watcher/{module}.py"))
    killed = survived = equiv = 0
    for key, status in sorted(meta.items()):
        if status in KILLED:
            killed += 1
            continue
        func = function_name(key)
        old, new, lines, occurrence = diff(code, key)
        k = (module, func + occurrence, old, new)
        if status == 0 and k in equivalent:
            equiv += 1
            used.add(k)
            continue
        survived += 1
        unexplained.append((module, func, key, LABEL.get(status, f"exit {status}"), lines))
    counted = killed + survived
    score = 100.0 * killed / counted if counted else 100.0
    failing |= score < THRESHOLD
    rows.append((module, len(meta), killed, survived, equiv, score))

print()
print(f"{'module':<12} {'mutants':>7} {'killed':>7} {'survived':>8} {'equivalent':>10} {'score':>7}")
for module, total, killed, survived, equiv, score in rows:
    mark = "" if score >= THRESHOLD else f"   below {THRESHOLD:.0f} %"
    print(f"{module:<12} {total:>7} {killed:>7} {survived:>8} {equiv:>10} {score:>6.1f}%{mark}")
print(f"score = killed / (mutants - documented equivalents); wall time {seconds // 60} min {seconds % 60} s")
if unexplained:
    print(f"\n{len(unexplained)} surviving mutants not listed as equivalent in docs/mutation.md:")
    for module, func, key, label, lines in unexplained:
        print(f"\n{key} ({label}) in watcher/{module}.py {func}")
        print("\n".join("    " + line for line in lines))
stale = [k for k in equivalent if k[0] in modules and k not in used]
if stale:
    print("\ndocs/mutation.md lists as equivalent mutants that no longer survive (or changed):")
    for module, func, old, new in stale:
        print(f"    {module}.{func}: {old} → {new}")
sys.exit(1 if failing else 0)
PY
