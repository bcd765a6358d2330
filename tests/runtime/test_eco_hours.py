"""Eco hours on a scripted clock: eco dyno time is charged every minute; at the limit, sleep.

The real path (a server with a 3.6 s pool charged every half second, the
`ps` quota line, and back to basic) is tests/dynos/test_eco.py::
test_eco_apps_sleep_when_the_pool_runs_out. Here the charges are checked to
the second, and what the manager does when the platform says the pool is empty.
"""

from __future__ import annotations

from dataclasses import replace

from tests.runtime.fakes import APP, Harness, app_spec


def _eco_app(h: Harness) -> None:
    h.deploy(app_spec({"web": (1, "serve"), "worker": (1, "hang")}, size="eco", eco=True))
    h.until(lambda: h.states() == ["web.1:up", "worker.1:up"], "two eco dynos up")


def test_eco_dyno_time_is_charged_every_minute(h: Harness) -> None:
    _eco_app(h)
    h.clock.advance(59.5)
    h.rounds()
    assert h.hooks.eco == []
    h.clock.advance(0.5)
    h.rounds()
    # A minute of two eco dynos.
    assert h.hooks.eco == [120.0]
    h.clock.advance(90)
    h.rounds()
    assert h.hooks.eco == [120.0, 180.0]


def test_basic_dynos_use_no_eco_hours(h: Harness) -> None:
    h.deploy(app_spec({"web": (1, "serve")}))
    h.until(lambda: h.states() == ["web.1:up"], "web.1 up")
    h.clock.advance(600)
    h.rounds()
    assert h.hooks.eco == []


def test_eco_apps_sleep_when_the_pool_runs_out(h: Harness) -> None:
    _eco_app(h)
    h.deploy(replace(h.hooks.specs[APP], quota_exhausted=True))
    h.until(lambda: h.states() == [], "the dynos stopped")
    assert h.route()["state"] == "quota"
    assert "Idling" in h.hooks.log("heroku[web.1]")
    assert "Idling" in h.hooks.log("heroku[worker.1]")
    # No request wakes it: only eco hours (or a size that never sleeps) do.
    h.manager.wake(APP)
    h.rounds()
    assert h.states() == []
    charged = list(h.hooks.eco)
    h.clock.advance(120)
    h.rounds()
    assert h.hooks.eco == charged
    # Back to a size that never sleeps: the app runs again.
    h.deploy(app_spec({"web": (1, "serve"), "worker": (1, "hang")}, version=2))
    h.until(lambda: h.states() == ["web.1:up", "worker.1:up"], "back on basic")
    assert h.route()["state"] == "up"
