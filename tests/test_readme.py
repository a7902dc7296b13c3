"""The README and docs/: the Guía rápida stays short and true, and no link is broken.

- The «Guía rápida» (from its heading to the next heading of the same level) has fewer
  than 800 words; a word is a run of non-blank characters with a letter or a digit in it,
  so Markdown marks ("-", "```", "→", "|") are not counted.
- Every ``secop-watcher …`` command the guide shows (in code, or quoted «…» as the program
  prints it) names a real subcommand of :func:`watcher.cli.build_parser`, with real actions
  and options; every ``--option`` it mentions exists.
- Every relative link in README.md and docs/*.md points to an existing file, and to an
  existing anchor (a heading, GitHub's way, or an ``<a id>``) where it names one.
- The index «Más información / More» links every file in docs/.
"""

from __future__ import annotations

import argparse
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from watcher.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
GUIDE = "Guía rápida"
INDEX = "Más información / More"
MAX_WORDS = 800
# What the guide must cover (issue 14, item 7).
GUIDE_COMMANDS = {"setup", "check-now", "wait", "service", "doctor"}

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target "title"): the text may hold one level of brackets (`[accounts.NAME]`).
LINK = re.compile(r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
QUOTE = re.compile(r"«([^»]*)»")
WORD = re.compile(r"\S*\w\S*")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def prose_lines(text: str) -> Iterator[tuple[bool, str]]:
    """Each line with whether it is inside a fenced code block (fences themselves too)."""
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            yield True, line
            continue
        yield fenced, line


def headings(text: str) -> Iterator[tuple[int, str]]:
    for fenced, line in prose_lines(text):
        match = None if fenced else HEADING.match(line)
        if match:
            yield len(match.group(1)), match.group(2)


def section(text: str, title: str) -> str:
    """The lines after the heading ``title`` up to the next heading of its level or higher."""
    lines = text.splitlines()
    level = None
    out: list[str] = []
    for (fenced, line), raw in zip(prose_lines(text), lines, strict=True):
        match = None if fenced else HEADING.match(line)
        if level is None:
            if match and match.group(2) == title:
                level = len(match.group(1))
            continue
        if match and len(match.group(1)) <= level:
            break
        out.append(raw)
    assert level is not None, f"no heading {title!r}"
    return "\n".join(out)


def slug(title: str) -> str:
    """GitHub's anchor for a heading: the text without Markdown, lower case, without
    punctuation (letters, digits, "_" and "-" stay), spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link: its text
    text = text.replace("`", "").lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = read(path)
    found: set[str] = set(HTML_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for _, title in headings(text):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> Iterator[str]:
    for fenced, line in prose_lines(read(path)):
        if not fenced:
            yield from LINK.findall(line)


def relative(target: str) -> bool:
    return bool(target) and not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)


def code_snippets(text: str) -> Iterator[str]:
    """What the text shows as typed or printed: fenced lines, code spans, «quotes»."""
    for fenced, line in prose_lines(text):
        if fenced:
            if not FENCE.match(line):
                yield line
            continue
        yield from (m.group(2) for m in CODE_SPAN.finditer(line))
        yield from QUOTE.findall(line)


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def options(parser: argparse.ArgumentParser) -> set[str]:
    return set(parser._option_string_actions)


def all_options(parser: argparse.ArgumentParser) -> set[str]:
    found = options(parser)
    for child in subparsers(parser).values():
        found |= all_options(child)
    return found


def commands_in(text: str) -> Iterator[list[str]]:
    """Every ``secop-watcher …`` in the snippets, as its words after the program name."""
    for snippet in code_snippets(text):
        words = snippet.replace("…", " ").split()
        for i, word in enumerate(words):
            if word == "secop-watcher" and i + 1 < len(words):
                rest = words[i + 1 :]
                cut = next((j for j, w in enumerate(rest) if w in (">", "|", "&&", ";")), None)
                yield rest if cut is None else rest[:cut]


# ----------------------------------------------------------------------------- the guide
def test_the_guide_opens_the_readme() -> None:
    first = [title for level, title in headings(read(README)) if level == 2]
    assert first[:1] == [GUIDE]


def test_the_guide_has_fewer_than_800_words() -> None:
    words = WORD.findall(section(read(README), GUIDE))
    assert 200 < len(words) < MAX_WORDS, f"{len(words)} words"


def test_every_command_in_the_guide_is_real() -> None:
    parser = build_parser()
    commands = subparsers(parser)
    shown: set[str] = set()
    for words in commands_in(section(read(README), GUIDE)):
        name = words[0]
        assert name in commands, f"secop-watcher {' '.join(words)}: no command {name!r}"
        shown.add(name)
        current = commands[name]
        for word in words[1:]:
            actions = subparsers(current)
            if actions and not word.startswith("-"):
                assert word in actions, f"secop-watcher {' '.join(words)}: no action {word!r}"
                current = actions[word]
            elif word.startswith("--"):
                option = word.split("=", 1)[0]
                assert option in options(current), f"secop-watcher {' '.join(words)}: {option}"
    assert shown >= GUIDE_COMMANDS, f"the guide does not show {GUIDE_COMMANDS - shown}"


def test_every_option_in_the_guide_exists() -> None:
    known = all_options(build_parser())
    for snippet in code_snippets(section(read(README), GUIDE)):
        if snippet.startswith(("py ", "pipx ")):
            continue  # pip's and pipx's own options
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", snippet):
            assert option in known, f"{option} in {snippet!r}"


def test_the_guide_shows_open_and_copy_with_check_now_and_wait() -> None:
    shown = {tuple(words) for words in commands_in(section(read(README), GUIDE))}
    assert ("check-now", "--open") in shown
    assert ("check-now", "--copy") in shown
    assert ("wait", "--open") in shown
    assert ("service", "install") in shown


# ----------------------------------------------------------------------------- links
@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_to_a_file_and_anchor(path: Path) -> None:
    broken: list[str] = []
    checked = 0
    for target in links(path):
        if not relative(target):
            continue
        checked += 1
        where, _, anchor = urllib.parse.unquote(target).partition("#")
        file = (path.parent / where).resolve() if where else path
        if not file.exists():
            broken.append(f"{target}: no file {file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no anchor #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)
    if path == README:
        assert checked > 10


def test_the_index_links_every_docs_file() -> None:
    linked = {
        (README.parent / target.partition("#")[0]).resolve()
        for target in LINK.findall(section(read(README), INDEX))
        if relative(target)
    }
    assert DOCS
    missing = [p.name for p in DOCS if p.resolve() not in linked]
    assert not missing, f"not in «{INDEX}»: {missing}"


def test_the_readme_keeps_the_one_test_command() -> None:
    assert "bash tests/run-all.sh" in section(read(README), "Pruebas / Tests")


def test_the_link_checker_catches_a_broken_anchor(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Título\n\n## Varios buzones: `[accounts.NOMBRE]`\n\n## Otra\n\n## Otra\n\n"
        '<a id="arriba"></a>\n\n```\n## not a heading\n```\n',
        encoding="utf-8",
    )
    assert anchors(page) == {
        "título",
        "varios-buzones-accountsnombre",
        "otra",
        "otra-1",
        "arriba",
    }
    assert slug("Códigos de salida / Exit codes") == "códigos-de-salida--exit-codes"
    assert list(LINK.findall("[`[accounts.NAME]`](configuration.md#x) and [a](b.md)")) == [
        "configuration.md#x",
        "b.md",
    ]
