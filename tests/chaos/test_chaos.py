"""Five rounds of bench/chaos.py: a scripted workload while kill -9 hits a random Slipway
process (server, router, add-on server, dyno; a build in push rounds), with every
invariant checked after each round. The 50-round run is `bench/chaos.py`."""

from __future__ import annotations

import os

import pytest
from bench.chaos import run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the chaos checks read cgroups and netns")


@pytest.mark.chaos
def test_five_rounds_of_kill_9_break_no_invariant() -> None:
    # Each kind of process once (a build in the push round), each at a random moment.
    report = run(rounds=5, seed=int.from_bytes(os.urandom(4), "big"), say=print, cycle=True)
    print(report.summary())
    assert report.rounds == 5
    assert report.faults.get("server") == 1, report.faults
    assert sum(report.faults.values()) >= 4, report.faults
    assert not report.violations, report.violations
