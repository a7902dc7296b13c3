"""Sender authentication from the receiving provider's ``Authentication-Results`` (RFC 8601).

Pure functions: no I/O, no DNS; nothing raises on garbage.

Which headers count: the trusted block
--------------------------------------
Every hop *prepends* its headers: the receiving provider's own sit above
everything the sender wrote, and the sender can add anything below them,
forged ``Authentication-Results`` included. Read top to bottom:

1. ``Received`` above the first ``Authentication-Results`` must be the
   provider's: a ``by`` host outside the trusted domains (or a ``from`` hop
   with only an IP literal as ``by``) is an untrusted hop, and nothing below it
   counts; no ``from`` and an IP-literal ``by`` (Gmail's ``by 2002:a05:…``) is
   neutral. A trusted id trusts hops in its domain: the id minus its first
   label when it has three or more (``mx.google.com`` → ``google.com``, never
   ``com``), what follows the last ``*`` of a pattern (``atlas*.yahoo.com`` →
   ``yahoo.com``); ``microsoft``: ``outlook.com``, ``office365.com``,
   ``exchangelabs.com``, ``microsoft.com``.
2. The topmost ``Authentication-Results`` must carry a trusted authserv-id,
   else no header counts (a forged or foreign one on top, or an unreadable one).
3. The block is that header plus those right below it with the same id and no
   ``Received`` in between (several milters of one provider may each write one).

The verdict (:func:`assess`)
----------------------------
A header below the topmost could be the sender's forgery: it may only make
things worse. ``True`` needs a DMARC pass for the sender's domain or a DKIM pass
signed by it (``header.d``, else ``header.i``; subdomains too) **in the topmost
header**, and no reason. ``False`` comes with reasons, from any header of the
block (a pass never cancels them, except as said for DKIM):

* ``auth_failed``: ``dmarc=fail`` about the message's From, or without
  ``header.from`` (DMARC is about the From whatever it is); ``dkim=fail``
  signed by the domain or naming no signer, unless the *topmost* header passes.
* ``dmarc_other_from``: any DMARC result for a ``header.from`` that is not the
  message's From domain (``from_domain``; not given: not within ``domain``):
  the provider judged another From (a second From field, one we do not see).
* ``auth_unreadable``: a header of the block whose comments or quotes do not
  balance. Providers write balanced headers; sender-controlled text (a HELO
  name, a From domain) broke this one, so it fails by itself, and it is read
  both ways (an unclosed ``(`` or ``"`` runs to the end; parentheses and that
  quote ignored): the failures of both count, a comment never hides a result.

Anything else is ``None`` (unverified). An unbalanced ``Received`` is read both
ways too: its hop is trusted when looking for failures if either reading
trusts it, when looking for a pass only if both do.

Microsoft 365 writes no authserv-id (``spf=pass (sender IP is …)
smtp.mailfrom=…; dkim=pass … header.d=…; dmarc=pass action=none
header.from=…;compauth=pass reason=100``): such a header is trusted only with
``"microsoft"`` among the trusted ids. ``dmarc=bestguesspass`` is a pass;
``compauth`` is read, not used. Trusted ids are exact (any case) or patterns,
``*`` matching any run (Yahoo's vary: ``atlas206.free.mail.ne1.yahoo.com``, …).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_TRUSTED_AUTHSERV_IDS",
    "MICROSOFT",
    "REASON_AUTH_FAILED",
    "REASON_AUTH_UNREADABLE",
    "REASON_DMARC_OTHER_FROM",
    "Assessment",
    "AuthResults",
    "MethodResult",
    "assess",
    "parse_header",
    "sender_verified",
    "trusted_block",
]

MICROSOFT = "microsoft"
"""Trusted-id token for Microsoft 365 / Outlook.com's id-less header."""

DEFAULT_TRUSTED_AUTHSERV_IDS: tuple[str, ...] = ("mx.google.com", MICROSOFT, "atlas*.yahoo.com")
"""Gmail and Google Workspace, Microsoft 365 and Outlook.com, Yahoo and AOL."""

REASON_AUTH_FAILED = "auth_failed"
REASON_DMARC_OTHER_FROM = "dmarc_other_from"
REASON_AUTH_UNREADABLE = "auth_unreadable"

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
        return next((value for key, value in self.props if key == name), None)


@dataclass(frozen=True)
class AuthResults:
    """One parsed header. ``authserv_id`` is None for Microsoft's id-less form;
    ``balanced`` is False when its comments or quotes do not balance."""

    authserv_id: str | None
    results: tuple[MethodResult, ...] = field(default_factory=tuple)
    balanced: bool = True


@dataclass(frozen=True)
class Assessment:
    """``verified``: True (the provider verified the domain), False (``reasons``
    says why not: ``auth_failed``, ``dmarc_other_from``, ``auth_unreadable``),
    None (no trusted result about it)."""

    verified: bool | None
    reasons: tuple[str, ...] = ()


# --------------------------------------------------------------------------- lexing


@dataclass(frozen=True)
class _Tok:
    text: str
    quoted: bool = False


def _segments(value: str, *, loose: bool = False) -> tuple[list[list[_Tok]], bool]:
    """Split on ``;`` into token lists (quotes honoured, ``=`` a token) and tell
    whether comments and quotes balance.

    Strict: comments are dropped; an unclosed ``(`` or ``"`` runs to the end.
    ``loose``: parentheses only separate (comment text is read), and from an
    unclosed ``"`` on quotes only separate. Linear in the length of ``value``.
    """
    segments: list[list[_Tok]] = [[]]
    atom: list[str] = []
    balanced, quotes = True, True
    i, n = 0, len(value)

    def flush() -> None:
        if atom:
            segments[-1].append(_Tok("".join(atom)))
            atom.clear()

    while i < n:
        ch = value[i]
        if ch == "(" and not loose:
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
            balanced = balanced and not depth
            continue
        if ch == '"' and quotes:
            flush()
            text: list[str] = []
            j = i + 1
            while j < n and value[j] != '"':
                if value[j] == "\\" and j + 1 < n:
                    j += 1
                text.append(value[j])
                j += 1
            if j >= n:  # the quote never closes
                balanced = False
                quotes = not loose
                if loose:
                    i += 1
                    continue
            segments[-1].append(_Tok("".join(text), quoted=True))
            i = j + 1
            continue
        if ch == ";":
            flush()
            segments.append([])
        elif ch == "=":
            flush()
            segments[-1].append(_Tok("="))
        elif ch.isspace() or ch in '()"':  # a stray ")", or loose reading
            flush()
            balanced = balanced and (ch != ")" or loose)
        else:
            atom.append(ch)
        i += 1
    flush()
    return segments, balanced


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


def _parse(segments: list[list[_Tok]], balanced: bool) -> AuthResults | None:
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
    return AuthResults(authserv_id, results, balanced)


def parse_header(value: str) -> AuthResults | None:
    """Parse one ``Authentication-Results`` value; None when it cannot be understood.

    The first ``;``-separated part is the authserv-id (an optional version
    after it is ignored) unless it already reads ``method=result`` (Microsoft's
    id-less form). Parts that are not ``method=result`` (``none``, stray
    domain names Microsoft sometimes appends) are skipped. An unbalanced
    header is read the strict way, with ``balanced=False``.
    """
    return _parse(*_segments(value))


def _lexings(value: str) -> list[tuple[list[list[_Tok]], bool]]:
    """The strict reading and, when ``value`` does not balance, the loose one too."""
    strict = _segments(value)
    return [strict] if strict[1] else [strict, (_segments(value, loose=True)[0], False)]


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
    text = host.strip("[]").lower().removeprefix("ipv6:")
    if ":" in text:
        return True
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _hop(segments: list[list[_Tok]], domains: Sequence[str]) -> bool | None:
    """True: a trusted hop; None: neutral (internal, IP literal); False: untrusted."""
    lowered = [t.text.lower() for seg in segments for t in seg if not t.quoted]
    has_from = bool(lowered) and lowered[0] == "from"
    host = ""
    if "by" in lowered:
        at = lowered.index("by")
        host = lowered[at + 1].strip("[]").rstrip(".") if at + 1 < len(lowered) else ""
    if not host or _is_ip_literal(host):
        return False if has_from else None
    return any(host == d or host.endswith("." + d) for d in domains)


def _walk(
    headers: Iterable[tuple[str, str]], trusted: Sequence[str], *, cautious: bool
) -> list[AuthResults]:
    """The block. ``cautious`` (for a pass): a hop must be trusted under every
    reading, a header read the strict way. Otherwise (for failures): a hop under
    any reading, a header's results from every reading."""
    domains = _hop_domains(trusted)
    block: list[AuthResults] = []
    entry: str | None = None
    for name, value in headers:
        key = name.strip().lower()
        if key == _RECEIVED:
            if block:
                break  # the block ends at the next hop
            trust = {_hop(segments, domains) for segments, _ in _lexings(value)}
            if (False in trust) if cautious else (trust == {False}):
                break  # an untrusted hop: what lies below is not the provider's
        elif key == _AR:
            lexings = _lexings(value)[: 1 if cautious else 2]
            readings = [r for r in (_parse(*lexed) for lexed in lexings) if r]
            matched = [(r, _match_entry(r.authserv_id, trusted)) for r in readings]
            kept = [(r, m) for r, m in matched if m is not None and entry in (None, m)]
            if not kept:
                break  # unreadable, or not the same trusted id: whose it is cannot be told
            entry = kept[0][1]
            results = tuple(res for r, _ in kept for res in r.results)
            block.append(AuthResults(kept[0][0].authserv_id, results, kept[0][0].balanced))
    return block


def trusted_block(
    headers: Iterable[tuple[str, str]], trusted: Sequence[str] = DEFAULT_TRUSTED_AUTHSERV_IDS
) -> list[AuthResults]:
    """The provider's own headers, topmost first (empty: no trusted result),
    as read when looking for a pass. ``headers``: ``(name, value)`` pairs in
    message order (top first)."""
    return _walk(headers, trusted, cautious=True)


# --------------------------------------------------------------------------- verdict


def _domain_of(value: str | None) -> str:
    text = (value or "").strip().strip("<>").rsplit("@", 1)[-1]
    return text.strip().strip("<>").lower().rstrip(".")


def _within(candidate: str, domain: str) -> bool:
    return bool(candidate and domain) and (candidate == domain or candidate.endswith("." + domain))


def _header_from(result: MethodResult) -> str:
    return _domain_of(result.prop("header.from"))


def _signer(result: MethodResult) -> str:
    return _domain_of(result.prop("header.d")) or _domain_of(result.prop("header.i"))


def _passes(top: Iterable[MethodResult], domain: str, sender: str) -> bool:
    """A DMARC pass for ``domain`` (``header.from``, else the From) or a DKIM pass by it."""
    for r in top:
        if r.method == "dmarc" and r.result in _DMARC_PASS:
            if _within(_header_from(r) or sender, domain):
                return True
        elif r.method == "dkim" and r.result == "pass" and _within(_signer(r), domain):
            return True
    return False


def _other_from(header_from: str, domain: str, sender: str) -> bool:
    """A ``header.from`` that is not the message's From (without one: not ``domain``'s)."""
    if not header_from:
        return False
    return header_from != sender if sender else not _within(header_from, domain)


def _reasons(results: Sequence[MethodResult], excused: bool, domain: str, sender: str) -> list[str]:
    """``auth_failed`` and ``dmarc_other_from`` as they apply; ``excused``: the top passes."""
    other, failed = False, False
    for r in results:
        if r.method == "dmarc":
            if _other_from(_header_from(r), domain, sender):
                other = True
            elif r.result == "fail":
                failed = True
        elif r.method == "dkim" and r.result == "fail" and not excused:
            signer = _signer(r)
            failed = failed or not signer or _within(signer, domain)
    return [REASON_AUTH_FAILED] * failed + [REASON_DMARC_OTHER_FROM] * other


def assess(
    headers: Iterable[tuple[str, str]],
    *,
    domain: str,
    trusted: Sequence[str] = DEFAULT_TRUSTED_AUTHSERV_IDS,
    from_domain: str | None = None,
) -> Assessment:
    """The provider's verdict on ``domain`` (the expected sender's domain).

    ``headers``: the message's ``(name, value)`` pairs, top first.
    ``from_domain``: the domain of the message's From address; it stands in for
    a DMARC pass that omits ``header.from``, and a DMARC result for any other
    ``header.from`` gives ``dmarc_other_from``. See the module docstring.
    """
    domain, sender = _domain_of(domain), _domain_of(from_domain)
    pairs = list(headers)
    if not domain:
        return Assessment(None)
    sure = _walk(pairs, trusted, cautious=True)
    wide = _walk(pairs, trusted, cautious=False)
    top = sure[0].results if sure and sure[0].balanced else ()
    passed = _passes(top, domain, sender)
    reasons = _reasons([r for h in wide for r in h.results], passed, domain, sender)
    if not all(h.balanced for h in wide):
        reasons.append(REASON_AUTH_UNREADABLE)
    if reasons:
        return Assessment(False, tuple(reasons))
    return Assessment(True if passed else None)


def sender_verified(
    headers: Iterable[tuple[str, str]],
    *,
    domain: str,
    trusted: Sequence[str] = DEFAULT_TRUSTED_AUTHSERV_IDS,
    from_domain: str | None = None,
) -> bool | None:
    """``assess(...).verified``: True verified, False an explicit failure, None unverified."""
    return assess(headers, domain=domain, trusted=trusted, from_domain=from_domain).verified
