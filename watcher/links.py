"""Offline unwrapping and checking of links found in the SECOP reset mail.

Nothing here touches the network: reset tokens are single-use and mail
scanners are known to burn them by opening them, so a link is only ever
*looked at*, never fetched.
"""

from __future__ import annotations

import binascii
import re
import string
from base64 import urlsafe_b64decode
from urllib.parse import parse_qs, unquote, urlsplit

from watcher.encoding import UTF8
from watcher.urls import resolve, strip_controls

__all__ = [
    "REASON_BACKSLASH",
    "REASON_ENCODED_HOST",
    "REASON_HOST_NOT_ALLOWED",
    "REASON_MALFORMED",
    "REASON_MIMECAST",
    "REASON_MIXED_SCRIPT",
    "REASON_NOT_HTTPS",
    "REASON_PORT",
    "REASON_TOO_DEEP",
    "REASON_USERINFO",
    "check_link",
    "is_mimecast",
    "unwrap",
]

REASON_NOT_HTTPS = "not_https"
REASON_HOST_NOT_ALLOWED = "host_not_allowed"
REASON_USERINFO = "userinfo_in_link"
REASON_PORT = "port_in_link"
REASON_BACKSLASH = "backslash_in_link"
REASON_ENCODED_HOST = "encoded_host"
REASON_MIXED_SCRIPT = "mixed_script_host"
REASON_MIMECAST = "mimecast_wrapped"
REASON_TOO_DEEP = "unwrap_too_deep"
REASON_MALFORMED = "malformed_link"

_SAFELINKS_HOST = re.compile(r"(?:^|\.)safelinks\.protection\.outlook\.com$")
_PP_V1_V2_HOST = "urldefense.proofpoint.com"
_PP_V3 = re.compile(
    r"^https?://urldefense(?:\.proofpoint)?\.com/v3/__(?P<url>.+?)__;(?P<enc>[^!]*)!",
    re.IGNORECASE | re.DOTALL,
)
_PP_V3_TOKEN = re.compile(r"\*(\*.)?")
# ``**A`` stands for a run of 2 replaced characters, ``**B`` for 3, and so on.
_PP_V3_RUNS = {
    ch: n
    for n, ch in enumerate(
        string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_", 2
    )
}
_PP_V2_TRANS = str.maketrans({"-": "%", "_": "/"})
_MIMECAST_HOST = re.compile(r"^protect(?:-[a-z0-9-]+)?\.mimecast(?:-offshore)?\.com$")
_LDH_HOST = re.compile(
    r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$"
)


def _host_of(url: str) -> str:
    """Lower-cased host of ``url``, or "" when it has none or cannot be parsed."""
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


def is_mimecast(url: str) -> bool:
    """True for Mimecast URL Protect links, which are opaque offline."""
    return bool(_MIMECAST_HOST.match(_host_of(strip_controls(url))))


def _first_param(url: str, name: str) -> str | None:
    try:
        values = parse_qs(urlsplit(url).query, keep_blank_values=True).get(name)
    except ValueError:
        return None
    return values[0] if values and values[0] else None


def _unwrap_safelinks(url: str) -> str | None:
    if not _SAFELINKS_HOST.search(_host_of(url)):
        return None
    return _first_param(url, "url")


def _unwrap_proofpoint_v1_v2(url: str) -> tuple[str, str] | None:
    if _host_of(url) != _PP_V1_V2_HOST:
        return None
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    if path == "/v1/url":
        inner = _first_param(url, "u")
        return ("proofpoint-v1", inner) if inner else None
    if path == "/v2/url":
        inner = _first_param(url, "u")
        return ("proofpoint-v2", unquote(inner.translate(_PP_V2_TRANS))) if inner else None
    return None


def _proofpoint_v3_replacements(encoded: str) -> str | None:
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        return urlsafe_b64decode(padded).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _unwrap_proofpoint_v3(url: str) -> str | None:
    """Proofpoint's published v3 algorithm.

    Characters Proofpoint does not keep in the URL are replaced by ``*``
    (one character) or ``**X`` (a run whose length ``X`` encodes) and
    stored, in order, base64url-encoded after ``__;``.
    """
    match = _PP_V3.match(url)
    if match is None:
        return None
    chars = _proofpoint_v3_replacements(match.group("enc"))
    if chars is None:
        return None
    text = unquote(match.group("url"))
    out: list[str] = []
    pos = 0
    used = 0
    for token in _PP_V3_TOKEN.finditer(text):
        run = _PP_V3_RUNS.get(token.group(1)[1], 0) if token.group(1) else 1
        if run == 0 or used + run > len(chars):
            return None
        out += [text[pos : token.start()], chars[used : used + run]]
        used += run
        pos = token.end()
    out.append(text[pos:])
    return "".join(out)


def _unwrap_once(url: str) -> tuple[str, str] | None:
    """Undo one wrapper layer: ``(wrapper name, inner url)`` or None."""
    inner = _unwrap_safelinks(url)
    if inner is not None:
        return "safelinks", strip_controls(inner)
    pp = _unwrap_proofpoint_v1_v2(url)
    if pp is not None:
        return pp[0], strip_controls(pp[1])
    inner = _unwrap_proofpoint_v3(url)
    if inner is not None:
        return "proofpoint-v3", strip_controls(inner)
    return None


def unwrap(url: str, max_depth: int = 5) -> tuple[str, list[str]]:
    """Undo (nested) mail-security wrappers, at most ``max_depth`` layers.

    Returns the innermost URL reached and the names of the wrappers undone,
    outermost first. A URL still wrapped after ``max_depth`` layers is
    returned as is; :func:`check_link` reports it as ``unwrap_too_deep``.
    """
    # Only what the URL Standard strips: str.strip() would also take a trailing U+00A0.
    current = strip_controls(url)
    undone: list[str] = []
    for _ in range(max_depth):
        step = _unwrap_once(current)
        if step is None:
            break
        undone.append(step[0])
        current = step[1]
    return current, undone


def _normalise_domain(domain: str) -> str:
    return domain.strip().rstrip(".").lower()


def _host_reasons(host: str, allowed_domain: str) -> tuple[str | None, list[str]]:
    """Check a (lower-cased) host name; return its ASCII form and reasons."""
    if "%" in host:
        return None, [REASON_ENCODED_HOST]
    if ":" in host:  # an IPv6 literal
        return None, [REASON_HOST_NOT_ALLOWED]
    reasons: list[str] = []
    if not host.isascii() or any(label.startswith("xn--") for label in host.split(".")):
        reasons.append(REASON_MIXED_SCRIPT)
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None, [*reasons, REASON_MALFORMED]
    if not _LDH_HOST.match(ascii_host):
        return None, [*reasons, REASON_MALFORMED]
    allowed = _normalise_domain(allowed_domain)
    if ascii_host != allowed and not ascii_host.endswith("." + allowed):
        reasons.append(REASON_HOST_NOT_ALLOWED)
    return ascii_host, reasons


def _port_reasons(netloc: str) -> list[str]:
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        hostport = hostport.partition("]")[2]
    _, colon, port = hostport.partition(":")
    if not colon or not port:
        return []
    if port.isdigit() and int(port) == 443:  # the https default port
        return []
    return [REASON_PORT]


def _wrapper_reasons(url: str) -> list[str]:
    if is_mimecast(url):
        return [REASON_MIMECAST]
    if _unwrap_once(url) is not None:
        return [REASON_TOO_DEEP]
    return []


def check_link(
    url: str, allowed_domain: str = "secop.gov.co", query_encoding: str = UTF8
) -> tuple[str | None, list[str]]:
    """Decide whether ``url`` may be shown as the SECOP reset link.

    Returns ``(url, [])`` when it is fine, else ``(None, reasons)`` with the
    stable reason codes defined in this module. The url returned is the one a
    browser follows (:func:`watcher.urls.resolve`): the path, query and
    fragment as the URL Standard serializes them, which carry the one-time
    token, its query encoded in ``query_encoding`` (the document's). The
    checks read the link as written too, and a host that Python's and the
    browser's parsers would read differently is refused.
    """
    url = strip_controls(url)
    if not url:
        return None, [REASON_MALFORMED]
    early = _wrapper_reasons(url)
    if early:
        return None, early
    reasons: list[str] = [REASON_BACKSLASH] if "\\" in url else []
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return None, [*reasons, REASON_MALFORMED]
    if parts.scheme.lower() != "https":
        return None, [*reasons, REASON_NOT_HTTPS]
    if not host:
        return None, [*reasons, REASON_MALFORMED]
    if "@" in parts.netloc:
        reasons.append(REASON_USERINFO)
    reasons += _port_reasons(parts.netloc)
    ascii_host, host_reasons = _host_reasons(host, allowed_domain)
    reasons += host_reasons
    if reasons or ascii_host is None:
        return None, reasons or [REASON_MALFORMED]
    resolved = resolve(url, query_encoding)
    if resolved is None:
        return None, [REASON_MALFORMED]
    if _host_of(resolved) != ascii_host:
        return None, [REASON_HOST_NOT_ALLOWED]
    return resolved, []
