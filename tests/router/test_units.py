"""The router's pure parts: the table, the heads, the line format, the balancer, the queue.

These run without sockets; the same behaviour is covered end to end in test_router.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from typing import Any

import pytest

from slipway.router.balancer import AppBalancer
from slipway.router.config import RouterConfig, parse_address
from slipway.router.errors import ConfigError, TableError
from slipway.router.forwarding import (
    FRAME_CHUNKED,
    FRAME_CLOSE,
    FRAME_LENGTH,
    FRAME_NONE,
    RequestHead,
    new_request_id,
    request_id_for,
    to_client,
)
from slipway.router.logline import format_line
from slipway.router.pages import Page, error_response
from slipway.router.priority import BackgroundPriority
from slipway.router.reports import ReportQueue
from slipway.router.table import AppState, Backend, RouteTable


def table(**overrides: Any) -> dict[str, Any]:
    app = {
        "id": "a1",
        "name": "myapp",
        "domains": ["www.example.com", "*.example.org"],
        "maintenance": False,
        "state": "up",
        "dynos": [{"name": "web.1", "host": "127.0.0.1", "port": 41234}],
    }
    app.update(overrides)
    return {"version": 7, "base_domain": "localhost", "apps": [app]}


# -- table ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "myapp.localhost",
        b"MyApp.LocalHost:8080",
        "www.example.com",
        "www.example.com.",
        "api.example.org",
    ],
)
def test_lookup_by_app_name_or_custom_domain(host: str | bytes) -> None:
    route = RouteTable.from_json(table()).lookup(host)
    assert route is not None
    assert route.name == "myapp"
    assert route.dynos == (Backend("web.1", "127.0.0.1", 41234),)


@pytest.mark.parametrize("host", ["other.localhost", "example.org", "myapp.localhost.evil", ""])
def test_lookup_misses(host: str) -> None:
    assert RouteTable.from_json(table()).lookup(host) is None


def test_resolve_caches_the_logged_host() -> None:
    routes = RouteTable.from_json(table())
    hit = routes.resolve(b"MYAPP.localhost:80")
    assert hit is not None
    assert hit[1] == "myapp.localhost"
    assert routes.resolve(b"MYAPP.localhost:80") is hit


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"version": "7", "base_domain": "localhost", "apps": []},
        {"version": 7, "base_domain": "", "apps": []},
        table(state="sleepy"),
        table(maintenance="no"),
        table(dynos=[{"name": "web.1", "host": "127.0.0.1", "port": 0}]),
        table(dynos=[{"name": "web.1", "host": "127.0.0.1", "port": True}]),
        table(domains="www.example.com"),
    ],
)
def test_malformed_tables_are_refused_whole(bad: object) -> None:
    with pytest.raises(TableError):
        RouteTable.from_json(bad)


def test_states() -> None:
    route = RouteTable.from_json(table(state="idle", dynos=[])).lookup("myapp.localhost")
    assert route is not None
    assert route.state is AppState.IDLE


# -- request and response heads ------------------------------------------------------------


def head_with(*headers: tuple[bytes, bytes]) -> RequestHead:
    head = RequestHead()
    head.url = b"/x?y=1"
    for name, value in headers:
        head.add(name, value)
    return head


def test_request_head_to_the_dyno() -> None:
    head = head_with(
        (b"Host", b"myapp.localhost"),
        (b"X-Forwarded-For", b"10.0.0.1"),
        (b"X-Forwarded-Proto", b"lies"),
        (b"Connection", b"keep-alive, X-Hop"),
        (b"X-Hop", b"1"),
        (b"Proxy-Authorization", b"secret"),
        (b"Via", b"1.0 a"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Content-Length", b"10"),
        (b"Accept", b"*/*"),
    )
    listener = b"X-Forwarded-Proto: http\r\nX-Forwarded-Port: 80\r\n"
    raw = head.to_dyno(b"POST", b"127.0.0.1", listener, 1234, "r" * 20, chunked=True, upgrade=False)
    assert raw == (
        b"POST /x?y=1 HTTP/1.1\r\nHost: myapp.localhost\r\nAccept: */*\r\n"
        b"Transfer-Encoding: chunked\r\nX-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n"
        b"X-Forwarded-Proto: http\r\nX-Forwarded-Port: 80\r\nX-Request-Start: 1234\r\n"
        b"X-Request-Id: rrrrrrrrrrrrrrrrrrrr\r\nVia: 1.0 a, 1.1 vegur\r\n\r\n"
    )


def test_request_ids() -> None:
    assert request_id_for(b"a" * 20) == "a" * 20
    assert request_id_for(b"A+/=-9" * 10) == "A+/=-9" * 10
    for bad in (b"a" * 19, b"a" * 201, b"a_b" * 10, None):
        generated = request_id_for(bad)
        assert uuid.UUID(generated).version == 4
    assert len({new_request_id() for _ in range(1000)}) == 1000


CL = (b"Content-Length", b"5")
TE = (b"Transfer-Encoding", b"chunked")


@pytest.mark.parametrize(
    ("headers", "options", "framing", "close", "expected"),
    [
        ([CL], {}, FRAME_LENGTH, False, b"Content-Length: 5"),
        ([TE], {}, FRAME_CHUNKED, False, b"Transfer-Encoding: chunked"),
        ([], {}, FRAME_CHUNKED, False, b"Transfer-Encoding: chunked"),
        ([], {"http10": True}, FRAME_CLOSE, True, b"Connection: close"),
        ([CL], {"http10": True}, FRAME_LENGTH, False, b"Connection: keep-alive"),
        ([CL], {"has_body": False}, FRAME_NONE, False, b"Content-Length: 5"),
        ([CL], {"keep_alive": False}, FRAME_LENGTH, True, b"Connection: close"),
        ([CL, TE], {}, FRAME_CHUNKED, False, b"Transfer-Encoding: chunked"),
    ],
)
def test_response_framing(
    headers: list[tuple[bytes, bytes]],
    options: dict[str, bool],
    framing: int,
    close: bool,
    expected: bytes,
) -> None:
    head, got_framing, got_close, _ = to_client(
        200,
        b"OK",
        headers,
        has_body=options.get("has_body", True),
        http10=options.get("http10", False),
        keep_alive=options.get("keep_alive", True),
    )
    assert (got_framing, got_close) == (framing, close)
    lines = head.split(b"\r\n")
    assert expected in lines
    assert head.count(b"Content-Length") <= (0 if framing == FRAME_CHUNKED else 1)
    assert lines[-3] == b"Via: 1.1 vegur"


def test_response_hop_by_hop_headers_are_dropped() -> None:
    head, *_ = to_client(
        200,
        b"OK",
        [
            (b"Content-Length", b"0"),
            (b"Connection", b"keep-alive, X-Private"),
            (b"X-Private", b"1"),
            (b"Keep-Alive", b"timeout=5"),
            (b"Via", b"1.1 app"),
            (b"Set-Cookie", b"a=b"),
        ],
        has_body=True,
        http10=False,
        keep_alive=True,
    )
    assert head == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: a=b\r\n"
        b"Via: 1.1 app, 1.1 vegur\r\n\r\n"
    )


# -- router lines and pages ----------------------------------------------------------------


def test_info_line() -> None:
    line = format_line(
        "GET", "/", "myapp.localhost", "rid", "127.0.0.1", "web.1", 0, 3, 200, 123, "http"
    )
    assert line == (
        'at=info method=GET path="/" host=myapp.localhost request_id=rid fwd="127.0.0.1" '
        "dyno=web.1 connect=0ms service=3ms status=200 bytes=123 protocol=http"
    )


def test_error_lines() -> None:
    assert format_line(
        "GET", "/", "h", "rid", "1.2.3.4", None, 0, 0, 503, 0, "https", code="H10"
    ) == (
        'at=error code=H10 desc="App crashed" method=GET path="/" host=h request_id=rid '
        'fwd="1.2.3.4" dyno= connect= service= status=503 bytes= protocol=https'
    )
    line = format_line(
        "GET", '/a"b', "h", "rid", "x", "web.2", 1, 2, 499, 0, "http", code="H27", sock="client"
    )
    assert line.startswith('sock=client at=warning code=H27 desc="Client Request Interrupted" ')
    assert 'path="/a\\"b"' in line
    line = format_line(
        "POST", "/", "h", "r", "x", "web.1", 1, 2, 400, 0, "http", code="H26", cause="bad chunk"
    )
    assert line.startswith('at=error code=H26 desc="Request Error" cause="bad chunk" method=POST')


def test_error_pages_carry_the_request_id() -> None:
    page = error_response(503, Page.APPLICATION_ERROR, "req-123", close=False)
    head, _, body = page.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"X-Request-Id: req-123" in head
    assert re.search(rb"Content-Length: (\d+)", head).group(1) == str(len(body)).encode()  # type: ignore[union-attr]
    assert b"<title>Application Error</title>" in body
    assert b"req-123" in body
    assert error_response(404, Page.NO_SUCH_APP, "r", close=True, head_only=True).endswith(
        b"\r\n\r\n"
    )


# -- balancer ------------------------------------------------------------------------------


def balancer(n: int, limit: int = 2) -> AppBalancer:
    app = AppBalancer("a", limit, backlog_per_dyno=3)
    app.sync(tuple(Backend(f"web.{i}", "127.0.0.1", 1000 + i) for i in range(1, n + 1)))
    return app


def test_least_outstanding_then_full() -> None:
    app = balancer(2)
    first = app.acquire(0.0)
    second = app.acquire(0.0)
    assert first is not None
    assert second is not None
    assert {first.name, second.name} == {"web.1", "web.2"}  # the idle one goes next
    app.acquire(0.0)
    app.acquire(0.0)
    assert app.acquire(0.0) is None  # 2 dynos x limit 2
    assert not app.backlog_full  # backlog: 3 per dyno
    app.release(first)
    again = app.acquire(0.0)
    assert again is first


def test_ties_are_broken_at_random() -> None:
    app = balancer(3)
    chosen = set()
    for _ in range(200):
        slot = app.acquire(0.0)
        assert slot is not None
        chosen.add(slot.name)
        app.release(slot)
    assert chosen == {"web.1", "web.2", "web.3"}


def test_quarantined_dynos_are_a_last_resort() -> None:
    app = balancer(2, limit=10)
    app.slots[0].quarantined_until = 5.0
    assert all(app.acquire(1.0) is app.slots[1] for _ in range(5))
    app.slots[1].quarantined_until = 9.0
    assert app.acquire(1.0) is app.slots[0]  # the one whose quarantine ends first
    assert app.acquire(6.0) is app.slots[0]  # quarantine over


def test_counters_survive_a_table_that_keeps_the_dyno() -> None:
    app = balancer(2)
    slot = app.acquire(0.0)
    assert slot is not None
    app.sync((Backend(slot.name, slot.host, slot.port), Backend("web.9", "127.0.0.1", 9)))
    assert slot in app.slots
    assert slot.in_flight == 1


# -- report queue and config -------------------------------------------------------------


def test_report_queue_is_bounded_and_counts_drops() -> None:
    queue = ReportQueue(3)
    for i in range(5):
        queue.add_line("a", f"line {i}")
    assert queue.dropped == 2
    batch = queue.take()
    assert [line for _, line in batch] == ["line 2", "line 3", "line 4"]
    queue.add_line("a", "line 5")
    queue.add_line("a", "line 6")
    queue.put_back(batch, {"a": 1.0})  # room for one: the newest unsent line wins
    assert queue.dropped == 4
    again, activity = asyncio.run(queue.take_batch())
    assert [line for _, line in again] == ["line 4", "line 5", "line 6"]
    assert activity == {"a": 1.0}


def test_formatting_runs_in_the_background_unless_the_backlog_is_long() -> None:
    policies: list[int] = []
    queue = ReportQueue(10)
    background = BackgroundPriority()
    queue.background = background

    def convert(raw: str) -> tuple[str, str]:
        policies.append(os.sched_getscheduler(0))
        return "a", raw

    queue.converter = convert
    queue.add_raw_lines(["one", "two"])
    assert queue.take() == [("a", "one"), ("a", "two")]
    idle = os.SCHED_IDLE if background.enabled else os.SCHED_OTHER
    assert policies == [idle, idle]
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # back to normal after the batch
    policies.clear()
    queue.add_raw_lines([f"line {i}" for i in range(6)])  # over half the buffer: catch up
    assert len(queue.take()) == 6
    assert policies == [os.SCHED_OTHER] * 6


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may always leave SCHED_IDLE")
def test_background_priority_is_available_to_root() -> None:
    assert BackgroundPriority().enabled


def test_config() -> None:
    assert parse_address("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_address("[::1]:443") == ("::1", 443)
    for bad in ("8080", "host:", "host:99999"):
        with pytest.raises(ConfigError):
            parse_address(bad)
    with pytest.raises(ConfigError):
        RouterConfig()  # neither a control plane nor a static table
    with pytest.raises(ConfigError):
        RouterConfig(control_url="http://127.0.0.1:5000")  # no token
    config = RouterConfig(
        control_url="http://x", token="s3cret-token", request_timeout=1, boot_timeout=2
    )
    assert config.sweep_interval == pytest.approx(0.1)
    assert "s3cret-token" not in repr(config)
