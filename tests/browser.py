"""A small headless-Chromium driver: what the browser makes of an HTML document's anchors.

One Chromium process serves any number of pages. It speaks the Chrome DevTools
Protocol over ``--remote-debugging-pipe`` (NUL-terminated JSON on the child's
fds 3 and 4), stdlib only::

    with Browser() as browser:
        page = browser.load(html_bytes, "iso-8859-1")
        page.charset                      # "windows-1252", as Chromium decoded it
        [a.href for a in page.anchors]    # a.href: the URL a click would follow

Each document is written to a fresh file and loaded from ``file://`` with
network access cut off (every host name resolves to nothing). A MIME charset is
handed over the only way a ``file://`` load allows: ``<meta charset>`` put
before the body bytes (after a leading doctype, so the document keeps its
mode), unless the bytes begin with a byte order mark, which wins anyway. The
recording script runs through ``Runtime.evaluate``; nothing is injected into
the page.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

__all__ = ["Anchor", "Browser", "BrowserError", "Page", "document_bytes"]

DEFAULT_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--mute-audio",
    # No network, whatever a document references: every name resolves to nothing.
    "--host-resolver-rules=MAP * ~NOTFOUND",
)

_BOMS = (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")
_LEADING_DOCTYPE = re.compile(rb"\A[\t\n\f\r ]*<!doctype[^>]*>", re.IGNORECASE)
_CHARSET_LABEL = re.compile(r"\A[A-Za-z0-9._:-]{1,40}\Z")

# Runs in the page: every HTML <a> in document order (SVG <a> elements are not links here).
_RECORD_SCRIPT = """(() => {
  const anchors = [];
  for (const a of document.getElementsByTagName("a")) {
    if (!(a instanceof HTMLAnchorElement)) continue;
    let area = false;
    for (const r of a.getClientRects()) {
      if (r.width > 0 && r.height > 0) { area = true; break; }
    }
    anchors.push({
      href: a.href,
      raw: a.getAttribute("href"),
      text: a.textContent,
      rendered: area && getComputedStyle(a).visibility === "visible",
    });
  }
  return {
    url: location.href,
    charset: document.characterSet,
    mode: document.compatMode,
    anchors: anchors,
  };
})()"""

# Run by ``sys.executable`` between fork and exec of Chromium: move the pipe ends to
# fds 3 and 4, where --remote-debugging-pipe expects them (dash cannot name fds > 9).
_TRAMPOLINE = (
    "import os, sys\n"
    "r, w = int(sys.argv[1]), int(sys.argv[2])\n"
    "os.dup2(r, 3)\n"
    "os.dup2(w, 4)\n"
    "os.close(r)\n"
    "os.close(w)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


class BrowserError(RuntimeError):
    """Chromium did not start, crashed, timed out or answered with an error."""


@dataclass(frozen=True)
class Anchor:
    """One ``<a>`` element as Chromium sees it."""

    href: str  # the ``a.href`` IDL attribute: resolved URL ("" without an href attribute)
    raw: str | None  # ``getAttribute("href")``: the attribute value after HTML decoding
    text: str  # ``textContent``
    rendered: bool  # has client rects of non-zero area and computed visibility "visible"


@dataclass(frozen=True)
class Page:
    """A loaded document: its encoding and its anchors in document order."""

    url: str
    charset: str  # ``document.characterSet`` (WHATWG name, e.g. "windows-1252")
    mode: str  # ``document.compatMode``: "CSS1Compat" (standards) or "BackCompat" (quirks)
    anchors: tuple[Anchor, ...]


def document_bytes(html: bytes, charset: str | None) -> bytes:
    """The file Chromium loads for ``html`` whose transport (MIME) charset is ``charset``.

    A ``file://`` load has no transport layer, so the charset is declared by a
    ``<meta charset>`` before the body bytes (after a leading doctype, which must stay
    first for the document to keep its standards mode). Bytes starting with a byte
    order mark are left alone: the BOM decides, as it would over the transport.
    """
    if charset is None or html.startswith(_BOMS):
        return html
    if not _CHARSET_LABEL.match(charset):
        raise ValueError(f"not a charset label: {charset!r}")
    meta = f'<meta charset="{charset}">'.encode("ascii")
    doctype = _LEADING_DOCTYPE.match(html)
    cut = doctype.end() if doctype else 0
    return html[:cut] + meta + html[cut:]


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable on PATH, if any."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium, one tab, many documents.

    ``start()`` launches it (``with Browser() as b`` does too); ``load()`` /
    ``anchors()`` render one document; ``close()`` ends the process (politely,
    then by SIGKILL to its process group) and removes its temporary files.
    After a timeout or a crash the process is killed and the next ``load()``
    starts a fresh one, so one bad page does not take the others down.
    """

    def __init__(
        self,
        executable: str | None = None,
        *,
        page_timeout: float = 10.0,
        start_timeout: float = 30.0,
        extra_flags: Sequence[str] = (),
    ) -> None:
        self.executable = executable or find_chromium() or "chromium"
        self.page_timeout = page_timeout
        self.start_timeout = start_timeout
        self.extra_flags = tuple(extra_flags)
        self.pages_loaded = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: Path | None = None
        self._to_browser: int | None = None
        self._from_browser: int | None = None
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None
        self._loaded: set[str] = set()  # loader ids whose "load" lifecycle event was seen

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Launch Chromium and open the tab documents are loaded in (no-op if running)."""
        if self.running:
            return self
        self.close()
        if shutil.which(self.executable) is None:
            raise BrowserError(f"Chromium not found: {self.executable!r} is not an executable")
        self._tmp = Path(tempfile.mkdtemp(prefix="secop-chromium-"))
        profile = self._tmp / "profile"
        profile.mkdir()
        (self._tmp / "pages").mkdir()
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        # The child's ends, above 9 so the trampoline's dup2 onto 3/4 cannot clobber them.
        child_r = _dup_high(to_child_r)
        child_w = _dup_high(from_child_w)
        self._to_browser, self._from_browser = to_child_w, from_child_r
        argv = [
            sys.executable,
            "-c",
            _TRAMPOLINE,
            str(child_r),
            str(child_w),
            self.executable,
            *DEFAULT_FLAGS,
            *self.extra_flags,
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        try:
            with open(self._tmp / "chromium.log", "wb") as log:  # D-Bus noise goes here
                self._proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env=_environment(self._tmp),
                    pass_fds=(child_r, child_w),
                    start_new_session=True,  # its own process group, killed as one
                )
        except OSError as exc:
            self.close()
            raise BrowserError(f"cannot run {self.executable}: {exc}") from exc
        finally:
            for fd in (to_child_r, from_child_w, child_r, child_w):
                os.close(fd)
        try:
            deadline = time.monotonic() + self.start_timeout
            self._call("Browser.getVersion", deadline=deadline)
            target = self._call("Target.createTarget", {"url": "about:blank"}, deadline=deadline)
            attached = self._call(
                "Target.attachToTarget",
                {"targetId": target["targetId"], "flatten": True},
                deadline=deadline,
            )
            self._session = str(attached["sessionId"])
            self._call("Page.enable", deadline=deadline, session=True)
            self._call(
                "Page.setLifecycleEventsEnabled", {"enabled": True}, deadline=deadline, session=True
            )
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop Chromium (Browser.close, then SIGKILL to its group) and clean up. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(BrowserError, OSError):
                    self._send("Browser.close", {}, None)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
            # Helpers (renderer, zygote, GPU) share its process group; leave none behind.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        if self._tmp is not None:
            _kill_strays(self._tmp)
        for fd in (self._to_browser, self._from_browser):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._to_browser = self._from_browser = None
        self._buffer = b""
        self._session = None
        self._loaded.clear()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # ------------------------------------------------------------------ pages

    def anchors(self, html: bytes, charset: str | None) -> list[Anchor]:
        """Every ``<a>`` of ``html`` (decoded as MIME charset ``charset``), in document order."""
        return list(self.load(html, charset).anchors)

    def load(self, html: bytes, charset: str | None) -> Page:
        """Load ``html`` as a mail client would show a part of MIME charset ``charset``."""
        try:
            return self._load(html, charset)
        except BrowserError:
            self.close()  # a stuck or dead browser: the next load starts a fresh one
            raise

    def _load(self, html: bytes, charset: str | None) -> Page:
        self.start()
        assert self._tmp is not None
        self.pages_loaded += 1
        path = self._tmp / "pages" / f"page-{self.pages_loaded}.html"
        path.write_bytes(document_bytes(html, charset))
        try:
            deadline = time.monotonic() + self.page_timeout
            url = path.as_uri()
            nav = self._call("Page.navigate", {"url": url}, deadline=deadline, session=True)
            if nav.get("errorText"):
                raise BrowserError(f"Chromium could not load {url}: {nav['errorText']}")
            self._wait_for_load(nav.get("loaderId"), deadline)
            result = self._call(
                "Runtime.evaluate",
                {"expression": _RECORD_SCRIPT, "returnByValue": True},
                deadline=deadline,
                session=True,
            )
        finally:
            path.unlink(missing_ok=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"the recording script failed: {result['exceptionDetails']}")
        value = result["result"]["value"]
        if value["url"] != url:
            raise BrowserError(f"Chromium shows {value['url']!r}, not the page loaded ({url})")
        return Page(
            url=value["url"],
            charset=value["charset"],
            mode=value["mode"],
            anchors=tuple(
                Anchor(href=a["href"], raw=a["raw"], text=a["text"], rendered=a["rendered"])
                for a in value["anchors"]
            ),
        )

    def _wait_for_load(self, loader: str | None, deadline: float) -> None:
        # The load event may come before Page.navigate's answer (they come from different
        # processes): _receive notes every one, so none is missed.
        if not loader:
            raise BrowserError("Page.navigate gave no loader id (not a new document?)")
        while loader not in self._loaded:
            self._receive(deadline, "the load event")
        self._loaded.clear()

    # ------------------------------------------------------------------ protocol

    def _send(self, method: str, params: dict[str, Any], session: str | None) -> int:
        if self._to_browser is None:
            raise BrowserError("Chromium is not running")
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode("utf-8") + b"\0"
        while data:
            try:
                written = os.write(self._to_browser, data)
            except BrokenPipeError as exc:
                raise BrowserError(f"Chromium went away{self._log_tail()}") from exc
            data = data[written:]
        return self._next_id

    def _call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        deadline: float,
        session: bool = False,
    ) -> dict[str, Any]:
        """Send one command and wait for its answer (events seen meanwhile are dropped)."""
        if session and self._session is None:
            raise BrowserError("no page session")
        sent = self._send(method, params or {}, self._session if session else None)
        while True:
            message = self._receive(deadline, method)
            if message.get("id") != sent:
                continue
            if "error" in message:
                raise BrowserError(f"{method} failed: {message['error']}")
            result = message.get("result", {})
            if not isinstance(result, dict):
                raise BrowserError(f"{method}: unexpected answer {message!r}")
            return result

    def _receive(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if self._from_browser is None:
                raise BrowserError("Chromium is not running")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(
                    f"Chromium gave no answer within {self._timeout_label()} "
                    f"while waiting for {waiting_for}"
                )
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError(
                    f"Chromium closed the DevTools pipe (exit status {self._exit_status()}) "
                    f"while waiting for {waiting_for}{self._log_tail()}"
                )
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message = json.loads(raw)
        if not isinstance(message, dict):
            raise BrowserError(f"unexpected DevTools message {message!r}")
        if message.get("method") == "Page.lifecycleEvent":
            params = message.get("params") or {}
            if params.get("name") == "load" and params.get("loaderId"):
                self._loaded.add(str(params["loaderId"]))
        return message

    def _exit_status(self) -> int | None:
        if self._proc is None:
            return None
        try:
            return self._proc.wait(2)
        except subprocess.TimeoutExpired:
            return None

    def _timeout_label(self) -> str:
        return f"{self.page_timeout:g} s" if self._session else f"{self.start_timeout:g} s"

    def _log_tail(self, lines: int = 15) -> str:
        if self._tmp is None:
            return ""
        try:
            text = (self._tmp / "chromium.log").read_text("utf-8", "replace")
        except OSError:
            return ""
        tail = "\n".join(text.splitlines()[-lines:])
        return f"; Chromium's last output:\n{tail}" if tail else ""


def _environment(tmp: Path) -> dict[str, str]:
    """Chromium's environment: its home and XDG directories (crash database included)
    inside ``tmp``, and no session bus or display of the tests' own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY")
    }
    for key, sub in (
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "home/.config"),
        ("XDG_CACHE_HOME", "home/.cache"),
        ("XDG_DATA_HOME", "home/.local/share"),
    ):
        path = tmp / sub
        path.mkdir(parents=True, exist_ok=True)
        env[key] = str(path)
    return env


def _kill_strays(tmp: Path) -> None:
    """SIGKILL what is left of this browser outside its process group.

    The crash handler double-forks into a session of its own (so ``killpg`` misses
    it) and keeps its database under ``tmp``, which its command line names.
    """
    marker = str(tmp).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def _dup_high(fd: int) -> int:
    """A close-on-exec duplicate of ``fd`` numbered 10 or above (``fd`` is left open)."""
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
