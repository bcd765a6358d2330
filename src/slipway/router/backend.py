"""BackendConnection: the router's side of one TCP connection to a dyno.

It parses responses with httptools and hands each event to the exchange it is
serving (`exchange.py`); between requests it sits idle in the pool (`pool.py`).
After a 101 it stops parsing and pipes bytes straight to the client's transport.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol, cast

from httptools import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserUpgrade,
    HttpResponseParser,
)

if TYPE_CHECKING:
    from slipway.router.clock import Clock
    from slipway.router.pool import ConnectionPool


class Corkable(Protocol):
    """The client connection: while `corked` is a list, writes collect in it."""

    corked: list[bytes] | None

    def uncork(self) -> None: ...


class ResponseSink(Protocol):
    """What a BackendConnection reports to (implemented by exchange.Exchange)."""

    is_head: bool

    @property
    def conn(self) -> Corkable: ...

    def on_informational(self, status: int) -> None: ...
    def on_response_head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None: ...
    def on_response_body(self, data: bytes) -> None: ...
    def on_response_complete(self, keep_alive: bool) -> None: ...
    def on_backend_lost(self) -> None: ...
    def on_backend_error(self, code: str, exc: BaseException | None = None) -> None: ...
    def on_backend_paused(self) -> None: ...
    def on_backend_resumed(self) -> None: ...


class BackendConnection(asyncio.Protocol):
    __slots__ = (
        "_clock",
        "_done",
        "_head_bytes",
        "_headers",
        "_in_head",
        "_informational",
        "_keep_alive",
        "_max_head",
        "_reset_parser",
        "_skip_body",
        "_write_limit",
        "closed",
        "exchange",
        "idle_since",
        "key",
        "last_io",
        "parser",
        "paused",
        "pool",
        "reused",
        "transport",
        "tunnel",
        "upgraded",
    )

    def __init__(
        self, pool: ConnectionPool, clock: Clock, key: str, max_head: int, write_limit: int
    ) -> None:
        self.pool = pool
        self._clock = clock
        self.key = key
        self._max_head = max_head
        self.transport: asyncio.Transport | None = None
        self.parser = HttpResponseParser(self)
        # A dyno's framing is re-done by the router, so "chunked wins" (as for requests).
        self.parser.set_dangerous_leniencies(lenient_chunked_length=True)
        self.exchange: ResponseSink | None = None  # an exchange.Exchange
        self.tunnel: asyncio.Transport | None = None
        self.closed = False
        self.reused = False  # has served a response before, so it may be stale
        self.idle_since = 0.0
        self.last_io = 0.0
        self.upgraded = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._in_head = True
        self._head_bytes = 0
        self._informational = False
        self._done = False
        self._keep_alive = False
        self._skip_body = False
        self._reset_parser = False
        self._write_limit = write_limit
        self.paused = False

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = transport = cast("asyncio.Transport", transport)
        # Above this much unsent request body the client is paused (pause_writing), until
        # the dyno has read it down (resume_writing).
        transport.set_write_buffer_limits(high=self._write_limit)
        self.last_io = self._clock.now

    def data_received(self, data: bytes) -> None:
        self.last_io = self._clock.now
        if self.tunnel is not None:
            self.tunnel.write(data)
            return
        exchange = self.exchange
        if exchange is None:
            # An idle dyno connection must stay silent; anything else is a broken stream.
            self.close()
            return
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self._max_head:
                exchange.on_backend_error("H25")
                return
        # One read often holds a whole response: collect what it produces for the
        # client and hand it over in one write (uncork) rather than a write each.
        client = exchange.conn
        client.corked = []
        try:
            self.parser.feed_data(data)
            if self._done:
                self._done = False
                if self._reset_parser:
                    # HEAD responses announce a body that never comes; llhttp would
                    # wait for it, so the next response gets a fresh parser.
                    self._reset_parser = False
                    self._skip_body = False
                    self._in_head = True
                    self.parser = HttpResponseParser(self)
                    self.parser.set_dangerous_leniencies(lenient_chunked_length=True)
                exchange.on_response_complete(self._keep_alive)
        except HttpParserUpgrade as exc:
            self._upgrade_rest(data[exc.args[0] :])
        except HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _ExtraResponse):
                # The response was whole; what followed it was not asked for.
                self._done = False
                exchange.on_response_complete(False)
            else:
                exchange.on_backend_error("H99", exc.__context__ or exc)
        except HttpParserError:
            if self.upgraded:
                # A 101 without `Connection: upgrade` stops llhttp without an offset;
                # the tunnel starts after the blank line that ended the head.
                end = data.find(b"\r\n\r\n")
                self._upgrade_rest(data[end + 4 :] if end >= 0 else b"")
            else:
                exchange.on_backend_error("H17")
        except Exception as exc:
            exchange.on_backend_error("H99", exc)
        finally:
            client.uncork()

    def eof_received(self) -> bool | None:
        return None  # close; connection_lost tells the exchange

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        exchange = self.exchange
        if exchange is not None:
            self.exchange = None
            exchange.on_backend_lost()
        else:
            self.pool.discard(self)

    def pause_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.on_backend_paused()

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.on_backend_resumed()

    # -- httptools callbacks ----------------------------------------------------------

    # No on_message_begin and no on_status: a callback fewer each per response. The
    # head state is reset when a head completes, ready for the next response; the
    # status line gets the standard reason phrase (as Cowboy-based vegur sends it).

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._done:
            raise _ExtraResponse  # a second response in the same read: broken dyno
        headers = self._headers
        self._headers = []
        self._in_head = False
        self._head_bytes = 0
        exchange = self.exchange
        assert exchange is not None
        parser = self.parser
        status = parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._informational = True
            exchange.on_informational(status)
            return
        # llhttp only knows this before the message completes.
        self._keep_alive = parser.should_keep_alive()
        if status == 101:
            self.upgraded = True
        elif exchange.is_head:
            self._skip_body = True
            self._reset_parser = True
            self._done = True
        exchange.on_response_head(status, headers)

    def on_body(self, body: bytes) -> None:
        if not self._skip_body:
            exchange = self.exchange
            assert exchange is not None
            exchange.on_response_body(body)

    def on_message_complete(self) -> None:
        self._in_head = True
        if self._informational:
            self._informational = False
            return
        self._skip_body = False
        self._done = True

    # -- used by the exchange and the pool --------------------------------------------

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def writelines(self, parts: tuple[bytes, ...]) -> None:
        assert self.transport is not None
        self.transport.writelines(parts)

    def pause_reading(self) -> None:
        if not self.paused and self.transport is not None and not self.closed:
            self.paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        """Drop the connection now: it is broken or mid-message, never reusable."""
        self.exchange = None
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def start_tunnel(self, peer: asyncio.Transport) -> None:
        self.tunnel = peer

    def _upgrade_rest(self, rest: bytes) -> None:
        if rest and self.tunnel is not None:
            self.tunnel.write(rest)


class _ExtraResponse(Exception):
    pass
