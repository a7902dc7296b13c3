"""Every exit status the command line can return, in one place.

The README's "Códigos de salida / Exit codes" table is generated from the same
meaning; keep the two in step.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    FOUND = 0  # at least one current link (check-now, wait), or the command succeeded
    NOT_FOUND = 1  # ran fine, but no current link (check-now) / nothing arrived (wait)
    USAGE = 2  # bad command-line arguments (argparse's own convention)
    CONFIG = 3  # configuration file missing or invalid
    CREDENTIALS = 4  # no password available (environment, password_command, keyring)
    AUTH = 5  # the server rejected the user name or password
    CONNECTION = 6  # DNS, refused, timed out or dropped connection
    TLS = 7  # certificate not trusted, expired, wrong host; or no STARTTLS offered
    PROTOCOL = 8  # the server answered something the watcher cannot use
    INPUT = 9  # a file given on the command line cannot be read
    UNSUPPORTED = 10  # the account cannot be used this way (e.g. Microsoft needs OAuth2)
    NO_CHOICE = 11  # check-now --open/--copy: --user names no user with a current link, or
    # several users have one and there is no terminal to ask which (nothing opened or copied)
    INTERNAL = 70  # a bug in secop-watcher (EX_SOFTWARE); the log has the details
    INTERRUPTED = 130  # Ctrl-C
