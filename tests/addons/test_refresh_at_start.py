"""An add-on whose server moved between two starts: its apps get a release with the
URLs as the provider has them now (platform/addons/refresh.py), through a real server.

The move is what an upgrade did to apps made before dynos had their own network:
their REDIS_URL named an address their dynos can no longer reach. Here the app's
stored value is set to such an address while the platform is stopped.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

from tests.support import ServerProcess

STALE_HOST = "192.0.2.7"  # TEST-NET-1: an address no server of ours is on


def _set_stored_var(data_dir: Path, app: str, var: str, value: str) -> None:
    with sqlite3.connect(data_dir / "slipway.db") as db:
        (config,) = db.execute("SELECT config FROM apps WHERE name = ?", (app,)).fetchone()
        stored = json.loads(config)
        stored[var] = value
        db.execute("UPDATE apps SET config = ? WHERE name = ?", (json.dumps(stored), app))


def test_an_add_on_whose_server_moved_gives_its_apps_a_release_at_start(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    srv = ServerProcess(data).start()
    try:
        with srv.client() as client:
            assert client.post("/apps", json={"name": "moved-app"}).status_code == 201
            made = client.post("/apps/moved-app/addons", json={"plan": "heroku-redis"})
            assert made.status_code == 201, made.text
            addon = made.json()["name"]
            url = client.get("/apps/moved-app/config-vars").json()["REDIS_URL"]
            before = len(client.get("/apps/moved-app/releases").json())
    finally:
        srv.stop()
    parts = urlsplit(url)
    stale = url.replace(f"@{parts.hostname}:", f"@{STALE_HOST}:")
    _set_stored_var(data, "moved-app", "REDIS_URL", stale)

    srv = ServerProcess(data).start()
    try:
        with srv.client() as client:
            assert client.get("/apps/moved-app/config-vars").json()["REDIS_URL"] == url
            made_releases = client.get("/apps/moved-app/releases").json()
            assert len(made_releases) == before + 1
            latest = made_releases[-1]
            assert latest["description"] == f"Update REDIS by {addon}"
            assert latest["user"]["email"] == "heroku-redis@addons.heroku.com"
    finally:
        srv.stop()
    # Up to date now: the next start makes no release.
    srv = ServerProcess(data).start()
    try:
        with srv.client() as client:
            assert len(client.get("/apps/moved-app/releases").json()) == before + 1
    finally:
        srv.stop()
