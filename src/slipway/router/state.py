"""RouterState: what every connection of one router shares.

The current route table, the balancer, the dyno connection pool, the held
requests, the report queue and the set of client connections. Swapping in a new
table happens here, in one call, so no request ever sees half of one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from slipway.router.balancer import AppBalancer, Balancer, DynoSlot
from slipway.router.clock import Clock
from slipway.router.config import RouterConfig
from slipway.router.pool import ConnectionPool
from slipway.router.reports import ReportQueue
from slipway.router.table import AppState, RouteTable

if TYPE_CHECKING:
    from slipway.router.client import ClientConnection
    from slipway.router.exchange import Exchange


class RouterState:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        config: RouterConfig,
        reports: ReportQueue,
        wake: Callable[[str], None],
    ) -> None:
        self.loop = loop
        self.clock = Clock(loop)
        self.config = config
        self.reports = reports
        self.wake = wake
        self.table = RouteTable.empty()
        self.balancer = Balancer(config.max_in_flight_per_dyno, config.backlog_per_dyno)
        self.pool = ConnectionPool(loop, config, self.clock)
        self.connections: set[ClientConnection] = set()
        # Requests waiting for an app with no up dyno yet (idle or starting), by app id.
        self.holds: dict[str, list[Exchange]] = {}
        # False while the control plane's stream is down: its dynos may be restarting
        # with it, so a refused connection waits for the next table instead of failing.
        self.control_connected = True
        # The HTTPS port bound, for redirects of platform hosts from plain HTTP.
        self.https_port: int | None = None
        # Set when a client connects to an idle router: the timeout sweeper sleeps on
        # it instead of ticking while there is nothing to time.
        self.busy = asyncio.Event()

    def apply_table(self, table: RouteTable) -> None:
        """Swap in a new table and move waiting requests along with it."""
        self.table = table
        routes = table.forwarded
        gone = self.balancer.sync(routes)
        self.pool.prune({dyno.key for app in routes for dyno in app.dynos})
        now = self.clock.tick()
        call_soon = self.loop.call_soon
        for app in self.balancer.apps():
            for waiter, slot in app.next_waiters(now):
                call_soon(waiter.on_slot, slot)
            if not app.slots:
                gone.append(app)  # its queued requests must be routed afresh
        for app in gone:
            waiters, app.backlog = list(app.backlog), type(app.backlog)()
            for waiter in waiters:
                call_soon(waiter.redispatch)
        holds, self.holds = self.holds, {}
        for held in holds.values():
            for exchange in held:
                call_soon(exchange.redispatch)

    def hold(self, exchange: Exchange) -> bool:
        """Park a request until its app has a dyno; False when too many already wait."""
        assert exchange.route is not None
        held = self.holds.setdefault(exchange.route.id, [])
        if len(held) >= self.config.max_held_per_app:
            return False
        held.append(exchange)
        return True

    def unhold(self, exchange: Exchange) -> None:
        if exchange.route is not None:
            held = self.holds.get(exchange.route.id)
            if held is not None and exchange in held:
                held.remove(exchange)

    def release(self, app: AppBalancer, slot: DynoSlot) -> None:
        """A request let go of its place on a dyno: the oldest queued one gets it."""
        app.release(slot)
        if app.backlog:
            self.hand_over(app)

    def hand_over(self, app: AppBalancer) -> None:
        for waiter, free in app.next_waiters(self.clock.now):
            # Later, not now: this runs inside the finishing exchange's callbacks.
            self.loop.call_soon(waiter.on_slot, free)

    def rewake(self) -> None:
        """Ask again for apps that still sleep while requests wait (a lost wake call)."""
        for app_id, held in self.holds.items():
            route = self.table.app(app_id)
            if held and route is not None and route.state is AppState.IDLE:
                self.wake(app_id)
