"""Idling and wake on a scripted clock: 30 minutes without a request, then the next one.

The real path (an app that sleeps, idled after 3 s by the test server, woken
by a request through the router) is tests/dynos/test_routing.py::
test_a_sleeping_app_wakes_on_the_next_request. Here Heroku's 30 minutes are
checked to the second, and the router's activity reports push the idle time out.
"""

from __future__ import annotations

from tests.runtime.fakes import APP, Harness, app_spec

HALF_AN_HOUR = 30 * 60


def _sleeping_app(h: Harness) -> None:
    h.deploy(app_spec({"web": (1, "serve")}, sleeps=True))
    h.until(lambda: h.states() == ["web.1:up"], "web.1 up")


def test_an_app_that_sleeps_idles_after_half_an_hour_without_a_request(h: Harness) -> None:
    _sleeping_app(h)
    h.clock.advance(HALF_AN_HOUR - 1)
    h.rounds()
    assert h.states() == ["web.1:up"]
    assert h.route()["state"] == "up"
    h.clock.advance(1)
    h.until(lambda: h.states() == [], "web.1 idled")
    assert h.route() == {
        "id": APP,
        "name": "scripted",
        "maintenance": False,
        "domains": [],
        "state": "idle",
        "dynos": [],
    }
    web = h.hooks.log("heroku[web.1]")
    assert web[-4:] == [
        "Idling",
        "Stopping all processes with SIGTERM",
        "Process exited with status 143",
        "State changed from up to idle",
    ]


def test_requests_the_router_reports_keep_the_app_awake(h: Harness) -> None:
    _sleeping_app(h)
    h.clock.advance(HALF_AN_HOUR - 60)
    h.manager.activity({APP: h.clock.unix()})
    h.clock.advance(HALF_AN_HOUR - 1)
    h.rounds()
    assert h.states() == ["web.1:up"]
    h.clock.advance(1)
    h.until(lambda: h.states() == [], "web.1 idled")


def test_the_next_request_wakes_it(h: Harness) -> None:
    _sleeping_app(h)
    h.clock.advance(HALF_AN_HOUR)
    h.until(lambda: h.route()["state"] == "idle" and h.states() == [], "web.1 idled")
    h.manager.wake(APP)
    h.until(lambda: h.states() == ["web.1:up"], "web.1 awake")
    assert h.route()["state"] == "up"
    web = h.hooks.log("heroku[web.1]")
    assert web[web.index("Unidling") :][:2] == ["Unidling", "State changed from idle to starting"]
    # Awake, its idle clock starts again from the wake.
    h.clock.advance(HALF_AN_HOUR - 1)
    h.rounds()
    assert h.states() == ["web.1:up"]


def test_apps_that_do_not_sleep_never_idle(h: Harness) -> None:
    h.deploy(app_spec({"web": (1, "serve")}))
    h.until(lambda: h.states() == ["web.1:up"], "web.1 up")
    h.clock.advance(10 * HALF_AN_HOUR)
    h.rounds()
    assert h.states() == ["web.1:up"]
    h.manager.wake(APP)
    h.rounds()
    assert "Unidling" not in h.hooks.log("heroku[web.1]")
