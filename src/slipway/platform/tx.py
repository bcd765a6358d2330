"""A unit of work: one store transaction plus the clock and settings it runs with."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from slipway.platform.browser_login import BrowserLogins
from slipway.platform.clock import Clock, SystemClock
from slipway.platform.errors import Conflict
from slipway.platform.events import AccessChanged, AppLog, Event, EventBus
from slipway.platform.metrics.collector import MetricsCollector
from slipway.platform.passwords import Passwords
from slipway.platform.ports import Ports
from slipway.platform.settings import PlatformSettings
from slipway.platform.throttle import FailureThrottle
from slipway.store import Store


@dataclass
class Tx:
    session: Session
    clock: Clock
    settings: PlatformSettings
    rng: random.Random
    ports: Ports
    passwords: Passwords
    # Announced only once the transaction has committed: a rolled-back change
    # never shows up in an app's log stream.
    events: list[Event] = field(default_factory=list)
    # The platform that opened this transaction: what outlives it (a grant checked when a
    # one-off dyno's client arrives) needs the platform, not the finished transaction.
    platform: Platform | None = None

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def log(self, app_id: str, message: str, *, source: str = "app", process: str = "api") -> None:
        self.emit(AppLog(app_id, source, process, message))


class Platform:
    """Opens transactions. Every use case in this package runs inside one."""

    def __init__(
        self,
        store: Store,
        settings: PlatformSettings | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        ports: Ports | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or PlatformSettings()
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.SystemRandom()
        self.bus = EventBus()
        # Set by the composition root once the parts behind them exist.
        self.ports = ports or Ports()
        s = self.settings
        self.passwords = Passwords(
            s.password_hash_time, s.password_hash_memory, s.password_min_length
        )
        # Wrong passwords, per account and per address (platform/signin.py).
        self.sign_in_failures = FailureThrottle(s.login_failure_window, self.clock.monotonic)
        # Browser logins waiting for the person to sign in (platform/browser_login.py).
        self.browser_logins = BrowserLogins(self.clock.monotonic)
        # Bumped after every committed access change: open streams compare it to know
        # when to look at their grant again (platform/access.Grant.still_valid).
        self.access_epoch = 0
        # Requests, memory and CPU per app and process type (platform/metrics).
        self.metrics = MetricsCollector(self, enabled=s.metrics)
        self.bus.subscribe(self._count_access_change)

    def _count_access_change(self, event: Event) -> None:
        if isinstance(event, AccessChanged):
            self.access_epoch += 1

    @contextlib.contextmanager
    def tx(self) -> Iterator[Tx]:
        """Commit when the block ends; roll back everything if it raises."""
        try:
            with self.store.session() as session:
                tx = Tx(
                    session,
                    self.clock,
                    self.settings,
                    self.rng,
                    self.ports,
                    self.passwords,
                    platform=self,
                )
                yield tx
        except IntegrityError as exc:
            # A unique constraint lost a race with another request (two creates
            # of one app name, two releases numbered alike): nothing was written.
            raise Conflict(
                "Another change to the same resource happened at the same time; try again."
            ) from exc
        for event in tx.events:
            self.bus.publish(event)
