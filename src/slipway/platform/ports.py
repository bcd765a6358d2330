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
from pathlib import Path
from typing import Protocol


class SourceFetcher(Protocol):
    """Downloads a build's source archive (`source_blob.url`): `slipway.builder.fetch`."""

    def fetch(self, url: str, dest: Path, max_bytes: int) -> str:
        """Write what url serves into dest and return its SHA-256 (hex); past max_bytes, or
        when the download fails, raise a `slipway.builder.errors.BuildError` (one sentence)."""
        ...


class AppRepositories(Protocol):
    """The apps' git repositories, laid out where git/ keeps them: `slipway.git.repos`."""

    def remove(self, app_id: str) -> None:
        """Delete the app's repository; nothing when it has none."""
        ...


@dataclass
class Ports:
    """The ports of one platform; fields are added per part as its use cases need them."""

    sources: SourceFetcher | None = None
    repositories: AppRepositories | None = None
