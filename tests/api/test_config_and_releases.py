"""Config vars and the releases they create; rollback; slugs released through the API."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

MakeApp = Callable[..., dict[str, Any]]


def releases(api: httpx.Client, app: str) -> list[dict[str, Any]]:
    response = api.get(f"/apps/{app}/releases", headers={"Range": "version ..; max=1000"})
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json()
    return result


def test_a_new_app_has_v1_initial_release(api: httpx.Client, make_app: MakeApp) -> None:
    app = make_app()
    (v1,) = releases(api, app["name"])
    assert v1["version"] == 1
    assert v1["description"] == "Initial release"
    assert v1["status"] == "succeeded"
    assert v1["current"] is True
    assert v1["slug"] is None
    assert v1["user"]["email"] == "admin@slipway.localhost"
    assert api.get(f"/apps/{app['name']}/config-vars").json() == {}


def test_set_and_unset_create_releases(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    response = api.patch(f"/apps/{name}/config-vars", json={"A": "1", "B": "two words"})
    assert response.status_code == 200
    assert response.json() == {"A": "1", "B": "two words"}
    response = api.patch(f"/apps/{name}/config-vars", json={"A": None, "C": "3"})
    assert response.json() == {"B": "two words", "C": "3"}
    response = api.patch(f"/apps/{name}/config-vars", json={"B": None})
    assert response.json() == {"C": "3"}
    assert [(r["version"], r["description"]) for r in releases(api, name)] == [
        (1, "Initial release"),
        (2, "Set A, B config vars"),
        (3, "Set C config vars and remove A config vars"),
        (4, "Remove B config vars"),
    ]
    assert [r["current"] for r in releases(api, name)] == [False, False, False, True]


def test_an_empty_patch_creates_no_release(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    assert api.patch(f"/apps/{name}/config-vars", json={}).json() == {}
    assert api.patch(f"/apps/{name}/config-vars", json={"NOPE": None}).json() == {}
    assert len(releases(api, name)) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"GOOD": "1", "BAD-NAME": "2"},
        {"GOOD": "1", "HEROKU_X": "2"},
        {"GOOD": "1", "__X": "2"},
        {"GOOD": 1},
        {"GOOD": "x" * 40000},
    ],
)
def test_a_rejected_patch_writes_nothing(api: httpx.Client, make_app: MakeApp, body: Any) -> None:
    name = make_app()["name"]
    response = api.patch(f"/apps/{name}/config-vars", json=body)
    assert response.status_code == 422
    assert response.json()["id"] == "invalid_params"
    assert "." in response.json()["message"]
    assert api.get(f"/apps/{name}/config-vars").json() == {}
    assert len(releases(api, name)) == 1


def test_release_info_by_version_or_id_and_its_config(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    api.patch(f"/apps/{name}/config-vars", json={"A": "1"})
    api.patch(f"/apps/{name}/config-vars", json={"A": "2"})
    v2 = api.get(f"/apps/{name}/releases/2").json()
    assert v2["description"] == "Set A config vars"
    assert api.get(f"/apps/{name}/releases/{v2['id']}").json() == v2
    assert api.get(f"/apps/{name}/releases/v2").json()["id"] == v2["id"]
    assert api.get(f"/apps/{name}/releases/2/config-vars").json() == {"A": "1"}
    assert api.get(f"/apps/{name}/releases/3/config-vars").json() == {"A": "2"}
    missing = api.get(f"/apps/{name}/releases/99")
    assert missing.status_code == 404
    assert missing.json()["id"] == "not_found"


def test_release_paging_desc_as_the_cli_asks(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    for i in range(5):
        api.patch(f"/apps/{name}/config-vars", json={"N": str(i)})
    latest = api.get(f"/apps/{name}/releases", headers={"Range": "version ..; order=desc,max=1"})
    assert latest.status_code == 206
    assert [r["version"] for r in latest.json()] == [6]
    page = api.get(f"/apps/{name}/releases", headers={"Range": "version ..; max=4, order=desc"})
    assert [r["version"] for r in page.json()] == [6, 5, 4, 3]
    assert page.headers["Next-Range"] == "version ]3..; max=4, order=desc"
    rest = api.get(f"/apps/{name}/releases", headers={"Range": page.headers["Next-Range"]})
    assert rest.status_code == 200
    assert "Next-Range" not in rest.headers
    assert [r["version"] for r in rest.json()] == [2, 1]


def test_rollback_copies_config_into_a_new_release(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    api.patch(f"/apps/{name}/config-vars", json={"A": "1"})
    api.patch(f"/apps/{name}/config-vars", json={"A": "2", "B": "x"})
    v2 = api.get(f"/apps/{name}/releases/2").json()
    response = api.post(f"/apps/{name}/releases", json={"release": v2["id"]})
    assert response.status_code == 201
    new = response.json()
    assert new["version"] == 4
    assert new["description"] == "Rollback to v2"
    assert new["current"] is True
    assert api.get(f"/apps/{name}/config-vars").json() == {"A": "1"}
    # Releases are append-only: v2 and v3 are exactly as they were.
    assert api.get(f"/apps/{name}/releases/3/config-vars").json() == {"A": "2", "B": "x"}
    assert api.get(f"/apps/{name}/releases/2").json()["description"] == "Set A config vars"
    # Rolling back by version number works too.
    assert api.post(f"/apps/{name}/releases", json={"release": "3"}).json()["version"] == 5
    assert api.get(f"/apps/{name}/config-vars").json() == {"A": "2", "B": "x"}


def test_rollback_to_an_unknown_release(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    response = api.post(
        f"/apps/{name}/releases", json={"release": "00000000-0000-4000-8000-000000000000"}
    )
    assert response.status_code == 404
    assert len(releases(api, name)) == 1
    both = api.post(f"/apps/{name}/releases", json={})
    assert both.status_code == 422


def test_concurrent_changes_get_distinct_consecutive_versions(
    api: httpx.Client, make_app: MakeApp
) -> None:
    name = make_app()["name"]

    def set_var(i: int) -> int:
        return api.patch(f"/apps/{name}/config-vars", json={f"K{i}": str(i)}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(set_var, range(16)))
    assert statuses == [200] * 16
    versions = [r["version"] for r in releases(api, name)]
    assert versions == list(range(1, 18))
    assert len(api.get(f"/apps/{name}/config-vars").json()) == 16


def test_a_slug_release_carries_current_config(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    api.patch(f"/apps/{name}/config-vars", json={"A": "1"})
    slug = api.post(
        f"/apps/{name}/slugs",
        json={"process_types": {"web": "gunicorn app:app"}, "commit": "1a2b3c4d5e6f7a8b"},
    )
    assert slug.status_code == 201
    response = api.post(f"/apps/{name}/releases", json={"slug": slug.json()["id"]})
    assert response.status_code == 201
    release = response.json()
    assert release["description"] == "Deploy 1a2b3c4d"
    # Slipway adds the slug's runtimes (none for a slug made through the API).
    assert release["slug"] == {"id": slug.json()["id"], "runtimes": {}}
    assert api.get(f"/apps/{name}/releases/{release['version']}/config-vars").json() == {"A": "1"}
    # A later config change keeps the slug.
    api.patch(f"/apps/{name}/config-vars", json={"B": "2"})
    assert releases(api, name)[-1]["slug"] == {"id": slug.json()["id"], "runtimes": {}}
    # Rolling back to v1, made before the first deploy, would stop every dyno: refused.
    refused = api.post(f"/apps/{name}/releases", json={"release": "1"})
    assert refused.status_code == 422
    assert refused.json()["message"] == (
        "Release v1 was made before the app's first deploy and has no build to run; "
        "pick a release that has one."
    )
    assert releases(api, name)[-1]["slug"] == {"id": slug.json()["id"], "runtimes": {}}
