"""Add-ons on a running platform: a deployed app uses DATABASE_URL and REDIS_URL for real.

The runtime server has no --postgres-admin-url, so these run on the embedded
cluster the platform starts under its data dir; `test_an_admin_url_server` covers
the machine's own PostgreSQL.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unique_name
from tests.deploy.conftest import BUILDPACKS, User, set_buildpacks
from tests.dynos.conftest import Dynos
from tests.support import ServerProcess, slipway_login


def through_router(dynos: Dynos, path: str) -> dict[str, object]:
    response = httpx.get(
        f"http://127.0.0.1:{dynos.server.router_port}{path}",
        headers={"Host": f"{dynos.app}.localhost"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def config_of(dynos: Dynos) -> dict[str, str]:
    with dynos.api() as api:
        result: dict[str, str] = api.get(f"/apps/{dynos.app}/config-vars").json()
        return result


def test_a_deployed_app_uses_postgres_and_redis(
    deployed: tuple[Dynos, Path], runtime_user: User, tmp_path: Path
) -> None:
    dynos, repo = deployed
    created = runtime_user.slipway("addons:create", "heroku-postgresql", cwd=repo)
    assert created.returncode == 0, created.stderr
    assert re.search(
        r"Created postgresql-\w+-\d+ as DATABASE_URL, HEROKU_POSTGRESQL_\w+_URL", created.stdout
    )
    redis = runtime_user.slipway("addons:create", "redis", cwd=repo)
    assert redis.returncode == 0, redis.stderr
    config = config_of(dynos)
    assert config["DATABASE_URL"].startswith("postgres://")
    assert config["REDIS_URL"].startswith("redis://")
    releases = dynos.releases()
    assert releases[-2]["description"].startswith("Attach DATABASE (@ref:postgresql-")
    assert releases[-1]["description"].startswith("Attach REDIS (@ref:redis-")
    dynos.wait(lambda: dynos.releases()[-1]["status"] == "succeeded", what="dynos rolled over")

    assert through_router(dynos, "/db?put=first") == {"notes": "first"}
    assert through_router(dynos, "/cache?put=hello") == {"greeting": "hello"}
    assert through_router(dynos, "/db") == {"notes": "first"}
    psql = runtime_user.slipway("pg:psql", "-c", "SELECT body FROM notes", cwd=repo)
    assert psql.returncode == 0, psql.stderr
    assert "first" in psql.stdout
    cli = runtime_user.slipway("redis:cli", "-c", "GET greeting", cwd=repo)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip() == "hello"
    assert "Version:" in runtime_user.slipway("redis:info", cwd=repo).stdout

    # Rollback moves code and config vars, never add-ons.
    v2 = next(r for r in releases if r["version"] == 2)
    rolled = runtime_user.slipway("releases:rollback", f"v{v2['version']}", cwd=repo)
    assert rolled.returncode == 0, rolled.stderr
    assert config_of(dynos)["DATABASE_URL"] == config["DATABASE_URL"]
    assert config_of(dynos)["REDIS_URL"] == config["REDIS_URL"]

    # A second app shares the database.
    other_repo = runtime_user.repo("dynos", tmp_path / "other")
    other_name = runtime_user.create_app(other_repo, unique_name("dy"))
    set_buildpacks(dynos.server, other_name, BUILDPACKS / "plain")
    assert runtime_user.push(other_repo).returncode == 0
    other = Dynos(dynos.server, other_name)
    addon = next(a for a in _addons(dynos) if a["addon_service"]["name"] == "heroku-postgresql")
    attached = runtime_user.slipway("addons:attach", addon["name"], "-a", other_name, cwd=repo)
    assert attached.returncode == 0, attached.stderr
    assert config_of(other)["DATABASE_URL"] == config["DATABASE_URL"]
    other.wait(lambda: other.releases()[-1]["status"] == "succeeded", what="other rolled over")
    # The router learns of the new dynos within moments of the release succeeding.
    other.wait(lambda: "notes" in through_router(other, "/db"), what="other sees DATABASE_URL")
    assert through_router(other, "/db?put=second") == {"notes": "first,second"}

    # Destroying the add-on still attached elsewhere needs --force.
    refused = runtime_user.slipway(
        "addons:destroy", addon["name"], "--confirm", dynos.app, cwd=repo
    )
    assert refused.returncode == 1
    assert f"is also attached to {other_name}" in refused.stderr
    gone = runtime_user.slipway(
        "addons:destroy", addon["name"], "--confirm", dynos.app, "--force", cwd=repo
    )
    assert gone.returncode == 0, gone.stderr
    assert "DATABASE_URL" not in config_of(dynos)
    assert "DATABASE_URL" not in config_of(other)
    assert other.releases()[-1]["description"].startswith("Detach DATABASE")
    probe = subprocess.run(
        ["psql", config["DATABASE_URL"], "-XAtc", "select 1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert probe.returncode != 0, "the database and its role are gone"
    with other.api() as api:
        api.delete(f"/apps/{other_name}")


def _addons(dynos: Dynos) -> list[dict[str, Any]]:
    with dynos.api() as api:
        result: list[dict[str, Any]] = api.get(f"/apps/{dynos.app}/addons").json()
        return result


def test_backups_capture_and_restore(
    deployed: tuple[Dynos, Path], runtime_user: User, tmp_path: Path
) -> None:
    dynos, repo = deployed
    assert runtime_user.slipway("addons:create", "heroku-postgresql", cwd=repo).returncode == 0
    url = config_of(dynos)["DATABASE_URL"]

    def sql(statement: str) -> str:
        done = subprocess.run(
            ["psql", url, "-XAtc", statement], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    sql("CREATE TABLE t (v int); INSERT INTO t VALUES (1), (2);")
    captured = runtime_user.slipway("pg:backups:capture", cwd=repo)
    assert captured.returncode == 0, captured.stderr
    assert "b001" in captured.stderr
    sql("DELETE FROM t;")
    assert sql("SELECT count(*) FROM t") == "0"
    restored = runtime_user.slipway("pg:backups:restore", "--confirm", dynos.app, cwd=repo)
    assert restored.returncode == 0, restored.stderr
    assert sql("SELECT string_agg(v::text, ',' ORDER BY v) FROM t") == "1,2"
    listed = runtime_user.slipway("pg:backups", cwd=repo)
    assert "b001" in listed.stdout
    target = tmp_path / "latest.dump"
    downloaded = runtime_user.slipway("pg:backups:download", "-o", str(target), cwd=repo)
    assert downloaded.returncode == 0, downloaded.stderr
    assert target.read_bytes().startswith(b"PGDMP")
    info = runtime_user.slipway("pg:info", cwd=repo)
    assert "Tables:" in info.stdout
    rotated = runtime_user.slipway("pg:credentials:rotate", "--confirm", dynos.app, cwd=repo)
    assert rotated.returncode == 0, rotated.stderr
    new_url = config_of(dynos)["DATABASE_URL"]
    assert new_url != url
    old = subprocess.run(["psql", url, "-XAtc", "select 1"], capture_output=True, timeout=30)
    assert old.returncode != 0, "the old password no longer works"


def test_bad_add_on_requests_get_one_sentence(
    deployed: tuple[Dynos, Path], runtime_user: User
) -> None:
    dynos, repo = deployed
    unknown = runtime_user.slipway("addons:create", "heroku-mongodb", cwd=repo)
    assert unknown.returncode == 1
    assert "heroku-mongodb" in unknown.stderr
    assert "heroku-postgresql" in unknown.stderr
    plan = runtime_user.slipway("addons:create", "heroku-redis:gigantic", cwd=repo)
    assert plan.returncode == 1
    assert "has no plan 'gigantic'" in plan.stderr
    assert runtime_user.slipway("addons:create", "redis", "--as", "CACHE", cwd=repo).returncode == 0
    duplicate = runtime_user.slipway("addons:create", "redis", "--as", "CACHE", cwd=repo)
    assert duplicate.returncode == 1
    assert "already has an attachment named CACHE" in duplicate.stderr
    assert [a["addon_service"]["name"] for a in _addons(dynos)] == ["heroku-redis"]
    # No add-on credentials, nor the platform's, ever reach the app's logs.
    secret = config_of(dynos)["CACHE_URL"].rsplit("@", 1)[0].rsplit(":", 1)[1]
    assert not any(secret in line for line in dynos.logs())


@pytest.mark.postgres
def test_an_admin_url_server_and_one_that_is_down(tmp_path: Path) -> None:
    admin = os.environ.get("SLIPWAY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    for url, works in ((admin, True), ("postgresql://postgres@127.0.0.1:1/postgres", False)):
        data = tmp_path / ("up" if works else "down")
        server = ServerProcess(data / "data", extra_args=("--postgres-admin-url", url)).start()
        try:
            user = User(data / "home", server)
            user.home.mkdir(parents=True)
            slipway_login(user.env, server.api_key)
            repo = user.repo("dynos", data / "app")
            name = user.create_app(repo, unique_name("pg"))
            created = user.slipway("addons:create", "heroku-postgresql", "-a", name, cwd=repo)
            if works:
                assert created.returncode == 0, created.stderr
                with server.client() as api:
                    config = api.get(f"/apps/{name}/config-vars").json()
                # The named server itself when it speaks TLS, else the platform's TLS front
                # on the address dynos reach add-ons at (the dyno bridge, or loopback).
                url = config["DATABASE_URL"]
                assert ":5432/" in url or re.search(r"@(127\.0\.0\.1|172\.3[01]\.\d+\.1):", url)
                destroyed = user.slipway(
                    "addons:destroy", "DATABASE", "--confirm", name, "-a", name, cwd=repo
                )
                assert destroyed.returncode == 0, destroyed.stderr
            else:
                assert created.returncode == 1
                assert "Could not reach the PostgreSQL server at 127.0.0.1:1" in created.stderr
                with server.client() as api:
                    assert api.get(f"/apps/{name}/addons").json() == []
                    assert "DATABASE_URL" not in api.get(f"/apps/{name}/config-vars").json()
        finally:
            server.stop()
