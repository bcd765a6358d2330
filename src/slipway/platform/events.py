"""The platform's in-process event bus: what happened, announced after it is committed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("slipway.events")


@dataclass(frozen=True)
class AppLog:
    """A line for an app's log stream, e.g. `app[api]: Release v3 created by user a@b.c`."""

    app_id: str
    source: str
    process: str
    message: str


@dataclass(frozen=True)
class AppDestroyed:
    app_id: str


@dataclass(frozen=True)
class DrainsChanged:
    app_id: str


@dataclass(frozen=True)
class RuntimeChanged:
    """A release, formation or app setting changed: the dyno manager re-plans the app."""

    app_id: str


@dataclass(frozen=True)
class AccessChanged:
    """A token was revoked or rotated, an account disabled, or someone lost access to an
    app: open log tails and output streams re-check their grant at once."""

    account_id: str | None = None


@dataclass(frozen=True)
class CertificatesChanged:
    """A certificate was issued, added or removed: the router gets a new table."""


@dataclass(frozen=True)
class AcmRequested:
    """ACM was switched on or asked to refresh: the issuing loop looks again now."""

    app_id: str | None = None


Event = (
    AppLog
    | AppDestroyed
    | DrainsChanged
    | RuntimeChanged
    | AccessChanged
    | CertificatesChanged
    | AcmRequested
)
Listener = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def publish(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                # A broken listener must not undo or block a committed change.
                log.exception("event listener failed for %r", event)
