"""A user touches only their own apps; only an admin creates accounts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.support import ServerProcess


def test_other_accounts_cannot_see_or_touch_an_app(
    api: httpx.Client, server: ServerProcess, make_app: Callable[..., dict[str, Any]]
) -> None:
    app = make_app()
    email = f"dev-{uuid.uuid4().hex[:8]}@example.com"
    created = api.post("/accounts", json={"email": email})
    assert created.status_code == 201
    key = created.json()["api_key"]
    with server.client(key) as other:
        assert other.get("/account").json()["email"] == email
        assert app["name"] not in [a["name"] for a in other.get("/apps").json()]
        for method, path, body in [
            ("GET", f"/apps/{app['name']}", None),
            ("GET", f"/apps/{app['id']}/config-vars", None),
            ("PATCH", f"/apps/{app['name']}/config-vars", {"X": "1"}),
            ("PATCH", f"/apps/{app['name']}", {"name": "stolen-name-1"}),
            ("POST", f"/apps/{app['name']}/releases", {"release": "1"}),
            ("DELETE", f"/apps/{app['name']}", None),
        ]:
            response = other.request(method, path, json=body)
            assert response.status_code == 403, (method, path)
            assert response.json()["id"] == "forbidden"
        # Their own app works, and they cannot create accounts.
        assert other.post("/apps", json={}).status_code == 201
        assert other.post("/accounts", json={"email": "x@example.com"}).status_code == 403
    assert api.get(f"/apps/{app['name']}/config-vars").json() == {}
    assert api.post("/accounts", json={"email": email}).status_code == 409
