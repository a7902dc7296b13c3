"""The build step pyproject.toml cannot declare: the message catalogs compiled.

Every ``watcher/locale/<lang>/LC_MESSAGES/secop-watcher.po`` is compiled with Babel
into the ``.mo`` beside it before build_py copies the package data, so the wheel
carries the ``.mo`` files (package-data in pyproject.toml) and an editable install
(``pip install -e .``) finds them in the work tree. The ``.mo`` files are not in the
repository (.gitignore): they are always made from the ``.po``. See docs/translating.md.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DOMAIN = "secop-watcher"


def compile_catalogs(locale_dir: Path) -> list[Path]:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po.open("rb") as f:
            catalog = read_po(f)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as f:
            write_mo(f, catalog)  # fuzzy entries left out, as msgfmt does
        written.append(mo)
    return written


class BuildPyWithCatalogs(build_py):
    """build_py, after compiling the catalogs in the source tree (also in editable mode,
    where build_py copies nothing and the package is read from the work tree)."""

    def run(self) -> None:
        for mo in compile_catalogs(HERE / "watcher" / "locale"):
            self.announce(f"compiled {mo.relative_to(HERE)}", level=2)
        self.__dict__.pop("data_files", None)  # found again, now with the .mo files
        super().run()


setup(cmdclass={"build_py": BuildPyWithCatalogs})
