"""One Pebble and one `slipway server --domain slipway.test` for the certificate tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.certs.pebble import Pebble
from tests.support import ServerProcess, free_port

DOMAIN = "slipway.test"
# Short-lived certificates, so a renewal happens within the test run (after 2/3 of this).
VALIDITY = 40


@pytest.fixture(scope="session")
def pebble_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="slipway-acme-"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def domain_http_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def pebble(pebble_root: Path, domain_http_port: int) -> Iterator[Pebble]:
    ca = Pebble(pebble_root / "pebble", domain_http_port, validity=VALIDITY)
    (pebble_root / "pebble").mkdir()
    ca.start()
    yield ca
    ca.stop()


@pytest.fixture(scope="session")
def domain_server(
    pebble: Pebble, pebble_root: Path, domain_http_port: int
) -> Iterator[ServerProcess]:
    """The platform on a real domain: the router owns the HTTP and HTTPS ports, ACME from
    Pebble, failures retried after a second (doubling)."""
    https_port = free_port()
    srv = ServerProcess(
        pebble_root / "data",
        router_port=domain_http_port,
        router_tls_port=https_port,
        extra_args=(
            "--domain",
            DOMAIN,
            "--http-port",
            str(domain_http_port),
            "--https-port",
            str(https_port),
            # Only on loopback: a test DNS answer of 127.0.0.9 then reaches nothing.
            "--router-host",
            "127.0.0.1",
            "--acme-directory",
            pebble.directory,
            "--acme-ca-cert",
            str(pebble.ca_cert),
            "--acme-email",
            "ops@example.com",
            "--acme-check-interval",
            "1",
            "--acme-retry-min",
            "1",
            "--router-workers",
            "1",
        ),
    ).start()
    yield srv
    srv.stop(timeout=60)
