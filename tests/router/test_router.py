"""The router end to end: a router process, a fake control plane and real dyno servers.

Every test talks HTTP over loopback to `python -m slipway.router`. Timeouts are
shrunk (conftest.py), so the H-code tests take a few seconds at most.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from slipway.tls import TlsFiles
from tests.router.conftest import DATA_PLANES
from tests.router.harness import (
    BIG,
    WS_GUID,
    Dyno,
    FakeControlPlane,
    LoopThread,
    Reader,
    Response,
    RouterProcess,
    Routes,
    connect,
    dynos,
    free_port,
    raw_request,
    request,
    static_table_file,
    wait_until,
    ws_frame,
)

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def rid_of(response: Response) -> str:
    """The request id the dyno saw (echoed in its JSON) or the router's error page."""
    rid = response.header("x-request-id")
    if rid:
        return rid
    headers = {k.lower(): v for k, v in response.json()["headers"]}
    return str(headers["x-request-id"])


# -- routing ---------------------------------------------------------------------------


def test_routes_by_app_name_and_custom_domains(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno]:
        routes.app(name, [dyno], domains=[f"www.{name}.example", f"*.wild-{name}.example"])
        assert request(router.port, f"{name}.localhost").json()["dyno"] == "web.1"
        # Case and port do not matter; a wildcard domain covers its subdomains.
        assert request(router.port, f"WWW.{name.upper()}.example:8080").status == 200
        assert request(router.port, f"api.wild-{name}.example").status == 200
        assert request(router.port, f"wild-{name}.example").status == 404
        assert [seen.path for seen in dyno.seen] == ["/", "/", "/"]


def test_unknown_host_gets_the_no_such_app_page(routes: Routes, router: RouterProcess) -> None:
    rid = "unknown-host-0123456789"
    response = request(router.port, "nobody.localhost", headers=[("X-Request-Id", rid)])
    assert response.status == 404
    assert b"There's nothing here, yet." in response.body
    assert response.header("x-request-id") == rid
    assert rid.encode() in response.body
    assert request(router.port, None).status == 404  # type: ignore[arg-type]


def test_concurrent_requests_go_to_the_least_busy_dyno(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1", "web.2", "web.3") as fleet:
        routes.app(name, fleet)
        socks = []
        for i in range(3):
            sock = connect(router.port)
            sock.sendall(raw_request("GET", f"/hold/{name}", f"{name}.localhost"))
            socks.append(sock)

            # Each request is still in flight when the next one is routed.
            def landed(n: int = i + 1) -> bool:
                return sum(len(d.seen) for d in fleet) == n

            wait_until(landed, what="arrival")
        assert [len(d.seen) for d in fleet] == [1, 1, 1]
        for dyno in fleet:
            dyno.release(name)
        served = sorted(Reader(sock).response().json()["dyno"] for sock in socks)
        assert served == ["web.1", "web.2", "web.3"]
        for sock in socks:
            sock.close()
        # One at a time, every dyno is idle, so ties are broken at random: all get some.
        used = {request(router.port, f"{name}.localhost").json()["dyno"] for _ in range(40)}
        assert used == {"web.1", "web.2", "web.3"}


# -- what the dyno and the client see ------------------------------------------------------


def test_forwarded_headers_and_hop_by_hop_headers(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno]:
        routes.app(name, [dyno])
        before = int(time.time() * 1000)
        response = request(
            router.port,
            f"{name}.localhost",
            "/path?q=1",
            headers=[
                ("X-Forwarded-For", "203.0.113.9"),
                ("X-Forwarded-Proto", "gopher"),
                ("X-Forwarded-Port", "1"),
                ("X-Request-Start", "1"),
                ("X-Request-Id", "client-id-0123456789+/=-"),
                ("Via", "1.0 corp-proxy"),
                ("Connection", "keep-alive, X-Secret"),
                ("X-Secret", "hop"),
                ("Keep-Alive", "timeout=5"),
                ("TE", "trailers"),
                ("Trailer", "X-T"),
                ("Proxy-Authorization", "Basic c2VjcmV0"),
                ("Proxy-Connection", "keep-alive"),
                ("X-Kept", "yes"),
            ],
        )
        after = int(time.time() * 1000)
        seen = dyno.seen[-1]
        assert seen.path == "/path?q=1"
        assert seen.all("host") == [f"{name}.localhost"]
        assert seen.all("x-forwarded-for") == ["203.0.113.9, 127.0.0.1"]
        assert seen.all("x-forwarded-proto") == ["http"]
        assert seen.all("x-forwarded-port") == [str(router.port)]
        assert before <= int(seen.header("x-request-start") or 0) <= after
        assert seen.all("x-request-id") == ["client-id-0123456789+/=-"]
        assert seen.all("via") == ["1.0 corp-proxy, 1.1 vegur"]
        assert seen.header("x-kept") == "yes"
        for hop in ("connection", "x-secret", "keep-alive", "te", "trailer", "proxy-authorization",
                    "proxy-connection"):  # fmt: skip
            assert seen.header(hop) is None, hop
        # The response loses the dyno's hop-by-hop headers and gains Via.
        assert response.status == 200
        assert response.header("via") == "1.1 app-proxy, 1.1 vegur"
        assert response.header("keep-alive") is None
        assert response.header("connection") is None


def test_a_platform_host_is_forwarded_to_its_listener_without_an_app_line(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    # A platform host (the dashboard) wins over an app's custom domain of the same name.
    host = f"dashboard-{name}.localhost"
    with dynos(lt, "web.1", "listener") as [app_dyno, listener]:
        routes.app(name, [app_dyno], domains=[host], push=False)
        route = listener.as_route()
        routes.services = [{"host": host, "address": f"{route['host']}:{route['port']}"}]
        try:
            routes.push()
            response = request(router.port, host.upper(), "/apps", headers=[("X-Kept", "1")])
            assert response.status == 200
            assert not app_dyno.seen
            seen = listener.seen[-1]
            assert seen.path == "/apps"
            assert seen.all("host") == [host.upper()]
            assert seen.all("x-forwarded-proto") == ["http"]
            assert seen.header("x-kept") == "1"
            rid = seen.header("x-request-id")
            assert rid
            # The app's own host still reaches the app, and only its request is logged.
            assert request(router.port, f"{name}.localhost", "/").status == 200
            control.wait_line(rid_of_last(app_dyno))
            assert not [line for _, line in control.lines() if rid in line]
        finally:
            routes.services = []
            routes.push()


def rid_of_last(dyno: Dyno) -> str:
    return str(dyno.seen[-1].header("x-request-id"))


@pytest.mark.parametrize(
    "given",
    ["too-short", "x" * 201, "has_underscores_which_are_not_allowed", "with space 0123456789"],
)
def test_request_ids_heroku_would_not_keep_are_replaced(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str, given: str
) -> None:
    with dynos(lt, "web.1") as [dyno]:
        routes.app(name, [dyno])
        request(router.port, f"{name}.localhost", headers=[("X-Request-Id", given)])
        assert UUID_RE.fullmatch(dyno.seen[-1].header("x-request-id") or "")


def test_keep_alive_and_pipelining_answer_in_order_over_one_dyno_connection(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str
) -> None:
    host = f"{name}.localhost"
    with dynos(lt, "web.1") as [dyno], connect(router.port) as sock:
        routes.app(name, [dyno])
        sock.sendall(
            raw_request("GET", "/one", host)
            + raw_request("POST", "/two", host, body=b"body of two")
            + raw_request("HEAD", "/three", host)
            + raw_request("GET", "/four", host)
        )
        reader = Reader(sock)
        one, two = reader.response(), reader.response()
        three = reader.response(head_request=True)
        four = reader.response()
        assert [one.json()["path"], two.json()["path"], four.json()["path"]] == [
            "/one",
            "/two",
            "/four",
        ]
        assert two.json()["body"] == len(b"body of two")
        assert three.status == 200
        assert three.header("content-length") == "1234"
        sock.sendall(raw_request("GET", "/five", host))
        assert reader.response().json()["path"] == "/five"
        assert dyno.connections == 1  # the dyno connection was kept alive and reused


def test_a_flood_of_pipelined_requests_is_answered_in_part_then_closed(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str
) -> None:
    if router.data_plane == "haproxy":
        pytest.skip("HAProxy reads one buffer of pipelined requests at a time: it serves them all")
    host = f"{name}.localhost"
    with dynos(lt, "web.1") as [dyno], connect(router.port) as sock:
        routes.app(name, [dyno])
        # One write carries 200 requests; the router queues a bounded number of them.
        sock.sendall(b"".join(raw_request("GET", f"/{i}", host) for i in range(200)))
        reader = Reader(sock)
        paths = []
        with contextlib.suppress(ConnectionError):
            while True:
                paths.append(reader.response().json()["path"])
        assert 1 < len(paths) < 200
        assert paths == [f"/{i}" for i in range(len(paths))]  # in order, none skipped


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_large_chunked_upload_is_streamed_not_buffered(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str
) -> None:
    assert router.proc is not None
    rss_before = peak_rss_kb(router.proc.pid)
    chunk_size, chunks = 1 << 20, 50
    digest = hashlib.sha256()
    with dynos(lt, "web.1") as [dyno], connect(router.port, timeout=30) as sock:
        routes.app(name, [dyno])
        sock.sendall(
            f"POST /upload HTTP/1.1\r\nHost: {name}.localhost\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        for i in range(chunks):
            data = os.urandom(chunk_size)
            digest.update(data)
            sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            if i == 0:
                # The dyno is reading before the client is anywhere near done.
                assert dyno.upload_started.wait(5)
        sock.sendall(b"0\r\n\r\n")
        response = Reader(sock).response()
    assert response.json() == {"bytes": chunk_size * chunks, "sha256": digest.hexdigest()}
    assert dyno.seen[-1].header("transfer-encoding") == "chunked"
    # 50 MB went through; the router's peak memory barely moved.
    assert peak_rss_kb(router.proc.pid) - rss_before < 20_000


def test_a_client_that_does_not_read_holds_the_dyno_back(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str
) -> None:
    assert router.proc is not None
    rss_before = peak_rss_kb(router.proc.pid)
    with dynos(lt, "web.1") as [dyno], connect(router.port, timeout=30) as sock:
        routes.app(name, [dyno])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
        sock.sendall(raw_request("GET", "/big", f"{name}.localhost"))
        # The client reads nothing: the dyno is soon held back by the router.
        sent: list[int] = []

        def stalled() -> bool:
            sent.append(dyno.big_sent)
            return len(sent) > 20 and sent[-1] == sent[-20] > 0

        wait_until(stalled, timeout=10, what="the dyno to be paused")
        # Kernel socket buffers hold some megabytes; the router itself at most 1 MB.
        assert dyno.big_sent < BIG // 2
        assert peak_rss_kb(router.proc.pid) - rss_before < 20_000
        reader = Reader(sock)
        assert reader.head()[0] == 200
        received = len(reader.buf)
        while received < BIG:
            received += len(sock.recv(1 << 20))
    assert received == BIG
    assert dyno.big_sent == BIG


def test_http_10_clients_get_close_delimited_bodies(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno], connect(router.port) as sock:
        routes.app(name, [dyno])
        sock.sendall(f"GET /stream/{name} HTTP/1.0\r\nHost: {name}.localhost\r\n\r\n".encode())
        dyno.release(name)
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 200
        assert response.header("transfer-encoding") is None
        assert response.header("connection") == "close"
        assert response.body == b"first\nsecond\n"


def test_a_streamed_response_reaches_the_client_before_it_ends(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno], connect(router.port) as sock:
        routes.app(name, [dyno])
        sock.sendall(raw_request("GET", f"/stream/{name}", f"{name}.localhost"))
        reader = Reader(sock)
        status, _, headers = reader.head()
        assert status == 200
        assert ("Transfer-Encoding", "chunked") in headers
        assert reader.until(b"first\n\r\n") == b"6\r\nfirst\n\r\n"  # while the dyno waits
        dyno.release(name)
        assert reader.until(b"0\r\n\r\n") == b"7\r\nsecond\n\r\n0\r\n\r\n"


def read_frame(reader: Reader) -> tuple[int, bytes]:
    first, second = reader.exactly(2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(reader.exactly(2), "big")
    elif length == 127:
        length = int.from_bytes(reader.exactly(8), "big")
    return first & 0x0F, reader.exactly(length)


def test_websocket_echo_through_the_router(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str
) -> None:
    key = base64.b64encode(os.urandom(16)).decode()
    with dynos(lt, "web.1") as [dyno], connect(router.port) as sock:
        routes.app(name, [dyno])
        sock.sendall(
            raw_request(
                "GET",
                "/ws",
                f"{name}.localhost",
                [
                    ("Upgrade", "websocket"),
                    ("Connection", "Upgrade"),
                    ("Sec-WebSocket-Key", key),
                    ("Sec-WebSocket-Version", "13"),
                ],
            )
        )
        reader = Reader(sock)
        status, _, headers = reader.head()
        assert status == 101
        expected = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()  # noqa: S324
        assert ("Sec-WebSocket-Accept", expected) in headers
        assert ("Upgrade", "websocket") in headers
        assert dyno.seen[-1].header("upgrade") == "websocket"
        for opcode, payload in [(1, b"hello"), (2, os.urandom(70_000)), (1, b"bye")]:
            sock.sendall(ws_frame(opcode, payload, mask=True))
            assert read_frame(reader) == (opcode, payload)
        sock.sendall(ws_frame(8, b"\x03\xe8", mask=True))
        assert read_frame(reader) == (8, b"\x03\xe8")
        assert reader.closed()


def test_expect_100_continue(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str
) -> None:
    host = f"{name}.localhost"
    with dynos(lt, "web.1") as [dyno], connect(router.port) as sock:
        routes.app(name, [dyno])
        sock.sendall(
            f"POST /echo HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        reader = Reader(sock)
        assert reader.head()[0] == 100  # the body has not been sent yet
        sock.sendall(b"hello")
        response = reader.response()
        assert response.status == 200
        assert response.json()["body"] == 5
        assert dyno.seen[-1].header("expect") is None


def test_unsupported_expect_is_417(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno]:
        routes.app(name, [dyno])
        response = request(router.port, f"{name}.localhost", headers=[("Expect", "magic")])
        assert response.status == 417
        line = control.wait_line(rid_of(response))
        assert line.startswith(
            'at=error code=H26 desc="Request Error" cause="unsupported expect header value" '
        )
        assert not dyno.seen


def test_https_listener_says_https(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str, tls: TlsFiles
) -> None:
    assert router.tls_port is not None
    context = ssl.create_default_context(cafile=str(tls.ca_cert))
    with dynos(lt, "web.1") as [dyno]:
        routes.app(name, [dyno])
        with (
            connect(router.tls_port) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as sock,
        ):
            sock.sendall(raw_request("GET", "/", f"{name}.localhost"))
            assert Reader(sock).response().status == 200
        seen = dyno.seen[-1]
        assert seen.header("x-forwarded-proto") == "https"
        assert seen.header("x-forwarded-port") == str(router.tls_port)


# -- router lines --------------------------------------------------------------------------


def test_router_line_has_herokus_exact_format(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno], connect(router.port) as sock:
        app = routes.app(name, [dyno])
        sock.sendall(raw_request("GET", "/some/path?a=1&b=two", f"{name}.localhost"))
        reader = Reader(sock)
        response = reader.response()
        received = len(raw_response_bytes(response))
        rid = rid_of(response)
        app_id, line = next((a, item) for a, item in wait_lines(control, rid) if rid in item)
    assert app_id == app["id"]
    match = re.fullmatch(
        rf'at=info method=GET path="/some/path\?a=1&b=two" host={name}\.localhost '
        rf'request_id={rid} fwd="127\.0\.0\.1" dyno=web\.1 connect=(\d+)ms service=(\d+)ms '
        r"status=200 bytes=(\d+) protocol=http",
        line,
    )
    assert match, line
    assert int(match.group(3)) == received
    # The same report says when the app last had a request.
    assert any(app["id"] in report["activity"] for report in control.reports)


def raw_response_bytes(response: Response) -> bytes:
    head = f"HTTP/1.1 {response.status} {response.reason}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in response.headers) + "\r\n"
    return head.encode() + response.body


def wait_lines(control: FakeControlPlane, needle: str) -> list[tuple[str, str]]:
    control.wait_line(needle)
    return control.lines()


@pytest.mark.parametrize(
    ("state", "line", "title"),
    [
        ("crashed", 'at=error code=H10 desc="App crashed"', b"Application Error"),
        ("none", 'at=error code=H14 desc="No web processes running"', b"Application Error"),
        ("blank", 'at=info code=H81 desc="Blank app"', b"Welcome to your new app!"),
        ("quota", 'at=info code=H82 desc="Free dyno quota exhausted"', b"Application Error"),
    ],
)
def test_apps_without_dynos_get_their_error(
    control: FakeControlPlane,
    routes: Routes,
    router: RouterProcess,
    name: str,
    state: str,
    line: str,
    title: bytes,
) -> None:
    routes.app(name, state=state)
    response = request(router.port, f"{name}.localhost", "/x")
    assert response.status == 503
    assert b"<title>" + title in response.body
    rid = rid_of(response)
    assert control.wait_line(rid) == (
        f'{line} method=GET path="/x" host={name}.localhost request_id={rid} '
        'fwd="127.0.0.1" dyno= connect= service= status=503 bytes= protocol=http'
    )


def test_maintenance_mode_is_h80_even_with_dynos(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno]:
        routes.app(name, [dyno], maintenance=True)
        response = request(router.port, f"{name}.localhost")
        assert response.status == 503
        assert b"Offline for Maintenance" in response.body
        assert control.wait_line(rid_of(response)).startswith(
            'at=info code=H80 desc="Maintenance mode" method=GET'
        )
        assert not dyno.seen


def test_backlog_too_deep_is_h11(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    host = f"{name}.localhost"
    with dynos(lt, "web.1") as [dyno]:
        routes.app(name, [dyno])
        socks = []
        for _ in range(100):  # 50 in flight on the dyno, 50 waiting in the backlog
            sock = connect(router.port)
            sock.sendall(raw_request("GET", f"/hold/{name}", host))
            socks.append(sock)
        dyno.wait_seen(50)
        response = request(router.port, host)
        assert response.status == 503
        assert "code=H11" in control.wait_line(rid_of(response))
        assert len(dyno.seen) == 50  # the 51st request waits: per-dyno limit
        dyno.release(name)
        assert all(Reader(sock).response().status == 200 for sock in socks)
        for sock in socks:
            sock.close()


def test_no_response_in_time_is_h12(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno]:
        routes.app(name, [dyno])
        started = time.monotonic()
        response = request(router.port, f"{name}.localhost", "/slow")
        assert response.status == 503
        assert time.monotonic() - started >= 2.0
        line = control.wait_line(rid_of(response))
        match = re.search(r"connect=\d+ms service=(\d+)ms status=503 bytes=0 protocol=http$", line)
        assert line.startswith('at=error code=H12 desc="Request timeout" method=GET path="/slow"')
        assert match
        assert int(match.group(1)) >= 2000
        assert " dyno=web.1 " in line


def test_dyno_closing_without_a_response_is_h13(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno]:
        routes.app(name, [dyno])
        response = request(router.port, f"{name}.localhost", "/close")
        assert response.status == 503
        assert control.wait_line(rid_of(response)).startswith(
            'at=error code=H13 desc="Connection closed without response"'
        )


def test_dyno_going_silent_mid_response_is_h15(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno], connect(router.port, timeout=10) as sock:
        routes.app(name, [dyno])
        sock.sendall(raw_request("GET", "/idle", f"{name}.localhost"))
        reader = Reader(sock)
        assert reader.head()[0] == 200
        assert reader.exactly(10) == b"0123456789"
        assert reader.closed(timeout=8)  # after the 3 s idle timeout
        line = control.wait_line("code=H15")
        assert line.startswith('at=error code=H15 desc="Idle connection" method=GET path="/idle"')
        assert "status=503" in line


def test_dyno_closing_mid_response_is_h18(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno], connect(router.port) as sock:
        routes.app(name, [dyno])
        sock.sendall(raw_request("GET", "/partial", f"{name}.localhost"))
        reader = Reader(sock)
        assert reader.head()[0] == 200
        assert reader.closed()
        assert reader.buf == b"0123456789"
    line = control.wait_line(f'path="/partial" host={name}.localhost')
    assert line.startswith('sock=backend at=error code=H18 desc="Server Request Interrupted"')


def test_connect_failures_retry_other_dynos_then_h21(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1", "web.2") as [good, dead]:
        dead.stop()  # nothing listens there any more: connections are refused
        routes.app(name, [good, dead])
        for _ in range(10):
            assert request(router.port, f"{name}.localhost").json()["dyno"] == "web.1"
        routes.app(name, [dead])
        response = request(router.port, f"{name}.localhost")
        assert response.status == 503
        line = control.wait_line(rid_of(response))
        assert line.startswith('at=error code=H21 desc="Backend connection refused"')
        assert " dyno=web.2 " in line


def test_connect_timeout_is_h19(
    control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    # A listener whose accept queue is full: the kernel drops new SYNs, so connects hang.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        routes.apps[name] = {
            "id": name,
            "name": name,
            "domains": [],
            "maintenance": False,
            "state": "up",
            "dynos": [{"name": "web.1", "host": "127.0.0.1", "port": port}],
        }
        routes.push()
        started = time.monotonic()
        response = request(router.port, f"{name}.localhost")
        elapsed = time.monotonic() - started
        for filler in fillers:
            filler.close()
    assert response.status == 503
    # uvloop keeps time in whole milliseconds, read once per loop turn, so a 0.5 s
    # timer can fire up to 1 ms before 0.5 s have passed on this clock.
    assert 0.499 <= elapsed < 3
    line = control.wait_line(rid_of(response))
    assert line.startswith('at=error code=H19 desc="Backend connection timeout"')
    assert re.search(r" dyno=web\.1 connect=(5\d\d|6\d\d)ms ", line), line


def test_booting_app_that_never_comes_up_is_h20(
    control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    routes.app(name, state="starting")
    started = time.monotonic()
    response = request(router.port, f"{name}.localhost")
    assert response.status == 503
    assert time.monotonic() - started >= 2.0
    assert control.wait_line(rid_of(response)).startswith(
        'at=error code=H20 desc="App boot timeout"'
    )


def test_client_leaving_before_the_response_is_h27(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno]:
        routes.app(name, [dyno])
        with connect(router.port) as sock:
            sock.sendall(raw_request("GET", "/slow", f"{name}.localhost"))
            dyno.wait_seen(1)
        line = control.wait_line(f'path="/slow" host={name}.localhost')
        assert line.startswith('sock=client at=warning code=H27 desc="Client Request Interrupted"')
        assert " status=499 " in line


def test_client_going_silent_mid_body_is_h28(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno], connect(router.port, timeout=10) as sock:
        routes.app(name, [dyno])
        sock.sendall(
            f"POST /upload HTTP/1.1\r\nHost: {name}.localhost\r\nContent-Length: 100\r\n\r\n"
            "only ten b".encode()
        )
        assert Reader(sock).closed(timeout=8)
    line = control.wait_line(f'path="/upload" host={name}.localhost')
    assert line.startswith('at=warning code=H28 desc="Client Connection Idle"')
    assert " status=499 " in line


def test_idle_keep_alive_connections_close_and_quiet_periods_do_not_matter(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1") as [dyno]:
        routes.app(name, [dyno])
        with connect(router.port, timeout=10) as sock:
            sock.sendall(raw_request("GET", "/", f"{name}.localhost"))
            reader = Reader(sock)
            assert reader.response().status == 200
            started = time.monotonic()
            assert reader.closed(timeout=8)  # idle for the 3 s idle timeout
            assert time.monotonic() - started >= 2.5
        # Nothing has happened for longer than the idle timeout: a new connection
        # (and its timers) must still start from now.
        assert request(router.port, f"{name}.localhost").status == 200


# -- refused before dispatch -----------------------------------------------------------------


def test_bad_chunk_is_h26(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    if router.data_plane == "haproxy":
        pytest.skip("HAProxy refuses bad chunk framing itself (400, Heroku's page, no line)")
    with dynos(lt, "web.1") as [dyno], connect(router.port) as sock:
        routes.app(name, [dyno])
        sock.sendall(
            f"POST /upload HTTP/1.1\r\nHost: {name}.localhost\r\n"
            "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloNOT-A-CHUNK\r\n".encode()
        )
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 400
        assert response.header("connection") == "close"
        assert reader.closed()
    assert control.wait_line(rid_of(response)).startswith(
        'at=error code=H26 desc="Request Error" cause="bad chunk" method=POST path="/upload"'
    )


@pytest.mark.parametrize(
    ("head", "status"),
    [
        ("GET /" + "a" * 9000 + " HTTP/1.1\r\nHost: {host}\r\n\r\n", 414),
        ("GET / HTTP/1.1\r\nHost: {host}\r\n" + "X-Many: 1\r\n" * 1001 + "\r\n", 431),
        ("GET / HTTP/1.1\r\nHost: {host}\r\nX-Big: " + "b" * 9000 + "\r\n\r\n", 431),
        ("GET / HTTP/1.1\r\nHost: {host}\r\nHost: other.localhost\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: {host}\r\nBad Header: x\r\n\r\n", 400),
    ],
    ids=["request-line", "header-count", "header-size", "two-hosts", "bad-header"],
)
def test_requests_over_the_limits_are_never_dispatched(
    lt: LoopThread, routes: Routes, router: RouterProcess, name: str, head: str, status: int
) -> None:
    with dynos(lt, "web.1") as [dyno], connect(router.port) as sock:
        routes.app(name, [dyno])
        sock.sendall(head.replace("{host}", f"{name}.localhost").encode())
        reader = Reader(sock)
        assert reader.response().status == status
        assert reader.closed()
        # The same connection shape, within limits, does reach the dyno.
        assert request(router.port, f"{name}.localhost").status == 200
        assert len(dyno.seen) == 1


# -- the control plane link ------------------------------------------------------------------


def test_router_keeps_its_table_while_the_control_plane_is_down(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    with dynos(lt, "web.1", "web.2") as [first, second]:
        routes.app(name, [first])
        control.stop()
        router.wait_log("keeping the last table")
        during = request(router.port, f"{name}.localhost")
        assert during.json()["dyno"] == "web.1"
        routes.app(name, [second], push=False)
        control.start()
        routes.push()  # the router reconnects, with back-off, and gets the new table
        assert request(router.port, f"{name}.localhost").json()["dyno"] == "web.2"
        # The line of the request served during the outage was kept and delivered.
        control.wait_line(rid_of(during))


def test_idle_app_is_woken_and_the_held_request_served(
    lt: LoopThread, control: FakeControlPlane, routes: Routes, router: RouterProcess, name: str
) -> None:
    app = routes.app(name, state="idle")
    result: list[Response] = []
    client = threading.Thread(
        target=lambda: result.append(request(router.port, f"{name}.localhost", "/woken"))
    )
    started = time.monotonic()
    client.start()
    control.wait_for(lambda: app["id"] in control.wakes)
    with dynos(lt, "web.1") as [dyno]:
        routes.app(name, [dyno])  # the dyno is up: the held request goes to it
        client.join(5)
    assert result[0].status == 200
    assert result[0].json()["path"] == "/woken"
    # At most one wake call per second while the request waited.
    assert 1 <= control.wakes.count(app["id"]) <= 1 + int(time.monotonic() - started)


# -- the process ------------------------------------------------------------------------------


def test_sigterm_lets_in_flight_requests_finish(lt: LoopThread, tmp_path: Path) -> None:
    with dynos(lt, "web.1") as [dyno]:
        app = {
            "id": "static-app",
            "name": "static",
            "domains": [],
            "maintenance": False,
            "state": "up",
            "dynos": [dyno.as_route()],
        }
        table = static_table_file(tmp_path / "routes.json", [{**app, "maintenance": True}])
        proc = RouterProcess(["--static-table", str(table), "--shutdown-timeout", "10"]).start()
        try:
            assert request(proc.port, "static.localhost").status == 503  # maintenance
            static_table_file(table, [app], version=2)
            assert proc.proc is not None
            proc.proc.send_signal(signal.SIGHUP)
            proc.wait_log("route table v2 applied")
            with connect(proc.port) as sock:
                sock.sendall(raw_request("GET", "/hold/bye", "static.localhost"))
                dyno.wait_seen(1)
                proc.proc.send_signal(signal.SIGTERM)
                proc.wait_log("stopping")
                # The listeners close right after that line: new connections are refused
                # while the one in flight goes on.
                deadline = time.monotonic() + 5
                while True:
                    try:
                        connect(proc.port).close()
                    except ConnectionRefusedError:
                        break
                    assert time.monotonic() < deadline, "still accepting after SIGTERM"
                    time.sleep(0.01)
                dyno.release("bye")
                response = Reader(sock).response()
            assert response.status == 200
            assert response.header("connection") == "close"
            assert proc.proc.wait(10) == 0
        finally:
            proc.stop()


@pytest.mark.parametrize("plane", DATA_PLANES)
def test_a_sighup_while_starting_rereads_the_table_once_started(
    lt: LoopThread, tmp_path: Path, plane: str
) -> None:
    # HAProxy (or the router's listener) accepts before the router has finished starting.
    with dynos(lt, "web.1") as [dyno]:
        app = {
            "id": "early-hup",
            "name": "earlyhup",
            "domains": [],
            "maintenance": True,
            "state": "up",
            "dynos": [dyno.as_route()],
        }
        table = static_table_file(tmp_path / "routes.json", [app])
        port = free_port()
        argv = [sys.executable, "-m", "slipway.router", "--listen", f"127.0.0.1:{port}"]
        argv += ["--static-table", str(table), "--data-plane", plane]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while True:  # the moment the port accepts: a new table, and SIGHUP
                assert proc.poll() is None
                assert time.monotonic() < deadline, "the router never listened"
                try:
                    connect(port).close()
                    break
                except OSError:
                    time.sleep(0.002)
            static_table_file(table, [{**app, "maintenance": False}], version=2)
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while request(port, "earlyhup.localhost").status != 200:
                assert proc.poll() is None, "a SIGHUP while starting killed the router"
                assert time.monotonic() < deadline, "the new table was never applied"
                time.sleep(0.05)
        finally:
            proc.terminate()
            assert proc.wait(20) == 0


def test_the_token_comes_only_from_the_environment() -> None:
    # A command line is visible to every user in `ps`: there is no --token option.
    cli = [sys.executable, "-m", "slipway.router", "--control-url", "http://127.0.0.1:9"]
    refused = subprocess.run([*cli, "--token", "x"], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2
    assert "No such option" in refused.stderr
    env = {k: v for k, v in os.environ.items() if k != "SLIPWAY_ROUTER_TOKEN"}
    missing = subprocess.run(cli, capture_output=True, text=True, timeout=30, env=env)
    assert missing.returncode == 2
    assert "SLIPWAY_ROUTER_TOKEN" in missing.stderr
