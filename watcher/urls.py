"""An ``href`` to the URL a browser follows: the WHATWG URL Standard's parser.

The parsing itself is ada's (``ada-url``: the URL Standard's parser that
Node.js uses); this module only feeds it what a browser would:

- leading and trailing C0 controls and spaces are stripped, and ASCII tab and
  newline are removed anywhere (ada does this too; it is done here first so
  that the query is found where the browser finds it);
- non-ASCII characters of the query are percent-encoded in the *document's*
  encoding (a windows-1252 mail writes ``é`` as ``%E9``, a UTF-8 one as
  ``%C3%A9``); ada encodes everything else: the path and fragment in UTF-8,
  the host with IDNA, the port 443 dropped, ``\\`` read as ``/``;
- where Chromium, the browser most users have (Chrome and Edge), parts from
  the standard, Chromium wins: it percent-encodes ``|`` in the path (``%7C``),
  which the standard keeps. The suite's differential test against Chromium
  found this one difference in the path, query and fragment of every printable
  ASCII character.

A relative ``href`` has nothing to resolve against in a mail, so it gives
``None``, as does anything that is not a URL. Pure; never fetches anything.
"""

from __future__ import annotations

import re

import ada_url

from watcher.encoding import UTF8, encode_query_run

__all__ = ["resolve", "strip_controls"]

_C0_OR_SPACE = "".join(chr(code) for code in range(0x21))
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def strip_controls(text: str) -> str:
    """Leading/trailing C0 controls and spaces stripped, tab and newline removed."""
    return text.strip(_C0_OR_SPACE).translate(_TAB_NEWLINE)


def _encode_query(url: str, encoding: str) -> str:
    """Percent-encode the non-ASCII characters of the query in ``encoding``."""
    start = url.find("?")
    fragment = url.find("#")
    if start < 0 or (0 <= fragment < start) or url[start:].isascii():
        return url
    end = fragment if fragment > start else len(url)
    query = _NON_ASCII.sub(lambda m: encode_query_run(m.group(), encoding), url[start + 1 : end])
    return f"{url[: start + 1]}{query}{url[end:]}"


def resolve(href: str, encoding: str = UTF8) -> str | None:
    """The absolute URL ``href`` stands for, serialized; None if there is none."""
    text = strip_controls(href)
    if encoding != UTF8:
        text = _encode_query(text, encoding)
    try:
        url = ada_url.URL(text)
    except ValueError:
        return None
    if "|" in url.pathname and url.protocol in ("http:", "https:"):
        url.pathname = url.pathname.replace("|", "%7C")
    return url.href
