"""A server with short runtime timers, one deployed sample app, and helpers to look at dynos."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.conftest import unique_name
from tests.deploy.conftest import BUILDPACKS, User, set_buildpacks
from tests.support import ServerProcess, slipway_login

T = TypeVar("T")

# Short enough to test R10, R12 and crash back-off in seconds, long enough for python3 to boot.
RUNTIME_ARGS = (
    "--boot-timeout",
    "4",
    "--stop-timeout",
    "2",
    "--restart-backoff",
    "1",
    "--restart-backoff-cap",
    "4",
    "--max-dynos-per-app",
    "12",
    "--release-timeout",
    "3",
    # Apps that sleep go idle after 3 s without a request.
    "--idle-after",
    "0.05",
    # The router's timeouts, shrunk likewise: H12 after 2 s, H15 after 3 s, H20 after 3 s.
    "--router-option=--request-timeout=2",
    "--router-option=--idle-timeout=3",
    "--router-option=--boot-timeout=3",
)


def wait_for(check: Callable[[], T | None], timeout: float = 20, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(0.1)


class Dynos:
    """Reads an app's dynos, ports and logs the way the router and a user see them."""

    def __init__(self, server: ServerProcess, app: str) -> None:
        self.server = server
        self.app = app

    def api(self) -> httpx.Client:
        return self.server.client()

    def wait(self, check: Callable[[], T | None], timeout: float = 20, what: str = "") -> T:
        """wait_for, and on a timeout show the app's recent log lines."""
        try:
            return wait_for(check, timeout, what)
        except AssertionError as exc:
            recent = "\n".join(line for line in self.logs() if "app[web." not in line)
            raise AssertionError(f"{exc}\n--- recent logs:\n{recent[-6000:]}") from None

    def all(self) -> list[dict[str, Any]]:
        with self.api() as api:
            response = api.get(f"/apps/{self.app}/dynos")
            assert response.status_code == 200, response.text
            result: list[dict[str, Any]] = response.json()
            return result

    def states(self, ptype: str | None = None) -> list[str]:
        return sorted(f"{d['name']}:{d['state']}" for d in self.all() if ptype in (None, d["type"]))

    def routes(self) -> dict[str, Any]:
        token = (self.server.data_dir / "router-token").read_text().strip()
        response = httpx.get(
            f"{self.server.url}/internal/router/routes?once=1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        table = json.loads(response.text.strip().splitlines()[0])
        return next((a for a in table["apps"] if a["name"] == self.app), {})

    def ports(self) -> dict[str, int]:
        return {d["name"]: d["port"] for d in self.routes().get("dynos", [])}

    def urls(self) -> dict[str, str]:
        """Where each up web dyno answers, as the router reaches it (its namespace's address)."""
        return {
            d["name"]: f"http://{d['host']}:{d['port']}" for d in self.routes().get("dynos", [])
        }

    def get(self, dyno: str, path: str = "/") -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(self.urls()[dyno] + path, timeout=5).json()
        return result

    def logs(self) -> list[str]:
        with self.api() as api:
            session = api.post(f"/apps/{self.app}/log-sessions", json={"lines": 1500}).json()
        text = httpx.get(session["logplex_url"], timeout=10).text
        return text.splitlines()

    def scale(self, **quantities: int | str) -> None:
        updates = [{"type": t, "quantity": str(q)} for t, q in quantities.items()]
        with self.api() as api:
            response = api.patch(f"/apps/{self.app}/formation", json={"updates": updates})
            assert response.status_code == 200, response.text

    def config(self, **values: str | None) -> None:
        with self.api() as api:
            response = api.patch(f"/apps/{self.app}/config-vars", json=values)
            assert response.status_code == 200, response.text

    def releases(self) -> list[dict[str, Any]]:
        with self.api() as api:
            result: list[dict[str, Any]] = api.get(
                f"/apps/{self.app}/releases", headers={"Range": "version ..; max=1000"}
            ).json()
            return result


def lines_of(logs: list[str], process: str) -> list[str]:
    """The messages of one source, e.g. `heroku[web.1]`."""
    marker = f" {process}: "
    return [line.split(marker, 1)[1] for line in logs if marker in line]


@pytest.fixture(scope="session")
def runtime_server() -> Iterator[ServerProcess]:
    # Not under pytest's 0700 tmp dir: the embedded PostgreSQL cluster runs as the
    # `postgres` OS user, which must be able to reach the data dir.
    root = Path(tempfile.mkdtemp(prefix="slipway-runtime-"))
    root.chmod(0o711)
    server = ServerProcess(root / "data", extra_args=RUNTIME_ARGS).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def runtime_user(runtime_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> User:
    home = tmp_path_factory.mktemp("runtime-home")
    u = User(home, runtime_server)
    slipway_login(u.env, runtime_server.api_key)
    return u


@pytest.fixture
def deployed(
    runtime_user: User, runtime_server: ServerProcess, tmp_path: Path
) -> Iterator[tuple[Dynos, Path]]:
    """A fresh app running tests/apps/dynos (web=1), destroyed afterwards."""
    repo = runtime_user.repo("dynos", tmp_path / "app")
    name = runtime_user.create_app(repo, unique_name("dy"))
    set_buildpacks(runtime_server, name, BUILDPACKS / "plain")
    result = runtime_user.push(repo)
    assert result.returncode == 0, result.stderr
    dynos = Dynos(runtime_server, name)
    yield dynos, repo
    with dynos.api() as api:
        api.delete(f"/apps/{name}")
