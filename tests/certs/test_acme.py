"""ACME end to end against Pebble: the router answers HTTP-01 itself, certificates for the
platform's hosts, a new app and a new custom domain, renewal of a short-lived one, and a
failing validation that shows in acm_status while the old certificate keeps serving."""

from __future__ import annotations

import hashlib
import socket
import ssl
from typing import Any

import httpx
import pytest

from tests.certs.conftest import DOMAIN, VALIDITY
from tests.certs.pebble import Pebble
from tests.certs.tls_client import Front, eventually
from tests.conftest import unique_name
from tests.support import ServerProcess


@pytest.fixture(scope="module")
def api(domain_server: ServerProcess) -> Any:
    with domain_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def front(pebble: Pebble, domain_server: ServerProcess, server_address: str) -> Front:
    return Front(
        server_address, domain_server.router_port, domain_server.router_tls_port, pebble.roots()
    )


def domain_of(api: httpx.Client, app: str, hostname: str) -> dict[str, Any]:
    response = api.get(f"/apps/{app}/domains")
    assert response.status_code in (200, 206), response.text
    return next(d for d in response.json() if d["hostname"] == hostname)


def wait_status(
    api: httpx.Client, app: str, hostname: str, status: str, timeout: float = 60
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        domain = domain_of(api, app, hostname)
        return domain if domain["acm_status"] == status else None

    found = eventually(check, timeout, f"{hostname} to reach acm_status {status!r}")
    assert isinstance(found, dict)
    return found


def served(front: Front, host: str, timeout: float = 10) -> str:
    """The verified certificate for `host`, once the router has the table that names it."""
    found = eventually(lambda: front.fingerprint(host), timeout, f"{host}'s certificate")
    assert isinstance(found, str)
    return found


def test_platform_hosts_are_served_with_acme_certificates(
    domain_server: ServerProcess, front: Front
) -> None:
    https = front.https_port
    served(front, f"api.{DOMAIN}", 60)
    status, _, body = front.get(
        f"api.{DOMAIN}",
        "/account",
        {
            "Authorization": f"Bearer {domain_server.api_key}",
            "Accept": "application/vnd.heroku+json; version=3",
        },
    )
    assert status == 200, body
    assert b"admin@slipway.localhost" in body
    # Plain HTTP to a platform host goes to HTTPS, path kept.
    status, headers, _ = front.plain_get(f"api.{DOMAIN}", "/account?x=1")
    assert status == 308
    assert headers["location"] == f"https://api.{DOMAIN}:{https}/account?x=1"
    # The git host is served too (git's listener behind it answers its own 401).
    served(front, f"git.{DOMAIN}", 60)


def test_a_new_app_and_a_custom_domain_get_certificates(
    api: httpx.Client, domain_server: ServerProcess, front: Front
) -> None:
    name = unique_name("acm")
    created = api.post("/apps", json={"name": name})
    assert created.status_code == 201, created.text
    assert created.json()["acm"] is True
    assert created.json()["web_url"] == f"https://{name}.{DOMAIN}:{domain_server.router_tls_port}/"
    host = f"{name}.{DOMAIN}"
    wait_status(api, name, host, "cert issued")
    served(front, host)
    # Apps answer plain HTTP too (no redirect), as on Heroku.
    status, _, _ = front.plain_get(host, "/")
    assert status != 308

    custom = f"www.{name}.example.test"
    added = api.post(f"/apps/{name}/domains", json={"hostname": custom})
    assert added.status_code == 201, added.text
    issued = wait_status(api, name, custom, "cert issued")
    assert issued["acm_status_reason"] is None
    assert issued["sni_endpoint"] is not None
    served(front, custom)
    endpoints = api.get(f"/apps/{name}/sni-endpoints").json()
    assert {e["ssl_cert"]["acm"] for e in endpoints} == {True}
    assert custom in [d for e in endpoints for d in e["domains"]]
    # The key is never part of an answer.
    assert "PRIVATE KEY" not in api.get(f"/apps/{name}/sni-endpoints").text


def test_a_failing_validation_keeps_the_previous_certificate(
    api: httpx.Client, domain_server: ServerProcess, pebble: Pebble, front: Front
) -> None:
    name = unique_name("acf")
    assert api.post("/apps", json={"name": name}).status_code == 201
    custom = f"shop.{name}.example.test"
    assert api.post(f"/apps/{name}/domains", json={"hostname": custom}).status_code == 201
    wait_status(api, name, custom, "cert issued")
    before = served(front, custom)
    # The domain's DNS now points elsewhere: the CA cannot reach the router for it.
    pebble.point(custom, "127.0.0.9")
    try:
        refreshed = api.patch(f"/apps/{name}/acm", json={"acm_refresh": True})
        assert refreshed.status_code == 200, refreshed.text
        failing = wait_status(api, name, custom, "failing")
        reason = failing["acm_status_reason"]
        assert reason.startswith(f"The certificate authority could not validate {custom}")
        assert "point its DNS at this server" in reason
        assert front.fingerprint(custom) == before
        # The app's own host is untouched by the failure.
        assert domain_of(api, name, f"{name}.{DOMAIN}")["acm_status"] == "cert issued"
    finally:
        pebble.unpoint(custom)
    # Once DNS is right again, the back-off's next try succeeds.
    wait_status(api, name, custom, "cert issued", timeout=90)


def test_a_short_lived_certificate_is_renewed(
    api: httpx.Client, domain_server: ServerProcess, front: Front
) -> None:
    name = unique_name("acr")
    assert api.post("/apps", json={"name": name}).status_code == 201
    host = f"{name}.{DOMAIN}"
    wait_status(api, name, host, "cert issued")
    first = served(front, host)
    # A kept-alive connection from before the renewal (to the API: an app without code
    # answers with a page that closes the connection), whose certificate renews too...
    api_host = f"api.{DOMAIN}"
    served(front, api_host, 60)
    ctx = ssl.create_default_context(cadata=front.roots)
    raw = socket.create_connection((front.address, front.https_port), timeout=10)
    kept = ctx.wrap_socket(raw, server_hostname=api_host)
    kept_cert = hashlib.sha256(kept.getpeercert(binary_form=True) or b"").hexdigest()
    request = f"GET /tls/info HTTP/1.1\r\nHost: {api_host}\r\n\r\n".encode()

    def answer() -> bytes:
        kept.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = kept.recv(65536)
            assert chunk, "the router closed the kept-alive connection"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(
            int(h.split(b":")[1]) for h in lines if h.lower().startswith(b"content-length")
        )
        while len(body) < length:
            body += kept.recv(65536)
        return lines[0]

    assert answer().startswith(b"HTTP/1.1 ")

    # Pebble's certificates live VALIDITY seconds: renewal comes after two thirds of that.
    def renewed_yet() -> bool:
        assert answer().startswith(b"HTTP/1.1 200")  # (the old connection stays in use)
        return front.fingerprint(host) != first and front.fingerprint(api_host) != kept_cert

    renewed = eventually(renewed_yet, VALIDITY * 2, "a renewed certificate")
    assert renewed
    assert domain_of(api, name, host)["acm_status"] == "cert issued"
    # ... is not dropped by the new certificate: it keeps its own and carries on.
    assert answer().startswith(b"HTTP/1.1 200")
    assert hashlib.sha256(kept.getpeercert(binary_form=True) or b"").hexdigest() == kept_cert
    kept.close()


def test_an_unknown_host_on_443_gets_the_default_certificate_and_no_such_app(
    domain_server: ServerProcess, front: Front
) -> None:
    name = "nobody-here.example.test"
    with pytest.raises(ssl.SSLCertVerificationError):
        front.fingerprint(name)  # no certificate was issued for it: nothing trusted is served
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((front.address, front.https_port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=name) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 404")
    assert b"No such app" in data
