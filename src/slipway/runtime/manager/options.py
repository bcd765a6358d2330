"""How the dyno manager is tuned (`RuntimeOptions`) and what it asks of the platform (hooks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from slipway.options import option
from slipway.runtime.specs import AppSpec


class RuntimeHooks(Protocol):
    """What the dyno manager needs from the rest of the platform (wired in server.py)."""

    def load_app(self, app_id: str) -> AppSpec | None: ...

    def app_ids(self) -> list[str]: ...

    def settle(self, app_id: str, version: int, ok: bool, reason: str) -> dict[int, str]:
        """Mark a pending release succeeded or failed; returns every version it settled."""
        ...

    def publish(self, app_id: str, source: str, process: str, message: str) -> None: ...

    def eco_seconds(self, app_id: str, seconds: float) -> None: ...

    def app_stub(self, app_id: str) -> tuple[str, bool, tuple[str, ...]] | None:
        """(name, maintenance, custom domains) of an app with nothing to run yet."""
        ...

    # The release phase's output, kept for the release's output_stream_url. Called on the
    # loop's thread: quick local writes only.
    def release_phase_started(self, app_id: str, version: int) -> None: ...

    def release_phase_line(self, app_id: str, version: int, line: str) -> None: ...

    def release_phase_ended(self, app_id: str, version: int, status: int) -> None: ...


@dataclass
class RuntimeOptions:
    """Fields with an `option(...)` are `slipway server` flags too."""

    boot_timeout: float = option(
        60.0, "--boot-timeout", "Seconds a web dyno has to bind $PORT before R10.", min=1
    )
    stop_timeout: float = option(
        30.0, "--stop-timeout", "Seconds between SIGTERM and SIGKILL (R12).", min=0
    )
    # First crash: restart at once. Then base, 2x base, 4x base ... up to the cap.
    backoff_base: float = option(
        10.0,
        "--restart-backoff",
        "Wait before the 2nd restart of a crashed dyno; doubles each crash.",
        min=0,
    )
    backoff_cap: float = option(
        20 * 60.0, "--restart-backoff-cap", "Longest wait between crash restarts.", min=0
    )
    # A dyno that ran this long before crashing starts its back-off afresh.
    crash_reset_after: float = 10 * 60.0
    # Daily cycling: interval plus up to `cycle_jitter` of random delay; 0 turns it off.
    cycle_interval: float = option(
        24 * 3600.0,
        "--dyno-cycle-hours",
        "Daily cycling: restart dynos after this many hours (+ up to 216 min); 0 = off.",
        scale=3600,
        min=0,
    )
    cycle_jitter: float = 216 * 60.0
    release_timeout: float = option(
        3600.0, "--release-timeout", "Seconds the release phase may take.", min=1
    )
    attach_timeout: float = 60.0
    one_off_ttl: float = 24 * 3600.0
    memory_interval: float = 2.0
    r14_interval: float = 20.0
    # Real seconds between two rounds of checks (`DynoManager.tick` runs one at once).
    tick: float = 0.05
    # Output beyond this many lines per second per dyno is dropped and counted.
    lines_per_second: int = 2000
    line_burst: int = 10000
    eco_report_interval: float = option(60.0, "--eco-report-interval", hidden=True, min=0.1)
    # A web dyno leaves the route table this long before its SIGTERM, so requests the
    # router sent it just before the table moved are not cut off.
    drain_delay: float = 1.0
    # Apps that sleep (eco, or their own choice) idle after this long without a request.
    idle_after: float = option(
        30 * 60.0,
        "--idle-after",
        "Minutes without a request after which apps that sleep (eco) go idle.",
        scale=60,
        min=0.01,
    )
    hide_host_runtimes: bool = option(
        False,
        "--hide-host-runtimes",
        "Mask the host's Python and Node.js inside dynos, so slugs run on the runtimes they "
        "carry (Ruby and Java stay the host's).",
        off="--no-hide-host-runtimes",
    )
    dyno_network: str = option(
        "auto",
        "--dyno-network",
        "Each dyno's own network namespace on a bridge: a /24 of private addresses for "
        "this server, 'auto' (one of 172.30.0.0/15, kept in the data dir) or 'off' "
        "(dynos share the host's network).",
    )
    dyno_disk_mb: int = option(
        0,
        "--dyno-disk",
        "Cap every dyno's ephemeral filesystem at this many MB (0: its size's cap).",
        min=0,
    )
