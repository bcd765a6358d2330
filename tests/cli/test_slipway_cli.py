"""The `slipway` CLI, run as a user runs it, against a real server."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import unique_name
from tests.support import ServerProcess, slipway_bin

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def slipway(sqlite_server: ServerProcess, tmp_home: Path) -> Run:
    env = {
        **os.environ,
        "HOME": str(tmp_home),
        "SLIPWAY_API_URL": sqlite_server.url,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    env.pop("SLIPWAY_API_KEY", None)
    env.pop("NETRC", None)

    def run(
        *args: str, input: str | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [slipway_bin(), *args],
            env=env,
            input=input,
            capture_output=True,
            text=True,
            cwd=cwd or tmp_home,
            timeout=60,
            check=False,
        )

    return run


@pytest.fixture
def logged_in(slipway: Run, sqlite_server: ServerProcess) -> Run:
    result = slipway("login", input=sqlite_server.api_key + "\n")
    assert result.returncode == 0, result.stderr
    return slipway


def test_login_writes_netrc_under_the_api_host(
    slipway: Run, sqlite_server: ServerProcess, tmp_home: Path
) -> None:
    result = slipway("auth:whoami")
    assert result.returncode == 100
    assert "not logged in" in result.stderr
    assert "Traceback" not in result.stderr
    result = slipway("login", input=sqlite_server.api_key + "\n")
    assert result.returncode == 0
    assert "Logged in as admin@slipway.localhost" in result.stdout
    netrc = (tmp_home / ".netrc").read_text()
    assert f"machine 127.0.0.1:{sqlite_server.port}" in netrc
    assert sqlite_server.api_key in netrc
    assert oct((tmp_home / ".netrc").stat().st_mode & 0o777) == "0o600"
    assert slipway("auth:whoami").stdout.strip() == "admin@slipway.localhost"
    assert slipway("whoami").stdout.strip() == "admin@slipway.localhost"
    assert slipway("logout").returncode == 0
    assert slipway("auth:whoami").returncode == 100


def test_login_with_a_bad_key(slipway: Run) -> None:
    result = slipway("login", "--api-key", "HRKU-wrong")
    assert result.returncode == 100
    assert "not accepted" in result.stderr


def test_apps_lifecycle(logged_in: Run) -> None:
    name = unique_name("cli")
    created = logged_in("apps:create", name)
    assert created.returncode == 0, created.stderr
    assert re.search(rf"http://{name}\.localhost:\d+/", created.stdout)
    assert name in logged_in("apps").stdout
    assert name in [a["name"] for a in json.loads(logged_in("apps", "--json").stdout)]

    info = logged_in("apps:info", "-a", name)
    assert "Owner:" in info.stdout
    assert "admin@slipway.localhost" in info.stdout
    assert json.loads(logged_in("apps:info", "-a", name, "--json").stdout)["app"]["name"] == name

    new = unique_name("cli")
    assert logged_in("apps:rename", new, "-a", name).returncode == 0
    assert logged_in("apps:info", "-a", name).returncode == 1

    refused = logged_in("apps:destroy", "-a", new, "--confirm", "wrong")
    assert refused.returncode == 1
    assert "did not match" in refused.stderr
    assert logged_in("apps:destroy", "-a", new).returncode == 1  # no TTY, no --confirm
    assert logged_in("apps:destroy", "-a", new, "--confirm", new).returncode == 0
    gone = logged_in("apps:info", "-a", new)
    assert gone.returncode == 1
    assert "Couldn't find that app." in gone.stderr


def test_generated_name(logged_in: Run) -> None:
    created = logged_in("apps:create", "--json")
    assert created.returncode == 0
    name = json.loads(created.stdout)["name"]
    assert name.count("-") == 2


def test_config_and_releases(logged_in: Run) -> None:
    name = unique_name("cfg")
    logged_in("apps:create", name)
    result = logged_in("config:set", "A=1", "B=two words", "URL=x=y", "-a", name)
    assert result.returncode == 0, result.stderr
    assert "done, v2" in result.stderr
    assert re.search(r"^B:\s+two words$", result.stdout, re.M)
    assert logged_in("config:get", "URL", "-a", name).stdout == "x=y\n"
    assert logged_in("config:get", "MISSING", "-a", name).stdout == "\n"
    assert json.loads(logged_in("config", "-a", name, "--json").stdout) == {
        "A": "1",
        "B": "two words",
        "URL": "x=y",
    }
    assert "B='two words'" in logged_in("config", "-a", name, "--shell").stdout
    unset = logged_in("config:unset", "B", "-a", name)
    assert "done, v3" in unset.stderr

    releases = logged_in("releases", "-a", name)
    assert "Current: v3" in releases.stdout
    assert "Remove B config vars" in releases.stdout
    assert "Set A, B, URL config vars" in releases.stdout
    listed = json.loads(logged_in("releases", "-a", name, "--json").stdout)
    assert [r["version"] for r in listed] == [3, 2, 1]

    info = logged_in("releases:info", "v2", "-a", name)
    assert "Set A, B, URL config vars" in info.stdout
    assert re.search(r"^B:\s+two words$", info.stdout, re.M)
    assert json.loads(logged_in("releases:info", "-a", name, "--json").stdout)["version"] == 3

    rollback = logged_in("releases:rollback", "-a", name)
    assert rollback.returncode == 0, rollback.stderr
    assert "Rolling back" in rollback.stderr
    assert "to v2... done, v4" in rollback.stderr
    assert json.loads(logged_in("config", "-a", name, "--json").stdout)["B"] == "two words"
    assert "done, v5" in logged_in("rollback", "v1", "-a", name).stderr
    assert json.loads(logged_in("config", "-a", name, "--json").stdout) == {}


def test_bad_input_is_one_sentence(logged_in: Run) -> None:
    name = unique_name("bad")
    logged_in("apps:create", name)
    cases = [
        (("config:set", "NOEQUALS", "-a", name), "KEY=value"),
        (("config:set", "BAD-NAME=1", "-a", name), "invalid"),
        (("releases:info", "v99", "-a", name), "Couldn't find that release"),
        (("apps:create", "Bad_Name"), "is invalid"),
        (("ps:scale", "web=2", "-a", name), "Couldn't find that process type (web)."),
        (("ps:scale", "web=two", "-a", name), "is invalid"),
        (("apps:info", "-a", "no-such-app-x"), "Couldn't find that app."),
    ]
    for args, needle in cases:
        result = logged_in(*args)
        assert result.returncode == 1, args
        assert needle in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) <= 2, result.stderr


def test_app_from_the_slipway_git_remote(logged_in: Run, tmp_path: Path) -> None:
    name = unique_name("git")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    created = logged_in("apps:create", name, cwd=repo)
    assert "Git remote slipway added" in created.stderr
    remote = subprocess.run(
        ["git", "remote", "get-url", "slipway"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    assert remote.stdout.strip().endswith(f"/{name}.git")
    assert logged_in("config:set", "FROM_REMOTE=1", cwd=repo).returncode == 0
    assert "FROM_REMOTE: 1" in logged_in("config", cwd=repo).stdout
    new = unique_name("git")
    assert logged_in("apps:rename", new, cwd=repo).returncode == 0
    assert "FROM_REMOTE" in logged_in("config", cwd=repo).stdout
    no_app = logged_in("config", cwd=tmp_path)
    assert no_app.returncode == 1
    assert "No app specified" in no_app.stderr


def test_ps_scale_after_a_slug_release(logged_in: Run, sqlite_server: ServerProcess) -> None:
    name = unique_name("ps")
    logged_in("apps:create", name)
    with sqlite_server.client() as api:
        slug = api.post(
            f"/apps/{name}/slugs", json={"process_types": {"web": "x", "worker": "y"}}
        ).json()
        api.post(f"/apps/{name}/releases", json={"slug": slug["id"]})
    scaled = logged_in("ps:scale", "web=2:standard-2x", "worker+1", "-a", name)
    assert scaled.returncode == 0, scaled.stderr
    assert "now running web at 2:Standard-2X, worker at 1:Basic" in scaled.stderr
    assert logged_in("ps:scale", "-a", name).stdout.strip() == "web=2:Standard-2X worker=1:Basic"


def test_heroku_env_points_the_official_cli_here(
    logged_in: Run, sqlite_server: ServerProcess
) -> None:
    out = logged_in("heroku-env").stdout
    assert f"export HEROKU_HOST={sqlite_server.url}" in out
    assert f"export HEROKU_PARTICLEBOARD_URL={sqlite_server.url}" in out
    assert "export DISABLE_TELEMETRY=true" in out
    assert sqlite_server.api_key not in out


def test_unreachable_api(slipway: Run, tmp_home: Path) -> None:
    (tmp_home / ".netrc").write_text("machine 127.0.0.1:1 login a password b\n")
    result = slipway("--api-url", "http://127.0.0.1:1", "apps")
    assert result.returncode == 3
    assert "Cannot reach the Slipway API" in result.stderr


def test_buildpacks_commands(logged_in: Run) -> None:
    name = unique_name("bp")
    logged_in("apps:create", name)
    assert "has no Buildpacks" in logged_in("buildpacks", "-a", name).stdout
    set_ = logged_in("buildpacks:set", "heroku/python", "-a", name)
    assert set_.returncode == 0, set_.stderr
    assert "Buildpack set. Next release on" in set_.stdout
    assert logged_in("buildpacks:add", "--index", "1", "heroku/nodejs", "-a", name).returncode == 0
    assert json.loads(logged_in("buildpacks", "-a", name, "--json").stdout) == [
        "heroku/nodejs",
        "heroku/python",
    ]
    duplicate = logged_in("buildpacks:add", "heroku/python", "-a", name)
    assert duplicate.returncode == 1
    assert "already set" in duplicate.stderr
    assert (
        logged_in("buildpacks:set", "-i", "2", "https://github.com/x/y.git", "-a", name).returncode
        == 0
    )
    assert logged_in("buildpacks:remove", "-i", "1", "-a", name).returncode == 0
    assert "https://github.com/x/y.git" in logged_in("buildpacks", "-a", name).stdout
    bad = logged_in("buildpacks:set", "nonsense", "-a", name)
    assert bad.returncode == 1
    assert "is not known" in bad.stderr
    assert logged_in("buildpacks:clear", "-a", name).returncode == 0
    assert json.loads(logged_in("buildpacks", "-a", name, "--json").stdout) == []
    assert "has no builds yet" in logged_in("builds:output", "-a", name).stderr
