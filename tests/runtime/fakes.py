"""Stand-ins for what the dyno manager is given: a scripted clock, processes and hooks.

These are fakes, and say so: the real paths are proven end to end by
`tests/dynos/` (real slugs, real sandboxed dynos, a real server). Here the
manager gets them through its constructor (`driver=`, `monotonic=`, `wall=`,
`rng=`), as honcho's tests give its manager `_clock` and `_process_ctor`, so a
back-off of minutes or an idle timer of half an hour runs in milliseconds and
the same way every time.

A fake process is real where that costs nothing: its output and its exit are
pipes the manager's loop watches like a real dyno's, and a web dyno binds a
real socket on its $PORT, which the manager finds in /proc/net/tcp.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from slipway.runtime.driver import LaunchRequest, Usage
from slipway.runtime.manager import DynoManager, RuntimeOptions
from slipway.runtime.specs import AppSpec, ProcessSpec, ReleaseSpec

APP = "0b5c6d0e-0000-4000-8000-000000000001"
EPOCH = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


class ScriptedClock:
    """Time that moves only when the test says so; monotonic and wall move together."""

    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t

    def wall(self) -> dt.datetime:
        return EPOCH + dt.timedelta(seconds=self.t)

    def unix(self) -> float:
        return self.wall().timestamp()

    def advance(self, seconds: float) -> None:
        self.t += seconds


class MidpointRandom(random.Random):
    """Random choices, except jitter: always the middle of its range."""

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


class FakeProcess:
    """A launched dyno whose main process exits, binds or grows when the test says."""

    def __init__(self, request: LaunchRequest) -> None:
        self.request = request
        self.output_fd, self._out_w = os.pipe()
        os.set_blocking(self.output_fd, False)
        self.pidfd, self._exit_w = os.pipe()
        self.input_fd: int | None = None
        self.status: int | None = None
        self.signals: list[int] = []
        self.memory: int | None = None
        self.ooms = 0
        # The exit status SIGTERM leads to; None: the process ignores it.
        self.on_sigterm: int | None = 143
        self.released = False
        # Fakes listen on the host's loopback, as dynos without a namespace do.
        self.address = "127.0.0.1"
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.request.hostname

    def bind(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", int(self.request.env["PORT"])))
        listener.listen()
        self._listener = listener

    def say(self, text: str) -> None:
        os.write(self._out_w, text.encode() + b"\n")

    def script(self, lines: list[str], status: int) -> None:
        """Print `lines`, then exit with `status`."""
        for line in lines:
            self.say(line)
        self.exit(status)

    def exit(self, status: int) -> None:
        with self._lock:
            if self.status is not None:
                return
            self.status = status
            if self._listener is not None:
                self._listener.close()
            os.write(self._exit_w, b"x")

    # -- what the manager calls (driver.Process) ---------------------------------------

    def listening_ports(self) -> set[int] | None:
        return None

    def loopback_only_ports(self) -> set[int]:
        return set()

    def signal_all(self, sig: int) -> None:
        self.signals.append(sig)
        if sig == signal.SIGTERM and self.on_sigterm is not None:
            self.exit(self.on_sigterm)

    def kill(self) -> None:
        self.exit(137)

    def exit_status(self) -> int | None:
        return self.status

    def memory_bytes(self) -> int | None:
        return self.memory

    def usage(self) -> Usage | None:
        return None if self.memory is None else Usage(self.memory, 0, 0.0)

    def oom_kills(self) -> int:
        return self.ooms

    def release(self) -> None:
        with self._lock:
            if self.released:
                return
            self.released = True
            for fd in (self.output_fd, self._out_w, self.pidfd, self._exit_w):
                os.close(fd)


# What a command does as soon as it is launched.
PROGRAMS: dict[str, Callable[[FakeProcess], None]] = {
    "serve": FakeProcess.bind,  # a web process that binds $PORT at once
    "crash": lambda proc: proc.exit(3),  # exits with status 3 at once
    "hang": lambda proc: None,  # runs, never binds
    # A release command: prints two lines, then exits 0 (or 1).
    "migrate": lambda proc: proc.script(["Applying 0001_initial... OK", "done"], 0),
    "migrate-fails": lambda proc: proc.script(["relation missing"], 1),
}


class FakeDriver:
    hard_limit_factor = 2.0

    def __init__(self, root: Path) -> None:
        self.root = root
        self.launched: list[FakeProcess] = []

    def prepare_slug(self, app_id: str, uid: int, archive: Path, checksum: str) -> Path:
        return self.root

    def launch(self, request: LaunchRequest, lower: Path) -> FakeProcess:
        proc = FakeProcess(request)
        self.launched.append(proc)
        PROGRAMS[request.command](proc)
        return proc

    def forget_app(self, app_id: str) -> None:
        pass

    def of(self, name: str) -> list[FakeProcess]:
        """Every process launched for dyno `name`, oldest first."""
        return [p for p in self.launched if p.name == name]

    def running(self, name: str) -> FakeProcess:
        return next(p for p in reversed(self.of(name)) if p.status is None)


@dataclass
class FakeHooks:
    """The platform's side: specs to hand out, and what the manager reported back."""

    specs: dict[str, AppSpec] = field(default_factory=dict)
    lines: list[tuple[str, str, str]] = field(default_factory=list)
    settled: list[tuple[int, bool, str]] = field(default_factory=list)
    eco: list[float] = field(default_factory=list)
    # The release phase's output and exit status, by release version.
    phase_output: dict[int, list[str]] = field(default_factory=dict)
    phase_status: dict[int, int] = field(default_factory=dict)

    def load_app(self, app_id: str) -> AppSpec | None:
        return self.specs.get(app_id)

    def app_ids(self) -> list[str]:
        return list(self.specs)

    def settle(self, app_id: str, version: int, ok: bool, reason: str) -> dict[int, str]:
        """As the store does: a promoted release becomes current, a failed one is skipped."""
        self.settled.append((version, ok, reason))
        spec = self.specs[app_id]
        if ok:
            self.specs[app_id] = replace(spec, settled=True, current=spec.release)
        elif spec.current is not None:
            self.specs[app_id] = replace(spec, release=spec.current, settled=True)
        else:
            del self.specs[app_id]
        return {version: "succeeded" if ok else "failed"}

    def publish(self, app_id: str, source: str, process: str, message: str) -> None:
        self.lines.append((source, process, message))

    def eco_seconds(self, app_id: str, seconds: float) -> None:
        self.eco.append(seconds)

    def app_stub(self, app_id: str) -> tuple[str, bool, tuple[str, ...]] | None:
        return None

    def release_phase_started(self, app_id: str, version: int) -> None:
        self.phase_output.setdefault(version, [])

    def release_phase_line(self, app_id: str, version: int, line: str) -> None:
        self.phase_output.setdefault(version, []).append(line)

    def release_phase_ended(self, app_id: str, version: int, status: int) -> None:
        self.phase_status[version] = status

    def log(self, source: str) -> list[str]:
        """The messages of one source, e.g. `heroku[web.1]`."""
        return [m for s, p, m in list(self.lines) if f"{s}[{p}]" == source]


def release(version: int, commands: Mapping[str, str]) -> ReleaseSpec:
    return ReleaseSpec(
        version=version,
        slug_archive=Path("/nonexistent/slug.tgz"),
        slug_checksum="SHA256:" + "0" * 64,
        config={},
        process_types=dict(commands),
        commit=None,
        created_at=EPOCH.isoformat(),
        description=f"Deploy v{version}",
    )


def app_spec(
    formation: Mapping[str, tuple[int, str]],
    *,
    version: int = 1,
    size: str = "basic",
    settled: bool = True,
    current: ReleaseSpec | None = None,
    **extra: Any,
) -> AppSpec:
    """An app whose formation maps each type to (quantity, command)."""
    target = release(version, {t: c for t, (_, c) in formation.items()})
    processes = tuple(ProcessSpec(t, c, q, size, 512) for t, (q, c) in formation.items())
    return AppSpec(
        app_id=APP,
        app_name="scripted",
        uid=20001,
        release=target,
        settled=settled,
        current=target if settled else current,
        formation=processes,
        **extra,
    )


@dataclass
class Harness:
    """A DynoManager on fakes; `until` runs the manager's rounds until a condition holds."""

    clock: ScriptedClock
    driver: FakeDriver
    hooks: FakeHooks
    manager: DynoManager

    def until(self, check: Callable[[], object], what: str) -> None:
        # A bound in real time only so that a broken test fails instead of hanging: the
        # manager's timers read the scripted clock, which does not move while this runs.
        deadline = time.monotonic() + 10
        while True:
            self.manager.tick()
            if check():
                return
            if time.monotonic() > deadline:
                shown = "\n".join(f"{s}[{p}]: {m}" for s, p, m in self.hooks.lines[-30:])
                raise AssertionError(f"never happened: {what}\n--- recent lines:\n{shown}")

    def rounds(self, count: int = 5) -> None:
        """Several rounds with the clock standing still (to show that nothing happens)."""
        for _ in range(count):
            self.manager.tick()

    def launches(self, name: str) -> int:
        """How often dyno `name` was launched, counted once the manager has recorded it.

        (The driver's own list grows a moment earlier, before the manager notes when
        the dyno started: a test that moved the clock then would move the start too.)
        """
        lines = self.hooks.log(f"heroku[{name}]")
        return sum(line.startswith("Starting process with command") for line in lines)

    def deploy(self, spec: AppSpec) -> None:
        self.hooks.specs[APP] = spec
        self.manager.converge(APP)

    def states(self) -> list[str]:
        return sorted(f"{d.name}:{d.state}" for d in self.manager.dynos(APP))

    def route(self) -> dict[str, Any]:
        return next(a for a in self.manager.route_table() if a["id"] == APP)


@contextlib.contextmanager
def running_manager(tmp_path: Path, **options: Any) -> Iterator[Harness]:
    """A started manager with Heroku's default timers, ticked only by the test."""
    clock = ScriptedClock()
    driver = FakeDriver(tmp_path)
    hooks = FakeHooks()
    # tick: the loop's own rounds come an hour of real time apart, so only the test's run.
    # drain_delay: 0 (a real-time delay), so a web dyno's SIGTERM follows its stop at once.
    settings: dict[str, Any] = {"tick": 3600.0, "drain_delay": 0.0, **options}
    manager = DynoManager(
        driver,
        hooks,
        RuntimeOptions(**settings),
        monotonic=clock.monotonic,
        wall=clock.wall,
        rng=MidpointRandom(7),
    )
    manager.start()
    try:
        yield Harness(clock, driver, hooks, manager)
    finally:
        manager.close(timeout=1)
