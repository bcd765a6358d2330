"""The engine: SQLite (WAL) by default, PostgreSQL by URL; migrations applied at start."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker


class StoreError(Exception):
    """The store cannot be reached or prepared; the message says what to do."""


def normalize_url(url: str) -> str:
    """Accept the URLs people type (`postgresql://`, `postgres://`) and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the API answers, so even a power cut
        # after an acknowledged change loses nothing.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: two API requests racing to create
        # release vN+1 are serialised instead of failing on lock upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Store:
    """Owns the engine and hands out sessions."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        try:
            if self.is_sqlite:
                self.engine = create_engine(self.url, pool_size=8, max_overflow=8)
                _configure_sqlite(self.engine)
            else:
                self.engine = create_engine(
                    self.url, pool_size=8, max_overflow=8, pool_pre_ping=True
                )
        except (SQLAlchemyError, ImportError) as exc:
            raise StoreError(f"The store URL {self.safe_url} cannot be used: {exc}.") from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except SQLAlchemyError:
            return "<unparseable store URL>"

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        cfg = Config()
        cfg.set_main_option("script_location", "slipway.store:migrations")
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise StoreError(
                f"Cannot reach the store at {self.safe_url}: {exc.orig}. "
                "Check that the database server is running and the URL is right."
            ) from exc

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
