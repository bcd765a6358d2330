"""Background priority for the router's batch work: formatting its router lines.

The router formats a few hundred lines at a time (reports.py). Run at the normal
priority, each batch holds a core for a millisecond or two, and on a small machine a
HAProxy thread or a dyno woken meanwhile waits for the scheduler's next turn: the
router's p99 on one connection rose from 0.3 ms to about 1.6 ms (bench/router.py,
2 cores). Under SCHED_IDLE the kernel places and runs any normal task ahead of the
batch at once, so the batch only uses a core nobody else wants. The calling thread
switches for the batch and back afterwards, so requests the router serves itself
keep the normal priority; a backlog that grows too long is formatted at the normal
priority (the caller decides), so no line is lost to a busy machine.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator

log = logging.getLogger("slipway.router")


def _can_switch_back() -> bool:
    """Whether this process may leave SCHED_IDLE again (root, or RLIMIT_NICE allows it):
    tried in a thread of its own, since a thread that cannot switch back stays idle."""
    if not hasattr(os, "SCHED_IDLE"):
        return False
    result: list[bool] = []

    def trial() -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=trial, name="slipway-priority-trial")
    thread.start()
    thread.join()
    return result == [True]


class BackgroundPriority:
    """`with priority():` runs the block under SCHED_IDLE where the system lets this
    process return to the normal policy; elsewhere it runs the block unchanged."""

    def __init__(self) -> None:
        self.enabled = _can_switch_back()

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        try:
            yield
        finally:
            try:
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
            except OSError as exc:  # not expected after the trial; never stay idle silently
                log.warning("cannot leave background priority: %s", exc)
                self.enabled = False
