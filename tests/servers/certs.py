"""Test TLS material: a private CA, a good server certificate and bad variants.

``make_certs(directory)`` writes:

* ``ca.pem`` / ``ca.key`` - the test CA (clients trust ``ca.pem``);
* ``server.pem`` / ``server.key`` - signed by the CA, SAN ``DNS:localhost``,
  ``IP:127.0.0.1`` (kind ``"good"``);
* ``selfsigned.pem`` / ``.key`` - valid names, but not signed by the CA;
* ``wronghost.pem`` / ``.key`` - signed by the CA, SAN only ``DNS:wrong.example``;
* ``expired.pem`` / ``.key`` - signed by the CA, valid names, notAfter in the past.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KINDS = ("good", "selfsigned", "wronghost", "expired")

_GOOD_NAMES: list[x509.GeneralName] = [
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
]


@dataclass(frozen=True)
class Certs:
    directory: Path
    ca: Path
    ca_key: Path

    def server(self, kind: str = "good") -> tuple[Path, Path]:
        """Return ``(cert_pem, key_pem)`` for a server certificate kind."""
        if kind not in KINDS:
            raise ValueError(f"unknown certificate kind {kind!r}; expected one of {KINDS}")
        stem = "server" if kind == "good" else kind
        return self.directory / f"{stem}.pem", self.directory / f"{stem}.key"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.chmod(0o644)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "secop-watcher tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _make_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    name = _name("secop-watcher test CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_leaf(
    *,
    cn: str,
    names: list[x509.GeneralName],
    not_before: dt.datetime,
    not_after: dt.datetime,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    subject = _name(cn)
    if issuer is None:  # self-signed
        issuer_name, signing_key = subject, key
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
    else:
        issuer_name, signing_key = issuer[0].subject, issuer[1]
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
        .sign(signing_key, hashes.SHA256())
    )
    return cert, key


def make_certs(directory: Path) -> Certs:
    """Generate the CA, the good server certificate and the bad variants."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    now = dt.datetime.now(dt.UTC)
    ca_cert, ca_key = _make_ca(now)
    _write_cert(directory / "ca.pem", ca_cert)
    _write_key(directory / "ca.key", ca_key)

    valid = (now - dt.timedelta(days=1), now + dt.timedelta(days=365))
    leaves = {
        "server": _make_leaf(
            cn="localhost",
            names=_GOOD_NAMES,
            not_before=valid[0],
            not_after=valid[1],
            issuer=(ca_cert, ca_key),
        ),
        "selfsigned": _make_leaf(
            cn="localhost",
            names=_GOOD_NAMES,
            not_before=valid[0],
            not_after=valid[1],
            issuer=None,
        ),
        "wronghost": _make_leaf(
            cn="wrong.example",
            names=[x509.DNSName("wrong.example")],
            not_before=valid[0],
            not_after=valid[1],
            issuer=(ca_cert, ca_key),
        ),
        "expired": _make_leaf(
            cn="localhost",
            names=_GOOD_NAMES,
            not_before=now - dt.timedelta(days=60),
            not_after=now - dt.timedelta(days=30),
            issuer=(ca_cert, ca_key),
        ),
    }
    for stem, (cert, key) in leaves.items():
        _write_cert(directory / f"{stem}.pem", cert)
        _write_key(directory / f"{stem}.key", key)
    return Certs(directory=directory, ca=directory / "ca.pem", ca_key=directory / "ca.key")
