"""Shared fixtures: one real server per store backend for the whole session."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ServerProcess, scratch_postgres_db


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A running `slipway server` on SQLite, then the same suite on PostgreSQL."""
    data_dir = tmp_path_factory.mktemp(f"slipway-{request.param}") / "data"
    if request.param == "sqlite":
        srv = ServerProcess(data_dir).start()
        yield srv
        srv.stop()
        return
    with scratch_postgres_db() as url:
        srv = ServerProcess(data_dir, store_url=url).start()
        yield srv
        srv.stop()


@pytest.fixture(scope="session")
def sqlite_server() -> Iterator[ServerProcess]:
    """One SQLite-backed server for the CLI tests, which need no second backend.

    Not under pytest's 0700 tmp dir: the embedded PostgreSQL cluster (heroku-postgresql
    add-ons) runs as the `postgres` OS user, which must reach the data dir."""
    root = Path(tempfile.mkdtemp(prefix="slipway-cli-"))
    root.chmod(0o711)
    srv = ServerProcess(root / "data").start()
    yield srv
    # It may run dynos and add-on servers by now, which take a while to stop on a busy machine.
    srv.stop(timeout=60)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_app(api: httpx.Client) -> Callable[..., dict[str, Any]]:
    def make(name: str | None = None) -> dict[str, Any]:
        response = api.post("/apps", json={"name": name or unique_name()})
        assert response.status_code == 201, response.text
        app: dict[str, Any] = response.json()
        return app

    return make


@pytest.fixture
def tmp_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home
