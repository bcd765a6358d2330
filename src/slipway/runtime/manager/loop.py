"""`DynoManager`: the loop thread, and the thread-safe methods the rest of the platform calls.

The manager runs on one dedicated thread with its own asyncio loop, which
lives as long as the server (every dyno is spawned from it). Other threads
(API requests, the git hook, the router's feed) call the methods below; they
hop onto the loop, where the parts of this package do the work. Every
`options.tick` seconds the loop runs one round: load what changed, check the
timers, re-plan what needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from slipway.runtime.driver import Driver, Process
from slipway.runtime.errors import DynoNotFound
from slipway.runtime.manager.health import HealthTimers
from slipway.runtime.manager.lifecycle import DynoLifecycle
from slipway.runtime.manager.one_off import OneOffs
from slipway.runtime.manager.options import RuntimeHooks, RuntimeOptions
from slipway.runtime.manager.output import OutputCapture
from slipway.runtime.manager.reconcile import Reconciler
from slipway.runtime.manager.records import (
    DynoInfo,
    DynoSample,
    OneOffRequest,
    ReleaseOutcome,
    RunningApp,
    RunningDyno,
)
from slipway.runtime.manager.routes import route_table
from slipway.runtime.manager.state import LoopState
from slipway.runtime.manager.waiters import ReleaseWaiters, Waiter
from slipway.runtime.planner import DynoState
from slipway.runtime.rendezvous import Rendezvous

log = logging.getLogger("slipway.runtime")
T = TypeVar("T")


class DynoManager:
    def __init__(
        self,
        driver: Driver,
        hooks: RuntimeHooks,
        options: RuntimeOptions | None = None,
        *,
        rendezvous: Rendezvous | None = None,
        rendezvous_bind: tuple[str, int] = ("127.0.0.1", 0),
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.driver = driver
        self.hooks = hooks
        self.options = options or RuntimeOptions()
        self.rendezvous = rendezvous
        self.rendezvous_bind = rendezvous_bind
        self.now = monotonic
        self.wall = wall
        self.rng = rng or random.SystemRandom()
        self._state = state = LoopState(
            driver, hooks, self.options, rendezvous, monotonic, wall, self.rng
        )
        waiters = ReleaseWaiters()
        output = OutputCapture(state, waiters)
        self._lifecycle = lifecycle = DynoLifecycle(state, output)
        self._one_offs = one_offs = OneOffs(state, lifecycle)
        self._health = HealthTimers(state, lifecycle.stop)
        self._reconciler = Reconciler(state, lifecycle, one_offs, waiters)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        # Set once every app known at start has been loaded (see `wait_loaded`).
        self.loaded = self._reconciler.loaded

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._state.loop

    @property
    def route_listeners(self) -> list[Callable[[], None]]:
        """Called (on the loop's thread) whenever the route table may have changed."""
        return self._state.route_listeners

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dyno-manager", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        self.call(self._start_rendezvous)
        app_ids = self.hooks.app_ids()
        self._reconciler.expect(app_ids)
        for app_id in app_ids:
            self.converge(app_id)

    def _run(self) -> None:
        loop = self._state.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.call_soon(self._ready.set)
        self._state.spawn(self._ticker())
        loop.run_forever()

    async def _start_rendezvous(self) -> None:
        if self.rendezvous is not None:
            await self.rendezvous.start(*self.rendezvous_bind)

    def close(self, timeout: float | None = None) -> None:
        """Stop every dyno (SIGTERM, then SIGKILL after the grace period) and the loop."""
        loop = self.loop
        if loop is None:
            return
        with contextlib.suppress(Exception):
            self.call(self._shutdown, timeout=(timeout or self.options.stop_timeout) + 10)
        loop.call_soon_threadsafe(self._stop_loop)
        if self._thread is not None:
            self._thread.join(10)

    def _stop_loop(self) -> None:
        loop = self._state.running_loop
        for task in asyncio.all_tasks(loop):
            task.cancel()
        # Let the cancellations run before the loop stops, so nothing is left pending.
        loop.call_soon(loop.stop)

    async def _shutdown(self) -> None:
        self._state.closing = True
        everyone = [d for a in self._state.apps.values() for d in a.everyone()]
        for dyno in everyone:
            if dyno.proc is not None and not dyno.stopping:
                self._lifecycle.stop(dyno, "shutdown")
        deadline = self.now() + self.options.stop_timeout
        while any(d.proc is not None for d in everyone) and self.now() < deadline:
            await asyncio.sleep(0.05)
        for dyno in everyone:
            if dyno.proc is not None:
                dyno.proc.kill()
        await asyncio.sleep(0.1)
        for dyno in everyone:
            if dyno.proc is not None:
                self._lifecycle.reap(dyno)
        if self.rendezvous is not None:
            await self.rendezvous.close()

    # -- thread-safe entry points ------------------------------------------------------

    def call(self, factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30) -> T:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(factory(), self.loop).result(timeout)

    def tick(self) -> None:
        """Run one round of the loop's checks now, without waiting for the next one."""

        async def once() -> None:
            self._tick()

        self.call(once)

    def converge(self, app_id: str) -> None:
        """Something about the app changed in the store: reload it and re-plan."""
        if self.loop is None:
            return
        self.loop.call_soon_threadsafe(self._reconciler.mark_reload, app_id)

    def forget(self, app_id: str) -> None:
        """The app was destroyed: stop everything, drop its unpacked slugs."""
        if self.loop is None:
            return
        self.loop.call_soon_threadsafe(self._reconciler.forget, app_id)

    def dynos(self, app_id: str) -> list[DynoInfo]:
        async def read() -> list[DynoInfo]:
            app = self._state.apps.get(app_id)
            if app is None:
                return []
            everyone = sorted(
                (d for d in app.everyone() if d.state != DynoState.COMPLETE),
                key=lambda d: (d.type, d.index, d.created_at),
            )
            return [d.info() for d in everyone]

        return self.call(read)

    def samples(self) -> list[DynoSample]:
        """Every up or starting dyno's memory and CPU, read from its cgroup (metrics)."""

        async def read() -> list[tuple[RunningDyno, Process]]:
            return [
                (d, d.proc)
                for app in self._state.apps.values()
                for d in app.everyone()
                if d.proc is not None and d.state in (DynoState.UP, DynoState.STARTING)
            ]

        found = []
        for dyno, proc in self.call(read):
            usage = proc.usage()
            if usage is None:
                continue
            found.append(
                DynoSample(
                    dyno.app_id,
                    dyno.name,
                    dyno.type,
                    float(dyno.memory_mb),
                    usage.rss_bytes / 2**20,
                    usage.swap_bytes / 2**20,
                    usage.cpu_seconds,
                )
            )
        return found

    def restart(self, app_id: str, *, ptype: str | None = None, name: str | None = None) -> None:
        async def act() -> None:
            app = self._state.app(app_id)
            if name is not None:
                self._restart_named(app, name)
            else:
                self._restart_types(app, ptype)
            self._state.dirty.add(app_id)

        self.call(act)

    def _restart_named(self, app: RunningApp, name: str) -> None:
        matches = [d for d in app.everyone() if d.name == name]
        if not matches:
            raise DynoNotFound(f"Couldn't find that dyno ({name}).")
        for dyno in matches:
            if dyno.one_off:
                self._lifecycle.stop(dyno, "restart")
            else:
                dyno.outdated = True
                self._state.log(dyno, "Restarting")

    def _restart_types(self, app: RunningApp, ptype: str | None) -> None:
        types = {ptype} if ptype else {d.type for d in app.dynos} | set(app.restarts)
        if app.spec is not None and ptype is None:
            types |= {p.type for p in app.spec.formation}
        for kind in types:
            app.restarts[kind] = app.restarts.get(kind, 0) + 1
        for dyno in app.dynos:
            if dyno.type in types and not dyno.stopping:
                self._state.log(dyno, "Restarting")
                dyno.crash_count = 0

    def stop(self, app_id: str, *, ptype: str | None = None, name: str | None = None) -> None:
        async def act() -> None:
            app = self._state.app(app_id)
            everyone = app.everyone()
            if name is not None:
                targets = [d for d in everyone if d.name == name]
                if not targets:
                    raise DynoNotFound(f"Couldn't find that dyno ({name}).")
            else:
                targets = [d for d in everyone if d.type == ptype]
            for dyno in targets:
                if not dyno.stopping:
                    self._lifecycle.stop(dyno, "stop")
            self._state.dirty.add(app_id)

        self.call(act)

    def run(self, app_id: str, request: OneOffRequest) -> DynoInfo:
        async def act() -> DynoInfo:
            return await self._one_offs.run(app_id, request)

        return self.call(act)

    def activity(self, last_requests: dict[str, float]) -> None:
        """The router saw requests for these apps (app id -> unix time of the last one)."""
        if self.loop is not None:
            for app_id, when in last_requests.items():
                self.loop.call_soon_threadsafe(self._health.activity, app_id, when)

    def wake(self, app_id: str) -> None:
        """A request arrived for a sleeping app: start its dynos again."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._health.wake, app_id)

    def route_table(self) -> list[dict[str, Any]]:
        """For the router: each app's up web dynos, or why there are none."""

        async def read() -> list[dict[str, Any]]:
            return route_table(self._state.apps)

        return self.call(read)

    def add_route_listener(self, listener: Callable[[], None]) -> None:
        self.route_listeners.append(listener)

    def remove_route_listener(self, listener: Callable[[], None]) -> None:
        self.route_listeners.remove(listener)

    def wait_loaded(self, timeout: float) -> bool:
        """Block until every app known at start has been loaded (or `timeout` passes)."""
        return self.loaded.wait(timeout)

    def wait_release(
        self,
        app_id: str,
        version: int,
        on_line: Callable[[str], None],
        timeout: float | None = None,
    ) -> ReleaseOutcome:
        """Block (in a worker thread) until release `version` is promoted or fails.

        Without a timeout, as long as a release can take: its release phase, the boot
        of its web dynos, and a margin for the rollover."""
        if timeout is None:
            timeout = self.options.release_timeout + self.options.boot_timeout + 120
        waiter = Waiter(version)
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._reconciler.add_waiter, app_id, waiter)
        return waiter.wait(on_line, timeout)

    # -- the loop's round ----------------------------------------------------------------

    async def _ticker(self) -> None:
        while True:
            try:
                self._tick()
            except Exception:
                log.exception("dyno manager tick failed")
            await asyncio.sleep(self.options.tick)

    def _tick(self) -> None:
        self._reconciler.start_loads()
        self._health.check()
        self._reconciler.reconcile_dirty()
