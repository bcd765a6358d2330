"""One-off dynos (`heroku run`): detached ones log like any dyno, attached ones meet their client.

An attached dyno waits (R13 after `attach_timeout`) until the client connects
to the rendezvous listener with the dyno's secret; only then does it boot, on
a PTY when the client has a terminal. Output goes to the client as it comes;
the client's input goes to the dyno, ^D ends a piped stdin, and a client that
hangs up sends SIGHUP to the dyno. When the command ends, the client gets its
exit status in Heroku's marker line. The release phase is a one-off too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import Sequence

from slipway.runtime.driver import Process
from slipway.runtime.errors import DynoRejected
from slipway.runtime.manager.lifecycle import DynoLifecycle
from slipway.runtime.manager.records import DynoInfo, OneOffRequest, RunningApp, RunningDyno
from slipway.runtime.manager.state import LoopState
from slipway.runtime.planner import DynoState, Generation
from slipway.runtime.specs import AppSpec, ProcessSpec, ReleaseSpec, SizeLimits

# Heroku's `run --exit-code` line (cli-contract.md §6): the dyno's status, sent last.
EXIT_MARKER = "\uffff heroku-command-exit-status:"


class OneOffs:
    def __init__(self, state: LoopState, lifecycle: DynoLifecycle) -> None:
        self.state = state
        self.lifecycle = lifecycle

    def new_dyno(
        self,
        app: RunningApp,
        release: ReleaseSpec,
        ptype: str,
        command: str,
        formation: Sequence[ProcessSpec],
        *,
        size: str | None = None,
        memory_mb: int | None = None,
        limits: SizeLimits | None = None,
    ) -> RunningDyno:
        """A one-off's record (`run.4721`), sized like the web dynos unless told otherwise."""
        taken = {d.index for d in app.one_offs if d.type == ptype}
        index = self.state.rng.randint(1000, 9999)
        while index in taken:
            index = self.state.rng.randint(1000, 9999)
        default = next((p for p in formation if p.type == "web"), None)
        now = self.state.wall()
        dyno = RunningDyno(
            id=str(uuid.uuid4()),
            app_id=app.app_id,
            type=ptype,
            index=index,
            generation=Generation(release.version, 0, size or "basic"),
            command=command,
            size=size or (default.size if default else "basic"),
            memory_mb=memory_mb or (default.memory_mb if default else 512),
            limits=limits or (default.limits if default else SizeLimits()),
            release=release,
            created_at=now,
            updated_at=now,
            one_off=True,
        )
        app.one_offs.append(dyno)
        return dyno

    async def run(self, app_id: str, request: OneOffRequest) -> DynoInfo:
        state = self.state
        app = state.app(app_id)
        if not app.loaded:
            app.spec = await state.running_loop.run_in_executor(None, state.hooks.load_app, app_id)
            app.loaded = True
        spec = app.spec
        if spec is None or spec.current is None:
            raise DynoRejected("This app has no release to run yet; deploy it with git push first.")
        dyno = self.new_dyno(
            app,
            spec.current,
            request.type,
            request.command,
            spec.formation,
            size=request.size,
            memory_mb=request.memory_mb,
            limits=request.limits,
        )
        dyno.env_extra = dict(request.env)
        dyno.tty = request.tty and request.attach
        ttl = request.time_to_live or state.options.one_off_ttl
        dyno.deadline = state.now() + ttl
        if not request.attach:
            state.log(dyno, "State changed from down to starting")
            await self.lifecycle.boot(app, spec, dyno)
            if dyno.proc is not None:
                state.set_state(dyno, DynoState.UP)
            return dyno.info()
        if state.rendezvous is None:
            state.remove(dyno)
            raise DynoRejected("Attached one-off dynos need the rendezvous listener.")

        async def attach(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if request.still_allowed is not None and not request.still_allowed():
                writer.write(b"Access to this app was revoked; the dyno was not started.\r\n")
                await writer.drain()
                state.log(dyno, "Attach refused: the token that asked for it was revoked")
                state.remove(dyno)
                return
            await self._attached(app, spec, dyno, reader, writer)

        dyno.attach_url = state.rendezvous.expect(attach)
        state.log(dyno, "Awaiting client")
        state.spawn(self._attach_deadline(dyno))
        return dyno.info()

    async def _attach_deadline(self, dyno: RunningDyno) -> None:
        state = self.state
        await asyncio.sleep(state.options.attach_timeout)
        if dyno.proc is None and not dyno.stopping and dyno.state == DynoState.STARTING:
            state.log(dyno, "Error R13 (Attach error) -> Failed to attach to process")
            if dyno.attach_url and state.rendezvous is not None:
                state.rendezvous.cancel(dyno.attach_url)
            self.lifecycle.finish_one_off(dyno, 1)

    async def _attached(
        self,
        app: RunningApp,
        spec: AppSpec,
        dyno: RunningDyno,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Pipe a client's connection to the dyno's terminal until the command ends."""
        out: asyncio.Queue[bytes | None] = asyncio.Queue()
        finished: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        dyno.on_output = out.put_nowait
        dyno.on_exit = lambda status: resolve(finished, status)
        await self.lifecycle.boot(app, spec, dyno)
        if dyno.proc is None:
            writer.write(f"Could not start the dyno: {dyno.failure}\r\n".encode())
            await writer.drain()
            return
        self.state.set_state(dyno, DynoState.UP)
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
            if finished.done():
                # The official CLI reads this line with or without `-x` and exits with
                # the status, so an interactive shell ended with ^D reports the shell's.
                # A bare LF (no CR), so the CLI strips the line from a terminal too.
                writer.write(f"{EXIT_MARKER} {finished.result()}\n".encode())
            await writer.drain()

    async def _feed_input(
        self, dyno: RunningDyno, proc: Process, reader: asyncio.StreamReader
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
            self.state.log(dyno, "Client connection closed. Sending SIGHUP to all processes")
            proc.signal_all(signal.SIGHUP)
            dyno.kill_at = self.state.now() + self.state.options.stop_timeout
            dyno.stopping = True


def resolve(future: asyncio.Future[int], value: int) -> None:
    if not future.done():
        future.set_result(value)
