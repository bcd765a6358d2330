"""Where a request goes: Host -> app -> a place on one of its dynos, and the connect.

`dispatch` runs once the head is parsed (and again for requests that were waiting
when a new table arrives). It finds the app in the table, asks the app's balancer
for a place on a dyno and takes a kept-alive connection to it, handing over to
`Exchange.attach`. When that is not possible right away, the request waits:

    QUEUED      every dyno is at its in-flight limit: the app's backlog (H11 when full)
    HELD        no dyno is up, but one is coming (starting, idle: woken here); H20 later
    CONNECTING  no idle connection to the chosen dyno: a task connects, with retries
                on other dynos (H19, H21), or holds while the control plane is away

The common path (a free place and an idle connection) runs synchronously inside
the parser callback: no task, no future, no timer.
"""

from __future__ import annotations

from time import time as _time
from typing import TYPE_CHECKING

from slipway.router import pages
from slipway.router.errors import BackendConnectError
from slipway.router.failures import fail, redirect, respond
from slipway.router.phases import CONNECTING, HELD, QUEUED
from slipway.router.table import ACME_CHALLENGE_PREFIX, AppRoute, AppState

if TYPE_CHECKING:
    from slipway.router.balancer import AppBalancer, DynoSlot
    from slipway.router.exchange import Exchange

_NO_DYNO_CODES = {
    AppState.CRASHED: "H10",
    AppState.NONE: "H14",
    AppState.BLANK: "H81",
    AppState.QUOTA: "H82",
}


def dispatch(ex: Exchange) -> None:
    """Route the request: find the app and a dyno, and send it there if possible."""
    state = ex.state
    head = ex.head
    host = head.host
    table = state.table
    plain = ex.conn.protocol == "http"
    if plain and table.acme is not None and head.url.startswith(ACME_CHALLENGE_PREFIX):
        # HTTP-01: the CA asks any host it validates, before any app sees it.
        hit: tuple[AppRoute, str] | None = (table.acme, table.acme.name)
    else:
        hit = table.resolve(host) if host is not None and head.host_count == 1 else None
    if hit is None:
        respond(ex, 404, pages.Page.NO_SUCH_APP)
        return
    route, ex.host_name = hit
    ex.route = route
    if route.service:
        if plain and route.https_only:
            redirect(ex, _https_location(ex, route))
            return
    else:  # a platform host has no idle timer to feed
        activity = state.reports.activity
        if not activity:  # wake the quiet report loop: a long request is activity too
            state.reports.ready.set()
        activity[route.id] = ex.start_wall
    if route.maintenance:
        fail(ex, "H80")
        return
    app = ex.app = state.balancer.for_app(route)
    slot = app.acquire(state.clock.now) if app.slots else None
    if slot is None:
        _wait(ex, route, app)
        return
    ex.dyno_name = slot.name
    conn = state.pool.take(slot.key)
    if conn is None:
        _connect_later(ex, slot)
        return
    ex.slot = slot
    ex.attach(conn, ex.start_wall)


def _https_location(ex: Exchange, route: AppRoute) -> bytes:
    port = ex.state.https_port
    suffix = b"" if port in (None, 443) else b":%d" % port
    return b"https://" + route.name.encode() + suffix + ex.head.url


def resolve(ex: Exchange) -> AppRoute | None:
    """The app only, for a request refused before routing (its line goes to the app)."""
    head = ex.head
    host = head.host
    if host is None or head.host_count != 1:
        return None
    hit = ex.state.table.resolve(host)
    if hit is None:
        return None
    ex.route, ex.host_name = hit
    return ex.route


def use_slot(ex: Exchange, slot: DynoSlot) -> None:
    """Send the request to the dyno of a place it was given (backlog, or a retry)."""
    ex.dyno_name = slot.name
    conn = ex.state.pool.take(slot.key)
    if conn is None:
        _connect_later(ex, slot)
        return
    ex.slot = slot
    ex.attach(conn, _time())


def _wait(ex: Exchange, route: AppRoute, app: AppBalancer) -> None:
    """No place on a dyno right now: queue, hold for a booting app, or fail."""
    state = ex.state
    if app.slots:
        if app.backlog_full:
            fail(ex, "H11")
        else:
            ex.phase = QUEUED
            app.backlog.append(ex)
        return
    code = _NO_DYNO_CODES.get(route.state)
    if code is not None:
        fail(ex, code)
    elif not state.hold(ex):
        fail(ex, "H11")
    else:
        ex.phase = HELD
        if route.state is AppState.IDLE:
            state.wake(route.id)


def _connect_later(ex: Exchange, slot: DynoSlot) -> None:
    # The connect task owns the place on the dyno until it hands it back.
    ex.phase = CONNECTING
    ex.task = ex.state.loop.create_task(_connect(ex, slot))


async def _connect(ex: Exchange, slot: DynoSlot) -> None:
    state = ex.state
    app = ex.app
    assert app is not None
    started = state.loop.time()
    try:
        conn, slot = await state.pool.connect_any(app, slot, state.release)
    except BackendConnectError as exc:
        ex.task = None
        ex.connect_ms = exc.connect_ms
        ex.dyno_name = exc.dyno
        if not state.control_connected and ex.route is not None and state.hold(ex):
            # The control plane (and the dynos it runs) is restarting: wait for the
            # table it sends when it is back, within the boot-wait budget (H20).
            ex.phase = HELD
            return
        fail(ex, exc.code)
        return
    except Exception as exc:
        ex.task = None
        fail(ex, "H99", exc=exc)
        return
    ex.task = None
    if ex.phase != CONNECTING:  # the client left while we connected
        state.release(app, slot)
        state.pool.give(conn)
        return
    ex.dyno_name = slot.name
    ex.slot = slot
    ex.connect_ms += int((state.loop.time() - started) * 1000)
    ex.attach(conn, _time())
