"""Eco dynos draw on the account's monthly pool of eco hours; when it is empty they sleep."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import unique_name
from tests.deploy.conftest import BUILDPACKS, User, set_buildpacks
from tests.dynos.conftest import RUNTIME_ARGS, Dynos
from tests.support import ServerProcess, slipway_login


def test_eco_apps_sleep_when_the_pool_runs_out(tmp_path: Path) -> None:
    # A pool of 3.6 seconds charged every half second; idling (after a minute) stays out of it.
    args = (
        *RUNTIME_ARGS,
        "--eco-hours",
        "0.001",
        "--eco-report-interval",
        "0.5",
        "--idle-after",
        "1",
    )
    server = ServerProcess(tmp_path / "data", extra_args=args).start()
    try:
        user = User(tmp_path / "home", server)
        user.home.mkdir()
        slipway_login(user.env, server.api_key)
        repo = user.repo("dynos", tmp_path / "app")
        name = user.create_app(repo, unique_name("eco"))
        set_buildpacks(server, name, BUILDPACKS / "plain")
        assert user.push(repo).returncode == 0
        dynos = Dynos(server, name)
        before = user.slipway("ps", cwd=repo)
        assert "Eco dyno hours" not in before.stdout, "basic dynos don't use the pool"
        assert user.slipway("ps:type", "web=eco", cwd=repo).returncode == 0
        dynos.wait(
            lambda: [d["size"] for d in dynos.all()] == ["Eco"] and dynos.states() == ["web.1:up"],
            what="an eco web dyno",
        )
        dynos.wait(lambda: dynos.routes().get("state") == "quota", timeout=30, what="sleep")
        dynos.wait(lambda: dynos.states() == [], what="the dynos stopped")
        logs = dynos.logs()
        assert any("Eco dyno hours for this month are used up" in line for line in logs)
        assert any(line.endswith("heroku[web.1]: Idling") for line in logs)
        shown = user.slipway("ps", cwd=repo)
        assert "Eco dyno hours quota remaining this month: 0h 0m (0%)" in shown.stdout
        # Back to a size that never sleeps: the app runs again.
        assert user.slipway("ps:type", "web=basic", cwd=repo).returncode == 0
        dynos.wait(lambda: dynos.states() == ["web.1:up"], what="web.1 back on basic")
    finally:
        server.stop()
