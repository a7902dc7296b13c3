"""``--open``/``--copy`` say what happened, and check-now's choice of a link (no server)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import require_binaries
from watcher import clipboard, handover
from watcher.commands.check_now import Candidate, choose
from watcher.exitcodes import ExitCode
from watcher.model import Link, Status

URL = "https://community.secop.gov.co/STS/Users/ResetPassword/Index?token=abc"


def no_tool(_name: str) -> str | None:
    return None


# --- the clipboard: no display vs no tool vs a tool that fails ------------------------


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        ({}, "linux", False),
        ({"DISPLAY": ""}, "linux", False),
        ({"DISPLAY": ":0"}, "linux", True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
        ({}, "freebsd14", False),
        ({}, "darwin", True),
        ({}, "win32", True),
    ],
)
def test_has_display(environ: dict[str, str], platform: str, expected: bool) -> None:
    assert clipboard.has_display(environ, platform) is expected


def test_without_a_display_no_tool_is_tried_or_blamed() -> None:
    tried: list[str] = []

    def which(name: str) -> str | None:
        tried.append(name)
        return "/usr/bin/" + name

    done = clipboard.copy_text(URL, environ={}, platform="linux", which=which)
    assert done == clipboard.Copied(False, clipboard.NO_DISPLAY)
    assert tried == []
    text = handover.copy_link(URL, "es", copier=lambda _u: done)
    assert "no tiene pantalla gráfica" in text and "xclip" not in text


@pytest.mark.parametrize(
    ("environ", "install"),
    [
        ({"DISPLAY": ":0"}, "xclip, xsel"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "wl-clipboard"),
        ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "wl-clipboard, xclip, xsel"),
    ],
)
def test_a_display_without_any_tool_names_what_to_install(
    environ: dict[str, str], install: str
) -> None:
    done = clipboard.copy_text(URL, environ=environ, platform="linux", which=no_tool)
    assert done == clipboard.Copied(False, clipboard.NO_TOOL, install=install)
    text = handover.copy_link(URL, "en", copier=lambda _u: done)
    assert text.startswith(
        f"Not copied: the clipboard program is missing. Install one of: {install}"
    )


def test_tools_follow_the_session() -> None:
    wayland_only = clipboard.candidates("linux", {"WAYLAND_DISPLAY": "w"})
    assert [argv[0] for argv, _ in wayland_only] == ["wl-copy"]
    both = clipboard.candidates("linux", {"WAYLAND_DISPLAY": "w", "DISPLAY": ":1"})
    assert [argv[0] for argv, _ in both] == ["wl-copy", "xclip", "xsel"]
    assert [argv[0] for argv, _ in clipboard.candidates("darwin", {})] == ["pbcopy"]
    assert clipboard.candidates("win32", {}) == [(["clip"], "utf-16")]


def test_a_tool_that_fails_is_named_with_what_it_said(tmp_path: Path) -> None:
    tool = tmp_path / "xclip"
    tool.write_text("#!/bin/sh\necho 'Error: Can'\"'\"'t open display: :42' >&2\nexit 1\n")
    tool.chmod(0o755)

    def which(name: str) -> str | None:
        return str(tool) if name == "xclip" else None

    done = clipboard.copy_text(URL, environ={"DISPLAY": ":42"}, platform="linux", which=which)
    assert done == clipboard.Copied(
        False, clipboard.FAILED, "xclip", "Error: Can't open display: :42"
    )
    assert handover.copy_link(URL, "es", copier=lambda _u: done) == (
        "No se copió: xclip falló (Error: Can't open display: :42). Seleccione el enlace de "
        "arriba y cópielo."
    )


def test_real_xclip_on_a_display_that_is_not_there() -> None:
    """What xclip itself does when DISPLAY names no server: exit 1, "Can't open display"."""
    require_binaries("xclip")
    env = {**os.environ, "DISPLAY": ":97"}
    done = subprocess.run(
        ["xclip", "-selection", "clipboard"], input=b"x", env=env, capture_output=True,
        timeout=10, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and b"Can't open display" in done.stderr
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = ":97"
    try:
        copied = clipboard.copy_text(URL, platform="linux")
    finally:
        if old is None:
            del os.environ["DISPLAY"]
        else:
            os.environ["DISPLAY"] = old
    assert copied.problem == clipboard.FAILED and copied.tool == "xclip"
    assert "Can't open display" in copied.reason


# --- the browser ------------------------------------------------------------------------


def test_no_display_opens_nothing_and_says_why() -> None:
    called: list[str] = []

    def opener(url: str) -> bool:
        called.append(url)
        return True

    text = handover.open_link(URL, "es", environ={}, platform="linux", opener=opener)
    assert called == []
    assert text.startswith("No se abrió el navegador: esta sesión no tiene pantalla gráfica")


def test_browser_variable_is_tried_even_without_a_display() -> None:
    text = handover.open_link(
        URL, "en", environ={"BROWSER": "lynx"}, platform="linux", opener=lambda _u: True
    )
    assert text == "Opened in your browser."


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_no_browser_found_is_never_called_opened(platform: str) -> None:
    text = handover.open_link(
        URL, "es", environ={"DISPLAY": ":0"}, platform=platform, opener=lambda _u: False
    )
    assert text.startswith("No se abrió: no se encontró ningún navegador")
    assert "Abierto" not in text


def test_pythons_webbrowser_returns_false_when_it_finds_no_browser(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The fact open_link relies on, from webbrowser itself (a fresh registry, no browser)."""
    import webbrowser

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DISPLAY", ":0")
    for name in ("BROWSER", "TERM", "WAYLAND_DISPLAY", "GNOME_DESKTOP_SESSION_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(webbrowser, "_tryorder", None)
    monkeypatch.setattr(webbrowser, "_browsers", {})
    assert webbrowser.open(URL) is False
    assert handover.open_link(URL, "es", platform="linux").startswith("No se abrió: no se")


# --- check-now: which link -----------------------------------------------------------


def link(user: str | None, folder: str = "INBOX") -> Link:
    received = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    return Link(user, f"{URL}-{user}", received, folder, None, Status.CURRENT)


def answers(*given: str | None) -> tuple[list[str], Callable[[str], str | None]]:
    prompts: list[str] = []
    queue = list(given)

    def ask(prompt: str) -> str | None:
        prompts.append(prompt)
        return queue.pop(0)

    return prompts, ask


def test_one_link_is_taken_without_asking() -> None:
    only = [Candidate("", link("jperez"))]
    assert choose(only, None, "es", ask=None) == (only[0], [], None)


def test_user_is_case_insensitive() -> None:
    found = [Candidate("", link("jperez")), Candidate("", link("MGomez"))]
    chosen, notes, refused = choose(found, "mgomez", "es", ask=None)
    assert chosen == found[1] and notes == [] and refused is None


def test_unknown_user_lists_the_users() -> None:
    found = [Candidate("", link("jperez")), Candidate("", link("mgomez"))]
    chosen, notes, refused = choose(found, "lgarcia", "es", ask=None)
    assert chosen is None and refused is ExitCode.NO_CHOICE and int(refused) == 11
    assert notes == [
        "No hay enlace vigente para el usuario «lgarcia»; los usuarios con enlace vigente son: "
        "jperez, mgomez. No se abrió ni se copió nada."
    ]


def test_several_and_nobody_to_ask_is_refused_not_guessed() -> None:
    found = [Candidate("", link("jperez")), Candidate("", link("mgomez"))]
    chosen, notes, refused = choose(found, None, "en", ask=None)
    assert chosen is None and refused is ExitCode.NO_CHOICE
    assert "(jperez, mgomez)" in notes[0] and "--user NAME" in notes[0]


def test_asks_again_on_a_typo_and_takes_the_number() -> None:
    found = [Candidate("a", link("jperez")), Candidate("b", link("jperez", "Spam"))]
    prompts, ask = answers("3", "x", " 2 ")
    chosen, _notes, refused = choose(found, "JPEREZ", "es", ask=ask)
    assert chosen == found[1] and refused is None
    assert "1) jperez (cuenta «a»): llegó" in prompts[0]
    assert "2) jperez (cuenta «b»): llegó" in prompts[0] and "carpeta Spam" in prompts[0]
    assert prompts[1].startswith("Escriba un número del 1 al 2") and len(prompts) == 3


@pytest.mark.parametrize("answer", ["", None])
def test_enter_or_end_of_input_is_none(answer: str | None) -> None:
    found = [Candidate("", link("jperez")), Candidate("", link(None))]
    prompts, ask = answers(answer)
    assert choose(found, None, "es", ask=ask) == (None, [], None)
    assert "(sin nombre)" in prompts[0]
