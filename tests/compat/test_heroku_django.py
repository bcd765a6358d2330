"""A Django app written for Heroku, deployed unchanged with `git push heroku main`.

It asks for TLS (`dj_database_url.config(conn_max_age=600, ssl_require=True)`),
migrates in its release phase and answers through the router; then the release
phase's output through `heroku releases:output`, `releases:retry` and `rollback`.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.compat.conftest import DeployedApp, HerokuCli

pytestmark = pytest.mark.heroku_cli


def test_the_push_builds_and_runs_the_release_phase(django_app: DeployedApp) -> None:
    out = django_app.push_output
    assert "Successfully installed Django-5.2.1" in out
    assert "whitenoise" in out
    assert "$ python manage.py collectstatic --noinput" in out
    assert "Applying notes.0001_initial... OK" in out
    assert re.search(r"Released v\d+", out)


def test_its_page_reads_and_writes_the_database_through_the_router(
    cli: HerokuCli, django_app: DeployedApp
) -> None:
    with cli.router(django_app.name) as web:
        assert web.post("/", data={"text": "first"}).json()["notes"][-1] == "first"
        web.post("/", data={"text": "second"})
        assert web.get("/").json()["notes"][-2:] == ["first", "second"]
        # The app required TLS of the add-on database, and got it.
        assert web.get("/db").json() == {"ssl": True, "vendor": "postgresql"}
        static = web.get("/static/notes/hello.txt")
        assert static.status_code == 200
        assert static.text == "hello from whitenoise\n"


def test_release_output_retry_and_rollback(cli: HerokuCli, django_app: DeployedApp) -> None:
    app = django_app.name
    output = cli.ok("releases:output", "-a", app).stdout
    assert "Applying notes.0001_initial... OK" in output
    retried = cli.ok("releases:retry", "-a", app)
    assert "Running release command..." in retried.stdout
    assert "No migrations to apply." in retried.stdout
    retry_version = int(re.findall(r"done, v(\d+)", retried.stderr)[0])
    info = cli.ok("releases:info", f"v{retry_version}", "-a", app, "--json").stdout
    assert f"Retry of v{retry_version - 1}" in info
    rolled = cli.ok("releases:rollback", f"v{retry_version - 1}", "-a", app)
    assert "Running release command..." in rolled.stdout
    assert "No migrations to apply." in rolled.stdout
    # The output URL is its own credential: a wrong token opens nothing.
    with cli.server.client() as api:
        url = api.get(f"/apps/{app}/releases/{retry_version}").json()["output_stream_url"]
    assert url
    good = httpx.get(url, timeout=30)
    assert "No migrations to apply." in good.text
    bad = httpx.get(url.split("token=")[0] + "token=wrong", timeout=30)
    assert bad.status_code == 404
    assert bad.json()["id"] == "not_found"
    assert "releases:info" in bad.json()["message"]
    # The rolled-back release serves.
    with cli.router(app) as web:
        assert web.get("/db").json()["ssl"] is True
