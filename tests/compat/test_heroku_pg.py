"""The official `pg:*` commands: Heroku's data API served by Slipway, and the local psql,
pg_dump and pg_restore the CLI runs against the add-on with PGSSLMODE=require.

An app of its own with a database and no code (pg:* need no dynos), so pg:reset and
pg:push do not touch the Django app other tests use.
"""

from __future__ import annotations

import re
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.compat.conftest import HerokuCli
from tests.conftest import unique_name
from tests.support import PG_ADMIN_URL

pytestmark = [pytest.mark.heroku_cli, pytest.mark.postgres]


@pytest.fixture(scope="module")
def pg_app(cli: HerokuCli) -> Iterator[str]:
    name = unique_name("pg")
    cli.ok("apps:create", name, "--no-remote")
    cli.ok("addons:create", "heroku-postgresql", "-a", name)
    yield name
    cli("apps:destroy", "-a", name, "--confirm", name)


def psql(cli: HerokuCli, app: str, sql: str) -> str:
    return cli.ok("pg:psql", "-c", sql, "-a", app).stdout


def test_info_psql_and_credentials(cli: HerokuCli, pg_app: str) -> None:
    info = cli.ok("pg:info", "-a", pg_app).stdout
    assert re.search(r"=== DATABASE_URL, HEROKU_POSTGRESQL_\w+_URL", info)
    assert re.search(r"Plan:\s+Essential 0", info)
    assert re.search(r"Add-on:\s+postgresql-\w+-\d+", info)
    assert "Status:" in info
    assert re.search(r"Plan:\s+Essential 0", cli.ok("pg:info", "DATABASE_URL", "-a", pg_app).stdout)
    # psql with PGSSLMODE=require: the connection is TLS.
    ssl = psql(cli, pg_app, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert re.search(r"^\s*t\s*$", ssl, re.M), ssl
    psql(cli, pg_app, "CREATE TABLE notes (v text); INSERT INTO notes VALUES ('one')")
    listed = cli.ok("pg:credentials", "-a", pg_app).stdout
    assert re.search(r"default\s+active", listed)
    assert "as DATABASE" in listed
    url = cli.ok("pg:credentials:url", "-a", pg_app).stdout
    database_url = cli.ok("config:get", "DATABASE_URL", "-a", pg_app).stdout.strip()
    assert database_url in url
    assert "sslmode=require" in url
    missing = cli("pg:credentials:url", "--name", "analyst", "-a", pg_app)
    assert missing.returncode != 0
    assert "Couldn't find the credential analyst" in missing.stderr
    rotated = cli.ok("pg:credentials:rotate", "--confirm", pg_app, "-a", pg_app)
    assert "Rotating default on" in rotated.stderr
    new_url = cli.ok("config:get", "DATABASE_URL", "-a", pg_app).stdout.strip()
    assert new_url != database_url
    with psycopg.connect(new_url, sslmode="require") as conn:
        assert conn.execute("SELECT v FROM notes").fetchone() == ("one",)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(database_url, connect_timeout=5).close()


def test_psql_on_a_terminal(cli: HerokuCli, pg_app: str) -> None:
    term = cli.terminal("pg:psql", "-a", pg_app)
    term.expect(f"{pg_app}::DATABASE=>")
    term.send("SELECT 6 * 7 AS answer;\r")
    assert "42" in term.expect(f"{pg_app}::DATABASE=>")
    term.send("\\q\r")
    assert term.wait() == 0


def test_backups_capture_list_download_url_and_restore(
    cli: HerokuCli, pg_app: str, tmp_path: Path
) -> None:
    psql(cli, pg_app, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before')")
    captured = cli.ok("pg:backups:capture", "-a", pg_app)
    name = re.findall(r"Backing up DATABASE to (b\d{3})", captured.stderr)[0]
    listed = cli.ok("pg:backups", "-a", pg_app).stdout
    assert re.search(rf"{name}\s+\S+\s+Completed", listed)
    url = cli.ok("pg:backups:url", name, "-a", pg_app).stdout.strip()
    assert url.startswith("https://")
    dump = tmp_path / "latest.dump"
    cli.ok("pg:backups:download", name, "-o", str(dump), "-a", pg_app)
    assert dump.read_bytes().startswith(b"PGDMP")
    # The link is its own credential: tampered with, it opens nothing.
    ca = ssl.create_default_context(cafile=cli.env["NODE_EXTRA_CA_CERTS"])
    assert httpx.get(url, verify=ca, timeout=30).content == dump.read_bytes()
    bad = httpx.get(url.replace("token=", "token=0"), verify=ca, timeout=30)
    assert bad.status_code == 404
    assert bad.json()["id"] == "not_found"

    psql(cli, pg_app, "INSERT INTO kept VALUES ('after')")
    restored = cli.ok("pg:backups:restore", "--confirm", pg_app, "-a", pg_app)
    assert "Restoring... done" in restored.stderr
    assert "after" not in psql(cli, pg_app, "SELECT v FROM kept")
    assert re.search(r"r001\s+\S+\s+Completed", cli.ok("pg:backups", "-a", pg_app).stdout)
    foreign = cli(
        "pg:backups:restore",
        "https://example.com/x.dump",
        "DATABASE_URL",
        "--confirm",
        pg_app,
        "-a",
        pg_app,
    )
    assert foreign.returncode != 0
    assert "Slipway restores its own backups only" in foreign.stderr


def test_ps_locks_kill_and_wait(cli: HerokuCli, pg_app: str) -> None:
    assert "pid" in cli.ok("pg:ps", "-a", pg_app).stdout
    assert "relname" in cli.ok("pg:locks", "-a", pg_app).stdout
    killed = cli.ok("pg:kill", "99999", "-a", pg_app)
    assert "pg_cancel_backend" in killed.stdout
    assert cli.ok("pg:wait", "-a", pg_app).returncode == 0


def test_pull_reset_and_push_with_a_local_database(cli: HerokuCli, pg_app: str) -> None:
    local = f"slipway_pull_{uuid.uuid4().hex[:8]}"
    admin = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_URL)
    env = {
        "PGHOST": str(admin.get("host", "127.0.0.1")),
        "PGPORT": str(admin.get("port", "5432")),
        "PGUSER": str(admin.get("user", "postgres")),
    }
    try:
        psql(
            cli, pg_app, "CREATE TABLE IF NOT EXISTS moved (v text); INSERT INTO moved VALUES ('x')"
        )
        pulled = cli.ok("pg:pull", "DATABASE_URL", local, "-a", pg_app, env=env)
        assert "Pulling complete." in pulled.stdout + pulled.stderr
        with psycopg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{local}") as conn:
            assert conn.execute("SELECT v FROM moved").fetchone() == ("x",)
        refused = cli("pg:push", local, "DATABASE_URL", "-a", pg_app, env=env)
        assert refused.returncode != 0
        assert "Remote database is not empty" in refused.stderr
        cli.ok("pg:reset", "--confirm", pg_app, "-a", pg_app)
        assert "moved" not in psql(cli, pg_app, r"\dt")
        pushed = cli.ok("pg:push", local, "DATABASE_URL", "-a", pg_app, env=env)
        assert "Pushing complete." in pushed.stdout + pushed.stderr
        assert "x" in psql(cli, pg_app, "SELECT v FROM moved")
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{local}" WITH (FORCE)')


def test_pg_commands_on_an_app_without_a_database(cli: HerokuCli) -> None:
    name = unique_name("nopg")
    cli.ok("apps:create", name, "--no-remote")
    try:
        info = cli.ok("pg:info", "-a", name)
        assert f"{name} has no heroku-postgresql databases." in info.stdout
        for args in (("pg:psql", "-c", "select 1"), ("pg:backups:capture",)):
            result = cli(*args, "-a", name)
            assert result.returncode != 0
            assert f"{name} has no databases" in result.stderr
        # The data API itself: a Redis add-on is not a Postgres database.
        cli.ok("addons:create", "heroku-redis", "-a", name)
        with cli.server.client() as api:
            redis = api.get(f"/apps/{name}/addons").json()[0]
            answer = api.get(f"/client/v11/databases/{redis['id']}")
        assert answer.status_code == 404
        assert answer.json()["message"].startswith(f"{redis['name']} is a heroku-redis add-on")
    finally:
        cli("apps:destroy", "-a", name, "--confirm", name)
