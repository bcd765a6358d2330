"""What the dyno manager's parts share: the records, the clock, and a few primitives.

Everything here is touched on the manager's loop thread only, so none of it
needs a lock. The clock is the constructor's (`monotonic` for timers, `wall`
for timestamps and for the unix times the router reports), which is what lets
a test script time instead of waiting for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

from slipway.runtime.driver import Driver
from slipway.runtime.manager.options import RuntimeHooks, RuntimeOptions
from slipway.runtime.manager.records import RunningApp, RunningDyno
from slipway.runtime.planner import DynoState
from slipway.runtime.rendezvous import Rendezvous

log = logging.getLogger("slipway.runtime")


class LoopState:
    def __init__(
        self,
        driver: Driver,
        hooks: RuntimeHooks,
        options: RuntimeOptions,
        rendezvous: Rendezvous | None,
        monotonic: Callable[[], float],
        wall: Callable[[], dt.datetime],
        rng: random.Random,
    ) -> None:
        self.driver = driver
        self.hooks = hooks
        self.options = options
        self.rendezvous = rendezvous
        self.now = monotonic
        self.wall = wall
        self.rng = rng
        self.loop: asyncio.AbstractEventLoop | None = None
        self.apps: dict[str, RunningApp] = {}
        # Apps to re-plan at the end of this tick.
        self.dirty: set[str] = set()
        self.closing = False
        self.route_listeners: list[Callable[[], None]] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    @property
    def running_loop(self) -> asyncio.AbstractEventLoop:
        assert self.loop is not None
        return self.loop

    def unix_now(self) -> float:
        """Unix time from the wall clock: the router's activity reports use it."""
        return self.wall().timestamp()

    def app(self, app_id: str) -> RunningApp:
        app = self.apps.get(app_id)
        if app is None:
            app = self.apps[app_id] = RunningApp(app_id)
        return app

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self.running_loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dyno manager task failed", exc_info=task.exception())

    def log(self, dyno: RunningDyno, message: str, source: str = "heroku") -> None:
        self.hooks.publish(dyno.app_id, source, dyno.name, message)

    def set_state(self, dyno: RunningDyno, state: DynoState) -> None:
        if dyno.state == state:
            return
        self.log(dyno, f"State changed from {dyno.state.value} to {state.value}")
        old = dyno.state
        dyno.state = state
        dyno.updated_at = self.wall()
        if dyno.type == "web" and DynoState.UP in (old, state):
            self.notify_routes()
        if dyno.type == "web" and state == DynoState.UP:
            app = self.apps.get(dyno.app_id)
            if app is not None:
                app.last_request = max(app.last_request, self.unix_now())

    def remove(self, dyno: RunningDyno) -> None:
        app = self.apps.get(dyno.app_id)
        if app is None:
            return
        for group in (app.dynos, app.one_offs):
            if dyno in group:
                group.remove(dyno)
        self.dirty.add(dyno.app_id)

    def notify_routes(self) -> None:
        for listener in list(self.route_listeners):
            try:
                listener()
            except Exception:
                log.exception("route listener failed")
