"""The dashboard on the suite's shared SQLite server: people with passwords, a browser."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique_name
from tests.deploy.conftest import User
from tests.support import ServerProcess, slipway_login

PASSWORD = "correct horse battery"
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path("/tmp/slipway-dashboard-shots")


@dataclass
class Person:
    email: str
    password: str
    api_key: str
    user: User

    def api(self) -> httpx.Client:
        return self.user.server.client(self.api_key)


def make_person(server: ServerProcess, home: Path) -> Person:
    email = f"{unique_name('p')}@example.com"
    with server.client() as admin:
        made = admin.post("/accounts", json={"email": email, "password": PASSWORD})
        assert made.status_code == 201, made.text
    user = User(home, server)
    key = made.json()["api_key"]
    slipway_login(user.env, key)
    return Person(email, PASSWORD, key, user)


@pytest.fixture(scope="module")
def person(sqlite_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Person:
    return make_person(sqlite_server, tmp_path_factory.mktemp("person-home"))


@pytest.fixture(scope="module")
def other(sqlite_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Person:
    return make_person(sqlite_server, tmp_path_factory.mktemp("other-home"))


def dashboard_url(server: ServerProcess) -> str:
    """Through the router, as a person reaches it (`services` forwards it to the API)."""
    return f"http://dashboard.localhost:{server.router_port}"


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Screenshots of each page: under pytest's tmp dir, copied to SHOTS at the end."""
    folder = tmp_path_factory.mktemp("dashboard-shots")
    yield folder
    SHOTS.mkdir(parents=True, exist_ok=True)
    for shot in folder.glob("*.png"):
        shutil.copy(shot, SHOTS / shot.name)
    print(f"\ndashboard screenshots: {SHOTS}")
