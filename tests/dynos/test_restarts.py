"""Dynos die with the server, and the next start brings every formation back; bad input."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import unique_name
from tests.deploy.conftest import BUILDPACKS, User, set_buildpacks
from tests.dynos.conftest import RUNTIME_ARGS, Dynos
from tests.support import ServerProcess, slipway_login


def _describe(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = Path(f"/proc/{pid}/stat").read_text()
            cgroup = Path(f"/proc/{pid}/cgroup").read_text().replace("\n", " ")
        except OSError:
            continue
        out.append(f"{pid} [{stat.split(')')[1].split()[:2]}] {cmd} {cgroup[:300]}")
    return out


def _dyno_pids(uid: int, data_dir: Path) -> list[int]:
    """Host processes running as an app's uid inside this server's dyno mounts.

    Each server numbers its apps' uids from the same start, so another server on the
    machine (the suite's shared ones) may run dynos as the same uid; a dyno of this one
    has this server's data dir in its mounts (its overlay's layers live there)."""
    pids = []
    marker = str(data_dir.resolve())
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid != uid:
                    continue
                if marker in Path(f"/proc/{entry}/mountinfo").read_text():
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def test_kill_9_leaves_no_orphan_and_a_restart_brings_the_formation_back(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path / "data", extra_args=RUNTIME_ARGS).start()
    try:
        user = User(tmp_path / "home", server)
        user.home.mkdir()
        slipway_login(user.env, server.api_key)
        repo = user.repo("dynos", tmp_path / "app")
        name = user.create_app(repo, unique_name("rs"))
        set_buildpacks(server, name, BUILDPACKS / "plain")
        assert user.push(repo).returncode == 0
        dynos = Dynos(server, name)
        dynos.scale(web=2, worker=1)
        dynos.wait(
            lambda: dynos.states() == ["web.1:up", "web.2:up", "worker.1:up"],
            what="the formation up",
        )
        uid = dynos.get("web.1")["uid"]
        assert len(_dyno_pids(uid, server.data_dir)) >= 3
        server.stop(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _dyno_pids(uid, server.data_dir):
            orphans = _describe(_dyno_pids(uid, server.data_dir))
            assert time.monotonic() < deadline, f"orphans: {orphans}"
            time.sleep(0.1)

        started = time.monotonic()
        server.start()
        dynos.wait(
            lambda: dynos.states() == ["web.1:up", "web.2:up", "worker.1:up"],
            what="the formation back after a restart",
        )
        elapsed = time.monotonic() - started
        print(f"server start to every dyno up: {elapsed:.2f}s")
        assert dynos.get("web.2")["release"] == "v2"
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("update", "status", "message"),
    [
        ({"type": "web", "quantity": "13"}, 422, "the limit is 12 per app"),
        # "-1" is relative (web-1); a negative absolute quantity is refused.
        ({"type": "web", "quantity": -1}, 422, "Quantity for web can't be negative"),
        (
            {"type": "web", "quantity": "1", "size": "huge-9X"},
            422,
            "Dyno size 'huge-9X' is not known",
        ),
        # Heroku answers not_found for a process type the release does not have.
        ({"type": "nope", "quantity": "1"}, 404, "Couldn't find that process type (nope)"),
    ],
)
def test_bad_scaling_is_refused_with_one_sentence(
    deployed: tuple[Dynos, Path], update: dict[str, str | int], status: int, message: str
) -> None:
    dynos, _ = deployed
    with dynos.api() as api:
        response = api.patch(f"/apps/{dynos.app}/formation", json={"updates": [update]})
    assert response.status_code == status, response.text
    assert message in response.json()["message"]
    assert dynos.states() == ["web.1:up"]


def test_the_slipway_cli_shows_and_controls_dynos(
    deployed: tuple[Dynos, Path], runtime_user: User
) -> None:
    dynos, repo = deployed
    assert runtime_user.slipway("ps:scale", "worker=1", cwd=repo).returncode == 0
    dynos.wait(lambda: dynos.states("worker") == ["worker.1:up"], what="worker.1")
    with dynos.api() as api:
        info = api.get(f"/apps/{dynos.app}/dynos/worker.1")
        assert info.status_code == 200, info.text
        assert (info.json()["name"], info.json()["type"]) == ("worker.1", "worker")
        assert info.json()["release"]["version"] == 2
        assert api.get(f"/apps/{dynos.app}/dynos/worker.7").status_code == 404
    shown = runtime_user.slipway("ps", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert "=== web (Basic): python3 web.py (1)" in shown.stdout
    assert "worker.1: up" in shown.stdout
    resized = runtime_user.slipway("ps:type", "worker=standard-2X", cwd=repo)
    assert resized.returncode == 0, resized.stderr
    dynos.wait(
        lambda: [d["size"] for d in dynos.all() if d["type"] == "worker"] == ["Standard-2X"],
        what="worker.1 replaced at its new size",
    )
    restarted = runtime_user.slipway("ps:restart", "web", cwd=repo)
    assert restarted.returncode == 0, restarted.stderr
    stopped = runtime_user.slipway("ps:stop", "worker.1", cwd=repo)
    assert stopped.returncode == 0, stopped.stderr
    missing = runtime_user.slipway("ps:restart", "web.9", cwd=repo)
    assert missing.returncode == 1
    assert "Couldn't find that dyno (web.9)" in missing.stderr
