"""Reconciling: gather an app's facts, ask the pure `planner.plan`, carry out its steps.

An app is reloaded (its `AppSpec`, through the hooks, off the loop) whenever
the platform says it changed, and re-planned whenever anything about it did:
a load, an exit, a port bound, a timer. Settling a release (the store records
it promoted or failed) is a step too; the push waiting for it hears the
outcome once the router has been told where the new dynos are.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from slipway.runtime.manager.lifecycle import DynoLifecycle
from slipway.runtime.manager.one_off import OneOffs, resolve
from slipway.runtime.manager.records import RunningApp
from slipway.runtime.manager.state import LoopState
from slipway.runtime.manager.waiters import ReleaseWaiters, Waiter
from slipway.runtime.planner import (
    Desired,
    Fail,
    Promote,
    Revive,
    RunReleasePhase,
    Start,
    Step,
    Stop,
    plan,
)
from slipway.runtime.specs import AppSpec

log = logging.getLogger("slipway.runtime")


class Reconciler:
    def __init__(
        self,
        state: LoopState,
        lifecycle: DynoLifecycle,
        one_offs: OneOffs,
        waiters: ReleaseWaiters,
    ) -> None:
        self.state = state
        self.lifecycle = lifecycle
        self.one_offs = one_offs
        self.waiters = waiters
        self._reload: set[str] = set()
        self._loading: set[str] = set()
        # Set once every app known at start has been loaded: the router's first table
        # must not be an empty one (that would answer 404 for every app).
        self.loaded = threading.Event()
        self._initial: set[str] = set()

    def expect(self, app_ids: list[str]) -> None:
        """The apps the store knows at start: `loaded` is set once each has loaded."""
        self._initial = set(app_ids)
        if not app_ids:
            self.loaded.set()

    # -- loading ----------------------------------------------------------------------

    def mark_reload(self, app_id: str) -> None:
        self.state.app(app_id)
        self._reload.add(app_id)

    def add_waiter(self, app_id: str, waiter: Waiter) -> None:
        self.waiters.add(app_id, waiter)
        self.mark_reload(app_id)

    def start_loads(self) -> None:
        for app_id in list(self._reload):
            if app_id not in self._loading:
                self._reload.discard(app_id)
                self._loading.add(app_id)
                self.state.spawn(self._load(app_id))

    async def _load(self, app_id: str) -> None:
        state = self.state
        loop = state.running_loop
        try:
            spec = await loop.run_in_executor(None, state.hooks.load_app, app_id)
            stub = (
                await loop.run_in_executor(None, state.hooks.app_stub, app_id)
                if spec is None
                else None
            )
        except Exception:
            log.exception("cannot load app %s", app_id)
            self._loading.discard(app_id)
            self._reload.add(app_id)
            return
        self._loading.discard(app_id)
        app = state.app(app_id)
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
            app.last_request = state.unix_now()
        app.loaded = True
        if spec is not None and spec.eco and spec.quota_exhausted:
            app.asleep, app.asleep_for = True, "quota"
        elif app.asleep_for == "quota" or (spec is not None and not spec.sleeps):
            app.asleep, app.asleep_for = False, ""
        state.dirty.add(app_id)
        state.notify_routes()
        if self._initial and not self.loaded.is_set():
            self._initial.discard(app_id)
            if not self._initial:
                self.loaded.set()
        for after in app.after_load:
            after()
        app.after_load.clear()

    # -- planning ---------------------------------------------------------------------

    def reconcile_dirty(self) -> None:
        state = self.state
        for app_id in list(state.dirty):
            state.dirty.discard(app_id)
            dirty = state.apps.get(app_id)
            if dirty is not None and dirty.loaded:
                self.reconcile(dirty)

    def reconcile(self, app: RunningApp) -> None:
        if self.state.closing:
            return
        now = self.state.now()
        steps = plan(_desired(app), [d.facts(now) for d in app.dynos])
        for step in steps:
            self._apply(app, step)
        if any(isinstance(step, Start) for step in steps):
            app.waking = False

    def _apply(self, app: RunningApp, step: Step) -> None:
        spec = app.spec
        if isinstance(step, Start):
            assert spec is not None
            process = spec.process(step.type)
            if process is not None:
                self.lifecycle.start(app, spec, process.type, step.index, step.generation, process)
        elif isinstance(step, Stop):
            dyno = next((d for d in app.dynos if d.id == step.dyno_id), None)
            if dyno is not None:
                self.lifecycle.stop(dyno, step.reason)
        elif isinstance(step, Revive):
            dyno = next((d for d in app.dynos if d.id == step.dyno_id), None)
            if dyno is not None and spec is not None:
                self.lifecycle.revive(app, spec, dyno)
        elif isinstance(step, RunReleasePhase):
            if spec is not None and step.version not in app.phases:
                app.phases[step.version] = "running"
                self.state.spawn(self._release_phase(app, spec))
        elif isinstance(step, Promote | Fail) and app.settling is None:
            ok = isinstance(step, Promote)
            if ok:
                app.promoted = step.version
                self.state.notify_routes()
            reason = step.reason if isinstance(step, Fail) else ""
            app.settling = step.version
            self.state.spawn(self._settle(app, step.version, ok, reason))

    async def _settle(self, app: RunningApp, version: int, ok: bool, reason: str) -> None:
        state = self.state
        try:
            settled = await state.running_loop.run_in_executor(
                None, state.hooks.settle, app.app_id, version, ok, reason
            )
        except Exception:
            log.exception("cannot settle release v%d of %s", version, app.app_id)
            settled = {}
        app.settling = None
        # A push returns once the router has been told where the new dynos are.
        app.after_load.append(lambda: self.waiters.resolve(app.app_id, settled, reason))
        self.mark_reload(app.app_id)

    async def _release_phase(self, app: RunningApp, spec: AppSpec) -> None:
        state = self.state
        options = state.options
        release = spec.release
        command = release.process_types["release"]
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        dyno = self.one_offs.new_dyno(app, release, "release", command, spec.formation)
        dyno.phase_version = release.version
        dyno.on_exit = lambda status: resolve(done, status)
        dyno.deadline = state.now() + options.release_timeout
        state.hooks.publish(
            app.app_id, "app", "api", f"Running release v{release.version} commands"
        )
        state.log(dyno, "State changed from down to starting")
        state.hooks.release_phase_started(app.app_id, release.version)
        await self.lifecycle.boot(app, spec, dyno)
        status = await done
        state.hooks.release_phase_ended(app.app_id, release.version, status)
        if status == 0:
            app.phases[release.version] = "done"
            state.dirty.add(app.app_id)
            return
        why = (
            f"the release command timed out after {options.release_timeout:.0f} seconds"
            if dyno.stop_reason == "ttl"
            else f"the release command failed with exit status {status}"
        )
        app.phases[release.version] = "failed"
        if app.settling is None:
            app.settling = release.version
            await self._settle(app, release.version, False, why)

    # -- destroyed apps ---------------------------------------------------------------

    def forget(self, app_id: str) -> None:
        app = self.state.apps.get(app_id)
        if app is None:
            return
        app.spec = None
        app.loaded = True
        for dyno in app.everyone():
            if not dyno.stopping:
                self.lifecycle.stop(dyno, "destroy")
        self.state.spawn(self._forget_later(app_id))

    async def _forget_later(self, app_id: str) -> None:
        state = self.state
        current = state.apps.get(app_id)
        while current is not None and (current.dynos or current.one_offs):
            await asyncio.sleep(0.1)
        state.apps.pop(app_id, None)
        await state.running_loop.run_in_executor(None, state.driver.forget_app, app_id)
        state.notify_routes()


def _desired(app: RunningApp) -> Desired | None:
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
        preboot=spec.preboot,
    )
