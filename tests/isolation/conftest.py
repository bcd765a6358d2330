"""One server whose dynos and builds have small disks, two deployed apps of
tests/apps/escape (the attacker and its neighbour, the victim), each with a redis add-on,
and a way to measure the victim's latency through the router while the attacker
misbehaves."""

from __future__ import annotations

import json
import re
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unique_name
from tests.deploy.conftest import BUILDPACKS, User, set_buildpacks
from tests.dynos.conftest import Dynos, wait_for
from tests.support import ServerProcess, slipway_login

DISK_MB = 64
BUILD_DISK_MB = 48


@dataclass
class App:
    dynos: Dynos
    repo: Path
    user: User

    @property
    def name(self) -> str:
        return self.dynos.app

    def info(self) -> dict[str, Any]:
        with self.dynos.api() as api:
            result: dict[str, Any] = api.get(f"/apps/{self.name}").json()
            return result

    def config(self) -> dict[str, str]:
        with self.dynos.api() as api:
            result: dict[str, str] = api.get(f"/apps/{self.name}/config-vars").json()
            return result

    def web(self) -> tuple[str, int]:
        dyno = self.dynos.routes()["dynos"][0]
        return dyno["host"], dyno["port"]

    def attempt(self, name: str, *args: object, timeout: float = 60) -> dict[str, Any]:
        """An escape attempt from inside the app's web dyno (asked through the router)."""
        params: list[tuple[str, str | int | float | bool | None]] = [("arg", str(a)) for a in args]
        response = self.through_router(f"/attempt/{name}", params=params, timeout=timeout)
        result: dict[str, Any] = response.json()
        return result

    def scan(self, hosts: list[str], ports: list[int]) -> list[str]:
        params: list[tuple[str, str | int | float | bool | None]] = [("host", h) for h in hosts]
        params += [("port", str(p)) for p in ports]
        opened: str = self.through_router("/scan", params=params, timeout=120).json()["detail"]
        return [o for o in opened.split(",") if o]

    def through_router(
        self,
        path: str,
        params: list[tuple[str, str | int | float | bool | None]] | None = None,
        timeout: float = 30,
    ) -> httpx.Response:
        response = httpx.get(
            f"http://127.0.0.1:{self.dynos.server.router_port}{path}",
            params=params,
            headers={"Host": f"{self.name}.localhost"},
            timeout=timeout,
        )
        if response.status_code != 200:
            recent = [line for line in self.dynos.logs() if "app[web." not in line][-15:]
            raise AssertionError(f"{path}: {response.status_code}\n" + "\n".join(recent))
        return response

    def run_detached(self, command: str, timeout: float = 60) -> tuple[dict[str, Any], list[str]]:
        """A one-off dyno (`heroku run:detached`); its RESULT line and its log lines."""
        with self.dynos.api() as api:
            created = api.post(
                f"/apps/{self.name}/dynos", json={"command": command, "attach": False}
            )
            assert created.status_code == 201, created.text
        dyno = created.json()["name"]

        def finished() -> list[str] | None:
            mine = [line for line in self.dynos.logs() if f"[{dyno}]:" in line]
            return mine if any("Process exited with status" in line for line in mine) else None

        lines = wait_for(finished, timeout=timeout, what=f"{dyno} to finish")
        result: dict[str, Any] = next(
            (json.loads(line.split("RESULT ", 1)[1]) for line in lines if "RESULT " in line), {}
        )
        return result, lines


@dataclass
class Latency:
    """GET / on the victim through the router, as fast as one client goes, until stopped."""

    app: App
    samples: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Latency:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(30)

    def _run(self) -> None:
        url = f"http://127.0.0.1:{self.app.dynos.server.router_port}/"
        headers = {"Host": f"{self.app.name}.localhost"}
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                start = time.perf_counter()
                try:
                    response = client.get(url, headers=headers)
                    if response.status_code != 200:
                        self.failures.append(str(response.status_code))
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.samples.append(time.perf_counter() - start)
                time.sleep(0.01)

    def p99_ms(self) -> float:
        if len(self.samples) < 2:
            return float("nan")
        return statistics.quantiles(self.samples, n=100)[98] * 1000


@pytest.fixture(scope="session")
def escape_server() -> Iterator[ServerProcess]:
    # Not under pytest's 0700 tmp dir: the embedded servers run as their own OS users.
    root = Path(tempfile.mkdtemp(prefix="slipway-escape-"))
    root.chmod(0o711)
    server = ServerProcess(
        root / "data",
        extra_args=("--dyno-disk", str(DISK_MB), "--build-disk", str(BUILD_DISK_MB)),
    ).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def _deploy(server: ServerProcess, user: User, dest: Path, prefix: str) -> App:
    repo = user.repo("escape", dest)
    name = user.create_app(repo, unique_name(prefix))
    set_buildpacks(server, name, BUILDPACKS / "plain")
    pushed = user.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    created = user.slipway("addons:create", "redis", cwd=repo)
    assert created.returncode == 0, created.stderr
    app = App(Dynos(server, name), repo, user)
    wait_for(
        lambda: app.dynos.releases()[-1]["status"] == "succeeded" and app.dynos.urls(),
        what=f"{name} to run with its add-on",
    )
    return app


@pytest.fixture(scope="session")
def escape_user(escape_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> User:
    user = User(tmp_path_factory.mktemp("escape-home"), escape_server)
    slipway_login(user.env, escape_server.api_key)
    return user


@pytest.fixture(scope="module")
def escape_apps(
    escape_server: ServerProcess, escape_user: User, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[App, App]]:
    user = escape_user
    work = tmp_path_factory.mktemp("escape-apps")
    attacker = _deploy(escape_server, user, work / "attacker", "evil")
    victim = _deploy(escape_server, user, work / "victim", "victim")
    yield attacker, victim
    with escape_server.client() as api:
        for app in (attacker, victim):
            api.delete(f"/apps/{app.name}")


def redis_ports(app: App) -> list[int]:
    """The app's Redis add-on ports: plain (REDIS_URL) and TLS (REDIS_TLS_URL)."""
    config = app.config()
    ports = []
    for var in ("REDIS_URL", "REDIS_TLS_URL"):
        match = re.search(r":(\d+)$", config[var])
        assert match, config[var]
        ports.append(int(match[1]))
    return ports
