"""Logplex drains against real syslog and HTTP(S) servers in this process."""

from __future__ import annotations

import base64
import datetime as dt
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from slipway.logs.drains import (
    DrainDispatcher,
    DrainSpec,
    DrainUrlError,
    check_reachable,
    parse_drain_url,
)
from slipway.logs.line import LogLine, format_timestamp
from slipway.tls import ensure_certificates

APP = "app-1"
TOKEN = "d.9173ea1f-6f14-4976-9cf0-7cd0dafdcdbc"
BASE = dt.datetime(2025, 9, 16, 2, 55, 28, 909614, tzinfo=dt.UTC)
SYSLOG_RE = re.compile(r"^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) - - (.*)$", re.DOTALL)
HTTP_RE = re.compile(r"^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) - (.*)$", re.DOTALL)


def make_line(
    seq: int, message: str, source: str = "app", process: str = "web.1", app: str = APP
) -> LogLine:
    return LogLine(app, seq, BASE + dt.timedelta(milliseconds=seq), source, process, message)


def message_of(pattern: re.Pattern[str], message: str) -> str:
    match = pattern.match(message)
    assert match, message
    return match.group(6)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port: int = sock.getsockname()[1]
        return port


def parse_octets(data: bytes) -> list[str]:
    """RFC 6587 octet counting: `<len> <msg>`, len in bytes; stops at a partial frame."""
    frames, i = [], 0
    while (space := data.find(b" ", i)) > 0:
        end = space + 1 + int(data[i:space])
        if end > len(data):
            break
        frames.append(data[space + 1 : end].decode("utf-8"))
        i = end
    return frames


class SyslogServer:
    """A TCP (or TLS) syslog receiver; one buffer per connection, in connection order."""

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._tls = tls
        self._buffers: list[bytearray] = []
        self._cond = threading.Condition()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buffer = bytearray()
        with self._cond:
            self._buffers.append(buffer)
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            with conn:
                while chunk := conn.recv(65536):
                    with self._cond:
                        buffer += chunk
                        self._cond.notify_all()
        except OSError:
            return

    def messages(self) -> list[str]:
        with self._cond:
            return [m for b in self._buffers for m in parse_octets(bytes(b))]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[str]:
        wait_until(lambda: len(self.messages()) >= count, timeout)
        return self.messages()

    def close(self) -> None:
        self._closed = True
        self._listener.close()


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class DrainHttpServer:
    """Records each POST; answers with the scripted statuses, then 200."""

    def __init__(self, statuses: list[int] | None = None, tls: ssl.SSLContext | None = None):
        self.requests: list[Request] = []
        self.statuses = list(statuses or [])
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with lock:
                    outer.requests.append(Request(self.command, self.path, headers, body))
                    status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def frames(self) -> list[str]:
        return [f for r in list(self.requests) for f in parse_octets(r.body)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = ensure_certificates(tmp_path_factory.mktemp("tls"), "localhost", [])
    assert files.ca_cert is not None
    return files.cert.parent


def server_context(tls_dir: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls_dir / "server.crt", tls_dir / "server.key")
    return ctx


def client_context(tls_dir: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_dir / "ca.crt"))


@pytest.fixture
def make_dispatcher() -> Iterator[Callable[..., DrainDispatcher]]:
    made: list[DrainDispatcher] = []

    def make(**kwargs: Any) -> DrainDispatcher:
        dispatcher = DrainDispatcher(**kwargs)
        dispatcher.start()
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.close(timeout=0.5)


@pytest.fixture
def syslog_server() -> Iterator[SyslogServer]:
    server = SyslogServer()
    yield server
    server.close()


# --- drain URLs ------------------------------------------------------------------------


def test_parse_good_urls() -> None:
    t = parse_drain_url("syslog://logs.example.com:514")
    assert (t.scheme, t.host, t.port, t.is_syslog, t.tls) == (
        "syslog",
        "logs.example.com",
        514,
        True,
        False,
    )
    t = parse_drain_url("syslog+tls://Logs.Example.com:6514/")
    assert (t.scheme, t.host, t.port, t.tls) == ("syslog+tls", "logs.example.com", 6514, True)
    t = parse_drain_url("syslog://[::1]:514")
    assert (t.host, t.port) == ("::1", 514)
    t = parse_drain_url("https://user:p%40ss@logs.example.com/drain/1?key=abc")
    assert (t.scheme, t.host, t.port, t.path) == (
        "https",
        "logs.example.com",
        443,
        "/drain/1?key=abc",
    )
    assert (t.username, t.password) == ("user", "p@ss")
    assert t.endpoint == "https://logs.example.com:443/drain/1?key=abc"
    t = parse_drain_url("http://127.0.0.1:8080")
    assert (t.port, t.path, t.username, t.tls) == (8080, "/", None, False)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", "required"),
        ("ftp://logs.example.com:21", "ftp:// is not supported; use syslog://host:port"),
        ("udp://logs.example.com:514", "syslog+tls://host:port"),
        ("logs.example.com:514", "not a valid drain URL"),
        ("syslog://:514", "has no host"),
        ("https:///path", "has no host"),
        ("syslog://logs.example.com", "syslog drain needs a port"),
        ("syslog://logs.example.com:0", "from 1 to 65535"),
        ("syslog://logs.example.com:70000", "from 1 to 65535"),
        ("syslog+tls://logs.example.com:abc", "from 1 to 65535"),
        ("https://logs.example.com:/x", "from 1 to 65535"),
        ("https://[::1/x", "not a valid drain URL"),
        ("syslog://logs.exa$mple.com:514", "not a valid host name"),
        ("syslog://logs.example.com:514/path", "without a path"),
        ("syslog://logs.example.com:514 ", "spaces or control characters"),
        ("https://logs.example.com/\nx", "spaces or control characters"),
        ("https://logs.example.com/\x7f", "spaces or control characters"),
    ],
)
def test_parse_bad_urls(url: str, expected: str) -> None:
    with pytest.raises(DrainUrlError) as info:
        parse_drain_url(url)
    message = str(info.value)
    assert expected in message
    # One sentence: it ends with a full stop and has no other sentence break.
    assert message.endswith(".")
    assert ". " not in message
    assert "\n" not in message


def test_check_reachable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        check_reachable(parse_drain_url(f"syslog://127.0.0.1:{port}"))

    closed = free_port()
    with pytest.raises(DrainUrlError, match="cannot be reached") as info:
        check_reachable(parse_drain_url(f"syslog+tls://127.0.0.1:{closed}"))
    assert str(info.value).startswith(f"127.0.0.1:{closed} cannot be reached: ")
    assert str(info.value).endswith("; check the host and port.")

    with pytest.raises(DrainUrlError, match="does not resolve") as info:
        check_reachable(parse_drain_url("https://nonexistent.invalid/logs"))
    assert str(info.value) == (
        "nonexistent.invalid:443 cannot be reached: the host name does not resolve; "
        "check the host and port."
    )


# --- syslog ----------------------------------------------------------------------------

LINES = [
    make_line(1, "Starting process with command `python app.py`"),
    make_line(2, "at=info method=GET path=/ status=200", "heroku", "router"),
    make_line(3, "héllo wörld ✓ — 日本語"),
    make_line(4, "Release v2 created by user@example.com", "heroku", "api"),
]
EXPECTED_PRI = [190, 158, 190, 134]


def check_syslog(messages: list[str]) -> None:
    assert len(messages) == len(LINES)
    for message, line, pri in zip(messages, LINES, EXPECTED_PRI, strict=True):
        match = SYSLOG_RE.match(message)
        assert match, message
        assert match.groups() == (
            str(pri),
            format_timestamp(line.timestamp),
            TOKEN,
            line.source,
            line.process,
            line.message,
        )


def test_syslog_tcp(
    make_dispatcher: Callable[..., DrainDispatcher], syslog_server: SyslogServer
) -> None:
    dispatcher = make_dispatcher()
    dispatcher.set_drains(
        APP, [DrainSpec("drain-1", TOKEN, f"syslog://127.0.0.1:{syslog_server.port}")]
    )
    for line in LINES:
        dispatcher.deliver(line)
    dispatcher.deliver(make_line(5, "another app's line", app="app-2"))
    check_syslog(syslog_server.wait_for(len(LINES)))
    wait_until(lambda: dispatcher.stats("drain-1").delivered == len(LINES))
    assert dispatcher.stats("drain-1").pending == 0
    assert dispatcher.stats("drain-1").dropped == 0
    assert dispatcher.stats("unknown").delivered == 0


def test_syslog_tls(make_dispatcher: Callable[..., DrainDispatcher], tls_dir: Path) -> None:
    server = SyslogServer(tls=server_context(tls_dir))
    try:
        dispatcher = make_dispatcher(ssl_context=client_context(tls_dir))
        url = f"syslog+tls://127.0.0.1:{server.port}"
        dispatcher.set_drains(APP, [DrainSpec("drain-1", TOKEN, url)])
        for line in LINES:
            dispatcher.deliver(line)
        check_syslog(server.wait_for(len(LINES)))
    finally:
        server.close()


def test_syslog_tls_verifies_certificates_by_default(
    make_dispatcher: Callable[..., DrainDispatcher], tls_dir: Path
) -> None:
    server = SyslogServer(tls=server_context(tls_dir))
    try:
        dispatcher = make_dispatcher()  # the system trust store: our local CA is unknown
        url = f"syslog+tls://127.0.0.1:{server.port}"
        dispatcher.set_drains(APP, [DrainSpec("drain-1", TOKEN, url)])
        dispatcher.deliver(LINES[0])
        time.sleep(0.4)
        assert server.messages() == []
        assert dispatcher.stats("drain-1").delivered == 0
        assert dispatcher.stats("drain-1").pending == 1
    finally:
        server.close()


def test_set_drains_keeps_unchanged_and_stops_removed(
    make_dispatcher: Callable[..., DrainDispatcher], syslog_server: SyslogServer
) -> None:
    dispatcher = make_dispatcher()
    spec = DrainSpec("drain-1", TOKEN, f"syslog://127.0.0.1:{syslog_server.port}")
    dispatcher.set_drains(APP, [spec])
    dispatcher.deliver(LINES[0])
    syslog_server.wait_for(1)
    wait_until(lambda: dispatcher.stats("drain-1").delivered == 1)
    # Re-setting the same drain keeps it: same counters, same connection.
    dispatcher.set_drains(APP, [spec, DrainSpec("drain-2", "d.2", "ftp://bad:1")])
    dispatcher.deliver(LINES[1])
    syslog_server.wait_for(2)
    wait_until(lambda: dispatcher.stats("drain-1").delivered == 2)
    assert len(syslog_server._buffers) == 1
    # Removed: nothing more is delivered.
    dispatcher.set_drains(APP, [])
    dispatcher.deliver(LINES[2])
    time.sleep(0.2)
    assert len(syslog_server.messages()) == 2
    assert dispatcher.stats("drain-1").delivered == 0


def test_close_flushes(syslog_server: SyslogServer) -> None:
    dispatcher = DrainDispatcher()
    dispatcher.set_drains(
        APP, [DrainSpec("drain-1", TOKEN, f"syslog://127.0.0.1:{syslog_server.port}")]
    )
    for line in LINES:  # delivered before start: buffered until then
        dispatcher.deliver(line)
    dispatcher.start()
    dispatcher.close(timeout=3.0)
    check_syslog(syslog_server.wait_for(len(LINES)))


def test_overflow_sends_l10_then_the_newest(
    make_dispatcher: Callable[..., DrainDispatcher],
) -> None:
    since = dt.datetime(2024, 5, 16, 10, 29, 29, 123456, tzinfo=dt.UTC)
    dispatcher = make_dispatcher(buffer_size=10, clock=lambda: since)
    port = free_port()
    dispatcher.set_drains(APP, [DrainSpec("drain-1", TOKEN, f"syslog://127.0.0.1:{port}")])
    for seq in range(50):
        dispatcher.deliver(make_line(seq, f"line {seq}"))
    assert dispatcher.stats("drain-1") == type(dispatcher.stats("drain-1"))(0, 40, 10)
    server = SyslogServer(port=port)
    try:
        messages = server.wait_for(11)
        first = SYSLOG_RE.match(messages[0])
        assert first
        assert first.groups() == (
            "172",
            format_timestamp(since),
            TOKEN,
            "heroku",
            "logplex",
            "Error L10 (output buffer overflow): 40 messages dropped since "
            "2024-05-16T10:29:29+00:00.",
        )
        rest = [message_of(SYSLOG_RE, m) for m in messages[1:]]
        assert rest == [f"line {seq}" for seq in range(40, 50)]
        wait_until(lambda: dispatcher.stats("drain-1").delivered == 10)
        assert dispatcher.stats("drain-1").dropped == 40
    finally:
        server.close()


def test_dead_drains_do_not_delay_the_publisher_or_other_drains(
    make_dispatcher: Callable[..., DrainDispatcher], syslog_server: SyslogServer
) -> None:
    # Listeners that never accept: connections succeed, nothing is ever read or answered.
    with (
        socket.create_server(("127.0.0.1", 0)) as deaf_syslog,
        socket.create_server(("127.0.0.1", 0)) as deaf_http,
    ):
        dispatcher = make_dispatcher(buffer_size=10_000)
        dispatcher.set_drains(
            APP,
            [
                DrainSpec("dead-1", "d.1", f"syslog://127.0.0.1:{deaf_syslog.getsockname()[1]}"),
                DrainSpec("dead-2", "d.2", f"http://127.0.0.1:{deaf_http.getsockname()[1]}/"),
                DrainSpec("dead-3", "d.3", f"syslog://127.0.0.1:{free_port()}"),
                DrainSpec("healthy", TOKEN, f"syslog://127.0.0.1:{syslog_server.port}"),
            ],
        )
        lines = [make_line(seq, f"message number {seq} " + "x" * 60) for seq in range(5000)]
        started = time.perf_counter()
        for line in lines:
            dispatcher.deliver(line)
        elapsed = time.perf_counter() - started
        assert elapsed < 0.5
        messages = syslog_server.wait_for(5000, timeout=10)
        assert [message_of(SYSLOG_RE, m) for m in messages] == [line.message for line in lines]


# --- HTTP(S) ---------------------------------------------------------------------------


def check_request(request: Request, token: str = TOKEN) -> list[str]:
    frames = parse_octets(request.body)
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/logplex-1"
    assert request.headers["logplex-msg-count"] == str(len(frames))
    assert re.fullmatch(r"[0-9a-f]{32}", request.headers["logplex-frame-id"])
    assert request.headers["logplex-drain-token"] == token
    assert request.headers["user-agent"].startswith("Logplex/")
    return frames


def test_http_drain_headers_and_frames(make_dispatcher: Callable[..., DrainDispatcher]) -> None:
    server = DrainHttpServer()
    try:
        dispatcher = make_dispatcher()
        url = f"http://drain-user:s3cr%3At@127.0.0.1:{server.port}/logs?key=1"
        dispatcher.set_drains(APP, [DrainSpec("drain-1", TOKEN, url)])
        for line in LINES:
            dispatcher.deliver(line)
        wait_until(lambda: len(server.frames()) >= len(LINES))
        frames: list[str] = []
        for request in server.requests:
            frames += check_request(request)
            assert request.path == "/logs?key=1"
            expected = base64.b64encode(b"drain-user:s3cr:t").decode()
            assert request.headers["authorization"] == f"Basic {expected}"
        assert len(frames) == len(LINES)
        for frame, line, pri in zip(frames, LINES, EXPECTED_PRI, strict=True):
            match = HTTP_RE.match(frame)
            assert match, frame
            assert match.groups() == (
                str(pri),
                format_timestamp(line.timestamp),
                "host",
                line.source,
                line.process,
                line.message,  # exactly: no structured-data field in between
            )
        wait_until(lambda: dispatcher.stats("drain-1").delivered == len(LINES))
    finally:
        server.close()


def test_https_drain(make_dispatcher: Callable[..., DrainDispatcher], tls_dir: Path) -> None:
    server = DrainHttpServer(tls=server_context(tls_dir))
    try:
        dispatcher = make_dispatcher(ssl_context=client_context(tls_dir))
        url = f"https://127.0.0.1:{server.port}/"
        dispatcher.set_drains(APP, [DrainSpec("drain-1", TOKEN, url)])
        for line in LINES[:2]:
            dispatcher.deliver(line)
        wait_until(lambda: len(server.frames()) >= 2)
        assert "authorization" not in server.requests[0].headers
        frames = [f for r in server.requests for f in check_request(r)]
        assert [message_of(HTTP_RE, f) for f in frames] == [line.message for line in LINES[:2]]
    finally:
        server.close()


def test_http_retry_keeps_the_frame_id(make_dispatcher: Callable[..., DrainDispatcher]) -> None:
    server = DrainHttpServer(statuses=[500])
    try:
        dispatcher = make_dispatcher()
        dispatcher.set_drains(
            APP, [DrainSpec("drain-1", TOKEN, f"http://127.0.0.1:{server.port}/")]
        )
        dispatcher.deliver(LINES[0])
        wait_until(lambda: dispatcher.stats("drain-1").delivered == 1)
        assert len(server.requests) == 2
        first, second = server.requests
        assert first.headers["logplex-frame-id"] == second.headers["logplex-frame-id"]
        assert first.body == second.body
        assert dispatcher.stats("drain-1").dropped == 0
    finally:
        server.close()


def test_http_4xx_drops_without_retrying(
    make_dispatcher: Callable[..., DrainDispatcher],
) -> None:
    server = DrainHttpServer(statuses=[400])
    try:
        dispatcher = make_dispatcher()
        dispatcher.set_drains(
            APP, [DrainSpec("drain-1", TOKEN, f"http://127.0.0.1:{server.port}/")]
        )
        dispatcher.deliver(LINES[0])
        dispatcher.deliver(LINES[1])
        wait_until(lambda: dispatcher.stats("drain-1").dropped == 2)
        time.sleep(0.7)  # longer than the first retry's back-off
        assert len(server.requests) == 1
        # The drain carries on with the next batch.
        dispatcher.deliver(LINES[2])
        wait_until(lambda: dispatcher.stats("drain-1").delivered == 1)
        assert len(server.requests) == 2
    finally:
        server.close()


def test_the_drains_package_exports_what_its_all_names() -> None:
    """`__all__` is the package's surface: every public name in it, nothing else (httpx's
    test_exported_members)."""
    import inspect

    import slipway.logs.drains as package

    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and name != "annotations" and not inspect.ismodule(value)
    }
    assert sorted(package.__all__) == sorted(public)
    for name in package.__all__:
        value = getattr(package, name)
        if callable(value):
            assert value.__module__.startswith("slipway.logs.drains."), name
