"""Real parts for the router tests: a fake control plane, scriptable dynos, the router.

Everything speaks real HTTP over loopback sockets. The control plane and the dynos
are small asyncio servers, each on its own event loop in a thread, written on raw
sockets so a test controls every byte (a dyno can close mid-response, go silent,
stream on cue or speak WebSocket). The router runs as its own process, started the
way `slipway server` will start it (`python -m slipway.router ...`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOKEN = "router-test-token"
BIG = 64 << 20
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B85"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll a condition that has no event to wait on (another process's state)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.005)


class LoopThread:
    """An asyncio loop running in a daemon thread; `call` runs a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, coro: Awaitable[Any], timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.call(cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


# -- a minimal HTTP/1.1 server side, shared by the fake control plane and the dynos --


@dataclass
class Request:
    method: str
    path: str
    version: str
    headers: list[tuple[str, str]]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    body_bytes: int = 0

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    async def body_chunks(self) -> Any:
        """The request body as it arrives (Content-Length or chunked)."""
        length = self.header("content-length")
        if self.header("transfer-encoding"):
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    while await self.reader.readuntil(b"\r\n") != b"\r\n":
                        pass
                    return
                remaining = size
                while remaining:
                    data = await self.reader.read(min(remaining, 1 << 16))
                    if not data:
                        raise ConnectionError("body cut")
                    remaining -= len(data)
                    self.body_bytes += len(data)
                    yield data
                await self.reader.readexactly(2)
        elif length:
            remaining = int(length)
            while remaining:
                data = await self.reader.read(min(remaining, 1 << 16))
                if not data:
                    raise ConnectionError("body cut")
                remaining -= len(data)
                self.body_bytes += len(data)
                yield data

    async def read_body(self) -> bytes:
        return b"".join([chunk async for chunk in self.body_chunks()])


async def read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            key, _, value = line.partition(":")
            headers.append((key.strip(), value.strip()))
    return Request(method, path, version, headers, reader, writer)


def response_bytes(
    status: int, body: bytes, headers: list[tuple[str, str]] | None = None, reason: str = "OK"
) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    for key, value in headers or []:
        lines.append(f"{key}: {value}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# -- the fake control plane ----------------------------------------------------------


class FakeControlPlane:
    """Serves /internal/router/routes as a stream of tables; collects reports and wakes."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.lt = LoopThread()
        self.latest: dict[str, Any] | None = None
        self.reports: list[dict[str, Any]] = []
        self.wakes: list[str] = []
        self.stream_connects = 0
        self.unauthorized = 0
        self._cond = threading.Condition()
        self._streams: set[asyncio.StreamWriter] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._keepalive: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeControlPlane:
        self.lt.call(self._start())
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self._keepalive = asyncio.get_running_loop().create_task(self._keepalives())

    def stop(self) -> None:
        """Go down hard: refuse connections and drop the open ones."""
        self.lt.call(self._stop())

    async def _stop(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._streams.clear()
        self._writers.clear()

    def close(self) -> None:
        self.stop()
        self.lt.stop()

    def push(self, table: dict[str, Any]) -> None:
        """Send a table to every connected router (and to routers that connect later)."""
        self.latest = table
        line = json.dumps(table).encode() + b"\n"
        self.lt.soon(self._broadcast, line)

    def _broadcast(self, line: bytes) -> None:
        for writer in list(self._streams):
            writer.write(b"%x\r\n%s\r\n" % (len(line), line))

    async def _keepalives(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self._broadcast(b"\n")

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise AssertionError("the control plane did not see what was expected")

    def lines(self) -> list[tuple[str, str]]:
        with self._cond:
            return [(item["app_id"], item["line"]) for r in self.reports for item in r["lines"]]

    def wait_line(self, needle: str, timeout: float = 5.0) -> str:
        found: list[str] = []

        def seen() -> bool:
            for _, line in [(i["app_id"], i["line"]) for r in self.reports for i in r["lines"]]:
                if needle in line:
                    found.append(line)
                    return True
            return False

        self.wait_for(seen, timeout)
        return found[0]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await read_request(reader, writer)
                if request is None:
                    return
                if request.header("authorization") != f"Bearer {TOKEN}":
                    with self._cond:
                        self.unauthorized += 1
                    writer.write(response_bytes(401, b"no"))
                    continue
                if request.method == "GET" and request.path == "/internal/router/routes":
                    await self._stream(reader, writer)
                    return
                body = json.loads(await request.read_body() or b"{}")
                with self._cond:
                    if request.path == "/internal/router/report":
                        self.reports.append(body)
                    elif request.path == "/internal/router/wake":
                        self.wakes.append(body["app_id"])
                    self._cond.notify_all()
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            self._streams.discard(writer)
            writer.transport.abort()

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        if self.latest is not None:
            line = json.dumps(self.latest).encode() + b"\n"
            writer.write(b"%x\r\n%s\r\n" % (len(line), line))
        self._streams.add(writer)
        with self._cond:
            self.stream_connects += 1
            self._cond.notify_all()
        await reader.read()  # the router never sends more: this returns when it hangs up


# -- dynos ---------------------------------------------------------------------------


@dataclass
class Seen:
    """A request as a dyno received it."""

    method: str
    path: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


Handler = Callable[["Dyno", Request], Awaitable[bool]]


class Dyno:
    """A web dyno: a keep-alive HTTP server whose behaviour is chosen by path.

    /                       200, JSON describing the request and this dyno
    /hold/KEY               like /, once the test calls release(KEY)
    /stream/KEY             a chunked response: a first chunk, the rest after release(KEY)
    /slow                   never answers
    /close                  closes the connection without a response
    /partial                promises 100 bytes, sends 10, closes
    /idle                   promises 100 bytes, sends 10, goes silent
    /upload                 reads the body as it arrives; answers with its size and sha256
    /big                    64 MB, written as fast as the router takes it (big_sent counts)
    /ws                     WebSocket echo
    """

    def __init__(self, lt: LoopThread, name: str = "web.1") -> None:
        self.lt = lt
        self.name = name
        self.port = free_port()
        self.seen: list[Seen] = []
        self.connections = 0
        self._cond = threading.Condition()
        self._gates: dict[str, asyncio.Event] = {}
        self.upload_started = threading.Event()
        self.big_sent = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> Dyno:
        async def start() -> None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

        self.lt.call(start())
        return self

    def stop(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()

        self.lt.call(stop())

    def as_route(self) -> dict[str, Any]:
        return {"name": self.name, "host": "127.0.0.1", "port": self.port}

    def release(self, key: str) -> None:
        self.lt.soon(lambda: self._gate(key).set())

    def wait_seen(self, count: int, timeout: float = 5.0) -> list[Seen]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.seen) >= count, timeout):
                raise AssertionError(f"{self.name} saw {len(self.seen)} requests, not {count}")
            return list(self.seen)

    def _gate(self, key: str) -> asyncio.Event:
        return self._gates.setdefault(key, asyncio.Event())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        with self._cond:
            self.connections += 1
        try:
            while True:
                request = await read_request(reader, writer)
                if request is None:
                    return
                with self._cond:
                    self.seen.append(Seen(request.method, request.path, request.headers))
                    self._cond.notify_all()
                if not await self._respond(request):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    def _describe(self, request: Request, body: bytes) -> bytes:
        return json.dumps(
            {
                "dyno": self.name,
                "method": request.method,
                "path": request.path,
                "headers": request.headers,
                "body": len(body),
            }
        ).encode()

    async def _respond(self, request: Request) -> bool:
        path = request.path.split("?")[0]
        writer = request.writer
        if path.startswith("/hold/"):
            body = await request.read_body()
            await self._gate(path[6:]).wait()
            writer.write(response_bytes(200, self._describe(request, body)))
        elif path.startswith("/stream/"):
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n")
            await self._gate(path[8:]).wait()
            writer.write(b"7\r\nsecond\n\r\n0\r\n\r\n")
        elif path == "/slow":
            await request.reader.read()  # until the router gives up and closes
            return False
        elif path == "/close":
            return False
        elif path == "/partial":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            await writer.drain()
            return False
        elif path == "/idle":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            await request.reader.read()
            return False
        elif path == "/upload":
            digest = hashlib.sha256()
            async for chunk in request.body_chunks():
                self.upload_started.set()
                digest.update(chunk)
            summary = {"bytes": request.body_bytes, "sha256": digest.hexdigest()}
            writer.write(response_bytes(200, json.dumps(summary).encode()))
        elif path == "/big":
            block = b"x" * (1 << 16)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (BIG,))
            for _ in range(BIG // len(block)):
                writer.write(block)
                await writer.drain()  # blocks while the router has paused reading
                self.big_sent += len(block)
        elif path == "/ws":
            await self._websocket(request)
            return False
        elif request.method == "HEAD":
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n"
            )
        else:
            body = await request.read_body()
            extra = [("Via", "1.1 app-proxy"), ("Connection", "keep-alive"), ("Keep-Alive", "5")]
            writer.write(response_bytes(200, self._describe(request, body), extra))
        await writer.drain()
        return request.header("connection") != "close"

    async def _websocket(self, request: Request) -> None:
        key = (request.header("sec-websocket-key") or "").encode()
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()  # noqa: S324
        request.writer.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        reader = request.reader
        while True:
            opcode, payload = await read_ws_frame(reader)
            if opcode == 8:  # close
                request.writer.write(ws_frame(8, payload, mask=False))
                await request.writer.drain()
                return
            request.writer.write(ws_frame(opcode, payload, mask=False))


# -- WebSocket framing (RFC 6455), just enough for an echo ---------------------------


def ws_frame(opcode: int, payload: bytes, *, mask: bool) -> bytes:
    head = bytes([0x80 | opcode])
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 65536:
        head += bytes([mask_bit | 126]) + length.to_bytes(2, "big")
    else:
        head += bytes([mask_bit | 127]) + length.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def read_ws_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    key = await reader.readexactly(4) if second & 0x80 else None
    payload = await reader.readexactly(length)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return first & 0x0F, payload


def read_ws_frame_sync(sock: socket.socket) -> tuple[int, bytes]:
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    first, second = exactly(2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(exactly(2), "big")
    elif length == 127:
        length = int.from_bytes(exactly(8), "big")
    return first & 0x0F, exactly(length)


# -- the router ----------------------------------------------------------------------


@dataclass
class RouterProcess:
    """`python -m slipway.router`, with its stderr collected line by line."""

    args: list[str]
    port: int = field(default_factory=free_port)
    data_plane: str = "auto"
    tls_port: int | None = None
    proc: subprocess.Popen[str] | None = None
    log: list[str] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def start(self, token: str = TOKEN) -> RouterProcess:
        argv = [sys.executable, "-m", "slipway.router", "--listen", f"127.0.0.1:{self.port}"]
        if self.tls_port is not None:
            argv += ["--tls-listen", f"127.0.0.1:{self.tls_port}"]
        env = {**os.environ, "SLIPWAY_ROUTER_TOKEN": token}
        self.proc = subprocess.Popen(
            argv + self.args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True
        )
        threading.Thread(target=self._pump, daemon=True).start()
        self.wait_log(f"listening on http://127.0.0.1:{self.port}", timeout=15)
        return self

    def _pump(self) -> None:
        assert self.proc is not None
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.log.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_log(self, needle: str, timeout: float = 5.0) -> str:
        found: list[str] = []

        def seen() -> bool:
            found[:] = [line for line in self.log if needle in line]
            return bool(found) or (self.proc is not None and self.proc.poll() is not None)

        with self._cond:
            self._cond.wait_for(seen, timeout)
        if not found:
            raise AssertionError(f"router never logged {needle!r}:\n" + "\n".join(self.log))
        return found[0]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


class Routes:
    """The tables a test pushes: apps by name, sent whole, version by version."""

    def __init__(self, control: FakeControlPlane, router: RouterProcess) -> None:
        self.control = control
        self.router = router
        self.version = 0
        self.apps: dict[str, dict[str, Any]] = {}
        self.services: list[dict[str, Any]] = []

    def app(
        self,
        name: str,
        dynos: list[Dyno] | None = None,
        *,
        state: str = "up",
        domains: list[str] | None = None,
        maintenance: bool = False,
        push: bool = True,
    ) -> dict[str, Any]:
        app = self.apps.get(name) or {"id": str(uuid.uuid4()), "name": name}
        app.update(
            domains=domains or [],
            maintenance=maintenance,
            state=state,
            dynos=[d.as_route() for d in dynos or []],
        )
        self.apps[name] = app
        if push:
            self.push()
        return app

    def push(self, wait: bool = True) -> int:
        self.version += 1
        self.control.push(
            {
                "version": self.version,
                "base_domain": "localhost",
                "apps": list(self.apps.values()),
                "services": self.services,
            }
        )
        if wait:
            self.router.wait_log(f"route table v{self.version} applied")
        return self.version


# -- client helpers ------------------------------------------------------------------


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)


class Reader:
    """Reads HTTP/1.1 responses off a raw socket, keeping leftovers for the next one."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> None:
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("closed by the router")
        self.buf += data

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            self._fill()
        out, _, self.buf = self.buf.partition(marker)
        return out + marker

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self) -> tuple[int, str, list[tuple[str, str]]]:
        lines = self.until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        _, status, reason = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            if line:
                key, _, value = line.partition(":")
                headers.append((key.strip(), value.strip()))
        return int(status), reason, headers

    def response(self, head_request: bool = False) -> Response:
        status, reason, headers = self.head()
        response = Response(status, reason, headers, b"")
        if head_request or status in (101, 204, 304) or status < 200:
            return response
        if (response.header("transfer-encoding") or "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.until(b"\r\n")[:-2].split(b";")[0], 16)
                if size == 0:
                    self.until(b"\r\n")
                    break
                body += self.exactly(size)
                self.exactly(2)
            response.body = body
        elif response.header("content-length") is not None:
            response.body = self.exactly(int(response.header("content-length") or 0))
        else:
            with contextlib.suppress(ConnectionError):
                while True:
                    self._fill()
            response.body, self.buf = self.buf, b""
        return response

    def closed(self, timeout: float = 5.0) -> bool:
        """True when the router closes the connection (EOF or reset) within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(1 << 16)
                if not data:
                    return True
                self.buf += data
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False


def request(
    port: int,
    host: str,
    path: str = "/",
    *,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
) -> Response:
    """One request on a fresh connection."""
    with connect(port, timeout) as sock:
        sock.sendall(raw_request(method, path, host, headers, body))
        return Reader(sock).response(head_request=method == "HEAD")


def raw_request(
    method: str,
    path: str,
    host: str | None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    for key, value in headers or []:
        lines.append(f"{key}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


@contextlib.contextmanager
def dynos(lt: LoopThread, *names: str) -> Iterator[list[Dyno]]:
    started = [Dyno(lt, name).start() for name in names]
    try:
        yield started
    finally:
        for dyno in started:
            dyno.stop()


def static_table_file(path: Path, apps: list[dict[str, Any]], version: int = 1) -> Path:
    path.write_text(json.dumps({"version": version, "base_domain": "localhost", "apps": apps}))
    return path
