"""The dyno manager: keeps every app's dynos converged on its release and formation.

It runs on one dedicated thread with its own asyncio loop. Every dyno is
spawned from that thread, which lives as long as the server: bubblewrap's
--die-with-parent ties each dyno to it, so no dyno outlives a `kill -9` of the
server. Other threads (API requests, the git hook) talk to it through the
thread-safe methods at the bottom, which hop onto the loop.

The loop gathers facts (exits, ports bound, timers, memory), hands them to the
pure `planner.plan`, and carries the steps out. State transitions are logged
to the app's Logplex stream with Heroku's `heroku[web.1]:` wording.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import queue
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from slipway.runtime.env import dyno_env
from slipway.runtime.errors import DynoError, DynoNotFound, DynoRejected
from slipway.runtime.local import DynoProcess, LaunchRequest, LocalDriver, free_port
from slipway.runtime.planner import (
    Desired,
    DynoFacts,
    DynoState,
    Fail,
    Generation,
    Promote,
    Revive,
    RunReleasePhase,
    Start,
    Step,
    Stop,
    plan,
)
from slipway.runtime.rendezvous import Rendezvous
from slipway.runtime.specs import AppSpec, ReleaseSpec

log = logging.getLogger("slipway.runtime")
T = TypeVar("T")

MAX_LINE = 10000


class RuntimeHooks(Protocol):
    """What the dyno manager needs from the rest of the platform (wired in server.py)."""

    def load_app(self, app_id: str) -> AppSpec | None: ...

    def app_ids(self) -> list[str]: ...

    def settle(self, app_id: str, version: int, ok: bool, reason: str) -> dict[int, str]:
        """Mark a pending release succeeded or failed; returns every version it settled."""
        ...

    def publish(self, app_id: str, source: str, process: str, message: str) -> None: ...

    def eco_seconds(self, app_id: str, seconds: float) -> None: ...

    def app_stub(self, app_id: str) -> tuple[str, bool, tuple[str, ...]] | None:
        """(name, maintenance, custom domains) of an app with nothing to run yet."""
        ...


@dataclass
class RuntimeOptions:
    boot_timeout: float = 60.0
    stop_timeout: float = 30.0
    # First crash: restart at once. Then base, 2x base, 4x base ... up to the cap.
    backoff_base: float = 10.0
    backoff_cap: float = 20 * 60.0
    # A dyno that ran this long before crashing starts its back-off afresh.
    crash_reset_after: float = 10 * 60.0
    # Daily cycling: interval plus up to `cycle_jitter` of random delay; 0 turns it off.
    cycle_interval: float = 24 * 3600.0
    cycle_jitter: float = 216 * 60.0
    release_timeout: float = 3600.0
    attach_timeout: float = 60.0
    one_off_ttl: float = 24 * 3600.0
    memory_interval: float = 2.0
    r14_interval: float = 20.0
    tick: float = 0.05
    # Output beyond this many lines per second per dyno is dropped and counted.
    lines_per_second: int = 2000
    line_burst: int = 10000
    eco_report_interval: float = 60.0
    # A web dyno leaves the route table this long before its SIGTERM, so requests the
    # router sent it just before the table moved are not cut off.
    drain_delay: float = 1.0
    # Apps that sleep (eco, or their own choice) idle after this long without a request.
    idle_after: float = 30 * 60.0


@dataclass(frozen=True)
class DynoInfo:
    id: str
    app_id: str
    name: str
    type: str
    command: str
    size: str
    state: str
    release_version: int
    attach_url: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    port: int | None


@dataclass(frozen=True)
class ReleaseOutcome:
    ok: bool
    message: str


@dataclass(frozen=True)
class OneOffRequest:
    command: str
    attach: bool
    size: str
    memory_mb: int
    env: dict[str, str]
    tty: bool
    type: str = "run"
    time_to_live: float | None = None


@dataclass
class _Waiter:
    version: int
    events: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)


@dataclass
class _Bucket:
    """Token bucket for one dyno's output: a flood costs its own lines, nobody else's."""

    rate: float
    burst: float
    tokens: float
    stamp: float
    dropped: int = 0
    dropped_since: dt.datetime | None = None

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class Dyno:
    id: str
    app_id: str
    type: str
    index: int
    generation: Generation
    command: str
    size: str
    memory_mb: int
    release: ReleaseSpec
    created_at: dt.datetime
    updated_at: dt.datetime
    state: DynoState = DynoState.STARTING
    one_off: bool = False
    port: int | None = None
    proc: DynoProcess | None = None
    started: float = 0.0
    ever_up: bool = False
    stopping: bool = False
    stop_reason: str = ""
    kill_at: float | None = None
    crash_count: int = 0
    retry_at: float | None = None
    boot_failed: bool = False
    failure: str = ""
    outdated: bool = False
    cycle_at: float | None = None
    last_r14: float = 0.0
    oom_seen: int = 0
    r10: bool = False
    attach_url: str | None = None
    env_extra: dict[str, str] = field(default_factory=dict)
    tty: bool = False
    partial: bytes = b""
    bucket: _Bucket | None = None
    # One-off dynos: who waits for the output, and for the end.
    on_output: Callable[[bytes], None] | None = None
    on_exit: Callable[[int], None] | None = None
    deadline: float | None = None
    phase_version: int | None = None

    @property
    def name(self) -> str:
        return f"{self.type}.{self.index}"

    def facts(self, now: float) -> DynoFacts:
        return DynoFacts(
            id=self.id,
            type=self.type,
            index=self.index,
            generation=self.generation,
            state=self.state,
            stopping=self.stopping,
            boot_failed=self.boot_failed,
            failure=self.failure,
            retry_due=self.retry_at is not None and now >= self.retry_at,
            outdated=self.outdated,
        )


@dataclass
class _App:
    app_id: str
    spec: AppSpec | None = None
    loaded: bool = False
    dynos: list[Dyno] = field(default_factory=list)
    one_offs: list[Dyno] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=dict)
    # Release phase per version: "running", "done".
    phases: dict[int, str] = field(default_factory=dict)
    settling: int | None = None
    # Promoted here, not yet recorded in the store: the router moves to it first, so
    # by the time the release reads `succeeded` no request goes to the old dynos.
    promoted: int | None = None
    # An app with no release to run: still routed (to the "blank app" page).
    stub: tuple[str, bool, tuple[str, ...]] | None = None
    asleep: bool = False
    # Why it sleeps: "idle" (no requests) or "quota" (eco hours used up).
    asleep_for: str = ""
    waking: bool = False
    last_request: float = 0.0
    # Run once the next spec load is done (release waiters, after routes moved).
    after_load: list[Callable[[], None]] = field(default_factory=list)


class DynoManager:
    def __init__(
        self,
        driver: LocalDriver,
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
        self.loop: asyncio.AbstractEventLoop | None = None
        self.route_listeners: list[Callable[[], None]] = []
        self._apps: dict[str, _App] = {}
        self._dirty: set[str] = set()
        self._reload: set[str] = set()
        self._loading: set[str] = set()
        self._waiters: dict[str, list[_Waiter]] = {}
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._closing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_memory = 0.0
        self._last_eco = 0.0
        # Set once every app known at start has been loaded: the router's first table
        # must not be an empty one (that would answer 404 for every app).
        self.loaded = threading.Event()
        self._initial: set[str] = set()

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dyno-manager", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        self.call(self._start_rendezvous)
        app_ids = self.hooks.app_ids()
        self._initial = set(app_ids)
        if not app_ids:
            self.loaded.set()
        for app_id in app_ids:
            self.converge(app_id)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self._spawn_task(self._ticker())
        self.loop.run_forever()

    async def _start_rendezvous(self) -> None:
        if self.rendezvous is not None:
            await self.rendezvous.start(*self.rendezvous_bind)

    def close(self, timeout: float | None = None) -> None:
        """Stop every dyno (SIGTERM, then SIGKILL after the grace period) and the loop."""
        if self.loop is None:
            return
        with contextlib.suppress(Exception):
            self.call(self._shutdown, timeout=(timeout or self.options.stop_timeout) + 10)
        self.loop.call_soon_threadsafe(self._stop_loop)
        if self._thread is not None:
            self._thread.join(10)

    def _stop_loop(self) -> None:
        assert self.loop is not None
        for task in asyncio.all_tasks(self.loop):
            task.cancel()
        # Let the cancellations run before the loop stops, so nothing is left pending.
        self.loop.call_soon(self.loop.stop)

    async def _shutdown(self) -> None:
        self._closing = True
        everyone = [d for a in self._apps.values() for d in (*a.dynos, *a.one_offs)]
        for dyno in everyone:
            if dyno.proc is not None and not dyno.stopping:
                self._stop(dyno, "shutdown")
        deadline = self.now() + self.options.stop_timeout
        while any(d.proc is not None for d in everyone) and self.now() < deadline:
            await asyncio.sleep(0.05)
        for dyno in everyone:
            if dyno.proc is not None:
                dyno.proc.kill()
        await asyncio.sleep(0.1)
        for dyno in everyone:
            if dyno.proc is not None:
                self._reap(dyno)
        if self.rendezvous is not None:
            await self.rendezvous.close()

    # -- thread-safe entry points ------------------------------------------------------

    def call(self, factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30) -> T:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(factory(), self.loop).result(timeout)

    def converge(self, app_id: str) -> None:
        """Something about the app changed in the store: reload it and re-plan."""
        if self.loop is None:
            return
        self.loop.call_soon_threadsafe(self._mark_reload, app_id)

    def forget(self, app_id: str) -> None:
        """The app was destroyed: stop everything, drop its unpacked slugs."""
        if self.loop is None:
            return
        self.loop.call_soon_threadsafe(self._forget, app_id)

    def dynos(self, app_id: str) -> list[DynoInfo]:
        async def read() -> list[DynoInfo]:
            app = self._apps.get(app_id)
            if app is None:
                return []
            everyone = sorted(
                (d for d in (*app.dynos, *app.one_offs) if d.state != DynoState.COMPLETE),
                key=lambda d: (d.type, d.index, d.created_at),
            )
            return [self._info(d) for d in everyone]

        return self.call(read)

    def restart(self, app_id: str, *, ptype: str | None = None, name: str | None = None) -> None:
        async def act() -> None:
            app = self._app(app_id)
            if name is not None:
                matches = [d for d in (*app.dynos, *app.one_offs) if d.name == name]
                if not matches:
                    raise DynoNotFound(f"Couldn't find that dyno ({name}).")
                for dyno in matches:
                    if dyno.one_off:
                        self._stop(dyno, "restart")
                    else:
                        dyno.outdated = True
                        self._log(dyno, "Restarting")
            else:
                types = {ptype} if ptype else {d.type for d in app.dynos} | set(app.restarts)
                if app.spec is not None and ptype is None:
                    types |= {p.type for p in app.spec.formation}
                for kind in types:
                    app.restarts[kind] = app.restarts.get(kind, 0) + 1
                for dyno in app.dynos:
                    if dyno.type in types and not dyno.stopping:
                        self._log(dyno, "Restarting")
                        dyno.crash_count = 0
            self._dirty.add(app_id)

        self.call(act)

    def stop(self, app_id: str, *, ptype: str | None = None, name: str | None = None) -> None:
        async def act() -> None:
            app = self._app(app_id)
            everyone = [*app.dynos, *app.one_offs]
            if name is not None:
                targets = [d for d in everyone if d.name == name]
                if not targets:
                    raise DynoNotFound(f"Couldn't find that dyno ({name}).")
            else:
                targets = [d for d in everyone if d.type == ptype]
            for dyno in targets:
                if not dyno.stopping:
                    self._stop(dyno, "stop")
            self._dirty.add(app_id)

        self.call(act)

    def run(self, app_id: str, request: OneOffRequest) -> DynoInfo:
        async def act() -> DynoInfo:
            return await self._run_one_off(app_id, request)

        return self.call(act)

    def activity(self, last_requests: dict[str, float]) -> None:
        """The router saw requests for these apps (app id -> unix time of the last one)."""
        if self.loop is not None:
            for app_id, when in last_requests.items():
                self.loop.call_soon_threadsafe(self._activity, app_id, when)

    def wake(self, app_id: str) -> None:
        """A request arrived for a sleeping app: start its dynos again."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._wake, app_id)

    def route_table(self) -> list[dict[str, Any]]:
        """For the router: each app's up web dynos, or why there are none."""

        async def read() -> list[dict[str, Any]]:
            table = []
            for app_id, app in self._apps.items():
                if app.spec is None:
                    if app.stub is not None:
                        name, maintenance, domains = app.stub
                        table.append(
                            {
                                "id": app_id,
                                "name": name,
                                "maintenance": maintenance,
                                "domains": list(domains),
                                "state": "blank",
                                "dynos": [],
                            }
                        )
                    continue
                state, dynos = self._route(app)
                table.append(
                    {
                        "id": app_id,
                        "name": app.spec.app_name,
                        "maintenance": app.spec.maintenance,
                        "domains": list(app.spec.domains),
                        "state": state,
                        "dynos": [
                            {"name": name, "host": "127.0.0.1", "port": port}
                            for name, port in dynos
                        ],
                    }
                )
            return table

        return self.call(read)

    def wait_release(
        self, app_id: str, version: int, on_line: Callable[[str], None], timeout: float
    ) -> ReleaseOutcome:
        """Block (in a worker thread) until release `version` is promoted or fails."""
        waiter = _Waiter(version)
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._add_waiter, app_id, waiter)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ReleaseOutcome(False, "timed out waiting for the new dynos")
            try:
                kind, value = waiter.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if kind == "line":
                on_line(value)
            else:
                assert isinstance(value, ReleaseOutcome)
                return value

    # -- loop internals --------------------------------------------------------------

    def _spawn_task(self, coro: Coroutine[Any, Any, Any]) -> None:
        assert self.loop is not None
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dyno manager task failed", exc_info=task.exception())

    def _app(self, app_id: str) -> _App:
        app = self._apps.get(app_id)
        if app is None:
            app = self._apps[app_id] = _App(app_id)
        return app

    def _add_waiter(self, app_id: str, waiter: _Waiter) -> None:
        self._waiters.setdefault(app_id, []).append(waiter)
        self._mark_reload(app_id)

    def _resolve_waiters(self, app_id: str, settled: dict[int, str], reason: str) -> None:
        waiters = self._waiters.get(app_id, [])
        for waiter in list(waiters):
            status = settled.get(waiter.version)
            if status is None:
                continue
            waiters.remove(waiter)
            message = reason if status != "succeeded" else ""
            waiter.events.put(("done", ReleaseOutcome(status == "succeeded", message)))

    def _tell_waiters(self, app_id: str, version: int, line: str) -> None:
        for waiter in self._waiters.get(app_id, []):
            if waiter.version == version:
                waiter.events.put(("line", line))

    def _mark_reload(self, app_id: str) -> None:
        self._app(app_id)
        self._reload.add(app_id)

    def _forget(self, app_id: str) -> None:
        app = self._apps.get(app_id)
        if app is None:
            return
        app.spec = None
        app.loaded = True
        for dyno in [*app.dynos, *app.one_offs]:
            if not dyno.stopping:
                self._stop(dyno, "destroy")
        self._spawn_task(self._forget_later(app_id))

    async def _forget_later(self, app_id: str) -> None:
        current = self._apps.get(app_id)
        while current is not None and (current.dynos or current.one_offs):
            await asyncio.sleep(0.1)
        self._apps.pop(app_id, None)
        assert self.loop is not None
        await self.loop.run_in_executor(None, self.driver.forget_app, app_id)
        self._notify_routes()

    async def _ticker(self) -> None:
        while True:
            try:
                self._tick()
            except Exception:
                log.exception("dyno manager tick failed")
            await asyncio.sleep(self.options.tick)

    def _tick(self) -> None:
        now = self.now()
        for app_id in list(self._reload):
            if app_id not in self._loading:
                self._reload.discard(app_id)
                self._loading.add(app_id)
                self._spawn_task(self._load(app_id))
        self._check_ports()
        memory_due = now - self._last_memory >= self.options.memory_interval
        if memory_due:
            self._last_memory = now
        for app in list(self._apps.values()):
            for dyno in [*app.dynos, *app.one_offs]:
                self._check_timers(app, dyno, now, memory_due)
            if any(d.retry_at is not None and now >= d.retry_at for d in app.dynos):
                self._dirty.add(app.app_id)
        self._check_idle()
        if now - self._last_eco >= self.options.eco_report_interval:
            self._report_eco(now - self._last_eco if self._last_eco else 0.0)
            self._last_eco = now
        for app_id in list(self._dirty):
            self._dirty.discard(app_id)
            dirty = self._apps.get(app_id)
            if dirty is not None and dirty.loaded:
                self._reconcile(dirty)

    async def _load(self, app_id: str) -> None:
        assert self.loop is not None
        try:
            spec = await self.loop.run_in_executor(None, self.hooks.load_app, app_id)
            stub = (
                await self.loop.run_in_executor(None, self.hooks.app_stub, app_id)
                if spec is None
                else None
            )
        except Exception:
            log.exception("cannot load app %s", app_id)
            self._loading.discard(app_id)
            self._reload.add(app_id)
            return
        self._loading.discard(app_id)
        app = self._app(app_id)
        if (
            app.spec is not None
            and spec is not None
            and spec.release.version != app.spec.release.version
        ):
            # A new release resets crash back-off; its dynos are new anyway.
            app.phases = {v: s for v, s in app.phases.items() if v >= spec.release.version}
        app.spec = spec
        app.stub = stub
        if not app.loaded:
            app.last_request = time.time()
        app.loaded = True
        if spec is not None and spec.eco and spec.quota_exhausted:
            app.asleep, app.asleep_for = True, "quota"
        elif app.asleep_for == "quota" or (spec is not None and not spec.sleeps):
            app.asleep, app.asleep_for = False, ""
        self._dirty.add(app_id)
        self._notify_routes()
        if self._initial and not self.loaded.is_set():
            self._initial.discard(app_id)
            if not self._initial:
                self.loaded.set()
        for resolve in app.after_load:
            resolve()
        app.after_load.clear()

    # -- planning --------------------------------------------------------------------

    def _desired(self, app: _App) -> Desired | None:
        spec = app.spec
        if spec is None:
            return None
        release = spec.release
        phase_done = (
            "release" not in release.process_types
            or not release.runs_release_phase
            or app.phases.get(release.version) == "done"
        )
        return Desired(
            version=release.version,
            settled=spec.settled,
            phase_done=phase_done or spec.settled,
            formation={p.type: (p.quantity, p.size) for p in spec.formation},
            restarts=dict(app.restarts),
            asleep=app.asleep,
        )

    def _reconcile(self, app: _App) -> None:
        if self._closing:
            return
        now = self.now()
        steps = plan(self._desired(app), [d.facts(now) for d in app.dynos])
        for step in steps:
            self._apply(app, step)
        if any(isinstance(step, Start) for step in steps):
            app.waking = False

    def _apply(self, app: _App, step: Step) -> None:
        spec = app.spec
        if isinstance(step, Start):
            assert spec is not None
            process = spec.process(step.type)
            if process is not None:
                self._start(app, spec, process.type, step.index, step.generation, process)
        elif isinstance(step, Stop):
            dyno = next((d for d in app.dynos if d.id == step.dyno_id), None)
            if dyno is not None:
                self._stop(dyno, step.reason)
        elif isinstance(step, Revive):
            dyno = next((d for d in app.dynos if d.id == step.dyno_id), None)
            if dyno is not None and spec is not None:
                self._revive(app, spec, dyno)
        elif isinstance(step, RunReleasePhase):
            if spec is not None and step.version not in app.phases:
                app.phases[step.version] = "running"
                self._spawn_task(self._release_phase(app, spec))
        elif isinstance(step, Promote | Fail) and app.settling is None:
            ok = isinstance(step, Promote)
            if ok:
                app.promoted = step.version
                self._notify_routes()
            reason = step.reason if isinstance(step, Fail) else ""
            app.settling = step.version
            self._spawn_task(self._settle(app, step.version, ok, reason))

    async def _settle(self, app: _App, version: int, ok: bool, reason: str) -> None:
        assert self.loop is not None
        try:
            settled = await self.loop.run_in_executor(
                None, self.hooks.settle, app.app_id, version, ok, reason
            )
        except Exception:
            log.exception("cannot settle release v%d of %s", version, app.app_id)
            settled = {}
        app.settling = None
        # A push returns once the router has been told where the new dynos are.
        app.after_load.append(lambda: self._resolve_waiters(app.app_id, settled, reason))
        self._mark_reload(app.app_id)

    # -- dynos: start, stop, exit -------------------------------------------------------

    def _start(
        self,
        app: _App,
        spec: AppSpec,
        ptype: str,
        index: int,
        generation: Generation,
        process: Any,
    ) -> Dyno:
        now = self.wall()
        dyno = Dyno(
            id=str(uuid.uuid4()),
            app_id=app.app_id,
            type=ptype,
            index=index,
            generation=generation,
            command=process.command,
            size=process.size,
            memory_mb=process.memory_mb,
            release=spec.release,
            created_at=now,
            updated_at=now,
        )
        app.dynos.append(dyno)
        previous = "idle" if app.waking else "down"
        self._log(dyno, f"State changed from {previous} to starting")
        self._spawn_task(self._boot(app, spec, dyno))
        return dyno

    def _revive(self, app: _App, spec: AppSpec, dyno: Dyno) -> None:
        dyno.retry_at = None
        dyno.boot_failed = False
        dyno.failure = ""
        dyno.r10 = False
        self._set_state(dyno, DynoState.STARTING)
        self._spawn_task(self._boot(app, spec, dyno))

    async def _boot(self, app: _App, spec: AppSpec, dyno: Dyno) -> None:
        """Unpack the slug (off the loop), then spawn the dyno (on the loop's thread)."""
        assert self.loop is not None
        release = dyno.release
        try:
            lower = await self.loop.run_in_executor(
                None,
                self.driver.prepare_slug,
                app.app_id,
                spec.uid,
                release.slug_archive,
                release.slug_checksum,
            )
        except DynoError as exc:
            self._crashed_without_process(dyno, exc.message)
            return
        except Exception as exc:
            log.exception("cannot unpack the slug of %s", spec.app_name)
            self._crashed_without_process(dyno, f"cannot unpack the slug: {exc}")
            return
        if dyno.stopping or self._closing:
            self._remove(dyno)
            return
        port = free_port() if dyno.type == "web" else None
        env = dyno_env(spec, release, dyno.name, dyno.id, port=port, extra=dyno.env_extra)
        try:
            proc = self.driver.launch(
                LaunchRequest(
                    dyno_id=dyno.id,
                    hostname=dyno.name,
                    app_id=app.app_id,
                    uid=spec.uid,
                    slug_archive=release.slug_archive,
                    slug_checksum=release.slug_checksum,
                    command=dyno.command,
                    env=env,
                    memory_mb=dyno.memory_mb,
                    tty=dyno.tty,
                    interactive=dyno.on_output is not None,
                    columns=_int(dyno.env_extra.get("COLUMNS"), 80),
                    lines=_int(dyno.env_extra.get("LINES"), 24),
                ),
                lower,
            )
        except DynoError as exc:
            self._crashed_without_process(dyno, exc.message)
            return
        except OSError as exc:
            log.exception("cannot start dyno %s of %s", dyno.name, spec.app_name)
            self._crashed_without_process(dyno, f"cannot start the dyno: {exc}")
            return
        dyno.proc = proc
        dyno.port = port
        dyno.started = self.now()
        dyno.partial = b""
        dyno.oom_seen = 0
        dyno.bucket = _Bucket(
            self.options.lines_per_second,
            self.options.line_burst,
            self.options.line_burst,
            self.now(),
        )
        if self.options.cycle_interval > 0 and not dyno.one_off:
            jitter = self.rng.uniform(0, self.options.cycle_jitter)
            dyno.cycle_at = self.now() + self.options.cycle_interval + jitter
        self._log(dyno, f"Starting process with command `{dyno.command}`")
        assert self.loop is not None
        self.loop.add_reader(proc.output_fd, self._on_output, dyno)
        if proc.pidfd >= 0:
            self.loop.add_reader(proc.pidfd, self._on_exit, dyno)
        if dyno.type != "web":
            # Only web dynos must bind a port; the others are up once they run.
            self._set_state(dyno, DynoState.UP)
            dyno.ever_up = True
            self._dirty.add(app.app_id)

    def _crashed_without_process(self, dyno: Dyno, message: str) -> None:
        self._log(dyno, message)
        dyno.failure = f"{dyno.name}: {message}"
        if dyno.one_off:
            self._finish_one_off(dyno, 1)
            return
        self._crash(dyno, 1)

    def _stop(self, dyno: Dyno, reason: str) -> None:
        dyno.stopping = True
        dyno.stop_reason = reason
        if reason == "idle":
            self._log(dyno, "Idling")
        elif reason == "cycle":
            self._log(dyno, "Cycling")
        if dyno.proc is None:
            if dyno.attach_url and self.rendezvous is not None:
                self.rendezvous.cancel(dyno.attach_url)
            self._set_state(dyno, DynoState.DOWN)
            self._remove(dyno)
            return
        if (
            dyno.type == "web"
            and dyno.state == DynoState.UP
            and reason != "shutdown"
            and self.options.drain_delay > 0
            and self.loop is not None
        ):
            self._notify_routes()
            self.loop.call_later(self.options.drain_delay, self._terminate, dyno)
            return
        self._terminate(dyno)

    def _terminate(self, dyno: Dyno) -> None:
        if dyno.proc is None or dyno.kill_at is not None:
            return
        self._log(dyno, "Stopping all processes with SIGTERM")
        dyno.proc.signal_all(signal.SIGTERM)
        dyno.kill_at = self.now() + self.options.stop_timeout

    def _on_exit(self, dyno: Dyno) -> None:
        proc = dyno.proc
        if proc is None:
            return
        status = proc.exit_status()
        if status is None:
            return
        assert self.loop is not None
        self.loop.remove_reader(proc.pidfd)
        self._drain_output(dyno)
        if proc.oom_kills() > dyno.oom_seen:
            self._r15(dyno, proc)
        # Everything else in the dyno goes with its main process.
        proc.kill()
        self._reap(dyno)
        self._log(dyno, f"Process exited with status {status}")
        if dyno.one_off:
            self._finish_one_off(dyno, status)
        elif dyno.stopping:
            self._set_state(dyno, DynoState.IDLE if dyno.stop_reason == "idle" else DynoState.DOWN)
            self._remove(dyno)
        else:
            self._crash(dyno, status)
        self._dirty.add(dyno.app_id)

    def _reap(self, dyno: Dyno) -> None:
        proc = dyno.proc
        if proc is None:
            return
        assert self.loop is not None
        with contextlib.suppress(Exception):
            self.loop.remove_reader(proc.output_fd)
        if proc.pidfd >= 0:
            with contextlib.suppress(Exception):
                self.loop.remove_reader(proc.pidfd)
        dyno.proc = None
        if dyno.port is not None and dyno.state == DynoState.UP:
            self._notify_routes()
        dyno.port = None
        self.loop.run_in_executor(None, proc.release)

    def _crash(self, dyno: Dyno, status: int) -> None:
        now = self.now()
        was_up = dyno.ever_up
        if dyno.started and now - dyno.started >= self.options.crash_reset_after:
            dyno.crash_count = 0
        dyno.crash_count += 1
        if dyno.crash_count == 1:
            delay = 0.0
        else:
            delay = min(
                self.options.backoff_cap,
                self.options.backoff_base * 2 ** (dyno.crash_count - 2),
            )
        dyno.retry_at = now + delay
        if not was_up:
            dyno.boot_failed = True
            if not dyno.failure:
                dyno.failure = (
                    f"{dyno.name} failed to bind to $PORT within "
                    f"{self.options.boot_timeout:.0f} seconds of launch (R10)"
                    if dyno.r10
                    else f"{dyno.name} crashed during boot (exit status {status})"
                )
        self._set_state(dyno, DynoState.CRASHED)
        dyno.ever_up = False

    def _remove(self, dyno: Dyno) -> None:
        app = self._apps.get(dyno.app_id)
        if app is None:
            return
        for group in (app.dynos, app.one_offs):
            if dyno in group:
                group.remove(dyno)
        self._dirty.add(dyno.app_id)

    def _set_state(self, dyno: Dyno, state: DynoState) -> None:
        if dyno.state == state:
            return
        self._log(dyno, f"State changed from {dyno.state.value} to {state.value}")
        old = dyno.state
        dyno.state = state
        dyno.updated_at = self.wall()
        if dyno.type == "web" and DynoState.UP in (old, state):
            self._notify_routes()
        if dyno.type == "web" and state == DynoState.UP:
            app = self._apps.get(dyno.app_id)
            if app is not None:
                app.last_request = max(app.last_request, time.time())

    def _log(self, dyno: Dyno, message: str, source: str = "heroku") -> None:
        self.hooks.publish(dyno.app_id, source, dyno.name, message)

    # -- output -----------------------------------------------------------------------

    def _on_output(self, dyno: Dyno) -> None:
        proc = dyno.proc
        if proc is None:
            return
        try:
            data = os.read(proc.output_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # EIO: a PTY whose last holder is gone
        if not data:
            assert self.loop is not None
            self.loop.remove_reader(proc.output_fd)
            return
        self._handle_output(dyno, data)

    def _drain_output(self, dyno: Dyno) -> None:
        proc = dyno.proc
        if proc is None:
            return
        for _ in range(64):
            try:
                data = os.read(proc.output_fd, 65536)
            except OSError:
                break
            if not data:
                break
            self._handle_output(dyno, data)
        if dyno.partial and dyno.on_output is None:
            self._emit_line(dyno, dyno.partial)
            dyno.partial = b""

    def _handle_output(self, dyno: Dyno, data: bytes) -> None:
        if dyno.on_output is not None:
            dyno.on_output(data)
            return
        buffer = dyno.partial + data
        *lines, rest = buffer.split(b"\n")
        for line in lines:
            self._emit_line(dyno, line)
        while len(rest) > MAX_LINE:
            self._emit_line(dyno, rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        dyno.partial = rest

    def _emit_line(self, dyno: Dyno, raw: bytes) -> None:
        bucket = dyno.bucket
        now = self.now()
        if bucket is not None and not bucket.take(now):
            if bucket.dropped == 0:
                bucket.dropped_since = self.wall()
            bucket.dropped += 1
            return
        if bucket is not None and bucket.dropped:
            since = bucket.dropped_since.isoformat() if bucket.dropped_since else ""
            self.hooks.publish(
                dyno.app_id,
                "heroku",
                "logplex",
                f"Error L12 (Local buffer overflow) -> {bucket.dropped} messages from "
                f"{dyno.name} dropped since {since}: it writes more than "
                f"{self.options.lines_per_second} lines a second.",
            )
            bucket.dropped = 0
        text = raw.decode("utf-8", "replace").rstrip("\r")
        self.hooks.publish(dyno.app_id, "app", dyno.name, text)
        if dyno.phase_version is not None:
            self._tell_waiters(dyno.app_id, dyno.phase_version, text)

    # -- timers -----------------------------------------------------------------------

    def _check_ports(self) -> None:
        starting = [
            d
            for a in self._apps.values()
            for d in a.dynos
            if d.type == "web" and d.state == DynoState.STARTING and d.proc and d.port
        ]
        if not starting:
            return
        listening = _listening_ports()
        for dyno in starting:
            if dyno.port in listening:
                dyno.ever_up = True
                self._set_state(dyno, DynoState.UP)
                self._dirty.add(dyno.app_id)

    def _check_timers(self, app: _App, dyno: Dyno, now: float, memory_due: bool) -> None:
        proc = dyno.proc
        if proc is None:
            return
        if dyno.stopping and dyno.kill_at is not None and now >= dyno.kill_at:
            dyno.kill_at = None
            self._log(
                dyno,
                "Error R12 (Exit timeout) -> At least one process failed to exit within "
                f"{self.options.stop_timeout:.0f} seconds of SIGTERM",
            )
            self._log(dyno, "Stopping remaining processes with SIGKILL")
            proc.kill()
            return
        if (
            dyno.type == "web"
            and dyno.state == DynoState.STARTING
            and not dyno.stopping
            and not dyno.r10
            and now - dyno.started >= self.options.boot_timeout
        ):
            dyno.r10 = True
            self._log(
                dyno,
                "Error R10 (Boot timeout) -> Web process failed to bind to $PORT within "
                f"{self.options.boot_timeout:.0f} seconds of launch",
            )
            self._log(dyno, "Stopping process with SIGKILL")
            proc.kill()
            return
        if dyno.deadline is not None and now >= dyno.deadline and not dyno.stopping:
            self._log(dyno, "Dyno exceeded its time to live; stopping it")
            self._stop(dyno, "ttl")
        if (
            dyno.cycle_at is not None
            and now >= dyno.cycle_at
            and dyno.state == DynoState.UP
            and not dyno.stopping
        ):
            dyno.cycle_at = None
            self._log(dyno, "Cycling")
            dyno.outdated = True
            self._dirty.add(app.app_id)
        if memory_due and not dyno.stopping:
            self._check_memory(dyno, proc, now)

    def _check_memory(self, dyno: Dyno, proc: DynoProcess, now: float) -> None:
        if proc.oom_kills() > dyno.oom_seen:
            self._r15(dyno, proc)
            return
        used = proc.memory_bytes()
        if used is None:
            return
        quota = dyno.memory_mb * 1024 * 1024
        if used > quota and now - dyno.last_r14 >= self.options.r14_interval:
            dyno.last_r14 = now
            self._log(dyno, _mem_line(used, quota))
            self._log(dyno, "Error R14 (Memory quota exceeded)")

    def _r15(self, dyno: Dyno, proc: DynoProcess) -> None:
        dyno.oom_seen = proc.oom_kills()
        quota = dyno.memory_mb * 1024 * 1024
        used = max(proc.memory_bytes() or 0, int(quota * self.driver.hard_limit_factor))
        self._log(dyno, _mem_line(used, quota))
        self._log(dyno, "Error R15 (Memory quota vastly exceeded)")
        self._log(dyno, "Stopping process with SIGKILL")
        dyno.failure = f"{dyno.name} used more than twice its memory quota (R15)"
        proc.kill()

    def _check_idle(self) -> None:
        wall = time.time()
        for app in self._apps.values():
            spec = app.spec
            if spec is None or not spec.sleeps or app.asleep or not app.dynos:
                continue
            if any(d.state == DynoState.STARTING for d in app.dynos):
                continue  # still waking: the idle clock starts once it is up
            if wall - app.last_request >= self.options.idle_after:
                app.asleep, app.asleep_for = True, "idle"
                self._dirty.add(app.app_id)
                self._notify_routes()

    def _activity(self, app_id: str, when: float) -> None:
        app = self._apps.get(app_id)
        if app is not None:
            app.last_request = max(app.last_request, when)

    def _wake(self, app_id: str) -> None:
        app = self._apps.get(app_id)
        if app is None or not app.asleep or app.asleep_for != "idle":
            return
        app.asleep, app.asleep_for, app.waking = False, "", True
        app.last_request = time.time()
        self.hooks.publish(app_id, "heroku", "web.1", "Unidling")
        self._dirty.add(app_id)
        self._notify_routes()

    def _report_eco(self, elapsed: float) -> None:
        if elapsed <= 0:
            return
        for app in self._apps.values():
            eco = [d for d in app.dynos if d.size.lower() == "eco" and d.proc is not None]
            if eco:
                seconds = elapsed * len(eco)
                try:
                    self.hooks.eco_seconds(app.app_id, seconds)
                except Exception:
                    log.exception("cannot record eco usage")

    # -- release phase ------------------------------------------------------------------

    async def _release_phase(self, app: _App, spec: AppSpec) -> None:
        release = spec.release
        command = release.process_types["release"]
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        dyno = self._one_off_dyno(app, spec, release, "release", command, spec.formation)
        dyno.phase_version = release.version
        dyno.on_exit = lambda status: _resolve(done, status)
        dyno.deadline = self.now() + self.options.release_timeout
        self.hooks.publish(app.app_id, "app", "api", f"Running release v{release.version} commands")
        self._log(dyno, "State changed from down to starting")
        await self._boot(app, spec, dyno)
        status = await done
        if status == 0:
            app.phases[release.version] = "done"
            self._dirty.add(app.app_id)
            return
        why = (
            f"the release command timed out after {self.options.release_timeout:.0f} seconds"
            if dyno.stop_reason == "ttl"
            else f"the release command failed with exit status {status}"
        )
        app.phases[release.version] = "failed"
        if app.settling is None:
            app.settling = release.version
            await self._settle(app, release.version, False, why)

    def _one_off_dyno(
        self,
        app: _App,
        spec: AppSpec,
        release: ReleaseSpec,
        ptype: str,
        command: str,
        formation: tuple[Any, ...],
        *,
        size: str | None = None,
        memory_mb: int | None = None,
    ) -> Dyno:
        taken = {d.index for d in app.one_offs if d.type == ptype}
        index = self.rng.randint(1000, 9999)
        while index in taken:
            index = self.rng.randint(1000, 9999)
        default = next((p for p in formation if p.type == "web"), None)
        now = self.wall()
        dyno = Dyno(
            id=str(uuid.uuid4()),
            app_id=app.app_id,
            type=ptype,
            index=index,
            generation=Generation(release.version, 0, size or "basic"),
            command=command,
            size=size or (default.size if default else "basic"),
            memory_mb=memory_mb or (default.memory_mb if default else 512),
            release=release,
            created_at=now,
            updated_at=now,
            one_off=True,
        )
        app.one_offs.append(dyno)
        return dyno

    def _finish_one_off(self, dyno: Dyno, status: int) -> None:
        if dyno.state != DynoState.COMPLETE:
            self._set_state(dyno, DynoState.COMPLETE)
        self._remove(dyno)
        if dyno.on_exit is not None:
            dyno.on_exit(status)

    # -- one-off dynos ------------------------------------------------------------------

    async def _run_one_off(self, app_id: str, request: OneOffRequest) -> DynoInfo:
        app = self._app(app_id)
        if not app.loaded:
            assert self.loop is not None
            app.spec = await self.loop.run_in_executor(None, self.hooks.load_app, app_id)
            app.loaded = True
        spec = app.spec
        if spec is None or spec.current is None:
            raise DynoRejected("This app has no release to run yet; deploy it with git push first.")
        dyno = self._one_off_dyno(
            app,
            spec,
            spec.current,
            request.type,
            request.command,
            spec.formation,
            size=request.size,
            memory_mb=request.memory_mb,
        )
        dyno.env_extra = dict(request.env)
        dyno.tty = request.tty and request.attach
        ttl = request.time_to_live or self.options.one_off_ttl
        dyno.deadline = self.now() + ttl
        if not request.attach:
            self._log(dyno, "State changed from down to starting")
            await self._boot(app, spec, dyno)
            if dyno.proc is not None:
                self._set_state(dyno, DynoState.UP)
            return self._info(dyno)
        if self.rendezvous is None:
            self._remove(dyno)
            raise DynoRejected("Attached one-off dynos need the rendezvous listener.")

        async def attach(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._attached(app, spec, dyno, reader, writer)

        dyno.attach_url = self.rendezvous.expect(attach)
        self._log(dyno, "Awaiting client")
        self._spawn_task(self._attach_deadline(dyno))
        return self._info(dyno)

    async def _attach_deadline(self, dyno: Dyno) -> None:
        await asyncio.sleep(self.options.attach_timeout)
        if dyno.proc is None and not dyno.stopping and dyno.state == DynoState.STARTING:
            self._log(dyno, "Error R13 (Attach error) -> Failed to attach to process")
            if dyno.attach_url and self.rendezvous is not None:
                self.rendezvous.cancel(dyno.attach_url)
            self._finish_one_off(dyno, 1)

    async def _attached(
        self,
        app: _App,
        spec: AppSpec,
        dyno: Dyno,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Pipe a client's connection to the dyno's terminal until the command ends."""
        out: asyncio.Queue[bytes | None] = asyncio.Queue()
        finished: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        dyno.on_output = out.put_nowait
        dyno.on_exit = lambda status: _resolve(finished, status)
        await self._boot(app, spec, dyno)
        if dyno.proc is None:
            writer.write(f"Could not start the dyno: {dyno.failure}\r\n".encode())
            await writer.drain()
            return
        self._set_state(dyno, DynoState.UP)
        proc = dyno.proc
        feeder = asyncio.ensure_future(self._feed_input(dyno, proc, reader))
        finished.add_done_callback(lambda _f: out.put_nowait(None))
        try:
            while True:
                chunk = await out.get()
                if chunk is None:
                    break
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            feeder.cancel()
        with contextlib.suppress(Exception):
            # Whatever was still buffered between the exit and the end of the pipe.
            while not out.empty():
                rest = out.get_nowait()
                if rest:
                    writer.write(rest)
            await writer.drain()

    async def _feed_input(
        self, dyno: Dyno, proc: DynoProcess, reader: asyncio.StreamReader
    ) -> None:
        fd = proc.input_fd
        while True:
            try:
                data = await reader.read(65536)
            except (ConnectionError, OSError):
                data = b""
            if not data:
                break
            if fd is None:
                continue
            eof = not dyno.tty and data.endswith(b"\x04")
            if eof:
                # The official CLI marks the end of a piped stdin with ^D.
                data = data[:-1]
            with contextlib.suppress(OSError):
                if data:
                    os.write(fd, data)
            if eof:
                with contextlib.suppress(OSError):
                    os.close(fd)
                proc.input_fd = fd = None
        if dyno.proc is proc and not dyno.stopping:
            self._log(dyno, "Client connection closed. Sending SIGHUP to all processes")
            proc.signal_all(signal.SIGHUP)
            dyno.kill_at = self.now() + self.options.stop_timeout
            dyno.stopping = True

    # -- views ------------------------------------------------------------------------

    def _info(self, dyno: Dyno) -> DynoInfo:
        return DynoInfo(
            id=dyno.id,
            app_id=dyno.app_id,
            name=dyno.name,
            type=dyno.type,
            command=dyno.command,
            size=dyno.size,
            state=dyno.state.value,
            release_version=dyno.release.version,
            attach_url=dyno.attach_url,
            created_at=dyno.created_at,
            updated_at=dyno.updated_at,
            port=dyno.port,
        )

    def _route(self, app: _App) -> tuple[str, list[tuple[str, int]]]:
        spec = app.spec
        if spec is None:
            return ("blank", [])
        promoted = app.promoted == spec.release.version
        if spec.current is None and not promoted:
            # The first release is rolling out: hold requests until it is live.
            return ("starting", [])
        current = spec.release.version if promoted or spec.current is None else spec.current.version
        web = [d for d in app.dynos if d.type == "web"]
        up = [
            (d.name, d.port)
            for d in web
            if d.state == DynoState.UP
            and d.port is not None
            and d.generation.version == current
            and not d.stopping
        ]
        if not up:
            # Mid-rollover the old release's dynos serve until the new ones are promoted.
            up = [
                (d.name, d.port)
                for d in web
                if d.state == DynoState.UP and d.port is not None and not d.stopping
            ]
        if up:
            return ("up", [(n, p) for n, p in up if p is not None])
        web_spec = spec.process("web")
        if app.asleep:
            return (app.asleep_for or "idle", [])
        if web_spec is None or web_spec.quantity == 0:
            return ("none", [])
        if any(d.state == DynoState.CRASHED for d in web) and not any(
            d.state == DynoState.STARTING for d in web
        ):
            return ("crashed", [])
        return ("starting", [])

    def _notify_routes(self) -> None:
        for listener in self.route_listeners:
            try:
                listener()
            except Exception:
                log.exception("route listener failed")


def _resolve(future: asyncio.Future[int], value: int) -> None:
    if not future.done():
        future.set_result(value)


def _listening_ports() -> set[int]:
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split(None, 4)
                    if len(parts) > 3 and parts[3] == "0A":  # TCP_LISTEN
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


def _mem_line(used: int, quota: int) -> str:
    return f"Process running mem={used // (1024 * 1024)}MB({100 * used / quota:.1f}%)"


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


__all__ = [
    "DynoInfo",
    "DynoManager",
    "OneOffRequest",
    "ReleaseOutcome",
    "RuntimeHooks",
    "RuntimeOptions",
]
