"""The platform's clock-driven work: scheduler jobs, scheduled backups, add-on limits.

One thread, woken every `tick` seconds: scheduler jobs whose time has come are
started; every `slow_every` seconds, scheduled backups are captured and add-on
limits checked. At start every schedule's next run is computed from now, so
nothing missed while the platform was down is replayed (Heroku's behaviour).
`tick_once(now)` is the whole of one round, for tests with a scripted clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from slipway.options import option
from slipway.platform.addons import backup_schedules, limits
from slipway.platform.scheduler import jobs
from slipway.platform.tx import Platform

log = logging.getLogger("slipway.ticker")


@dataclass(frozen=True)
class TickerOptions:
    tick: float = option(
        5.0,
        "--scheduler-tick",
        "Seconds between checks for scheduler jobs that are due.",
        min=0.1,
        max=60,
    )
    slow_every: float = option(
        60.0,
        "--addon-check-interval",
        "Seconds between checks of add-on limits and scheduled backups.",
        min=1,
    )


class Ticker:
    def __init__(self, platform: Platform, options: TickerOptions | None = None) -> None:
        self.platform = platform
        self.options = options or TickerOptions()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_slow: dt.datetime | None = None

    def start(self) -> None:
        now = self.platform.clock.now()
        count = jobs.reschedule_all(self.platform, now)
        backup_schedules.reschedule_all(self.platform, now)
        if count:
            log.info("%d scheduler jobs, each next run from now on", count)
        self._thread = threading.Thread(target=self._run, name="ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.options.tick):
            try:
                self.tick_once(self.platform.clock.now())
            except Exception:
                log.exception("a round of the ticker failed")

    def tick_once(self, now: dt.datetime) -> None:
        jobs.run_due(self.platform, now)
        slow = dt.timedelta(seconds=self.options.slow_every)
        if self._last_slow is None or now - self._last_slow >= slow:
            self._last_slow = now
            backup_schedules.run_due(self.platform, now)
            limits.enforce_all(self.platform, now)
