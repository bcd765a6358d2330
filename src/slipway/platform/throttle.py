"""Wrong-password throttling: failures counted per key (an account, an address) in a window.

Kept in memory: a restart forgets the counts, which costs an attacker a restart
of the server they cannot cause, and keeps sign-in free of store writes.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable


class FailureThrottle:
    def __init__(self, window: float, monotonic: Callable[[], float]) -> None:
        self.window = window
        self._monotonic = monotonic
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, key: str, limit: int) -> float | None:
        """Seconds until `key` may try again, when it has used up `limit`; else None."""
        now = self._monotonic()
        with self._lock:
            times = self._recent(key, now)
            if len(times) < limit:
                return None
            return times[len(times) - limit] + self.window - now

    def fail(self, key: str) -> None:
        now = self._monotonic()
        with self._lock:
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
