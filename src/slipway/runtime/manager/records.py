"""What the dyno manager knows: a record per app and per dyno, and the snapshots it hands out.

`RunningApp` and `RunningDyno` live on the manager's loop thread and change
only there. Other threads get frozen copies (`DynoInfo`) or send requests
(`OneOffRequest`), and a push waits for a `ReleaseOutcome`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slipway.runtime.driver import Process
from slipway.runtime.planner import DynoFacts, DynoState, Generation
from slipway.runtime.specs import AppSpec, ReleaseSpec, SizeLimits

if TYPE_CHECKING:
    from slipway.runtime.manager.output import LineBucket


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
class DynoSample:
    """One running dyno's use of its cgroup, for the platform's metrics."""

    app_id: str
    name: str
    type: str
    memory_quota_mb: float
    rss_mb: float
    swap_mb: float
    cpu_seconds: float  # since the dyno started


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
    # Asked when the client arrives at the rendezvous: is whoever asked for this dyno
    # still allowed to attach (their token not revoked meanwhile)? None: always.
    still_allowed: Callable[[], bool] | None = None
    limits: SizeLimits | None = None


@dataclass
class RunningDyno:
    """The live record of one dyno: its process, its state and its timers."""

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
    limits: SizeLimits = field(default_factory=SizeLimits)
    port: int | None = None
    # Where the router reaches $PORT: the dyno's namespace address (or the host's loopback).
    address: str = "127.0.0.1"
    proc: Process | None = None
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
    bucket: LineBucket | None = None
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

    def info(self) -> DynoInfo:
        return DynoInfo(
            id=self.id,
            app_id=self.app_id,
            name=self.name,
            type=self.type,
            command=self.command,
            size=self.size,
            state=self.state.value,
            release_version=self.release.version,
            attach_url=self.attach_url,
            created_at=self.created_at,
            updated_at=self.updated_at,
            port=self.port,
        )


@dataclass
class RunningApp:
    """The manager's record of one app: its spec, its dynos, and where its releases stand."""

    app_id: str
    spec: AppSpec | None = None
    loaded: bool = False
    dynos: list[RunningDyno] = field(default_factory=list)
    one_offs: list[RunningDyno] = field(default_factory=list)
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

    def everyone(self) -> list[RunningDyno]:
        """Formation and one-off dynos alike."""
        return [*self.dynos, *self.one_offs]
