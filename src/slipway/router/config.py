"""RouterConfig: every number the router works by, in one frozen object.

The defaults are Heroku's (behavior.md §2); tests shrink the timeouts. The config is
built once at startup (by `cli.py` or by `slipway server`) and never read from the
environment afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from slipway.router.errors import ConfigError

Address = tuple[str, int]


def parse_address(text: str) -> Address:
    """`HOST:PORT` (or `[v6]:PORT`) to a (host, port) pair."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"expected HOST:PORT, got {text!r}")
    number = int(port)
    if not 0 <= number <= 65535:
        raise ConfigError(f"port out of range in {text!r}")
    return host.strip("[]"), number


@dataclass(frozen=True)
class RouterConfig:
    listen: Address = ("127.0.0.1", 8080)
    # The HTTPS listener only opens when both tls_cert and tls_key are given.
    tls_listen: Address = ("127.0.0.1", 8443)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # With the platform's CA: each routed host gets a certificate of its own (SNI),
    # since OpenSSL and browsers refuse a *.localhost wildcard.
    tls_ca_cert: Path | None = None
    tls_ca_key: Path | None = None
    # Where route tables come from: the control plane, or a fixed file (bench, tests).
    control_url: str | None = None
    token: str | None = field(default=None, repr=False)
    static_table: Path | None = None

    # Timeouts, in seconds (behavior.md §2.2).
    connect_timeout: float = 5.0  # H19
    request_timeout: float = 30.0  # H12: first response byte after the request is sent
    idle_timeout: float = 55.0  # H15 / H28, rolling
    boot_timeout: float = 75.0  # H20: how long a request waits for a booting dyno
    quarantine: float = 5.0  # a dyno that failed to connect is skipped this long
    shutdown_timeout: float = 30.0  # in-flight requests get this long after SIGTERM
    # Processes sharing the listening ports (SO_REUSEPORT): one per core spreads the
    # CPU-bound proxying; each has its own pool, balancer and control-plane link.
    workers: int = 1
    # How often the sweeper looks for expired timers; None derives it from the timeouts.
    tick: float | None = None

    # Distribution (behavior.md §2.1).
    max_connect_attempts: int = 10
    max_in_flight_per_dyno: int = 50
    backlog_per_dyno: int = 50
    # Requests held for one sleeping or booting app; beyond this they get H11.
    max_held_per_app: int = 1000

    # Size limits (behavior.md §2.3). The head cap bounds memory per connection: it is
    # below Heroku's theoretical 1000 x 8 KB, which no real client sends.
    max_request_line: int = 8192
    max_header_line: int = 8192
    max_headers: int = 1000
    max_head_bytes: int = 256 * 1024
    max_response_head_bytes: int = 1024 * 1024

    # Buffers. The response buffer is Heroku's 1 MB: a dyno can finish writing that
    # much whatever the client's speed. The request buffer bounds what is held for a
    # dyno that is not connected yet, or that reads slowly.
    response_buffer: int = 1024 * 1024
    request_buffer: int = 64 * 1024

    max_connections: int = 10_000
    pool_idle_per_dyno: int = 50

    # The control plane link (control.py).
    report_interval: float = 0.2
    report_buffer: int = 10_000
    wake_interval: float = 1.0
    reconnect_min: float = 0.2
    reconnect_max: float = 2.0
    # Blank keepalive lines arrive often; silence longer than this means a dead link.
    control_read_timeout: float = 60.0

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together")
        if self.control_url is None and self.static_table is None:
            raise ConfigError("the router needs --control-url or --static-table")
        if self.control_url is not None and not self.token:
            raise ConfigError("talking to the control plane needs SLIPWAY_ROUTER_TOKEN")
        for name in ("connect_timeout", "request_timeout", "idle_timeout", "boot_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None

    @property
    def sweep_interval(self) -> float:
        """How often timers are checked: a tenth of the shortest timeout, at most 0.25 s.

        One sweep over all connections is cheaper than a timer per request, and a
        timeout that fires up to one tick late is as precise as the logs (ms) need.
        """
        if self.tick is not None:
            return self.tick
        shortest = min(
            self.connect_timeout, self.request_timeout, self.idle_timeout, self.boot_timeout
        )
        return max(0.01, min(0.25, shortest / 10))
