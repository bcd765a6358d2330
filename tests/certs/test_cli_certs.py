"""Heroku's certificate commands with the official CLI: certs:auto and its enable,
disable and refresh, and certs:add / certs / certs:info / certs:remove (sni-endpoints),
with the refusals a user can meet (a key that is not the certificate's, an expired one)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.certs.conftest import DOMAIN
from tests.certs.tls_client import eventually, served_fingerprint
from tests.conftest import unique_name
from tests.support import ServerProcess

pytestmark = pytest.mark.heroku_cli
Heroku = Callable[..., subprocess.CompletedProcess[str]]


def self_signed(path: Path, name: str, *, days: float = 30, key_for: Path | None = None) -> str:
    """A certificate for `name` (and its key) written as NAME.crt / NAME.key under path."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=60))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (path / f"{name}.crt").write_text(pem)
    (key_for or path / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pem


@pytest.fixture
def heroku(heroku_bin: Path, domain_server: ServerProcess, tmp_path: Path) -> Heroku:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "HEROKU_HOST": domain_server.url,
        "HEROKU_API_KEY": domain_server.api_key,
        "HEROKU_PARTICLEBOARD_URL": domain_server.url,
        "DISABLE_TELEMETRY": "true",
        "HEROKU_SKIP_NEW_VERSION_CHECK": "true",
        "HEROKU_DISABLE_AUTOUPDATE": "true",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(heroku_bin), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


def test_certs_auto_and_the_certificates_users_bring(
    heroku: Heroku, domain_server: ServerProcess, server_address: str, tmp_path: Path
) -> None:
    app = unique_name("crt")
    assert heroku("apps:create", app).returncode == 0
    custom = f"www.{app}.example.test"
    assert heroku("domains:add", custom, "-a", app).returncode == 0

    def issued() -> bool:
        out = heroku("certs:auto", "-a", app).stdout
        return "Automatic Certificate Management is enabled" in out and "Cert issued" in out

    eventually(issued, 60, "certs:auto to show the custom domain issued")
    shown = heroku("certs:auto", "-a", app).stdout
    assert custom in shown
    assert "Common Name(s)" not in shown or "Pebble" in shown

    disabled = heroku("certs:auto:disable", "-a", app, "--confirm", app)
    assert disabled.returncode == 0, disabled.stderr
    assert "Automatic Certificate Management is disabled" in heroku("certs:auto", "-a", app).stdout
    assert heroku("certs:auto:enable", "-a", app).returncode == 0
    refreshed = heroku("certs:auto:refresh", "-a", app)
    assert refreshed.returncode == 0, refreshed.stderr

    # A certificate the user brings, for a name that is not one of the app's domains
    # (so certs:add asks nothing), served by SNI.
    name = f"secure-{app}.example.org"
    pem = self_signed(tmp_path, name)
    added = heroku(
        "certs:add", str(tmp_path / f"{name}.crt"), str(tmp_path / f"{name}.key"), "-a", app
    )
    assert added.returncode == 0, added.stderr
    assert name in added.stdout
    assert "SSL certificate is self signed." in added.stdout
    listed = heroku("certs", "-a", app)
    assert listed.returncode == 0, listed.stderr
    assert name in listed.stdout
    assert "SNI" in listed.stdout
    endpoint = next(
        line.split()[0] for line in listed.stdout.splitlines() if name in line and "SNI" in line
    )
    info = heroku("certs:info", "--name", endpoint, "-a", app)
    assert info.returncode == 0, info.stderr
    assert name in info.stdout
    fingerprint = eventually(
        lambda: served_fingerprint(domain_server.router_tls_port, name, pem, server_address),
        10,
        "the router to serve the added certificate",
    )
    assert fingerprint
    removed = heroku("certs:remove", "--name", endpoint, "-a", app, "--confirm", app)
    assert removed.returncode == 0, removed.stderr
    assert endpoint not in heroku("certs", "-a", app).stdout

    # Refusals: one sentence each, nothing added.
    other = f"other-{app}.example.org"
    self_signed(tmp_path, other, key_for=tmp_path / "wrong.key")
    self_signed(tmp_path, f"wrong-{app}.example.org", key_for=tmp_path / "wrong.key")
    mismatch = heroku(
        "certs:add", str(tmp_path / f"{other}.crt"), str(tmp_path / "wrong.key"), "-a", app
    )
    assert mismatch.returncode != 0
    assert "The private key does not match the certificate" in mismatch.stderr
    expired_name = f"old-{app}.example.org"
    self_signed(tmp_path, expired_name, days=-1)
    expired = heroku(
        "certs:add",
        str(tmp_path / f"{expired_name}.crt"),
        str(tmp_path / f"{expired_name}.key"),
        "-a",
        app,
    )
    assert expired.returncode != 0
    assert "The certificate expired on" in expired.stderr
    assert other not in heroku("certs", "-a", app).stdout
    # The platform's own certificate for the app host is not the user's to remove.
    assert f"{app}.{DOMAIN}" in heroku("domains", "-a", app).stdout
