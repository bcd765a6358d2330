"""Daily cycling on a scripted clock: each dyno is replaced once a day, plus some jitter.

No end-to-end test waits a day. The replacement itself (the new web dyno
boots beside the old, which stops only once the new one is up) is the
restart path of tests/dynos/test_lifecycle.py::
test_preboot_moves_to_new_dynos_only_once_they_are_up; cycling is what marks
a dyno for it, and that is what this module checks, with Heroku's 24 hours
and up to 216 minutes of jitter (the random source here picks the middle: 108).
"""

from __future__ import annotations

from pathlib import Path

from tests.runtime.fakes import Harness, app_spec, running_manager

DUE = 24 * 3600 + 108 * 60


def test_a_web_dyno_is_cycled_with_preboot_after_a_day(h: Harness) -> None:
    h.deploy(app_spec({"web": (1, "serve")}))
    h.until(lambda: h.states() == ["web.1:up"], "web.1 up")
    old = h.driver.running("web.1")
    h.clock.advance(DUE - 1)
    h.rounds()
    assert "Cycling" not in h.hooks.log("heroku[web.1]")
    h.clock.advance(1)
    h.until(lambda: len(h.driver.of("web.1")) == 2, "the replacement launched")
    h.until(lambda: old.status is not None and h.states() == ["web.1:up"], "the old one gone")
    new = h.driver.running("web.1")
    assert h.route()["dynos"][0]["port"] == int(new.request.env["PORT"])
    web = h.hooks.log("heroku[web.1]")
    cycling = web.index("Cycling")
    assert web[cycling + 1 :][:2] == [
        "State changed from down to starting",
        "Starting process with command `serve`",
    ]
    # The old dyno is stopped only once the new one is up.
    assert web.index("State changed from starting to up", cycling) < web.index(
        "Stopping all processes with SIGTERM", cycling
    )


def test_workers_are_cycled_too_and_cycling_repeats(h: Harness) -> None:
    h.deploy(app_spec({"worker": (1, "hang")}))
    h.until(lambda: h.states() == ["worker.1:up"], "worker.1 up")
    h.clock.advance(DUE)
    h.until(lambda: len(h.driver.of("worker.1")) == 2, "the first cycle")
    h.until(lambda: h.states() == ["worker.1:up"], "worker.1 up again")
    h.clock.advance(DUE - 1)
    h.rounds()
    assert len(h.driver.of("worker.1")) == 2
    h.clock.advance(1)
    h.until(lambda: len(h.driver.of("worker.1")) == 3, "the second cycle")
    assert h.hooks.log("heroku[worker.1]").count("Cycling") == 2


def test_an_interval_of_zero_turns_cycling_off(tmp_path: Path) -> None:
    with running_manager(tmp_path, cycle_interval=0) as h:
        h.deploy(app_spec({"web": (1, "serve")}))
        h.until(lambda: h.states() == ["web.1:up"], "web.1 up")
        h.clock.advance(10 * DUE)
        h.rounds()
        assert len(h.driver.of("web.1")) == 1
        assert "Cycling" not in h.hooks.log("heroku[web.1]")
