"""Logs through a real server: platform events in order, history across restarts, both CLIs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique_name
from tests.support import ServerProcess, read_until, slipway_bin, slipway_login

LINE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 (app|heroku)\[[\w.-]+\]: ")


def session(api: httpx.Client, app: str, **body: object) -> str:
    response = api.post(f"/apps/{app}/log-sessions", json=body)
    assert response.status_code == 201, response.text
    url: str = response.json()["logplex_url"]
    return url


def read_lines(url: str) -> list[str]:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    return response.text.splitlines()


def test_platform_events_in_order(sqlite_server: ServerProcess) -> None:
    app = unique_name("log")
    with sqlite_server.client() as api:
        api.post("/apps", json={"name": app})
        api.patch(f"/apps/{app}/config-vars", json={"SECRET": "hunter2-value"})
        api.patch(f"/apps/{app}/config-vars", json={"SECRET": None})
        api.post(f"/apps/{app}/releases", json={"release": "1"})
        lines = read_lines(session(api, app))
    email = "admin@slipway.localhost"
    messages = [line.split(": ", 1)[1] for line in lines]
    assert messages == [
        f"Initial release by user {email}",
        f"Release v1 created by user {email}",
        f"Set SECRET config vars by user {email}",
        f"Release v2 created by user {email}",
        f"Remove SECRET config vars by user {email}",
        f"Release v3 created by user {email}",
        f"Rollback to v1 by user {email}",
        f"Release v4 created by user {email}",
    ]
    assert all(LINE_RE.match(line) and "app[api]: " in line for line in lines)
    assert "hunter2-value" not in "\n".join(lines)


def test_sessions_filter_and_limit(sqlite_server: ServerProcess) -> None:
    app = unique_name("log")
    with sqlite_server.client() as api:
        api.post("/apps", json={"name": app})
        for i in range(5):
            api.patch(f"/apps/{app}/config-vars", json={"K": str(i)})
        assert len(read_lines(session(api, app, lines=3))) == 3
        assert read_lines(session(api, app, source="heroku")) == []
        assert len(read_lines(session(api, app, source="app", dyno="api"))) == 12
        assert read_lines(session(api, app, dyno="web")) == []
        bad = api.post(f"/apps/{app}/log-sessions", json={"lines": 5000})
        assert bad.status_code == 422
        assert api.post(f"/apps/{app}/log-sessions", json={"source": "x"}).status_code == 422
        url = session(api, app)
    assert httpx.get(url + "x").status_code == 404
    assert httpx.get(url.rsplit("/", 1)[0] + "/garbage").status_code == 404


def test_sse_framing_resume_and_keepalive(sqlite_server: ServerProcess) -> None:
    app = unique_name("log")
    with sqlite_server.client() as api:
        api.post("/apps", json={"name": app})
        url = session(api, app, lines=100)
    response = httpx.get(url, headers={"Accept": "text/event-stream"}, timeout=10)
    assert response.headers["content-type"].startswith("text/event-stream")
    text = response.text
    assert text.startswith("retry: 100\n\n")
    ids = [int(m) for m in re.findall(r"^id: (\d+)$", text, re.M)]
    assert ids
    data = re.findall(r"^data: (.*)$", text, re.M)
    assert len(data) == 2  # the two v1 lines
    # Resuming after the last id sends nothing old.
    again = httpx.get(
        url, headers={"Accept": "text/event-stream", "Last-Event-ID": str(ids[-1])}, timeout=10
    )
    assert "data:" not in again.text


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "data").start()
    yield srv
    srv.stop()


def test_history_survives_a_restart(restartable: ServerProcess, tmp_path: Path) -> None:
    with restartable.client() as api:
        api.post("/apps", json={"name": "kept-logs"})
        api.patch("/apps/kept-logs/config-vars", json={"A": "1"})
    time.sleep(0.5)  # let the history flush (every 200 ms)
    restartable.stop(signal.SIGKILL)
    srv = ServerProcess(restartable.data_dir, port=restartable.port).start()
    restartable.proc = srv.proc
    with srv.client() as api:
        lines = read_lines(session(api, "kept-logs"))
    assert any("Set A config vars" in line for line in lines)


@pytest.fixture
def slipway_env(sqlite_server: ServerProcess, tmp_path: Path) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SLIPWAY_API_URL": sqlite_server.url}
    slipway_login(env, sqlite_server.api_key)
    return env


def test_slipway_logs_num_source_dyno(
    slipway_env: dict[str, str], sqlite_server: ServerProcess
) -> None:
    app = unique_name("log")
    with sqlite_server.client() as api:
        api.post("/apps", json={"name": app})
        api.patch(f"/apps/{app}/config-vars", json={"A": "1"})

    def logs(*args: str) -> list[str]:
        result = subprocess.run(
            [slipway_bin(), "logs", "-a", app, *args],
            env=slipway_env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    assert len(logs()) == 4
    assert len(logs("--num", "1")) == 1
    assert "Release v2 created" in logs("-n", "1")[0]
    assert logs("--source", "heroku") == []
    assert len(logs("--source", "app", "--dyno", "api")) == 4
    assert logs("-p", "web") == []
    assert "\x1b[" not in "\n".join(logs())  # plain when piped


def test_slipway_logs_tail_shows_new_events_live(
    slipway_env: dict[str, str], sqlite_server: ServerProcess
) -> None:
    app = unique_name("log")
    with sqlite_server.client() as api:
        api.post("/apps", json={"name": app})
    proc = subprocess.Popen(
        [slipway_bin(), "logs", "--tail", "-n", "0", "-a", app],
        env=slipway_env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)
        with sqlite_server.client() as api:
            api.patch(f"/apps/{app}/config-vars", json={"LIVE": "1"})
        assert proc.stdout is not None
        assert "Set LIVE config vars" in read_until(proc.stdout, "Set LIVE config vars", 10)
    finally:
        proc.kill()
        proc.wait()


def test_dropped_history_is_reported(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data", extra_args=("--log-history", "5")).start()
    try:
        with srv.client() as api:
            api.post("/apps", json={"name": "short-memory"})
            for i in range(4):
                api.patch("/apps/short-memory/config-vars", json={"N": str(i)})
            response = api.post("/apps/short-memory/log-sessions", json={"lines": 100})
            assert response.headers["X-Heroku-Warning"] == (
                "Only the last 5 lines are kept; 5 older lines were dropped."
            )
            assert len(read_lines(response.json()["logplex_url"])) == 5
            quiet = api.post("/apps/short-memory/log-sessions", json={"lines": 3})
            assert "X-Heroku-Warning" not in quiet.headers
    finally:
        srv.stop()
