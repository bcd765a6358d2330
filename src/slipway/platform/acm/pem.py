"""Reading certificates and keys: the names a certificate covers, its dates, its issuer,
whether a private key is its own. Each refusal is one sentence for the user."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from slipway.platform.errors import InvalidParams


@dataclass(frozen=True)
class CertInfo:
    names: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    issuer: str
    subject: str
    fingerprint: str  # sha256 of the PEM text, as the router's table names it
    self_signed: bool


def fingerprint(pem: str) -> str:
    return hashlib.sha256(pem.encode()).hexdigest()


def _first(pem: str) -> x509.Certificate:
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        certs = []
    if not certs:
        raise InvalidParams("The certificate is not a PEM certificate; give the .crt/.pem file.")
    return certs[0]


def read_certificate(pem: str) -> CertInfo:
    cert = _first(pem)
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [n.lower() for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        pass
    if not names:
        common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        names = [str(c.value).lower() for c in common]
    return CertInfo(
        names=tuple(names),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        issuer=cert.issuer.rfc4514_string(),
        subject=cert.subject.rfc4514_string(),
        fingerprint=fingerprint(pem),
        self_signed=cert.issuer == cert.subject,
    )


def check_pair(cert_pem: str, key_pem: str, now: dt.datetime) -> CertInfo:
    """A user's certificate and key, checked: PEM, the key is the certificate's, in date."""
    cert = _first(cert_pem)
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise InvalidParams(
            "The private key is not an unencrypted PEM key; give the .key file "
            "(decrypt it first with `openssl pkey -in KEY -out plain.key`)."
        ) from None
    if not isinstance(
        key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)
    ):
        raise InvalidParams("The private key must be an RSA, ECDSA or Ed25519 key.")
    mine = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    theirs = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if mine != theirs:
        raise InvalidParams(
            "The private key does not match the certificate; give the key the certificate "
            "was issued for."
        )
    info = read_certificate(cert_pem)
    if info.not_after <= now:
        raise InvalidParams(
            f"The certificate expired on {info.not_after:%Y-%m-%d}; add a current one."
        )
    if not info.names:
        raise InvalidParams("The certificate names no host (no subjectAltName or common name).")
    return info
