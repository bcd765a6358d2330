"""Real `git push` over HTTPS to a real server: sample apps, a logged-in user, helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique_name
from tests.support import ServerProcess, slipway_bin, slipway_login

APPS = Path(__file__).parent.parent / "apps"
BUILDPACKS = APPS / "buildpacks"


@dataclass
class User:
    """A developer's machine: HOME with a netrc from `slipway login`, and their shell env."""

    home: Path
    server: ServerProcess

    @property
    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ["PATH"],
            "HOME": str(self.home),
            "SLIPWAY_API_URL": self.server.url,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Dev",
            "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev",
            "GIT_COMMITTER_EMAIL": "dev@example.com",
        }

    def run(self, *argv: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv), cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def slipway(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return self.run(slipway_bin(), *args, cwd=cwd)

    def git(self, *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return self.run("git", *args, cwd=cwd, timeout=timeout)

    def repo(self, sample: str, dest: Path) -> Path:
        """A git repository holding a copy of a sample app, committed on main."""
        shutil.copytree(APPS / sample, dest, symlinks=True)
        for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "initial")):
            assert self.git(*args, cwd=dest).returncode == 0
        return dest

    def commit(self, repo: Path, message: str = "change", *, empty: bool = False) -> str:
        if empty:
            result = self.git("commit", "-q", "--allow-empty", "-m", message, cwd=repo)
        else:
            self.git("add", "-A", cwd=repo)
            result = self.git("commit", "-q", "-m", message, cwd=repo)
        assert result.returncode == 0, result.stderr
        return self.git("rev-parse", "HEAD", cwd=repo).stdout.strip()

    def create_app(self, repo: Path, name: str | None = None) -> str:
        name = name or unique_name("d")
        result = self.slipway("apps:create", name, cwd=repo)
        assert result.returncode == 0, result.stderr
        return name

    def push(
        self, repo: Path, *refspec: str, remote: str = "slipway"
    ) -> subprocess.CompletedProcess[str]:
        return self.git("push", remote, *(refspec or ("main",)), cwd=repo)


@pytest.fixture(scope="session")
def user(sqlite_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> User:
    home = tmp_path_factory.mktemp("dev-home")
    u = User(home, sqlite_server)
    slipway_login(u.env, sqlite_server.api_key)
    return u


Api = httpx.Client


@pytest.fixture
def api_of(sqlite_server: ServerProcess) -> Callable[[], httpx.Client]:
    return sqlite_server.client


def releases(server: ServerProcess, app: str) -> list[dict[str, object]]:
    with server.client() as api:
        result: list[dict[str, object]] = api.get(
            f"/apps/{app}/releases", headers={"Range": "version ..; max=1000"}
        ).json()
        return result


def set_buildpacks(server: ServerProcess, app: str, *buildpacks: Path | str) -> None:
    with server.client() as api:
        response = api.put(
            f"/apps/{app}/buildpack-installations",
            json={"updates": [{"buildpack": str(b)} for b in buildpacks]},
        )
        assert response.status_code == 200, response.text


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose dynos do not see the host's Python and Node.js (--hide-host-runtimes),
    for the language, runtime and app.json tests."""
    srv = ServerProcess(
        tmp_path_factory.mktemp("languages") / "data",
        extra_args=("--hide-host-runtimes",),
    ).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def dev(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> User:
    u = User(tmp_path_factory.mktemp("languages-home"), server)
    slipway_login(u.env, server.api_key)
    return u
