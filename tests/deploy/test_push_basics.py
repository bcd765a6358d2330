"""git push with a custom local buildpack: the pipeline itself, fast (no package downloads)."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import tarfile
from pathlib import Path

from tests.deploy.conftest import BUILDPACKS, User, releases, set_buildpacks
from tests.support import ServerProcess


def test_push_builds_releases_and_scales(
    user: User, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    repo = user.repo("static", tmp_path / "site")
    app = user.create_app(repo)
    set_buildpacks(sqlite_server, app, BUILDPACKS / "static")
    with sqlite_server.client() as api:
        api.patch(f"/apps/{app}/config-vars", json={"SECRET_TOKEN": "s3cr3t-value"})
    sha = user.git("rev-parse", "HEAD", cwd=repo).stdout.strip()

    result = user.push(repo)
    assert result.returncode == 0, result.stderr
    out = result.stderr
    for line in (
        "remote: Building source:",
        "remote: -----> Building on the Heroku-24 stack",
        "remote: -----> Static app detected",
        "remote: -----> Packaging static site",
        f"stack=heroku-24 version={sha}",
        "remote:        env: SECRET_TOKEN",
        "remote:        cache: cold",
        "remote: -----> Discovering process types",
        "remote:        Procfile declares types -> web, release",
        "remote:        Default types for buildpack -> clock",
        "remote: -----> Compressing...",
        "remote: -----> Launching...",
        "remote:        Released v3",
        f"remote:        http://{app}.localhost:{sqlite_server.router_port}/ deployed to Slipway",
        "remote: Verifying deploy... done.",
    ):
        assert line in out, f"missing {line!r} in:\n{out}"
    assert "s3cr3t-value" not in out

    (v3,) = [r for r in releases(sqlite_server, app) if r["version"] == 3]
    assert v3["description"] == f"Deploy {sha[:8]}"
    assert v3["current"] is True
    with sqlite_server.client() as api:
        slug_id = v3["slug"]["id"]  # type: ignore[index]
        slug = api.get(f"/apps/{app}/slugs/{slug_id}").json()
        assert slug["commit"] == sha
        assert slug["process_types"]["web"] == "python3 -m http.server $PORT"
        assert slug["size"] > 0
        formation = {f["type"]: f["quantity"] for f in api.get(f"/apps/{app}/formation").json()}
        # The release phase is listed as Heroku lists it, never scaled; the first web is.
        assert formation == {"web": 1, "clock": 0, "release": 0}
        assert api.get(f"/apps/{app}").json()["slug_size"] == slug["size"]
        builds = api.get(f"/apps/{app}/builds").json()
        assert [b["status"] for b in builds] == ["succeeded"]
        assert builds[0]["source_blob"]["version"] == sha
        assert builds[0]["release"]["version"] == 3

    # The slug is a content-addressed archive holding the compiled app.
    sha256 = slug["checksum"].removeprefix("SHA256:")
    archive = sqlite_server.data_dir / "slugs" / f"{sha256}.tgz"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "compiled.txt" in names
    assert ".profile.d/static.sh" in names
    assert "index.html" in names

    # A second push reuses the cache; builds:output replays the output.
    user.commit(repo, "again", empty=True)
    second = user.push(repo)
    assert second.returncode == 0, second.stderr
    assert "cache: warm" in second.stderr
    assert "Released v4" in second.stderr
    output = user.slipway("builds:output", "-a", app, cwd=repo)
    assert "cache: warm" in output.stdout
    listed = user.slipway("builds", "-a", app, cwd=repo)
    assert listed.stdout.count("succeeded") == 2
    # The app's log stream tells the same story, in order, without the config value.
    logs = user.slipway("logs", "-a", app, "-n", "1500", cwd=repo).stdout
    api_lines = [line for line in logs.splitlines() if " app[api]: " in line]
    messages = [line.split("]: ", 1)[1] for line in api_lines]
    email = "admin@slipway.localhost"
    first_build = messages.index(f"Build started by user {email}")
    assert messages[first_build : first_build + 5] == [
        f"Build started by user {email}",
        f"Deploy {sha[:8]} by user {email}",
        f"Release v3 created by user {email}",
        "Running release v3 commands",
        "Build succeeded",
    ]
    # Between them, the release phase and the web dyno, as Heroku logs them.
    assert "app[release." in logs
    assert "migrating" in logs
    assert "heroku[web.1]: State changed from starting to up" in logs
    assert "s3cr3t-value" not in logs


def test_only_main_or_master_deploys(
    user: User, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    repo = user.repo("static", tmp_path / "site")
    app = user.create_app(repo)
    set_buildpacks(sqlite_server, app, BUILDPACKS / "static")
    # Another branch is kept without a build, as on Heroku.
    result = user.push(repo, "main:feature")
    assert result.returncode == 0, result.stderr
    assert "Pushed to non-main branch, skipping build." in result.stderr
    assert len(releases(sqlite_server, app)) == 1
    master = user.push(repo, "main:master")
    assert master.returncode == 0, master.stderr
    assert "Released v2" in master.stderr
    # A tag pushed with main (`--follow-tags`, `--tags`) does not reject main's deploy.
    (repo / "CHANGED").write_text("tagged\n")
    user.commit(repo, "a tagged change")
    assert user.git("tag", "-a", "v1.0", "-m", "v1.0", cwd=repo).returncode == 0
    tagged = user.push(repo, "main", "--follow-tags")
    assert tagged.returncode == 0, tagged.stderr
    assert "Released v3" in tagged.stderr
    assert "[new tag]" in tagged.stderr


def test_a_commit_with_submodules_deploys_and_says_they_are_left_out(
    user: User, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    lib = user.repo("static", tmp_path / "lib")
    repo = user.repo("static", tmp_path / "site")
    added = user.git(
        "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor/lib",
        cwd=repo,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    user.commit(repo, "a submodule")
    app = user.create_app(repo)
    set_buildpacks(sqlite_server, app, BUILDPACKS / "static")
    result = user.push(repo)
    assert result.returncode == 0, result.stderr
    assert "Warning: this commit has git submodules (vendor/lib);" in result.stderr
    assert "Released v2" in result.stderr


def test_failed_builds_change_nothing(
    user: User, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    repo = user.repo("static", tmp_path / "site")
    app = user.create_app(repo)
    set_buildpacks(sqlite_server, app, BUILDPACKS / "static")
    assert user.push(repo).returncode == 0
    before = releases(sqlite_server, app)

    def rejected(expect: str) -> None:
        result = user.push(repo)
        assert result.returncode != 0
        assert "pre-receive hook declined" in result.stderr
        assert expect in result.stderr, result.stderr
        assert "remote:  !     Push failed" in result.stderr
        assert "Traceback" not in result.stderr
        assert releases(sqlite_server, app) == before

    (repo / "Procfile").write_text("web: ok\nbad type!: nope\n")
    user.commit(repo, "bad procfile")
    rejected("has an invalid process type 'bad type!'")

    (repo / "Procfile").write_text("web: python3 -m http.server $PORT\n")
    os.symlink("/etc/passwd", repo / "escape")
    user.commit(repo, "symlink out")
    rejected("The symlink escape points outside the app")

    (repo / "escape").unlink()
    user.commit(repo, "fixed")
    set_buildpacks(sqlite_server, app, BUILDPACKS / "failing")
    rejected("Push rejected, failed to compile Failing app.")

    set_buildpacks(sqlite_server, app, BUILDPACKS / "static")
    (repo / "index.html").unlink()
    user.commit(repo, "no index")
    rejected("App not compatible with buildpack")

    with sqlite_server.client() as api:
        statuses = [b["status"] for b in api.get(f"/apps/{app}/builds").json()]
    assert statuses.count("failed") == 4
    assert statuses[0] == "succeeded"


def test_nothing_detected(user: User, sqlite_server: ServerProcess, tmp_path: Path) -> None:
    repo = user.repo("nothing", tmp_path / "plain")
    app = user.create_app(repo)
    result = user.push(repo)
    assert result.returncode != 0
    assert "No default language could be detected for this app." in result.stderr
    assert len(releases(sqlite_server, app)) == 1


def test_two_buildpacks_pass_exports_in_order(
    user: User, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    repo = user.repo("static", tmp_path / "site")
    app = user.create_app(repo)
    set_buildpacks(sqlite_server, app, BUILDPACKS / "exporter", BUILDPACKS / "importer")
    result = user.push(repo)
    assert result.returncode == 0, result.stderr
    out = result.stderr
    assert out.index("Exporter app detected") < out.index("Importer app detected")
    assert "Importing: EXPORTED_BY_FIRST=hello-from-first" in out


def test_the_build_sandbox_hides_the_host(
    user: User, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    repo = user.repo("static", tmp_path / "site")
    app = user.create_app(repo)
    set_buildpacks(sqlite_server, app, BUILDPACKS / "spy")
    with sqlite_server.client() as api:
        api.patch(f"/apps/{app}/config-vars", json={"SPY_DATA_DIR": str(sqlite_server.data_dir)})
    result = user.push(repo)
    out = result.stderr
    assert "hostname=build" in out
    assert "uid=0" not in out
    for hidden in ("/root", "/home", "/work", str(sqlite_server.data_dir), "/etc/shadow"):
        assert f"hidden: {hidden}" in out, out
    assert "read-only: /usr" in out
    assert "pid1=bwrap" in out or "pid1=bash" in out or "pid1=sh" in out


def test_pushes_to_one_app_never_interleave(
    user: User, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    repo = user.repo("static", tmp_path / "site")
    app = user.create_app(repo)
    set_buildpacks(sqlite_server, app, BUILDPACKS / "static")
    other = tmp_path / "other"
    user.git("clone", "-q", str(repo), str(other), cwd=tmp_path)
    assert user.slipway("git:remote", "-a", app, cwd=other).returncode == 0
    (other / "other.txt").write_text("x")
    user.commit(other, "other")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(user.push, repo)
        second = pool.submit(user.push, other, "-f")
        results = [first.result(), second.result()]
    succeeded = [r for r in results if r.returncode == 0]
    refused = [r for r in results if r.returncode != 0]
    assert succeeded, [r.stderr for r in results]
    for r in refused:
        assert "Another push updated main while this one waited." in r.stderr, r.stderr
    history = releases(sqlite_server, app)
    assert [r["version"] for r in history] == list(range(1, 2 + len(succeeded)))
    # What is released is exactly what main points at: no build of a commit that lost.
    main = user.git("ls-remote", "slipway", "refs/heads/main", cwd=repo).stdout.split()[0]
    with sqlite_server.client() as api:
        slug_id = history[-1]["slug"]["id"]  # type: ignore[index]
        assert api.get(f"/apps/{app}/slugs/{slug_id}").json()["commit"] == main


def test_a_push_to_someone_elses_app_stores_nothing(
    user: User, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    repo = user.repo("static", tmp_path / "site")
    app = user.create_app(repo)
    with sqlite_server.client() as api:
        stranger = api.post("/accounts", json={"email": f"{app}@example.com"}).json()["api_key"]
        app_id = api.get(f"/apps/{app}").json()["id"]
    url = f"https://stranger:{stranger}@127.0.0.1:{sqlite_server.git_port}/{app}.git"
    result = user.git("push", url, "main", cwd=repo)
    assert result.returncode != 0
    assert f"You do not have access to the app {app}." in result.stderr
    wrong_key = f"https://x:HRKU-wrong@127.0.0.1:{sqlite_server.git_port}/{app}.git"
    assert user.git("push", wrong_key, "main", cwd=repo).returncode != 0
    unknown = (
        f"https://x:{sqlite_server.api_key}@127.0.0.1:{sqlite_server.git_port}/no-such-app.git"
    )
    assert (
        "Couldn't find that app (no-such-app)."
        in user.git("push", unknown, "main", cwd=repo).stderr
    )
    bare = sqlite_server.data_dir / "repos" / f"{app_id}.git"
    # Nothing was stored: no refs, no objects (the repository may not even exist).
    if bare.exists():
        assert not list((bare / "refs" / "heads").iterdir())
        assert not [p for p in (bare / "objects").rglob("*") if p.is_file()]
    assert len(releases(sqlite_server, app)) == 1


def test_a_git_url_buildpack_is_cloned_once(
    user: User, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    source = tmp_path / "bp-src"
    shutil.copytree(BUILDPACKS / "static", source)
    for args in (("init", "-q", "-b", "stable"), ("add", "-A"), ("commit", "-qm", "bp")):
        assert user.git(*args, cwd=source).returncode == 0
    bare = tmp_path / "static-buildpack.git"
    assert user.git("clone", "-q", "--bare", str(source), str(bare), cwd=tmp_path).returncode == 0
    repo = user.repo("static", tmp_path / "site")
    app = user.create_app(repo)
    set_buildpacks(sqlite_server, app, f"file://{bare}#stable")
    first = user.push(repo)
    assert first.returncode == 0, first.stderr
    assert "Static app detected" in first.stderr
    # The clone is cached: the buildpack's origin can disappear.
    shutil.rmtree(bare)
    user.commit(repo, "again", empty=True)
    second = user.push(repo)
    assert second.returncode == 0, second.stderr
    assert "Released v3" in second.stderr
    unreachable = user.repo("static", tmp_path / "other")
    other = user.create_app(unreachable)
    set_buildpacks(sqlite_server, other, f"file://{tmp_path}/missing.git")
    failed = user.push(unreachable)
    assert failed.returncode != 0
    assert "Could not clone buildpack" in failed.stderr
