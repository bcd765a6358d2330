"""Which dyno gets a request: least outstanding requests, ties broken at random.

Heroku's routers pick a dyno at random. With few dynos random choice spreads load
unevenly, and a slow request does not stop more requests landing on the same busy
dyno. Counting in-flight requests per dyno and picking the least loaded keeps
slow requests from piling up on one dyno; breaking ties at random (rather than
by list order) keeps idle dynos equally used and avoids every router of a future
multi-router setup choosing the same "first" dyno.

Each dyno takes at most `max_in_flight_per_dyno` requests at once; beyond that
requests wait in the app's backlog (50 per dyno), and beyond that they get H11.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Protocol

from slipway.router.table import AppRoute, Backend


class BacklogWaiter(Protocol):
    def on_slot(self, slot: DynoSlot) -> None: ...
    def redispatch(self) -> None: ...


class DynoSlot:
    """One dyno's load as this router sees it; survives table updates that keep it."""

    __slots__ = ("host", "in_flight", "key", "name", "port", "quarantined_until")

    def __init__(self, dyno: Backend) -> None:
        self.name = dyno.name
        self.host = dyno.host
        self.port = dyno.port
        self.key = dyno.key
        self.in_flight = 0
        self.quarantined_until = 0.0


class AppBalancer:
    """The dynos of one app, their in-flight counts and the app's backlog."""

    __slots__ = ("app_id", "backlog", "backlog_per_dyno", "limit", "slots")

    def __init__(self, app_id: str, limit: int, backlog_per_dyno: int) -> None:
        self.app_id = app_id
        self.limit = limit
        self.backlog_per_dyno = backlog_per_dyno
        self.slots: list[DynoSlot] = []
        self.backlog: deque[BacklogWaiter] = deque()

    def sync(self, dynos: tuple[Backend, ...]) -> None:
        """Follow a new table, keeping the counters of dynos that are still there."""
        current = {(slot.key, slot.name): slot for slot in self.slots}
        self.slots = [current.get((d.key, d.name)) or DynoSlot(d) for d in dynos]

    def acquire(self, now: float, exclude: frozenset[str] = frozenset()) -> DynoSlot | None:
        """Take a place on the least loaded dyno, or None when every dyno is full.

        Quarantined dynos are only chosen when nothing else is left: a dyno that
        failed a connect a moment ago is likely to fail again, but trying it beats
        failing a request that could have been served.
        """
        limit = self.limit
        best: DynoSlot | None = None
        best_load = limit
        ties = 0
        fallback: DynoSlot | None = None
        for slot in self.slots:
            load = slot.in_flight
            if load >= limit or (exclude and slot.key in exclude):
                continue
            if slot.quarantined_until > now:
                if fallback is None or slot.quarantined_until < fallback.quarantined_until:
                    fallback = slot
                continue
            if load < best_load:
                best, best_load, ties = slot, load, 1
            elif load == best_load:
                # Reservoir sampling: each of the k tied dynos ends up chosen with p=1/k.
                ties += 1
                if random.random() * ties < 1.0:
                    best = slot
        if best is None:
            best = fallback
        if best is not None:
            best.in_flight += 1
        return best

    def release(self, slot: DynoSlot) -> None:
        slot.in_flight -= 1

    @property
    def backlog_full(self) -> bool:
        return len(self.backlog) >= self.backlog_per_dyno * len(self.slots)

    def next_waiters(self, now: float) -> list[tuple[BacklogWaiter, DynoSlot]]:
        """Hand free places to waiting requests, oldest first."""
        handed: list[tuple[BacklogWaiter, DynoSlot]] = []
        while self.backlog:
            slot = self.acquire(now)
            if slot is None:
                break
            handed.append((self.backlog.popleft(), slot))
        return handed


class Balancer:
    """Every app's AppBalancer, kept in step with the route table."""

    __slots__ = ("_apps", "backlog_per_dyno", "limit")

    def __init__(self, limit: int, backlog_per_dyno: int) -> None:
        self.limit = limit
        self.backlog_per_dyno = backlog_per_dyno
        self._apps: dict[str, AppBalancer] = {}

    def for_app(self, route: AppRoute) -> AppBalancer:
        app = self._apps.get(route.id)
        if app is None:
            app = AppBalancer(route.id, self.limit, self.backlog_per_dyno)
            app.sync(route.dynos)
            self._apps[route.id] = app
        return app

    def sync(self, routes: tuple[AppRoute, ...]) -> list[AppBalancer]:
        """Follow a new table; return the balancers of apps that are gone."""
        wanted = {route.id: route for route in routes}
        gone = [app for app_id, app in self._apps.items() if app_id not in wanted]
        for app in gone:
            del self._apps[app.app_id]
        for route in routes:
            self.for_app(route).sync(route.dynos)
        return gone

    def apps(self) -> list[AppBalancer]:
        return list(self._apps.values())
