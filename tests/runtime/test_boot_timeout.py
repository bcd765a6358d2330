"""R10 on a scripted clock: a web dyno that has not bound $PORT in 60 s is killed.

The real path (a release whose web dyno never binds, with the test server's
4 s boot timeout) is tests/dynos/test_lifecycle.py::
test_new_dynos_that_never_bind_leave_the_old_ones_serving. Here the default
60 s is checked to the second: the release fails, the old dyno keeps serving.
"""

from __future__ import annotations

from tests.runtime.fakes import Harness, app_spec

R10 = "Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 60 seconds of launch"


def test_a_web_dyno_that_binds_in_time_is_up(h: Harness) -> None:
    h.deploy(app_spec({"web": (1, "serve")}))
    h.until(lambda: h.states() == ["web.1:up"], "web.1 up")
    port = h.route()["dynos"][0]["port"]
    assert h.driver.running("web.1").request.env["PORT"] == str(port)
    assert h.route()["state"] == "up"
    web = h.hooks.log("heroku[web.1]")
    assert web == [
        "State changed from down to starting",
        "Starting process with command `serve`",
        "State changed from starting to up",
    ]


def test_new_dynos_that_never_bind_leave_the_old_ones_serving(h: Harness) -> None:
    v1 = app_spec({"web": (1, "serve")})
    h.deploy(v1)
    h.until(lambda: h.states() == ["web.1:up"], "v1's web.1 up")
    serving = h.route()["dynos"]
    h.deploy(app_spec({"web": (1, "hang")}, version=2, settled=False, current=v1.release))
    h.until(lambda: h.launches("web.1") == 2, "v2's web.1 launched")
    new = h.driver.running("web.1")
    h.clock.advance(59.5)
    h.rounds()
    assert new.status is None
    assert R10 not in h.hooks.log("heroku[web.1]")
    h.clock.advance(0.5)
    h.until(lambda: h.hooks.settled, "v2 settled")
    assert h.hooks.settled == [
        (2, False, "web.1 failed to bind to $PORT within 60 seconds of launch (R10)")
    ]
    assert new.status == 137
    web = h.hooks.log("heroku[web.1]")
    assert web[web.index(R10) :][:3] == [
        R10,
        "Stopping process with SIGKILL",
        "Process exited with status 137",
    ]
    h.until(lambda: h.states() == ["web.1:up"], "only v1's web.1 left")
    assert h.route()["dynos"] == serving
    assert h.driver.running("web.1") is h.driver.of("web.1")[0]


def test_a_first_release_that_never_binds_fails(h: Harness) -> None:
    h.deploy(app_spec({"web": (1, "hang")}, settled=False))
    h.until(lambda: h.launches("web.1") == 1, "web.1 launched")
    assert h.route()["state"] == "starting"
    h.clock.advance(60)
    h.until(lambda: h.hooks.settled, "v1 settled")
    assert h.hooks.settled[0][:2] == (1, False)
