"""The official heroku CLI's `logs`, `logs --tail` and drains commands against Slipway."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.compat.conftest import HerokuRun
from tests.conftest import unique_name
from tests.support import ServerProcess, read_until


@pytest.mark.heroku_cli
def test_heroku_logs(heroku: HerokuRun, sqlite_server: ServerProcess) -> None:
    app = unique_name("hk")
    with sqlite_server.client() as api:
        api.post("/apps", json={"name": app})
        api.patch(f"/apps/{app}/config-vars", json={"A": "1"})
    started = time.monotonic()
    result = heroku("logs", "-a", app)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 15
    assert "app[api]: Set A config vars by user admin@slipway.localhost" in result.stdout
    assert len(heroku("logs", "-a", app, "--num", "1").stdout.strip().splitlines()) == 1
    assert heroku("logs", "-a", app, "--source", "heroku").stdout.strip() == ""
    assert "Release v2" in heroku("logs", "-a", app, "--dyno", "api").stdout
    assert heroku("logs", "-a", app, "-p", "web").stdout.strip() == ""


@pytest.mark.heroku_cli
def test_heroku_logs_tail(heroku_bin: Path, sqlite_server: ServerProcess, tmp_path: Path) -> None:
    app = unique_name("hk")
    with sqlite_server.client() as api:
        api.post("/apps", json={"name": app})
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "HEROKU_HOST": sqlite_server.url,
        "HEROKU_API_KEY": sqlite_server.api_key,
        "HEROKU_PARTICLEBOARD_URL": sqlite_server.url,
        "DISABLE_TELEMETRY": "true",
        "HEROKU_SKIP_NEW_VERSION_CHECK": "true",
        "HEROKU_DISABLE_AUTOUPDATE": "true",
        "NO_COLOR": "1",
    }
    proc = subprocess.Popen(
        [str(heroku_bin), "logs", "--tail", "-a", app], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(4)
        with sqlite_server.client() as api:
            api.patch(f"/apps/{app}/config-vars", json={"TAILED": "1"})
        assert proc.stdout is not None
        assert "Set TAILED config vars" in read_until(proc.stdout, "Set TAILED config vars", 15)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.heroku_cli
def test_heroku_drains(heroku: HerokuRun, sqlite_server: ServerProcess) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    url = f"syslog://127.0.0.1:{listener.getsockname()[1]}"
    app = unique_name("hk")
    with sqlite_server.client() as api:
        api.post("/apps", json={"name": app})
    try:
        added = heroku("drains:add", url, "-a", app)
        assert added.returncode == 0, added.stderr
        assert url in heroku("drains", "-a", app).stdout
        removed = heroku("drains:remove", url, "-a", app)
        assert removed.returncode == 0, removed.stderr
        assert url not in heroku("drains", "-a", app).stdout
        refused = heroku("drains:add", "ftp://example.com", "-a", app)
        assert refused.returncode != 0
        assert "not supported" in refused.stderr
    finally:
        listener.close()
