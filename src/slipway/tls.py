"""The platform's TLS: a local certificate authority and a server certificate.

Created on the first start in `<data dir>/tls/` with `cryptography`. git and
the official heroku CLI are told to trust `ca.crt` (http.sslCAInfo,
NODE_EXTRA_CA_CERTS). A user may bring their own certificate and key instead.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from slipway.privatefile import write_private

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest validity clients (macOS, browsers) accept


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca_cert: Path | None


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    write_private(
        path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _hosts(base_domain: str, extra: list[str]) -> list[str]:
    return ["localhost", "127.0.0.1", "::1", base_domain, f"*.{base_domain}", *extra]


def ensure_certificates(tls_dir: Path, base_domain: str, extra_hosts: list[str]) -> TlsFiles:
    """Create the CA once, and a server certificate whenever the host names change."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    tls_dir.chmod(0o700)
    ca_cert_path, ca_key_path = tls_dir / "ca.crt", tls_dir / "ca.key"
    now = dt.datetime.now(dt.UTC)
    if not ca_cert_path.exists() or not ca_key_path.exists():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Slipway local CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
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
            .sign(ca_key, hashes.SHA256())
        )
        _write_key(ca_key_path, ca_key)
        ca_cert_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    ca_key = _load_key(ca_key_path)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())

    cert_path, key_path = tls_dir / "server.crt", tls_dir / "server.key"
    hosts = _hosts(base_domain, extra_hosts)
    wanted = set(_names(hosts))
    if cert_path.exists() and key_path.exists():
        current = x509.load_pem_x509_certificate(cert_path.read_bytes())
        sans = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        fresh = current.not_valid_after_utc > now + dt.timedelta(days=30)
        if set(sans) == wanted and fresh:
            return TlsFiles(cert_path, key_path, ca_cert_path)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Slipway")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    return TlsFiles(cert_path, key_path, ca_cert_path)


def ensure_host_certificate(tls_dir: Path, name: str, hosts: list[str]) -> TlsFiles:
    """`<name>.crt`/`<name>.key` signed by the platform's CA for `hosts`, made again when
    the hosts change or it nears expiry (the add-on servers' certificate: `addons`)."""
    ca_cert_path, ca_key_path = tls_dir / "ca.crt", tls_dir / "ca.key"
    cert_path, key_path = tls_dir / f"{name}.crt", tls_dir / f"{name}.key"
    now = dt.datetime.now(dt.UTC)
    wanted = set(_names(hosts))
    if cert_path.exists() and key_path.exists():
        current = x509.load_pem_x509_certificate(cert_path.read_bytes())
        sans = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        if set(sans) == wanted and current.not_valid_after_utc > now + dt.timedelta(days=30):
            return TlsFiles(cert_path, key_path, ca_cert_path)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Slipway {name}")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(_load_key(ca_key_path), hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    return TlsFiles(cert_path, key_path, ca_cert_path)


class HostCertificates:
    """Certificates for one host name each, minted on demand from the platform's CA.

    A wildcard for `*.localhost` is refused by OpenSSL and browsers (a wildcard
    must sit under two labels), so the router asks for `myapp.localhost` itself
    during the TLS handshake (SNI) and gets a certificate made for that name.
    Contexts are cached; the CA's key never leaves this process.
    """

    def __init__(self, ca_cert: Path, ca_key: Path, *, limit: int = 4096) -> None:
        self._ca_cert = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        self._ca_key = _load_key(ca_key)
        self._ca_pem = ca_cert.read_bytes()
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._limit = limit

    def context_for(self, hostname: str) -> ssl.SSLContext:
        name = hostname.lower().rstrip(".")
        context = self._contexts.get(name)
        if context is None:
            if len(self._contexts) >= self._limit:
                self._contexts.pop(next(iter(self._contexts)))
            context = self._contexts[name] = self._mint(name)
        return context

    def _mint(self, hostname: str) -> ssl.SSLContext:
        now = dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64])]))
            .issuer_name(self._ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(_names([hostname])), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        chain = cert.public_bytes(serialization.Encoding.PEM) + self._ca_pem
        # ssl loads certificates from files only: a private temporary directory, at once removed.
        with tempfile.TemporaryDirectory() as tmp:
            cert_file, key_file = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            cert_file.write_bytes(chain)
            write_private(key_file, key_pem)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert_file), str(key_file))
        return context


def issue_certificate(ca_cert: Path, ca_key: Path, hosts: list[str]) -> tuple[bytes, bytes]:
    """A server certificate for `hosts` from the CA: (chain PEM, key PEM), for the servers
    the add-on providers run (MariaDB, slipway-mail), so clients that trust ca.crt verify
    them like the platform's own listeners."""
    authority = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    authority_key = _load_key(ca_key)
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0][:64])]))
        .issuer_name(authority.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(authority_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    chain = cert.public_bytes(serialization.Encoding.PEM) + authority.public_bytes(
        serialization.Encoding.PEM
    )
    return chain, key_pem


def addon_certificate(data_dir: Path, own_dir: Path, hosts: list[str]) -> tuple[bytes, bytes]:
    """A certificate for an add-on server: from the platform's CA (`<data dir>/tls`), or,
    when the operator brought their own certificate and there is no CA, from a CA of the
    add-on's own under `own_dir`."""
    ca_cert, ca_key = data_dir / "tls" / "ca.crt", data_dir / "tls" / "ca.key"
    if not (ca_cert.exists() and ca_key.exists()):
        ensure_certificates(own_dir, "localhost", [])
        ca_cert, ca_key = own_dir / "ca.crt", own_dir / "ca.key"
    return issue_certificate(ca_cert, ca_key, hosts)
