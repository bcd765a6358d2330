"""The official heroku CLI against real dynos: ps, ps:scale, ps:restart, ps:stop, run."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.compat.conftest import HerokuRun
from tests.deploy.conftest import BUILDPACKS, User, set_buildpacks
from tests.support import ServerProcess, slipway_login

pytestmark = pytest.mark.heroku_cli


@pytest.fixture
def app(sqlite_server: ServerProcess, tmp_path: Path) -> str:
    home = tmp_path / "dev-home"
    home.mkdir()
    user = User(home, sqlite_server)
    slipway_login(user.env, sqlite_server.api_key)
    repo = user.repo("dynos", tmp_path / "app")
    name = user.create_app(repo)
    set_buildpacks(sqlite_server, name, BUILDPACKS / "plain")
    pushed = user.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    return name


def _ps(heroku: HerokuRun, app: str) -> str:
    result = heroku("ps", "-a", app)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_ps_scale_restart_and_stop(heroku: HerokuRun, app: str) -> None:
    assert re.search(r"=== web \(Basic\): python3 web.py \(1\)\s+web\.1: up ", _ps(heroku, app))
    scaled = heroku("ps:scale", "web=2", "worker=1", "-a", app)
    assert scaled.returncode == 0, scaled.stderr
    assert "web at 2:Basic" in scaled.stderr
    deadline = time.monotonic() + 30
    while not re.search(r"web\.2: up.*\n(.|\n)*worker\.1: up", _ps(heroku, app)):
        assert time.monotonic() < deadline, _ps(heroku, app)
        time.sleep(0.3)
    restarted = heroku("ps:restart", "-a", app)
    assert restarted.returncode == 0, restarted.stderr
    stopped = heroku("ps:stop", "worker", "-a", app)
    assert stopped.returncode == 0, stopped.stderr
    for target in (("-p", "web"), ("-d", "web.1")):
        again = heroku("ps:restart", *target, "-a", app)
        assert again.returncode == 0, again.stderr
    resized = heroku("ps:type", "worker=standard-2X", "-a", app)
    assert resized.returncode == 0, resized.stderr
    assert re.search(r"worker\s+Standard-2X\s+1", resized.stdout)
    heroku("ps:scale", "web=1", "worker=0", "-a", app)
    # Eco apps show what is left of the account's eco hours.
    assert heroku("ps:type", "web=eco", "-a", app).returncode == 0
    assert "Eco dyno hours quota remaining this month: 1000h 0m" in _ps(heroku, app)


def test_heroku_run_attached_with_exit_code(heroku: HerokuRun, app: str) -> None:
    result = heroku("run", "-x", "--no-tty", "echo from $DYNO; sh -c 'exit 3'", "-a", app)
    assert result.returncode == 3, result.stderr
    assert re.search(r"from run\.\d+", result.stdout)
    ok = heroku("run", "--no-tty", "python3 -c 'print(6*7)'", "-a", app)
    assert ok.returncode == 0, ok.stderr
    assert "42" in ok.stdout


def test_heroku_run_detached(heroku: HerokuRun, app: str) -> None:
    result = heroku("run:detached", "echo detached", "-a", app)
    assert result.returncode == 0, result.stderr
    assert re.search(r"heroku logs --app \S+ --dyno run\.\d+", result.stdout + result.stderr)
