"""Apps: create, list, info by name or id, rename, maintenance, destroy."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import unique_name
from tests.support import ServerProcess

MakeApp = Callable[..., dict[str, Any]]


def test_create_with_a_name_has_every_field_the_cli_reads(
    api: httpx.Client, server: ServerProcess
) -> None:
    name = unique_name("app")
    response = api.post("/apps", json={"name": name})
    assert response.status_code == 201
    app = response.json()
    assert app["name"] == name
    assert re.fullmatch(rf"http://{name}\.localhost:\d+/", app["web_url"])
    assert app["git_url"].endswith(f"/{name}.git")
    assert app["owner"]["email"] == "admin@slipway.localhost"
    assert app["region"]["name"] == "us"
    assert app["stack"]["name"] == app["build_stack"]["name"] == "heroku-24"
    assert app["repo_size"] == 0
    assert app["slug_size"] == 0
    assert app["maintenance"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", app["created_at"])


def test_create_without_a_name_generates_one(api: httpx.Client) -> None:
    bodies: tuple[dict[str, str] | None, ...] = ({}, None)
    for body in bodies:
        response = api.post("/apps", json=body) if body is not None else api.post("/apps")
        assert response.status_code == 201, response.text
        assert re.fullmatch(r"[a-z]+-[a-z]+-\d{4,5}", response.json()["name"])


@pytest.mark.parametrize("name", ["Bad Name", "a", "x" * 31, "1abc", "abc-"])
def test_invalid_names_are_refused(api: httpx.Client, name: str) -> None:
    response = api.post("/apps", json={"name": name})
    assert response.status_code == 422
    assert response.json()["id"] == "invalid_params"
    # No app can have an invalid name: Heroku and Slipway both answer 404 (not 403).
    missing = api.get(f"/apps/{name}")
    assert missing.status_code == 404
    assert missing.json()["id"] == "not_found"


def test_duplicate_names_are_refused(api: httpx.Client, make_app: MakeApp) -> None:
    app = make_app()
    response = api.post("/apps", json={"name": app["name"]})
    assert response.status_code == 422
    assert "already taken" in response.json()["message"]


def test_unknown_region_or_stack(api: httpx.Client) -> None:
    assert api.post("/apps", json={"region": "eu"}).status_code == 422
    assert api.post("/apps", json={"stack": "cedar-14"}).status_code == 422


def test_list_and_info_by_name_or_id(api: httpx.Client, make_app: MakeApp) -> None:
    app = make_app()
    for path in ("/apps", "/users/~/apps"):
        names = [a["name"] for a in _all(api, path)]
        assert app["name"] in names
    by_name = api.get(f"/apps/{app['name']}").json()
    by_id = api.get(f"/apps/{app['id']}").json()
    assert by_name == by_id
    for sub in ("config-vars", "releases", "formation", "collaborators", "addons"):
        # 206 is only for a truncated list; a new app's lists fit in one page.
        assert api.get(f"/apps/{app['id']}/{sub}").status_code == 200, sub


def _all(api: httpx.Client, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    headers: dict[str, str] = {}
    while True:
        response = api.get(path, headers=headers)
        items += response.json()
        if response.status_code != 206:
            return items
        headers = {"Range": response.headers["Next-Range"]}


def test_apps_page_with_next_range(api: httpx.Client, make_app: MakeApp) -> None:
    for _ in range(3):
        make_app()
    first = api.get("/apps", headers={"Range": "name ..; max=2"})
    assert first.status_code == 206
    assert first.headers["Next-Range"].startswith("name ]")
    assert first.headers["Content-Range"].startswith("name ")
    everything = _all(api, "/apps")
    paged: list[dict[str, Any]] = list(first.json())
    headers = {"Range": first.headers["Next-Range"]}
    while True:
        page = api.get("/apps", headers=headers)
        paged += page.json()
        if page.status_code != 206:
            break
        assert "Next-Range" in page.headers
        headers = {"Range": page.headers["Next-Range"]}
    assert sorted(a["name"] for a in paged) == sorted(a["name"] for a in everything)
    assert [a["name"] for a in paged] == sorted(a["name"] for a in paged)


def test_bad_range_is_refused(api: httpx.Client) -> None:
    response = api.get("/apps", headers={"Range": "color ..; max=2"})
    assert response.status_code == 416
    assert response.json()["id"] == "requested_range_not_satisfiable"


def test_rename(api: httpx.Client, make_app: MakeApp) -> None:
    app = make_app()
    new = unique_name("renamed")
    response = api.patch(f"/apps/{app['name']}", json={"name": new})
    assert response.status_code == 200
    assert re.fullmatch(rf"http://{new}\.localhost:\d+/", response.json()["web_url"])
    assert api.get(f"/apps/{app['name']}").status_code == 404
    assert api.get(f"/apps/{new}").json()["id"] == app["id"]
    # The releases follow the app.
    assert api.get(f"/apps/{new}/releases").json()[0]["app"]["name"] == new


def test_rename_to_a_taken_name_changes_nothing(api: httpx.Client, make_app: MakeApp) -> None:
    a, b = make_app(), make_app()
    response = api.patch(f"/apps/{a['name']}", json={"name": b["name"]})
    assert response.status_code == 422
    assert api.get(f"/apps/{a['name']}").status_code == 200


def test_maintenance(api: httpx.Client, make_app: MakeApp) -> None:
    app = make_app()
    assert api.patch(f"/apps/{app['name']}", json={"maintenance": True}).json()["maintenance"]
    assert api.get(f"/apps/{app['name']}").json()["maintenance"] is True
    assert (
        api.patch(f"/apps/{app['id']}", json={"maintenance": False}).json()["maintenance"] is False
    )


def test_destroy_removes_the_app_and_its_releases(api: httpx.Client, make_app: MakeApp) -> None:
    app = make_app()
    api.patch(f"/apps/{app['name']}/config-vars", json={"A": "1"})
    response = api.delete(f"/apps/{app['name']}")
    assert response.status_code == 200
    assert response.json()["name"] == app["name"]
    assert api.get(f"/apps/{app['name']}").status_code == 404
    assert api.get(f"/apps/{app['id']}/releases").status_code == 404
    assert api.delete(f"/apps/{app['name']}").status_code == 404
    # The name is free again.
    assert api.post("/apps", json={"name": app["name"]}).status_code == 201


def test_collaborators_list_the_owner(api: httpx.Client, make_app: MakeApp) -> None:
    app = make_app()
    collaborators = api.get(f"/apps/{app['name']}/collaborators").json()
    assert [c["user"]["email"] for c in collaborators] == ["admin@slipway.localhost"]
    assert collaborators[0]["role"] == "owner"


def test_unknown_app(api: httpx.Client) -> None:
    response = api.get("/apps/no-such-app-here")
    assert response.status_code == 404
    assert response.json() == {
        "id": "not_found",
        "message": "Couldn't find that app.",
        "resource": "app",
    }
