"""watcher.htmlbody, pinned where mutation testing found the suite silent.

The tree is the HTML Standard's (html5lib, as Chromium builds it); hidden means
what the module docstring lists, inline or in a ``<style>`` rule outside
``@media``; ``visibility`` and ``font-size`` are inherited, the nearest element
that sets them decides (CSS 2.1). A hidden anchor makes a mail suspicious, and
text a reader cannot see never gives a link.
"""

from __future__ import annotations

import warnings

import pytest

from watcher import htmlbody

PHRASE = "Haga clic aquí para cambiar la contraseña"


def hidden(markup: str) -> list[bool]:
    return [a.hidden for a in htmlbody.read(markup).anchors]


def visible(markup: str) -> list[str]:
    return htmlbody.read(markup).visible_text().split()


def test_the_tree_is_the_html_standards() -> None:
    # A <p> inside an anchor closes the paragraph; the anchor is rebuilt after it
    # (the adoption agency algorithm), so the browser shows two links.
    anchors = htmlbody.read('<p><a href="https://a.example/">Haga clic<p>aquí</a>').anchors
    assert [(a.href, a.text) for a in anchors] == [
        ("https://a.example/", "Haga clic"),
        ("https://a.example/", "aquí"),
    ]


def test_reading_a_page_never_warns() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert visible("<p>hola</p>") == ["hola"]


def test_an_anchor_inside_a_template_is_not_in_the_page() -> None:
    markup = '<template><a href="https://evil.example/">t</a></template><a href="https://a/">v</a>'
    assert [a.href for a in htmlbody.read(markup).anchors] == ["https://a/"]


@pytest.mark.parametrize(
    "style",
    [
        "font-size:small",  # a keyword is a size
        "font-size:medium",
        "overflow:hidden",  # clipping alone hides nothing
        "height:0",  # a zero box whose content overflows, unclipped, shows it (MJML)
        "width:0px",
    ],
)
def test_styles_that_do_not_hide(style: str) -> None:
    assert hidden(f'<div style="{style}"><a href="x">a</a></div>') == [False]
    assert visible(f'<div style="{style}">shown</div>') == ["shown"]


@pytest.mark.parametrize(
    ("rule", "is_hidden"),
    [
        (".r{visibility:hidden}", True),
        (".r{font-size:0}", True),
        (".r{font-size:0px;color:red}", True),
        (".r{color:red}", False),
        (".r{visibility:visible}", False),
        (".r{font-size:13px}", False),
    ],
)
def test_style_rules(rule: str, is_hidden: bool) -> None:
    markup = f'<style>{rule}</style><p class="r"><a href="x">a</a></p>'
    assert hidden(markup) == [is_hidden]
    assert visible(markup.replace('<a href="x">a</a>', "texto")) == ([] if is_hidden else ["texto"])


@pytest.mark.parametrize(
    "css",
    [
        ".c{color:red} .h{display:none}",  # a rule that hides nothing does not stop the reading
        "@media (max-width:600px){.m{display:none}}.h{display:none}",
        "/* a comment */.h{display:none}",
        ".x, .h{display:none}",
        ".x:no-such-pseudo-class, .h{display:none}",  # errs towards hidden
    ],
)
def test_the_hiding_rule_is_found(css: str) -> None:
    markup = f'<style>{css}</style><div><p class="h"><a href="x">a</a></p><a href="y">b</a></div>'
    assert hidden(markup) == [True, False]


def test_a_descendant_selector_hides_only_the_descendant() -> None:
    markup = (
        '<style>div .h{display:none}</style><div><a href="x">a</a><a class="h" href="y">b</a></div>'
    )
    assert hidden(markup) == [False, True]


def test_text_that_looks_like_css_hides_nothing() -> None:
    markup = '<p>a{display:none} p{display:none} div{display:none}</p><div><a href="x">a</a></div>'
    assert hidden(markup) == [False]


# --------------------------------------------------------------------------- visible text


def test_visible_text_leaves_out_what_a_rule_hides() -> None:
    markup = '<style>.h{display:none}</style><div><p class="h">secreto</p><p>visible</p></div>'
    assert visible(markup) == ["visible"]


def test_visibility_is_inherited_and_the_nearest_decides() -> None:
    markup = (
        '<div style="visibility:hidden">oculto <p>también</p>'
        '<p style="visibility:visible">visible</p></div>'
    )
    assert visible(markup) == ["visible"]


def test_a_zero_font_size_wrapper_with_sized_text_shows_it() -> None:
    # MJML: the column wrapper sets font-size:0px, the text block sets it again.
    markup = (
        '<div style="font-size:0px"><span> </span><div style="font-size:13px">visible</div></div>'
    )
    assert visible(markup) == ["visible"]
    assert visible('<div style="font-size:0px">oculto<p>también</p></div>') == []


def test_hidden_elements_and_their_text_are_left_out() -> None:
    markup = '<div style="display:none">oculto</div><p hidden>oculto</p><p>visible</p>'
    assert visible(markup) == ["visible"]


def test_the_doctype_is_no_text() -> None:
    assert visible("<!DOCTYPE html><html><body><p>hola</p></body></html>") == ["hola"]


def test_a_style_sheet_split_by_a_comment_inside_svg() -> None:
    # In SVG the <style> element's text is its text nodes joined; Chromium hides .h here.
    markup = '<svg><style>.h{display:<!---->none}</style></svg><p class="h"><a href="x">a</a></p>'
    assert hidden(markup) == [True]
