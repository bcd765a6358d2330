"""What the dyno manager asks of a driver: unpack a slug, launch a dyno, watch its processes.

`local.LocalDriver` is the one driver today (sandboxed process trees on this
machine). The manager is written against these Protocols, not against it, so
a test can hand it a driver whose processes exit, bind or use memory on cue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from slipway.runtime.specs import SizeLimits


@dataclass(frozen=True)
class Usage:
    rss_bytes: int
    swap_bytes: int
    cpu_seconds: float


@dataclass(frozen=True)
class LaunchRequest:
    dyno_id: str
    hostname: str
    app_id: str
    uid: int
    slug_archive: Path
    slug_checksum: str
    command: str
    env: Mapping[str, str]
    memory_mb: int
    # A PTY for an attached one-off whose client has a terminal; else pipes.
    tty: bool = False
    # Keep stdin open for an attached client (pipes when tty is False).
    interactive: bool = False
    columns: int = 80
    lines: int = 24
    limits: SizeLimits = field(default_factory=SizeLimits)
    # The web dyno's $PORT, which the router (and only the router) may reach.
    port: int | None = None
    # The add-on servers this dyno may reach (its release's add-on endpoints).
    addon_endpoints: tuple[tuple[str, int], ...] = ()


class Process(Protocol):
    """A launched dyno: descriptors the loop watches, and signals to its process tree."""

    # The dyno's stdout and stderr (or its PTY), non-blocking.
    output_fd: int
    # Where an attached client's input goes; None once closed (or never open).
    input_fd: int | None
    # Readable once the main process has exited; -1 where pidfds are not supported.
    pidfd: int

    @property
    def address(self) -> str:
        """Where the router reaches the dyno's $PORT: its network namespace's address."""
        ...

    def listening_ports(self) -> set[int] | None:
        """TCP ports listening in the dyno's own network namespace on an address the router
        reaches (not loopback); None: it shares the host's."""
        ...

    def loopback_only_ports(self) -> set[int]:
        """Ports the dyno listens on in its own namespace on loopback alone (for R10's hint)."""
        ...

    def signal_all(self, sig: int) -> None: ...

    def kill(self) -> None: ...

    def exit_status(self) -> int | None: ...

    def memory_bytes(self) -> int | None: ...

    def usage(self) -> Usage | None:
        """Resident memory, swap and CPU time so far, from the dyno's cgroup (metrics)."""
        ...

    def oom_kills(self) -> int: ...

    def release(self) -> None:
        """Close descriptors and free what the dyno held on the host (called off the loop)."""
        ...


class Driver(Protocol):
    # R15 kills at this multiple of the memory quota.
    hard_limit_factor: float

    def prepare_slug(self, app_id: str, uid: int, archive: Path, checksum: str) -> Path:
        """Unpack a release's slug (once) and return where it is; called off the loop."""
        ...

    def launch(self, request: LaunchRequest, lower: Path) -> Process: ...

    def forget_app(self, app_id: str) -> None: ...


__all__ = ["Driver", "LaunchRequest", "Process"]
