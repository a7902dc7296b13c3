"""General options after the subcommand (``check-now --lang en``), and the command table."""

from __future__ import annotations

import importlib

import pytest

from tests.cliutil import run
from watcher import cli, i18n


@pytest.mark.parametrize(
    ("argv", "lang", "config"),
    [
        (["check-now", "--lang", "en"], "en", None),
        (["--lang", "en", "check-now"], "en", None),
        (["--lang", "es", "check-now", "--lang", "en"], "en", None),
        (["--lang", "en", "wait", "--lang", "es"], "es", None),
        (["--config", "a.toml", "doctor", "--config", "b.toml"], None, "b.toml"),
        (["doctor", "--config=b.toml", "--json"], None, "b.toml"),
        (["--conf", "a.toml", "doctor"], None, "a.toml"),  # argparse's abbreviations
        (["service", "status", "--lang", "en", "--json"], "en", None),
        (["service", "--lang", "en", "status", "--lang", "es"], "es", None),
        (["login", "--account", "x", "--lang", "en"], "en", None),
    ],
)
def test_lang_and_config_anywhere_the_last_one_wins(
    argv: list[str], lang: str | None, config: str | None
) -> None:
    args = cli.parse(argv)
    assert args.lang == lang
    assert args.config == config


@pytest.mark.parametrize(
    ("argv", "verbose", "quiet"),
    [
        (["wait", "-v"], 1, 0),
        (["-v", "wait", "-v"], 2, 0),
        (["-vv", "check-now", "--verbose"], 3, 0),
        (["check-now", "-q"], 0, 1),
        (["-q", "service", "-v", "status", "-q"], 1, 2),
        (["run"], 0, 0),
    ],
)
def test_verbose_and_quiet_add_up_wherever_they_are(
    argv: list[str], verbose: int, quiet: int
) -> None:
    args = cli.parse(argv)
    assert (args.verbose, args.quiet) == (verbose, quiet)
    assert not [name for name in vars(args) if name.startswith("_")]


def test_subcommand_options_still_work_next_to_the_general_ones() -> None:
    args = cli.parse(["wait", "--timeout", "3", "-v", "--open", "--lang", "en", "--since", "9:00"])
    assert (args.timeout, args.open, args.since, args.lang, args.verbose) == (
        3.0,
        True,
        "9:00",
        "en",
        1,
    )
    args = cli.parse(["check-now", "--json", "--account", "work", "--config", "c.toml"])
    assert (args.json, args.account, args.config) == (True, "work", "c.toml")
    args = cli.parse(["parse", "--lang", "en", "a.eml", "b.eml"])
    assert args.files == ["a.eml", "b.eml"] and args.lang == "en"


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["check-now"], "check-now"),
        (["--config", "check-now", "wait"], "wait"),  # a config file named like a command
        (["--lang", "en", "-vv", "doctor", "--json"], "doctor"),
        (["--lang=en", "run"], "run"),
        (["--la", "en", "parse", "x.eml"], "parse"),
        (["-q", "--", "service", "status"], "service"),
        (["--help"], None),
        (["--version"], None),
        (["nonsense", "check-now"], None),
        ([], None),
    ],
)
def test_the_command_word_is_found_without_parsing(argv: list[str], command: str | None) -> None:
    assert cli.chosen_command(argv) == command


def test_the_help_table_agrees_with_the_commands() -> None:
    assert cli.LANGS == i18n.LANGS
    for name, (module_name, help_text) in cli.COMMANDS.items():
        module = importlib.import_module(f"watcher.commands.{module_name}")
        assert help_text == module.HELP, name
        rest = {"parse": ["x.eml"], "service": ["status"]}.get(name, [])
        args = cli.build_parser(name, lazy=True).parse_args([name, *rest])
        assert args.command == name and callable(args.func)  # the real parser, not the stub


def test_check_now_with_lang_en_after_the_subcommand_speaks_english(tmp_path: object) -> None:
    done = run("check-now", "--lang", "en", "--config", "/nonexistent/c.toml")
    assert done.returncode == 3
    assert done.stderr.startswith("No configuration at /nonexistent/c.toml.")
    done = run("--lang", "en", "check-now", "--lang", "es", "--config", "/nonexistent/c.toml")
    assert done.stderr.startswith("No hay configuración en /nonexistent/c.toml.")


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["check-now", "--help"],
        ["wait", "--help"],
        ["service", "status", "--help"],
        ["doctor", "-h"],
    ],
)
def test_help_still_works_and_names_the_general_options(argv: list[str]) -> None:
    done = run(*argv)
    assert done.returncode == 0, done.stderr
    assert "--lang" in done.stdout and "--config PATH" in done.stdout
    if argv != ["--help"]:
        assert "opciones generales" in done.stdout


def test_top_level_help_lists_every_command() -> None:
    out = run("--help").stdout
    for name, (_module, help_text) in cli.COMMANDS.items():
        assert name in out
        assert help_text.split(" / ")[0].split()[0] in out


@pytest.mark.parametrize(
    "argv", [["check-now", "--lang", "fr"], ["wait", "--timeout"], ["bogus"], []]
)
def test_usage_errors_still_exit_2(argv: list[str]) -> None:
    done = run(*argv)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
