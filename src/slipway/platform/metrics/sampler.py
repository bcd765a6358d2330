"""The sampler: every few seconds, each running dyno's memory and CPU from its cgroup.

One thread; it asks the `dyno_samples` port (the dyno manager) and hands what it
reads to the collector, then flushes it, so a quiet app's memory still reaches the
store. A platform without the port samples nothing.
"""

from __future__ import annotations

import logging
import threading

from slipway.platform.tx import Platform

log = logging.getLogger("slipway.metrics")


class Sampler:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-sampler", daemon=True)

    def start(self) -> None:
        if self._platform.settings.metrics:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        try:
            self._platform.metrics.flush()
        except Exception:  # the store may already be gone at shutdown
            log.debug("last metrics flush failed", exc_info=True)

    def sample_once(self) -> int:
        port = self._platform.ports.dyno_samples
        if port is None:
            return 0
        found = port.samples()
        collector = self._platform.metrics
        for s in found:
            collector.observe_sample(
                s.app_id,
                s.name,
                s.type,
                rss_mb=s.rss_mb,
                swap_mb=s.swap_mb,
                quota_mb=s.memory_quota_mb,
                cpu_seconds=s.cpu_seconds,
            )
        collector.flush()
        return len(found)

    def _run(self) -> None:
        interval = self._platform.settings.metrics_sample_interval
        while not self._stop.wait(interval):
            try:
                self.sample_once()
            except Exception:
                log.exception("sampling the dynos' memory and CPU failed")
