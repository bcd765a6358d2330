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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slipway.addons.provider import Provider


@dataclass
class Ports:
    """The ports of one platform; fields are added per part as its use cases need them."""

    # The add-on providers by service name (`slipway.addons.Provider`, wired from
    # `start_addons`). Empty is a platform with no add-on services: its catalogue is
    # empty, and a use case that needs a service's provider says it is not available.
    addons: Mapping[str, Provider] = field(default_factory=dict)
