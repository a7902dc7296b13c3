"""Build (and cache) the benchmark's mailboxes in a real Dovecot.

One user, ``bench``. INBOX holds ``n`` messages and the ``Spam`` folder
(``\\Junk``) ``n // 20``; among them 300 SECOP mails:

- 150 password resets from ``registro@secop.gov.co`` for 3 SECOP users over
  30 days (the newest of each user less than 2 hours old, so each has a
  current link),
- 50 "recover user name" mails from the same sender,
- 100 process notices from other SECOP senders (``notificaciones@``,
  ``noreply@`` …).

Every 5th SECOP mail goes to spam (at most half of the spam folder, then spread
over the 30 days), and so does the newest reset of the second user. The rest
is filler: varied senders, subjects and dates over 60 days, sizes spread
log-uniformly between 2 and 30 KB, plain text or text+HTML, some with a
base64 attachment. Generation is deterministic (seeded); dates are relative
to the moment of building.

The Maildir is written straight into ``cur/`` (``Dovecot.fill_maildir``) and
kept under the cache folder (``benchmarks/.cache/n<N>``), which is also the
Dovecot base directory, so a later run of the same N reuses it (and
Dovecot's index and cache files). A cache older than ``MAX_CACHE_AGE`` or
built by another version of this file is rebuilt.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import shutil
import string
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests import mailfactory as mf
from tests.servers.dovecot import Dovecot, DovecotError

USER = "bench"
PASSWORD = "bench-password-1"
SPAM = "Spam"
SECOP_USERS = ("jperez", "mrodriguez", "contratos.alcaldia")
SECOP_SENDER = "registro@secop.gov.co"
ARRIVAL_HEADER = "X-Secop-Bench-Arrival"  # marks mail appended by the latency phase
GENERATOR_VERSION = 2
MAX_CACHE_AGE = timedelta(days=2)
CACHE_ROOT = Path(__file__).resolve().parent / ".cache"

OTHER_SECOP_SENDERS = (
    "SECOP II <notificaciones@secop.gov.co>",
    "SECOP II <noreply@secop.gov.co>",
    "Mesa de servicio SECOP <soporte@secop.gov.co>",
)
_FIRST = [
    "ana",
    "luis",
    "carlos",
    "maria",
    "jorge",
    "paula",
    "andres",
    "diana",
    "felipe",
    "laura",
    "juan",
    "sofia",
]
_LAST = [
    "gomez",
    "rodriguez",
    "martinez",
    "lopez",
    "garcia",
    "perez",
    "sanchez",
    "ramirez",
    "torres",
    "diaz",
]
_DOMAINS = (
    "alcaldia-bogota.gov.co",
    "gobernacion.gov.co",
    "gmail.com",
    "hotmail.com",
    "outlook.com",
    "yahoo.com",
    "empresa.com.co",
    "proveedores.co",
    "banco.com.co",
    "universidad.edu.co",
    "newsletter.example.com",
)
_WORDS = [
    "informe",
    "contrato",
    "reunion",
    "acta",
    "propuesta",
    "factura",
    "pago",
    "proyecto",
    "presupuesto",
    "solicitud",
    "revision",
    "documento",
    "anexo",
    "entrega",
    "cronograma",
    "seguimiento",
    "comite",
    "convocatoria",
    "licitacion",
    "oferta",
    "evaluacion",
    "adjudicacion",
    "plazo",
    "firma",
    "radicado",
    "oficio",
    "respuesta",
    "tramite",
    "gestion",
    "publico",
    "entidad",
    "municipal",
    "departamental",
    "nacional",
    "estado",
    "avance",
    "mesa",
    "trabajo",
    "equipo",
    "semana",
    "mes",
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
    "urgente",
    "favor",
    "confirmar",
    "recibido",
    "saludos",
    "cordiales",
    "atentamente",
    "cordialmente",
    "quedo",
    "atento",
    "comentarios",
    "observaciones",
    "ajustes",
    "version",
    "final",
    "borrador",
]
_SUBJECTS = (
    "Re: {w} {w} del {d}",
    "Fwd: {w} {w}",
    "{W} {w} - {w} {n}",
    "Invitación: {w} de {w} ({d})",
    "RV: {w} {w} {w}",
    "[{W}] Boletín {w} #{n}",
    "Radicado {n}: {w} {w}",
)


@dataclass
class MailboxInfo:
    n: int
    inbox: int
    spam: int
    secop: dict[str, int]
    bytes_total: int
    built: str
    build_seconds: float
    cached: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --------------------------------------------------------------------------- generation


class _Filler:
    """Fast filler mail: slices of a pre-built random text pool."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        lines = []
        for _ in range(6000):
            words = rng.choices(_WORDS, k=rng.randint(6, 14))
            lines.append(" ".join(words).capitalize() + ".")
        self.text = "\r\n".join(lines)
        blob = bytes(rng.getrandbits(8) for _ in range(48_000))
        import base64

        self.b64 = base64.encodebytes(blob).decode("ascii").replace("\n", "\r\n")
        self.senders = [
            f"{rng.choice(_FIRST).capitalize()} {rng.choice(_LAST).capitalize()} "
            f"<{rng.choice(_FIRST)}.{rng.choice(_LAST)}{rng.randint(1, 99)}@{rng.choice(_DOMAINS)}>"
            for _ in range(600)
        ]

    def _slice(self, pool: str, size: int) -> str:
        size = min(size, len(pool) - 1)
        start = self.rng.randrange(0, len(pool) - size)
        return pool[start : start + size]

    def subject(self, date: datetime) -> str:
        r = self.rng
        tpl = r.choice(_SUBJECTS)
        out = tpl
        while "{w}" in out:
            out = out.replace("{w}", r.choice(_WORDS), 1)
        return (
            out.replace("{W}", r.choice(_WORDS).capitalize())
            .replace("{d}", date.strftime("%d/%m"))
            .replace("{n}", str(r.randint(100, 99999)))
        )

    def message(self, i: int, date: datetime) -> bytes:
        r = self.rng
        size = int(math.exp(r.uniform(math.log(2_000), math.log(30_000))))
        sender = r.choice(self.senders)
        boundary = "".join(r.choices(string.ascii_letters + string.digits, k=24))
        head = (
            f"Return-Path: <{sender.split('<')[1].rstrip('>')}>\r\n"
            f"Received: from mx{r.randint(1, 9)}.mail.example.net (10.0.{r.randint(0, 255)}.1)"
            f"\r\n\tby imap.entidad.gov.co; {_rfc2822(date)}\r\n"
            f"From: {sender}\r\n"
            "To: Usuario Entidad <usuario@entidad.gov.co>\r\n"
            f"Subject: {self.subject(date)}\r\n"
            f"Date: {_rfc2822(date)}\r\n"
            f"Message-ID: <bench.{i}.{r.getrandbits(40):x}@example.net>\r\n"
            "MIME-Version: 1.0\r\n"
        )
        budget = max(500, size - len(head) - 400)
        kind = r.random()
        if kind < 0.45:
            body = self._slice(self.text, budget)
            return (
                head + 'Content-Type: text/plain; charset="utf-8"\r\n'
                "Content-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n"
            ).encode()
        if kind < 0.85:
            plain = self._slice(self.text, budget // 3)
            html = (
                "<html><body><p>"
                + self._slice(self.text, budget - len(plain))
                + "</p></body></html>"
            )
            parts = [("text/plain", plain), ("text/html", html)]
            ctype = "multipart/alternative"
        else:
            plain = self._slice(self.text, min(2_000, budget // 4))
            attach = self._slice(self.b64, budget - len(plain))
            parts = [("text/plain", plain), ("application/pdf", attach)]
            ctype = "multipart/mixed"
        out = [head, f'Content-Type: {ctype}; boundary="{boundary}"\r\n\r\n']
        for ptype, content in parts:
            out.append(f"--{boundary}\r\n")
            if ptype == "application/pdf":
                out.append(
                    'Content-Type: application/pdf; name="anexo.pdf"\r\n'
                    'Content-Disposition: attachment; filename="anexo.pdf"\r\n'
                    "Content-Transfer-Encoding: base64\r\n\r\n"
                )
            else:
                out.append(
                    f'Content-Type: {ptype}; charset="utf-8"\r\n'
                    "Content-Transfer-Encoding: 8bit\r\n\r\n"
                )
            out.append(content + "\r\n")
        out.append(f"--{boundary}--\r\n")
        return "".join(out).encode()


def _rfc2822(date: datetime) -> str:
    from email.utils import format_datetime

    return format_datetime(date)


def secop_mails(now: datetime, rng: random.Random) -> list[tuple[str, bytes, datetime]]:
    """The 300 SECOP mails: (kind, raw, date), oldest first."""
    out: list[tuple[str, bytes, datetime]] = []
    for u, user in enumerate(SECOP_USERS):
        # 50 resets over 30 days; the newest 20-100 minutes ago.
        for k in range(50):
            if k == 49:
                age = timedelta(minutes=20 + 40 * u)
            else:
                age = timedelta(seconds=rng.uniform(3 * 3600, 30 * 86400))
            date = now - age
            token = f"{user[:4]}{k:03d}" + "".join(rng.choices(string.ascii_letters, k=30))
            raw = mf.reset_mail(
                user,
                mf.reset_url(token),
                date=date,
                message_id=f"<reset.{user}.{k}@secop.gov.co>",
                to=f"{user}@entidad.gov.co",
            )
            out.append(("reset", raw, date))
    for k in range(50):
        date = now - timedelta(seconds=rng.uniform(3600, 30 * 86400))
        user = SECOP_USERS[k % 3]
        raw = mf.recover_username_mail(user, date=date, message_id=f"<user.{k}@secop.gov.co>")
        out.append(("recover_user", raw, date))
    for k in range(100):
        date = now - timedelta(seconds=rng.uniform(600, 30 * 86400))
        raw = mf.notice_mail(
            date=date,
            sender=OTHER_SECOP_SENDERS[k % len(OTHER_SECOP_SENDERS)],
            subject=f"SECOP II - Notificación: proceso CCE-{1000 + k}-2026",
            message_id=f"<notice.{k}@secop.gov.co>",
        )
        out.append(("notice", raw, date))
    out.sort(key=lambda t: t[2])
    return out


def build_messages(
    n: int, now: datetime, seed: int = 5
) -> tuple[list[tuple[bytes, datetime]], list[tuple[bytes, datetime]], dict[str, int]]:
    """(inbox messages, spam messages, counts of SECOP mail by kind and folder)."""
    rng = random.Random(seed * 1_000_003 + n)  # noqa: S311 (test data, not secrets)
    secop = secop_mails(now, rng)
    n_spam = n // 20
    spam_secop_cap = n_spam // 2
    inbox: list[tuple[bytes, datetime]] = []
    spam: list[tuple[bytes, datetime]] = []
    counts: dict[str, int] = {}
    step = max(5, math.ceil(len(secop) / max(spam_secop_cap, 1)))
    newest_in_spam = max(  # the current link of the second SECOP user sits in spam
        i
        for i, (kind, raw, _) in enumerate(secop)
        if kind == "reset"
        and SECOP_USERS[1] in raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    )
    for i, (kind, raw, date) in enumerate(secop):
        to_spam = len(spam) < spam_secop_cap and (i % step == step - 1 or i == newest_in_spam)
        (spam if to_spam else inbox).append((raw, date))
        key = f"{kind}_{'spam' if to_spam else 'inbox'}"
        counts[key] = counts.get(key, 0) + 1
    filler = _Filler(rng)
    serial = 0
    for target, total in ((inbox, n), (spam, n_spam)):
        for _ in range(total - len(target)):
            serial += 1
            date = now - timedelta(seconds=rng.uniform(0, 60 * 86400))
            target.append((filler.message(serial, date), date))
    inbox.sort(key=lambda t: t[1])
    spam.sort(key=lambda t: t[1])
    counts["registro_total"] = sum(v for k, v in counts.items() if not k.startswith("notice"))
    return inbox, spam, counts


# --------------------------------------------------------------------------- cache + server


def _manifest_path(base: Path) -> Path:
    return base / "manifest.json"


def _load_manifest(base: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(_manifest_path(base).read_text())
    except (OSError, ValueError):
        return None
    if data.get("version") != GENERATOR_VERSION:
        return None
    built = datetime.fromisoformat(data["built"])
    if datetime.now(UTC) - built > MAX_CACHE_AGE:
        return None
    return data


def usable_cache_root(cache_root: Path, log: Any = print) -> Path:
    """``cache_root``, or a folder under /tmp when Dovecot could not use it.

    Dovecot's unprivileged processes must traverse every parent, and its UNIX
    sockets (under the base folder) must fit in 108 bytes.
    """
    cache_root.mkdir(parents=True, exist_ok=True)
    cache_root.chmod(0o755)
    try:
        Dovecot._check_traversable(cache_root.resolve())
        if len(str(cache_root.resolve())) > 60:
            raise DovecotError(f"{cache_root} is too long a path for Dovecot's sockets")
    except DovecotError as e:
        fallback = Path(tempfile.gettempdir()) / "secop-watcher-bench-cache"
        log(f"{e}; caching the mailboxes in {fallback} instead")
        fallback.mkdir(exist_ok=True)
        fallback.chmod(0o755)
        return fallback
    return cache_root


def open_mailbox(
    n: int, cache_root: Path = CACHE_ROOT, *, rebuild: bool = False, log: Any = print
) -> tuple[Dovecot, MailboxInfo]:
    """A started Dovecot holding the N-message mailbox (built or taken from the cache)."""
    cache_root = usable_cache_root(cache_root, log)
    base = (cache_root / f"n{n}").resolve()
    manifest = None if rebuild else _load_manifest(base)
    if manifest is None and base.exists():
        shutil.rmtree(base)
    server = Dovecot(base, {USER: PASSWORD})
    server.start()
    if manifest is not None:
        purge_arrivals(server)
        info = MailboxInfo(**{**manifest["info"], "cached": True})
        log(f"mailbox N={n}: reusing the cache in {base} (built {info.built})")
        return server, info
    started = time.monotonic()
    now = datetime.now(UTC)
    log(f"mailbox N={n}: generating {n} + {n // 20} messages …")
    inbox, spam, counts = build_messages(n, now)
    total_bytes = sum(len(r) for r, _ in inbox) + sum(len(r) for r, _ in spam)
    log(f"mailbox N={n}: writing {total_bytes / 1e6:.0f} MB of Maildir …")
    got_inbox = server.fill_maildir(USER, "INBOX", inbox)
    got_spam = server.fill_maildir(USER, SPAM, spam)
    if got_inbox != n or got_spam != n // 20:
        raise RuntimeError(f"Dovecot sees {got_inbox}/{got_spam}, expected {n}/{n // 20}")
    warm_server_cache(server)
    info = MailboxInfo(
        n=n,
        inbox=n,
        spam=n // 20,
        secop=counts,
        bytes_total=total_bytes,
        built=now.isoformat(timespec="seconds"),
        build_seconds=round(time.monotonic() - started, 1),
        cached=False,
    )
    _manifest_path(base).write_text(
        json.dumps({"version": GENERATOR_VERSION, "built": info.built, "info": info.as_dict()})
    )
    log(f"mailbox N={n}: built in {info.build_seconds:.0f} s")
    return server, info


def warm_server_cache(server: Dovecot) -> None:
    """Let Dovecot index the folders once (its first SEARCH FROM reads every file)."""
    with server.connect(USER, timeout=600) as c:
        for folder in ("INBOX", SPAM):
            c.select_folder(folder, readonly=True)
            c.search(["FROM", SECOP_SENDER])
            c.search(["OR", "FROM", SECOP_SENDER, "FROM", "secop"])


def purge_arrivals(server: Dovecot) -> int:
    """Delete the mail the latency phase appended (marked with ``ARRIVAL_HEADER``)."""
    removed = 0
    with server.connect(USER, timeout=120) as c:
        for folder in ("INBOX", SPAM):
            c.select_folder(folder)
            uids = c.search(["HEADER", ARRIVAL_HEADER, ""])
            if uids:
                c.delete_messages(uids)
                with contextlib.suppress(Exception):
                    c.uid_expunge(uids)
                c.expunge()
                removed += len(uids)
            c.close_folder()
    return removed


def arrival_mail(username: str, token: str, date: datetime) -> bytes:
    """A fresh reset mail for the latency phase (marked so it can be purged afterwards)."""
    raw = mf.reset_mail(
        username,
        mf.reset_url(token),
        date=date,
        message_id=f"<arrival.{token}@secop.gov.co>",
    )
    return f"{ARRIVAL_HEADER}: 1\r\n".encode() + raw
