"""The rest of the everyday surface of the official CLI, answered as Heroku does: stack,
regions, labs and features, teams, ps:type, config:edit, git:clone, ps:wait, domains:wait,
apps:info -x and --json, local, open."""

from __future__ import annotations

import json
import re
import stat
import time
from pathlib import Path

import pytest

from tests.compat.conftest import DeployedApp, HerokuCli
from tests.compat.text import flat
from tests.conftest import unique_name

pytestmark = pytest.mark.heroku_cli


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_stack_regions_teams_and_app_info(cli: HerokuCli, django_app: DeployedApp) -> None:
    app = django_app.name
    assert re.search(r"\* heroku-24", cli.ok("stack", "-a", app).stdout)
    assert (
        "Setting stack to heroku-24... done" in cli.ok("stack:set", "heroku-24", "-a", app).stderr
    )
    other = cli("stack:set", "heroku-20", "-a", app)
    assert other.returncode == 2
    assert "Stack 'heroku-20' is not available here; use heroku-24." in flat(other.stderr)
    assert re.search(r"us\s+This Slipway server\s+Common Runtime", cli.ok("regions").stdout)
    assert json.loads(cli.ok("regions", "--json").stdout)[0]["name"] == "us"
    # The shared server holds other tests' teams too: look for one made here.
    team = unique_name("eteam")[:30]
    with cli.server.client() as api:
        assert api.post("/teams", json={"name": team}).status_code == 201
    assert re.search(rf"{team}\s+admin", cli.ok("teams").stdout)
    mine = [t for t in json.loads(cli.ok("teams", "--json").stdout) if t["name"] == team]
    assert [(t["role"], t["type"]) for t in mine] == [("admin", "team")]
    extended = cli.ok("apps:info", "-x", "-a", app).stdout
    assert "--- Extended Information ---" in extended
    assert "slug_commit:" in extended
    whole = json.loads(cli.ok("apps:info", "--json", "-a", app).stdout)
    assert whole["app"]["name"] == app
    assert {a["addon_service"]["name"] for a in whole["addons"]} == {
        "heroku-postgresql",
        "heroku-redis",
    }
    assert [d["type"] for d in whole["dynos"]] == ["web"]
    for args in (
        ("apps",),
        ("releases", "-a", app),
        ("ps", "-a", app),
        ("addons", "-a", app),
        ("config", "-a", app),
        ("domains", "-a", app),
    ):
        assert json.loads(cli.ok(*args, "--json").stdout), args


def test_labs_runtime_dyno_metadata_and_preboot(cli: HerokuCli, django_app: DeployedApp) -> None:
    app = django_app.name
    labs = cli.ok("labs", "-a", app).stdout
    assert re.search(r"\[\+\] runtime-dyno-metadata", labs)
    assert re.search(r"\[\+\] preboot", cli.ok("features", "-a", app).stdout)
    meta = cli.ok("run", "env | grep ^HEROKU_ | sort", "-a", app).stdout
    for name in (
        "HEROKU_APP_ID",
        "HEROKU_APP_NAME",
        "HEROKU_DYNO_ID",
        "HEROKU_RELEASE_VERSION",
        "HEROKU_RELEASE_CREATED_AT",
        "HEROKU_SLUG_COMMIT",
        "HEROKU_SLUG_DESCRIPTION",
    ):
        assert f"{name}=" in meta, name
    try:
        cli.ok("labs:disable", "runtime-dyno-metadata", "-a", app)
        assert re.search(r"\[ \] runtime-dyno-metadata", cli.ok("labs", "-a", app).stdout)
        bare = cli.ok("run", "env | grep -c ^HEROKU_RELEASE || true", "-a", app).stdout
        assert bare.strip() == "0"
        info = cli.ok("labs:info", "runtime-dyno-metadata", "-a", app).stdout
        assert re.search(r"enabled:\s+false", info, re.I)
    finally:
        cli.ok("labs:enable", "runtime-dyno-metadata", "-a", app)
    # Preboot off: a restart stops the old web dyno as the new one starts (the order is
    # checked on a scripted clock in tests/runtime/test_preboot.py); the app still serves.
    try:
        cli.ok("labs:disable", "preboot", "-a", app)
        assert re.search(r"\[ \] preboot", cli.ok("features", "-a", app).stdout)
        cli.ok("ps:restart", "web", "-a", app)
        cli.ok("ps:wait", "-a", app, timeout=180)
        with cli.router(app) as web:
            assert web.get("/").status_code == 200
    finally:
        cli.ok("features:enable", "preboot", "-a", app)
    unknown = cli("labs:enable", "warp-drive", "-a", app)
    assert unknown.returncode == 2
    assert "Couldn't find that feature (warp-drive); the features here are" in flat(unknown.stderr)


def test_ps_type_config_edit_and_domains_wait(cli: HerokuCli, tmp_path: Path) -> None:
    app = unique_name("hke")
    cli.ok("apps:create", app, "--no-remote")
    try:
        cli.ok("config:set", "OLD=1", "KEEP=2", "-a", app)
        editor = _script(
            tmp_path / "editor",
            'sed -i "s/^OLD=.*/OLD=changed/; /^KEEP=/d" "$1"\nprintf "\\nNEW=added" >> "$1"\n',
        )
        # On a terminal, as a person runs it: with a pipe, oclif may take the piped answer
        # to the prompt for the command's optional KEY argument (it reads args from stdin).
        term = cli.terminal("config:edit", "-a", app, env={"EDITOR": str(editor)})
        term.expect("+ OLD=changed")
        term.expect("with these values?")
        term.send("y\r")
        assert term.wait() == 0, term.text
        config = json.loads(cli.ok("config", "--json", "-a", app).stdout)
        assert config == {"OLD": "changed", "NEW": "added"}
        host = f"www.{app}.example.com"
        cli.ok("domains:add", host, "-a", app)
        assert cli.ok("domains:wait", host, "-a", app).returncode == 0
        with cli.server.client() as api:
            slug = api.post(f"/apps/{app}/slugs", json={"process_types": {"web": "x"}}).json()
            api.post(f"/apps/{app}/releases", json={"slug": slug["id"]})
        sizes = cli.ok("ps:type", "-a", app).stdout
        assert re.search(r"web\s+Basic\s+1", sizes)
        resized = cli.ok("ps:type", "web=standard-2x", "-a", app).stdout
        assert re.search(r"web\s+Standard-2X\s+1", resized)
        wrong = cli("ps:type", "web=huge-9x", "-a", app)
        assert wrong.returncode == 2
        assert "Dyno size 'huge-9x' is not known" in wrong.stderr
    finally:
        cli("apps:destroy", "-a", app, "--confirm", app)


def test_git_clone_ps_wait_open_and_local(
    cli: HerokuCli, django_app: DeployedApp, tmp_path: Path
) -> None:
    app = django_app.name
    cloned = cli.ok("git:clone", "-a", app, str(tmp_path / "clone"), cwd=tmp_path)
    assert "Cloning into" in cloned.stderr
    assert (tmp_path / "clone" / "manage.py").exists()
    remote = cli.git("remote", "get-url", "heroku", cwd=tmp_path / "clone").stdout.strip()
    assert remote == f"https://{cli.env['HEROKU_GIT_HOST']}/{app}.git"
    assert cli.ok("ps:wait", "-a", app, timeout=180).returncode == 0

    browser_log = tmp_path / "browser.log"
    browser = _script(tmp_path / "browser", f'echo "$1" > {browser_log}\n')
    opened = cli.ok("open", "/admin", "-a", app, env={"BROWSER": str(browser)})
    url = f"http://{app}.localhost:{cli.server.router_port}/admin"
    assert f"Opening {url}" in opened.stdout
    for _ in range(50):  # the CLI starts the browser and does not wait for it
        if browser_log.exists():
            break
        time.sleep(0.1)
    assert browser_log.read_text().strip() == url

    project = tmp_path / "local"
    project.mkdir()
    (project / "Procfile").write_text('web: echo "web on $PORT says $GREETING"\n')
    (project / ".env").write_text("GREETING=from-dotenv\n")
    local = cli.ok("local", "web", cwd=project, timeout=60)
    assert re.search(r"web\.1 \|\s+web on \d+ says from-dotenv", local.stdout)
