"""ACME end to end against Pebble: the router answers HTTP-01 itself, certificates for the
platform's hosts, a new app and a new custom domain, renewal of a short-lived one, and a
failing validation that shows in acm_status while the old certificate keeps serving."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.certs.conftest import DOMAIN, VALIDITY
from tests.certs.pebble import Pebble
from tests.certs.tls_client import eventually, http_get, https_get, served_fingerprint
from tests.conftest import unique_name
from tests.support import ServerProcess


@pytest.fixture(scope="module")
def api(domain_server: ServerProcess) -> Any:
    with domain_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def roots(pebble: Pebble) -> str:
    return pebble.roots()


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


def served(server: ServerProcess, host: str, roots: str) -> str:
    """The verified certificate for `host`, once the router has the table that names it."""
    found = eventually(
        lambda: served_fingerprint(server.router_tls_port, host, roots), 10, f"{host}'s certificate"
    )
    assert isinstance(found, str)
    return found


def test_platform_hosts_are_served_with_acme_certificates(
    domain_server: ServerProcess, roots: str
) -> None:
    https = domain_server.router_tls_port
    eventually(lambda: served_fingerprint(https, f"api.{DOMAIN}", roots), 60, "api's certificate")
    status, _, body = https_get(
        https,
        f"api.{DOMAIN}",
        "/account",
        roots,
        {
            "Authorization": f"Bearer {domain_server.api_key}",
            "Accept": "application/vnd.heroku+json; version=3",
        },
    )
    assert status == 200, body
    assert b"admin@slipway.localhost" in body
    # Plain HTTP to a platform host goes to HTTPS, path kept.
    status, headers, _ = http_get(domain_server.router_port, f"api.{DOMAIN}", "/account?x=1")
    assert status == 308
    assert headers["location"] == f"https://api.{DOMAIN}:{https}/account?x=1"
    # The git host is served too (git's listener behind it answers its own 401).
    eventually(lambda: served_fingerprint(https, f"git.{DOMAIN}", roots), 60, "git's certificate")


def test_a_new_app_and_a_custom_domain_get_certificates(
    api: httpx.Client, domain_server: ServerProcess, roots: str
) -> None:
    name = unique_name("acm")
    created = api.post("/apps", json={"name": name})
    assert created.status_code == 201, created.text
    assert created.json()["acm"] is True
    assert created.json()["web_url"] == f"https://{name}.{DOMAIN}:{domain_server.router_tls_port}/"
    host = f"{name}.{DOMAIN}"
    wait_status(api, name, host, "cert issued")
    served(domain_server, host, roots)
    # Apps answer plain HTTP too (no redirect), as on Heroku.
    status, _, _ = http_get(domain_server.router_port, host, "/")
    assert status != 308

    custom = f"www.{name}.example.test"
    added = api.post(f"/apps/{name}/domains", json={"hostname": custom})
    assert added.status_code == 201, added.text
    issued = wait_status(api, name, custom, "cert issued")
    assert issued["acm_status_reason"] is None
    assert issued["sni_endpoint"] is not None
    served(domain_server, custom, roots)
    endpoints = api.get(f"/apps/{name}/sni-endpoints").json()
    assert {e["ssl_cert"]["acm"] for e in endpoints} == {True}
    assert custom in [d for e in endpoints for d in e["domains"]]
    # The key is never part of an answer.
    assert "PRIVATE KEY" not in api.get(f"/apps/{name}/sni-endpoints").text


def test_a_failing_validation_keeps_the_previous_certificate(
    api: httpx.Client, domain_server: ServerProcess, pebble: Pebble, roots: str
) -> None:
    name = unique_name("acf")
    assert api.post("/apps", json={"name": name}).status_code == 201
    custom = f"shop.{name}.example.test"
    assert api.post(f"/apps/{name}/domains", json={"hostname": custom}).status_code == 201
    wait_status(api, name, custom, "cert issued")
    before = served(domain_server, custom, roots)
    # The domain's DNS now points elsewhere: the CA cannot reach the router for it.
    pebble.point(custom, "127.0.0.9")
    try:
        refreshed = api.patch(f"/apps/{name}/acm", json={"acm_refresh": True})
        assert refreshed.status_code == 200, refreshed.text
        failing = wait_status(api, name, custom, "failing")
        reason = failing["acm_status_reason"]
        assert reason.startswith(f"The certificate authority could not validate {custom}")
        assert "point its DNS at this server" in reason
        assert served_fingerprint(domain_server.router_tls_port, custom, roots) == before
        # The app's own host is untouched by the failure.
        assert domain_of(api, name, f"{name}.{DOMAIN}")["acm_status"] == "cert issued"
    finally:
        pebble.unpoint(custom)
    # Once DNS is right again, the back-off's next try succeeds.
    wait_status(api, name, custom, "cert issued", timeout=90)


def test_a_short_lived_certificate_is_renewed(
    api: httpx.Client, domain_server: ServerProcess, roots: str
) -> None:
    name = unique_name("acr")
    assert api.post("/apps", json={"name": name}).status_code == 201
    host = f"{name}.{DOMAIN}"
    wait_status(api, name, host, "cert issued")
    first = served(domain_server, host, roots)
    # Pebble's certificates live VALIDITY seconds: renewal comes after two thirds of that.
    renewed = eventually(
        lambda: served_fingerprint(domain_server.router_tls_port, host, roots) != first,
        VALIDITY * 2,
        "a renewed certificate",
    )
    assert renewed
    assert domain_of(api, name, host)["acm_status"] == "cert issued"
