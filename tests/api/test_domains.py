"""Domains and maintenance mode through the API (the router serves what these say)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import unique_name

MakeApp = Callable[..., dict[str, Any]]


def test_an_app_has_its_own_domain_and_custom_ones(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    listed = api.get(f"/apps/{name}/domains").json()
    assert [(d["hostname"], d["kind"]) for d in listed] == [(f"{name}.localhost", "heroku")]
    host = f"www.{unique_name('ex')}.example.com"
    created = api.post(f"/apps/{name}/domains", json={"hostname": host.upper()})
    assert created.status_code == 201, created.text
    assert created.json()["hostname"] == host
    assert created.json()["kind"] == "custom"
    assert created.json()["cname"] == f"{name}.localhost"
    assert sorted(d["hostname"] for d in api.get(f"/apps/{name}/domains").json()) == sorted(
        [f"{name}.localhost", host]
    )
    other = make_app()["name"]
    taken = api.post(f"/apps/{other}/domains", json={"hostname": host})
    assert taken.status_code == 409
    assert taken.json()["message"] == f"{host} is already in use by another app."
    removed = api.delete(f"/apps/{name}/domains/{host}")
    assert removed.status_code == 200
    assert len(api.get(f"/apps/{name}/domains").json()) == 1
    assert api.delete(f"/apps/{name}/domains/{host}").status_code == 404


def test_bad_hostnames_get_one_sentence(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    for bad, message in (
        ("not a host", "is not a valid hostname"),
        ("-bad-.example.com", "is not a valid hostname"),
        (f"x.{name}.localhost", "is under the platform's own domain localhost"),
    ):
        response = api.post(f"/apps/{name}/domains", json={"hostname": bad})
        assert response.status_code == 422, bad
        assert message in response.json()["message"]


def test_maintenance_mode_is_an_app_field(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    assert api.get(f"/apps/{name}").json()["maintenance"] is False
    assert api.patch(f"/apps/{name}", json={"maintenance": True}).json()["maintenance"] is True
    assert api.get(f"/apps/{name}").json()["maintenance"] is True
    assert api.patch(f"/apps/{name}", json={"maintenance": False}).json()["maintenance"] is False
