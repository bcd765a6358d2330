"""Real Flask, Django and Express apps deployed with git push and the built-in buildpacks."""

from __future__ import annotations

import tarfile
from pathlib import Path

from tests.deploy.conftest import User, releases
from tests.support import ServerProcess


def slug_names(server: ServerProcess, app: str) -> list[str]:
    with server.client() as api:
        current = next(r for r in releases(server, app) if r["current"])
        slug = api.get(f"/apps/{app}/slugs/{current['slug']['id']}").json()  # type: ignore[index]
    archive = server.data_dir / "slugs" / f"{slug['checksum'].removeprefix('SHA256:')}.tgz"
    with tarfile.open(archive) as tar:
        return tar.getnames()


def test_flask_app_first_push_cached_push_and_failures(
    user: User, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    repo = user.repo("flask", tmp_path / "flask")
    app = user.create_app(repo)
    first = user.push(repo)
    assert first.returncode == 0, first.stderr
    out = first.stderr
    assert "remote: -----> Python app detected" in out
    assert "remote: -----> Using Python 3.11" in out
    assert "remote: -----> Installing requirements with pip" in out
    assert "remote:        Procfile declares types -> web" in out
    assert "Released v2" in out
    names = slug_names(sqlite_server, app)
    assert "app.py" in names
    assert ".heroku/python/bin/gunicorn" in names
    assert ".profile.d/python.sh" in names
    # .slugignore removed these before compile.
    assert not any(n.startswith("tests") for n in names)
    assert "NOTES.md" not in names
    with sqlite_server.client() as api:
        formation = api.get(f"/apps/{app}/formation").json()
    assert [(f["type"], f["quantity"]) for f in formation] == [("web", 1)]

    # Unchanged requirements: nothing is downloaded or installed again.
    user.commit(repo, "redeploy", empty=True)
    cached = user.push(repo)
    assert cached.returncode == 0, cached.stderr
    assert "reusing the cached environment" in cached.stderr
    for word in ("Collecting", "Downloading", "Installing collected packages"):
        assert word not in cached.stderr
    assert "Released v3" in cached.stderr

    before = releases(sqlite_server, app)
    (repo / "requirements.txt").write_text("this-package-does-not-exist-slipway==1.0.0\n")
    user.commit(repo, "broken requirements")
    broken = user.push(repo)
    assert broken.returncode != 0
    assert "remote:  !     Push rejected, failed to compile Python app." in broken.stderr
    assert releases(sqlite_server, app) == before

    (repo / "requirements.txt").write_text("flask==3.1.1\ngunicorn==23.0.0\n")
    (repo / ".python-version").write_text("3.4\n")
    user.commit(repo, "ancient python")
    ancient = user.push(repo)
    assert ancient.returncode != 0
    assert "Python 3.4 is not installed on this machine; installed: " in ancient.stderr
    assert "3.11." in ancient.stderr.split("installed: ", 1)[1]
    assert releases(sqlite_server, app) == before


def test_django_app_runs_collectstatic(
    user: User, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    repo = user.repo("django", tmp_path / "django")
    app = user.create_app(repo)
    result = user.push(repo)
    assert result.returncode == 0, result.stderr
    assert "$ python manage.py collectstatic --noinput" in result.stderr
    names = slug_names(sqlite_server, app)
    assert any(n.startswith("staticfiles/admin/") for n in names)


def test_express_app(user: User, sqlite_server: ServerProcess, tmp_path: Path) -> None:
    repo = user.repo("express", tmp_path / "express")
    app = user.create_app(repo)
    result = user.push(repo)
    assert result.returncode == 0, result.stderr
    out = result.stderr
    assert "remote: -----> Node.js app detected" in out
    assert "Default types for buildpack -> web" in out
    names = slug_names(sqlite_server, app)
    assert "node_modules/express/package.json" in names
    assert "build.txt" in names
    with sqlite_server.client() as api:
        formation = {f["type"]: f["command"] for f in api.get(f"/apps/{app}/formation").json()}
    assert formation == {"web": "npm start"}
    user.commit(repo, "again", empty=True)
    again = user.push(repo)
    assert again.returncode == 0, again.stderr
    assert "reusing cached node_modules" in again.stderr


def test_two_builtin_buildpacks(user: User, sqlite_server: ServerProcess, tmp_path: Path) -> None:
    repo = user.repo("express", tmp_path / "both")
    (repo / "requirements.txt").write_text("six==1.17.0\n")
    user.commit(repo, "python too")
    app = user.create_app(repo)
    assert user.slipway("buildpacks:add", "heroku/nodejs", "-a", app, cwd=repo).returncode == 0
    assert user.slipway("buildpacks:add", "heroku/python", "-a", app, cwd=repo).returncode == 0
    listed = user.slipway("buildpacks", "-a", app, cwd=repo).stdout
    assert "1. heroku/nodejs" in listed
    assert "2. heroku/python" in listed
    result = user.push(repo)
    assert result.returncode == 0, result.stderr
    out = result.stderr
    assert out.index("Node.js app detected") < out.index("Python app detected")
    names = slug_names(sqlite_server, app)
    assert "node_modules/express/package.json" in names
    assert ".heroku/python/bin/python" in names
