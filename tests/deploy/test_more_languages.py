"""Ruby, Java, a Node.js and a Python runtime of the app's choosing, pushed with real git.

One server (`server`, shared with test_app_setup.py), started with --hide-host-runtimes:
inside its dynos the host's python3 and node are masked, so the Node.js and Python apps
answering through the router prove that their slugs carry their own runtimes. Ruby and the
JDK are the host's (the stack's), with their versions recorded. The builds run in the build
sandbox as usual; gems come from Debian's packages (`bundle install --local`) and Maven
builds offline from Debian's repository, because neither rubygems.org nor Maven Central can
be reached here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unique_name
from tests.deploy.conftest import APPS, User, releases
from tests.support import ServerProcess

PYENV_312 = sorted(Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")).glob("versions/3.12.*"))


def answer(server: ServerProcess, app: str, timeout: float = 30, status: int = 200) -> str:
    """What the app's web dyno says through the router (retried while it boots)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(
                f"http://127.0.0.1:{server.router_port}/",
                headers={"Host": f"{app}.localhost"},
                timeout=10,
            )
            if response.status_code == status:
                return response.text
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{app} did not answer through the router:\n{server.log()[-3000:]}"
            )
        time.sleep(0.3)


def pushed(dev: User, sample: str, tmp_path: Path, name: str | None = None) -> tuple[str, Path]:
    repo = dev.repo(sample, tmp_path / (name or sample))
    app = dev.create_app(repo, unique_name(sample[:6]))
    result = dev.push(repo)
    assert result.returncode == 0, result.stderr
    return app, repo


def current_slug(server: ServerProcess, app: str) -> dict[str, Any]:
    current = next(r for r in releases(server, app) if r["current"])
    with server.client() as api:
        slug: dict[str, Any] = api.get(
            f"/apps/{app}/slugs/{current['slug']['id']}"  # type: ignore[index]
        ).json()
    return slug


def config(server: ServerProcess, app: str) -> dict[str, str]:
    with server.client() as api:
        result: dict[str, str] = api.get(f"/apps/{app}/config-vars").json()
    return result


def test_sinatra_app_without_procfile(dev: User, server: ServerProcess, tmp_path: Path) -> None:
    repo = dev.repo("sinatra", tmp_path / "sinatra")
    app = dev.create_app(repo)
    first = dev.push(repo)
    assert first.returncode == 0, first.stderr
    out = first.stderr
    assert "remote: -----> Ruby app detected" in out
    assert "remote: -----> Using Ruby 3.1" in out
    assert "remote:        Running: bundle install --local" in out
    # The sample's lock comes from a newer laptop (BUNDLED WITH 2.5.22): the machine's
    # Bundler builds it, and the dyno is told to run that one, not to look for 2.5.
    assert re.search(
        r"Gemfile\.lock was bundled with Bundler 2\.5\.22; this machine's Bundler (\S+) builds "
        r"the app and its dynos run it \(BUNDLER_VERSION=\1\)",
        out,
    ), out
    assert "Default types for buildpack -> web" in out
    assert "Default config vars set by the buildpack: RACK_ENV" in out
    assert re.search(
        r"hello from sinatra 3\.0\.5 on ruby 3\.1\.\d+ \(production\)", answer(server, app)
    )
    slug = current_slug(server, app)
    assert slug["process_types"] == {"web": "bundle exec rackup config.ru -p $PORT"}
    assert set(slug["runtimes"]) == {"Ruby", "Bundler"}
    info = dev.slipway("releases:info", "-a", app, cwd=repo)
    assert info.returncode == 0, info.stderr
    assert "web: bundle exec rackup config.ru -p $PORT" in info.stdout
    assert "Ruby 3.1." in info.stdout

    # Bad input: no Gemfile.lock, then a lock for a Ruby this machine does not have.
    before = releases(server, app)
    lock = (repo / "Gemfile.lock").read_text()
    (repo / "Gemfile.lock").unlink()
    dev.commit(repo, "no lock")
    no_lock = dev.push(repo)
    assert no_lock.returncode != 0
    assert "Gemfile.lock is required: run `bundle install`" in no_lock.stderr
    (repo / "Gemfile.lock").write_text(re.sub(r"ruby 3\.1\.\d+p\d+", "ruby 2.7.8p225", lock))
    dev.commit(repo, "old ruby")
    old = dev.push(repo)
    assert old.returncode != 0
    assert "Gemfile.lock asks for Ruby 2.7.8 (RUBY VERSION) but this machine has Ruby 3.1" in (
        old.stderr
    )
    assert releases(server, app) == before
    assert "hello from sinatra" in answer(server, app)


def test_rails_app_gets_its_environment_and_one_secret(
    dev: User, server: ServerProcess, tmp_path: Path
) -> None:
    app, repo = pushed(dev, "rails", tmp_path)
    vars1 = config(server, app)
    assert vars1["RAILS_ENV"] == "production"
    assert vars1["RACK_ENV"] == "production"
    assert vars1["RAILS_LOG_TO_STDOUT"] == "enabled"
    assert vars1["RAILS_SERVE_STATIC_FILES"] == "enabled"
    assert re.fullmatch(r"[0-9a-f]{128}", vars1["SECRET_KEY_BASE"])
    assert "hello from rails 6.1" in answer(server, app)
    assert "in production (secret 128 chars)" in answer(server, app)
    slug = current_slug(server, app)
    assert slug["process_types"] == {"web": "bin/rails server -p $PORT -e $RAILS_ENV"}
    # The secret is generated once per app: a second deploy keeps it.
    dev.commit(repo, "again", empty=True)
    again = dev.push(repo)
    assert again.returncode == 0, again.stderr
    assert "Default config vars set by the buildpack" not in again.stderr
    assert config(server, app)["SECRET_KEY_BASE"] == vars1["SECRET_KEY_BASE"]
    assert vars1["SECRET_KEY_BASE"] not in again.stderr


def test_maven_app_cold_and_warm_and_broken(
    dev: User, server: ServerProcess, tmp_path: Path
) -> None:
    repo = dev.repo("maven", tmp_path / "maven")
    app = dev.create_app(repo)
    cold = dev.push(repo)
    assert cold.returncode == 0, cold.stderr
    assert "remote: -----> Java app detected" in cold.stderr
    assert "Using the local repository /usr/share/maven-repo" in cold.stderr
    assert "BUILD SUCCESS" in cold.stderr
    assert re.search(r"hello from java \d+\.\d+\.\d+ heap \d+m", answer(server, app))
    slug = current_slug(server, app)
    assert slug["process_types"] == {
        "web": "java -Dserver.port=$PORT $JAVA_OPTS -jar target/hello-1.0.jar"
    }
    assert "JDK" in slug["runtimes"]
    # A standard-1X dyno (512 MB) gets Heroku's -Xmx300m.
    heap = int(re.search(r"heap (\d+)m", answer(server, app)).group(1))  # type: ignore[union-attr]
    assert 250 <= heap <= 300

    # Warm: the app's Maven repository is kept between builds.
    dev.commit(repo, "warm", empty=True)
    warm = dev.push(repo)
    assert warm.returncode == 0, warm.stderr
    assert "(0 new artifacts)" in warm.stderr

    before = releases(server, app)
    main = repo / "src/main/java/app/Main.java"
    main.write_text(main.read_text().replace("public class Main {", "public class Main { oops"))
    dev.commit(repo, "broken java")
    broken = dev.push(repo)
    assert broken.returncode != 0
    assert "COMPILATION ERROR" in broken.stderr
    assert "Failed to build the app with Maven (see the lines above)" in broken.stderr
    assert releases(server, app) == before
    assert "hello from java" in answer(server, app)


def test_java_app_with_system_properties(dev: User, server: ServerProcess, tmp_path: Path) -> None:
    app, repo = pushed(dev, "java-jdk17", tmp_path)
    assert "hello from java 17." in answer(server, app)
    info = dev.slipway("builds:info", "-a", app, cwd=repo)
    assert info.returncode == 0, info.stderr
    assert re.search(r"Runtimes:\s+JDK 17\.", info.stdout), info.stdout

    before = releases(server, app)
    (repo / "system.properties").write_text("java.runtime.version=11\n")
    dev.commit(repo, "jdk 11")
    missing = dev.push(repo)
    assert missing.returncode != 0
    assert "system.properties asks for Java 11 but this machine has JDK" in missing.stderr
    assert releases(server, app) == before


def test_node_app_gets_the_node_it_asks_for(
    dev: User, server: ServerProcess, tmp_path: Path
) -> None:
    repo = dev.repo("node18", tmp_path / "node18")
    app = dev.create_app(repo)
    result = dev.push(repo)
    assert result.returncode == 0, result.stderr
    assert "engines.node (package.json): 18.x" in result.stderr
    said = answer(server, app)
    version = re.search(r"node v(18\.\d+\.\d+) at /app/\.heroku/node/bin/node", said)
    assert version, said
    assert said.endswith("host node size 0")  # the host's node is masked in the dyno
    slug = current_slug(server, app)
    assert slug["runtimes"] == {"Node.js": version.group(1)}
    assert slug["process_types"] == {"web": "node app.js"}
    with server.client() as api:
        newest = {"Range": "version ..; max=1, order=desc"}
        listed = api.get(f"/apps/{app}/releases", headers=newest).json()
    assert listed[0]["slug"]["runtimes"] == {"Node.js": version.group(1)}
    info = dev.slipway("builds:info", "-a", app, cwd=repo)
    assert f"Node.js {version.group(1)}" in info.stdout

    before = releases(server, app)
    package = json.loads((repo / "package.json").read_text())
    package["engines"]["node"] = ">=99"
    (repo / "package.json").write_text(json.dumps(package))
    dev.commit(repo, "no such node")
    none = dev.push(repo)
    assert none.returncode != 0
    assert 'No Node.js release satisfies engines.node ">=99"' in none.stderr
    assert releases(server, app) == before


@pytest.mark.skipif(not PYENV_312, reason="needs a Python 3.12 installation (pyenv's) here")
def test_python_app_gets_another_installed_python(
    dev: User, server: ServerProcess, tmp_path: Path
) -> None:
    app, _ = pushed(dev, "python312", tmp_path)
    said = answer(server, app)
    assert re.match(r"python 3\.12\.\d+ at /app/\.heroku/python/bin/python", said), said
    assert said.endswith("host python3 size 0, host stdlib entries 0")
    assert current_slug(server, app)["runtimes"] == {"Python": said.split()[1]}


def test_django_without_procfile_defaults_to_gunicorn(
    dev: User, server: ServerProcess, tmp_path: Path
) -> None:
    repo = tmp_path / "django"
    shutil.copytree(APPS / "django", repo)
    (repo / "Procfile").unlink()
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "initial")):
        assert dev.git(*args, cwd=repo).returncode == 0
    app = dev.create_app(repo)
    result = dev.push(repo)
    assert result.returncode == 0, result.stderr
    assert "Default types for buildpack -> web" in result.stderr
    assert current_slug(server, app)["process_types"] == {"web": "gunicorn mysite.wsgi"}
    # gunicorn serves the app (which has no route for /: Django's 404 page).
    assert "Not Found" in answer(server, app, status=404)


def test_push_without_procfile_or_default(dev: User, server: ServerProcess, tmp_path: Path) -> None:
    repo = tmp_path / "bare"
    repo.mkdir()
    (repo / "requirements.txt").write_text("")
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "initial")):
        assert dev.git(*args, cwd=repo).returncode == 0
    dev.create_app(repo)
    result = dev.push(repo)
    assert result.returncode == 0, result.stderr
    assert (
        "No Procfile and no default process type: add a Procfile with a line such as "
        "`web: <command that serves HTTP on $PORT>` to run the app." in result.stderr
    )
