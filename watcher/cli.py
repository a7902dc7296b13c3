"""Command-line entry point: parse arguments, run a command, render, map errors.

``main(argv) -> int`` is the only place that prints results and turns
exceptions into messages and exit codes (see :mod:`watcher.exitcodes`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from watcher import __version__, i18n
from watcher.commands import Outcome
from watcher.errors import UserError
from watcher.exitcodes import ExitCode

log = logging.getLogger("watcher")

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
    "9 archivo / input file; 10 cuenta no soportada / unsupported account; 70 error "
    "interno / internal; 130 interrumpido / interrupted"
)


def build_parser() -> argparse.ArgumentParser:
    from watcher.commands import check_now, doctor, login, parse, run, service, setup, wait

    parser = argparse.ArgumentParser(prog="secop-watcher", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"secop-watcher {__version__}")
    parser.add_argument("--config", metavar="PATH", help="archivo de configuración / config file")
    parser.add_argument("--lang", choices=i18n.LANGS, help="idioma / language (es, en)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="más detalle / more")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="menos / less output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (check_now, wait, run, parse, setup, login, service, doctor):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from watcher import console

    console.prepare(sys.stdout)
    console.prepare(sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    lang = i18n.pick(args.lang)
    args.lang = lang
    from watcher import logsetup  # after parsing: `--help` and `--version` never need it

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

    text = render.render(outcome.data, as_json=as_json, lang=lang, config=outcome.config)
    if text:
        sys.stdout.write(text + "\n")
