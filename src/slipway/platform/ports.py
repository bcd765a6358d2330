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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from slipway.addons.provider import Provider
    from slipway.runtime.manager import DynoInfo, DynoSample, OneOffRequest, ReleaseOutcome


class DynoRuntime(Protocol):
    """The dyno manager, as the dyno use cases (`platform/dynos.py`) see it."""

    def dynos(self, app_id: str) -> list[DynoInfo]: ...

    def restart(
        self, app_id: str, *, ptype: str | None = None, name: str | None = None
    ) -> None: ...

    def stop(self, app_id: str, *, ptype: str | None = None, name: str | None = None) -> None: ...

    def run(self, app_id: str, request: OneOffRequest) -> DynoInfo: ...

    def wait_release(
        self, app_id: str, version: int, on_line: Callable[[str], None]
    ) -> ReleaseOutcome:
        """Block until release `version` is promoted or failed (a push waits for this)."""
        ...


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

    # Whether a drain URL's host accepts connections (`slipway.logs.drains.ReachabilityProbe`).
    drain_probe: DrainProbe | None = None
    # Log sessions and the log stream (`slipway.logs.service.LogService` over Logplex).
    logs: LogPort | None = None
    # The add-on providers by service name (`slipway.addons.Provider`, wired from
    # `start_addons`). Empty is a platform with no add-on services: its catalogue is
    # empty, and a use case that needs a service's provider says it is not available.
    addons: Mapping[str, Provider] = field(default_factory=dict)
    # Downloads a build's source archive (`slipway.builder.fetch.HttpSourceFetcher`).
    sources: SourceFetcher | None = None
    # The apps' git repositories (`slipway.git.repos.RepoStore`).
    repositories: AppRepositories | None = None
    # The dyno manager, for the dyno use cases (`slipway.runtime.manager.DynoManager`).
    dyno_runtime: DynoRuntime | None = None
    # The route table and router reports, for /internal/router/* (the same manager).
    router_feed: RouterFeed | None = None
    # Each running dyno's memory and CPU from its cgroup, for metrics (the same manager).
    dyno_samples: DynoSamples | None = None
    # The certificates and the ACME responder the route table names
    # (`slipway.platform.acm.manager.CertificateManager`).
    certificates: CertificateFeed | None = None


class DynoSamples(Protocol):
    def samples(self) -> list[DynoSample]: ...


class Issued(Protocol):
    """What an ACME attempt came to: a certificate and its key, or why not."""

    @property
    def cert_pem(self) -> str | None: ...

    @property
    def key_pem(self) -> str | None: ...

    @property
    def error(self) -> str | None:
        """One sentence for acm_status_reason when it failed."""
        ...

    @property
    def retry_after(self) -> float | None:
        """Seconds the CA asked us to wait (Retry-After), if it said."""
        ...


class CertificateIssuer(Protocol):
    """An ACME client (`slipway.certs.acme_client.AcmeIssuer`): blocking network I/O."""

    @property
    def responder(self) -> str:
        """HOST:PORT of the HTTP-01 responder the router forwards challenges to."""
        ...

    def issue(self, hostname: str) -> Issued: ...


class CertificateFeed(Protocol):
    """The route table's `certificates` and `acme_responder` (platform/router_feed.py)."""

    def router_entries(self) -> list[dict[str, Any]]: ...

    @property
    def acme_responder(self) -> str | None: ...

    def add_listener(self, listener: Callable[[], None]) -> None:
        """`listener` is called whenever the certificates' files change."""
        ...

    def remove_listener(self, listener: Callable[[], None]) -> None: ...


class DrainProbe(Protocol):
    """Asked once before a drain is added: a drain that can never deliver is refused."""

    def unreachable(self, url: str) -> str | None:
        """None when the host and port of a valid drain URL accept a TCP connection, else
        one sentence saying why not; blocking network I/O."""
        ...


class LogEntry(Protocol):
    """One line of an app's log stream (`slipway.logs.line.LogLine`)."""

    @property
    def seq(self) -> int:
        """Orders lines within one app; the log stream's SSE id."""
        ...

    @property
    def process(self) -> str:
        """`web.1`, `router`, `api`; `logplex` for Logplex's own notices (L10, L11)."""
        ...

    def format(self) -> str:
        """The line as `heroku logs` prints it."""
        ...


class LogSessionParams(Protocol):
    """What a signed log session says to show."""

    @property
    def app_id(self) -> str: ...
    @property
    def lines(self) -> int: ...
    @property
    def tail(self) -> bool: ...
    @property
    def source(self) -> str | None: ...
    @property
    def dyno(self) -> str | None: ...
    @property
    def grant(self) -> str | None: ...


class LogTail(Protocol):
    """A live reader of one app's stream, with a bounded buffer (L11 when it overflows)."""

    async def next_batch(self, timeout: float) -> Sequence[LogEntry]:
        """What arrived, waiting up to `timeout`; [] when nothing did."""
        ...

    def close(self) -> None:
        """Stop reading; the tail no longer counts against the app's limit."""
        ...


class LogPort(Protocol):
    """Logplex as the log session use cases need it: signed sessions, history, tails.

    `source` and `dyno` filter lines as Logplex does (`web` is every web dyno)."""

    @property
    def history_limit(self) -> int:
        """How many lines of history are kept per app."""
        ...

    def issue_session(
        self,
        app_id: str,
        lines: int,
        tail: bool,
        source: str | None,
        dyno: str | None,
        grant: str | None = None,
    ) -> str:
        """A signed token naming what the session shows and the authorization it was
        made with (`grant`, re-checked while the stream is open); it needs no store."""
        ...

    def verify_session(self, token: str) -> LogSessionParams | None:
        """The session's parameters; None when the token is forged, broken or expired."""
        ...

    def kept(self, app_id: str) -> int:
        """How many lines of the app's history are kept now."""
        ...

    def evicted(self, app_id: str) -> int:
        """How many older lines of the app's history were dropped to keep the limit."""
        ...

    def recent(
        self, app_id: str, source: str | None, dyno: str | None, lines: int
    ) -> Sequence[LogEntry]:
        """The last `lines` matching lines of history, oldest first."""
        ...

    def since(
        self, app_id: str, source: str | None, dyno: str | None, seq: int
    ) -> Sequence[LogEntry]:
        """The matching lines of history after `seq`, oldest first."""
        ...

    def subscribe(self, app_id: str, source: str | None, dyno: str | None) -> LogTail | None:
        """A live tail read on the running event loop; None when the app already has
        as many live tails as Logplex allows."""
        ...
