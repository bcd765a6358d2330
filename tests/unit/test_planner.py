"""The reconciler's pure planning: each rule of the dyno manager, without a process."""

from __future__ import annotations

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
    Stop,
    plan,
)

UP, STARTING, CRASHED = DynoState.UP, DynoState.STARTING, DynoState.CRASHED
V1, V2 = Generation(1, 0, "basic"), Generation(2, 0, "basic")


def desired(
    version: int = 2,
    *,
    settled: bool = True,
    phase: bool = True,
    preboot: bool = True,
    **formation: int,
) -> Desired:
    return Desired(
        version=version,
        settled=settled,
        phase_done=phase,
        formation={t: (q, "basic") for t, q in formation.items()},
        restarts={},
        preboot=preboot,
    )


def dyno(
    ident: str,
    gen: Generation = V2,
    state: DynoState = UP,
    *,
    stopping: bool = False,
    boot_failed: bool = False,
    failure: str = "",
    retry_due: bool = False,
) -> DynoFacts:
    """web.1 of release 2 gets the id `web.12`."""
    ptype, index = ident.split(".")
    return DynoFacts(
        id=ident + str(gen.version),
        type=ptype,
        index=int(index),
        generation=gen,
        state=state,
        stopping=stopping,
        boot_failed=boot_failed,
        failure=failure,
        retry_due=retry_due,
    )


def test_a_fresh_formation_starts_every_dyno() -> None:
    assert plan(desired(web=2, worker=1), []) == [
        Start("web", 1, V2),
        Start("web", 2, V2),
        Start("worker", 1, V2),
    ]


def test_scaling_down_stops_the_highest_indexes() -> None:
    steps = plan(desired(web=1), [dyno("web.1"), dyno("web.2"), dyno("worker.1")])
    assert steps == [Stop("web.22", "scale"), Stop("worker.12", "scale")]


def test_a_pending_release_runs_its_release_phase_first() -> None:
    assert plan(desired(settled=False, phase=False, web=1), [dyno("web.1", V1)]) == [
        RunReleasePhase(2)
    ]


def test_preboot_starts_new_web_dynos_beside_the_old_and_promotes_when_all_are_up() -> None:
    old = [dyno("web.1", V1), dyno("web.2", V1)]
    assert plan(desired(settled=False, web=2), old) == [Start("web", 1, V2), Start("web", 2, V2)]
    booting = [*old, dyno("web.1", V2, STARTING), dyno("web.2", V2)]
    assert plan(desired(settled=False, web=2), booting) == []
    up = [*old, dyno("web.1", V2), dyno("web.2", V2)]
    assert plan(desired(settled=False, web=2), up) == [Promote(2)]
    # Once promoted (settled), the old ones stop.
    assert plan(desired(web=2), up) == [Stop("web.11", "replaced"), Stop("web.21", "replaced")]


def test_without_preboot_the_old_web_dynos_stop_as_the_new_ones_start() -> None:
    old = [dyno("web.1", V1), dyno("web.2", V1)]
    assert plan(desired(settled=False, preboot=False, web=2), old) == [
        Stop("web.11", "replaced"),
        Stop("web.21", "replaced"),
        Start("web", 1, V2),
        Start("web", 2, V2),
    ]
    gone = [dyno("web.1", V1, stopping=True), dyno("web.1", V2, STARTING), dyno("web.2", V2)]
    assert plan(desired(settled=False, preboot=False, web=2), gone) == []
    # A restart (settled, outdated dyno) also stops the old one first.
    outdated = DynoFacts("old", "web", 1, V2, UP, outdated=True)
    assert plan(desired(preboot=False, web=1), [outdated]) == [
        Stop("old", "replaced"),
        Start("web", 1, V2),
    ]


def test_a_new_web_dyno_that_fails_to_boot_fails_the_release_and_keeps_the_old() -> None:
    dynos = [
        dyno("web.1", V1),
        dyno("web.1", V2, CRASHED, boot_failed=True, failure="web.1 crashed during boot"),
    ]
    assert plan(desired(settled=False, web=1), dynos) == [
        Fail(2, "web.1 crashed during boot"),
        Stop("web.12", "failed-release"),
    ]


def test_workers_are_replaced_one_after_another() -> None:
    old = [dyno("worker.1", V1), dyno("worker.2", V1)]
    assert plan(desired(worker=2), old) == [Stop("worker.11", "replaced")]
    # worker.1 stopping (not live), so its replacement starts; worker.2 waits.
    stopping = [dyno("worker.1", V1, stopping=True), dyno("worker.2", V1)]
    assert plan(desired(worker=2), stopping) == [Start("worker", 1, V2)]
    replaced_first = [dyno("worker.1", V2), dyno("worker.2", V1)]
    assert plan(desired(worker=2), replaced_first) == [Stop("worker.21", "replaced")]


def test_a_crashed_dyno_is_revived_only_when_its_back_off_is_over() -> None:
    waiting = [dyno("web.1", V2, CRASHED, retry_due=False)]
    assert plan(desired(web=1), waiting) == []
    due = [dyno("web.1", V2, CRASHED, retry_due=True)]
    assert plan(desired(web=1), due) == [Revive("web.12")]


def test_restarting_one_dyno_or_cycling_replaces_it_with_preboot() -> None:
    old = DynoFacts("old", "web", 1, V2, UP, outdated=True)
    assert plan(desired(web=1), [old]) == [Start("web", 1, V2)]
    new = DynoFacts("new", "web", 1, V2, STARTING)
    assert plan(desired(web=1), [old, new]) == []
    up = DynoFacts("new", "web", 1, V2, UP)
    assert plan(desired(web=1), [old, up]) == [Stop("old", "replaced")]


def test_a_sleeping_app_and_a_gone_app_stop_everything() -> None:
    running = [dyno("web.1"), dyno("worker.1")]
    asleep = Desired(2, True, True, {"web": (1, "eco")}, {}, asleep=True)
    assert plan(asleep, running) == [Stop("web.12", "idle"), Stop("worker.12", "idle")]
    assert plan(None, running) == [Stop("web.12", "scale"), Stop("worker.12", "scale")]
