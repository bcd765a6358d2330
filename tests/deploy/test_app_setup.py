"""app.json: `slipway apps:setup DIR` and `POST /app-setups` against a real server.

The sample (tests/apps/appjson) uses every field a setup reads: env values, a generated
secret, a required var asked for at the prompt, formation, a real heroku-redis add-on
(a redis-server the provider starts), buildpacks, and scripts.postdeploy, which runs in a
one-off dyno and reaches the add-on. Shares the --hide-host-runtimes server with
test_more_languages.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import unique_name
from tests.deploy.conftest import APPS, User
from tests.deploy.test_more_languages import answer
from tests.support import ServerProcess, slipway_bin


def setup_dir(
    tmp_path: Path, change: dict[str, Any] | None = None, text: str | None = None
) -> Path:
    target = tmp_path / "appjson"
    shutil.copytree(APPS / "appjson", target)
    if change is not None:
        manifest = json.loads((target / "app.json").read_text())
        manifest.update(change)
        (target / "app.json").write_text(json.dumps(manifest))
    if text is not None:
        (target / "app.json").write_text(text)
    return target


def apps_setup(
    dev: User, source: Path, name: str, answers: str = "", *, here: bool = False
) -> subprocess.CompletedProcess[str]:
    """`slipway apps:setup DIR`, or with `here` `slipway apps:setup` inside DIR."""
    return subprocess.run(
        [slipway_bin(), "apps:setup", *(() if here else (str(source),)), "--app", name],
        env=dev.env,
        input=answers,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=source if here else None,
    )


def app_exists(server: ServerProcess, name: str) -> bool:
    with server.client() as api:
        return api.get(f"/apps/{name}").status_code == 200


def test_apps_setup_with_every_field(dev: User, server: ServerProcess, tmp_path: Path) -> None:
    name = unique_name("setup")
    source = setup_dir(tmp_path)
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "initial")):
        assert dev.git(*args, cwd=source).returncode == 0
    result = apps_setup(dev, source, name, answers="ops@example.com\n", here=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # Made inside its git repository: the remote is there, as after apps:create.
    assert "Git remote slipway added" in result.stderr
    remote = dev.git("remote", "get-url", "slipway", cwd=source).stdout.strip()
    assert remote.endswith(f"/{name}.git"), remote
    assert "ADMIN_EMAIL (Who runs it)" in result.stderr  # the prompt for the required var
    assert "-----> Python app detected" in result.stderr  # the build's output, streamed
    assert "postdeploy: cache add-on attached" in result.stdout
    assert f"{name} is set up." in result.stdout

    with server.client() as api:
        config = api.get(f"/apps/{name}/config-vars").json()
        addons = api.get(f"/apps/{name}/addons").json()
        formation = {
            f["type"]: (f["quantity"], f["size"]) for f in api.get(f"/apps/{name}/formation").json()
        }
        buildpacks = api.get(f"/apps/{name}/buildpack-installations").json()
    assert config["GREETING"] == "hello from app.json"
    assert config["ADMIN_EMAIL"] == "ops@example.com"
    assert len(config["SECRET_TOKEN"]) == 64
    assert "OPTIONAL_NOTE" not in config
    assert config["CACHE_URL"].startswith("redis")
    assert [a["addon_service"]["name"] for a in addons] == ["heroku-redis"]
    assert formation["web"][0] == 1
    assert formation["worker"][0] == 1
    assert [b["buildpack"]["url"] for b in buildpacks] == ["heroku/python"]
    said = answer(server, name)
    assert said == "hello from app.json; admin ops@example.com; secret 64 chars; cache yes"


def test_api_setup_is_polled_and_failures_name_the_step(
    dev: User, server: ServerProcess, tmp_path: Path
) -> None:
    """POST /app-setups with an uploaded tarball; a failing postdeploy leaves the app."""
    source = setup_dir(tmp_path, {"scripts": {"postdeploy": "python -c 'import sys; sys.exit(4)'"}})
    archive = tmp_path / "source.tgz"
    subprocess.run(["tar", "czf", str(archive), "-C", str(source), "."], check=True)
    with server.client() as api:
        blob = api.post("/sources").json()["source_blob"]
        assert httpx.put(blob["put_url"], content=archive.read_bytes()).status_code == 200
        name = unique_name("setup")
        body = {
            "source_blob": {"url": blob["get_url"]},
            "app": {"name": name},
            "overrides": {"env": {"ADMIN_EMAIL": "api@example.com"}},
        }
        created = api.post("/app-setups", json=body)
        assert created.status_code == 201, created.text
        setup = created.json()
        assert setup["status"] == "pending"
        assert setup["app"]["name"] == name
        deadline = time.monotonic() + 300
        while setup["status"] == "pending" and time.monotonic() < deadline:
            time.sleep(1)
            setup = api.get(f"/app-setups/{setup['id']}").json()
    assert setup["status"] == "failed", setup
    assert setup["failure_message"] == (
        "The app setup failed at the postdeploy step: scripts.postdeploy exited with status 4."
    )
    assert setup["postdeploy"]["exit_code"] == 4
    assert setup["build"]["status"] == "succeeded"
    assert app_exists(server, name)  # left for inspection
    assert "hello from app.json" in answer(server, name)

    # Bad input is refused before anything is made.
    with server.client() as api:
        missing = api.post(
            "/app-setups", json={**body, "app": {"name": unique_name("x")}, "overrides": {}}
        )
    assert missing.status_code == 422
    assert missing.json()["message"] == (
        "app.json requires the config var ADMIN_EMAIL (Who runs it); give it a value "
        "(overrides.env, or answer apps:setup's prompt)."
    )


def test_bad_app_json_is_refused_and_nothing_is_made(
    dev: User, server: ServerProcess, tmp_path: Path
) -> None:
    broken = apps_setup(dev, setup_dir(tmp_path / "a", text='{"env": {'), unique_name("bad"))
    assert broken.returncode != 0
    assert "app.json is not valid JSON (" in broken.stderr
    name = unique_name("bad")
    unknown = apps_setup(
        dev, setup_dir(tmp_path / "b", {"addons": ["heroku-nosuchthing"]}), name, "x@example.com\n"
    )
    assert unknown.returncode != 0
    assert "Couldn't find either the add-on service or plan 'heroku-nosuchthing'" in unknown.stderr
    assert not app_exists(server, name)
    stack = unique_name("bad")
    wrong = apps_setup(
        dev, setup_dir(tmp_path / "c", {"stack": "cedar-14"}), stack, "x@example.com\n"
    )
    assert wrong.returncode != 0
    assert "app.json asks for the stack cedar-14, which this platform does not have" in wrong.stderr
    assert not app_exists(server, stack)
