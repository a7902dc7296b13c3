"""Command-line entry point: parse arguments, run a command, render, map errors.

``main(argv) -> int`` is the only place that prints results and turns
exceptions into messages and exit codes (see :mod:`watcher.exitcodes`).

Start-up is kept small (``--help`` within a few times a bare Python start-up,
``benchmarks/measure.py`` ``startup()``): only the module of the command being
run is imported, so ``secop-watcher --help`` lists the commands from
:data:`COMMANDS` without importing any of them, nor logging, platformdirs,
the configuration or Babel (``tests/test_cli_startup.py``).

argparse's own words (``usage:``, ``options``, ``invalid choice``, ``the following
arguments are required``) come from our catalogs in the chosen language
(:class:`watcher.catalogs.ArgparseSpeaks`: the compiled ``.mo`` read with gettext,
which argparse has imported anyway).

The general options (``--config``, ``--lang``, ``-v``, ``-q``) are accepted
before and after the subcommand (``check-now --lang en``, ``service status -v``):
for ``--config`` and ``--lang`` the value given last wins; ``-v`` and ``-q``
add up wherever they are.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from watcher import __version__

if TYPE_CHECKING:
    from watcher.commands import Outcome

# The same as watcher.i18n.LANGS (a test checks it): the catalog itself is not needed
# to print the help.
LANGS = ("es", "en")

DESCRIPTION = (
    "Encuentra el enlace vigente para cambiar la contraseña de SECOP II en su correo "
    "(bandeja de entrada y spam), sin abrirlo ni modificar el buzón. / Finds the one "
    "SECOP II password-reset link that still works, in inbox and spam, without opening "
    "it or changing the mailbox."
)
EPILOG = (
    "códigos de salida / exit codes: 0 enlace vigente / current link; 1 ninguno / none; "
    "2 uso / usage; 3 configuración / config; 4 contraseña no disponible / no password; "
    "5 autenticación / auth; 6 conexión / connection; 7 TLS; 8 protocolo / protocol; "
    "9 archivo / input file; 10 cuenta no soportada / unsupported account; 11 no se sabe "
    "qué enlace abrir o copiar (--user) / which link to open or copy is not known; 70 error "
    "interno / internal; 130 interrumpido / interrupted"
)

# command → (module in watcher.commands, its one-line help: the module's HELP, which a
# test keeps equal). Only the chosen command's module is imported.
COMMANDS: dict[str, tuple[str, str]] = {
    "check-now": ("check_now", "revisa ahora la bandeja y el spam / check inbox and spam now"),
    "wait": (
        "wait",
        "espera el correo que acaba de pedir / wait for the mail you just requested",
    ),
    "run": ("run", "servicio: avisa cuando llega un enlace / service: notify when a link arrives"),
    "parse": ("parse", "analiza correos guardados (.eml) / parse saved .eml files"),
    "setup": ("setup", "configura la cuenta de correo / set up the mail account"),
    "login": (
        "login",
        "iniciar sesión con Microsoft o Google (OAuth2) / sign in with Microsoft or Google "
        "(OAuth2)",
    ),
    "service": (
        "service",
        "instala el servicio que vigila el correo al iniciar sesión / "
        "install the watcher as a login service",
    ),
    "doctor": ("doctor", "diagnóstico para soporte técnico / a checklist for the help desk"),
}

GENERAL = "opciones generales (también antes del comando) / general options (also before it)"
HELP_CONFIG = "archivo de configuración / config file"
HELP_LANG = "idioma / language (es, en)"
HELP_VERBOSE = "más detalle / more"
HELP_QUIET = "menos / less output"
HELP_VERSION = "muestra la versión / show the version"
# Top-level options that take a value (to find the command word without parsing).
_VALUED = ("--config", "--lang")
_LONG = ("--config", "--lang", "--verbose", "--quiet", "--version", "--help")
# Where -v/-q given after a subcommand are counted: one pair per nesting depth
# (``service -v status -v``), so that none overwrites another; parse() adds them up.
_MORE, _LESS = "_verbose_", "_quiet_"


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command word in ``argv`` (skipping the general options before it), or None."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            return argv[i + 1] if i + 1 < len(argv) and argv[i + 1] in COMMANDS else None
        if token.startswith("--") and "=" not in token:
            matches = [token] if token in _LONG else [o for o in _LONG if o.startswith(token)]
            i += 2 if len(matches) == 1 and matches[0] in _VALUED else 1  # argparse abbreviates
            continue
        if token.startswith("-") and token != "-":
            i += 1
            continue
        return token if token in COMMANDS else None
    return None


def build_parser(command: str | None = None, *, lazy: bool = False) -> argparse.ArgumentParser:
    """The parser. ``lazy``: only ``command``'s module registers its real options, the
    others are listed with their help only, which is all ``--help`` and a wrong word need
    (what :func:`parse` does); otherwise every command is the real one."""
    parser = argparse.ArgumentParser(prog="secop-watcher", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument(
        "--version", action="version", version=f"secop-watcher {__version__}", help=HELP_VERSION
    )
    parser.add_argument("--config", metavar="PATH", help=HELP_CONFIG)
    parser.add_argument("--lang", choices=LANGS, help=HELP_LANG)
    parser.add_argument("-v", "--verbose", action="count", default=0, help=HELP_VERBOSE)
    parser.add_argument("-q", "--quiet", action="count", default=0, help=HELP_QUIET)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        if lazy and name != command:
            sub.add_parser(name, help=help_text, description=help_text)
            continue
        import importlib

        module = importlib.import_module(f"watcher.commands.{module_name}")
        module.register(sub)
        add_general_options(sub.choices[name])
    return parser


def add_general_options(parser: argparse.ArgumentParser, depth: int = 1) -> None:
    """``--config``, ``--lang``, ``-v``, ``-q`` on ``parser`` and every subparser below it.

    Defaults are suppressed, so an option not given after the subcommand leaves the
    value given before it; one given after it overrides (the last one wins).
    """
    taken = parser._option_string_actions  # argparse has no public way to ask
    group = parser.add_argument_group(GENERAL)
    if "--config" not in taken:
        group.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=HELP_CONFIG)
    if "--lang" not in taken:
        group.add_argument("--lang", choices=LANGS, default=argparse.SUPPRESS, help=HELP_LANG)
    if "-v" not in taken and "--verbose" not in taken:
        group.add_argument(
            "-v",
            "--verbose",
            dest=f"{_MORE}{depth}",
            action="count",
            default=argparse.SUPPRESS,
            help=HELP_VERBOSE,
        )
    if "-q" not in taken and "--quiet" not in taken:
        group.add_argument(
            "-q",
            "--quiet",
            dest=f"{_LESS}{depth}",
            action="count",
            default=argparse.SUPPRESS,
            help=HELP_QUIET,
        )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                add_general_options(child, depth + 1)


def chosen_lang(argv: Sequence[str]) -> str | None:
    """The value of the last ``--lang`` in ``argv`` (``--lang en``, ``--lang=en``, ``--la en``),
    read before parsing: argparse's own messages are in that language."""
    found = None
    for i, token in enumerate(argv):
        if token == "--":
            break
        name, eq, value = token.partition("=")
        if len(name) > 3 and "--lang".startswith(name):  # argparse accepts abbreviations
            if eq:
                found = value
            elif i + 1 < len(argv):
                found = argv[i + 1]
    return found


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv`` (exits on ``--help``, ``--version`` and usage errors, as argparse does),
    argparse speaking the language of ``--lang`` or of the system."""
    from watcher import catalogs

    with catalogs.ArgparseSpeaks(catalogs.pick(chosen_lang(argv))):
        args = build_parser(chosen_command(argv), lazy=True).parse_args(argv)
    for name in [n for n in vars(args) if n.startswith((_MORE, _LESS))]:
        count = getattr(args, name)
        delattr(args, name)
        if name.startswith(_MORE):
            args.verbose += count
        else:
            args.quiet += count
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from watcher import console

    console.prepare(sys.stdout)
    console.prepare(sys.stderr)
    args = parse(sys.argv[1:] if argv is None else list(argv))
    # After parsing: `--help` and `--version` need none of these.
    import logging

    from watcher import i18n, logsetup
    from watcher.errors import UserError
    from watcher.exitcodes import ExitCode

    lang = i18n.pick(args.lang)
    args.lang = lang
    log = logging.getLogger("watcher")
    log_file = logsetup.configure(
        args.verbose - args.quiet, show_links=getattr(args, "show_links", False)
    )
    try:
        outcome: Outcome = args.func(args)
        _print(outcome, args, lang)
        return int(outcome.exit_code)
    except UserError as e:
        log.info("%s (exit %d)", e.key, e.exit_code)
        print(i18n.error_text(e, lang), file=sys.stderr)
        return int(e.exit_code)
    except KeyboardInterrupt:
        print(i18n.t("error.interrupted", lang), file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except Exception as e:
        log.debug("internal error", exc_info=True)
        logging.getLogger("watcher.crash").error("internal error", exc_info=True)
        where = str(log_file) if log_file else "-"
        print(i18n.t("error.internal", lang, kind=type(e).__name__, log=where), file=sys.stderr)
        return int(ExitCode.INTERNAL)


def _print(outcome: Outcome, args: argparse.Namespace, lang: str) -> None:
    if outcome.data is None:
        return
    as_json = bool(getattr(args, "json", False))
    from watcher import render

    data = outcome.data
    if isinstance(data, render.Noted) and as_json:
        for note in data.notes:  # stdout stays exactly one JSON object
            print(note, file=sys.stderr)
    text = render.render(data, as_json=as_json, lang=lang, config=outcome.config)
    if text:
        sys.stdout.write(text + "\n")
