"""Heroku API v3 conventions: auth, Accept, errors, headers, limits."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support import ServerProcess


def test_requests_without_credentials_are_unauthorized(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/apps")
    assert response.status_code == 401
    assert response.json()["id"] == "unauthorized"
    assert response.json()["message"]


def test_a_wrong_key_is_unauthorized(server: ServerProcess) -> None:
    with server.client("HRKU-not-a-key") as client:
        response = client.get("/account")
    assert response.status_code == 401
    assert response.json()["id"] == "unauthorized"


def test_the_cli_sending_no_token_is_unauthorized(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/account", headers={"Authorization": "Bearer undefined"})
    assert response.status_code == 401


def test_basic_auth_takes_the_key_as_password(server: ServerProcess) -> None:
    creds = base64.b64encode(f"anyone:{server.api_key}".encode()).decode()
    response = httpx.get(server.url + "/account", headers={"Authorization": f"Basic {creds}"})
    assert response.status_code == 200
    assert response.json()["email"] == "admin@slipway.localhost"


@pytest.mark.parametrize(
    "accept",
    [
        "application/vnd.heroku+json; version=3",
        "application/vnd.heroku+json; version=3.sdk",
        "application/vnd.heroku+json; version=3.account-quotas",
        "application/vnd.heroku+json;version=3.buildpack-registry",
    ],
)
def test_every_v3_variant_is_accepted(api: httpx.Client, accept: str) -> None:
    assert api.get("/account", headers={"Accept": accept}).status_code == 200


def test_other_versions_are_not_acceptable(api: httpx.Client) -> None:
    response = api.get("/account", headers={"Accept": "application/vnd.heroku+json; version=2"})
    assert response.status_code == 406
    assert response.json()["id"] == "not_acceptable"


def test_standard_headers(api: httpx.Client, make_app: Callable[..., dict[str, Any]]) -> None:
    response = api.get("/account")
    assert len(response.headers["Request-Id"]) == 36
    assert int(response.headers["RateLimit-Remaining"]) > 0
    etag = response.headers["ETag"]
    again = api.get("/account", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    app = make_app()
    # A change shows up as a new ETag.
    before = api.get(f"/apps/{app['name']}").headers["ETag"]
    api.patch(f"/apps/{app['name']}", json={"maintenance": True})
    assert api.get(f"/apps/{app['name']}").headers["ETag"] != before


def test_unknown_paths_answer_not_found_json(api: httpx.Client) -> None:
    response = api.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["id"] == "not_found"


def test_pipeline_couplings_are_not_found(
    api: httpx.Client, make_app: Callable[..., dict[str, Any]]
) -> None:
    app = make_app()
    assert api.get(f"/apps/{app['name']}/pipeline-couplings").status_code == 404


def test_malformed_json_is_one_clear_sentence(
    api: httpx.Client, make_app: Callable[..., dict[str, Any]]
) -> None:
    app = make_app()
    response = api.patch(
        f"/apps/{app['name']}/config-vars",
        content=b'{"A": ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "id": "bad_request",
        "message": "The request body is not valid JSON; send a JSON object.",
    }


def test_json_without_content_type_is_still_json(
    api: httpx.Client, make_app: Callable[..., dict[str, Any]]
) -> None:
    app = make_app()
    response = api.patch(
        f"/apps/{app['name']}/config-vars",
        content=b'{"A": "1"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json() == {"A": "1"}


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": 12}, "name"), ({"maintenance": "yes"}, "maintenance"), ([1, 2], None)],
)
def test_wrong_field_types(
    api: httpx.Client, make_app: Callable[..., dict[str, Any]], body: Any, field: str | None
) -> None:
    app = make_app()
    response = api.patch(f"/apps/{app['name']}", json=body)
    assert response.status_code == 422
    assert response.json()["id"] == "invalid_params"
    if field:
        assert field in response.json()["message"]
    assert api.get(f"/apps/{app['name']}").json()["maintenance"] is False


def test_bodies_over_the_limit_are_refused(
    api: httpx.Client, make_app: Callable[..., dict[str, Any]]
) -> None:
    app = make_app()
    big = {"A": "x" * (2 * 1024 * 1024)}
    response = api.patch(f"/apps/{app['name']}/config-vars", json=big)
    assert response.status_code == 413
    assert "larger than" in response.json()["message"]

    def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 65536

    chunked = api.patch(f"/apps/{app['name']}/config-vars", content=chunks())
    assert chunked.status_code == 413
    assert api.get(f"/apps/{app['name']}/config-vars").json() == {}


def test_account_fields(api: httpx.Client) -> None:
    account = api.get("/account").json()
    assert account["email"] == "admin@slipway.localhost"
    assert len(account["id"]) == 36
    assert api.get("/users/~").json()["id"] == account["id"]


def test_openapi_schema_is_served(api: httpx.Client) -> None:
    schema = api.get("/schema").json()
    assert "/apps/{app}/config-vars" in schema["paths"]
