"""The router's coarse clock: loop time, refreshed once per sweep tick.

Timeouts are tens of seconds and are checked once per tick anyway, so request
paths read `clock.now` (an attribute) instead of calling `loop.time()` several
times per request. Log durations (connect=, service=) use the real clock.
"""

from __future__ import annotations

import asyncio


class Clock:
    __slots__ = ("_loop", "now")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.now = loop.time()

    def tick(self) -> float:
        self.now = now = self._loop.time()
        return now
