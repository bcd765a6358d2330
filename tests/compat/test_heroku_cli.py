"""The official heroku CLI 11.10.0 works unchanged against `slipway server`."""

from __future__ import annotations

import re

import pytest

from tests.compat.conftest import HerokuRun
from tests.conftest import unique_name
from tests.support import ServerProcess

pytestmark = pytest.mark.heroku_cli


def ok(result: object) -> str:
    import subprocess

    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return str(result.stdout)


def test_auth_whoami(heroku: HerokuRun) -> None:
    assert ok(heroku("auth:whoami")).strip() == "admin@slipway.localhost"


def test_apps_create_list_info_rename_destroy(heroku: HerokuRun) -> None:
    name = unique_name("hk")
    out = ok(heroku("apps:create", name))
    assert re.search(rf"http://{name}\.localhost:\d+/", out)
    assert name in ok(heroku("apps"))
    info = ok(heroku("apps:info", "-a", name))
    assert re.search(r"Owner:\s+admin@slipway.localhost", info)
    assert re.search(r"Stack:\s+heroku-24", info)
    assert re.search(r"Web URL:\s+http://" + re.escape(name), info)

    new = unique_name("hk")
    ok(heroku("apps:rename", new, "-a", name))
    assert new in ok(heroku("apps"))
    assert name not in ok(heroku("apps")).split()
    ok(heroku("apps:destroy", "-a", new, "--confirm", new))
    assert new not in ok(heroku("apps"))
    gone = heroku("apps:info", "-a", new)
    assert gone.returncode != 0
    assert "Couldn't find that app" in gone.stderr


def test_apps_create_without_a_name(heroku: HerokuRun) -> None:
    result = heroku("apps:create")
    out = ok(result)
    assert re.search(r"http://[a-z]+-[a-z]+-\d+\.localhost:\d+/", out)


def test_config_set_get_unset(heroku: HerokuRun) -> None:
    name = unique_name("hk")
    ok(heroku("apps:create", name))
    result = heroku("config:set", "A=1", "B=hello world", "-a", name)
    ok(result)
    assert "done, v2" in result.stderr
    config = ok(heroku("config", "-a", name))
    assert re.search(r"A:\s+1", config)
    assert re.search(r"B:\s+hello world", config)
    assert ok(heroku("config:get", "B", "-a", name)).strip() == "hello world"
    result = heroku("config:unset", "A", "-a", name)
    ok(result)
    assert "done, v3" in result.stderr
    assert not re.search(r"^A:", ok(heroku("config", "-a", name)), re.M)


def test_releases_info_and_rollback(heroku: HerokuRun, sqlite_server: ServerProcess) -> None:
    name = unique_name("hk")
    ok(heroku("apps:create", name))
    ok(heroku("config:set", "A=1", "-a", name))
    ok(heroku("config:set", "A=2", "-a", name))
    releases = ok(heroku("releases", "-a", name))
    assert "Current: v3" in releases
    assert "Initial release" in releases
    assert "Set A config vars" in releases
    info = ok(heroku("releases:info", "v2", "-a", name))
    assert "Set A config vars" in info
    assert re.search(r"A:\s+1", info)
    result = heroku("releases:rollback", "v2", "-a", name)
    ok(result)
    assert "done, v4" in result.stderr
    assert ok(heroku("config:get", "A", "-a", name)).strip() == "1"
    # With no version: the previous eligible release.
    result = heroku("releases:rollback", "-a", name)
    ok(result)
    assert "to v3" in result.stderr
    assert ok(heroku("config:get", "A", "-a", name)).strip() == "2"
    assert "Rollback to v3" in ok(heroku("releases", "-a", name))


def test_ps_scale_unknown_type(heroku: HerokuRun) -> None:
    name = unique_name("hk")
    ok(heroku("apps:create", name))
    result = heroku("ps:scale", "web=2", "-a", name)
    assert result.returncode != 0
    assert "Couldn't find that process type (web)." in result.stderr
    assert "Error ID: not_found" in result.stderr


def test_ps_scale_known_types(heroku: HerokuRun, sqlite_server: ServerProcess) -> None:
    name = unique_name("hk")
    ok(heroku("apps:create", name))
    with sqlite_server.client() as api:
        slug = api.post(
            f"/apps/{name}/slugs", json={"process_types": {"web": "x", "worker": "y"}}
        ).json()
        api.post(f"/apps/{name}/releases", json={"slug": slug["id"]})
    result = heroku("ps:scale", "web=2:Standard-2X", "worker+1", "-a", name)
    ok(result)
    assert "web at 2:Standard-2X" in result.stderr
    assert "web=2:Standard-2X worker=1:Basic" in ok(heroku("ps:scale", "-a", name))
