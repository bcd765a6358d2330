"""The router's feed: the route table it serves from, and what it reports back.

The router process keeps its own copy of the table, streamed to it by the
API's internal endpoint; it sends back its request lines (for the apps' log
streams, as `heroku[router]`) and when each app last had a request (which
drives idling), and asks for a sleeping app to be woken. All of it goes
through the `router_feed` port; a server without a dyno manager has none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from slipway.platform.errors import Unavailable
from slipway.platform.events import AppLog
from slipway.platform.ports import RouterFeed
from slipway.platform.tx import Platform


def _feed(platform: Platform) -> RouterFeed:
    feed = platform.ports.router_feed
    if feed is None:
        raise Unavailable("This server runs no dyno manager.")
    return feed


def ensure_available(platform: Platform) -> None:
    """Answer `Unavailable` now, before a stream of tables begins, if there is no feed."""
    _feed(platform)


def route_table(platform: Platform, version: int) -> dict[str, Any]:
    """One table of the stream: every app's state and up web dynos, numbered `version`."""
    apps = _feed(platform).route_table()
    table: dict[str, Any] = {
        "version": version,
        "base_domain": platform.settings.base_domain,
        "apps": apps,
        "services": [
            {"host": host, "address": address, "https_only": https_only}
            for host, address, https_only in platform.settings.services
        ],
    }
    certificates = platform.ports.certificates
    if certificates is not None:
        table["certificates"] = certificates.router_entries()
        responder = certificates.acme_responder
        if responder is not None:
            table["acme_responder"] = responder
    return table


@contextlib.contextmanager
def watching(platform: Platform, on_change: Callable[[], None]) -> Iterator[None]:
    """Call `on_change` (from another thread) whenever the table may have changed."""
    feed = _feed(platform)
    certificates = platform.ports.certificates
    feed.add_route_listener(on_change)
    if certificates is not None:
        certificates.add_listener(on_change)
    try:
        yield
    finally:
        feed.remove_route_listener(on_change)
        if certificates is not None:
            certificates.remove_listener(on_change)


def wait_until_loaded(platform: Platform, timeout: float) -> bool:
    """Right after a start, block until every app is in the table (or `timeout` passes)."""
    return _feed(platform).wait_loaded(timeout)


def report(
    platform: Platform, lines: Iterable[tuple[str, str]], activity: Mapping[str, float]
) -> int:
    """The router's request lines and each app's last request time; returns the line count."""
    feed = _feed(platform)
    batch = list(lines)
    for app_id, line in batch:
        platform.bus.publish(AppLog(app_id, "heroku", "router", line))
    # Each line is also a measurement: status class, H-code, service time, process type.
    platform.metrics.observe_lines(batch)
    if activity:
        feed.activity(dict(activity))
    return len(batch)


def wake(platform: Platform, app_id: str) -> None:
    """A request arrived for a sleeping app: start its dynos again."""
    _feed(platform).wake(app_id)
