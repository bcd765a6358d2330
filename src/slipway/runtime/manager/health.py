"""The timers each tick checks: is the dyno up, too slow, too big, idle, due for a restart?

* Web dynos are up once their $PORT is bound (read from /proc/net/tcp); one
  that has not bound within `boot_timeout` is killed with R10.
* A dyno that ignores SIGTERM for `stop_timeout` is killed (R12); a one-off
  past its time to live is stopped.
* Memory over the quota is R14 (logged every `r14_interval`); the cgroup's
  OOM kill at twice the quota is R15.
* Apps that sleep go idle after `idle_after` without a request and wake on
  the next one; eco dyno time is charged to the owner's pool.
* Dynos are cycled about once a day; a crashed dyno restarts after its
  back-off (`restart_delay`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slipway.runtime.driver import Process
from slipway.runtime.manager.options import RuntimeOptions
from slipway.runtime.manager.records import RunningApp, RunningDyno
from slipway.runtime.manager.state import LoopState
from slipway.runtime.network.listening import listening_ports
from slipway.runtime.planner import DynoState

log = logging.getLogger("slipway.runtime")

Stop = Callable[[RunningDyno, str], None]


def restart_delay(options: RuntimeOptions, crash_count: int) -> float:
    """Crash back-off: the first restart at once, then base, 2x base, 4x base ... up to the cap."""
    if crash_count == 1:
        return 0.0
    return float(min(options.backoff_cap, options.backoff_base * 2 ** (crash_count - 2)))


def r15(state: LoopState, dyno: RunningDyno, proc: Process) -> None:
    """The cgroup killed the dyno for memory (or is about to): say so and finish it."""
    dyno.oom_seen = proc.oom_kills()
    quota = dyno.memory_mb * 1024 * 1024
    used = max(proc.memory_bytes() or 0, int(quota * state.driver.hard_limit_factor))
    state.log(dyno, _mem_line(used, quota))
    state.log(dyno, "Error R15 (Memory quota vastly exceeded)")
    state.log(dyno, "Stopping process with SIGKILL")
    dyno.failure = f"{dyno.name} used more than twice its memory quota (R15)"
    proc.kill()


class HealthTimers:
    def __init__(self, state: LoopState, stop: Stop) -> None:
        self.state = state
        self.stop = stop
        self._last_memory = 0.0
        self._last_eco = 0.0

    def check(self) -> None:
        """One round: ports, every dyno's timers, retries due, idling and eco hours."""
        state = self.state
        now = state.now()
        self.check_ports()
        memory_due = now - self._last_memory >= state.options.memory_interval
        if memory_due:
            self._last_memory = now
        for app in list(state.apps.values()):
            for dyno in app.everyone():
                self.check_dyno(app, dyno, now, memory_due)
            if any(d.retry_at is not None and now >= d.retry_at for d in app.dynos):
                state.dirty.add(app.app_id)
        self.check_idle()
        if now - self._last_eco >= state.options.eco_report_interval:
            self.report_eco(now - self._last_eco if self._last_eco else 0.0)
            self._last_eco = now

    def check_ports(self) -> None:
        starting = [
            d
            for a in self.state.apps.values()
            for d in a.dynos
            if d.type == "web" and d.state == DynoState.STARTING and d.proc and d.port
        ]
        if not starting:
            return
        host: set[int] | None = None
        for dyno in starting:
            assert dyno.proc is not None
            # A dyno in its own namespace: its own table (exact, and cheap to read).
            listening = dyno.proc.listening_ports()
            if listening is None:
                if host is None:
                    host = listening_ports()
                listening = host
            if dyno.port in listening:
                dyno.ever_up = True
                self.state.set_state(dyno, DynoState.UP)
                self.state.dirty.add(dyno.app_id)

    def check_dyno(self, app: RunningApp, dyno: RunningDyno, now: float, memory_due: bool) -> None:
        proc = dyno.proc
        if proc is None:
            return
        if self._exit_timeout(dyno, proc, now) or self._boot_timeout(dyno, proc, now):
            return
        if dyno.deadline is not None and now >= dyno.deadline and not dyno.stopping:
            self.state.log(dyno, "Dyno exceeded its time to live; stopping it")
            self.stop(dyno, "ttl")
        if (
            dyno.cycle_at is not None
            and now >= dyno.cycle_at
            and dyno.state == DynoState.UP
            and not dyno.stopping
        ):
            dyno.cycle_at = None
            self.state.log(dyno, "Cycling")
            dyno.outdated = True
            self.state.dirty.add(app.app_id)
        if memory_due and not dyno.stopping:
            self.check_memory(dyno, proc, now)

    def _exit_timeout(self, dyno: RunningDyno, proc: Process, now: float) -> bool:
        """R12: SIGTERM was `stop_timeout` ago and the dyno is still there."""
        if not (dyno.stopping and dyno.kill_at is not None and now >= dyno.kill_at):
            return False
        dyno.kill_at = None
        self.state.log(
            dyno,
            "Error R12 (Exit timeout) -> At least one process failed to exit within "
            f"{self.state.options.stop_timeout:.0f} seconds of SIGTERM",
        )
        self.state.log(dyno, "Stopping remaining processes with SIGKILL")
        proc.kill()
        return True

    def _boot_timeout(self, dyno: RunningDyno, proc: Process, now: float) -> bool:
        """R10: a web dyno that has not bound $PORT within `boot_timeout` of launch."""
        timeout = self.state.options.boot_timeout
        if not (
            dyno.type == "web"
            and dyno.state == DynoState.STARTING
            and not dyno.stopping
            and not dyno.r10
            and now - dyno.started >= timeout
        ):
            return False
        dyno.r10 = True
        self.state.log(
            dyno,
            "Error R10 (Boot timeout) -> Web process failed to bind to $PORT within "
            f"{timeout:.0f} seconds of launch",
        )
        if dyno.port in proc.loopback_only_ports():
            self.state.log(
                dyno,
                f"The process listens on 127.0.0.1:{dyno.port} only, where the router "
                "cannot reach it; bind to 0.0.0.0 (all addresses) instead",
            )
        self.state.log(dyno, "Stopping process with SIGKILL")
        proc.kill()
        return True

    def check_memory(self, dyno: RunningDyno, proc: Process, now: float) -> None:
        if proc.oom_kills() > dyno.oom_seen:
            r15(self.state, dyno, proc)
            return
        used = proc.memory_bytes()
        if used is None:
            return
        quota = dyno.memory_mb * 1024 * 1024
        if used > quota and now - dyno.last_r14 >= self.state.options.r14_interval:
            dyno.last_r14 = now
            self.state.log(dyno, _mem_line(used, quota))
            self.state.log(dyno, "Error R14 (Memory quota exceeded)")

    def check_idle(self) -> None:
        state = self.state
        wall = state.unix_now()
        for app in state.apps.values():
            spec = app.spec
            if spec is None or not spec.sleeps or app.asleep or not app.dynos:
                continue
            if any(d.state == DynoState.STARTING for d in app.dynos):
                continue  # still waking: the idle clock starts once it is up
            if wall - app.last_request >= state.options.idle_after:
                app.asleep, app.asleep_for = True, "idle"
                state.dirty.add(app.app_id)
                state.notify_routes()

    def activity(self, app_id: str, when: float) -> None:
        app = self.state.apps.get(app_id)
        if app is not None:
            app.last_request = max(app.last_request, when)

    def wake(self, app_id: str) -> None:
        state = self.state
        app = state.apps.get(app_id)
        if app is None or not app.asleep or app.asleep_for != "idle":
            return
        app.asleep, app.asleep_for, app.waking = False, "", True
        app.last_request = state.unix_now()
        state.hooks.publish(app_id, "heroku", "web.1", "Unidling")
        state.dirty.add(app_id)
        state.notify_routes()

    def report_eco(self, elapsed: float) -> None:
        if elapsed <= 0:
            return
        for app in self.state.apps.values():
            eco = [d for d in app.dynos if d.size.lower() == "eco" and d.proc is not None]
            if eco:
                seconds = elapsed * len(eco)
                try:
                    self.state.hooks.eco_seconds(app.app_id, seconds)
                except Exception:
                    log.exception("cannot record eco usage")


def _mem_line(used: int, quota: int) -> str:
    return f"Process running mem={used // (1024 * 1024)}MB({100 * used / quota:.1f}%)"
