"""Shared fixtures.

The autouse ``isolated_env`` fixture points every directory the app uses
(config, state, logs) at a temporary folder through the environment variables
that :mod:`watcher.paths` honours, so no test can read or write the real
user's files or keyring.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:  # imported where used: they need POSIX (pwd, grp, fcntl), and the
    # platform tests run on Windows and macOS too (.github/workflows/ci.yml)
    from tests.browser import Browser
    from tests.servers.certs import Certs
    from tests.servers.courier import Courier
    from tests.servers.cyrus import Cyrus
    from tests.servers.dovecot import Dovecot
    from tests.servers.oauthserver import OAuthServer

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    for sub in ("config", "state", "logs"):
        (home / sub).mkdir(parents=True)
    monkeypatch.setenv("SECOP_WATCHER_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("SECOP_WATCHER_STATE_DIR", str(home / "state"))
    monkeypatch.setenv("SECOP_WATCHER_LOG_DIR", str(home / "logs"))
    monkeypatch.delenv("SECOP_WATCHER_CONFIG", raising=False)
    monkeypatch.delenv("SECOP_WATCHER_PASSWORD", raising=False)
    # Never touch the developer's real keyring: a file-backed test keyring.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.keyring_backend.FileKeyring")
    monkeypatch.setenv("SECOP_WATCHER_TEST_KEYRING", str(home / "keyring.json"))
    # Subprocesses (the installed ``secop-watcher``) must find ``tests.keyring_backend``.
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.setenv("LANG", "es_CO.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    yield home
    _kill_leftover_processes()


def _kill_leftover_processes() -> None:
    """A test that failed before stopping its service must not leave it running."""
    from tests.cliutil import RUNNING

    while RUNNING:
        proc = RUNNING.pop().proc
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


# --------------------------------------------------------------------------
# Real servers: Dovecot (IMAP) and the desktop-notification stack.
# --------------------------------------------------------------------------

# Binary → Debian package that provides it.
APT_PACKAGES = {
    "dovecot": "dovecot-imapd",
    "doveconf": "dovecot-core",
    "dbus-run-session": "dbus",
    "Xvfb": "xvfb",
    "dunst": "dunst",
    "dunstctl": "dunst",
    "notify-send": "libnotify-bin",
    "openssl": "openssl",
    "chromium": "chromium",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def missing_requirement(reason: str) -> NoReturn:
    """Skip the test locally, but fail it in CI (``CI=true``/``1``)."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def _which(name: str) -> str | None:
    # /usr/sbin is not on every user's PATH, and that is where dovecot lives.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def require_binaries(*names: str) -> None:
    missing = [n for n in names if _which(n) is None]
    if missing:
        packages = " ".join(sorted({APT_PACKAGES.get(n, n) for n in missing}))
        missing_requirement(
            f"missing {', '.join(missing)}; install with "
            f"`sudo apt-get install {packages}` (or run `bash tests/run-all.sh`)"
        )


def require_dovecot() -> None:
    require_binaries("dovecot")
    if os.geteuid() != 0:
        missing_requirement(
            "the throwaway Dovecot test server must run as root; run the suite as root "
            "(`sudo bash tests/run-all.sh`) with dovecot installed "
            "(`apt-get install dovecot-imapd`)"
        )


def random_users() -> dict[str, str]:
    return {"jperez": secrets.token_urlsafe(16), "other": secrets.token_urlsafe(16)}


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """Test CA (``certs.ca``) and server certificates (``certs.server(kind)``)."""
    from tests.servers.certs import make_certs

    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def dovecot_root() -> Iterator[Path]:
    """Parent of the Dovecot base dirs.

    Not under pytest's ``tmp_path``: that tree is mode 0700, and Dovecot's
    unprivileged processes (users ``dovecot``/``dovenull``) must traverse it.
    Short, too, because Dovecot's UNIX sockets live there (108-byte limit).
    """
    root = Path(tempfile.mkdtemp(prefix="secop-dovecot-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dovecot_factory(certs: Certs, dovecot_root: Path) -> Iterator[Callable[..., Dovecot]]:
    """``dovecot_factory(**kwargs) -> Dovecot`` (started), stopped at teardown.

    kwargs are :class:`tests.servers.dovecot.Dovecot`'s: ``users`` (default: jperez
    and other with random passwords), ``spam_layout``, ``cert``, ``idle``, ``searchres``,
    ``no_tls``, ``extra_folders``, ``oauth2_introspection_url`` (XOAUTH2/OAUTHBEARER
    checked against that RFC 7662 endpoint, e.g. ``oauth_server.introspection_url``);
    plus ``start=False`` to get it unstarted.
    """
    require_dovecot()
    servers: list[Dovecot] = []

    def factory(
        *, users: dict[str, str] | None = None, start: bool = True, **kwargs: Any
    ) -> Dovecot:
        base = Path(tempfile.mkdtemp(prefix="dc-", dir=dovecot_root))
        kwargs.setdefault("certs", certs)
        from tests.servers.dovecot import Dovecot

        server = Dovecot(base, users if users is not None else random_users(), **kwargs)
        servers.append(server)
        if start:
            server.start()
        return server

    yield factory
    for server in reversed(servers):
        server.stop(graceful=False)


@pytest.fixture
def dovecot(dovecot_factory: Callable[..., Dovecot]) -> Dovecot:
    """Running Dovecot, special-use layout (INBOX, Spam=\\Junk, Sent, Trash)."""
    return dovecot_factory()


@pytest.fixture
def dovecot_names(dovecot_factory: Callable[..., Dovecot]) -> Dovecot:
    """Running Dovecot without special-use: spam folders only recognisable by name."""
    return dovecot_factory(spam_layout="names")


# --------------------------------------------------------------------------
# Cyrus IMAP 3.6 and Courier IMAP 5.0, each in a cached Debian chroot built by
# mmdebstrap (tests/servers/chroot.py; they conflict with dovecot-imapd).
# --------------------------------------------------------------------------

APT_PACKAGES.setdefault("mmdebstrap", "mmdebstrap")
APT_PACKAGES.setdefault("chroot", "coreutils")


def require_chroot_servers() -> None:
    require_binaries("mmdebstrap", "chroot")
    if os.geteuid() != 0:
        missing_requirement(
            "Cyrus and Courier run in chroots, which needs root; run the suite as root "
            "(`sudo bash tests/run-all.sh`)"
        )


@pytest.fixture
def cyrus(certs: Certs) -> Iterator[Cyrus]:
    """Running Cyrus IMAP: users jperez and other (random passwords), INBOX and
    INBOX.Spam (\\Junk), separator ".", ``port_ssl`` and ``port_starttls``.

    Its chroot is built on first use (about a minute) and cached in
    /var/tmp/secop-chroots (``SECOP_CHROOT_CACHE``); see tests/servers/README.md.
    """
    require_chroot_servers()
    from tests.servers.cyrus import Cyrus, build

    server = Cyrus(build(), random_users(), certs=certs)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def courier(certs: Certs) -> Iterator[Courier]:
    """Running Courier IMAP: users jperez and other (random passwords), INBOX and
    INBOX.Spam (no special-use), separator ".", ``port_ssl`` and ``port_starttls``.

    IDLE is Debian's 60 s poll (``Courier(..., enhanced_idle=True)`` pushes at
    once). One Courier per chroot at a time (a lock; its userdb is global).
    """
    require_chroot_servers()
    from tests.servers.courier import Courier, build

    server = Courier(build(), random_users(), certs=certs)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(params=["dovecot", "cyrus", "courier"])
def imap_server(request: pytest.FixtureRequest) -> Any:
    """Each real server in turn (Dovecot, Cyrus, Courier), started, same users.

    All have ``host``, ``port_ssl``, ``port_starttls``, ``ca_file``,
    ``password(user)``, ``append(...)`` and ``connect(user)``; the spam folder
    is ``Spam`` ("/", \\Junk) on Dovecot, ``INBOX.Spam`` (".", \\Junk) on Cyrus
    and ``INBOX.Spam`` (".", no special-use) on Courier.
    """
    return request.getfixturevalue(str(request.param))


@pytest.fixture(scope="module", params=["dovecot", "cyrus", "courier"])
def shared_imap_server(
    request: pytest.FixtureRequest, certs: Certs, dovecot_root: Path
) -> Iterator[Any]:
    """Like ``imap_server``, but one started instance per test module and server kind,
    to share between tests that each :meth:`add_user` a random user of their own.

    Same layouts as ``imap_server``; Courier with ``enhanced_idle=True`` (FAM/gamin:
    IDLE pushes at once instead of Debian's 60 s poll). A test may ``restart()`` it;
    whoever takes it next gets it started again.
    """
    kind = str(request.param)
    server: Any
    if kind == "dovecot":
        require_dovecot()
        from tests.servers.dovecot import Dovecot

        base = Path(tempfile.mkdtemp(prefix="dc-", dir=dovecot_root))
        server = Dovecot(base, random_users(), certs=certs)
    else:
        require_chroot_servers()
        from tests.servers import courier, cyrus

        if kind == "cyrus":
            server = cyrus.Cyrus(cyrus.build(), random_users(), certs=certs)
        else:
            server = courier.Courier(
                courier.build(), random_users(), certs=certs, enhanced_idle=True
            )
    try:
        server.start()
        yield server
    finally:
        if kind == "dovecot":
            server.stop(graceful=False)
        else:
            server.cleanup()


@pytest.fixture
def oauth_server(certs: Certs, monkeypatch: pytest.MonkeyPatch) -> Iterator[OAuthServer]:
    """A started local OAuth2 server (:mod:`tests.servers.oauthserver`), stopped after.

    ``REQUESTS_CA_BUNDLE`` is set to the test CA (``CURL_CA_BUNDLE`` removed) for
    the test and its subprocesses: requests lets that variable override a
    session's ``verify``, so msal's ``verify=`` alone is not enough when the
    environment already sets it (as many CI images do).
    """
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certs.ca))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    from tests.servers.oauthserver import OAuthServer

    server = OAuthServer(certs).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One headless Chromium (:class:`tests.browser.Browser`) for the whole session.

    Missing Chromium skips the tests that use it, and fails them when CI is set.
    """
    require_binaries("chromium")
    from tests.browser import Browser

    with Browser(_which("chromium")) as browser:
        yield browser


# --------------------------------------------------------------------------
# Desktop notifications: a private D-Bus session bus, Xvfb and dunst
# (tests/notifyserver.py).
# --------------------------------------------------------------------------

APT_PACKAGES.setdefault("dbus-daemon", "dbus")
APT_PACKAGES.setdefault("xclip", "xclip")


@pytest.fixture
def notification_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A started :class:`tests.notifyserver.NotificationServer`, stopped at teardown.

    ``DBUS_SESSION_BUS_ADDRESS`` and ``DISPLAY`` point at it for the test
    (``WAYLAND_DISPLAY`` is removed); ``server.env`` is the same environment
    for subprocesses.
    """
    require_binaries("dbus-daemon", "Xvfb", "dunst", "dunstctl")
    from tests.notifyserver import NotificationServer

    server = NotificationServer(tmp_path / "notify")
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", server.address)
    monkeypatch.setenv("DISPLAY", server.display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    try:
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many hostile inputs and faults were tried, and how many crashed or leaked."""
    from tests import faultcount, tally

    if faultcount.FAULTS_INJECTED:
        tally.COUNTS["faults injected by the proxy"] = len(faultcount.FAULTS_INJECTED)
    if not tally.COUNTS and not tally.MAXIMA:
        return
    terminalreporter.section("secop-watcher: hostile inputs, faults and secrets")
    for name, count in sorted(tally.COUNTS.items()):
        terminalreporter.write_line(f"{name}: {count}")
    for name, value in sorted(tally.MAXIMA.items()):
        terminalreporter.write_line(f"{name}: {value:.3f}")
    if faultcount.FAULTS_INJECTED:
        terminalreporter.write_line(faultcount.summary())
    failed = len(terminalreporter.stats.get("failed", [])) + len(
        terminalreporter.stats.get("error", [])
    )
    terminalreporter.write_line(f"tests that crashed or leaked: {failed}")
