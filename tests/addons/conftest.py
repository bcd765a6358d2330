"""Fixtures for the add-on providers: private data dirs, the local PostgreSQL and redis-server."""

from __future__ import annotations

import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from slipway.addons import AddonSettings, PostgresProvider, RedisProvider
from tests.support import PG_ADMIN_URL


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data dir the way `slipway server` makes it (0711), outside pytest's 0700 tmp tree
    so the embedded cluster's OS user (postgres, when we run as root) can reach it."""
    path = Path(tempfile.mkdtemp(prefix="slipway-addons-", dir="/tmp"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _pg_answers(url: str) -> str | None:
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        return str(exc).splitlines()[0]
    return None


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    problem = _pg_answers(PG_ADMIN_URL)
    if problem:
        pytest.skip(f"the local PostgreSQL server ({PG_ADMIN_URL}) does not answer: {problem}")
    return PG_ADMIN_URL


@pytest.fixture
def pg(data_dir: Path, pg_admin_url: str) -> Iterator[PostgresProvider]:
    """The provider on the machine's server; every add-on it still has is destroyed after."""
    provider = PostgresProvider(data_dir, AddonSettings(postgres_admin_url=pg_admin_url))
    yield provider
    for resource_id in provider.resource_ids():
        provider.deprovision(resource_id)


@pytest.fixture
def redis_settings() -> AddonSettings:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server and redis-cli are not installed (Debian: redis-server)")
    # A range of our own, away from the default and from other test runs.
    base = random.randrange(20000, 29000, 100)
    return AddonSettings(redis_ports=(base, base + 99))


@pytest.fixture
def redis(data_dir: Path, redis_settings: AddonSettings) -> Iterator[RedisProvider]:
    provider = RedisProvider(data_dir, redis_settings)
    provider.supervisor.initial_backoff = 0.1
    yield provider
    provider.stop()
    # A fresh instance finds whatever is left (running or not) and removes it.
    root = data_dir / "addons" / "redis"
    if root.exists():
        cleaner = RedisProvider(data_dir, redis_settings)
        for entry in root.iterdir():
            cleaner.deprovision(entry.name)
