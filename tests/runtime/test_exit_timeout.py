"""R12 on a scripted clock: SIGTERM, then SIGKILL for what is left after 30 seconds.

The real path (a dyno that traps SIGTERM and one that ignores it, with the
test server's 2 s grace) is tests/dynos/test_lifecycle.py::
test_sigterm_then_sigkill_after_the_grace_period. Here the default 30 s is
checked to the second.
"""

from __future__ import annotations

import signal

from tests.runtime.fakes import Harness, app_spec


def test_a_dyno_that_ignores_sigterm_is_killed_after_the_grace_period(h: Harness) -> None:
    h.deploy(app_spec({"stubborn": (1, "hang")}))
    h.until(lambda: h.states() == ["stubborn.1:up"], "stubborn.1 up")
    stubborn = h.driver.running("stubborn.1")
    stubborn.on_sigterm = None
    h.deploy(app_spec({"stubborn": (0, "hang")}))
    h.until(lambda: stubborn.signals == [signal.SIGTERM], "SIGTERM sent")
    h.clock.advance(29.5)
    h.rounds()
    assert stubborn.status is None
    h.clock.advance(0.5)
    h.until(lambda: h.states() == [], "stubborn.1 gone")
    assert h.hooks.log("heroku[stubborn.1]")[-5:] == [
        "Stopping all processes with SIGTERM",
        "Error R12 (Exit timeout) -> At least one process failed to exit within 30 seconds "
        "of SIGTERM",
        "Stopping remaining processes with SIGKILL",
        "Process exited with status 137",
        "State changed from up to down",
    ]


def test_a_dyno_that_exits_on_sigterm_is_down_at_once(h: Harness) -> None:
    h.deploy(app_spec({"graceful": (1, "hang")}))
    h.until(lambda: h.states() == ["graceful.1:up"], "graceful.1 up")
    h.deploy(app_spec({"graceful": (0, "hang")}))
    h.until(lambda: h.states() == [], "graceful.1 gone")
    assert h.hooks.log("heroku[graceful.1]")[-3:] == [
        "Stopping all processes with SIGTERM",
        "Process exited with status 143",
        "State changed from up to down",
    ]
