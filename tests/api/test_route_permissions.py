"""Every door, walked: each route of the served OpenAPI schema with a stranger's, a
viewer's and a deployer's token, git fetch and push, and the table that says who may
use each route (a route without a rule fails here).

The expectations are the permission rules of Heroku (platform/permissions.py):
another person's app answers 403 `forbidden`, "You do not have access to the app
NAME.", a missing one 404; a viewer's every write is 403; a deployer may deploy
and release but not operate, manage access or delete.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from slipway.api.app import ROUTE_MODULES, create_api
from slipway.platform import route_rules
from slipway.platform.permissions import Permission
from slipway.platform.route_rules import RULES, Door
from slipway.platform.tx import Platform
from slipway.store import Store
from slipway.store.engine import sqlite_url
from tests.api.test_people import make_person, token_of
from tests.support import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
LISTING = ROOT / "docs" / "route-permissions.md"


def declared_routes(tmp_path: Path) -> set[str]:
    """`METHOD /path` of every route the API application declares, schema or not: the
    application's own (the schema) and every route module's."""
    store = Store(sqlite_url(tmp_path / "routes.db"))
    try:
        api = create_api(Platform(store))
        routes = [r for r in api.routes if isinstance(r, Route)]
        routes += [
            r for module in ROUTE_MODULES for r in module.router.routes if isinstance(r, Route)
        ]
        return {
            f"{method} {route.path}"
            for route in routes
            for method in route.methods or ()
            if method != "HEAD"
        }
    finally:
        store.dispose()


def test_every_route_has_a_rule_and_no_rule_is_stale(tmp_path: Path) -> None:
    declared = declared_routes(tmp_path)
    missing = sorted(declared - RULES.keys())
    assert not missing, (
        "routes without a permission rule in platform/route_rules.py:\n" + "\n".join(missing)
    )
    stale = sorted(RULES.keys() - declared)
    assert not stale, "rules for routes that do not exist:\n" + "\n".join(stale)


def test_the_listing_in_docs_is_generated_from_the_table() -> None:
    assert LISTING.read_text() == route_rules.listing(), (
        "docs/route-permissions.md is out of date; run "
        "`python -m slipway.platform.route_rules > docs/route-permissions.md`"
    )


@dataclass
class World:
    server: ServerProcess
    personal: str  # the admin's own app
    team_app: str
    stranger: str
    viewer: str
    deployer: str


@pytest.fixture(scope="module")
def world(sqlite_server: ServerProcess) -> Iterator[World]:
    with sqlite_server.client() as admin:
        personal = admin.post("/apps", json={"name": f"pw-{uuid.uuid4().hex[:10]}"}).json()
        team = f"pt{uuid.uuid4().hex[:10]}"
        admin.post("/teams", json={"name": team})
        team_app = admin.post(
            "/teams/apps", json={"name": f"pt-{uuid.uuid4().hex[:10]}", "team": team}
        ).json()
        stranger, viewer, deployer = (make_person(admin) for _ in range(3))
        admin.put(f"/teams/{team}/members", json={"email": viewer, "role": "viewer"})
        admin.put(f"/teams/{team}/members", json={"email": deployer, "role": "member"})
        admin.post(
            f"/teams/apps/{team_app['name']}/collaborators",
            json={"user": deployer, "permissions": ["deploy"]},
        )
        yield World(
            sqlite_server,
            personal["name"],
            team_app["name"],
            token_of(sqlite_server, stranger),
            token_of(sqlite_server, viewer),
            token_of(sqlite_server, deployer),
        )


def app_routes(server: ServerProcess) -> list[tuple[str, str]]:
    """(method, path) of every route of the served schema that names an app."""
    schema = httpx.get(server.url + "/schema").json()
    found = []
    for path, operations in schema["paths"].items():
        for method in operations:
            if "{app}" in path:
                found.append((method.upper(), path))
    assert len(found) > 50
    return sorted(found)


def rule(method: str, path: str) -> route_rules.Rule:
    for key, value in RULES.items():
        if key.replace(":path", "") == f"{method} {path}":
            return value
    raise AssertionError(f"no rule for {method} {path}")


def fill(path: str, app: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "x", path.replace("{app}", app))


def call(client: httpx.Client, method: str, path: str) -> httpx.Response:
    return client.request(method, path, json=None if method in ("GET", "DELETE") else {})


def test_a_stranger_gets_403_for_another_persons_app_and_404_for_a_missing_one(
    world: World,
) -> None:
    routes = app_routes(world.server)
    with world.server.client(world.stranger) as stranger:
        for method, path in routes:
            for app in (world.personal, world.team_app):
                response = call(stranger, method, fill(path, app))
                assert response.status_code == 403, (method, path, response.text)
                assert response.json() == {
                    "id": "forbidden",
                    "message": f"You do not have access to the app {app}.",
                }, (method, path)
            missing = call(stranger, method, fill(path, "no-such-app-here"))
            assert missing.status_code == 404, (method, path, missing.text)
            assert missing.json()["id"] == "not_found"
        assert world.personal not in [a["name"] for a in stranger.get("/apps").json()]


def test_a_viewer_may_look_but_every_write_is_403(world: World) -> None:
    # Every route that is not a GET is a write, but for opening a log session, asking for
    # a backup's download link (pg:backups:url) and leaving an app (which is a write only a
    # viewer may do to themselves).
    reads = {f"{m} {p}" for m, p in app_routes(world.server) if not rule(m, p).need.write}
    assert {r for r in reads if not r.startswith("GET ")} == {
        "POST /apps/{app}/log-sessions",
        "POST /client/v11/apps/{app}/transfers/{ident}/actions/public-url",
    }
    with world.server.client(world.viewer) as viewer:
        for method, path in app_routes(world.server):
            response = call(viewer, method, fill(path, world.team_app))
            need = rule(method, path).need
            if need.write or need.protected or Permission.VIEW not in need.any_of:
                assert response.status_code == 403, (method, path, response.text)
                assert response.json()["id"] == "forbidden"
            else:
                assert response.status_code not in (401, 403), (method, path, response.text)
                assert response.status_code < 500, (method, path, response.text)


def test_a_deployer_may_deploy_and_release_but_not_operate_or_manage(world: World) -> None:
    allowed: list[str] = []
    with world.server.client(world.deployer) as deployer:
        for method, path in app_routes(world.server):
            response = call(deployer, method, fill(path, world.team_app))
            need = rule(method, path).need
            # Removing someone else (`x`) is the owner's; only leaving is anyone's.
            leave = f"{method} {path}" == "DELETE /apps/{app}/collaborators/{user}"
            if need.owner or leave or not need.any_of & {Permission.VIEW, Permission.DEPLOY}:
                assert response.status_code == 403, (method, path, response.text)
                assert response.json()["id"] == "forbidden"
            else:
                assert response.status_code not in (401, 403), (method, path, response.text)
                assert response.status_code < 500, (method, path, response.text)
                allowed.append(f"{method} {path}")
    assert "POST /apps/{app}/releases" in allowed
    assert "POST /apps/{app}/builds" in allowed
    assert "PATCH /apps/{app}/config-vars" in allowed
    assert "POST /apps/{app}/collaborators" not in allowed
    assert "DELETE /apps/{app}" not in allowed


def git(world: World, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_SSL_CAINFO": str(world.server.data_dir / "tls" / "ca.crt"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(
        ["git", *args], env=env, cwd=tmp, capture_output=True, text=True, timeout=60, check=False
    )


def remote(world: World, token: str, app: str) -> str:
    return f"https://user:{token}@127.0.0.1:{world.server.git_port}/{app}.git"


def test_git_fetch_and_push_by_whom_may(world: World, tmp_path: Path) -> None:
    stranger = git(world, tmp_path, "ls-remote", remote(world, world.stranger, world.personal))
    assert stranger.returncode != 0
    assert "403" in stranger.stderr or "do not have access" in stranger.stderr
    viewer_fetch = git(world, tmp_path, "ls-remote", remote(world, world.viewer, world.team_app))
    assert viewer_fetch.returncode != 0, "a viewer may not read the code"
    deployer_fetch = git(
        world, tmp_path, "ls-remote", remote(world, world.deployer, world.team_app)
    )
    assert deployer_fetch.returncode == 0, deployer_fetch.stderr
    repo = tmp_path / "repo"
    repo.mkdir()
    git(world, repo, "init", "-q", "-b", "main")
    (repo / "f").write_text("x")
    git(world, repo, "add", "f")
    git(world, repo, "commit", "-qm", "x")
    pushed = git(world, repo, "push", remote(world, world.viewer, world.team_app), "main")
    assert pushed.returncode != 0
    assert "deploy" in pushed.stderr, pushed.stderr
    missing = git(world, tmp_path, "ls-remote", remote(world, world.deployer, "no-such-app"))
    assert missing.returncode != 0
    assert "Couldn't find that app" in missing.stderr
    forged = git(world, tmp_path, "ls-remote", remote(world, "HRKU-nope", world.team_app))
    assert forged.returncode != 0


def test_no_door_is_left_without_a_kind() -> None:
    kinds: dict[Door, int] = {}
    for value in RULES.values():
        kinds[value.door] = kinds.get(value.door, 0) + 1
    assert kinds[Door.TOKEN] > 100
    # Each public door is on purpose: a short list, reviewed here.
    public = sorted(k for k, v in RULES.items() if v.door is Door.PUBLIC)
    assert public == [
        "GET /auth/cli/browser/{token}",
        "GET /buildpacks/{namespace}/{name}",
        "GET /schema",
        "GET /tls/ca.crt",
        "GET /tls/info",
        "POST /auth",
        "POST /auth/cli/browser/{token}",
    ]
