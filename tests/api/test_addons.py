"""Add-ons through the API: the catalogue, pg:info/redis:info, Postgres backups, app deletion.

A server of its own with `--postgres-admin-url`, so Postgres add-ons live on the
machine's PostgreSQL (no embedded cluster to create) and Redis add-ons on real
redis-servers. The deployed-app path is in tests/dynos/test_addons_e2e.py.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import unique_name
from tests.support import PG_ADMIN_URL, ServerProcess


def _catalogue_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"slipway:{kind}:{name}"))


@pytest.fixture(scope="module")
def addons_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian: redis-server)")
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.skip(f"the local PostgreSQL server ({PG_ADMIN_URL}) does not answer: {exc}")
    data_dir = tmp_path_factory.mktemp("slipway-addons-api") / "data"
    srv = ServerProcess(data_dir, extra_args=("--postgres-admin-url", PG_ADMIN_URL)).start()
    yield srv
    srv.stop()


@pytest.fixture
def client(addons_server: ServerProcess) -> Iterator[httpx.Client]:
    with addons_server.client() as c:
        yield c


def _app(client: httpx.Client) -> str:
    response = client.post("/apps", json={"name": unique_name("addons")})
    assert response.status_code == 201, response.text
    name: str = response.json()["name"]
    return name


def _addon(client: httpx.Client, app: str, plan: str) -> dict[str, Any]:
    response = client.post(f"/apps/{app}/addons", json={"plan": {"name": plan}})
    assert response.status_code == 201, response.text
    addon: dict[str, Any] = response.json()
    return addon


def test_the_catalogue_lists_services_and_plans(client: httpx.Client) -> None:
    services = client.get("/addon-services")
    assert services.status_code == 200
    assert [s["name"] for s in services.json()] == [
        "heroku-postgresql",
        "heroku-redis",
        "jawsdb-maria",
        "cloudamqp",
        "memcachier",
        "slipway-mail",
        "scheduler",
    ]
    postgres = {
        "id": _catalogue_id("service", "heroku-postgresql"),
        "name": "heroku-postgresql",
        "human_name": "Heroku Postgres",
        "cli_plugin_name": None,
        "state": "ga",
        "supports_multiple_installations": True,
        "supports_sharing": True,
        "created_at": None,
        "updated_at": None,
    }
    assert services.json()[0] == postgres
    for ident in ("heroku-postgresql", "postgresql", postgres["id"]):
        found = client.get(f"/addon-services/{ident}")
        assert found.status_code == 200, ident
        assert found.json() == postgres
    missing = client.get("/addon-services/mongodb")
    assert missing.status_code == 404
    assert missing.json() == {
        "id": "not_found",
        "message": "Couldn't find that add-on service (mongodb).",
        "resource": "addon_service",
    }

    plans = client.get("/addon-services/redis/plans")
    assert plans.status_code == 200
    assert [p["name"] for p in plans.json()] == ["heroku-redis:mini", "heroku-redis:premium-0"]
    mini = {
        "id": _catalogue_id("plan", "heroku-redis:mini"),
        "name": "heroku-redis:mini",
        "human_name": "Mini",
        "description": "25 MB, 20 clients; data is kept across clean restarts, not across crashes.",
        "default": True,
        "price": {"cents": 0, "unit": "month", "contract": False, "metered": False},
        "state": "public",
        "addon_service": {"id": _catalogue_id("service", "heroku-redis"), "name": "heroku-redis"},
        "compliance": [],
        "installable_inside_private_network": False,
        "installable_outside_private_network": True,
        "created_at": None,
        "updated_at": None,
    }
    assert plans.json()[0] == mini
    for plan in ("mini", "heroku-redis:mini", mini["id"]):
        found = client.get(f"/addon-services/heroku-redis/plans/{plan}")
        assert found.status_code == 200, plan
        assert found.json() == mini
    unknown = client.get("/addon-services/heroku-redis/plans/gigantic")
    assert unknown.status_code == 404
    assert unknown.json() == {
        "id": "not_found",
        "message": "Couldn't find that plan (gigantic).",
        "resource": "plan",
    }
    assert client.get("/addon-services/mongodb/plans").status_code == 404


def test_unknown_services_and_plans_are_refused_at_create(client: httpx.Client) -> None:
    app = _app(client)
    service = client.post(f"/apps/{app}/addons", json={"plan": "heroku-mongodb"})
    assert service.status_code == 422
    assert service.json() == {
        "id": "invalid_params",
        "message": "Couldn't find either the add-on service or plan 'heroku-mongodb'; "
        "available services: cloudamqp, heroku-postgresql, heroku-redis, jawsdb-maria, "
        "memcachier, scheduler, slipway-mail.",
    }
    plan = client.post(f"/apps/{app}/addons", json={"plan": "redis:gigantic"})
    assert plan.status_code == 422
    assert plan.json() == {
        "id": "invalid_params",
        "message": (
            "The heroku-redis service has no plan 'gigantic'; choose one of mini, premium-0."
        ),
    }
    options = client.post(
        f"/apps/{app}/addons", json={"plan": "heroku-redis", "config": {"followers": True}}
    )
    assert options.status_code == 422
    assert options.json()["message"] == (
        "The heroku-redis service does not take --followers; its options are "
        "--maxmemory_policy POLICY and --tls."
    )
    assert client.get(f"/apps/{app}/addons").json() == []


def test_redis_info_and_no_backups(client: httpx.Client) -> None:
    app = _app(client)
    addon = _addon(client, app, "heroku-redis")
    info = client.get(f"/addons/{addon['id']}/info", params={"app": app})
    assert info.status_code == 200, info.text
    rows = {row["label"]: row["value"] for row in info.json()}
    assert list(rows) == [
        "Plan",
        "Status",
        "Version",
        "Port",
        "TLS Port",
        "Memory",
        "Clients",
        "Persistence",
        "Maxmemory Policy",
        "Created",
        "Add-on",
    ]
    assert all(set(row) == {"label", "value"} for row in info.json())
    assert rows["Plan"] == "Mini"
    assert rows["Status"] == "Available"
    assert rows["Add-on"] == addon["name"]
    no_backups = {
        "id": "invalid_params",
        "message": "heroku-redis add-ons have no backups; back up a service that offers "
        "them, such as heroku-postgresql.",
    }
    base = f"/addons/{addon['name']}/backups"
    for response in (
        client.get(base, params={"app": app}),
        client.post(base, params={"app": app}),
        client.post(f"{base}/b001/actions/restore", params={"app": app}),
        client.get(f"{base}/b001/download", params={"app": app}),
    ):
        assert response.status_code == 422, response.request.url
        assert response.json() == no_backups
    # By attachment name within the app, as redis:info REDIS does.
    assert client.get("/addons/REDIS/info", params={"app": app}).status_code == 200
    missing = client.get("/addons/redis-nope-1/info", params={"app": app})
    assert missing.status_code == 404
    assert missing.json() == {
        "id": "not_found",
        "message": "Couldn't find that add-on (redis-nope-1); heroku addons lists the add-ons.",
        "resource": "addon",
    }


def test_postgres_backups_capture_list_download_and_restore(client: httpx.Client) -> None:
    app = _app(client)
    addon = _addon(client, app, "heroku-postgresql")
    url = client.get(f"/apps/{app}/config-vars").json()["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (v int); INSERT INTO t VALUES (1), (2)")
    base = f"/addons/{addon['id']}/backups"
    empty = client.get(base, params={"app": app})
    assert empty.status_code == 200
    assert empty.json() == []

    captured = client.post(base, params={"app": app})
    assert captured.status_code == 201, captured.text
    backup = captured.json()
    assert set(backup) == {"name", "created_at", "size", "status", "scheduled"}
    assert backup["name"] == "b001"
    assert backup["status"] == "Completed"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", backup["created_at"])
    assert isinstance(backup["size"], int)
    assert backup["size"] > 0
    assert client.get(base, params={"app": app}).json() == [backup]

    download = client.get(f"{base}/b001/download", params={"app": app})
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/octet-stream"
    assert 'filename="b001.dump"' in download.headers["content-disposition"]
    assert download.content.startswith(b"PGDMP")
    assert len(download.content) == backup["size"]

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM t")
    restored = client.post(f"{base}/b001/actions/restore", params={"app": app})
    assert restored.status_code == 200, restored.text
    assert restored.json() == {"restored": "b001"}
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT v FROM t ORDER BY v").fetchall()
    assert [r[0] for r in rows] == [1, 2]

    no_such = {
        "id": "not_found",
        "message": f"There is no backup b009 of {addon['name']}; pg:backups lists the backups.",
        "resource": "addon",
    }
    for response in (
        client.post(f"{base}/b009/actions/restore", params={"app": app}),
        client.get(f"{base}/b009/download", params={"app": app}),
    ):
        assert response.status_code == 404, response.request.url
        assert response.json() == no_such

    info = client.get("/addons/DATABASE/info", params={"app": app})
    assert info.status_code == 200
    rows_by_label = {row["label"]: row["value"] for row in info.json()}
    assert list(rows_by_label) == [
        "Plan",
        "Status",
        "Connections",
        "PG Version",
        "Created",
        "Data Size",
        "Tables",
        "Server",
        "Add-on",
    ]
    assert rows_by_label["Plan"] == "Essential 0"
    assert rows_by_label["Status"] == "Available"
    assert rows_by_label["Tables"] == "1"
    assert rows_by_label["Add-on"] == addon["name"]


def test_rotating_credentials_releases_the_new_url(client: httpx.Client) -> None:
    app = _app(client)
    addon = _addon(client, app, "heroku-redis")
    before = client.get(f"/apps/{app}/config-vars").json()["REDIS_URL"]
    rotated = client.post(f"/addons/{addon['id']}/actions/rotate-credentials", params={"app": app})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["id"] == addon["id"]
    # The server runs with its CA, so Redis also offers TLS (rediss://), as Heroku's does.
    assert rotated.json()["config_vars"] == ["REDIS_TLS_URL", "REDIS_URL"]
    config = client.get(f"/apps/{app}/config-vars").json()
    after = config["REDIS_URL"]
    assert after != before
    assert config["REDIS_TLS_URL"].startswith("rediss://")
    assert (
        config["REDIS_TLS_URL"].split("@")[0]
        == after.replace("redis://", "rediss://").split("@")[0]
    )
    newest = client.get(
        f"/apps/{app}/releases", headers={"Range": "version ..; order=desc,max=1"}
    ).json()[0]
    assert newest["description"] == f"Update REDIS by {addon['name']}"


def test_deleting_an_app_destroys_its_add_ons(client: httpx.Client) -> None:
    app = _app(client)
    addon = _addon(client, app, "heroku-postgresql")
    url = client.get(f"/apps/{app}/config-vars").json()["DATABASE_URL"]
    psycopg.connect(url, connect_timeout=5).close()
    deleted = client.delete(f"/apps/{app}")
    assert deleted.status_code == 200, deleted.text
    assert client.get(f"/addons/{addon['id']}").status_code == 404
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5).close()
