"""The message catalogs' upkeep: extract, update, compile (docs/translating.md).

    python -m tools.catalogs extract   # what the code uses → watcher/locale/secop-watcher.pot
    python -m tools.catalogs update    # the .pot merged into es and en (translations kept)
    python -m tools.catalogs compile   # .po → .mo (setup.py does it at every build)

The msgids are the message keys (``current.title``); what the code uses is found
three ways, and the test (tests/test_i18n.py) checks the catalogs against all three:

- Babel's Python extractor: the first argument of ``t(...)`` (``i18n.t``, the
  wizard's ``self.t``/``say``/``question``) and of ``nt(...)`` (plural forms);
- every other string literal shaped like a key of a known namespace (error keys
  passed as data: ``TLSError("error.tls_verify")``, config problems
  ``("config.int_range", {...})``);
- the keys built at run time (``f"doctor.check.{check}"``): :data:`DYNAMIC` lists,
  per prefix, where its values come from, read from the sources themselves.

argparse's own messages keep argparse's English text as msgid: they are extracted
from the running Python's Lib/argparse.py (``_``/``ngettext``) and live in the
Spanish catalog only (English is their source).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "watcher"
LOCALE = PACKAGE / "locale"
DOMAIN = "secop-watcher"
LANGS = ("es", "en")
POT = LOCALE / f"{DOMAIN}.pot"
# The other language, shown to the translator of each catalog as an extracted comment.
OTHER = {"es": "en", "en": "es"}
COMMENT = {"es": "en: ", "en": "es: "}
ARGPARSE_COMMENT = "argparse"

# Namespaces of the keys: a string literal "<namespace>.<more>" is a key.
NAMESPACES = (
    "accounts",
    "age",
    "args",
    "checked",
    "choose",
    "config",
    "copy",
    "current",
    "doctor",
    "error",
    "expired",
    "login",
    "notice",
    "notify",
    "open",
    "oserror",
    "parse",
    "reason",
    "run",
    "sender",
    "service",
    "setup",
    "superseded",
    "suspicious",
    "toml",
    "unopened",
    "user",
    "verify",
    "wait",
)
KEY = re.compile(r"^(?:" + "|".join(NAMESPACES) + r")\.[a-z0-9_]+(?:[.-][a-z0-9_]+)*$")
SINGLE_WORD_KEYS = ("none",)  # keys without a namespace, found by the t(...) extraction
# Literals shaped like keys that are not messages: TOML table names.
NOT_MESSAGES = re.compile(r"^accounts\.(?!header$|failed$)|\.log$")
KEYWORDS = ("t", "nt", "say", "question", "has")
PLURAL_KEYWORDS = ("nt",)


def key_shaped(text: str) -> bool:
    return bool(KEY.match(text)) and not NOT_MESSAGES.search(text)


@dataclass
class Use:
    """A key the code uses: where, and whether it needs plural forms."""

    key: str
    plural: bool = False
    places: list[tuple[str, int]] = field(default_factory=list)


def _sources() -> Iterator[Path]:
    yield from sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def static_uses() -> dict[str, Use]:
    """Keys written in the code: Babel's extractor, then key-shaped literals."""
    from babel.messages.extract import extract_python

    uses: dict[str, Use] = {}

    def add(key: str, path: Path, line: int, plural: bool = False) -> None:
        use = uses.setdefault(key, Use(key))
        use.plural = use.plural or plural
        use.places.append((_rel(path), line))

    for path in _sources():
        literals = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.setdefault(node.value, node.lineno)
        # Babel warns about every f-string key on stderr: those are DYNAMIC's business.
        with path.open("rb") as f, contextlib.redirect_stderr(io.StringIO()):
            found = list(extract_python(f, KEYWORDS, [], {"encoding": "utf-8"}))
        for line, funcname, messages, _comments in found:
            first = messages[0] if isinstance(messages, tuple) else messages
            # Babel joins adjacent literals ("a" if x else "b"): only whole literals count.
            wanted = isinstance(first, str) and (key_shaped(first) or first in SINGLE_WORD_KEYS)
            if wanted and first in literals:
                add(first, path, line, funcname in PLURAL_KEYWORDS)
        for text, line in literals.items():
            if key_shaped(text):
                add(text, path, line)
    for use in uses.values():  # each place once, even when both ways found it
        use.places = sorted(set(use.places))
    # f-strings' constant parts are ast.Constant nodes too: those are prefixes, not keys.
    return {k: u for k, u in uses.items() if not any(k == p.rstrip(".") for p in DYNAMIC)}


# --------------------------------------------------------------------------- dynamic keys


def _tree(relpath: str) -> ast.Module:
    return ast.parse((REPO / relpath).read_text(encoding="utf-8"))


def _strings(node: ast.AST | None) -> set[str]:
    """The string literals in ``node``, but not those it compares with (``x == "win32"``)."""
    if node is None:
        return set()
    compared = {id(n) for c in ast.walk(node) if isinstance(c, ast.Compare) for n in ast.walk(c)}
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in compared
    }


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def first_args(relpath: str, call: str, position: int = 0) -> set[str]:
    """The string literals in the ``position``-th argument of every ``call(...)``."""
    out: set[str] = set()
    for n in ast.walk(_tree(relpath)):
        if isinstance(n, ast.Call) and _name(n.func) == call and len(n.args) > position:
            out |= _strings(n.args[position])
    return out


def keyword_args(relpath: str, keyword: str) -> set[str]:
    out: set[str] = set()
    for n in ast.walk(_tree(relpath)):
        if isinstance(n, ast.Call):
            out |= set().union(*(_strings(k.value) for k in n.keywords if k.arg == keyword))
    return out


def assigned(relpath: str, name: str) -> set[str]:
    """The string literals in what is assigned to ``name``."""
    out: set[str] = set()
    for n in ast.walk(_tree(relpath)):
        if isinstance(n, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in n.targets
        ):
            out |= _strings(n.value)
        if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", None) == name:
            out |= _strings(n.value)
    return out


def _words(values: Iterable[str]) -> set[str]:
    return {v for v in values if re.fullmatch(r"[a-z][a-z0-9_-]*", v)}


def _returned(relpath: str, function: str) -> set[str]:
    """The words ``function`` returns."""
    out: set[str] = set()
    for n in ast.walk(_tree(relpath)):
        if isinstance(n, ast.FunctionDef) and n.name == function:
            for r in ast.walk(n):
                if isinstance(r, ast.Return):
                    out |= _strings(r.value)
    return _words(out)


def _reasons() -> set[str]:
    from watcher import authresults, links, parsing

    return {
        getattr(m, name)
        for m in (links, parsing, authresults)
        for name in dir(m)
        if name.startswith("REASON_")
    }


def _connection_kinds() -> set[str]:
    from watcher import setupwizard

    return set(setupwizard.CONNECTION_KEYS.values()) | _words(
        assigned("watcher/setupwizard.py", "kind")
    )


def _security() -> set[str]:
    from watcher.config import SECURITY_PORTS

    return set(SECURITY_PORTS)


# prefix → where its values come from. A key built at run time from a prefix missing
# here makes the test fail (tests/test_i18n.py finds the f-strings).
DYNAMIC: dict[str, Callable[[], set[str]]] = {
    "reason.": _reasons,
    "notice.": lambda: first_args("watcher/check.py", "Notice"),
    "doctor.check.": lambda: _words(first_args("watcher/diagnose.py", "add")),
    "doctor.summary.": lambda: _words(assigned("watcher/diagnose.py", "summary")),
    # Probe.problem (watcher/notify/platforms.py) and f"ok.{platform}" for the two
    # platforms that probe (Linux asks D-Bus instead).
    "doctor.notify.": lambda: (
        _words(assigned("watcher/notify/platforms.py", "problem"))
        | _words(first_args("watcher/notify/platforms.py", "Probe", 2))
        | {"ok.win32", "ok.darwin"}
    ),
    # Folder.how of the spam folders (the only ones described: Folder(name, spam=True, how)).
    "setup.how.": lambda: {
        how
        for n in ast.walk(_tree("watcher/folders.py"))
        if isinstance(n, ast.Call) and _name(n.func) == "Folder" and len(n.args) == 3
        if not (isinstance(n.args[1], ast.Constant) and n.args[1].value is False)
        for how in _strings(n.args[2])
    },
    "config.command_": lambda: _returned("watcher/commandline.py", "problem"),
    "setup.provider.": lambda: keyword_args("watcher/providers.py", "key"),
    "setup.found.": lambda: _words(first_args("watcher/discover.py", "Found", 3)),
    "setup.probe_ok.": _security,
    "setup.fail.": _connection_kinds,
    "setup.scripted.": lambda: (
        set(__import__("watcher.setupwizard").setupwizard.CONNECTION_KEYS.values())
        | {"certificate"}
    ),
    "service.": lambda: _words(first_args("watcher/install/control.py", "ServiceChange")),
    # ServiceStatus.running: "active" | "inactive" | "unknown" (watcher/install/control.py
    # _running's docstring; "unknown" has its own line with the manager's name).
    "service.status.": lambda: {"active", "inactive", "unknown"},
}


def dynamic_uses() -> dict[str, Use]:
    uses: dict[str, Use] = {}
    for prefix, values in DYNAMIC.items():
        for value in sorted(values()):
            uses[prefix + value] = Use(prefix + value)
    return uses


def dynamic_prefixes_in_code() -> set[str]:
    """The constant heads of f-strings shaped like ``"<namespace>.{...}"`` in watcher/."""
    found: set[str] = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.JoinedStr) or not node.values:
                continue
            head = node.values[0]
            if (
                isinstance(head, ast.Constant)
                and isinstance(head.value, str)
                and head.value.endswith((".", "_"))
                and key_shaped(head.value.rstrip("._") + ".x")
                and not NOT_MESSAGES.search(head.value)
            ):
                found.add(head.value)
    return found


def uses() -> dict[str, Use]:
    """Every key the code uses, static and dynamic."""
    out = dynamic_uses()
    for key, use in static_uses().items():
        if key in out:
            out[key].places += use.places
            out[key].plural = out[key].plural or use.plural
        else:
            out[key] = use
    return out


# --------------------------------------------------------------------------- argparse


def argparse_messages(path: str | None = None) -> dict[str, tuple[str, ...]]:
    """argparse's translatable texts, as Babel's extractor reads Lib/argparse.py:
    msgid → (msgid,) or (singular, plural)."""
    from babel.messages.extract import extract_python

    if path is None:
        path = argparse.__file__
    out: dict[str, tuple[str, ...]] = {}
    with open(path, "rb") as f:
        for _line, funcname, messages, _c in extract_python(f, ("_", "ngettext"), [], {}):
            texts = messages if isinstance(messages, tuple) else (messages,)
            if not texts or not isinstance(texts[0], str):
                continue
            if funcname == "ngettext":
                out[texts[0]] = (texts[0], texts[1])
            else:
                out[texts[0]] = (texts[0],)
    return out


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


# --------------------------------------------------------------------------- files


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return po_path(lang).with_suffix(".mo")


def read(lang: str):  # type: ignore[no-untyped-def]
    from babel.messages.pofile import read_po

    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def write(lang: str, catalog) -> None:  # type: ignore[no-untyped-def]
    from babel.messages.pofile import write_po

    buf = io.BytesIO()
    write_po(buf, catalog, width=100, sort_output=True, include_previous=True)
    po_path(lang).parent.mkdir(parents=True, exist_ok=True)
    po_path(lang).write_bytes(buf.getvalue())


def template():  # type: ignore[no-untyped-def]
    """The .pot: every key the code uses (with its places), no translations."""
    from babel.messages.catalog import Catalog

    pot = Catalog(domain=DOMAIN, project="secop-watcher", fuzzy=False)
    for key, use in sorted(uses().items()):
        pot.add((key, key) if use.plural else key, locations=use.places)
    return pot


def extract() -> None:
    buf = io.BytesIO()
    from babel.messages.pofile import write_po

    write_po(buf, template(), width=100, sort_output=True)
    POT.write_bytes(buf.getvalue())
    print(f"{_rel(POT)}: {len(template())} keys")


def update() -> None:
    """Merge the template into both catalogs: new keys appear empty (the test fails until
    they are translated), places are refreshed, keys no longer used become obsolete (#~).
    The translator comments (the other language's text) are written anew."""
    pot = template()
    catalogs = {lang: read(lang) for lang in LANGS}
    for catalog in catalogs.values():
        argparse_entries = [m for m in catalog if m.id and ARGPARSE_COMMENT in m.auto_comments]
        catalog.update(pot, no_fuzzy_matching=True)
        for m in argparse_entries:  # argparse's texts are not in the template: keep them
            catalog[m.id] = m
            catalog.obsolete.pop(m.id[0] if isinstance(m.id, tuple) else m.id, None)
    for lang, catalog in catalogs.items():
        other = catalogs[OTHER[lang]]
        for m in catalog:
            if not m.id or ARGPARSE_COMMENT in m.auto_comments:
                continue
            there = other.get(m.id)
            text = there.string if there is not None else ""
            forms = list(text) if isinstance(text, tuple | list) else [text]
            # A key just added has no text yet in either catalog (None or "").
            m.auto_comments = [
                COMMENT[lang] + line for f in forms for line in (f or "").splitlines()
            ]
        write(lang, catalog)
        print(f"{_rel(po_path(lang))}: {sum(1 for m in catalog if m.id)} entries")


def compile_all(directory: Path = LOCALE) -> list[Path]:
    """Every ``<lang>/LC_MESSAGES/*.po`` under ``directory`` → its ``.mo`` (fuzzy left out,
    as gettext's msgfmt does); setup.py's build step does the same (it cannot import
    tools/)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po.open("rb") as f:
            catalog = read_po(f)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as f:
            write_mo(f, catalog)
        written.append(mo)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.catalogs")
    parser.add_argument("action", choices=("extract", "update", "compile"))
    action = parser.parse_args(argv).action
    if action == "extract":
        extract()
    elif action == "update":
        update()
    else:
        for mo in compile_all():
            print(_rel(mo))
    return 0


if __name__ == "__main__":
    sys.exit(main())
