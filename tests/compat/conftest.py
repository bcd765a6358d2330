"""The official heroku CLI (npm heroku@11.10.0), installed once into a cache folder."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import ServerProcess

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
