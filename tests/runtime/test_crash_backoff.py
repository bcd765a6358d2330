"""Crash back-off on a scripted clock: the first restart at once, then 10 s, 20 s ... capped.

The real path, with a real crashing dyno and the test server's 1 s back-off,
is tests/dynos/test_lifecycle.py::test_a_crash_loop_restarts_at_once_then_backs_off.
Here the defaults (10 s doubling to 20 min, reset after 10 min up) are checked
to the second, without waiting for them.
"""

from __future__ import annotations

from slipway.runtime.manager import RuntimeOptions
from slipway.runtime.manager.health import restart_delay
from tests.runtime.fakes import Harness, app_spec


def _restarts(h: Harness) -> int:
    return h.hooks.log("heroku[crash.1]").count("State changed from crashed to starting")


def test_restart_delays_double_from_the_base_up_to_the_cap() -> None:
    options = RuntimeOptions()
    delays = [restart_delay(options, n) for n in range(1, 11)]
    assert delays == [0, 10, 20, 40, 80, 160, 320, 640, 1200, 1200]


def test_a_crash_loop_restarts_at_once_then_backs_off(h: Harness) -> None:
    h.deploy(app_spec({"crash": (1, "crash")}))
    h.until(lambda: len(h.driver.of("crash.1")) == 2, "the first crash and its restart")
    h.until(lambda: h.states() == ["crash.1:crashed"], "the second crash")
    # The first restart came at once; the second waits 10 s.
    assert _restarts(h) == 1
    h.clock.advance(9.5)
    h.rounds()
    assert len(h.driver.of("crash.1")) == 2
    h.clock.advance(0.5)
    h.until(lambda: len(h.driver.of("crash.1")) == 3, "the restart after 10 s")
    h.until(lambda: h.states() == ["crash.1:crashed"], "the third crash")
    # Then 20 s.
    h.clock.advance(19.5)
    h.rounds()
    assert len(h.driver.of("crash.1")) == 3
    h.clock.advance(0.5)
    h.until(lambda: len(h.driver.of("crash.1")) == 4, "the restart after 20 s")
    crash = h.hooks.log("heroku[crash.1]")
    assert crash.count("Process exited with status 3") >= 3
    assert "State changed from up to crashed" in crash
    assert _restarts(h) == 3


def test_a_dyno_that_ran_ten_minutes_before_crashing_starts_its_back_off_afresh(
    h: Harness,
) -> None:
    h.deploy(app_spec({"crash": (1, "hang")}))
    h.until(lambda: h.states() == ["crash.1:up"], "crash.1 up")
    h.driver.running("crash.1").exit(3)
    h.until(lambda: len(h.driver.of("crash.1")) == 2, "the immediate restart")
    h.until(lambda: h.states() == ["crash.1:up"], "crash.1 up again")
    # Second crash soon after: the back-off's 10 s.
    h.driver.running("crash.1").exit(3)
    h.until(lambda: h.states() == ["crash.1:crashed"], "the second crash")
    h.clock.advance(10)
    h.until(lambda: h.states() == ["crash.1:up"], "the restart after 10 s")
    # Up for ten minutes: the next crash counts as a first one again.
    h.clock.advance(10 * 60)
    h.driver.running("crash.1").exit(3)
    h.until(lambda: len(h.driver.of("crash.1")) == 4, "an immediate restart")
    assert _restarts(h) == 3
