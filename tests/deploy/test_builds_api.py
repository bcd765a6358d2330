"""Builds started through the API from a source tarball, limits, and slug collection."""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unique_name
from tests.deploy.conftest import APPS, BUILDPACKS, User, releases, set_buildpacks
from tests.support import ServerProcess, slipway_login


def tarball(sample: str, *, top_dir: str | None = None) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for path in sorted((APPS / sample).rglob("*")):
            arcname = str(path.relative_to(APPS / sample))
            tar.add(path, arcname=f"{top_dir}/{arcname}" if top_dir else arcname, recursive=False)
    return data.getvalue()


def wait_for_build(
    api: httpx.Client, app: str, build_id: str, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        build: dict[str, Any] = api.get(f"/apps/{app}/builds/{build_id}").json()
        if build["status"] != "pending":
            return build
        time.sleep(0.2)
    raise AssertionError(f"build {build_id} still pending")


def test_build_from_an_uploaded_source_tarball(sqlite_server: ServerProcess) -> None:
    app = unique_name("src")
    body = tarball("static", top_dir="site-main")
    with sqlite_server.client() as api:
        api.post("/apps", json={"name": app})
        set_buildpacks(sqlite_server, app, BUILDPACKS / "static")
        source = api.post("/sources").json()["source_blob"]
        assert httpx.put(source["put_url"], content=body).status_code == 200
        created = api.post(
            f"/apps/{app}/builds",
            json={
                "source_blob": {
                    "url": source["get_url"],
                    "version": "v1.2.3",
                    "checksum": "SHA256:" + hashlib.sha256(body).hexdigest(),
                }
            },
        )
        assert created.status_code == 201, created.text
        build = created.json()
        assert build["status"] == "pending"
        # The output URL carries its own token: no Authorization needed, as Heroku's.
        output = httpx.get(build["output_stream_url"], timeout=120)
        assert output.status_code == 200
        assert "-----> Static app detected" in output.text
        done = wait_for_build(api, app, build["id"])
        assert done["status"] == "succeeded"
        assert done["release"]["version"] == 2
        assert releases(sqlite_server, app)[-1]["description"] == "Deploy v1.2.3"
        forged = httpx.get(build["output_stream_url"].replace("token=", "token=0"))
        assert forged.status_code == 404


def test_a_wrong_checksum_fails_the_build(sqlite_server: ServerProcess) -> None:
    app = unique_name("src")
    with sqlite_server.client() as api:
        api.post("/apps", json={"name": app})
        source = api.post("/sources").json()["source_blob"]
        httpx.put(source["put_url"], content=tarball("static"))
        build = api.post(
            f"/apps/{app}/builds",
            json={"source_blob": {"url": source["get_url"], "checksum": "SHA256:" + "0" * 64}},
        ).json()
        assert wait_for_build(api, app, build["id"])["status"] == "failed"
        text = httpx.get(build["output_stream_url"]).text
        assert "does not match source_blob.checksum" in text
        assert len(releases(sqlite_server, app)) == 1
        logplex_url = api.post(f"/apps/{app}/log-sessions", json={}).json()["logplex_url"]
        assert "app[api]: Build failed -- check your build output:" in httpx.get(logplex_url).text


def test_bad_build_requests(sqlite_server: ServerProcess) -> None:
    app = unique_name("src")
    with sqlite_server.client() as api:
        api.post("/apps", json={"name": app})
        assert api.post(f"/apps/{app}/builds", json={}).status_code == 422
        bad_bp = api.put(
            f"/apps/{app}/buildpack-installations",
            json={"updates": [{"buildpack": "not a buildpack"}]},
        )
        assert bad_bp.status_code == 422
        assert "is not known" in bad_bp.json()["message"]
        assert api.get(f"/apps/{app}/builds/nope").status_code == 404


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server with tight build limits and immediate slug collection."""
    srv = ServerProcess(
        tmp_path_factory.mktemp("strict") / "data",
        extra_args=(
            "--build-timeout",
            "5",
            "--build-memory",
            "128",
            "--keep-releases",
            "2",
            "--slug-grace",
            "0",
        ),
    ).start()
    yield srv
    srv.stop()


@pytest.fixture
def strict_user(strict_server: ServerProcess, tmp_path: Path) -> User:

    user = User(tmp_path / "home", strict_server)
    user.home.mkdir()
    slipway_login(user.env, strict_server.api_key)
    return user


def test_a_hanging_buildpack_is_stopped(
    strict_user: User, strict_server: ServerProcess, tmp_path: Path
) -> None:
    repo = strict_user.repo("static", tmp_path / "site")
    app = strict_user.create_app(repo)
    set_buildpacks(strict_server, app, BUILDPACKS / "hang")
    started = time.monotonic()
    result = strict_user.push(repo)
    assert time.monotonic() - started < 60
    assert result.returncode != 0
    assert "The build took longer than 5 seconds and was stopped" in result.stderr
    assert len(releases(strict_server, app)) == 1


def test_a_buildpack_over_its_memory_is_killed(
    strict_user: User, strict_server: ServerProcess, tmp_path: Path
) -> None:
    repo = strict_user.repo("static", tmp_path / "site")
    app = strict_user.create_app(repo)
    set_buildpacks(strict_server, app, BUILDPACKS / "memory-hog")
    result = strict_user.push(repo)
    assert result.returncode != 0
    assert "survived" not in result.stderr
    assert "Push rejected, failed to compile Hog app." in result.stderr
    assert len(releases(strict_server, app)) == 1


def test_old_slugs_are_collected(
    strict_user: User, strict_server: ServerProcess, tmp_path: Path
) -> None:
    repo = strict_user.repo("static", tmp_path / "site")
    app = strict_user.create_app(repo)
    set_buildpacks(strict_server, app, BUILDPACKS / "static")
    for i in range(4):
        (repo / "index.html").write_text(f"version {i}")
        strict_user.commit(repo, f"v{i}")
        assert strict_user.push(repo).returncode == 0
    history = releases(strict_server, app)
    with strict_server.client() as api:
        checksums = [
            api.get(f"/apps/{app}/slugs/{r['slug']['id']}").json()["checksum"]  # type: ignore[index]
            for r in history
            if r["slug"]
        ]
    stored = {p.name.removesuffix(".tgz") for p in (strict_server.data_dir / "slugs").glob("*.tgz")}
    kept = {c.removeprefix("SHA256:") for c in checksums[-2:]}
    assert kept <= stored
    assert not {c.removeprefix("SHA256:") for c in checksums[:-2]} & stored


def test_destroying_an_app_removes_its_repo_cache_logs_and_slugs(
    strict_user: User, strict_server: ServerProcess, tmp_path: Path
) -> None:
    repo = strict_user.repo("static", tmp_path / "site")
    app = strict_user.create_app(repo)
    set_buildpacks(strict_server, app, BUILDPACKS / "static")
    assert strict_user.push(repo).returncode == 0
    with strict_server.client() as api:
        app_id = api.get(f"/apps/{app}").json()["id"]
        (build,) = api.get(f"/apps/{app}/builds").json()
        slug_id = api.get(f"/apps/{app}/releases/2").json()["slug"]["id"]
        checksum = api.get(f"/apps/{app}/slugs/{slug_id}").json()["checksum"]
    data = strict_server.data_dir
    paths = [
        data / "repos" / f"{app_id}.git",
        data / "cache" / app_id,
        data / "builds" / f"{build['id']}.log",
        data / "slugs" / f"{checksum.removeprefix('SHA256:')}.tgz",
    ]
    assert all(p.exists() for p in paths)
    destroyed = strict_user.slipway("apps:destroy", "-a", app, "--confirm", app, cwd=repo)
    assert destroyed.returncode == 0, destroyed.stderr
    assert [p for p in paths if p.exists()] == []
