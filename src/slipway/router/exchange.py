"""Exchange: one request and its response, from the parsed head to the router line.

An exchange moves through these phases (constants in `phases.py`):

    NEW ─┬─> HELD ───────> (table brings dynos) ─> NEW again
         ├─> QUEUED ─────> (a dyno frees up) ─┐
         ├─> CONNECTING ──────────────────────┤
         └────────────────────────────────────┴─> SENT ─> STREAMING ─> ANSWERED ─> DONE
                                                           └─> TUNNEL (after a 101) ─> DONE

SENT means the head is on its way to the dyno and no response byte has come back;
STREAMING means the client has the response head; ANSWERED means the response is
complete but the client is still sending its body (it is read and discarded, so the
connection can be reused). Any phase can end early in `failures.fail`, which writes
the error page when the client has no response yet and logs the H-code line.

The exchange holds the request's state and streams both ways: the request (head,
then body) to the dyno, and the dyno's response to the client. Which dyno it goes
to, and the waiting before one is free, is `routing.py`'s part; the early endings
and the timers are `failures.py`'s.

The common path (a kept-alive dyno connection is free) runs synchronously inside
the parser callbacks: no task, no future, no timer. Only connecting, waiting in the
backlog and waiting for a booting dyno leave the callback.
"""

from __future__ import annotations

import asyncio
from time import time as _time
from typing import TYPE_CHECKING

from slipway.router import pages
from slipway.router.backend import BackendConnection
from slipway.router.balancer import AppBalancer, DynoSlot
from slipway.router.failures import fail
from slipway.router.forwarding import (
    FRAME_CHUNKED,
    FRAME_NONE,
    RequestHead,
    new_request_id,
    request_id_for,
    to_client,
)
from slipway.router.phases import (
    ANSWERED,
    DONE,
    HELD,
    NEW,
    QUEUED,
    SENT,
    STREAMING,
    TUNNEL,
)
from slipway.router.routing import dispatch, resolve, use_slot
from slipway.router.table import AppRoute

if TYPE_CHECKING:
    from slipway.router.client import ClientConnection

# Codes where no dyno was involved: the line has empty dyno fields.
_NO_DYNO_LINE = frozenset({"H10", "H11", "H14", "H20", "H80", "H81", "H82"})
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"


class Exchange:
    # Per-request state. Fields that most requests never change are class-level
    # defaults, so creating an exchange costs a handful of stores, not forty.

    # -- the request, as parsed --
    is_head = False
    chunked = False  # the request body is chunked (and re-chunked to the dyno)
    problem: tuple[str, int, str] | None = None  # (code, status, cause) from parsing
    # -- routing --
    phase = NEW
    route: AppRoute | None = None
    host_name = ""  # the host as logged
    app: AppBalancer | None = None
    slot: DynoSlot | None = None
    dyno_name: str | None = None
    task: asyncio.Task[None] | None = None
    # -- the request on its way to the dyno --
    backend: BackendConnection | None = None
    reused = False
    retried = False
    dyno_head: bytes | None = None
    pending: list[bytes] | None = None
    pending_size = 0
    body_sent = 0
    request_complete = False
    continue_sent = False
    connect_ms = 0
    attached_at = 0.0  # wall clock, for service=
    sent_at = 0.0  # router clock, for H12
    # -- the response --
    status = 0
    framing = FRAME_NONE
    delimited = False  # the dyno ends its body by closing the connection
    response_started = False
    close_after = False
    bytes_out = 0
    logged = False

    def __init__(
        self,
        conn: ClientConnection,
        head: RequestHead,
        method: bytes,
        http10: bool,
        keep_alive: bool,
        upgrade: bool,
    ) -> None:
        state = conn.state
        self.conn = conn
        self.state = state
        self.head = head
        self.method = method
        self.http10 = http10
        self.keep_alive = keep_alive
        self.upgrade = upgrade
        if method == b"HEAD":
            self.is_head = True
        if head.transfer_encoding is not None:
            self.chunked = True
        rid = head.request_id
        self.request_id = new_request_id() if rid is None else request_id_for(rid)
        self.received_at = state.clock.now
        self.start_wall = _time()

    # -- routing (routing.py) ------------------------------------------------------------

    def start(self) -> None:
        """Called by the client connection when this exchange's turn comes."""
        if self.problem is not None:
            code, status, cause = self.problem
            resolve(self)
            fail(self, code, status=status, cause=cause)
            return
        dispatch(self)

    def redispatch(self) -> None:
        """The table changed while this request was held or queued: route it again."""
        if self.phase in (HELD, QUEUED):
            self.phase = NEW
            dispatch(self)

    def on_slot(self, slot: DynoSlot) -> None:
        """A place on a dyno freed up for this queued request (balancer backlog)."""
        if self.phase != QUEUED:
            assert self.app is not None
            self.state.release(self.app, slot)
            return
        use_slot(self, slot)

    # -- the request, to the dyno --------------------------------------------------------

    def attach(self, conn: BackendConnection, now_wall: float) -> None:
        """Send the request (head, and the body received so far) to the dyno."""
        client = self.conn
        self.backend = conn
        self.reused = conn.reused
        conn.exchange = self
        self.phase = SENT
        self.attached_at = now_wall
        if self.dyno_head is None:
            self.dyno_head = self.head.to_dyno(
                self.method,
                client.client_ip,
                client.listener_headers,
                int(self.start_wall * 1000),
                self.request_id,
                chunked=self.chunked,
                upgrade=self.upgrade,
            )
        transport = conn.transport
        assert transport is not None
        transport.write(self.dyno_head)
        if client.write_paused:
            conn.pause_reading()
        if (
            self.head.expect is not None
            and not self.request_complete
            and not self.http10
            and not self.continue_sent
        ):
            # The router answers Expect itself once a dyno is connected (and does not
            # forward it): the client sends the body only when it can go somewhere.
            self.continue_sent = True
            client.write(_CONTINUE)
        pending = self.pending
        if pending is not None:
            self.pending = None
            self.pending_size = 0
            for data in pending:
                self._forward(data)
            client.resume(client.BUFFER)
        if self.request_complete:
            if self.chunked:
                conn.write(_LAST_CHUNK)
            self.sent_at = self.state.clock.now

    def feed_body(self, data: bytes) -> None:
        phase = self.phase
        if phase in (SENT, STREAMING):
            self._forward(data)
        elif phase < SENT:
            # No dyno yet: hold a bounded amount, then stop reading the client.
            if self.pending is None:
                self.pending = []
            self.pending.append(data)
            self.pending_size += len(data)
            if self.pending_size > self.state.config.request_buffer:
                self.conn.pause(self.conn.BUFFER)
        # ANSWERED / DONE: the response is out; the rest of the body is discarded.

    def _forward(self, data: bytes) -> None:
        backend = self.backend
        assert backend is not None
        if self.chunked:
            backend.writelines((b"%x\r\n" % len(data), data, b"\r\n"))
        else:
            backend.write(data)
        self.body_sent += len(data)

    def request_done(self) -> None:
        self.request_complete = True
        phase = self.phase
        if phase in (SENT, STREAMING):
            if self.chunked:
                backend = self.backend
                assert backend is not None
                backend.write(_LAST_CHUNK)
            self.sent_at = self.state.clock.now
        elif phase == ANSWERED:
            self.finish()

    # -- the response, from BackendConnection (backend.ResponseSink) -------------------

    def on_informational(self, status: int) -> None:
        if self.http10 or (status == 100 and self.continue_sent):
            return
        self.continue_sent = self.continue_sent or status == 100
        self.conn.write(b"HTTP/1.1 %d %s\r\n\r\n" % (status, pages.reason(status)))

    def on_response_head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        if self.phase != SENT:
            return
        if status == 101 and not self.upgrade:
            self.on_backend_error("H17")
            return
        client = self.conn
        if self.upgrade and status != 101:
            self.close_after = True  # the client's parser is past an upgrade request
        has_body = not (self.is_head or status == 204 or status == 304)
        head, framing, close, delimited = to_client(
            status,
            pages.reason(status),
            headers,
            has_body=has_body,
            http10=self.http10,
            keep_alive=self.keep_alive and not self.close_after and not client.closing,
        )
        self.status = status
        self.framing = framing
        self.delimited = delimited
        self.close_after = self.close_after or close
        self.response_started = True
        self.bytes_out = len(head)
        self.phase = STREAMING
        client.write(head)
        if status == 101:
            backend = self.backend
            assert backend is not None
            assert client.transport is not None
            self.phase = TUNNEL
            self.record_line(None)
            backend.start_tunnel(client.transport)
            client.start_tunnel(backend)

    def on_response_body(self, data: bytes) -> None:
        self.bytes_out += len(data)
        conn = self.conn
        if self.framing == FRAME_CHUNKED:
            conn.writelines((b"%x\r\n" % len(data), data, b"\r\n"))
        elif conn.corked is not None:
            conn.corked.append(data)
        else:
            conn.write(data)

    def on_response_complete(self, keep_alive: bool) -> None:
        if self.phase != STREAMING:
            return
        conn = self.conn
        if self.framing == FRAME_CHUNKED:
            conn.write(_LAST_CHUNK)
            self.bytes_out += 5
        backend = self.backend
        self.backend = None
        if backend is not None:
            if keep_alive and self.request_complete:
                self.state.pool.give(backend)
            else:
                backend.close()
        if self.request_complete and not conn.paused:
            self.phase = ANSWERED
            self.finish()
        else:
            self.answered()

    def on_backend_lost(self) -> None:
        self.backend = None
        phase = self.phase
        if phase == SENT:
            if self.reused and not self.retried and self.body_sent == 0:
                # A kept-alive connection the dyno closed as we reused it: the request
                # never reached the app, so it is safe to send again, once.
                self.retried = True
                slot = self.slot
                assert slot is not None
                self.slot = None
                self.phase = NEW
                use_slot(self, slot)
                return
            fail(self, "H13")
        elif phase == STREAMING:
            if self.delimited:
                self.answered()  # the close was the end of the body
            else:
                fail(self, "H18", sock="backend")
        elif phase == TUNNEL:
            self.conn.close()
            self.finish()

    def on_backend_error(self, code: str, exc: BaseException | None = None) -> None:
        fail(self, code, exc=exc)

    def on_backend_paused(self) -> None:
        self.conn.pause(self.conn.BACKPRESSURE)

    def on_backend_resumed(self) -> None:
        self.conn.resume(self.conn.BACKPRESSURE)

    # -- the client side ---------------------------------------------------------------

    def client_lost(self) -> None:
        """The client connection closed while this exchange was in its hands."""
        phase = self.phase
        if phase == DONE:
            return
        if phase == NEW:
            self.phase = DONE  # never routed: nothing to log
            return
        if phase in (TUNNEL, ANSWERED):
            if self.backend is not None:
                self.backend.close()
                self.backend = None
            self.finish()
            return
        fail(self, "H27", sock="client")

    def client_write_paused(self) -> None:
        if self.backend is not None:
            self.backend.pause_reading()

    def client_write_resumed(self) -> None:
        if self.backend is not None:
            self.backend.resume_reading()

    # -- endings -----------------------------------------------------------------------

    def answered(self) -> None:
        """The response is out: finish, or read (and drop) the rest of the body first."""
        self.phase = ANSWERED
        conn = self.conn
        if conn.paused:
            conn.resume(conn.BACKPRESSURE)
        if self.request_complete or conn.broken:
            self.finish()
        elif self.pending is not None:
            self.pending = None
            self.pending_size = 0
            conn.resume(conn.BUFFER)

    def finish(self) -> None:
        """Give back the place on the dyno, record the line, let the next request go."""
        if self.phase == DONE:
            return
        self.phase = DONE
        slot = self.slot
        if slot is not None:
            self.slot = None
            app = self.app
            assert app is not None
            slot.in_flight -= 1
            if app.backlog:
                self.state.hand_over(app)
        if not self.logged:
            self.record_line(None)
        self.conn.exchange_done(self)

    def record_line(
        self, code: str | None, *, cause: str | None = None, sock: str | None = None
    ) -> None:
        """Record this request's router line (formatted later, in a batch)."""
        if self.logged:
            return
        self.logged = True
        route = self.route
        if route is None or route.service:
            return  # no app: no log stream to put the line in
        head = self.head
        conn = self.conn
        attached = self.attached_at
        self.state.reports.add_line(
            route.id,
            (
                self.method,
                head.url,
                self.host_name,
                self.request_id,
                head.xff,
                conn.client_ip_str,
                None if code in _NO_DYNO_LINE else self.dyno_name,
                self.connect_ms,
                int((_time() - attached) * 1000) if attached else 0,
                self.status,
                self.bytes_out,
                conn.protocol,
                code,
                sock,
                cause,
            ),
        )
