"""Per-account token bucket, as Heroku's API: a full bucket of 4500, refilled at 75 a minute."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self, capacity: int, refill_per_second: float, monotonic: Callable[[], float]
    ) -> None:
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self._monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> int | None:
        """Spend one token. Returns what is left, or None when the bucket is empty."""
        now = self._monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.capacity), now)
            bucket.tokens = min(
                self.capacity, bucket.tokens + (now - bucket.updated) * self.refill_per_second
            )
            bucket.updated = now
            if bucket.tokens < 1:
                return None
            bucket.tokens -= 1
            return int(bucket.tokens)
