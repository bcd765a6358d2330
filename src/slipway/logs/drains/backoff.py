"""How long a drain's sender tries to connect, and waits after a failure before retrying."""

from __future__ import annotations

CONNECT_TIMEOUT = 5.0
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 30.0


def next_delay(delay: float) -> float:
    """The wait after one more failure: doubling from BACKOFF_INITIAL up to BACKOFF_MAX."""
    return BACKOFF_INITIAL if delay == 0 else min(delay * 2, BACKOFF_MAX)
