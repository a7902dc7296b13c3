"""An HTML body read the way a browser reads it: its anchors and its visible text.

The tree is built by html5lib, the HTML Standard's parsing algorithm in pure
Python, through BeautifulSoup. Python's ``html.parser`` is not that algorithm:
it decodes legacy entity names without a semicolon inside attributes, so
``…&currentLanguage=es-CO`` became ``…¤tLanguage=es-CO``, and it keeps the
*last* of two ``href`` attributes where browsers follow the first. (lxml was
measured too; see docs/reading-links.md for the comparison.)

What is read of each ``<a>``:

- ``href``: the attribute as the tree holds it (the first of duplicates,
  character references decoded as the standard says), still to be resolved
  with :func:`watcher.urls.resolve`;
- ``text``: the element's ``textContent``: its text nodes joined with nothing
  in between, so ``contrase<span>ñ</span>a`` reads ``contraseña``;
- ``hidden``: whether the element is plainly not shown: ``hidden``,
  ``display:none``, ``visibility:hidden``, a zero size, font size or opacity
  on it or an ancestor, inline or in a ``<style>`` rule outside ``@media``;
  inside ``<template>`` or ``<noscript>``. This errs towards "hidden": a
  genuine SECOP anchor is never hidden, a forged one may be.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import soupsieve
from bs4 import BeautifulSoup
from bs4.element import Comment, NavigableString, PageElement, Tag

from watcher.phrase import INVISIBLE

__all__ = ["Anchor", "Document", "read"]

PARSER = "html5lib"

_DROP_INVISIBLE = str.maketrans("", "", INVISIBLE)

_NOT_RENDERED = frozenset({"head", "script", "style", "template", "noscript", "title"})
_BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_ZERO = r"\s*:\s*0(?:\.0*)?(?:[a-z%]+)?\s*(?:!important\s*)?(?:;|$)"
_START = r"(?:^|[;{\s])"
# Hides the element and everything in it, whatever its descendants say.
_GONE = re.compile(rf"{_START}(?:display\s*:\s*none|opacity{_ZERO})", re.IGNORECASE)
# A zero box hides its content only when what overflows it is clipped.
_ZERO_BOX = re.compile(rf"{_START}(?:max-)?(?:height|width){_ZERO}", re.IGNORECASE)
_CLIPPED = re.compile(rf"{_START}overflow\s*:\s*(?:hidden|clip)", re.IGNORECASE)
# Inherited: the nearest element that sets them decides (MJML's wrappers set
# ``font-size:0px`` and the text block sets it again).
_VISIBILITY = re.compile(r"visibility\s*:\s*(hidden|collapse|visible)", re.IGNORECASE)
_FONT_SIZE = re.compile(rf"{_START}font-size\s*:\s*([^;]*)", re.IGNORECASE)
_SIZE = re.compile(r"([0-9]*\.?[0-9]+)\s*([a-z%]*)")
_RELATIVE_SIZES = frozenset({"inherit", "larger", "smaller", "unset", "revert"})
_RELATIVE_UNITS = frozenset({"em", "ex", "ch", "%"})  # a multiple of the parent's size
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_AT_BLOCK = re.compile(r"@[^{;]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", re.DOTALL)
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


@dataclass(frozen=True)
class Anchor:
    href: str | None  # the attribute as parsed (first of duplicates); None when absent
    text: str  # textContent
    hidden: bool
    element: Tag


@dataclass(frozen=True)
class Document:
    anchors: tuple[Anchor, ...]
    soup: BeautifulSoup

    def visible_text(self) -> str:
        """The text a reader sees: blocks on their own lines, hidden parts left out."""
        return "".join(_visible(self.soup, hidden_by_rule(self.soup))).translate(_DROP_INVISIBLE)


def read(html: str) -> Document:
    soup = BeautifulSoup(html, PARSER)
    by_rule = hidden_by_rule(soup)
    anchors = tuple(
        Anchor(_href(tag), tag.get_text(), _is_hidden(tag, by_rule), tag)
        for tag in soup.find_all("a")
        if isinstance(tag, Tag) and not any(p.name == "template" for p in tag.parents)
    )
    return Document(anchors, soup)


def _href(tag: Tag) -> str | None:
    value = tag.get("href")
    return value if isinstance(value, str) else None


def _style_hides(style: str) -> bool:
    """Whether a declaration block takes the element out of sight (for ``<style>`` rules)."""
    return _gone_style(style) or _visibility(style) is False or _font_visible(style) is False


def _gone_style(style: str) -> bool:
    return bool(_GONE.search(style)) or bool(_ZERO_BOX.search(style) and _CLIPPED.search(style))


def _font_visible(style: str) -> bool | None:
    """The last ``font-size`` of a declaration block: False when it is zero, None when it
    is relative to the parent's (``1em``, ``150%``, ``inherit``, ``larger``: zero stays zero)."""
    found = _FONT_SIZE.findall(style)
    if not found:
        return None
    value = found[-1].lower().replace("!important", "").strip()
    size = _SIZE.fullmatch(value)
    if size is None:  # a keyword: absolute ones (small, medium ...) show text
        return None if value in _RELATIVE_SIZES else True
    if float(size.group(1)) == 0:
        return False
    return None if size.group(2) in _RELATIVE_UNITS else True


def _visibility(style: str) -> bool | None:
    """The last ``visibility`` of a declaration block: True visible, False hidden."""
    found = _VISIBILITY.findall(style)
    return None if not found else found[-1].lower() == "visible"


def hidden_by_rule(soup: BeautifulSoup) -> set[int]:
    """``id()`` of the elements a ``<style>`` rule (outside ``@media``) hides."""
    hidden: set[int] = set()
    for style in soup.find_all("style"):
        text = "".join(
            str(c)
            for c in style.children
            if isinstance(c, NavigableString) and not isinstance(c, Comment)  # SVG <style>
        )
        css = _AT_BLOCK.sub("", _CSS_COMMENT.sub("", text))
        for selectors, body in _RULE.findall(css):
            if not _style_hides(body):
                continue
            for selector in selectors.split(","):
                hidden.update(id(tag) for tag in _select(soup, selector.strip()))
    return hidden


def _select(soup: BeautifulSoup, selector: str) -> list[Tag]:
    if not selector:
        return []
    try:
        return list(soup.select(selector))
    except (soupsieve.SelectorSyntaxError, NotImplementedError, ValueError):
        return []


def _style(tag: Tag) -> str:
    style = tag.get("style")
    return style if isinstance(style, str) else ""


def _gone(tag: Tag, by_rule: set[int]) -> bool:
    """Not rendered at all, whatever its descendants say."""
    return (
        tag.name in _NOT_RENDERED
        or tag.has_attr("hidden")
        or id(tag) in by_rule
        or _gone_style(_style(tag))
    )


def _is_hidden(tag: Tag, by_rule: set[int]) -> bool:
    """Gone by itself or by an ancestor, or hidden by the nearest ``visibility`` or
    ``font-size`` that an element on the way up sets (both are inherited)."""
    elements = [e for e in (tag, *tag.parents) if isinstance(e, Tag) and e.name != "[document]"]
    if any(_gone(element, by_rule) for element in elements):
        return True
    for read in (_visibility, _font_visible):
        for element in elements:
            shown = read(_style(element))
            if shown is not None:
                if not shown:
                    return True
                break
    return False


def _inherited(tag: Tag, shown: tuple[bool, bool]) -> tuple[bool, bool]:
    """``(visibility, font size)`` shown, as ``tag`` passes them on to its content."""
    style = _style(tag)
    visibility, font = _visibility(style), _font_visible(style)
    return (shown[0] if visibility is None else visibility, shown[1] if font is None else font)


def _visible(
    node: PageElement, by_rule: set[int], shown: tuple[bool, bool] = (True, True)
) -> Iterator[str]:
    if isinstance(node, Comment):
        return
    if isinstance(node, NavigableString):
        if type(node) is NavigableString and all(shown):
            yield str(node)
        return
    if not isinstance(node, Tag):
        return
    if node.name != "[document]":
        if _gone(node, by_rule):
            return
        shown = _inherited(node, shown)
    block = node.name in _BLOCKS
    if block:
        yield "\n"
    for child in node.children:
        yield from _visible(child, by_rule, shown)
    if block:
        yield "\n"
