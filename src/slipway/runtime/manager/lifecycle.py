"""A dyno's life: start, boot (unpack, launch, watch), stop (drain, SIGTERM), exit, crash.

Every dyno is launched from the loop's thread, which lives as long as the
server: bubblewrap's --die-with-parent ties each dyno to it. Each state
change is logged with Heroku's `heroku[web.1]:` wording.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import uuid
from pathlib import Path

from slipway.runtime.driver import LaunchRequest, Process
from slipway.runtime.env import dyno_env
from slipway.runtime.errors import DynoError
from slipway.runtime.local import free_port
from slipway.runtime.manager.health import r15, restart_delay
from slipway.runtime.manager.output import OutputCapture
from slipway.runtime.manager.records import RunningApp, RunningDyno
from slipway.runtime.manager.state import LoopState
from slipway.runtime.planner import DynoState, Generation
from slipway.runtime.specs import AppSpec, ProcessSpec

log = logging.getLogger("slipway.runtime")


class DynoLifecycle:
    def __init__(self, state: LoopState, output: OutputCapture) -> None:
        self.state = state
        self.output = output

    # -- start ------------------------------------------------------------------------

    def start(
        self,
        app: RunningApp,
        spec: AppSpec,
        ptype: str,
        index: int,
        generation: Generation,
        process: ProcessSpec,
    ) -> RunningDyno:
        now = self.state.wall()
        dyno = RunningDyno(
            id=str(uuid.uuid4()),
            app_id=app.app_id,
            type=ptype,
            index=index,
            generation=generation,
            command=process.command,
            size=process.size,
            memory_mb=process.memory_mb,
            limits=process.limits,
            release=spec.release,
            created_at=now,
            updated_at=now,
        )
        app.dynos.append(dyno)
        previous = "idle" if app.waking else "down"
        self.state.log(dyno, f"State changed from {previous} to starting")
        self.state.spawn(self.boot(app, spec, dyno))
        return dyno

    def revive(self, app: RunningApp, spec: AppSpec, dyno: RunningDyno) -> None:
        dyno.retry_at = None
        dyno.boot_failed = False
        dyno.failure = ""
        dyno.r10 = False
        self.state.set_state(dyno, DynoState.STARTING)
        self.state.spawn(self.boot(app, spec, dyno))

    async def boot(self, app: RunningApp, spec: AppSpec, dyno: RunningDyno) -> None:
        """Unpack the slug (off the loop), then spawn the dyno (on the loop's thread)."""
        lower = await self._unpack_slug(app, spec, dyno)
        if lower is None:
            return
        if dyno.stopping or self.state.closing:
            self.state.remove(dyno)
            return
        port = free_port() if dyno.type == "web" else None
        request = _launch_request(app, spec, dyno, port)
        proc = self._launch(spec, dyno, request, lower)
        if proc is not None:
            self._watch(app, dyno, proc, port)

    async def _unpack_slug(self, app: RunningApp, spec: AppSpec, dyno: RunningDyno) -> Path | None:
        release = dyno.release
        try:
            return await self.state.running_loop.run_in_executor(
                None,
                self.state.driver.prepare_slug,
                app.app_id,
                spec.uid,
                release.slug_archive,
                release.slug_checksum,
            )
        except DynoError as exc:
            self._crashed_without_process(dyno, exc.message)
        except Exception as exc:
            log.exception("cannot unpack the slug of %s", spec.app_name)
            self._crashed_without_process(dyno, f"cannot unpack the slug: {exc}")
        return None

    def _launch(
        self, spec: AppSpec, dyno: RunningDyno, request: LaunchRequest, lower: Path
    ) -> Process | None:
        try:
            return self.state.driver.launch(request, lower)
        except DynoError as exc:
            self._crashed_without_process(dyno, exc.message)
        except OSError as exc:
            log.exception("cannot start dyno %s of %s", dyno.name, spec.app_name)
            self._crashed_without_process(dyno, f"cannot start the dyno: {exc}")
        return None

    def _watch(self, app: RunningApp, dyno: RunningDyno, proc: Process, port: int | None) -> None:
        """The dyno runs: reset its per-boot record, and watch its output and its exit."""
        state = self.state
        dyno.proc = proc
        dyno.port = port
        dyno.address = proc.address
        dyno.started = state.now()
        dyno.partial = b""
        dyno.oom_seen = 0
        dyno.bucket = self.output.new_bucket()
        if state.options.cycle_interval > 0 and not dyno.one_off:
            jitter = state.rng.uniform(0, state.options.cycle_jitter)
            dyno.cycle_at = state.now() + state.options.cycle_interval + jitter
        state.log(dyno, f"Starting process with command `{dyno.command}`")
        loop = state.running_loop
        loop.add_reader(proc.output_fd, self.output.on_readable, dyno)
        if proc.pidfd >= 0:
            loop.add_reader(proc.pidfd, self.on_exit, dyno)
        if dyno.type != "web":
            # Only web dynos must bind a port; the others are up once they run.
            state.set_state(dyno, DynoState.UP)
            dyno.ever_up = True
            state.dirty.add(app.app_id)

    def _crashed_without_process(self, dyno: RunningDyno, message: str) -> None:
        self.state.log(dyno, message)
        dyno.failure = f"{dyno.name}: {message}"
        if dyno.one_off:
            self.finish_one_off(dyno, 1)
            return
        self._crash(dyno, 1)

    # -- stop -------------------------------------------------------------------------

    def stop(self, dyno: RunningDyno, reason: str) -> None:
        state = self.state
        dyno.stopping = True
        dyno.stop_reason = reason
        if reason == "idle":
            state.log(dyno, "Idling")
        elif reason == "cycle":
            state.log(dyno, "Cycling")
        if dyno.proc is None:
            if dyno.attach_url and state.rendezvous is not None:
                state.rendezvous.cancel(dyno.attach_url)
            state.set_state(dyno, DynoState.DOWN)
            state.remove(dyno)
            return
        if (
            dyno.type == "web"
            and dyno.state == DynoState.UP
            and reason != "shutdown"
            and state.options.drain_delay > 0
            and state.loop is not None
        ):
            state.notify_routes()
            state.loop.call_later(state.options.drain_delay, self._terminate, dyno)
            return
        self._terminate(dyno)

    def _terminate(self, dyno: RunningDyno) -> None:
        if dyno.proc is None or dyno.kill_at is not None:
            return
        self.state.log(dyno, "Stopping all processes with SIGTERM")
        dyno.proc.signal_all(signal.SIGTERM)
        dyno.kill_at = self.state.now() + self.state.options.stop_timeout

    # -- exit -------------------------------------------------------------------------

    def on_exit(self, dyno: RunningDyno) -> None:
        """The loop's reader callback for the dyno's pidfd: its main process has ended."""
        proc = dyno.proc
        if proc is None:
            return
        status = proc.exit_status()
        if status is None:
            return
        self.state.running_loop.remove_reader(proc.pidfd)
        self.output.drain(dyno)
        if proc.oom_kills() > dyno.oom_seen:
            r15(self.state, dyno, proc)
        # Everything else in the dyno goes with its main process.
        proc.kill()
        self.reap(dyno)
        self.state.log(dyno, f"Process exited with status {status}")
        if dyno.one_off:
            self.finish_one_off(dyno, status)
        elif dyno.stopping:
            self.state.set_state(
                dyno, DynoState.IDLE if dyno.stop_reason == "idle" else DynoState.DOWN
            )
            self.state.remove(dyno)
        else:
            self._crash(dyno, status)
        self.state.dirty.add(dyno.app_id)

    def reap(self, dyno: RunningDyno) -> None:
        """Stop watching the dyno's descriptors and free what it held (off the loop)."""
        proc = dyno.proc
        if proc is None:
            return
        loop = self.state.running_loop
        with contextlib.suppress(Exception):
            loop.remove_reader(proc.output_fd)
        if proc.pidfd >= 0:
            with contextlib.suppress(Exception):
                loop.remove_reader(proc.pidfd)
        dyno.proc = None
        if dyno.port is not None and dyno.state == DynoState.UP:
            self.state.notify_routes()
        dyno.port = None
        loop.run_in_executor(None, proc.release)

    def _crash(self, dyno: RunningDyno, status: int) -> None:
        options = self.state.options
        now = self.state.now()
        was_up = dyno.ever_up
        if dyno.started and now - dyno.started >= options.crash_reset_after:
            dyno.crash_count = 0
        dyno.crash_count += 1
        dyno.retry_at = now + restart_delay(options, dyno.crash_count)
        if not was_up:
            dyno.boot_failed = True
            if not dyno.failure:
                dyno.failure = (
                    f"{dyno.name} failed to bind to $PORT within "
                    f"{options.boot_timeout:.0f} seconds of launch (R10)"
                    if dyno.r10
                    else f"{dyno.name} crashed during boot (exit status {status})"
                )
        self.state.set_state(dyno, DynoState.CRASHED)
        dyno.ever_up = False

    def finish_one_off(self, dyno: RunningDyno, status: int) -> None:
        if dyno.state != DynoState.COMPLETE:
            self.state.set_state(dyno, DynoState.COMPLETE)
        self.state.remove(dyno)
        if dyno.on_exit is not None:
            dyno.on_exit(status)


def _launch_request(
    app: RunningApp, spec: AppSpec, dyno: RunningDyno, port: int | None
) -> LaunchRequest:
    release = dyno.release
    return LaunchRequest(
        dyno_id=dyno.id,
        hostname=dyno.name,
        app_id=app.app_id,
        uid=spec.uid,
        slug_archive=release.slug_archive,
        slug_checksum=release.slug_checksum,
        command=dyno.command,
        # DYNO_RAM: the dyno's memory in MB, which the JVM's profile script sizes its heap by.
        env=dyno_env(
            spec,
            release,
            dyno.name,
            dyno.id,
            port=port,
            extra={"DYNO_RAM": str(dyno.memory_mb), **dyno.env_extra},
        ),
        memory_mb=dyno.memory_mb,
        limits=dyno.limits,
        port=port,
        addon_endpoints=release.addon_endpoints,
        tty=dyno.tty,
        interactive=dyno.on_output is not None,
        columns=_int(dyno.env_extra.get("COLUMNS"), 80),
        lines=_int(dyno.env_extra.get("LINES"), 24),
    )


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default
