"""What the platform asks of the parts around it, wired in by the server's composition root.

The API calls `platform/` only. Where a use case needs something another part
does (the dyno manager, the router's feed, Logplex, add-on providers, a source
download), it reaches it through a port held here: a Protocol the other part
satisfies, set once by `slipway.server` when it builds the parts. A port that
is not wired (a test platform, a server without a dyno manager) is None, and
the use case answers with `Unavailable` instead of failing obscurely.

Each port is the narrowest interface its use cases need, so the platform is
testable with small fakes and the parts behind it can change freely.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from slipway.runtime.manager import DynoInfo, OneOffRequest


class DynoRuntime(Protocol):
    """The dyno manager, as the dyno use cases (`platform/dynos.py`) see it."""

    def dynos(self, app_id: str) -> list[DynoInfo]: ...

    def restart(
        self, app_id: str, *, ptype: str | None = None, name: str | None = None
    ) -> None: ...

    def stop(self, app_id: str, *, ptype: str | None = None, name: str | None = None) -> None: ...

    def run(self, app_id: str, request: OneOffRequest) -> DynoInfo: ...


class RouterFeed(Protocol):
    """What the router's control link reads and reports (`platform/router_feed.py`)."""

    def route_table(self) -> list[dict[str, Any]]: ...

    def add_route_listener(self, listener: Callable[[], None]) -> None:
        """`listener` is called, from another thread, whenever the table may have changed."""
        ...

    def remove_route_listener(self, listener: Callable[[], None]) -> None: ...

    def wait_loaded(self, timeout: float) -> bool:
        """Block until every app known at start is in the table (an empty first table
        would make the router answer "no such app" for all of them)."""
        ...

    def activity(self, last_requests: dict[str, float]) -> None: ...

    def wake(self, app_id: str) -> None: ...


@dataclass
class Ports:
    """The ports of one platform; fields are added per part as its use cases need them."""

    dyno_runtime: DynoRuntime | None = None
    router_feed: RouterFeed | None = None
