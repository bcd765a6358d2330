"""The release phase's output reaches the platform's hooks (kept for `output_stream_url`).

The end-to-end path (a real release command, `heroku releases:output`,
`releases:retry` and the output after `releases:rollback`) is
tests/compat/test_heroku_releases.py.
"""

from __future__ import annotations

from tests.runtime.fakes import Harness, app_spec


def test_the_release_commands_lines_and_status_are_reported(h: Harness) -> None:
    h.deploy(app_spec({"web": (1, "serve"), "release": (0, "migrate")}, settled=False))
    h.until(lambda: h.hooks.settled, "the release settled")
    assert h.hooks.phase_output[1] == ["Applying 0001_initial... OK", "done"]
    assert h.hooks.phase_status[1] == 0
    assert h.hooks.settled == [(1, True, "")]


def test_a_failing_release_command_reports_its_status_and_fails_the_release(h: Harness) -> None:
    h.deploy(app_spec({"web": (1, "serve"), "release": (0, "migrate-fails")}, settled=False))
    h.until(lambda: h.hooks.settled, "the release settled")
    assert h.hooks.phase_output[1] == ["relation missing"]
    assert h.hooks.phase_status[1] == 1
    assert h.hooks.settled == [(1, False, "the release command failed with exit status 1")]
