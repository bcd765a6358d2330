"""Preboot (a labs feature, on unless switched off): new web dynos boot beside the old.

With it, the old web dyno keeps serving until its replacement is up; without it, the
old one is stopped as the new one starts, as on Heroku without preboot. The CLI path
(`heroku labs:disable preboot`, `heroku features`) is tests/compat/test_heroku_everyday.py.
"""

from __future__ import annotations

import signal
from dataclasses import replace

from tests.runtime.fakes import Harness, app_spec


def _deploy_a_web_dyno_that_does_not_bind_yet(h: Harness, preboot: bool) -> None:
    v1 = replace(app_spec({"web": (1, "serve")}), preboot=preboot)
    h.deploy(v1)
    h.until(lambda: h.states() == ["web.1:up"], "v1's web.1 up")
    v2 = app_spec({"web": (1, "hang")}, version=2, settled=False, current=v1.release)
    h.deploy(replace(v2, preboot=preboot))
    h.until(lambda: h.launches("web.1") == 2, "v2's web.1 launched")


def test_with_preboot_the_old_web_dyno_serves_until_the_new_one_is_up(h: Harness) -> None:
    _deploy_a_web_dyno_that_does_not_bind_yet(h, preboot=True)
    old = h.driver.of("web.1")[0]
    h.rounds()
    assert old.signals == []
    assert sorted(h.states()) == ["web.1:starting", "web.1:up"]


def test_without_preboot_the_old_web_dyno_stops_as_the_new_one_starts(h: Harness) -> None:
    _deploy_a_web_dyno_that_does_not_bind_yet(h, preboot=False)
    old = h.driver.of("web.1")[0]
    h.until(lambda: old.signals == [signal.SIGTERM], "the old web.1 got SIGTERM")
    h.until(lambda: h.states() == ["web.1:starting"], "only the new web.1 is left")
    h.driver.running("web.1").bind()
    h.until(lambda: h.hooks.settled, "v2 settled")
    assert h.hooks.settled == [(2, True, "")]
