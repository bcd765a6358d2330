"""The server process: first start, restarts, signals, kill -9, PostgreSQL store, rate limits."""

from __future__ import annotations

import contextlib
import signal
import stat
import time
from pathlib import Path

import httpx

from tests.support import ServerProcess, scratch_postgres_db


def test_first_start_creates_the_admin_key_once(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data").start()
    try:
        key_file = tmp_path / "data" / "admin-api-key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o711
        assert stat.S_IMODE((tmp_path / "data" / "slipway.db").stat().st_mode) == 0o600
        key = srv.api_key
        assert key.startswith("HRKU-")
        assert "slipway login" in srv.log()
        # The key is printed nowhere, only its file.
        assert key not in srv.log()
    finally:
        assert srv.stop() == 0
    again = ServerProcess(tmp_path / "data").start()
    try:
        assert again.api_key == key
        with again.client() as client:
            assert client.get("/account").status_code == 200
    finally:
        again.stop()


def test_sigint_and_sigterm_shut_down_cleanly(tmp_path: Path) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        srv = ServerProcess(tmp_path / f"data-{sig}").start()
        assert srv.stop(sig) == 0
        assert "Slipway stopped." in srv.log()


def test_kill_9_right_after_an_acknowledged_change_loses_nothing(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data").start()
    with srv.client() as client:
        client.post("/apps", json={"name": "durable-app"})
        response = client.patch("/apps/durable-app/config-vars", json={"SECRET": "kept"})
        assert response.status_code == 200
        srv.stop(signal.SIGKILL)
    srv = ServerProcess(tmp_path / "data").start()
    try:
        with srv.client() as client:
            assert client.get("/apps/durable-app/config-vars").json() == {"SECRET": "kept"}
            versions = [r["version"] for r in client.get("/apps/durable-app/releases").json()]
            assert versions == [1, 2]
    finally:
        srv.stop()


def test_the_same_control_plane_runs_on_postgresql(tmp_path: Path) -> None:
    with scratch_postgres_db() as url:
        srv = ServerProcess(tmp_path / "data", store_url=url).start()
        with srv.client() as client:
            client.post("/apps", json={"name": "pg-app"})
            client.patch("/apps/pg-app/config-vars", json={"A": "1"})
        srv.stop(signal.SIGKILL)
        srv = ServerProcess(tmp_path / "data", store_url=url).start()
        try:
            with srv.client() as client:
                assert client.get("/apps/pg-app/config-vars").json() == {"A": "1"}
        finally:
            srv.stop()
        # Nothing went to SQLite.
        assert not (tmp_path / "data" / "slipway.db").exists()


def test_an_unreachable_store_is_one_sentence(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data", store_url="postgresql://nobody@127.0.0.1:1/none")
    with contextlib.suppress(RuntimeError):
        srv.start(timeout=20)
    log = srv.log()
    assert "Cannot reach the store" in log
    assert "Traceback" not in log


def test_rate_limit(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data", extra_args=("--rate-limit", "3")).start()
    try:
        with srv.client() as client:
            remaining = [
                client.get("/account").headers.get("RateLimit-Remaining") for _ in range(3)
            ]
            assert remaining == ["2", "1", "0"]
            response = client.get("/account")
            assert response.status_code == 429
            assert response.json()["id"] == "rate_limit"
            time.sleep(1.0)  # 75 a minute: more than one token back after a second.
            assert client.get("/account").status_code == 200
        # Unauthenticated requests do not spend anyone's tokens.
        assert httpx.get(srv.url + "/account").status_code == 401
    finally:
        srv.stop()


def test_a_user_supplied_certificate_is_served(tmp_path: Path) -> None:
    import ssl

    from slipway.tls import ensure_certificates

    own = ensure_certificates(tmp_path / "own", "example.test", [])
    srv = ServerProcess(
        tmp_path / "data", extra_args=("--tls-cert", str(own.cert), "--tls-key", str(own.key))
    ).start()
    try:
        served = ssl.get_server_certificate(("127.0.0.1", srv.git_port))
        assert served.strip() == own.cert.read_text().split("-----END CERTIFICATE-----")[
            0
        ].strip() + ("\n-----END CERTIFICATE-----")
        # No platform CA was made, so there is none to hand out.
        assert httpx.get(srv.url + "/tls/ca.crt").status_code == 404
        assert not (tmp_path / "data" / "tls").exists()
    finally:
        srv.stop()
