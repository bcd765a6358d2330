"""Persistence: SQLAlchemy models, the engine and Alembic migrations."""

from slipway.store.engine import Store, StoreError, normalize_url

__all__ = ["Store", "StoreError", "normalize_url"]
