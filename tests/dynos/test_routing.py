"""The router in front of real dynos: hosts, balancing, headers, H-codes, streams, sleep."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import unique_name
from tests.deploy.conftest import BUILDPACKS, User, set_buildpacks
from tests.dynos.conftest import RUNTIME_ARGS, Dynos, lines_of
from tests.support import ServerProcess, slipway_login


def router(dynos: Dynos) -> str:
    return f"http://127.0.0.1:{dynos.server.router_port}"


def host(dynos: Dynos) -> dict[str, str]:
    return {"Host": f"{dynos.app}.localhost"}


def get(dynos: Dynos, path: str = "/", **kw: Any) -> httpx.Response:
    headers = {**host(dynos), **kw.pop("headers", {})}
    return httpx.get(router(dynos) + path, headers=headers, timeout=30, **kw)


def router_lines(dynos: Dynos) -> list[str]:
    return lines_of(dynos.logs(), "heroku[router]")


def test_routing_by_host_and_custom_domain(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    answer = get(dynos)
    assert answer.status_code == 200
    assert answer.json()["dyno"] == "web.1"
    missing = httpx.get(router(dynos), headers={"Host": "no-such-app.localhost"})
    assert missing.status_code == 404
    assert "no such app" in missing.text.lower() or "nothing here" in missing.text.lower()
    domain = f"www.{dynos.app}.example.com"
    with dynos.api() as api:
        assert api.post(f"/apps/{dynos.app}/domains", json={"hostname": domain}).status_code == 201
    dynos.wait(
        lambda: httpx.get(router(dynos), headers={"Host": domain}).status_code == 200,
        what="the custom domain routed",
    )
    line = dynos.wait(
        lambda: next((x for x in router_lines(dynos) if f"host={domain}" in x), None),
        what="a router line for the custom domain",
    )
    assert re.fullmatch(
        rf'at=info method=GET path="/" host={re.escape(domain)} request_id=[0-9a-f-]+ '
        r'fwd="127\.0\.0\.1" dyno=web\.1 connect=\d+ms service=\d+ms status=200 bytes=\d+ '
        r"protocol=http",
        line,
    )


def test_https_with_the_platform_certificate(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    ca = dynos.server.data_dir / "tls" / "ca.crt"
    context = ssl.create_default_context(cafile=str(ca))
    raw = socket.create_connection(("127.0.0.1", dynos.server.router_tls_port), timeout=10)
    with context.wrap_socket(raw, server_hostname=f"{dynos.app}.localhost") as tls:
        tls.sendall(
            f"GET /headers HTTP/1.1\r\nHost: {dynos.app}.localhost\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    assert b'"x-forwarded-proto": "https"' in data


def test_requests_spread_over_the_web_dynos(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    dynos.scale(web=3)
    dynos.wait(lambda: len(dynos.ports()) == 3, what="three routed web dynos")
    with httpx.Client(base_url=router(dynos), headers=host(dynos)) as client:
        seen = {client.get("/").json()["dyno"] for _ in range(40)}
    assert seen == {"web.1", "web.2", "web.3"}


def test_headers_added_and_removed(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    before = int(time.time() * 1000)
    sent = get(
        dynos,
        "/headers",
        headers={
            "X-Forwarded-For": "203.0.113.9",
            "X-Request-Id": "client-chosen-request-id-123",
            "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "Basic c2VjcmV0",
        },
    )
    seen = sent.json()
    assert seen["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-port"] == str(dynos.server.router_port)
    assert before <= int(seen["x-request-start"]) <= int(time.time() * 1000)
    assert seen["x-request-id"] == "client-chosen-request-id-123"
    assert "1.1 vegur" in seen["via"]
    assert "keep-alive" not in seen
    assert "proxy-authorization" not in seen
    fresh = get(dynos, "/headers", headers={"X-Request-Id": "bad id!"}).json()
    assert re.fullmatch(r"[0-9a-f-]{36}", fresh["x-request-id"])


def test_streams_uploads_and_websockets_pass_through(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    # A streamed response: the first chunk arrives long before the last is written.
    started = time.monotonic()
    with httpx.stream(
        "GET", router(dynos) + "/stream?n=3&gap=1", headers=host(dynos), timeout=30
    ) as response:
        chunks = response.iter_text()
        first = next(chunks)
        first_at = time.monotonic() - started
        rest = "".join(chunks)
    assert first.startswith("chunk 0")
    assert first_at < 0.9
    assert "chunk 2" in first + rest
    # A 50 MB chunked upload, streamed (never held whole by the router).
    size = 50 * 1024 * 1024

    def body() -> Iterator[bytes]:
        block = b"u" * (1024 * 1024)
        for _ in range(size // len(block)):
            yield block

    uploaded = httpx.post(
        router(dynos) + "/upload", headers=host(dynos), content=body(), timeout=60
    )
    assert uploaded.json() == {"received": size}
    # A WebSocket echo through the router.
    with socket.create_connection(("127.0.0.1", dynos.server.router_port), timeout=10) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /ws HTTP/1.1\r\nHost: {dynos.app}.localhost\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101")
        for text in (b"hello", b"again"):
            mask = os.urandom(4)
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(text))
            sock.sendall(bytes([0x81, 0x80 | len(text)]) + mask + payload)
            frame = sock.recv(2)
            reply = sock.recv(frame[1] & 0x7F)
            assert reply == b"echo: " + text
        sock.sendall(bytes([0x88, 0x80]) + os.urandom(4))


def test_h_codes_from_real_dynos(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    slow = get(dynos, "/slow?s=4")
    assert slow.status_code == 503
    assert "Application Error" in slow.text
    closed = get(dynos, "/close")
    assert closed.status_code == 503
    # The client sees the connection end early, as through Heroku's router.
    with contextlib.suppress(httpx.HTTPError):
        get(dynos, "/die-midway")
    # A client that goes away before the answer.
    with socket.create_connection(("127.0.0.1", dynos.server.router_port)) as sock:
        sock.sendall(f"GET /slow?s=1 HTTP/1.1\r\nHost: {dynos.app}.localhost\r\n\r\n".encode())
        time.sleep(0.3)
    # Malformed input never reaches a dyno.
    with socket.create_connection(("127.0.0.1", dynos.server.router_port)) as sock:
        sock.sendall(b"NOT A REQUEST\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")

    def codes() -> set[str]:
        return {
            m.group(1) for line in router_lines(dynos) if (m := re.search(r"code=(H\d+)", line))
        }

    dynos.wait(lambda: {"H12", "H13", "H18", "H27"} <= codes(), what="H12, H13, H18 and H27")
    h12 = next(x for x in router_lines(dynos) if "code=H12" in x)
    assert h12.startswith('at=error code=H12 desc="Request timeout" method=GET path="/slow?s=4"')
    assert "status=503" in h12

    dynos.scale(web=0)
    dynos.wait(lambda: get(dynos).status_code == 503, what="H14 with no web dynos")
    dynos.wait(lambda: "H14" in codes(), what="an H14 line")
    assert "No web processes running" in next(x for x in router_lines(dynos) if "H14" in x)


def test_a_crashed_app_answers_h10(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    dynos.config(CRASH_AFTER="0.5")
    dynos.wait(lambda: dynos.routes().get("state") == "crashed", timeout=30, what="crashed")
    answer = get(dynos)
    assert answer.status_code == 503
    dynos.wait(
        lambda: any('code=H10 desc="App crashed"' in x for x in router_lines(dynos)),
        what="an H10 line",
    )


def test_maintenance_mode(deployed: tuple[Dynos, Path], runtime_user: User) -> None:
    dynos, repo = deployed
    assert runtime_user.slipway("maintenance:on", cwd=repo).returncode == 0
    dynos.wait(lambda: get(dynos).status_code == 503, what="the maintenance page")
    assert "Maintenance" in get(dynos).text
    assert dynos.states() == ["web.1:up"], "the dynos keep running"
    assert runtime_user.slipway("maintenance", cwd=repo).stdout.strip() == "on"
    assert runtime_user.slipway("maintenance:off", cwd=repo).returncode == 0
    dynos.wait(lambda: get(dynos).status_code == 200, what="serving again")
    assert any("code=H80" in x for x in router_lines(dynos))


def test_a_blank_app_answers_h81(runtime_user: User, tmp_path: Path) -> None:
    repo = runtime_user.repo("dynos", tmp_path / "blank")
    name = runtime_user.create_app(repo)
    dynos = Dynos(runtime_user.server, name)
    dynos.wait(lambda: get(dynos).status_code == 503, what="the blank app page")
    dynos.wait(lambda: any("code=H81" in x for x in router_lines(dynos)), what="an H81 line")


def test_a_sleeping_app_wakes_on_the_next_request(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    with dynos.api() as api:
        assert api.patch(f"/apps/{dynos.app}", json={"sleeps": True}).json()["sleeps"] is True
    dynos.wait(lambda: dynos.routes().get("state") == "idle", timeout=30, what="idling")
    dynos.wait(lambda: dynos.states() == [], what="the dynos stopped")
    started = time.monotonic()
    woke = get(dynos)
    elapsed = time.monotonic() - started
    assert woke.status_code == 200
    assert elapsed < 3
    logs = dynos.logs()
    assert any(line.endswith("heroku[web.1]: Idling") for line in logs)
    assert any(line.endswith("heroku[web.1]: State changed from up to idle") for line in logs)
    assert any(line.endswith("heroku[web.1]: Unidling") for line in logs)
    assert any(line.endswith("heroku[web.1]: State changed from idle to starting") for line in logs)


def test_a_dyno_too_slow_to_wake_gets_h20(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    dynos.config(SLOW_BOOT="3.5")
    dynos.wait(lambda: dynos.releases()[-1]["status"] == "succeeded", what="v3", timeout=30)
    with dynos.api() as api:
        api.patch(f"/apps/{dynos.app}", json={"sleeps": True})
    dynos.wait(lambda: dynos.states() == [], timeout=30, what="asleep")
    assert get(dynos).status_code == 503
    dynos.wait(lambda: any("code=H20" in x for x in router_lines(dynos)), what="an H20 line")
    dynos.wait(lambda: get(dynos).status_code == 200, what="awake after all")


class Load:
    """Requests through the router, one after another on keep-alive, counting failures."""

    def __init__(self, dynos: Dynos) -> None:
        self.dynos = dynos
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(4)]

    def _run(self) -> None:
        with httpx.Client(base_url=router(self.dynos), headers=host(self.dynos), timeout=30) as c:
            while not self._stop.is_set():
                try:
                    response = c.get("/")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if response.status_code == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"{response.status_code} {response.text[:80]}")

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def test_no_request_fails_through_deploys_config_rollback_restart_and_scaling(
    deployed: tuple[Dynos, Path], runtime_user: User
) -> None:
    dynos, repo = deployed
    dynos.scale(web=2)
    dynos.wait(lambda: len(dynos.ports()) == 2, what="two web dynos")
    with Load(dynos) as load:
        (repo / "CHANGED").write_text("yes\n")
        runtime_user.commit(repo, "a change")
        assert runtime_user.push(repo).returncode == 0
        dynos.config(GREETING="hi")
        dynos.wait(lambda: dynos.releases()[-1]["status"] == "succeeded", what="config release")
        with dynos.api() as api:
            target = next(r for r in dynos.releases() if r["version"] == 2)
            assert (
                api.post(f"/apps/{dynos.app}/releases", json={"release": target["id"]}).status_code
                == 201
            )
            dynos.wait(lambda: dynos.releases()[-1]["status"] == "succeeded", what="rollback")
            assert api.delete(f"/apps/{dynos.app}/dynos").status_code == 202
        time.sleep(3)
        dynos.scale(web=1)
        dynos.wait(lambda: dynos.states() == ["web.1:up"], what="scaled down")
        time.sleep(1)
    assert load.failures == [], f"{len(load.failures)} failed of {load.ok + len(load.failures)}"
    assert load.ok > 100


def test_the_router_keeps_serving_through_a_control_plane_restart(tmp_path: Path) -> None:
    # Heroku's 75 s boot wait rather than the shared 3 s: a restart takes a moment.
    args = (*RUNTIME_ARGS, "--router-option=--boot-timeout=60")
    server = ServerProcess(tmp_path / "data", extra_args=args).start()
    try:
        user = User(tmp_path / "home", server)
        user.home.mkdir()
        slipway_login(user.env, server.api_key)
        repo = user.repo("dynos", tmp_path / "app")
        name = user.create_app(repo, unique_name("cp"))
        set_buildpacks(server, name, BUILDPACKS / "plain")
        assert user.push(repo).returncode == 0
        dynos = Dynos(server, name)
        assert get(dynos).status_code == 200
        router_pid = (server.data_dir / "router.pid").read_text().strip()
        server.stop(signal.SIGKILL)
        # The control plane is gone, and its dynos with it; the router still answers,
        # from its last table, and holds requests until the dynos are back.
        during: list[int] = []
        waiter = threading.Thread(target=lambda: during.append(get(dynos).status_code))
        waiter.start()
        time.sleep(0.5)
        server.start()
        waiter.join(60)
        assert during == [200], "a request made while the control plane was down got served"
        dynos.wait(lambda: get(dynos).status_code == 200, what="served again")
        assert (server.data_dir / "router.pid").read_text().strip() == router_pid
    finally:
        server.stop()
