"""Formation: process types come from the current release's slug."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

MakeApp = Callable[..., dict[str, Any]]


def deploy(api: httpx.Client, app: str, process_types: dict[str, str]) -> None:
    slug = api.post(f"/apps/{app}/slugs", json={"process_types": process_types}).json()
    assert api.post(f"/apps/{app}/releases", json={"slug": slug["id"]}).status_code == 201


def formation(api: httpx.Client, app: str) -> dict[str, tuple[int, str]]:
    return {f["type"]: (f["quantity"], f["size"]) for f in api.get(f"/apps/{app}/formation").json()}


def test_without_a_deploy_there_is_nothing_to_scale(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    assert api.get(f"/apps/{name}/formation").json() == []
    response = api.patch(
        f"/apps/{name}/formation", json={"updates": [{"type": "web", "quantity": "2"}]}
    )
    assert response.status_code == 404
    assert response.json()["message"] == "Couldn't find that process type (web)."


def test_types_follow_the_slug_and_scale(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    deploy(api, name, {"web": "gunicorn app:app", "worker": "python worker.py"})
    assert formation(api, name) == {"web": (1, "Basic"), "worker": (0, "Basic")}

    response = api.patch(
        f"/apps/{name}/formation",
        json={
            "updates": [
                {"type": "web", "quantity": "3", "size": "standard-2X"},
                {"type": "worker", "quantity": 2},
            ]
        },
    )
    assert response.status_code == 200
    assert {f["type"] for f in response.json()} == {"web", "worker"}
    assert formation(api, name) == {"web": (3, "Standard-2X"), "worker": (2, "Basic")}

    api.patch(f"/apps/{name}/formation", json={"updates": [{"type": "web", "quantity": "+1"}]})
    api.patch(f"/apps/{name}/formation", json={"updates": [{"type": "worker", "quantity": "-5"}]})
    assert formation(api, name) == {"web": (4, "Standard-2X"), "worker": (0, "Basic")}

    one = api.patch(
        f"/apps/{name}/formation/worker",
        json={"quantity": 1, "dyno_size": {"name": "performance-m"}},
    )
    assert one.status_code == 200
    assert one.json()["size"] == "Performance-M"
    info = api.get(f"/apps/{name}/formation/web").json()
    assert info["command"] == "gunicorn app:app"
    assert info["quantity"] == 4

    # A config change keeps the formation; a new slug adds and drops types.
    api.patch(f"/apps/{name}/config-vars", json={"A": "1"})
    assert formation(api, name)["web"] == (4, "Standard-2X")
    deploy(api, name, {"web": "gunicorn app:app -w 2", "clock": "python clock.py"})
    assert formation(api, name) == {"web": (4, "Standard-2X"), "clock": (0, "Basic")}
    assert api.get(f"/apps/{name}/formation/web").json()["command"] == "gunicorn app:app -w 2"


@pytest.mark.parametrize(
    "update",
    [
        {"type": "web", "quantity": "lots"},
        {"type": "web", "quantity": 1, "size": "mega"},
        {"type": "web", "quantity": 101},
        {"type": "web", "quantity": -1},
        {"type": "web", "quantity": 1.5},
    ],
)
def test_bad_updates_change_nothing(
    api: httpx.Client, make_app: MakeApp, update: dict[str, Any]
) -> None:
    name = make_app()["name"]
    deploy(api, name, {"web": "gunicorn app:app"})
    response = api.patch(
        f"/apps/{name}/formation",
        json={"updates": [{"type": "web", "quantity": 2}, update]},
    )
    assert response.status_code == 422
    assert response.json()["id"] == "invalid_params"
    assert formation(api, name) == {"web": (1, "Basic")}


def test_unknown_type_in_a_batch_changes_nothing(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    deploy(api, name, {"web": "gunicorn app:app"})
    response = api.patch(
        f"/apps/{name}/formation",
        json={"updates": [{"type": "web", "quantity": 2}, {"type": "worker", "quantity": 1}]},
    )
    assert response.status_code == 404
    assert formation(api, name) == {"web": (1, "Basic")}


def test_invalid_process_types_in_a_slug(api: httpx.Client, make_app: MakeApp) -> None:
    name = make_app()["name"]
    response = api.post(f"/apps/{name}/slugs", json={"process_types": {"we b": "x"}})
    assert response.status_code == 422
