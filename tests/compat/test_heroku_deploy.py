"""The official heroku CLI: git:remote, git push heroku main, and buildpacks commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import unique_name
from tests.deploy.conftest import APPS, BUILDPACKS
from tests.support import ServerProcess, slipway_bin, slipway_login

pytestmark = pytest.mark.heroku_cli


def test_git_remote_and_git_push_heroku_main(
    heroku_bin: Path, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    base_env = {"PATH": os.environ["PATH"], "HOME": str(home), "SLIPWAY_API_URL": sqlite_server.url}
    slipway_login(base_env, sqlite_server.api_key)
    # The environment `slipway heroku-env` prints, as a user would eval it.
    exports = subprocess.run(
        [slipway_bin(), "heroku-env"], env=base_env, capture_output=True, text=True, check=True
    ).stdout
    env = dict(base_env)
    for line in exports.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    assert env["HEROKU_GIT_HOST"] == f"127.0.0.1:{sqlite_server.git_port}"
    assert Path(env["NODE_EXTRA_CA_CERTS"]).read_text().startswith("-----BEGIN CERTIFICATE")
    # git runs `heroku git:credentials` as its credential helper, so heroku must be on PATH.
    env["PATH"] = f"{heroku_bin.parent}:{env['PATH']}"
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Dev",
        GIT_AUTHOR_EMAIL="dev@example.com",
        GIT_COMMITTER_NAME="Dev",
        GIT_COMMITTER_EMAIL="dev@example.com",
    )

    def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )

    repo = tmp_path / "site"
    shutil.copytree(APPS / "static", repo)
    run("git", "init", "-q", "-b", "main", cwd=repo)
    run("git", "add", "-A", cwd=repo)
    run("git", "commit", "-qm", "initial", cwd=repo)
    name = unique_name("hk")
    created = run("heroku", "apps:create", name, "--no-remote", cwd=repo)
    assert created.returncode == 0, created.stderr
    remote = run("heroku", "git:remote", "-a", name, cwd=repo)
    assert remote.returncode == 0, remote.stderr
    url = run("git", "remote", "get-url", "heroku", cwd=repo).stdout.strip()
    assert url == f"https://127.0.0.1:{sqlite_server.git_port}/{name}.git"

    local = f"file://{BUILDPACKS / 'static'}"
    assert run("heroku", "buildpacks:set", local, "-a", name, cwd=repo).returncode == 0
    assert local in run("heroku", "buildpacks", "-a", name, cwd=repo).stdout

    pushed = run("git", "push", "heroku", "main", cwd=repo)
    assert pushed.returncode == 0, pushed.stderr
    assert "remote: -----> Static app detected" in pushed.stderr
    assert "Released v2" in pushed.stderr
    releases = run("heroku", "releases", "-a", name, cwd=repo).stdout
    assert re.search(r"v2\s+Deploy [0-9a-f]{8}", releases)

    # The registry lookup the CLI makes for a ns/name buildpack.
    assert run("heroku", "buildpacks:set", "heroku/python", "-a", name, cwd=repo).returncode == 0
    # The other built-ins resolve the same way (the CLI looks each name up first).
    for other in ("heroku/ruby", "heroku/java"):
        assert run("heroku", "buildpacks:set", other, "-a", name, cwd=repo).returncode == 0
    assert run("heroku", "buildpacks:set", "heroku/python", "-a", name, cwd=repo).returncode == 0
    assert "heroku/python" in run("heroku", "buildpacks", "-a", name, cwd=repo).stdout
    assert run("heroku", "buildpacks:add", "heroku/nodejs", "-a", name, cwd=repo).returncode == 0
    assert run("heroku", "buildpacks:remove", "heroku/python", "-a", name, cwd=repo).returncode == 0
    assert "heroku/nodejs" in run("heroku", "buildpacks", "-a", name, cwd=repo).stdout
    assert run("heroku", "buildpacks:clear", "-a", name, cwd=repo).returncode == 0
    assert "has no Buildpacks" in run("heroku", "buildpacks", "-a", name, cwd=repo).stdout
