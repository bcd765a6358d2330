"""ClientConnection: the asyncio.Protocol for one client connection.

It feeds bytes to httptools, turns each request head into an Exchange
(`exchange.py`) and hands it to `routing.dispatch`, and keeps responses in request
order: the exchange at the head of the line is `active`; pipelined requests parsed
behind it wait in `pipeline` with reading paused. Why reading is paused is the
flow control it inherits (`flow.py`); after a 101 it pipes raw bytes to the dyno.

Limits are enforced here, before anything is dispatched: request line, header
line and header count (behavior.md §2.3), and a cap on the whole head so that a
client trickling one endless header cannot grow memory (httptools accumulates a
header value until it ends).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, cast

from httptools import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserUpgrade,
    HttpRequestParser,
)

from slipway.router import failures
from slipway.router.exchange import Exchange
from slipway.router.flow import ClientFlow
from slipway.router.forwarding import RequestHead, listener_headers
from slipway.router.routing import dispatch

if TYPE_CHECKING:
    from slipway.router.backend import BackendConnection
    from slipway.router.state import RouterState

log = logging.getLogger("slipway.router")

# Pipelined requests parsed ahead of their turn; one read can hold many tiny ones,
# so beyond this the connection stops parsing, answers what it has and closes.
MAX_PIPELINE = 32


class _Rejected(Exception):
    def __init__(self, status: int, cause: str) -> None:
        super().__init__(cause)
        self.status = status
        self.cause = cause


class _PipelineFull(Exception):
    pass


class Listener:
    """What a client connection needs to know about the socket it came in on."""

    __slots__ = ("headers", "port", "protocol", "proxied")

    def __init__(self, protocol: str, port: int, *, proxied: bool = False) -> None:
        self.protocol = protocol
        self.port = port
        self.headers = listener_headers(protocol, port)
        # Behind the HAProxy data plane: each connection starts with a PROXY protocol
        # (v1) line naming the client and the port it connected to.
        self.proxied = proxied


class ClientConnection(ClientFlow):
    __slots__ = (
        "_head_bytes",
        "_in_head",
        "_limits",
        "_proxy_line",
        "_upgrade_buffer",
        "active",
        "broken",
        "client_ip",
        "client_ip_str",
        "clock",
        "closing",
        "corked",
        "head",
        "last_io",
        "listener_headers",
        "loop",
        "parser",
        "parsing",
        "pipeline",
        "protocol",
        "state",
        "tunnel",
    )

    def __init__(self, state: RouterState, listener: Listener) -> None:
        super().__init__()
        config = state.config
        self.state = state
        self.loop = state.loop
        self.protocol = listener.protocol
        self.listener_headers = listener.headers
        self._limits = (
            config.max_request_line,
            config.max_header_line,
            config.max_headers,
            config.max_head_bytes,
        )
        self.parser = HttpRequestParser(self)
        # Chunked wins over Content-Length (behavior.md §2.3); the body is re-framed.
        self.parser.set_dangerous_leniencies(lenient_chunked_length=True)
        self.client_ip = b""
        self.client_ip_str = ""
        self.active: Exchange | None = None  # the exchange whose response is due
        self.parsing: Exchange | None = None  # the exchange whose body is arriving
        self.pipeline: deque[Exchange] = deque()
        self.head: RequestHead | None = None
        self._in_head = False
        self._head_bytes = 0
        self.corked: list[bytes] | None = None
        self.closing = False  # close after the current response (shutdown)
        self.broken = False  # the parser cannot go on: close after the queued responses
        self.tunnel: asyncio.Transport | None = None
        self._upgrade_buffer: list[bytes] | None = None
        self.clock = state.clock
        self.last_io = state.clock.now
        self._proxy_line: bytes | None = b"" if listener.proxied else None

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = transport = cast("asyncio.Transport", transport)
        state = self.state
        if len(state.connections) >= state.config.max_connections:
            transport.abort()
            self.closed = True
            return
        if not state.connections:
            # The sweeper slept while there was nothing to time: the coarse clock is
            # stale, and this connection's timers must start from now.
            self.last_io = state.clock.tick()
            state.busy.set()
        state.connections.add(self)
        peer = transport.get_extra_info("peername")
        self.client_ip_str = str(peer[0]) if peer else "unknown"
        self.client_ip = self.client_ip_str.encode()
        # Past this much unsent response data, the dyno is paused (pause_writing).
        transport.set_write_buffer_limits(high=state.config.response_buffer)

    def data_received(self, data: bytes) -> None:
        self.last_io = self.clock.now
        if self.tunnel is not None:
            self.tunnel.write(data)
            return
        if self._upgrade_buffer is not None:
            # Bytes after an Upgrade request belong to the new protocol: keep them
            # for the dyno until it agrees (101), and read no more until then.
            self._upgrade_buffer.append(data)
            self.pause(self.UPGRADE)
            return
        if self.broken:
            return
        if self._proxy_line is not None:
            rest = self._proxy_header(data)
            if not rest:
                return
            data = rest
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade as exc:
            rest = data[exc.args[0] :]
            self._upgrade_buffer = [rest] if rest else []
            self.broken = True  # no more HTTP on this connection either way
            self.pause(self.UPGRADE)
            return
        except HttpParserCallbackError as exc:
            self._callback_error(exc.__context__ or exc)
            return
        except HttpParserError:
            self._parse_error()
            return
        except Exception as exc:
            self._internal_error(exc)
            return
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self._limits[3]:
                self._reject(431, "header too long")

    def _proxy_header(self, data: bytes) -> bytes:
        """Read the PROXY line HAProxy sends first; what follows it is HTTP."""
        line = (self._proxy_line or b"") + data
        end = line.find(b"\r\n")
        if end < 0:
            if len(line) > 107:  # the longest v1 line
                self.abort()
            self._proxy_line = line
            return b""
        self._proxy_line = None
        parts = line[:end].split(b" ")
        if len(parts) == 6 and parts[0] == b"PROXY":
            self.client_ip = parts[2]
            self.client_ip_str = parts[2].decode("latin-1")
            if parts[5].isdigit():
                self.listener_headers = listener_headers(self.protocol, int(parts[5]))
        elif not line.startswith(b"PROXY "):
            self.abort()
            return b""
        return line[end + 2 :]

    def eof_received(self) -> bool | None:
        # A client that stops sending has left, as nginx and Heroku's router see it:
        # the request is abandoned (H27) rather than answered into a half-closed socket.
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(self)
        if self.tunnel is not None and self.active is not None:
            self.active.client_lost()
            return
        pipeline, self.pipeline = self.pipeline, deque()
        if self.active is not None:
            self.active.client_lost()
        for exchange in pipeline:
            exchange.client_lost()

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.active is not None:
            self.active.client_write_paused()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.active is not None:
            self.active.client_write_resumed()

    # -- httptools callbacks ----------------------------------------------------------

    # No on_message_begin: a callback fewer per request. A head starts with its URL.

    def on_url(self, url: bytes) -> None:
        head = self.head
        if head is None:
            self.head = head = RequestHead()
            self._in_head = True
            self._head_bytes = 0
        head.url += url
        if len(head.url) > self._limits[0]:
            raise _Rejected(414, "request line too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._in_head:
            return  # trailers: the body is re-chunked without them
        head = self.head
        assert head is not None
        if len(name) + len(value) > self._limits[1]:
            raise _Rejected(431, "header too long")
        head.add(name, value)
        if head.count > self._limits[2]:
            raise _Rejected(431, "too many headers")

    def on_headers_complete(self) -> None:
        self._in_head = False
        head = self.head
        assert head is not None
        parser = self.parser
        method = parser.get_method()
        exchange = Exchange(
            self,
            head,
            method,
            parser.get_http_version() == "1.0",
            parser.should_keep_alive(),
            parser.should_upgrade(),
        )
        if head.host_count > 1:
            exchange.problem = ("H26", 400, "bad header")
        elif method == b"CONNECT":
            exchange.problem = ("H26", 405, "unsupported method")
        elif head.expect is not None and head.expect != b"100-continue":
            exchange.problem = ("H26", 417, "unsupported expect header value")
        self.parsing = exchange
        if self.active is None:
            self.active = exchange
            if exchange.problem is None:
                dispatch(exchange)
            else:
                exchange.start()
        else:
            self._enqueue(exchange)

    def on_body(self, body: bytes) -> None:
        exchange = self.parsing
        assert exchange is not None
        exchange.feed_body(body)

    def on_message_complete(self) -> None:
        exchange = self.parsing
        assert exchange is not None
        self.parsing = None
        self.head = None
        exchange.request_done()

    # -- called by exchanges ----------------------------------------------------------

    def write(self, data: bytes) -> None:
        corked = self.corked
        if corked is not None:
            corked.append(data)
        elif not self.closed:
            assert self.transport is not None
            self.transport.write(data)

    def writelines(self, parts: tuple[bytes, ...]) -> None:
        corked = self.corked
        if corked is not None:
            corked.extend(parts)
        elif not self.closed:
            assert self.transport is not None
            self.transport.writelines(parts)

    def uncork(self) -> None:
        """Write what was collected while `corked` was a list (see BackendConnection)."""
        corked = self.corked
        if corked is not None:
            self.corked = None
            if corked and not self.closed:
                assert self.transport is not None
                if len(corked) == 1:
                    self.transport.write(corked[0])
                elif len(corked) < 4 and len(corked[-1]) < 4096:
                    # A small response (head and body): one plain write is cheaper than
                    # a writev of little pieces.
                    self.transport.write(b"".join(corked))
                else:
                    self.transport.writelines(corked)

    def exchange_done(self, exchange: Exchange) -> None:
        """The active exchange is over: start the next pipelined one, or close."""
        if exchange is not self.active:
            return
        self.active = None
        if self.closed:
            return
        if self.paused:
            self.resume(self.BACKPRESSURE | self.BUFFER)
        if exchange.close_after or self.closing or (self.broken and not self.pipeline):
            self.close()
        elif self.pipeline:
            # Not from inside this exchange's callbacks: the next one may reuse the
            # same dyno connection, whose parser could still be running.
            self.loop.call_soon(self._start_next)

    def start_tunnel(self, backend: BackendConnection) -> None:
        """The dyno answered 101: from now on bytes go straight through."""
        assert backend.transport is not None
        self.tunnel = backend.transport
        buffered, self._upgrade_buffer = self._upgrade_buffer or [], None
        for data in buffered:
            self.tunnel.write(data)
        self.resume(self.UPGRADE)

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.uncork()  # what was written before the close still goes out
            self.closed = True
            self.transport.close()

    def abort(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.abort()

    def shutdown(self) -> None:
        """Called by the server on SIGTERM: finish the current response, then close."""
        self.closing = True
        if self.active is None:
            self.close()

    def check_timeouts(self, now: float) -> None:
        """Called by the sweeper every tick."""
        active = self.active
        if active is not None:
            failures.check_timeouts(active, now)
        elif now - self.last_io > self.state.config.idle_timeout:
            # An idle keep-alive connection, or a head that stopped arriving (slowloris).
            self.abort()

    # -- internals --------------------------------------------------------------------

    def _enqueue(self, exchange: Exchange) -> None:
        if len(self.pipeline) >= MAX_PIPELINE:
            raise _PipelineFull
        self.pipeline.append(exchange)
        self.pause(self.PIPELINE)

    def _start_next(self) -> None:
        if self.closed or self.active is not None or not self.pipeline:
            return
        exchange = self.pipeline.popleft()
        self.active = exchange
        if not self.pipeline:
            self.resume(self.PIPELINE)
        exchange.start()

    def _callback_error(self, exc: BaseException) -> None:
        if isinstance(exc, _Rejected):
            self._reject(exc.status, exc.cause)
        elif isinstance(exc, _PipelineFull):
            self.broken = True  # answer what is queued, then close
        else:
            self._internal_error(exc)

    def _parse_error(self) -> None:
        # In a body, the only thing that can be malformed is chunk framing.
        self._reject(400, "bad chunk" if self.parsing is not None else "bad header")

    def _reject(self, status: int, cause: str) -> None:
        """Refuse a request the parser cannot go on with; the connection closes after."""
        self.broken = True
        exchange = self.parsing
        if exchange is not None:
            self.parsing = None
            exchange.request_complete = True
            exchange.close_after = True
            if exchange is self.active and exchange.problem is None:
                failures.fail(exchange, "H26", status=status, cause=cause)
                return
            exchange.problem = ("H26", status, cause)
            return
        # The head never completed: answer for it after whatever is queued.
        head = self.head or RequestHead()
        try:
            method = self.parser.get_method()
        except HttpParserError:
            method = b"-"
        exchange = Exchange(self, head, method, False, False, False)
        exchange.problem = ("H26", status, cause)
        exchange.request_complete = True
        self._in_head = False
        if self.active is None:
            self.active = exchange
            exchange.start()
        else:
            self.pipeline.append(exchange)

    def _internal_error(self, exc: BaseException) -> None:
        log.error("router error (H99)", exc_info=exc)
        self.broken = True
        active = self.active
        if active is not None:
            failures.fail(active, "H99")
        else:
            self.abort()
