"""The store on SQLite and PostgreSQL: migrations, and releases the database keeps append-only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from slipway.platform import accounts, apps
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


def test_migrations_are_idempotent(store: Store) -> None:
    store.migrate()
    with store.session() as session:
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0006"


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
        app = apps.create_app(tx, created[0], "immutable-app")
    for column, value in [
        ("description", "'tampered'"),
        ("version", "7"),
        ("config", '\'{"X": "1"}\''),
    ]:
        with pytest.raises(DatabaseError, match="append-only"), store.session() as session:
            session.execute(text(f"UPDATE releases SET {column} = {value}"))
    # Status may move (pending -> succeeded/failed): that is how releases finish.
    with store.session() as session:
        session.execute(text("UPDATE releases SET status = 'succeeded'"))
        row = session.scalar(select(ReleaseRow).where(ReleaseRow.app_id == app.id))
        assert row is not None
        assert row.description == "Initial release"
