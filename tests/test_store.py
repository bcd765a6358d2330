"""The store on SQLite and PostgreSQL: migrations, and releases the database keeps append-only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from slipway.platform import accounts, apps, views
from slipway.platform.tx import Platform
from slipway.store import Store
from slipway.store.engine import normalize_url, sqlite_url
from slipway.store.models import ReleaseRow
from tests.support import scratch_postgres_db


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(sqlite_url(tmp_path / "s.db"))
        s.migrate()
        yield s
        s.dispose()
        return
    with scratch_postgres_db() as url:
        s = Store(url)
        s.migrate()
        yield s
        s.dispose()


def test_urls_people_type_use_psycopg3() -> None:
    assert normalize_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", "slipway.store:migrations")
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def test_migrations_are_idempotent(store: Store) -> None:
    store.migrate()
    with store.session() as session:
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == _head()
    assert int(_head()) >= 7


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    s = Store(sqlite_url(tmp_path / "w.db"))
    s.migrate()
    with s.session() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    s.dispose()


def test_the_database_refuses_to_edit_a_release(store: Store) -> None:
    platform = Platform(store)
    with platform.tx() as tx:
        created = accounts.bootstrap_admin(tx, "a@example.com")
        assert created is not None
        app = apps.create_app(tx, views.Actor(created[0]), "immutable-app")
    for column, value in [
        ("description", "'tampered'"),
        ("version", "7"),
        ("config", '\'{"X": "1"}\''),
        ("reason", "'rollback'"),
    ]:
        with pytest.raises(DatabaseError, match="append-only"), store.session() as session:
            session.execute(text(f"UPDATE releases SET {column} = {value}"))
    # Status may move (pending -> succeeded/failed): that is how releases finish.
    with store.session() as session:
        session.execute(text("UPDATE releases SET status = 'succeeded'"))
        row = session.scalar(select(ReleaseRow).where(ReleaseRow.app_id == app.id))
        assert row is not None
        assert row.description == "Initial release"


def test_release_reasons_are_filled_in_for_releases_made_before_the_column(
    tmp_path: Path,
) -> None:
    from alembic import command
    from alembic.config import Config

    s = Store(sqlite_url(tmp_path / "old.db"))
    cfg = Config()
    cfg.set_main_option("script_location", "slipway.store:migrations")
    with s.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
    descriptions = {
        "Initial release": "initial",
        "Deploy 1a2b3c4d": "deploy",
        "Set A, B config vars": "config",
        "Remove C config vars": "config",
        "Set A config vars and remove B config vars": "config",
        "Rollback to v2": "rollback",
        "Attach DATABASE (@ref:postgresql-x-1)": "addon",
        "Detach HEROKU_REDIS_RED (@ref:redis-y-2)": "addon",
        "Update DATABASE by postgresql-x-1": "addon",
    }
    with s.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO accounts (id, email, name, is_admin, created_at, updated_at) "
                "VALUES ('u', 'u@example.com', '', 1, '2026-01-01', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO apps (id, name, owner_id, uid, config, stack, region, maintenance, "
                "build_stack, created_at, updated_at) VALUES ('a', 'old-app', 'u', 20001, "
                "'{}', 'heroku-24', 'us', 0, 'heroku-24', '2026-01-01', '2026-01-01')"
            )
        )
        for version, description in enumerate(descriptions, start=1):
            conn.execute(
                text(
                    "INSERT INTO releases (id, app_id, version, description, status, config, "
                    "addon_keys, user_id, user_email, created_at, updated_at) VALUES "
                    "(:id, 'a', :v, :d, 'succeeded', '{}', '[]', 'u', 'u@example.com', "
                    "'2026-01-01', '2026-01-01')"
                ),
                {"id": f"r{version}", "v": version, "d": description},
            )
    s.migrate()
    with s.session() as session:
        rows = session.scalars(select(ReleaseRow).order_by(ReleaseRow.version))
        assert {r.description: r.reason for r in rows} == descriptions
    s.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_api_key_made_before_people_keeps_working(backend: str, tmp_path: Path) -> None:
    """A data directory from before authorizations: its admin key (an `api_keys` row, and
    an email in capitals) still signs in after the upgrade, as a global, lasting token."""
    import datetime as dt
    import hashlib

    from alembic import command
    from alembic.config import Config

    from slipway.platform import authorizations

    def at(url: str) -> None:
        s = Store(url)
        cfg = Config()
        cfg.set_main_option("script_location", "slipway.store:migrations")
        with s.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0007")
        now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        with s.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (id, email, name, is_admin, created_at, updated_at) "
                    "VALUES ('a1', 'Admin@Example.com', '', true, :now, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO api_keys (id, account_id, token_hash, description, created_at) "
                    "VALUES ('k1', 'a1', :hash, 'created with the account', :now)"
                ),
                {"hash": hashlib.sha256(b"HRKU-old-key").hexdigest(), "now": now},
            )
        s.migrate()
        with Platform(s).tx() as tx:
            actor = authorizations.authenticate(tx, "HRKU-old-key")
            assert actor.email == "admin@example.com"
            assert actor.is_admin
            key = authorizations.get_authorization(tx, actor, "~")
            assert key.kind == "api-key"
            assert key.expires_at is None
            assert key.scope == ("global",)
        s.dispose()

    if backend == "sqlite":
        at(sqlite_url(tmp_path / "old.db"))
        return
    with scratch_postgres_db() as url:
        at(url)
