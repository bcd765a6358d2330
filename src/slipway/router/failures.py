"""How an exchange ends early: an H-code, and the timers that lead to one.

`fail` is the one way out for every router error (behavior.md §2.5): it lets go of
whatever the exchange holds (dyno connection, connect task, backlog place, hold),
writes the error page when the client has no response yet (or only closes the
connection when it has part of one, or is gone), and records the router line.
`check_timeouts` is what the sweeper runs for each exchange: which timer applies in
which phase, and the code it ends with (H12, H15, H20, H28). `respond` is the
router's own answer when there is no app at all (an unknown host).
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from slipway.router import pages
from slipway.router.logline import CODES
from slipway.router.phases import (
    ANSWERED,
    DONE,
    HELD,
    QUEUED,
    SENT,
    STREAMING,
    TUNNEL,
)

if TYPE_CHECKING:
    from slipway.router.exchange import Exchange

log = logging.getLogger("slipway.router")


def fail(
    ex: Exchange,
    code: str,
    *,
    status: int | None = None,
    cause: str | None = None,
    sock: str | None = None,
    exc: BaseException | None = None,
) -> None:
    """End the exchange with a router error: page (if possible), line, cleanup."""
    phase = ex.phase
    if phase == DONE:
        return
    if exc is not None:
        log.error("router error (H99) on %s", ex.request_id, exc_info=exc)
    _detach(ex, phase)
    info = CODES[code]
    status = status or info.status
    client = ex.conn
    silent = code in ("H15", "H18", "H27", "H28") or ex.response_started
    if silent:
        # The client has part of a response, or is gone, or idle: only closing tells.
        ex.status = status
        ex.record_line(code, cause=cause, sock=sock)
        if code in ("H27", "H28"):
            client.abort()
        else:
            client.close()  # flush what the client was sent, then end it
        ex.finish()
        return
    ex.status = status
    ex.record_line(code, cause=cause, sock=sock)
    _write_page(ex, status, pages.page_for(code))
    ex.answered()


def respond(ex: Exchange, status: int, page: pages.Page) -> None:
    """The router's own answer when there is no app to speak of (unknown host)."""
    ex.status = status
    ex.logged = True  # no app, so no log stream to put a line in
    _write_page(ex, status, page)
    ex.answered()


def redirect(ex: Exchange, location: bytes) -> None:
    """308 to the HTTPS address (a platform host asked over plain HTTP); no line."""
    ex.status = 308
    ex.logged = True
    close = ex.close_after or not ex.keep_alive or not ex.request_complete or ex.conn.closing
    ex.close_after = close
    ex.response_started = True
    ex.conn.write(
        b"HTTP/1.1 308 Permanent Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n"
        b"Connection: %s\r\nX-Request-Id: %s\r\n\r\n"
        % (location, b"close" if close else b"keep-alive", ex.request_id.encode())
    )
    ex.answered()


def check_timeouts(ex: Exchange, now: float) -> None:
    """Called by the sweeper (server.py), through the client connection, every tick."""
    config = ex.state.config
    phase = ex.phase
    if phase == HELD:
        if now - ex.received_at > config.boot_timeout:
            fail(ex, "H20")
    elif phase == QUEUED:
        if now - ex.received_at > config.request_timeout:
            fail(ex, "H12")
    elif phase == SENT:
        if ex.request_complete:
            if now - ex.sent_at > config.request_timeout:
                fail(ex, "H12")
        elif now - _last_io(ex) > config.idle_timeout:
            fail(ex, "H28")
    elif phase in (STREAMING, TUNNEL, ANSWERED) and now - _last_io(ex) > config.idle_timeout:
        if phase == STREAMING:
            # Silence while the client is not draining is the client's doing.
            if ex.conn.write_paused:
                fail(ex, "H28")
            else:
                fail(ex, "H15")
        else:
            if ex.backend is not None:
                ex.backend.close()
                ex.backend = None
            ex.conn.abort()
            ex.finish()


def _last_io(ex: Exchange) -> float:
    backend = ex.backend
    last = ex.conn.last_io
    if backend is not None and backend.last_io > last:
        return backend.last_io
    return last


def _write_page(ex: Exchange, status: int, page: pages.Page) -> None:
    # Without the whole request read, the connection cannot carry another one: the
    # rest of the body is discarded, then the connection closes.
    close = (
        ex.close_after
        or not ex.keep_alive
        or not ex.request_complete
        or ex.upgrade
        or ex.conn.closing
    )
    ex.close_after = close
    if not ex.request_complete and ex.head.expect is not None and not ex.continue_sent:
        ex.conn.broken = True  # the client waits for 100 and sends no body: close now
    ex.response_started = True
    ex.conn.write(
        pages.error_response(status, page, ex.request_id, close=close, head_only=ex.is_head)
    )


def _detach(ex: Exchange, phase: int) -> None:
    """Let go of the dyno, the connect task, the backlog or the hold."""
    backend = ex.backend
    if backend is not None:
        ex.backend = None
        backend.close()
    task = ex.task
    if task is not None:
        ex.task = None
        task.cancel()
    if phase == QUEUED and ex.app is not None:
        with contextlib.suppress(ValueError):
            ex.app.backlog.remove(ex)
    elif phase == HELD:
        ex.state.unhold(ex)
    ex.phase = ANSWERED
