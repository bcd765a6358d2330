"""The reconciler's brain: desired state x running dynos -> the next steps. Pure.

Nothing here touches a process, a clock or a file; `manager.py` gathers the
facts, calls `plan` and carries the steps out. Planning runs again after every
change (a release, a scale, a restart, a crash, an exit, a server start), so a
step only has to move the app one safe step closer to what is wanted.

The rules, as Heroku's dyno manager has them:

* A pending release first runs its release phase (if the slug declares one).
* Then its web dynos boot beside the old ones (preboot). Only when every one of
  them is up is the release promoted (it becomes current and the router moves
  to it); then the old web dynos are stopped. If a new web dyno crashes or
  misses its boot deadline first, the release fails and the old dynos keep
  serving. With preboot switched off (`heroku labs:disable preboot`) the old
  web dynos stop as the new ones start, as on Heroku without preboot; a
  release that fails then brings the old release's dynos back.
* Other process types follow a release once it is current, one dyno after
  another: stop the old `worker.1`, start the new one, then `worker.2`.
* Dynos beyond the formation's quantity stop; missing ones start.
* A crashed dyno is started again when its back-off has passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class DynoState(StrEnum):
    STARTING = "starting"
    UP = "up"
    CRASHED = "crashed"
    DOWN = "down"
    IDLE = "idle"
    COMPLETE = "complete"


@dataclass(frozen=True)
class Generation:
    """What a dyno runs. A dyno whose generation differs from the wanted one is replaced."""

    version: int
    restart: int
    size: str


@dataclass(frozen=True)
class DynoFacts:
    id: str
    type: str
    index: int
    generation: Generation
    state: DynoState
    stopping: bool = False
    # Crashed before it was ever up (a crash during boot, or R10).
    boot_failed: bool = False
    failure: str = ""
    retry_due: bool = False
    # Marked for replacement on its own (ps:restart web.1, daily cycling).
    outdated: bool = False

    def runs(self, wanted: Generation) -> bool:
        return self.generation == wanted and not self.outdated


@dataclass(frozen=True)
class Desired:
    version: int
    settled: bool
    # The release phase has succeeded, or the slug has none.
    phase_done: bool
    formation: Mapping[str, tuple[int, str]]  # type -> (quantity, size)
    restarts: Mapping[str, int]  # type -> restart generation
    asleep: bool = False
    # New web dynos boot beside the old ones; off, the old ones stop as they start.
    preboot: bool = True

    def generation(self, ptype: str) -> Generation:
        _, size = self.formation.get(ptype, (0, ""))
        return Generation(self.version, self.restarts.get(ptype, 0), size)


@dataclass(frozen=True)
class Start:
    type: str
    index: int
    generation: Generation


@dataclass(frozen=True)
class Stop:
    dyno_id: str
    reason: str  # "scale", "replaced", "failed-release", "idle"


@dataclass(frozen=True)
class Revive:
    dyno_id: str


@dataclass(frozen=True)
class RunReleasePhase:
    version: int


@dataclass(frozen=True)
class Promote:
    version: int


@dataclass(frozen=True)
class Fail:
    version: int
    reason: str


Step = Start | Stop | Revive | RunReleasePhase | Promote | Fail


def plan(desired: Desired | None, dynos: Iterable[DynoFacts]) -> list[Step]:
    """The steps that move the app's dynos towards `desired` (None: run nothing)."""
    live = [d for d in dynos if not d.stopping]
    if desired is None:
        return [Stop(d.id, "scale") for d in live]
    if desired.asleep:
        return [Stop(d.id, "idle") for d in live]
    if not desired.settled:
        return _plan_rollout(desired, live)
    return _plan_settled(desired, live)


def _plan_rollout(desired: Desired, live: list[DynoFacts]) -> list[Step]:
    """A pending release: release phase, then preboot its web dynos; nothing else moves yet."""
    if not desired.phase_done:
        return [RunReleasePhase(desired.version)]
    web_quantity, _ = desired.formation.get("web", (0, ""))
    wanted = desired.generation("web")
    steps: list[Step] = []
    new_web = [d for d in live if d.type == "web" and d.runs(wanted)]
    failed = [d for d in new_web if d.boot_failed]
    if failed:
        reason = failed[0].failure or f"{failed[0].type}.{failed[0].index} did not come up"
        return [Fail(desired.version, reason), *(Stop(d.id, "failed-release") for d in new_web)]
    if not desired.preboot:
        steps += [Stop(d.id, "replaced") for d in live if d.type == "web" and not d.runs(wanted)]
    up = 0
    for index in range(1, web_quantity + 1):
        mine = [d for d in new_web if d.index == index]
        if not mine:
            steps.append(Start("web", index, wanted))
        elif any(d.state == DynoState.UP for d in mine):
            up += 1
    if up == web_quantity:
        steps.append(Promote(desired.version))
    return steps


def _plan_settled(desired: Desired, live: list[DynoFacts]) -> list[Step]:
    steps: list[Step] = []
    types = sorted(set(desired.formation) | {d.type for d in live})
    for ptype in types:
        quantity, _ = desired.formation.get(ptype, (0, ""))
        mine = [d for d in live if d.type == ptype]
        steps += [Stop(d.id, "scale") for d in mine if d.index > quantity]
        wanted = desired.generation(ptype)
        in_range = [d for d in mine if d.index <= quantity]
        if ptype == "web":
            steps += _preboot(wanted, quantity, in_range, desired.preboot)
        else:
            steps += _one_after_another(ptype, wanted, quantity, in_range)
    return steps


def _preboot(
    wanted: Generation, quantity: int, dynos: list[DynoFacts], preboot: bool = True
) -> list[Step]:
    """Web dynos: the replacement boots first; the old one stops once it is up (without
    preboot, the old one stops as the replacement starts)."""
    steps: list[Step] = []
    for index in range(1, quantity + 1):
        current = [d for d in dynos if d.index == index and d.runs(wanted)]
        old = [d for d in dynos if d.index == index and not d.runs(wanted)]
        if not current:
            if not preboot:
                steps += [Stop(d.id, "replaced") for d in old]
            steps.append(Start("web", index, wanted))
            continue
        if any(d.state == DynoState.UP for d in current):
            steps += [Stop(d.id, "replaced") for d in old]
        steps += [Revive(d.id) for d in current if d.state == DynoState.CRASHED and d.retry_due]
        # Two of the wanted generation (a revived duplicate): keep the first.
        steps += [Stop(d.id, "scale") for d in current[1:]]
    return steps


def _one_after_another(
    ptype: str, wanted: Generation, quantity: int, dynos: list[DynoFacts]
) -> list[Step]:
    """Other types: replace one dyno at a time, so a worker pool never empties at once."""
    steps: list[Step] = []
    busy = False
    for index in range(1, quantity + 1):
        current = [d for d in dynos if d.index == index and d.runs(wanted)]
        old = [d for d in dynos if d.index == index and not d.runs(wanted)]
        steps += [Revive(d.id) for d in current if d.state == DynoState.CRASHED and d.retry_due]
        steps += [Stop(d.id, "scale") for d in current[1:]]
        if current and not old:
            if current[0].state == DynoState.STARTING:
                busy = True
            continue
        if busy:
            continue
        if old:
            # Stop first; the new one starts on the next pass, once the old one has exited.
            steps += [Stop(d.id, "replaced") for d in old]
            busy = True
        elif not current:
            steps.append(Start(ptype, index, wanted))
            if any(not d.runs(wanted) for d in dynos):
                busy = True
    return steps
