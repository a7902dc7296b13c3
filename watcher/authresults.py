"""Sender authentication from the receiving provider's ``Authentication-Results`` (RFC 8601).

Pure functions: no I/O, no DNS. Nothing here raises on garbage: a header that
cannot be read is "no result", never an exception.

Which headers count ("topmost")
-------------------------------
Every hop *prepends* its headers, so the receiving provider's own headers sit
above everything the sender wrote, and a sender can add any header it likes,
forged ``Authentication-Results`` included, below them. The headers are read
top to bottom:

1. ``Received`` headers above the first ``Authentication-Results`` must come
   from the provider: a ``Received`` whose ``by`` host is outside the trusted
   providers' domains (or that names a ``from`` hop but only an IP literal as
   ``by``) is an untrusted hop, and nothing below it counts. Internal hops with
   no ``from`` and an IP literal ``by`` (Gmail's ``Received: by 2002:a05:…``)
   are neutral. A trusted id also trusts ``Received`` hops in its domain: the id
   minus its first label (``mx.google.com`` → ``google.com``), or what follows
   the last ``*`` of a pattern (``atlas*.yahoo.com`` → ``yahoo.com``); the
   ``microsoft`` token trusts ``outlook.com``, ``office365.com``,
   ``exchangelabs.com`` and ``microsoft.com``.
2. The topmost ``Authentication-Results`` must carry a trusted authserv-id;
   otherwise (a foreign or forged header on top, or one that cannot be read)
   no header counts.
3. The *trusted block* is that header plus the ``Authentication-Results``
   right below it with the same trusted id and no ``Received`` in between
   (several milters of one provider may each write one).
4. ``verified`` (``True``) needs a DMARC pass for the sender's domain or a
   DKIM pass signed by it (``header.d``, else ``header.i``), a subdomain
   included, **in the topmost header itself**: a header right below it could be
   the sender's forgery, so it may only make things worse. An explicit failure
   anywhere in the block (``dmarc=fail`` for the domain; ``dkim=fail`` by the
   domain with no DKIM or DMARC pass for it) gives ``False``, which wins over a
   pass. Anything else is ``None`` (unverified).

Microsoft 365 writes no authserv-id (``Authentication-Results: spf=pass
(sender IP is …) smtp.mailfrom=…; dkim=pass … header.d=…; dmarc=pass
action=none header.from=…;compauth=pass reason=100``). Such an id-less header
is trusted only when the special entry ``"microsoft"`` is among the trusted
ids. ``dmarc=bestguesspass`` (the domain publishes no DMARC record but the
message would pass) counts as a pass; ``compauth`` is read but not used.

Trusted ids are exact (case-insensitive) or patterns where ``*`` matches any
run of characters (Yahoo's ids vary: ``atlas-production.v2-mail-prod1-bf1.
omega.yahoo.com``, ``atlas206.free.mail.ne1.yahoo.com``, …).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_TRUSTED_AUTHSERV_IDS",
    "MICROSOFT",
    "AuthResults",
    "MethodResult",
    "parse_header",
    "sender_verified",
    "trusted_block",
]

MICROSOFT = "microsoft"
"""Trusted-id token for Microsoft 365 / Outlook.com's id-less header."""

DEFAULT_TRUSTED_AUTHSERV_IDS: tuple[str, ...] = ("mx.google.com", MICROSOFT, "atlas*.yahoo.com")
"""Gmail and Google Workspace, Microsoft 365 and Outlook.com, Yahoo and AOL."""

_MICROSOFT_DOMAINS = ("outlook.com", "office365.com", "exchangelabs.com", "microsoft.com")
_AR = "authentication-results"
_RECEIVED = "received"
_DMARC_PASS = frozenset({"pass", "bestguesspass"})


@dataclass(frozen=True)
class MethodResult:
    """One ``method=result`` with its properties (``header.d`` → ``secop.gov.co``)."""

    method: str  # lower-case, version dropped ("dkim/1" -> "dkim")
    result: str  # lower-case
    props: tuple[tuple[str, str], ...] = ()  # (lower-case "ptype.property", value)

    def prop(self, name: str) -> str | None:
        for key, value in self.props:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class AuthResults:
    """One parsed header. ``authserv_id`` is None for Microsoft's id-less form."""

    authserv_id: str | None
    results: tuple[MethodResult, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- lexing


@dataclass(frozen=True)
class _Tok:
    text: str
    quoted: bool = False


def _segments(value: str) -> list[list[_Tok]]:
    """Split on ``;`` into token lists; comments dropped, quotes honoured, ``=`` a token.

    Linear in the length of ``value``; unbalanced quotes or parentheses just
    end at the end of the text.
    """
    segments: list[list[_Tok]] = [[]]
    atom: list[str] = []
    i, n = 0, len(value)

    def flush() -> None:
        if atom:
            segments[-1].append(_Tok("".join(atom)))
            atom.clear()

    while i < n:
        ch = value[i]
        if ch == "(":
            flush()
            depth = 1
            i += 1
            while i < n and depth:
                c = value[i]
                if c == "\\":
                    i += 1
                elif c == "(":
                    depth += 1
                elif c == ")":
                    depth -= 1
                i += 1
            continue
        if ch == '"':
            flush()
            text: list[str] = []
            i += 1
            while i < n and value[i] != '"':
                if value[i] == "\\" and i + 1 < n:
                    i += 1
                text.append(value[i])
                i += 1
            segments[-1].append(_Tok("".join(text), quoted=True))
            i += 1
            continue
        if ch == ";":
            flush()
            segments.append([])
        elif ch == "=":
            flush()
            segments[-1].append(_Tok("="))
        elif ch.isspace():
            flush()
        else:
            atom.append(ch)
        i += 1
    flush()
    return segments


def _is_eq(tok: _Tok) -> bool:
    return tok.text == "=" and not tok.quoted


def _resinfo(tokens: list[_Tok]) -> MethodResult | None:
    """``method[/version] = result [ptype.property = value]...``; None if not that shape."""
    if len(tokens) < 3 or tokens[0].quoted or not _is_eq(tokens[1]) or _is_eq(tokens[2]):
        return None
    method = tokens[0].text.split("/", 1)[0].lower()
    if not method:
        return None
    props: list[tuple[str, str]] = []
    i = 3
    while i + 2 < len(tokens):
        key, eq, val = tokens[i], tokens[i + 1], tokens[i + 2]
        if not key.quoted and not _is_eq(key) and _is_eq(eq) and not _is_eq(val):
            props.append((key.text.lower(), val.text))
            i += 3
        else:
            i += 1
    return MethodResult(method, tokens[2].text.lower(), tuple(props))


def parse_header(value: str) -> AuthResults | None:
    """Parse one ``Authentication-Results`` value; None when it cannot be understood.

    The first ``;``-separated part is the authserv-id (an optional version
    after it is ignored) unless it already reads ``method=result`` (Microsoft's
    id-less form). Parts that are not ``method=result`` (``none``, stray
    domain names Microsoft sometimes appends) are skipped.
    """
    segments = _segments(value)
    first = segments[0]
    if not first:
        return None
    authserv_id: str | None
    rest = segments[1:]
    if any(_is_eq(t) for t in first):
        authserv_id = None
        rest = segments
    else:
        authserv_id = first[0].text.strip().lower().rstrip(".")
        if not authserv_id:
            return None
    results = tuple(r for r in (_resinfo(s) for s in rest) if r is not None)
    if authserv_id is None and not results:
        return None
    return AuthResults(authserv_id, results)


# --------------------------------------------------------------------------- trust


def _pattern(entry: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in entry.split("*")), re.DOTALL)


def _match_entry(authserv_id: str | None, trusted: Sequence[str]) -> str | None:
    """The trusted entry ``authserv_id`` matches (None: not trusted)."""
    for raw in trusted:
        entry = raw.strip().lower().rstrip(".")
        if entry == MICROSOFT:
            if authserv_id is None:
                return entry
        elif authserv_id is not None and entry and _pattern(entry).fullmatch(authserv_id):
            return entry
    return None


def _hop_domains(trusted: Sequence[str]) -> tuple[str, ...]:
    domains: list[str] = []
    for raw in trusted:
        entry = raw.strip().lower().rstrip(".")
        if entry == MICROSOFT:
            domains += _MICROSOFT_DOMAINS
            continue
        tail = entry.rsplit("*", 1)[-1].lstrip(".-") if "*" in entry else entry
        labels = [label for label in tail.split(".") if label]
        if "*" not in entry and len(labels) >= 3:
            labels = labels[1:]
        if labels:
            domains.append(".".join(labels))
    return tuple(domains)


def _is_ip_literal(host: str) -> bool:
    text = host.strip("[]")
    if text.lower().startswith("ipv6:"):
        text = text[5:]
    if ":" in text:
        return True
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _received_trust(value: str, domains: Sequence[str]) -> bool | None:
    """True: a trusted hop; None: neutral (internal, IP literal); False: untrusted."""
    words = [t.text for seg in _segments(value) for t in seg if not t.quoted]
    lowered = [w.lower() for w in words]
    has_from = bool(lowered) and lowered[0] == "from"
    host = ""
    if "by" in lowered:
        at = lowered.index("by")
        host = lowered[at + 1].strip("[]").rstrip(".") if at + 1 < len(lowered) else ""
    if not host or _is_ip_literal(host):
        return False if has_from else None
    return any(host == d or host.endswith("." + d) for d in domains)


def trusted_block(
    headers: Iterable[tuple[str, str]], trusted: Sequence[str] = DEFAULT_TRUSTED_AUTHSERV_IDS
) -> list[AuthResults]:
    """The provider's own headers, topmost first (empty: no trusted result).

    ``headers`` are ``(name, value)`` pairs in message order (top first).
    """
    domains = _hop_domains(trusted)
    block: list[AuthResults] = []
    entry: str | None = None
    for name, value in headers:
        key = name.strip().lower()
        if key == _RECEIVED:
            if block:
                break  # the block ends at the next hop
            if _received_trust(value, domains) is False:
                break  # an untrusted hop: what lies below is not the provider's
        elif key == _AR:
            parsed = parse_header(value)
            if parsed is None:
                break  # unreadable: whose it is cannot be told
            matched = _match_entry(parsed.authserv_id, trusted)
            if matched is None or (entry is not None and matched != entry):
                break
            entry = matched
            block.append(parsed)
    return block


# --------------------------------------------------------------------------- verdict


def _domain_of(value: str | None) -> str:
    if not value:
        return ""
    text = value.strip().strip("<>").rsplit("@", 1)[-1]
    return text.strip().strip("<>").lower().rstrip(".")


def _within(candidate: str, domain: str) -> bool:
    return (
        bool(candidate)
        and bool(domain)
        and (candidate == domain or candidate.endswith("." + domain))
    )


def _dmarc(results: Iterable[MethodResult], domain: str, from_domain: str) -> set[str]:
    found = set()
    for r in results:
        if r.method == "dmarc":
            header_from = _domain_of(r.prop("header.from")) or from_domain
            if _within(header_from, domain):
                found.add(r.result)
    return found


def _dkim(results: Iterable[MethodResult], domain: str) -> set[str]:
    found = set()
    for r in results:
        if r.method == "dkim":
            signer = _domain_of(r.prop("header.d")) or _domain_of(r.prop("header.i"))
            if _within(signer, domain):
                found.add(r.result)
    return found


def sender_verified(
    headers: Iterable[tuple[str, str]],
    *,
    domain: str,
    trusted: Sequence[str] = DEFAULT_TRUSTED_AUTHSERV_IDS,
    from_domain: str | None = None,
) -> bool | None:
    """True: the provider verified ``domain`` (DMARC or DKIM pass); False: it
    reported an explicit failure; None: no trusted result about ``domain``.

    ``from_domain`` (the message's From domain) stands in for a DMARC result
    that omits ``header.from``.
    """
    domain = domain.strip().lower().rstrip(".")
    block = trusted_block(headers, trusted)
    if not block or not domain:
        return None
    fallback = (from_domain or "").strip().lower().rstrip(".")
    everything = [r for h in block for r in h.results]
    dmarc_all, dkim_all = _dmarc(everything, domain, fallback), _dkim(everything, domain)
    top = block[0].results
    top_pass = bool(_dmarc(top, domain, fallback) & _DMARC_PASS) or "pass" in _dkim(top, domain)
    if "fail" in dmarc_all:
        return False
    if "fail" in dkim_all and "pass" not in dkim_all and not dmarc_all & _DMARC_PASS:
        return False
    return True if top_pass else None
