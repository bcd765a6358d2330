"""Exchange: one request and its response, from the parsed head to the router line.

An exchange moves through these phases (each a module constant):

    NEW ─┬─> HELD ───────> (table brings dynos) ─> NEW again
         ├─> QUEUED ─────> (a dyno frees up) ─┐
         ├─> CONNECTING ──────────────────────┤
         └────────────────────────────────────┴─> SENT ─> STREAMING ─> ANSWERED ─> DONE
                                                           └─> TUNNEL (after a 101) ─> DONE

SENT means the head is on its way to the dyno and no response byte has come back;
STREAMING means the client has the response head; ANSWERED means the response is
complete but the client is still sending its body (it is read and discarded, so the
connection can be reused). Any phase can end early in `fail`, which writes the error
page when the client has no response yet and logs the H-code line.

The common path (a kept-alive dyno connection is free) runs synchronously inside
the parser callbacks: no task, no future, no timer. Only connecting, waiting in the
backlog and waiting for a booting dyno leave the callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from time import time as _time
from typing import TYPE_CHECKING

from slipway.router import pages
from slipway.router.backend import BackendConnection
from slipway.router.balancer import AppBalancer, DynoSlot
from slipway.router.errors import BackendConnectError
from slipway.router.forwarding import (
    FRAME_CHUNKED,
    FRAME_NONE,
    RequestHead,
    new_request_id,
    request_id_for,
    to_client,
)
from slipway.router.logline import CODES
from slipway.router.table import AppRoute, AppState

if TYPE_CHECKING:
    from slipway.router.proxy import ClientConnection

log = logging.getLogger("slipway.router")

NEW, HELD, QUEUED, CONNECTING, SENT, STREAMING, TUNNEL, ANSWERED, DONE = range(9)

_NO_DYNO_CODES = {
    AppState.CRASHED: "H10",
    AppState.NONE: "H14",
    AppState.BLANK: "H81",
    AppState.QUOTA: "H82",
}
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

    # -- routing -----------------------------------------------------------------------

    def start(self) -> None:
        """Called by the client connection when this exchange's turn comes."""
        if self.problem is not None:
            code, status, cause = self.problem
            self._resolve()
            self.fail(code, status=status, cause=cause)
            return
        self.dispatch()

    def dispatch(self) -> None:
        """Route the request: find the app and a dyno, and send it there if possible."""
        state = self.state
        head = self.head
        host = head.host
        hit = state.table.resolve(host) if host is not None and head.host_count == 1 else None
        if hit is None:
            self._respond(404, pages.Page.NO_SUCH_APP)
            return
        route, self.host_name = hit
        self.route = route
        state.reports.activity[route.id] = self.start_wall
        if route.maintenance:
            self.fail("H80")
            return
        app = self.app = state.balancer.for_app(route)
        slot = app.acquire(state.clock.now) if app.slots else None
        if slot is None:
            self._wait(route, app)
            return
        self.dyno_name = slot.name
        conn = state.pool.take(slot.key)
        if conn is None:
            self._connect_later(slot)
            return
        self.slot = slot
        self._attach(conn, self.start_wall)

    def _resolve(self) -> AppRoute | None:
        head = self.head
        host = head.host
        if host is None or head.host_count != 1:
            return None
        hit = self.state.table.resolve(host)
        if hit is None:
            return None
        self.route, self.host_name = hit
        return self.route

    def _wait(self, route: AppRoute, app: AppBalancer) -> None:
        """No place on a dyno right now: queue, hold for a booting app, or fail."""
        state = self.state
        if app.slots:
            if app.backlog_full:
                self.fail("H11")
            else:
                self.phase = QUEUED
                app.backlog.append(self)
            return
        code = _NO_DYNO_CODES.get(route.state)
        if code is not None:
            self.fail(code)
        elif not state.hold(self):
            self.fail("H11")
        else:
            self.phase = HELD
            if route.state is AppState.IDLE:
                state.wake(route.id)

    def redispatch(self) -> None:
        """The table changed while this request was held or queued: route it again."""
        if self.phase in (HELD, QUEUED):
            self.phase = NEW
            self.dispatch()

    def on_slot(self, slot: DynoSlot) -> None:
        """A place on a dyno freed up for this queued request (balancer backlog)."""
        if self.phase != QUEUED:
            assert self.app is not None
            self.state.release(self.app, slot)
            return
        self._use(slot)

    def _use(self, slot: DynoSlot) -> None:
        self.dyno_name = slot.name
        conn = self.state.pool.take(slot.key)
        if conn is None:
            self._connect_later(slot)
            return
        self.slot = slot
        self._attach(conn, _time())

    def _connect_later(self, slot: DynoSlot) -> None:
        # The connect task owns the place on the dyno until it hands it back.
        self.phase = CONNECTING
        self.task = self.state.loop.create_task(self._connect(slot))

    async def _connect(self, slot: DynoSlot) -> None:
        state = self.state
        app = self.app
        assert app is not None
        started = state.loop.time()
        try:
            conn, slot = await state.pool.connect_any(app, slot, state.release)
        except BackendConnectError as exc:
            self.task = None
            self.connect_ms = exc.connect_ms
            self.dyno_name = exc.dyno
            if not state.control_connected and self.route is not None and state.hold(self):
                # The control plane (and the dynos it runs) is restarting: wait for the
                # table it sends when it is back, within the boot-wait budget (H20).
                self.phase = HELD
                return
            self.fail(exc.code)
            return
        except Exception as exc:
            self.task = None
            self.fail("H99", exc=exc)
            return
        self.task = None
        if self.phase != CONNECTING:  # the client left while we connected
            state.release(app, slot)
            state.pool.give(conn)
            return
        self.dyno_name = slot.name
        self.slot = slot
        self.connect_ms += int((state.loop.time() - started) * 1000)
        self._attach(conn, _time())

    def _attach(self, conn: BackendConnection, now_wall: float) -> None:
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

    # -- the request body, from the client parser --------------------------------------

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
            self._finish()

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
            self._log(None)
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
            self._finish()
        else:
            self._answered()

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
                self._use(slot)
                return
            self.fail("H13")
        elif phase == STREAMING:
            if self.delimited:
                self._answered()  # the close was the end of the body
            else:
                self.fail("H18", sock="backend")
        elif phase == TUNNEL:
            self.conn.close()
            self._finish()

    def on_backend_error(self, code: str, exc: BaseException | None = None) -> None:
        self.fail(code, exc=exc)

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
            self._finish()
            return
        self.fail("H27", sock="client")

    def client_write_paused(self) -> None:
        if self.backend is not None:
            self.backend.pause_reading()

    def client_write_resumed(self) -> None:
        if self.backend is not None:
            self.backend.resume_reading()

    def check_timeouts(self, now: float) -> None:
        """Called by the sweeper (server.py) every tick."""
        config = self.state.config
        phase = self.phase
        if phase == HELD:
            if now - self.received_at > config.boot_timeout:
                self.fail("H20")
        elif phase == QUEUED:
            if now - self.received_at > config.request_timeout:
                self.fail("H12")
        elif phase == SENT:
            if self.request_complete:
                if now - self.sent_at > config.request_timeout:
                    self.fail("H12")
            elif now - self._last_io() > config.idle_timeout:
                self.fail("H28")
        elif phase in (STREAMING, TUNNEL, ANSWERED) and now - self._last_io() > config.idle_timeout:
            if phase == STREAMING:
                # Silence while the client is not draining is the client's doing.
                if self.conn.write_paused:
                    self.fail("H28")
                else:
                    self.fail("H15")
            else:
                if self.backend is not None:
                    self.backend.close()
                    self.backend = None
                self.conn.abort()
                self._finish()

    def _last_io(self) -> float:
        backend = self.backend
        last = self.conn.last_io
        if backend is not None and backend.last_io > last:
            return backend.last_io
        return last

    # -- endings -----------------------------------------------------------------------

    def fail(
        self,
        code: str,
        *,
        status: int | None = None,
        cause: str | None = None,
        sock: str | None = None,
        exc: BaseException | None = None,
    ) -> None:
        """End the exchange with a router error: page (if possible), line, cleanup."""
        phase = self.phase
        if phase == DONE:
            return
        if exc is not None:
            log.error("router error (H99) on %s", self.request_id, exc_info=exc)
        self._detach(phase)
        info = CODES[code]
        status = status or info.status
        client = self.conn
        silent = code in ("H15", "H18", "H27", "H28") or self.response_started
        if silent:
            # The client has part of a response, or is gone, or idle: only closing tells.
            self.status = status
            self._log(code, cause=cause, sock=sock)
            if code in ("H27", "H28"):
                client.abort()
            else:
                client.close()  # flush what the client was sent, then end it
            self._finish()
            return
        self.status = status
        self._log(code, cause=cause, sock=sock)
        self._write_page(status, pages.page_for(code))
        self._answered()

    def _respond(self, status: int, page: pages.Page) -> None:
        """The router's own answer when there is no app to speak of (unknown host)."""
        self.status = status
        self.logged = True  # no app, so no log stream to put a line in
        self._write_page(status, page)
        self._answered()

    def _write_page(self, status: int, page: pages.Page) -> None:
        # Without the whole request read, the connection cannot carry another one: the
        # rest of the body is discarded, then the connection closes.
        close = (
            self.close_after
            or not self.keep_alive
            or not self.request_complete
            or self.upgrade
            or self.conn.closing
        )
        self.close_after = close
        if not self.request_complete and self.head.expect is not None and not self.continue_sent:
            self.conn.broken = True  # the client waits for 100 and sends no body: close now
        self.response_started = True
        self.conn.write(
            pages.error_response(status, page, self.request_id, close=close, head_only=self.is_head)
        )

    def _detach(self, phase: int) -> None:
        """Let go of the dyno, the connect task, the backlog or the hold."""
        backend = self.backend
        if backend is not None:
            self.backend = None
            backend.close()
        task = self.task
        if task is not None:
            self.task = None
            task.cancel()
        if phase == QUEUED and self.app is not None:
            with contextlib.suppress(ValueError):
                self.app.backlog.remove(self)
        elif phase == HELD:
            self.state.unhold(self)
        self.phase = ANSWERED

    def _answered(self) -> None:
        self.phase = ANSWERED
        conn = self.conn
        if conn.paused:
            conn.resume(conn.BACKPRESSURE)
        if self.request_complete or conn.broken:
            self._finish()
        elif self.pending is not None:
            self.pending = None
            self.pending_size = 0
            conn.resume(conn.BUFFER)

    def _finish(self) -> None:
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
            self._log(None)
        self.conn.exchange_done(self)

    def _log(self, code: str | None, *, cause: str | None = None, sock: str | None = None) -> None:
        """Record this request's router line (formatted later, in a batch)."""
        if self.logged:
            return
        self.logged = True
        route = self.route
        if route is None:
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
