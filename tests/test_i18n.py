"""Spanish everywhere the user reads (issue 14): the catalogs against the code.

Every key the code uses (Babel's extractor, key-shaped literals, and the keys built at
run time, enumerated from their sources: tools/catalogs.py) has a non-empty text in
both catalogs with the same placeholders; no catalog entry is unused; argparse's own
messages have their Spanish; plural forms; Colombian numbers and dates; OS and TOML
errors explained; no internal key in what commands print.
"""

from __future__ import annotations

import argparse
import errno
import re
import string
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cliutil import executable
from tools import catalogs
from watcher import catalogs as runtime
from watcher import i18n, render
from watcher.errors import ConfigError

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def uses() -> dict[str, catalogs.Use]:
    return catalogs.uses()


@pytest.fixture(scope="module")
def po() -> dict[str, object]:
    return {lang: catalogs.read(lang) for lang in catalogs.LANGS}


def _ours(catalog: object) -> dict[str, object]:
    return {
        (m.id[0] if isinstance(m.id, tuple) else m.id): m
        for m in catalog  # type: ignore[attr-defined]
        if m.id and catalogs.ARGPARSE_COMMENT not in m.auto_comments
    }


def _forms(message: object) -> list[str]:
    text = message.string  # type: ignore[attr-defined]
    return list(text) if isinstance(text, tuple | list) else [text]


def _fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_every_key_the_code_uses_has_spanish_and_english(uses, po) -> None:
    for lang in catalogs.LANGS:
        ours = _ours(po[lang])
        missing = sorted(set(uses) - set(ours))
        assert not missing, f"{lang}: no entry for {missing}"
        empty = sorted(k for k in uses if not all(f.strip() for f in _forms(ours[k])))
        assert not empty, f"{lang}: empty text for {empty}"
        fuzzy = sorted(k for k in uses if ours[k].fuzzy)  # type: ignore[attr-defined]
        assert not fuzzy, f"{lang}: fuzzy (left out of the .mo) {fuzzy}"


def test_no_catalog_entry_is_unused(uses, po) -> None:
    for lang in catalogs.LANGS:
        assert not sorted(set(_ours(po[lang])) - set(uses)), lang
        assert not list(po[lang].obsolete), lang  # type: ignore[attr-defined]


def test_same_placeholders_in_both_languages_and_every_form(po) -> None:
    es, en = _ours(po["es"]), _ours(po["en"])
    for key in es:
        fields = {frozenset(_fields(f)) for f in _forms(es[key]) + _forms(en[key])}
        # A singular may leave out what only the plural says, never add to it.
        widest = max(fields, key=len)
        assert all(f <= widest for f in fields), key
        assert _fields(_forms(es[key])[-1]) == _fields(_forms(en[key])[-1]), key


def test_plural_keys_are_plural_entries_in_both_and_vice_versa(uses, po) -> None:
    plural = {k for k, u in uses.items() if u.plural}
    assert {"superseded.line", "unopened.line", "age.days"} <= plural
    for lang in catalogs.LANGS:
        entries = {k for k, m in _ours(po[lang]).items() if isinstance(m.id, tuple)}  # type: ignore[attr-defined]
        assert entries == plural, lang
        assert po[lang].num_plurals == 2, lang  # type: ignore[attr-defined]


def test_no_count_dodges_its_plural(po) -> None:
    for lang in catalogs.LANGS:
        for key, m in _ours(po[lang]).items():
            for text in _forms(m):
                assert not re.search(r"\w\((?:s|es)\)", text), (lang, key, text)


def test_every_key_built_at_run_time_has_its_source_listed() -> None:
    assert catalogs.dynamic_prefixes_in_code() == set(catalogs.DYNAMIC)
    for prefix, values in catalogs.DYNAMIC.items():
        assert values(), prefix  # each source still yields its values


def test_argparse_messages_of_this_python_have_their_spanish(po) -> None:
    es = po["es"]
    version = catalogs.python_version()
    wanted = catalogs.argparse_messages()
    for msgid, texts in wanted.items():
        m = es.get(msgid)  # type: ignore[attr-defined]
        assert m is not None, f"argparse {msgid!r} has no Spanish"
        assert catalogs.ARGPARSE_COMMENT in m.auto_comments
        assert any(version in c.split() for c in m.auto_comments), (msgid, m.auto_comments)
        forms = _forms(m)
        assert all(f.strip() for f in forms), msgid
        for form in forms:
            assert sorted(re.findall(r"%\(\w+\)[sr]|%[sr]", form)) == sorted(
                re.findall(r"%\(\w+\)[sr]|%[sr]", texts[-1])
            ), msgid
    listed = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in es  # type: ignore[attr-defined]
        if m.id and any(version in c.split() for c in m.auto_comments[1:])
    }
    assert listed == set(wanted)  # entries said to be this Python's are its own


def test_mo_files_are_as_fresh_as_their_po() -> None:
    """pip install -e compiles them (setup.py); the loader reads the .po otherwise."""
    for lang in catalogs.LANGS:
        mo, po_file = catalogs.mo_path(lang), catalogs.po_path(lang)
        assert mo.is_file(), "run: .venv/bin/pip install -e '.[test]'"
        assert mo.stat().st_mtime >= po_file.stat().st_mtime or runtime.translation(lang)


def test_a_stale_mo_gives_way_to_the_po(tmp_path: Path, monkeypatch) -> None:
    for lang in catalogs.LANGS:
        folder = tmp_path / lang / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / f"{catalogs.DOMAIN}.po").write_bytes(catalogs.po_path(lang).read_bytes())
    monkeypatch.setattr(runtime, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(runtime, "_loaded", {})
    assert runtime.translation("es").gettext("age.moment") == "hace un momento"
    assert runtime.translation("en").gettext("age.moment") == "just now"


# --------------------------------------------------------------------------- forms


def test_plural_forms() -> None:
    assert "1 enlace anterior ya no sirve" in i18n.nt("superseded.line", 1, "es", user="a", count=1)
    assert "2 enlaces anteriores ya no sirven" in i18n.nt(
        "superseded.line", 2, "es", user="a", count=2
    )
    assert "1 older link no longer works" in i18n.nt("superseded.line", 1, "en", user="a", count=1)
    assert i18n.nt("age.days", 1, "es", n=1) == "hace 1 día"
    assert i18n.nt("age.days", 3, "en", n=3) == "3 days ago"


def test_ages() -> None:
    now = datetime(2024, 3, 5, 14, 7, tzinfo=UTC)
    assert render.age(now - timedelta(seconds=20), now, "es") == "hace un momento"
    assert render.age(now, now, "en") == "just now"
    assert render.age(now - timedelta(minutes=5), now, "es") == "hace 5 min"
    assert render.age(now - timedelta(days=1), now, "es") == "hace 24 h"
    assert render.age(now - timedelta(days=2), now, "es") == "hace 2 días"
    assert render.age(now + timedelta(hours=1), now, "es") == "con fecha futura"


def test_numbers_and_dates_as_colombia_writes_them(monkeypatch) -> None:
    assert i18n.number(1.5, "es") == "1,5"
    assert i18n.number(1.5, "en") == "1.5"
    assert i18n.number(30.0, "es") == "30"
    assert "1,5 s" in i18n.t("wait.progress_poll", "es", seconds=1.5)
    monkeypatch.setenv("TZ", "America/Bogota")
    import time

    time.tzset()
    try:
        dt = datetime(2024, 3, 5, 19, 7, tzinfo=UTC)  # 14:07 in Bogotá
        assert i18n.when(dt, "es") == "5/03/2024 2:07 p. m."
        assert i18n.clock(dt, "es") == "2:07 p. m."
        assert i18n.when(dt, "en") == "2024-03-05 14:07"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


# --------------------------------------------------------------------------- errors


def test_os_errors_are_explained_with_the_original() -> None:
    e = FileNotFoundError(errno.ENOENT, "No such file or directory")
    assert i18n.os_error(e, "es") == (
        "el archivo o la carpeta no existe (No such file or directory)"
    )
    assert i18n.os_error(OSError(errno.EILSEQ, "Odd"), "es") == "Odd"


def test_a_windows_path_in_double_quotes_is_explained(tmp_path: Path) -> None:
    from watcher import config

    path = tmp_path / "config.toml"
    path.write_text('[imap]\nhost = "h"\nca_file = "C:\\Users\\ana\\ca.pem"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    text = i18n.error_text(caught.value, "es")
    assert "línea 3, columna 16" in text
    assert "comillas simples" in text
    assert "(Invalid hex value (at line 3, column 16))" in text
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(path.read_text(encoding="utf-8"))


def test_a_missing_file_is_explained_in_parse() -> None:
    out = _run("parse", "/nonexistent/x.eml")
    assert "no existe" in out.stderr
    assert "(No such file or directory)" in out.stderr


# --------------------------------------------------------------------------- argparse


def _run(*argv: str, lang: str = "C.UTF-8") -> subprocess.CompletedProcess[str]:
    env = {"LANG": lang, "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    env["SECOP_WATCHER_CONFIG_DIR"] = "/nonexistent/config"
    env["SECOP_WATCHER_STATE_DIR"] = "/tmp/secop-watcher-i18n-state"
    env["SECOP_WATCHER_LOG_DIR"] = "/tmp/secop-watcher-i18n-logs"
    return subprocess.run(
        [executable(), *argv], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("argv", "spanish", "english"),
    [
        (["--help"], "uso: secop-watcher", "usage: secop-watcher"),
        (["--help"], "opciones:", "options:"),
        (["--help"], "argumentos:", "positional arguments:"),
        (["--lang", "xx"], "opción no válida: 'xx'", "invalid choice: 'xx'"),
        ([], "faltan estos argumentos obligatorios", "the following arguments are required"),
        (["check-now", "--bogus"], "argumentos no reconocidos", "unrecognized arguments"),
        (["--config"], "falta su valor", "expected one argument"),
        (["wait", "--timeout", "abc"], "no es un número: «abc»", 'not a number: "abc"'),
        (["setup", "--port", "x"], "no es un número entero: «x»", 'not a whole number: "x"'),
    ],
)
def test_argparse_speaks_the_chosen_language(argv, spanish, english) -> None:
    es = _run(*argv)
    assert spanish in es.stdout + es.stderr
    assert english not in es.stdout + es.stderr
    en = _run(*argv, "--lang=en") if argv != ["--lang", "xx"] else _run(*argv, lang="en_US.UTF-8")
    assert english in en.stdout + en.stderr
    by_system = _run(*argv, lang="en_US.UTF-8")
    assert english in by_system.stdout + by_system.stderr


def test_argparse_is_itself_again_after_parsing() -> None:
    with runtime.ArgparseSpeaks("es"):
        inner = argparse.ArgumentParser(prog="x").format_usage()
    after = argparse.ArgumentParser(prog="x").format_usage()
    assert inner.startswith("uso: ")
    assert after.startswith("usage: ")


# --------------------------------------------------------------------------- no keys shown

_KEY_IN_TEXT = re.compile(r"\b(?:" + "|".join(catalogs.NAMESPACES) + r")\.[a-z_]{2,}\b")


@pytest.mark.parametrize(
    "argv",
    [
        ["check-now"],
        ["doctor"],
        ["service", "status"],
        ["parse", str(HERE / "test_i18n.py")],
        ["wait", "--timeout", "0"],
        ["check-now", "--lang", "en"],
    ],
)
def test_no_internal_key_reaches_the_output(argv: list[str]) -> None:
    done = _run(*argv)
    text = done.stdout + done.stderr
    assert text.strip()
    assert "Traceback" not in text
    shown = [k for k in _KEY_IN_TEXT.findall(text) if not k.startswith("config.toml")]
    assert not shown, text


def test_error_text_of_a_config_problem_is_whole() -> None:
    e = ConfigError("/x/config.toml", [("[imap] port", "config.int_range", {"low": 1, "high": 9})])
    text = i18n.error_text(e, "es")
    assert "[imap] port" in text
    assert not _KEY_IN_TEXT.search(text.replace("config.toml", ""))


def test_help_needs_neither_babel_nor_the_po(tmp_path: Path) -> None:
    probe = (
        "import sys, runpy; sys.argv=[sys.argv[1], '--help']\n"
        "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('babel')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, executable()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"},
    )
    assert done.stdout.strip().endswith("[]"), done.stdout[-300:] + done.stderr[-300:]
    assert "uso:" in done.stdout
