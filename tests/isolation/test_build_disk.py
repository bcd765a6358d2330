"""A build's disk is capped (`--build-disk`): a buildpack that writes more than the cap
into its build directory, its cache or /tmp (or one that removes what it wrote before it
fails) fails with one clear sentence, the release that was serving keeps serving, a
neighbour's build at the same time succeeds, the cache stays warm across builds, and
nothing (no mount, loop device, image or file) is left on the host, not even after a
kill -9 of the process that holds a build's disk."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from slipway.builder.disk import BuildDisks
from tests.conftest import unique_name
from tests.deploy.conftest import BUILDPACKS, User, releases, set_buildpacks
from tests.dynos.conftest import wait_for
from tests.isolation.conftest import BUILD_DISK_MB
from tests.support import ServerProcess

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="build disks need root")

FULL = f"The build ran out of disk space ({BUILD_DISK_MB} MB)"


def serving(server: ServerProcess, app: str) -> str:
    response = httpx.get(
        f"http://127.0.0.1:{server.router_port}/",
        headers={"Host": f"{app}.localhost"},
        timeout=30,
    )
    return response.text if response.status_code == 200 else f"HTTP {response.status_code}"


def site(user: User, server: ServerProcess, dest: Path, text: str) -> tuple[Path, str]:
    repo = user.repo("static", dest)
    (repo / "index.html").write_text(text)
    user.commit(repo, "site")
    app = user.create_app(repo, unique_name("disk"))
    set_buildpacks(server, app, BUILDPACKS / "disk-filler")
    return repo, app


def test_a_build_that_fills_its_disk_fails_alone(
    escape_server: ServerProcess, escape_user: User, tmp_path: Path
) -> None:
    server, user = escape_server, escape_user
    repo, app = site(user, server, tmp_path / "filler", "first\n")
    first = user.push(repo)
    assert first.returncode == 0, first.stderr
    assert "cache: cold" in first.stderr
    wait_for(lambda: serving(server, app) == "first\n", timeout=30, what=f"{app} to serve")
    released = len(releases(server, app))

    neighbour, other = site(user, server, tmp_path / "neighbour", "neighbour\n")
    # Another app's build at the same moment as the first full one has a disk of its own.
    pushed: list[subprocess.CompletedProcess[str]] = []
    thread = threading.Thread(target=lambda: pushed.append(user.push(neighbour)))
    for where in ("build", "tmp", "cache", "tidy"):
        (repo / ".fill").write_text(f"{where} {BUILD_DISK_MB + 16}\n")
        (repo / "index.html").write_text(f"filled {where}\n")
        user.commit(repo, f"fill {where}")
        if where == "build":
            thread.start()
        failed = user.push(repo)
        assert failed.returncode != 0
        assert f"writing {BUILD_DISK_MB + 16} MB into" in failed.stderr
        assert "survived" not in failed.stderr
        assert FULL in failed.stderr, failed.stderr
        assert "Push rejected, failed to compile" not in failed.stderr
        assert len(releases(server, app)) == released
        assert serving(server, app) == "first\n"
        if where == "build":
            thread.join(120)
            (neighbour_push,) = pushed
            assert neighbour_push.returncode == 0, neighbour_push.stderr

    wait_for(lambda: serving(server, other) == "neighbour\n", timeout=30, what=f"{other}")
    (repo / ".fill").unlink()
    (repo / "index.html").write_text("second\n")
    user.commit(repo, "no fill")
    second = user.push(repo)
    assert second.returncode == 0, second.stderr
    # The first build's cache was kept; the full builds' were not.
    assert "cache: warm" in second.stderr
    wait_for(lambda: serving(server, app) == "second\n", timeout=30, what=f"{app} v2 to serve")
    with server.client() as api:
        app_id = api.get(f"/apps/{app}").json()["id"]
    cache = server.data_dir / "cache" / app_id
    assert (cache / "marker").is_file()
    assert not (cache / "filler").exists()

    # Nothing of the builds is left on the host: no filler, mount, loop device or image.
    work = server.data_dir / "work"
    assert not [p for p in work.iterdir() if p.name.startswith("build-") or ".img" in p.name]
    assert not list(server.data_dir.rglob("filler"))
    assert str(work) not in Path("/proc/self/mountinfo").read_text()
    loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=False)
    assert str(work) not in loops.stdout


HOLD_A_BUILD_DISK = """
import sys, time
from pathlib import Path
from slipway.builder.disk import BuildDisks
root = Path(sys.argv[1])
disks = BuildDisks(root, 64)
(root / "build-1").mkdir()
with disks.workspace(root / "build-1", root / "cache", None, print) as space:
    (space.work_dir / "app").mkdir()
    print("ready", flush=True)
    time.sleep(120)
"""


def test_a_kill_9_mid_build_leaves_no_mount_loop_device_or_image(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_BUILD_DISK, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"

    def loops() -> str:
        return subprocess.run(
            ["losetup", "-l", "-n", "-O", "BACK-FILE"], capture_output=True, text=True, check=False
        ).stdout

    assert str(tmp_path) in loops()
    proc.kill()
    proc.wait()
    wait_for(lambda: str(tmp_path) not in loops(), timeout=10, what="the loop device to go")
    assert str(tmp_path) not in Path("/proc/self/mountinfo").read_text()
    holders = subprocess.run(["pgrep", "-f", f"build-disk .*{tmp_path}"], capture_output=True)
    assert holders.returncode == 1, holders.stdout
    # What is left (the empty build directory) goes when the next server starts.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build-1", "cache"]
    BuildDisks(tmp_path, 64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]
