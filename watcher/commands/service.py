"""``secop-watcher service install|uninstall|status``: run the watcher at every login.

The work is in :mod:`watcher.install.control`, imported only when the command runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from watcher.commands import Outcome

if TYPE_CHECKING:
    from watcher.install.control import Host

HELP = (
    "instala el servicio que vigila el correo al iniciar sesión / "
    "install the watcher as a login service"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("service", help=HELP, description=HELP)
    actions = p.add_subparsers(dest="service_action", metavar="ACTION", required=True)
    install_p = actions.add_parser(
        "install",
        help="instala y arranca el servicio / install and start the service",
        description="instala y arranca el servicio / install and start the service",
    )
    install_p.set_defaults(func=run)
    uninstall_p = actions.add_parser(
        "uninstall",
        help="detiene y borra el servicio / stop and remove the service",
        description="detiene y borra el servicio / stop and remove the service",
    )
    uninstall_p.set_defaults(func=run)
    status_p = actions.add_parser(
        "status",
        help="¿instalado, en marcha, última revisión? / installed, running, last check?",
        description="¿instalado, en marcha, última revisión? / installed, running, last check?",
    )
    status_p.add_argument("--json", action="store_true", help="salida JSON / JSON output")
    status_p.set_defaults(func=run)


def run(args: argparse.Namespace, host: Host | None = None) -> Outcome:
    from watcher.install import control as servicectl

    return servicectl.run(args, host)
