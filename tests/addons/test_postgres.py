"""heroku-postgresql against the machine's PostgreSQL server (SLIPWAY_TEST_PG)."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from slipway.addons import (
    AddonError,
    AddonSettings,
    BackupFailed,
    InvalidOptions,
    PostgresProvider,
    ProviderUnavailable,
    ResourceNotFound,
)
from slipway.addons.postgres import SERVICE
from slipway.addons.postgres import provider as pg_module
from tests.addons.helpers import assert_one_sentence, scram_matches

pytestmark = pytest.mark.postgres

ESSENTIAL_0 = SERVICE.default_plan
STANDARD_0 = SERVICE.plans[2]
assert STANDARD_0.name == "heroku-postgresql:standard-0"


def admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, autocommit=True)


def role_exists(admin_url: str, role: str) -> bool:
    with admin(admin_url) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is not None
        )


def database_exists(admin_url: str, db: str) -> bool:
    with admin(admin_url) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone()
        return found is not None


def parts(url: str) -> tuple[str, str, str]:
    """(role, password, database) of a DATABASE_URL."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return str(info["user"]), str(info["password"]), str(info["dbname"])


def server_checks_passwords(admin_url: str, url: str) -> bool:
    """False on a trust-auth server (then only the stored verifier tells passwords apart)."""
    role, _, db = parts(url)
    host = psycopg.conninfo.conninfo_to_dict(url)["host"]
    port = psycopg.conninfo.conninfo_to_dict(url)["port"]
    try:
        psycopg.connect(
            host=host, port=port, user=role, dbname=db, password="not-the-password"
        ).close()
    except psycopg.OperationalError:
        return True
    return False


def stored_verifier(admin_url: str, role: str) -> str:
    with admin(admin_url) as conn:
        row = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role]
        ).fetchone()
        assert row is not None
        return str(row[0])


def test_two_addons_are_isolated_and_unprivileged(pg: PostgresProvider, pg_admin_url: str) -> None:
    a = pg.provision("postgresql-concave-11111", ESSENTIAL_0, {})
    b = pg.provision("postgresql-shaped-22222", STANDARD_0, {})
    role_a, password_a, db_a = parts(a.config["URL"])
    role_b, _, db_b = parts(b.config["URL"])
    assert a.config["URL"].startswith("postgres://")
    assert a.resource_id == db_a
    assert role_a != role_b
    assert db_a != db_b
    assert len(password_a) >= 32
    for name, prefix in ((role_a, "u"), (db_a, "d"), (role_b, "u"), (db_b, "d")):
        assert name[0] == prefix
        assert len(name) == 13
        assert name[1:].isalnum()
        assert name == name.lower()

    for url in (a.config["URL"], b.config["URL"]):
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE widgets (id serial PRIMARY KEY, name text)")
            conn.execute("INSERT INTO widgets (name) VALUES ('sprocket')")
            row = conn.execute(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
                "rolconnlimit FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            ).fetchone()
            assert owner == (parts(url)[0],)
        assert row is not None
        assert row[:5] == (False, False, False, False, False)
    with psycopg.connect(a.config["URL"]) as conn:
        assert conn.execute(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (20,)
    with psycopg.connect(b.config["URL"]) as conn:
        assert conn.execute(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (120,)

    # A's role cannot connect to B's database (nor the other way round).
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(make_conninfo(a.config["URL"], dbname=db_b)).close()
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(make_conninfo(b.config["URL"], dbname=db_a)).close()

    # The password reached the server only as a SCRAM verifier.
    verifier = stored_verifier(pg_admin_url, role_a)
    assert password_a not in verifier
    assert scram_matches(password_a, verifier)

    # Provider state is private.
    state = pg.root / "resources" / f"{a.resource_id}.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert pg.config(a.resource_id) == a.config
    assert sorted(pg.resource_ids()) == sorted([a.resource_id, b.resource_id])


def test_rotate_credentials(pg: PostgresProvider, pg_admin_url: str) -> None:
    a = pg.provision("postgresql-rotating-3333", ESSENTIAL_0, {})
    old_url = a.config["URL"]
    role, old_password, _ = parts(old_url)
    session = psycopg.connect(old_url, autocommit=True)
    new_url = pg.rotate_credentials(a.resource_id)["URL"]
    role2, new_password, _ = parts(new_url)
    assert role2 == role
    assert new_password != old_password
    assert pg.config(a.resource_id) == {"URL": new_url}
    # The role's sessions were terminated.
    with pytest.raises(psycopg.OperationalError):
        session.execute("SELECT 1")
    session.close()
    with psycopg.connect(new_url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (role,)
    verifier = stored_verifier(pg_admin_url, role)
    assert scram_matches(new_password, verifier)
    assert not scram_matches(old_password, verifier)
    if server_checks_passwords(pg_admin_url, new_url):
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(old_url).close()


def test_backup_capture_and_restore(pg: PostgresProvider) -> None:
    a = pg.provision("postgresql-backed-4444", ESSENTIAL_0, {})
    url = a.config["URL"]
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 500) g")
        conn.execute("COMMENT ON TABLE notes IS 'kept'")
    first = pg.backups.capture_backup(a.resource_id)
    assert first.name == "b001"
    assert first.status == "Completed"
    assert first.size > 0
    path = pg.backups.backup_path(a.resource_id, "b001")
    assert path == pg.root / "backups" / a.resource_id / "b001.dump"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes()[:5] == b"PGDMP"

    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM notes WHERE id > 10")
        conn.execute("UPDATE notes SET body = 'changed'")
        conn.execute("CREATE TABLE extra (x int)")
    second = pg.backups.capture_backup(a.resource_id)
    assert second.name == "b002"
    assert [b.name for b in pg.backups.list_backups(a.resource_id)] == ["b001", "b002"]

    app_session = psycopg.connect(url, autocommit=True)  # an app still connected
    pg.backups.restore_backup(a.resource_id, "b001")
    with pytest.raises(psycopg.OperationalError):
        app_session.execute("SELECT 1")
    app_session.close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*), min(body) FROM notes").fetchone() == (500, "note 1")
        assert conn.execute("SELECT to_regclass('extra')").fetchone() == (None,)
        assert conn.execute("SELECT obj_description('notes'::regclass)").fetchone() == ("kept",)
        # Restored objects belong to the add-on's role.
        owner = conn.execute(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'notes'"
        ).fetchone()
        assert owner == (parts(url)[0],)

    pg.backups.restore_backup(a.resource_id, "b002")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM notes").fetchone() == (10,)

    pg.backups.delete_backup(a.resource_id, "b001")
    assert [b.name for b in pg.backups.list_backups(a.resource_id)] == ["b002"]
    assert pg.backups.capture_backup(a.resource_id).name == "b003"  # numbers are never reused
    with pytest.raises(ResourceNotFound) as info:
        pg.backups.restore_backup(a.resource_id, "b001")
    assert_one_sentence(info.value.message)
    with pytest.raises(ResourceNotFound):
        pg.backups.backup_path(a.resource_id, "../../etc/passwd")


def test_a_failed_restore_leaves_the_database_as_it_was(
    pg: PostgresProvider, pg_admin_url: str
) -> None:
    a = pg.provision("postgresql-broken-4545", ESSENTIAL_0, {})
    with psycopg.connect(a.config["URL"]) as conn:
        conn.execute("CREATE TABLE kept AS SELECT g AS n FROM generate_series(1, 2000) g")
    backup = pg.backups.capture_backup(a.resource_id)
    path = pg.backups.backup_path(a.resource_id, backup.name)
    path.write_bytes(path.read_bytes()[: backup.size // 2])  # a damaged dump
    with psycopg.connect(a.config["URL"]) as conn:
        conn.execute("CREATE TABLE later (x int)")
    with pytest.raises(BackupFailed) as info:
        pg.backups.restore_backup(a.resource_id, backup.name)
    assert_one_sentence(info.value.message, parts(a.config["URL"])[1])
    assert "left as it was" in info.value.message
    with psycopg.connect(a.config["URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (2000,)
        assert conn.execute("SELECT to_regclass('later')").fetchone() == ("later",)
    with admin(pg_admin_url) as conn:
        leftovers = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [a.resource_id + "_%"]
        ).fetchall()
    assert leftovers == []


def test_backup_restores_into_another_addon(pg: PostgresProvider) -> None:
    source = pg.provision("postgresql-source-5555", ESSENTIAL_0, {})
    target = pg.provision("postgresql-target-6666", ESSENTIAL_0, {})
    with psycopg.connect(source.config["URL"]) as conn:
        conn.execute("CREATE TABLE t AS SELECT 42 AS answer")
    backup = pg.backups.capture_backup(source.resource_id)
    pg.backups.restore_backup(
        target.resource_id, backup.name, source_resource_id=source.resource_id
    )
    with psycopg.connect(target.config["URL"]) as conn:
        assert conn.execute("SELECT answer FROM t").fetchone() == (42,)


def test_tools_get_the_password_in_the_environment_not_argv(pg: PostgresProvider) -> None:
    a = pg.provision("postgresql-psql-7777", ESSENTIAL_0, {})
    role, password, db = parts(a.config["URL"])
    argv, env = pg.psql_command(a.resource_id)
    assert all(password not in arg for arg in argv)
    assert env["PGPASSWORD"] == password
    out = subprocess.run(
        [*argv, "-Atc", "SELECT current_user, current_database()"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == f"{role}|{db}"


def test_info(pg: PostgresProvider) -> None:
    a = pg.provision("postgresql-info-8888", ESSENTIAL_0, {})
    with psycopg.connect(a.config["URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE one (x int)")
        rows = dict(pg.info(a.resource_id))
    assert rows["Plan"] == "Essential 0"
    assert rows["Status"] == "Available"
    assert rows["Connections"] == "1/20"
    assert rows["Tables"] == "1"
    assert rows["PG Version"][:2].isdigit()
    assert "B" in rows["Data Size"]
    assert rows["Add-on"] == "postgresql-info-8888"
    assert rows["Created"].endswith("UTC")


def test_reset_empties_the_database(pg: PostgresProvider) -> None:
    a = pg.provision("postgresql-reset-9999", ESSENTIAL_0, {})
    with psycopg.connect(a.config["URL"]) as conn:
        conn.execute("CREATE TABLE gone (x int)")
    pg.reset(a.resource_id)
    with psycopg.connect(a.config["URL"]) as conn:
        assert conn.execute("SELECT to_regclass('gone')").fetchone() == (None,)
        conn.execute("CREATE TABLE again (x int)")


def test_deprovision_drops_database_role_and_backups(
    pg: PostgresProvider, pg_admin_url: str
) -> None:
    a = pg.provision("postgresql-doomed-1010", ESSENTIAL_0, {})
    role, _, db = parts(a.config["URL"])
    pg.backups.capture_backup(a.resource_id)
    session = psycopg.connect(a.config["URL"], autocommit=True)  # an app still connected
    pg.deprovision(a.resource_id)
    session.close()
    assert not database_exists(pg_admin_url, db)
    assert not role_exists(pg_admin_url, role)
    assert not (pg.root / "backups" / a.resource_id).exists()
    pg.deprovision(a.resource_id)  # idempotent
    with pytest.raises(ResourceNotFound) as info:
        pg.config(a.resource_id)
    assert_one_sentence(info.value.message)
    with pytest.raises(ResourceNotFound):
        pg.deprovision("../../etc")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_server_that_is_down_gives_one_sentence_and_leaves_nothing(data_dir: Path) -> None:
    port = closed_port()
    secret = "s3cret-Admin-pw"
    provider = PostgresProvider(
        data_dir,
        AddonSettings(
            postgres_admin_url=f"postgresql://postgres:{secret}@127.0.0.1:{port}/postgres"
        ),
    )
    with pytest.raises(ProviderUnavailable) as info:
        provider.provision("postgresql-down-1", ESSENTIAL_0, {})
    message = info.value.message
    assert message == (
        f"Could not reach the PostgreSQL server at 127.0.0.1:{port}: Connection refused; "
        "start it or pass --postgres-admin-url."
    )
    assert_one_sentence(message, secret)
    assert secret not in str(info.value)
    assert info.value.__cause__ is None
    assert provider.resource_ids() == []
    assert list((provider.root / "resources").glob("*")) == []


def test_refused_admin_credentials_are_not_echoed(data_dir: Path, pg_admin_url: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(pg_admin_url)
    host, port = info.get("host", "127.0.0.1"), info.get("port", 5432)
    url = f"postgresql://nosuchadmin:pw-Leak-Check@{host}:{port}/postgres"
    provider = PostgresProvider(data_dir, AddonSettings(postgres_admin_url=url))
    with pytest.raises(ProviderUnavailable) as caught:
        provider.provision("postgresql-badcreds-1", ESSENTIAL_0, {})
    assert "refused the admin credentials" in caught.value.message
    assert_one_sentence(caught.value.message, "pw-Leak-Check", "nosuchadmin")
    assert provider.resource_ids() == []


def test_an_admin_without_rights_is_told_so(data_dir: Path, pg_admin_url: str) -> None:
    weak = "slipway_test_weak_admin"
    with admin(pg_admin_url) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(weak)))
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'weak-pw-1'").format(sql.Identifier(weak))
        )
    try:
        base = pg_admin_url.split("://", 1)[1].split("@", 1)[1]
        provider = PostgresProvider(
            data_dir, AddonSettings(postgres_admin_url=f"postgresql://{weak}:weak-pw-1@{base}")
        )
        with pytest.raises(ProviderUnavailable) as caught:
            provider.provision("postgresql-weak-1", ESSENTIAL_0, {})
        assert "may not create roles and databases" in caught.value.message
        assert_one_sentence(caught.value.message, "weak-pw-1")
        assert provider.resource_ids() == []
    finally:
        with admin(pg_admin_url) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(weak)))


@pytest.fixture
def taken_database(pg_admin_url: str) -> Iterator[str]:
    name = "dtakenslipway"
    with admin(pg_admin_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    with admin(pg_admin_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def test_a_failed_database_drops_the_role_it_made(
    pg: PostgresProvider, pg_admin_url: str, taken_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The role is created, then CREATE DATABASE fails (the name is taken on the server).
    names = iter(["uorphanslipway", taken_database])
    monkeypatch.setattr(pg_module, "random_name", lambda prefix: next(names))
    with pytest.raises(AddonError) as info:
        pg.provision("postgresql-clash-1", ESSENTIAL_0, {})
    assert (
        info.value.message
        == (
            "Could not create the database for postgresql-clash-1 on the PostgreSQL server at "
            f'127.0.0.1:5432: database "{taken_database}" already exists.'
        )
        or "already exists" in info.value.message
    )
    assert_one_sentence(info.value.message)
    assert not role_exists(pg_admin_url, "uorphanslipway")
    assert database_exists(pg_admin_url, taken_database)  # not ours: left alone
    assert pg.resource_ids() == []
    assert list((pg.root / "resources").glob("*")) == []


def test_options_are_refused_before_anything_is_made(pg: PostgresProvider) -> None:
    with pytest.raises(InvalidOptions) as info:
        pg.provision("postgresql-opts-1", ESSENTIAL_0, {"fork": "other-db"})
    assert_one_sentence(info.value.message)
    assert "--fork" in info.value.message
    assert pg.resource_ids() == []


def test_start_sweeps_an_interrupted_provision(pg: PostgresProvider, pg_admin_url: str) -> None:
    a = pg.provision("postgresql-crashed-1", ESSENTIAL_0, {})
    role, _, db = parts(a.config["URL"])
    # What a platform killed between creating the database and recording it leaves behind.
    state_path = pg.root / "resources" / f"{a.resource_id}.json"
    state_path.write_text(state_path.read_text().replace('"provisioned"', '"provisioning"'))
    pg.start()
    assert not database_exists(pg_admin_url, db)
    assert not role_exists(pg_admin_url, role)
    assert not state_path.exists()
