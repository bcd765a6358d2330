"""R14 and R15 on a scripted clock: memory over the quota is logged, twice the quota kills.

The real path (a dyno that allocates past its cgroup's limit) is
tests/dynos/test_lifecycle.py::test_a_dyno_past_twice_its_memory_is_killed_with_r15.
Here the fake process reports its memory, so the intervals (checked every 2 s,
R14 at most every 20 s) are checked to the second.
"""

from __future__ import annotations

from tests.runtime.fakes import Harness, app_spec

MB = 1024 * 1024


def test_memory_over_the_quota_is_r14_every_twenty_seconds(h: Harness) -> None:
    h.deploy(app_spec({"hog": (1, "hang")}))
    h.until(lambda: h.states() == ["hog.1:up"], "hog.1 up")
    h.driver.running("hog.1").memory = 600 * MB
    h.clock.advance(2)
    h.rounds()
    hog = h.hooks.log("heroku[hog.1]")
    assert hog[-2:] == ["Process running mem=600MB(117.2%)", "Error R14 (Memory quota exceeded)"]
    h.clock.advance(18)
    h.rounds()
    assert h.hooks.log("heroku[hog.1]").count("Error R14 (Memory quota exceeded)") == 1
    h.clock.advance(2)
    h.rounds()
    assert h.hooks.log("heroku[hog.1]").count("Error R14 (Memory quota exceeded)") == 2
    assert h.states() == ["hog.1:up"]


def test_an_oom_kill_is_r15_and_the_dyno_restarts(h: Harness) -> None:
    h.deploy(app_spec({"hog": (1, "hang")}))
    h.until(lambda: h.states() == ["hog.1:up"], "hog.1 up")
    hog = h.driver.running("hog.1")
    hog.ooms = 1
    h.clock.advance(2)
    h.until(lambda: len(h.driver.of("hog.1")) == 2, "hog.1 restarted")
    assert hog.status == 137
    lines = h.hooks.log("heroku[hog.1]")
    r15 = lines.index("Error R15 (Memory quota vastly exceeded)")
    assert lines[r15 - 1 : r15 + 3] == [
        "Process running mem=1024MB(200.0%)",
        "Error R15 (Memory quota vastly exceeded)",
        "Stopping process with SIGKILL",
        "Process exited with status 137",
    ]
