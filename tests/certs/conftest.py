"""One Pebble and one `slipway server --domain slipway.test` for the certificate tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.certs import testhost
from tests.certs.pebble import Pebble
from tests.compat.conftest import heroku_bin  # noqa: F401 (the official CLI, installed once)
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
def test_host() -> Iterator[testhost.TestHost | None]:
    """The "other machine" (a network namespace), or None where one cannot be made: then
    the server listens on loopback and only the remote-CLI test is skipped."""
    if testhost.available() is not None:
        yield None
        return
    host = testhost.TestHost().create()
    yield host
    host.destroy()


@pytest.fixture(scope="session")
def server_address(test_host: testhost.TestHost | None) -> str:
    """Where the router listens, and what the test DNS answers for every name."""
    return testhost.SERVER_ADDRESS if test_host is not None else "127.0.0.1"


@pytest.fixture(scope="session")
def pebble(pebble_root: Path, domain_http_port: int, server_address: str) -> Iterator[Pebble]:
    ca = Pebble(pebble_root / "pebble", domain_http_port, validity=VALIDITY, address=server_address)
    (pebble_root / "pebble").mkdir()
    ca.start()
    yield ca
    ca.stop()


@pytest.fixture(scope="session")
def domain_server(
    pebble: Pebble, pebble_root: Path, domain_http_port: int, server_address: str
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
            # Only there: a test DNS answer of 127.0.0.9 then reaches nothing.
            "--router-host",
            server_address,
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
