"""The official heroku CLI (npm heroku@11.10.0), installed once into a cache folder."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.compat.terminal import Terminal
from tests.conftest import unique_name
from tests.support import ServerProcess, slipway_bin, slipway_login

HEROKU_CLI_VERSION = "11.10.0"


def cache_dir() -> Path:
    root = os.environ.get("SLIPWAY_TEST_CACHE") or Path.home() / ".cache" / "slipway"
    return Path(root) / f"heroku-cli-{HEROKU_CLI_VERSION}"


@pytest.fixture(scope="session")
def heroku_bin() -> Path:
    prefix = cache_dir()
    binary = prefix / "node_modules" / ".bin" / "heroku"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed; run ./scripts/test, which installs Node.js and npm.")
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(prefix),
            f"heroku@{HEROKU_CLI_VERSION}",
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    assert binary.exists()
    return binary


HerokuRun = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def heroku(heroku_bin: Path, sqlite_server: ServerProcess, tmp_path: Path) -> HerokuRun:
    """Run `heroku ...` with the environment from the CLI contract and a scratch HOME."""
    home = tmp_path / "heroku-home"
    home.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "HEROKU_HOST": sqlite_server.url,
        "HEROKU_API_KEY": sqlite_server.api_key,
        "HEROKU_PARTICLEBOARD_URL": sqlite_server.url,
        "HEROKU_DATA_HOST": "127.0.0.1",
        "DISABLE_TELEMETRY": "true",
        "HEROKU_SKIP_ANALYTICS": "1",
        "HEROKU_SKIP_NEW_VERSION_CHECK": "true",
        "HEROKU_DISABLE_AUTOUPDATE": "true",
        "NO_COLOR": "1",
        "COLUMNS": "200",
        # `heroku run` verifies the rendezvous certificate; Node trusts only this way.
        "NODE_EXTRA_CA_CERTS": str(sqlite_server.data_dir / "tls" / "ca.crt"),
    }

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(heroku_bin), *args],
            env=env,
            cwd=cwd or home,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


@dataclass
class HerokuCli:
    """The official CLI as a user runs it after `slipway login` and
    `eval "$(slipway heroku-env)"`: the token in ~/.netrc, the data API, git's CA."""

    binary: Path
    home: Path
    env: dict[str, str]
    server: ServerProcess
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def __call__(
        self,
        *args: str,
        cwd: Path | None = None,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        return subprocess.run(
            [str(self.binary), *args],
            env={**self.env, **(env or {})},
            cwd=cwd or self.home,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        """Run it and insist on exit status 0 (showing both streams if not)."""
        result = self(*args, **kwargs)  # type: ignore[arg-type]
        assert result.returncode == 0, (
            f"heroku {' '.join(args)}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
        return result

    def terminal(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> Terminal:
        """`heroku ARGS` on a real terminal (a PTY of 40 rows by 120 columns)."""
        env = {**self.env, "TERM": "xterm-256color", **(env or {})}
        env.pop("COLUMNS", None)
        return Terminal([str(self.binary), *args], env, cwd=str(cwd or self.home))

    def git(self, *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def router(self, app: str) -> httpx.Client:
        """A client that reaches `app` through the router, as a browser would."""
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.server.router_port}",
            headers={"Host": f"{app}.localhost"},
            timeout=30,
        )


@pytest.fixture(scope="session")
def cli(
    heroku_bin: Path, sqlite_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> HerokuCli:
    home = tmp_path_factory.mktemp("heroku-user")
    base = {"PATH": os.environ["PATH"], "HOME": str(home), "SLIPWAY_API_URL": sqlite_server.url}
    slipway_login(base, sqlite_server.api_key)
    exports = subprocess.run(
        [slipway_bin(), "heroku-env"], env=base, capture_output=True, text=True, check=True
    ).stdout
    env = dict(base)
    for line in exports.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    env.update(
        # git runs `heroku git:credentials` as its credential helper.
        PATH=f"{heroku_bin.parent}:{os.environ['PATH']}",
        NO_COLOR="1",
        COLUMNS="200",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Dev",
        GIT_AUTHOR_EMAIL="dev@example.com",
        GIT_COMMITTER_NAME="Dev",
        GIT_COMMITTER_EMAIL="dev@example.com",
    )
    return HerokuCli(heroku_bin, home, env, sqlite_server)


APPS = Path(__file__).parent.parent / "apps"


@dataclass(frozen=True)
class DeployedApp:
    name: str
    repo: Path
    push_output: str


@pytest.fixture(scope="session")
def django_app(cli: HerokuCli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedApp]:
    """tests/apps/django-heroku, deployed once per session the Heroku way: `heroku create`
    (which adds the `heroku` remote), Postgres and Redis add-ons, `git push heroku main`."""
    repo = tmp_path_factory.mktemp("django") / "mysite"
    shutil.copytree(APPS / "django-heroku", repo)
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "initial")):
        assert cli.git(*args, cwd=repo).returncode == 0
    name = unique_name("dj")
    cli.ok("apps:create", name, cwd=repo)
    cli.ok("addons:create", "heroku-postgresql", "-a", name, cwd=repo)
    cli.ok("addons:create", "heroku-redis", "-a", name, cwd=repo)
    pushed = cli.git("push", "heroku", "main", cwd=repo)
    assert pushed.returncode == 0, pushed.stderr
    yield DeployedApp(name, repo, pushed.stderr)
    cli("apps:destroy", "-a", name, "--confirm", name)
