"""Pure: which host names need a certificate now, and the back-off after a failure.

A certificate is renewed 30 days before it expires, or after two thirds of its
life when it lives less than 90 days (a short-lived certificate must not be
"due" from the moment it is issued). Failures back off exponentially from
`retry_min`, capped at a day; after `MAX_ATTEMPTS` failures in a row the host is
`failed` and only tried once a day (or at once on `certs:auto:refresh`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

RENEW_BEFORE = dt.timedelta(days=30)
MAX_BACKOFF = dt.timedelta(days=1)
MAX_ATTEMPTS = 5

# Heroku's acm_status values (what `heroku certs:auto` shows).
PENDING = "pending"
ISSUED = "cert issued"
FAILING = "failing"
FAILED = "failed"


@dataclass(frozen=True)
class HostState:
    hostname: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    # The current certificate's validity, if it has one.
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None


def renew_at(not_before: dt.datetime, not_after: dt.datetime) -> dt.datetime:
    life = not_after - not_before
    return not_after - min(RENEW_BEFORE, life / 3)


def is_due(host: HostState, now: dt.datetime) -> bool:
    """Whether to ask the CA for `host` now."""
    if host.next_attempt_at is not None and now < host.next_attempt_at:
        return False  # backing off
    if host.not_after is None or host.not_before is None:
        return True
    return now >= renew_at(host.not_before, host.not_after)


def due(hosts: Iterable[HostState], now: dt.datetime) -> list[str]:
    return sorted(h.hostname for h in hosts if is_due(h, now))


def backoff(attempts: int, retry_min: dt.timedelta) -> dt.timedelta:
    """The wait after the `attempts`-th failure in a row: doubling, at most a day."""
    if attempts >= MAX_ATTEMPTS:
        return MAX_BACKOFF
    wait: dt.timedelta = retry_min * (2 ** max(0, attempts - 1))
    return min(MAX_BACKOFF, wait)


def after_failure(attempts: int) -> str:
    return FAILED if attempts >= MAX_ATTEMPTS else FAILING


def covered(hostname: str, names: Iterable[str]) -> bool:
    """Whether a certificate for `names` serves `hostname` (exact, or a one-label wildcard)."""
    host = hostname.lower()
    for name in names:
        name = name.lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False
