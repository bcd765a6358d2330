"""Pushes waiting for their release: release-phase lines as they come, then the outcome.

A waiter is registered on the loop and read from the pushing thread through a
queue, so the push streams `remote:` lines while the loop carries on.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slipway.runtime.manager.records import ReleaseOutcome


@dataclass
class Waiter:
    version: int
    events: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)

    def wait(self, on_line: Callable[[str], None], timeout: float) -> ReleaseOutcome:
        """Block (in the caller's thread) until the outcome arrives or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ReleaseOutcome(False, "timed out waiting for the new dynos")
            try:
                kind, value = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if kind == "line":
                on_line(value)
            else:
                assert isinstance(value, ReleaseOutcome)
                return value


class ReleaseWaiters:
    """Every app's waiters; used on the loop's thread only."""

    def __init__(self) -> None:
        self._waiters: dict[str, list[Waiter]] = {}

    def add(self, app_id: str, waiter: Waiter) -> None:
        self._waiters.setdefault(app_id, []).append(waiter)

    def resolve(self, app_id: str, settled: dict[int, str], reason: str) -> None:
        waiters = self._waiters.get(app_id, [])
        for waiter in list(waiters):
            status = settled.get(waiter.version)
            if status is None:
                continue
            waiters.remove(waiter)
            message = reason if status != "succeeded" else ""
            waiter.events.put(("done", ReleaseOutcome(status == "succeeded", message)))

    def tell(self, app_id: str, version: int, line: str) -> None:
        for waiter in self._waiters.get(app_id, []):
            if waiter.version == version:
                waiter.events.put(("line", line))
