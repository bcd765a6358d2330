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

from dataclasses import dataclass
from typing import Protocol


@dataclass
class Ports:
    """The ports of one platform; fields are added per part as its use cases need them."""

    # Whether a drain URL's host accepts connections (`slipway.logs.drains.ReachabilityProbe`).
    drain_probe: DrainProbe | None = None


class DrainProbe(Protocol):
    """Asked once before a drain is added: a drain that can never deliver is refused."""

    def unreachable(self, url: str) -> str | None:
        """None when the host and port of a valid drain URL accept a TCP connection, else
        one sentence saying why not; blocking network I/O."""
        ...
